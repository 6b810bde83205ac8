//! Two sandboxes on one network, pinging each other: a controller, the
//! bridge driver, host-local IPAM, two sandboxes (network namespaces), one
//! endpoint each, placed by the sandboxes; then `ping` from each sandbox to
//! the other's address.
//!
//! Run as root: `cargo run -p cnm-bridge --example two_sandboxes`. It first
//! moves itself into a fresh, private network namespace that plays the host,
//! so nothing on the machine changes; the sandboxes it binds under
//! /run/netns are removed at the end, also on failure.

use std::error::Error;
use std::process::Command;
use std::sync::Arc;

use cnm_bridge::BridgeDriver;
use cnm_ipam::HostLocalIpam;
use cnm_kernel::{KernelSandboxes, LinuxSystem};
use cnm_model::{
    Controller, Endpoint, EndpointSpec, IpamSpec, NetworkOptions, NetworkSpec, PoolRequest, Sandbox,
};
use serde_json::json;

/// Removes what the example made, whatever happened.
struct Cleanup {
    endpoints: Vec<(Endpoint, Sandbox)>,
    data_dir: std::path::PathBuf,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for (mut ep, sb) in self.endpoints.drain(..) {
            let _ = ep.leave(&sb);
            let _ = ep.delete();
            let _ = sb.destroy();
        }
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

/// Ping `addr` once from inside `sandbox` (bounded: 3 tries, 2 s each).
fn ping(sandbox: &Sandbox, addr: &str) -> Result<(), Box<dyn Error>> {
    let out = Command::new("nsenter")
        .arg(format!("--net={}", sandbox.key()))
        .args(["ping", "-c", "1", "-w", "6", "-W", "2", addr])
        .output()?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ping {addr} from {} failed: {}",
            sandbox.key(),
            String::from_utf8_lossy(&out.stdout)
        )
        .into())
    }
}

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
    let pid = std::process::id();
    let mut cleanup = Cleanup {
        endpoints: Vec::new(),
        data_dir: std::env::temp_dir().join(format!("cnm-two-{pid}")),
    };

    let system = std::sync::Arc::new(LinuxSystem::default());
    let controller = Controller::new(std::sync::Arc::new(KernelSandboxes::new(
        std::sync::Arc::clone(&system),
    )));
    // The front-end's part: register the driver it serves.
    controller.register_driver("bridge", std::sync::Arc::new(BridgeDriver::new(system)))?;
    controller.register_ipam_driver(
        "example-ipam",
        Arc::new(HostLocalIpam::new(&cleanup.data_dir)),
    )?;
    let network = controller.new_network(NetworkSpec {
        name: "twonet".into(),
        driver: "bridge".into(),
        options: NetworkOptions::from_json(json!({"bridge": "cnm-two0", "isGateway": true}))?,
        ipam: Some(IpamSpec {
            driver: "example-ipam".into(),
            pools: vec![PoolRequest {
                pool: Some("10.250.8.0/24".parse()?),
                ..Default::default()
            }],
            options: None,
        }),
        ..Default::default()
    })?;
    println!("network: {}", network.name());

    for name in ["a", "b"] {
        let sandbox = controller.new_sandbox(&format!("/run/netns/cnm-two-{pid}-{name}"))?;
        let mut endpoint =
            network.create_endpoint(&format!("ep-{name}"), EndpointSpec::default())?;
        let info = endpoint.join_and_apply(&sandbox)?;
        let addrs: Vec<String> = info.interfaces[0]
            .addresses
            .iter()
            .map(|a| a.address.to_string())
            .collect();
        println!("sandbox {name}: {} eth0 {}", sandbox.key(), addrs.join(","));
        cleanup.endpoints.push((endpoint, sandbox));
    }

    let addr = |i: usize| -> String {
        cleanup.endpoints[i].0.interface().addresses[0]
            .address
            .addr()
            .to_string()
    };
    let (a, b) = (addr(0), addr(1));
    ping(&cleanup.endpoints[0].1, &b)?;
    println!("ping a -> b ({b}): ok");
    ping(&cleanup.endpoints[1].1, &a)?;
    println!("ping b -> a ({a}): ok");

    for (mut ep, sb) in cleanup.endpoints.drain(..) {
        ep.leave(&sb)?;
        ep.delete()?;
        sb.destroy()?;
    }
    network.delete()?;
    println!("cleaned up");
    Ok(())
}
