//! simplebridge DEL and failed ADDs: DEL twice succeeds; DEL after the
//! container namespace was deleted, and DEL with an empty CNI_NETNS, free the
//! address and remove the host veth; an ADD into an exhausted range and an
//! ADD with a 16-byte ifname leave no veth and no extra reservation.

use cni_conformance::inspect::links_of_kind;
use cni_conformance::iproute::link;
use cni_conformance::{require_root, BridgeFixture, Impl, Main};
use serde_json::{json, Value};

fn fixture() -> BridgeFixture {
    BridgeFixture::new(Main::SimpleBridge, Impl::Ours)
}

fn host_veth(r: &Value) -> String {
    r["interfaces"][1]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn del_twice_succeeds() {
    require_root!();
    let f = fixture();
    let c = f.container("c");
    let conf = f.conf("1.0.0");
    let r = f.add("ctr", &c, &conf);
    let hv = host_veth(&r);
    let mut del = conf.clone();
    del["prevResult"] = r;
    for _ in 0..2 {
        f.run("DEL", &f.env("ctr", &c, "eth0"), &del).ok_empty();
    }
    assert!(link(&f.host, &hv).is_none() && link(&c, "eth0").is_none());
    assert!(f.reservations().is_empty());
}

#[test]
fn del_after_netns_deleted_frees_address_and_veth() {
    require_root!();
    let f = fixture();
    let c = f.container("c");
    let keep = f.container("k");
    let conf = f.conf("1.0.0");
    let r = f.add("ctr", &c, &conf);
    f.add("keep", &keep, &conf);
    let hv = host_veth(&r);
    let env = f.env("ctr", &c, "eth0");
    drop(c); // the runtime deleted the sandbox before DEL
    assert_eq!(f.reservations().len(), 2);
    f.run("DEL", &env, &conf).ok_empty();
    f.run("DEL", &env, &conf).ok_empty();
    assert!(link(&f.host, &hv).is_none(), "host veth {hv} left");
    let left: Vec<String> = f.reservations().into_iter().map(|r| r.ip).collect();
    assert_eq!(
        left,
        vec![f.host_ip(3)],
        "only the other container's address stays"
    );
}

#[test]
fn del_with_empty_cni_netns() {
    require_root!();
    let f = fixture();
    let c = f.container("c");
    let conf = f.conf("1.0.0");
    let r = f.add("ctr", &c, &conf);
    let hv = host_veth(&r);
    let mut env = f.env("ctr", &c, "eth0");
    env.netns = Some(String::new());
    f.run("DEL", &env, &conf).ok_empty();
    assert!(link(&f.host, &hv).is_none(), "host veth {hv} left");
    assert!(
        link(&c, "eth0").is_none(),
        "the peer goes with the host veth"
    );
    assert!(f.reservations().is_empty());
}

#[test]
fn exhausted_range_leaves_nothing() {
    require_root!();
    let f = fixture();
    let mut conf = f.conf("1.0.0");
    // A /30 holds .1 (gateway) and .2: one container address.
    let subnet = format!("{}/30", f.v4.network());
    conf["ipam"]["ranges"] = json!([[{ "subnet": subnet }]]);
    let c1 = f.container("c1");
    let r1 = f.add("ctr1", &c1, &conf);
    assert_eq!(
        r1["ips"][0]["address"],
        json!(format!("{}/30", f.host_ip(2)))
    );
    let before = f.reservations();
    let c2 = f.container("c2");
    let out = f.run("ADD", &f.env("ctr2", &c2, "eth0"), &conf);
    out.err(None);
    let veths = links_of_kind(&f.host, "veth");
    assert_eq!(
        veths.iter().map(|l| l.ifname.clone()).collect::<Vec<_>>(),
        vec![host_veth(&r1)],
        "only the first container's veth may exist"
    );
    assert!(link(&c2, "eth0").is_none());
    assert_eq!(f.reservations(), before, "no extra reservation");
    // The first container still works.
    assert!(c1.ping(&f.host_ip(1), 3));
}

#[test]
fn too_long_ifname_leaves_nothing() {
    require_root!();
    let f = fixture();
    let c = f.container("c");
    let ifname = "abcdefghijklmnop"; // 16 bytes
    assert_eq!(ifname.len(), 16);
    let out = f.run("ADD", &f.env("ctr", &c, ifname), &f.conf("1.0.0"));
    out.err(Some(4));
    assert!(links_of_kind(&f.host, "veth").is_empty());
    assert!(link(&f.host, &f.bridge).is_none(), "no bridge either");
    assert_eq!(
        cni_conformance::iproute::links(&c).len(),
        1,
        "only lo in the container"
    );
    assert!(f.reservations().is_empty());
}
