//! The seed walkthrough from libnetwork's README, in Rust: a controller, the
//! `simplebridge` driver, a network, a sandbox and an endpoint.
//!
//! Run as root: `cargo run -p cnm-core --example seed`. It first moves itself
//! into a fresh, private network namespace that plays the host, so nothing on
//! the machine changes; the bridge vanishes with the process.

use std::error::Error;

use cnm_core::model::{Controller, Sandbox};
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
    let controller = Controller::new();
    // driver, _ := controller.NewNetworkDriver("simplebridge", options.Generic{})
    let driver = controller.new_network_driver("simplebridge", Default::default())?;
    println!(
        "driver: {} (embedded: {})",
        driver.name(),
        driver.is_embedded()
    );
    // network, _ := controller.NewNetwork(driver, "network1", netOptions)
    let network = controller.new_network(
        &driver,
        "network1",
        json!({
            "bridge": "cnm-seed0",
            "isGateway": true,
            "ipam": {
                "type": "ipam-host-local",
                "subnet": "10.250.7.0/24",
                "dataDir": data_dir.display().to_string(),
            }
        }),
    )?;
    println!("network: {}", network.name());
    // networkNamespace, _ := sandbox.NewSandbox(".../4d23e")
    let sandbox = Sandbox::new(&sandbox_path)?;
    println!("sandbox: {}", sandbox.key());
    // _, sinfo, _ := network.CreateEndpoint("Endpoint1", networkNamespace.Key(), "")
    let (endpoint, sinfo) = network.create_endpoint("Endpoint1", sandbox.key())?;
    for iface in &sinfo.interfaces {
        // networkNamespace.AddInterface(iface)
        sandbox.add_interface(iface)?;
        let addrs: Vec<String> = iface.addresses.iter().map(|a| a.to_string()).collect();
        println!(
            "interface: {} mac {} addresses {}",
            iface.name,
            iface.mac.as_deref().unwrap_or("-"),
            addrs.join(",")
        );
    }
    if let Some(gw) = sinfo.gateway {
        // networkNamespace.SetGateway(sinfo.Gateway)
        sandbox.set_gateway(gw)?;
        println!("gateway: {gw}");
    }
    endpoint.check()?;
    println!("check: ok");
    endpoint.delete()?;
    println!("endpoint deleted");
    sandbox.destroy()?;
    println!("sandbox destroyed");
    let _ = std::fs::remove_dir_all(&data_dir);
    Ok(())
}
