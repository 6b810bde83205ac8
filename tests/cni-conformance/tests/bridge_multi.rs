//! One container on two simplebridge networks at once (eth0 on bridge A,
//! eth1 on bridge B, different subnets): both work, and DEL of one leaves the
//! other intact. The bridge MAC stays fixed while ports come and go.

use cni_conformance::alloc::{bridge_name, host4, net_name, subnet_v4};
use cni_conformance::iproute::{addrs, link, routes};
use cni_conformance::{require_root, BridgeFixture, Impl, Main};
use serde_json::json;

#[test]
fn one_container_two_networks() {
    require_root!();
    let f = BridgeFixture::new(Main::SimpleBridge, Impl::Ours);
    let (br_b, net_b, v4_b) = (bridge_name(), net_name(), subnet_v4());
    let conf_a = f.conf("1.0.0");
    let mut conf_b = f.conf("1.0.0");
    conf_b["name"] = json!(net_b);
    conf_b["bridge"] = json!(br_b);
    conf_b["isDefaultGateway"] = json!(false);
    conf_b["ipam"]["ranges"] = json!([[{ "subnet": v4_b.to_string() }]]);
    let gw_b = host4(v4_b, 1).to_string();
    let ip_b = format!("{}/24", host4(v4_b, 2));
    let c = f.container("c");
    let peer = f.container("peer");
    f.add("ctr", &c, &conf_a);
    f.add("peer", &peer, &conf_a);
    let rb = f.run("ADD", &f.env("ctr", &c, "eth1"), &conf_b).ok();
    assert_eq!(rb["ips"][0]["address"], json!(ip_b), "{rb}");
    assert_eq!(rb["interfaces"][2]["name"], json!("eth1"), "{rb}");
    assert_ne!(rb["interfaces"][1]["name"], json!(""), "{rb}");
    assert!(addrs(&c, "eth1").iter().any(|a| a.cidr() == ip_b));
    assert!(c.ping(&f.host_ip(1), 3), "gateway A");
    assert!(c.ping(&gw_b, 3), "gateway B");
    assert!(c.ping(&f.host_ip(3), 3), "peer on A");

    // DEL of the A attachment leaves B intact.
    f.run("DEL", &f.env("ctr", &c, "eth0"), &conf_a).ok_empty();
    assert!(link(&c, "eth0").is_none(), "eth0 left");
    assert!(link(&c, "eth1").is_some_and(|l| l.is_up()), "eth1 gone");
    assert!(addrs(&c, "eth1").iter().any(|a| a.cidr() == ip_b));
    assert!(
        routes(&c, "-4")
            .iter()
            .any(|r| r.dev.as_deref() == Some("eth1") && r.dst == v4_b.to_string()),
        "subnet route of eth1 gone: {:?}",
        routes(&c, "-4")
    );
    assert!(c.ping(&gw_b, 3), "gateway B after DEL of A");
    assert!(link(&f.host, &br_b).is_some());
    let store_b = cni_conformance::reservations(f.data.path(), &net_b);
    assert_eq!(store_b.len(), 1, "{store_b:?}");
    assert_eq!(f.reservations().len(), 1, "only the peer stays on A");
    // And DEL of B cleans B.
    f.run("DEL", &f.env("ctr", &c, "eth1"), &conf_b).ok_empty();
    assert!(link(&c, "eth1").is_none());
    assert!(cni_conformance::reservations(f.data.path(), &net_b).is_empty());
}

#[test]
fn bridge_mac_stays_fixed() {
    require_root!();
    let f = BridgeFixture::new(Main::SimpleBridge, Impl::Ours);
    let conf = f.conf("1.0.0");
    let c1 = f.container("c1");
    let r1 = f.add("ctr1", &c1, &conf);
    let mac = link(&f.host, &f.bridge).expect("bridge").address;
    assert_eq!(r1["interfaces"][0]["mac"], json!(mac), "{r1}");
    let c2 = f.container("c2");
    let r2 = f.add("ctr2", &c2, &conf);
    assert_eq!(r2["interfaces"][0]["mac"], json!(mac), "{r2}");
    f.run("DEL", &f.env("ctr1", &c1, "eth0"), &conf).ok_empty();
    assert_eq!(link(&f.host, &f.bridge).expect("bridge").address, mac);
    let c3 = f.container("c3");
    f.add("ctr3", &c3, &conf);
    f.run("DEL", &f.env("ctr2", &c2, "eth0"), &conf).ok_empty();
    assert_eq!(link(&f.host, &f.bridge).expect("bridge").address, mac);
    // The fixed MAC is none of the ports' MACs.
    let c3mac = link(&c3, "eth0").expect("eth0").address;
    assert_ne!(mac, c3mac);
}
