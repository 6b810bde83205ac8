//! IPv6 on the container interface (issue 12): an IPv4-only endpoint gets no
//! IPv6 address (no link-local, address generation mode none) and sends no
//! IPv6 when it comes up, nor does its host port; `ipv6LinkLocal: true` keeps the kernel's default (the control
//! that shows the traffic check can fail); a dual-stack endpoint has working
//! IPv6 as soon as ADD returns (not tentative, ping6 to the gateway at once).

use std::time::Duration;

use cni_conformance::alloc::{host6, subnet_v6};
use cni_conformance::inspect::{addr_info_raw, ping_w2};
use cni_conformance::{require_root, BridgeFixture, Impl, Main, Netns};
use serde_json::{json, Value};

/// Long enough for a default interface's DAD probe, router solicitation and
/// MLD reports (each delayed up to 1 s after the link comes up).
const CHATTER_WINDOW: Duration = Duration::from_millis(2500);

/// A counter of `/proc/net/dev_snmp6/<dev>` in `ns` (IPv6 statistics of one
/// interface); `None` when the interface has no IPv6 statistics.
fn snmp6(ns: &Netns, dev: &str, key: &str) -> Option<u64> {
    let out = ns.exec(&["cat", &format!("/proc/net/dev_snmp6/{dev}")]);
    if out.code != 0 {
        return None;
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once(char::is_whitespace))
        .find(|(k, _)| *k == key)
        .and_then(|(_, v)| v.trim().parse().ok())
}

/// IPv6 packets and ICMPv6 messages (ND, RS, MLD) sent by `dev`.
fn ipv6_sent(ns: &Netns, dev: &str) -> u64 {
    snmp6(ns, dev, "Ip6OutRequests").unwrap_or(0)
        + snmp6(ns, dev, "Icmp6OutMsgs").unwrap_or(0)
        + snmp6(ns, dev, "Ip6OutMcastPkts").unwrap_or(0)
}

/// A sysctl of `ns` (read through /proc/sys inside it).
fn sysctl(ns: &Netns, key: &str) -> String {
    let out = ns.exec(&["cat", &format!("/proc/sys/{key}")]);
    assert_eq!(out.code, 0, "reading {key}");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// `inet6_addr_gen_mode` of `dev` (`ip -d -j link show`).
fn addr_gen_mode(ns: &Netns, dev: &str) -> Value {
    let out = ns.ip(&["-d", "-j", "link", "show", "dev", dev]);
    let v: Value = serde_json::from_slice(&out).unwrap_or(Value::Null);
    v[0]["inet6_addr_gen_mode"].clone()
}

/// The host veth (the one port of the fixture's bridge).
fn host_port(f: &BridgeFixture) -> String {
    let ports = cni_conformance::inspect::bridge_ports(&f.host, &f.bridge);
    assert_eq!(ports.len(), 1, "one port on {}", f.bridge);
    ports[0].ifname.clone()
}

#[test]
fn ipv4_only_endpoint_has_no_ipv6() {
    require_root!();
    let f = BridgeFixture::new(Main::SimpleBridge, Impl::Ours);
    let conf = f.conf("1.0.0");
    let c = f.container("c");
    let r = f.add("ctr", &c, &conf);
    assert_eq!(
        r["ips"][0]["address"],
        json!(format!("{}/24", f.host_ip(2))),
        "{r}"
    );
    // Right after ADD: no IPv6 address of any scope, and none generated.
    assert!(
        addr_info_raw(&c, "-6", "eth0").is_empty(),
        "{:?}",
        addr_info_raw(&c, "-6", "eth0")
    );
    assert_eq!(addr_gen_mode(&c, "eth0"), json!("none"));
    let port = host_port(&f);
    assert!(addr_info_raw(&f.host, "-6", &port).is_empty());
    // IPv4 works.
    assert!(ping_w2(&c, &f.host_ip(1), 3), "ping the gateway");
    // Nothing IPv6 leaves either end of the pair once it is up.
    std::thread::sleep(CHATTER_WINDOW);
    assert!(addr_info_raw(&c, "-6", "eth0").is_empty());
    assert_eq!(ipv6_sent(&c, "eth0"), 0, "container interface sent IPv6");
    assert_eq!(ipv6_sent(&f.host, &port), 0, "host port sent IPv6");
    f.run("DEL", &f.env("ctr", &c, "eth0"), &conf).ok_empty();
    assert!(f.reservations().is_empty());
}

#[test]
fn ipv6_link_local_option_keeps_it() {
    require_root!();
    let f = BridgeFixture::new(Main::SimpleBridge, Impl::Ours);
    let mut conf = f.conf("1.0.0");
    conf["ipv6LinkLocal"] = json!(true);
    let c = f.container("c");
    f.add("ctr", &c, &conf);
    assert_ne!(addr_gen_mode(&c, "eth0"), json!("none"));
    assert_eq!(sysctl(&c, "net/ipv6/conf/eth0/disable_ipv6"), "0");
    std::thread::sleep(CHATTER_WINDOW);
    let ll: Vec<Value> = addr_info_raw(&c, "-6", "eth0")
        .into_iter()
        .filter(|a| a["scope"] == "link")
        .collect();
    assert_eq!(ll.len(), 1, "{:?}", addr_info_raw(&c, "-6", "eth0"));
    assert!(
        ll[0]["local"].as_str().unwrap_or("").starts_with("fe80:"),
        "{ll:?}"
    );
    // The control of the check above: the kernel's default does talk.
    assert!(ipv6_sent(&c, "eth0") > 0, "no DAD/RS/MLD seen");
    // A wrongly typed option is a config error.
    conf["ipv6LinkLocal"] = json!("yes");
    let c2 = f.container("c2");
    let out = f.run("ADD", &f.env("ctr2", &c2, "eth0"), &conf);
    out.err(Some(7));
    conf["ipv6LinkLocal"] = json!(true);
    f.run("DEL", &f.env("ctr", &c, "eth0"), &conf).ok_empty();
    assert!(f.reservations().is_empty());
}

#[test]
fn dual_stack_ipv6_works_at_once() {
    require_root!();
    let f = BridgeFixture::new(Main::SimpleBridge, Impl::Ours);
    let v6 = subnet_v6();
    let mut conf = f.conf("1.0.0");
    conf["ipam"]["ranges"] =
        json!([[{ "subnet": f.v4.to_string() }], [{ "subnet": v6.to_string() }]]);
    let c = f.container("c");
    let r = f.add("ctr", &c, &conf);
    let cidr = format!("{}/64", host6(v6, 2));
    // Straight after ADD: the global address is there and not tentative.
    let global: Vec<Value> = addr_info_raw(&c, "-6", "eth0")
        .into_iter()
        .filter(|a| a["scope"] != "link")
        .collect();
    assert_eq!(global.len(), 1, "{global:?}");
    assert_eq!(
        format!(
            "{}/{}",
            global[0]["local"].as_str().unwrap_or(""),
            global[0]["prefixlen"]
        ),
        cidr,
        "{r}"
    );
    assert!(
        global[0].get("tentative").is_none() && global[0].get("dadfailed").is_none(),
        "{global:?}"
    );
    assert_ne!(addr_gen_mode(&c, "eth0"), json!("none"));
    assert_eq!(sysctl(&c, "net/ipv6/conf/eth0/disable_ipv6"), "0");
    // The first ping6 to the gateway answers (no DAD wait), IPv4 too.
    let gw6 = host6(v6, 1).to_string();
    assert!(ping_w2(&c, &gw6, 1), "first ping6 to {gw6}");
    assert!(ping_w2(&c, &f.host_ip(1), 1), "ping the IPv4 gateway");
    f.run("DEL", &f.env("ctr", &c, "eth0"), &conf).ok_empty();
    assert!(f.reservations().is_empty());
}
