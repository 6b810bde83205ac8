//! Scenarios shared by the `bridge_*.rs` test files, parametrised by the main
//! plugin (reference bridge or our simplebridge) and the IPAM implementation.

use cni_conformance::iproute::{addrs, link, routes};
use serde_json::json;

/// Two containers on one bridge: results, kernel state, ping both ways and to
/// the gateway, CHECK, DEL twice, DEL with the netns gone; store empty after.
pub fn two_containers_ping(f: &cni_conformance::BridgeFixture, version: &str) {
    let c1 = f.container("c1");
    let c2 = f.container("c2");
    let conf = f.conf(version);
    let r1 = f.add("ctr1", &c1, &conf);
    let r2 = f.add("ctr2", &c2, &conf);
    let (gw, ip1, ip2) = (f.host_ip(1), f.host_ip(2), f.host_ip(3));
    assert_eq!(r1["cniVersion"], json!(version), "{r1}");
    assert_eq!(r1["ips"][0]["address"], json!(format!("{ip1}/24")), "{r1}");
    assert_eq!(r2["ips"][0]["address"], json!(format!("{ip2}/24")), "{r2}");
    assert_eq!(r1["ips"][0]["gateway"], json!(gw), "{r1}");
    assert_eq!(r1["ips"][0]["interface"], json!(2), "{r1}");
    assert_eq!(r1["interfaces"][0]["name"], json!(f.bridge), "{r1}");
    assert!(
        r1["interfaces"][1].get("sandbox").is_none_or(|s| s == ""),
        "host veth has no sandbox: {r1}"
    );
    assert_eq!(r1["interfaces"][2]["name"], json!("eth0"), "{r1}");
    assert_eq!(r1["interfaces"][2]["sandbox"], json!(c1.path_str()), "{r1}");
    let default = r1["routes"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|r| r["dst"] == "0.0.0.0/0" && r["gw"] == json!(gw));
    assert!(default, "isDefaultGateway adds a default route: {r1}");

    // Kernel state: the bridge in the host ns holds the gateway; the host veth
    // is enslaved to it; each container has its address on eth0 and a default
    // route via the gateway.
    let b = link(&f.host, &f.bridge).expect("bridge missing in host ns");
    assert_eq!(b.kind().as_deref(), Some("bridge"));
    assert!(b.is_up());
    assert!(addrs(&f.host, &f.bridge)
        .iter()
        .any(|a| a.cidr() == format!("{gw}/24")));
    let hv = r1["interfaces"][1]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let hl = link(&f.host, &hv).expect("host veth missing");
    assert_eq!(hl.master.as_deref(), Some(f.bridge.as_str()), "{hl:?}");
    assert_eq!(r1["interfaces"][0]["mac"], json!(b.address), "{r1}");
    for (ns, ip) in [(&c1, &ip1), (&c2, &ip2)] {
        let l = link(ns, "eth0").expect("eth0 missing");
        assert!(l.is_up() && l.kind().as_deref() == Some("veth"), "{l:?}");
        assert!(addrs(ns, "eth0")
            .iter()
            .any(|a| a.cidr() == format!("{ip}/24")));
        assert!(routes(ns, "-4")
            .iter()
            .any(|r| r.dst == "default" && r.gateway.as_deref() == Some(gw.as_str())));
    }
    assert!(c1.ping(&ip2, 5), "c1 cannot ping c2 ({ip2})");
    assert!(c2.ping(&ip1, 5), "c2 cannot ping c1 ({ip1})");
    assert!(c1.ping(&gw, 5), "c1 cannot ping the gateway ({gw})");
    assert_eq!(f.reservations().len(), 2);

    // CHECK (delegated to the IPAM plugin too), then DEL twice (idempotent).
    let mut chk = conf.clone();
    chk["prevResult"] = r1.clone();
    f.run("CHECK", &f.env("ctr1", &c1, "eth0"), &chk).ok_empty();
    let mut del = conf.clone();
    del["prevResult"] = r1;
    for _ in 0..2 {
        f.run("DEL", &f.env("ctr1", &c1, "eth0"), &del).ok_empty();
    }
    assert!(link(&c1, "eth0").is_none(), "eth0 left in c1 after DEL");
    assert!(
        link(&f.host, &hv).is_none(),
        "host veth {hv} left after DEL"
    );
    assert_eq!(f.reservations().len(), 1);
    // DEL with the netns already gone (CNI_NETNS unset) still releases the address.
    drop(c2);
    let mut e2 = f.env("ctr2", &f.host, "eth0");
    e2.netns = None;
    f.run("DEL", &e2, &conf).ok_empty();
    assert!(f.reservations().is_empty());
    assert!(
        link(&f.host, &f.bridge).is_some(),
        "the bridge is never deleted by DEL"
    );
}
