//! Differential: the reference `bridge` (cniVersion 1.0.0) and our
//! simplebridge, each with the reference host-local (separate dataDirs, same
//! network name, subnet and bridge name) in separate host namespaces, given
//! the same config, yield the same container addresses, routes, link MTU and
//! up state, and the same result `ips`/`routes`/`dns`; `interfaces` agree in
//! count, order and sandbox fields (names differ).

use cni_conformance::inspect::route_triples;
use cni_conformance::iproute::{addrs, link};
use cni_conformance::{normalize_result, ref_available, require_root, BridgeFixture, Impl, Main};
use serde_json::{json, Value};

/// Run the same ADD on both; returns (fixture, container, result) pairs.
fn same_config(mutate: impl Fn(&mut Value)) {
    let r = BridgeFixture::new(Main::RefBridge, Impl::Reference);
    let mut o = BridgeFixture::new(Main::SimpleBridge, Impl::Reference);
    o.v4 = r.v4;
    o.net = r.net.clone();
    o.bridge = r.bridge.clone();
    let (rc, oc) = (r.container("rc"), o.container("oc"));
    // Same sandbox path shape is irrelevant: sandboxes are compared by presence.
    let mut rconf = r.conf("1.0.0");
    let mut oconf = o.conf("1.0.0");
    mutate(&mut rconf);
    mutate(&mut oconf);
    let rr = normalize_result(&r.add("ctr", &rc, &rconf));
    let or = normalize_result(&o.add("ctr", &oc, &oconf));

    for key in ["cniVersion", "ips", "routes", "dns"] {
        assert_eq!(
            rr.get(key),
            or.get(key),
            "result {key}: ref {rr}\nours {or}"
        );
    }
    let shape = |v: &Value| -> Vec<bool> {
        v["interfaces"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|i| {
                i.get("sandbox")
                    .and_then(Value::as_str)
                    .is_some_and(|s| !s.is_empty())
            })
            .collect()
    };
    assert_eq!(shape(&rr), shape(&or), "interfaces: ref {rr}\nours {or}");
    assert_eq!(rr["interfaces"][0]["name"], or["interfaces"][0]["name"]);
    assert_eq!(rr["interfaces"][2]["name"], or["interfaces"][2]["name"]);

    // Kernel state in the containers.
    let cidrs = |ns| {
        let mut v: Vec<String> = addrs(ns, "eth0")
            .iter()
            .filter(|a| a.scope != "link")
            .map(|a| a.cidr())
            .collect();
        v.sort();
        v
    };
    assert_eq!(cidrs(&rc), cidrs(&oc), "container addresses");
    // Documented difference (docs/simplebridge.md, issue 12): an IPv4-only
    // endpoint of ours has no IPv6 link-local address, hence no fe80::/64
    // route; every other route is the reference's.
    let ipv4_only = or["ips"]
        .as_array()
        .into_iter()
        .flatten()
        .all(|ip| !ip["address"].as_str().unwrap_or("").contains(':'));
    for fam in ["-4", "-6"] {
        let mut want = route_triples(&rc, fam);
        let got = route_triples(&oc, fam);
        if fam == "-6" && ipv4_only {
            want.retain(|t| t.0 != "fe80::/64");
            assert!(
                got.iter().all(|t| t.0 != "fe80::/64"),
                "IPv4-only endpoint with a link-local route: {got:?}"
            );
        }
        assert_eq!(want, got, "container routes {fam}");
    }
    let (rl, ol) = (
        link(&rc, "eth0").expect("ref eth0"),
        link(&oc, "eth0").expect("our eth0"),
    );
    assert_eq!((rl.mtu, rl.is_up()), (ol.mtu, ol.is_up()), "eth0 mtu/up");
    // Host side: the bridge.
    let (rb, ob) = (
        link(&r.host, &r.bridge).expect("ref bridge"),
        link(&o.host, &o.bridge).expect("our bridge"),
    );
    assert_eq!(
        (rb.mtu, rb.is_up(), rb.kind()),
        (ob.mtu, ob.is_up(), ob.kind()),
        "bridge"
    );
    let host_cidrs = |f: &BridgeFixture| {
        let mut v: Vec<String> = addrs(&f.host, &f.bridge)
            .iter()
            .filter(|a| a.scope != "link")
            .map(|a| a.cidr())
            .collect();
        v.sort();
        v
    };
    assert_eq!(host_cidrs(&r), host_cidrs(&o), "bridge addresses");
    if oconf["isGateway"] == json!(true) {
        assert!(oc.ping(&o.host_ip(1), 3), "ours: cannot ping the gateway");
        assert!(rc.ping(&r.host_ip(1), 3), "ref: cannot ping the gateway");
    }

    for (f, c, conf) in [(&r, &rc, &rconf), (&o, &oc, &oconf)] {
        f.run("DEL", &f.env("ctr", c, "eth0"), conf).ok_empty();
        assert!(f.reservations().is_empty());
    }
}

fn guard() -> bool {
    if !ref_available("bridge") || !ref_available("host-local") {
        eprintln!("skipped: reference bridge/host-local not installed");
        return false;
    }
    true
}

#[test]
fn differential_default_gateway() {
    require_root!();
    if guard() {
        same_config(|_| {});
    }
}

#[test]
fn differential_mtu_routes_dns() {
    require_root!();
    if guard() {
        same_config(|c| {
            c["mtu"] = json!(1400);
            c["isDefaultGateway"] = json!(false);
            c["ipam"]["routes"] =
                json!([{"dst": "192.0.2.0/24"}, {"dst": "198.51.100.0/24", "gw": "0.0.0.0"}]);
            c["dns"] = json!({"nameservers": ["192.0.2.53"], "search": ["example.org"]});
        });
    }
}

#[test]
fn differential_no_gateway() {
    require_root!();
    if guard() {
        same_config(|c| {
            c["isGateway"] = json!(false);
            c["isDefaultGateway"] = json!(false);
        });
    }
}
