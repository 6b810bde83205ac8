//! Issue 10, point 1, end to end through the built simplebridge: a subnet freed by one network
//! (ADD and DEL of a container with `ipMasq`; the masquerade chain stays until GC) is reused by
//! a network of another name on another bridge in the same host namespace (Podman's
//! `network rm` + `network create`). The reference succeeds; so must we. Then both networks
//! live at once: each ADD takes the subnet's masquerade element over, CHECK passes for both.

use cni_conformance::robust::{cnm_table, masq_chains};
use cni_conformance::{alloc, require_root, BridgeFixture, Impl, Main};
use serde_json::{json, Value};

fn with_prev(conf: &Value, prev: &Value) -> Value {
    let mut c = conf.clone();
    c["prevResult"] = prev.clone();
    c
}

#[test]
fn subnet_reused_by_another_network_name() {
    require_root!();
    let f = BridgeFixture::new(Main::SimpleBridge, Impl::Ours);
    let mut a = f.conf("1.0.0");
    a["ipMasq"] = json!(true);
    let mut b = a.clone();
    b["name"] = json!(format!("{}-b", f.net));
    b["bridge"] = json!(alloc::bridge_name());
    let (c1, c2, c3) = (f.container("c1"), f.container("c2"), f.container("c3"));

    let r1 = f.add("c1", &c1, &a);
    f.run("DEL", &f.env("c1", &c1, "eth0"), &with_prev(&a, &r1))
        .ok_empty();
    assert_eq!(masq_chains(&f.host).len(), 1, "A's chain stays until GC");
    // Before the fix: code 100, nft "File exists" on `add element ... masq4`.
    let r2 = f.add("c2", &c2, &b);
    f.run("CHECK", &f.env("c2", &c2, "eth0"), &with_prev(&b, &r2))
        .ok_empty();
    let table = cnm_table(&f.host).unwrap_or_default();
    assert_eq!(
        table.matches(&format!("{} : jump", f.v4)).count(),
        1,
        "one element for the subnet: {table}"
    );

    // Both live: A's ADD takes the subnet back; CHECK passes for both networks.
    let r3 = f.add("c3", &c3, &a);
    f.run("CHECK", &f.env("c3", &c3, "eth0"), &with_prev(&a, &r3))
        .ok_empty();
    f.run("CHECK", &f.env("c2", &c2, "eth0"), &with_prev(&b, &r2))
        .ok_empty();
    f.run("DEL", &f.env("c3", &c3, "eth0"), &with_prev(&a, &r3))
        .ok_empty();
    f.run("DEL", &f.env("c2", &c2, "eth0"), &with_prev(&b, &r2))
        .ok_empty();
}
