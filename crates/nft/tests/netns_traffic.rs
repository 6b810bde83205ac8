//! Traffic test: three throwaway namespaces (container, router, external) joined by veths; the
//! router masquerades the container subnet with our rules. The external side has no route back
//! to the container subnet, so a ping only succeeds when the source is really rewritten.

mod common;

use cnm_nft::MasqNet;
use common::{run, run_ok, Fixture};

fn ping_ok(ns: &str, dst: &str) -> bool {
    run_ok(&["ip", "netns", "exec", ns, "ping", "-c1", "-W1", "-q", dst])
}

#[test]
fn masquerade_rewrites_source() {
    cnm_test_support::require_root!("cnm-nft netns_traffic::masquerade_rewrites_source");
    // Container, router, external.
    let fx = Fixture::new("cnmtr", 3);
    let (ctr, rtr, ext) = (
        fx.name(0).to_string(),
        fx.name(1).to_string(),
        fx.name(2).to_string(),
    );
    // Links are created inside the router namespace, never in the root one.
    run(&[
        "ip", "-n", &rtr, "link", "add", "h0", "type", "veth", "peer", "name", "c0", "netns", &ctr,
    ]);
    run(&[
        "ip", "-n", &rtr, "link", "add", "h1", "type", "veth", "peer", "name", "e0", "netns", &ext,
    ]);
    run(&["ip", "-n", &ctr, "addr", "add", "10.80.0.2/24", "dev", "c0"]);
    run(&["ip", "-n", &rtr, "addr", "add", "10.80.0.1/24", "dev", "h0"]);
    run(&["ip", "-n", &rtr, "addr", "add", "192.0.2.1/24", "dev", "h1"]);
    run(&["ip", "-n", &ext, "addr", "add", "192.0.2.2/24", "dev", "e0"]);
    for (ns, dev) in [(&ctr, "c0"), (&rtr, "h0"), (&rtr, "h1"), (&ext, "e0")] {
        run(&["ip", "-n", ns, "link", "set", dev, "up"]);
    }
    run(&[
        "ip",
        "-n",
        &ctr,
        "route",
        "add",
        "default",
        "via",
        "10.80.0.1",
    ]);
    run(&[
        "ip",
        "netns",
        "exec",
        &rtr,
        "sysctl",
        "-qw",
        "net.ipv4.ip_forward=1",
    ]);

    assert!(ping_ok(&rtr, "10.80.0.2"), "container link is up");
    assert!(
        !ping_ok(&ctr, "192.0.2.2"),
        "no masquerade yet: the reply has no route back"
    );

    let fw = fx.fw_exec(1);
    let net = MasqNet {
        network: "traffic",
        bridge: "h0",
        subnets: vec!["10.80.0.0/24".parse().unwrap()],
    };
    fw.ensure_masquerade(&net).unwrap();
    assert!(ping_ok(&ctr, "192.0.2.2"), "masqueraded ping must succeed");
    // Traffic to the subnet itself is not masqueraded: the router sees the real source.
    assert!(ping_ok(&rtr, "10.80.0.2"));
    // A second live network with the same subnet on another bridge takes the subnet over:
    // this network's containers are still masqueraded (through the other's chain), and get
    // their own chain back when the other network goes.
    let other = MasqNet {
        network: "traffic-b",
        bridge: "hb0",
        subnets: vec!["10.80.0.0/24".parse().unwrap()],
    };
    fw.ensure_masquerade(&other).unwrap();
    fw.check_masquerade(&other).unwrap();
    // CHECK of the first network passes too: the other's chain covers its subnet.
    fw.check_masquerade(&net).unwrap();
    assert!(
        ping_ok(&ctr, "192.0.2.2"),
        "still masqueraded after takeover"
    );
    fw.remove_masquerade("traffic-b").unwrap();
    fw.check_masquerade(&net).unwrap();
    assert!(ping_ok(&ctr, "192.0.2.2"), "masqueraded after hand-back");
    fw.remove_masquerade("traffic").unwrap();
    // Each ping run uses a new ICMP id, hence a new conntrack entry that no longer matches a rule.
    assert!(!ping_ok(&ctr, "192.0.2.2"), "masquerade removed");
}
