//! The seed walkthrough from libnetwork's README, in Rust: a controller, the
//! bridge driver, a network with host-local IPAM, a sandbox and an endpoint.
//! The driver prepares the interface in the host; the sandbox moves it in,
//! configures it and sets the gateway (libnetwork's flow, literally).
//!
//! Run as root: `cargo run -p cnm-bridge --example seed`. It first moves itself
//! into a fresh, private network namespace that plays the host, so nothing on
//! the machine changes; the bridge vanishes with the process.

use std::error::Error;

use cnm_bridge::BridgeDriver;
use cnm_ipam::HostLocalIpam;
use cnm_kernel::{KernelSandboxes, LinuxSystem};
use cnm_model::{Controller, EndpointSpec, IpamSpec, NetworkOptions, NetworkSpec, PoolRequest};
use serde_json::json;

fn main() -> Result<(), Box<dyn Error>> {
    // SAFETY: unshare(2) with CLONE_NEWNET only changes this (still
    // single-threaded) process's network namespace; no memory is involved.
    if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
        return Err(format!(
            "unshare(CLONE_NEWNET): {} (run as root)",
            std::io::Error::last_os_error()
        )
        .into());
    }
    let data_dir = std::env::temp_dir().join(format!("cnm-seed-{}", std::process::id()));
    let sandbox_path = format!("/run/netns/cnm-seed-{}", std::process::id());

    // controller := libnetwork.New()
    let system = std::sync::Arc::new(LinuxSystem::default());
    let controller = Controller::new(std::sync::Arc::new(KernelSandboxes::new(
        std::sync::Arc::clone(&system),
    )));
    // The front-end's part: register the driver it serves.
    controller.register_driver("bridge", std::sync::Arc::new(BridgeDriver::new(system)))?;
    // Our host-local keeps its store in a folder of this run.
    controller.register_ipam_driver(
        "seed-ipam",
        std::sync::Arc::new(HostLocalIpam::new(&data_dir)),
    )?;
    // driver: the built-in bridge
    let driver = controller.driver("bridge")?;
    println!(
        "driver: {} ({:?} scope)",
        driver.name(),
        driver.capabilities().data_scope
    );
    // network, _ := controller.NewNetwork("bridge", "network1", netOptions)
    let network = controller.new_network(NetworkSpec {
        name: "network1".into(),
        driver: "bridge".into(),
        options: NetworkOptions::from_json(json!({"bridge": "cnm-seed0", "isGateway": true}))?,
        ipam: Some(IpamSpec {
            driver: "seed-ipam".into(),
            pools: vec![PoolRequest {
                pool: Some("10.250.7.0/24".parse()?),
                ..Default::default()
            }],
            options: None,
        }),
        ..Default::default()
    })?;
    println!("network: {}", network.name());
    // networkNamespace, _ := sandbox.NewSandbox(".../4d23e")
    let sandbox = controller.new_sandbox(&sandbox_path)?;
    println!("sandbox: {}", sandbox.key());
    // ep, _ := network.CreateEndpoint("Endpoint1"); sinfo := ep.Join(sandbox)
    let mut endpoint = network.create_endpoint("Endpoint1", EndpointSpec::default())?;
    let sinfo = endpoint.join(&sandbox)?;
    for iface in &sinfo.interfaces {
        // networkNamespace.AddInterface(iface)
        let name = sandbox.add_interface(iface)?;
        let addrs: Vec<String> = iface
            .addresses
            .iter()
            .map(|a| a.address.to_string())
            .collect();
        println!(
            "interface: {} mac {} addresses {}",
            name,
            iface
                .mac
                .map(|m| m.to_string())
                .unwrap_or_else(|| "-".into()),
            addrs.join(",")
        );
    }
    if let Some(gw) = sinfo.gateway {
        // networkNamespace.SetGateway(sinfo.Gateway)
        sandbox.set_gateway(gw)?;
        println!("gateway: {gw}");
    }
    endpoint.leave(&sandbox)?;
    endpoint.delete()?;
    println!("endpoint deleted");
    network.delete()?;
    println!("network deleted");
    sandbox.destroy()?;
    println!("sandbox destroyed");
    let _ = std::fs::remove_dir_all(&data_dir);
    Ok(())
}
