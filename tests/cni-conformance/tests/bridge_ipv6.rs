//! simplebridge with IPv6: an IPv6-only network whose addresses are usable
//! (not tentative) as soon as ADD returns, with ping6 between containers and
//! to the gateway at once; and dual-stack with both default routes.

use cni_conformance::alloc::{host6, subnet_v6};
use cni_conformance::inspect::{addr_info_raw, ping_w2};
use cni_conformance::iproute::routes;
use cni_conformance::{require_root, BridgeFixture, Impl, Main, Netns};
use serde_json::{json, Value};

/// Non-link-local addresses of `dev` that are tentative or failed DAD.
fn not_ready(ns: &Netns, dev: &str) -> Vec<Value> {
    addr_info_raw(ns, "-6", dev)
        .into_iter()
        .filter(|a| a["scope"] != "link")
        .filter(|a| a.get("tentative").is_some() || a.get("dadfailed").is_some())
        .collect()
}

fn has_global6(ns: &Netns, dev: &str, cidr: &str) -> bool {
    addr_info_raw(ns, "-6", dev)
        .iter()
        .any(|a| format!("{}/{}", a["local"].as_str().unwrap_or(""), a["prefixlen"]) == cidr)
}

#[test]
fn ipv6_only_ready_at_once() {
    require_root!();
    let f = BridgeFixture::new(Main::SimpleBridge, Impl::Ours);
    let v6 = subnet_v6();
    let mut conf = f.conf("1.0.0");
    conf["ipam"]["ranges"] = json!([[{ "subnet": v6.to_string() }]]);
    let (gw, ip1, ip2) = (host6(v6, 1), host6(v6, 2), host6(v6, 3));
    let c1 = f.container("c1");
    let c2 = f.container("c2");
    let r1 = f.add("ctr1", &c1, &conf);
    // Checked straight after ADD returns, before the second ADD.
    assert!(
        not_ready(&c1, "eth0").is_empty(),
        "tentative right after ADD: {:?}",
        addr_info_raw(&c1, "-6", "eth0")
    );
    assert!(
        not_ready(&f.host, &f.bridge).is_empty(),
        "gateway tentative: {:?}",
        addr_info_raw(&f.host, "-6", &f.bridge)
    );
    let r2 = f.add("ctr2", &c2, &conf);
    assert!(
        not_ready(&c2, "eth0").is_empty(),
        "{:?}",
        addr_info_raw(&c2, "-6", "eth0")
    );
    assert_eq!(r1["ips"][0]["address"], json!(format!("{ip1}/64")), "{r1}");
    assert_eq!(r2["ips"][0]["address"], json!(format!("{ip2}/64")), "{r2}");
    assert_eq!(r1["ips"][0]["gateway"], json!(gw.to_string()), "{r1}");
    assert!(has_global6(&c1, "eth0", &format!("{ip1}/64")));
    assert!(has_global6(&f.host, &f.bridge, &format!("{gw}/64")));
    assert!(routes(&c1, "-6")
        .iter()
        .any(|r| r.dst == "default" && r.gateway.as_deref() == Some(gw.to_string().as_str())));
    assert!(ping_w2(&c1, &gw.to_string(), 3), "c1 -> gateway {gw}");
    assert!(ping_w2(&c1, &ip2.to_string(), 3), "c1 -> c2 {ip2}");
    assert!(ping_w2(&c2, &ip1.to_string(), 3), "c2 -> c1 {ip1}");
    for (id, c) in [("ctr1", &c1), ("ctr2", &c2)] {
        f.run("DEL", &f.env(id, c, "eth0"), &conf).ok_empty();
    }
    assert!(f.reservations().is_empty());
}

#[test]
fn dual_stack_two_default_routes() {
    require_root!();
    let f = BridgeFixture::new(Main::SimpleBridge, Impl::Ours);
    let v6 = subnet_v6();
    let mut conf = f.conf("1.0.0");
    conf["ipam"]["ranges"] =
        json!([[{ "subnet": f.v4.to_string() }], [{ "subnet": v6.to_string() }]]);
    let c = f.container("c");
    let r = f.add("ctr", &c, &conf);
    let (gw4, gw6) = (f.host_ip(1), host6(v6, 1).to_string());
    let ips = r["ips"].as_array().cloned().unwrap_or_default();
    assert_eq!(ips.len(), 2, "{r}");
    assert_eq!(
        ips[0]["address"],
        json!(format!("{}/24", f.host_ip(2))),
        "{r}"
    );
    assert_eq!(
        ips[1]["address"],
        json!(format!("{}/64", host6(v6, 2))),
        "{r}"
    );
    assert!(ips.iter().all(|i| i["interface"] == json!(2)), "{r}");
    let rroutes = r["routes"].as_array().cloned().unwrap_or_default();
    assert!(
        rroutes
            .iter()
            .any(|x| x["dst"] == "0.0.0.0/0" && x["gw"] == json!(gw4)),
        "{r}"
    );
    assert!(
        rroutes
            .iter()
            .any(|x| x["dst"] == "::/0" && x["gw"] == json!(gw6)),
        "{r}"
    );
    assert!(routes(&c, "-4")
        .iter()
        .any(|x| x.dst == "default" && x.gateway.as_deref() == Some(gw4.as_str())));
    assert!(routes(&c, "-6")
        .iter()
        .any(|x| x.dst == "default" && x.gateway.as_deref() == Some(gw6.as_str())));
    assert!(not_ready(&c, "eth0").is_empty());
    assert!(ping_w2(&c, &gw4, 3) && ping_w2(&c, &gw6, 3));
    let mut chk = conf.clone();
    chk["prevResult"] = r;
    f.run("CHECK", &f.env("ctr", &c, "eth0"), &chk).ok_empty();
    f.run("DEL", &f.env("ctr", &c, "eth0"), &chk).ok_empty();
    assert!(f.reservations().is_empty());
}
