//! The model on the real kernel (root only): a test thread moves itself into
//! a private network namespace that plays the host, then a controller with
//! the Linux system creates a network, two sandboxes (throwaway namespaces
//! under /run/netns, removed at the end, also on failure) and an endpoint
//! in each, placed by the sandbox (the slow path: move, rename, address,
//! up, gateway) and by the driver (the fast path). Without root the test
//! reports a counted skip.

use std::sync::Arc;

use cnm_bridge::BridgeDriver;
use cnm_ipam::HostLocalIpam;
use cnm_kernel::{KernelSandboxes, LinuxSystem};
use cnm_model::{
    Controller, EndpointSpec, IpamSpec, NetworkOptions, NetworkSpec, Placement, PoolRequest,
    Sandbox, SandboxPlacement,
};
use cnm_netlink::Handle;
use netns::NetNs;
use serde_json::json;

/// Removes the sandboxes whatever happens.
struct Sandboxes(Vec<Sandbox>);

impl Drop for Sandboxes {
    fn drop(&mut self) {
        for sb in self.0.drain(..) {
            let _ = sb.destroy();
        }
    }
}

fn link_in(key: &str, ifname: &str) -> Option<(bool, Vec<String>)> {
    let ns = NetNs::open(key).expect("open sandbox");
    let mut h = Handle::new_in(&ns).expect("netlink in sandbox");
    let link = h.link_by_name(ifname).expect("lookup")?;
    let addrs = h
        .addrs(link.index)
        .expect("addrs")
        .into_iter()
        .map(|a| a.addr.to_string())
        .collect();
    Some((link.up, addrs))
}

fn run_in_private_host() {
    let pid = std::process::id();
    let data = tempfile::tempdir().expect("tempdir");
    // A front-end's controller: the kernel seam's sandboxes, the bridge registered.
    let system = Arc::new(LinuxSystem::default());
    let controller = Controller::new(Arc::new(KernelSandboxes::new(Arc::clone(&system))));
    controller
        .register_driver("bridge", Arc::new(BridgeDriver::new(system)))
        .expect("register bridge");
    controller
        .register_ipam_driver("test-ipam", Arc::new(HostLocalIpam::new(data.path())))
        .expect("register");
    let network = controller
        .new_network(NetworkSpec {
            name: "lm".into(),
            driver: "bridge".into(),
            options: NetworkOptions::from_json(json!({"bridge": "cnm-lm0", "isGateway": true}))
                .expect("options"),
            ipam: Some(IpamSpec {
                driver: "test-ipam".into(),
                pools: vec![PoolRequest {
                    pool: Some("10.251.9.0/24".parse().expect("net")),
                    ..Default::default()
                }],
                options: None,
            }),
            ..Default::default()
        })
        .expect("network");
    let mut sandboxes = Sandboxes(Vec::new());
    for name in ["a", "b"] {
        let sb = controller
            .new_sandbox(&format!("/run/netns/cnm-lm-{pid}-{name}"))
            .expect("sandbox");
        sandboxes.0.push(sb);
    }
    let (a, b) = (&sandboxes.0[0], &sandboxes.0[1]);

    // Slow path: the sandbox moves, renames and configures the interface.
    let mut ep_a = network
        .create_endpoint("ep-a", EndpointSpec::default())
        .expect("endpoint a");
    let info = ep_a.join(a).expect("join a");
    assert!(matches!(
        info.interfaces[0].placement,
        Placement::Host { .. }
    ));
    let name = a.add_interface(&info.interfaces[0]).expect("add interface");
    assert_eq!(name, "eth0");
    a.set_gateway(info.gateway.expect("gateway"))
        .expect("gateway");
    let (up, addrs) = link_in(a.key(), "eth0").expect("eth0 in a");
    assert!(up, "eth0 up in a");
    assert!(addrs.contains(&"10.251.9.2/24".to_string()), "{addrs:?}");

    // Fast path: the driver creates the interface inside the sandbox.
    let mut ep_b = network
        .create_endpoint(
            "cb/eth1",
            EndpointSpec {
                sandbox: Some(SandboxPlacement {
                    key: b.key().to_string(),
                    ifname: "eth1".into(),
                    allow_own: false,
                }),
                ..Default::default()
            },
        )
        .expect("endpoint b");
    let info = ep_b.join_and_apply(b).expect("join b");
    assert!(info.configured_in_sandbox);
    let (up, addrs) = link_in(b.key(), "eth1").expect("eth1 in b");
    assert!(up, "eth1 up in b");
    assert!(addrs.contains(&"10.251.9.3/24".to_string()), "{addrs:?}");
    ep_b.check().expect("check b");

    for (ep, sb) in [(&mut ep_a, a), (&mut ep_b, b)] {
        ep.leave(sb).expect("leave");
        ep.clone().delete().expect("delete");
    }
    assert!(link_in(a.key(), "eth0").is_none(), "eth0 gone");
    assert!(link_in(b.key(), "eth1").is_none(), "eth1 gone");
    network.delete().expect("delete network");
    let bridge = Handle::new()
        .expect("netlink host")
        .link_by_name("cnm-lm0")
        .expect("lookup");
    assert!(bridge.is_none(), "empty bridge deleted");
}

#[test]
fn the_model_on_the_real_kernel_in_a_private_namespace() {
    cnm_test_support::require_root!("cnm-bridge linux_model");
    // The private host lives only as long as this thread.
    std::thread::spawn(|| {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).expect("unshare");
        run_in_private_host();
    })
    .join()
    .expect("test thread");
}
