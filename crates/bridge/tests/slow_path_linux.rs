//! The slow path (libnetwork's way: the driver prepares the veth in the
//! host, the sandbox moves it in and the interface configurator configures
//! it) on the real kernel, as root. Each test moves a thread into a private
//! network namespace that plays the host and makes its sandboxes under
//! /run/netns (removed at the end, also on failure):
//! - an IPv4-only endpoint gets no IPv6 address at all and its interface
//!   sends no IPv6 packet (no DAD, router solicitation or MLD report) in the
//!   seconds after it comes up;
//! - a dual-stack endpoint on a network with `enabledad` keeps IPv6 and
//!   runs duplicate-address detection (its interface sends neighbour
//!   solicitations), which also shows the counters the first test reads do
//!   count.
//!
//! Without root each test reports a counted skip.

use std::sync::Arc;
use std::time::Duration;

use cnm_bridge::BridgeDriver;
use cnm_kernel::{KernelSandboxes, LinuxSystem};
use cnm_model::{
    Controller, EndpointInterface, EndpointSpec, InterfaceAddress, NetworkOptions, NetworkSpec,
    Sandbox,
};
use cnm_netlink::Handle;
use netns::NetNs;
use serde_json::json;

/// How long an interface that would send IPv6 has to do it: DAD (1 s),
/// the router solicitation delay (up to 1 s) and MLD's report delay.
const SETTLE: Duration = Duration::from_millis(3500);

/// Removes the sandboxes whatever happens.
struct Sandboxes(Vec<Sandbox>);

impl Drop for Sandboxes {
    fn drop(&mut self) {
        for sb in self.0.drain(..) {
            let _ = sb.destroy();
        }
    }
}

/// A controller as a front-end builds it: the Linux seam, the bridge.
fn controller() -> Controller {
    let system = Arc::new(LinuxSystem::default());
    let c = Controller::new(Arc::new(KernelSandboxes::new(Arc::clone(&system))));
    c.register_driver("bridge", Arc::new(BridgeDriver::new(system)))
        .expect("register bridge");
    c
}

fn addresses(list: &[&str]) -> Vec<InterfaceAddress> {
    list.iter()
        .map(|a| InterfaceAddress {
            address: a.parse().expect("address"),
            gateway: None,
        })
        .collect()
}

/// The interface's counters in the sandbox (`/proc/net/dev_snmp6/<if>`).
fn snmp6(key: &str, ifname: &str) -> std::collections::HashMap<String, u64> {
    let ns = NetNs::open(key).expect("open sandbox");
    let path = format!("/proc/thread-self/net/dev_snmp6/{ifname}");
    let text = ns
        .run_in(move || std::fs::read_to_string(path))
        .expect("enter sandbox")
        .expect("dev_snmp6");
    text.lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            Some((f.next()?.to_string(), f.next()?.parse().ok()?))
        })
        .collect()
}

/// The interface's addresses in the sandbox, and whether it is up.
fn link(key: &str, ifname: &str) -> (bool, Vec<cnm_netlink::AddrInfo>) {
    let ns = NetNs::open(key).expect("open sandbox");
    let mut h = Handle::new_in(&ns).expect("netlink in sandbox");
    let l = h.link_by_name(ifname).expect("look up").expect("interface");
    (l.up, h.addrs(l.index).expect("addresses"))
}

fn sysctl(key: &str, name: &str) -> String {
    NetNs::open(key)
        .expect("open sandbox")
        .sysctl_read(name)
        .expect("sysctl")
}

/// Create a network, a sandbox and one endpoint placed by the sandbox;
/// returns the sandboxes (to destroy) and the sandbox key.
fn place(tag: &str, options: serde_json::Value, addrs: &[&str]) -> (Sandboxes, String) {
    let pid = std::process::id();
    let c = controller();
    let network = c
        .new_network(NetworkSpec {
            name: format!("sp-{tag}"),
            driver: "bridge".into(),
            options: NetworkOptions::from_json(options).expect("options"),
            ..Default::default()
        })
        .expect("network");
    let key = format!("/run/netns/cnm-sp-{pid}-{tag}");
    let sb = c.new_sandbox(&key).expect("sandbox");
    let mut ep = network
        .create_endpoint(
            "ep",
            EndpointSpec {
                interface: EndpointInterface {
                    addresses: addresses(addrs),
                    ..Default::default()
                },
                ..Default::default()
            },
        )
        .expect("endpoint");
    let info = ep.join(&sb).expect("join");
    let names = sb
        .apply("ep", &info)
        .expect("the sandbox places the interface");
    assert_eq!(names, ["eth0"]);
    (Sandboxes(vec![sb]), key)
}

fn in_private_host(f: impl FnOnce() + Send + 'static) {
    std::thread::spawn(move || {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).expect("unshare");
        f();
    })
    .join()
    .expect("test thread");
}

#[test]
fn an_ipv4_only_interface_placed_by_the_sandbox_has_no_ipv6_and_sends_none() {
    cnm_test_support::require_root!("cnm-bridge slow path, IPv4 only");
    in_private_host(|| {
        let pid = std::process::id() % 200;
        let (_sandboxes, key) = place(
            "v4",
            json!({"bridge": format!("cnm-sp4-{pid}"), "isGateway": true}),
            &[&format!("10.252.{pid}.2/24")],
        );
        std::thread::sleep(SETTLE);
        let (up, addrs) = link(&key, "eth0");
        assert!(up, "eth0 is up");
        let v6: Vec<String> = addrs
            .iter()
            .filter(|a| a.addr.addr().is_ipv6())
            .map(|a| a.addr.to_string())
            .collect();
        assert!(
            v6.is_empty(),
            "no IPv6 address, not even link-local: {v6:?}"
        );
        assert!(addrs
            .iter()
            .any(|a| a.addr.to_string() == format!("10.252.{pid}.2/24")));
        let c = snmp6(&key, "eth0");
        for counter in ["Ip6OutRequests", "Ip6OutMcastPkts", "Icmp6OutMsgs"] {
            assert_eq!(c.get(counter), Some(&0), "{counter}: {c:?}");
        }
        // The gateway came with the same configuration step.
        let routes = std::process::Command::new("ip")
            .args([
                "-n",
                key.trim_start_matches("/run/netns/"),
                "-4",
                "route",
                "show",
                "default",
            ])
            .output()
            .expect("ip route");
        let text = String::from_utf8_lossy(&routes.stdout);
        assert!(
            text.contains(&format!("via 10.252.{pid}.1 dev eth0")),
            "{text}"
        );
    });
}

#[test]
fn a_dual_stack_interface_placed_by_the_sandbox_runs_dad_when_enabled() {
    cnm_test_support::require_root!("cnm-bridge slow path, dual stack with enabledad");
    in_private_host(|| {
        let pid = std::process::id() % 200;
        let (_sandboxes, key) = place(
            "v6",
            json!({"bridge": format!("cnm-sp6-{pid}"), "isGateway": true, "enabledad": true}),
            &[
                &format!("10.253.{pid}.2/24"),
                &format!("fd00:253:{pid:x}::2/64"),
            ],
        );
        assert_eq!(sysctl(&key, "net/ipv6/conf/eth0/disable_ipv6"), "0");
        assert_eq!(sysctl(&key, "net/ipv6/conf/eth0/accept_dad"), "1");
        std::thread::sleep(SETTLE);
        let (up, addrs) = link(&key, "eth0");
        assert!(up, "eth0 is up");
        let global = format!("fd00:253:{pid:x}::2/64");
        let a = addrs
            .iter()
            .find(|a| a.addr.to_string() == global)
            .unwrap_or_else(|| panic!("{global} on eth0: {addrs:?}"));
        // Added without IFA_F_NODAD (0x02): DAD ran, and is over.
        assert_eq!(a.flags & 0x02, 0, "flags {:#x}", a.flags);
        assert!(!a.is_tentative(), "DAD finished");
        let c = snmp6(&key, "eth0");
        let ns = c.get("Icmp6OutNeighborSolicits").copied().unwrap_or(0);
        assert!(ns >= 1, "DAD sent neighbour solicitations: {c:?}");
    });
}
