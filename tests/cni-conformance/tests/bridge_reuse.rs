//! Issue 10, point 1, end to end through the built simplebridge: a subnet freed by one network
//! (ADD and DEL of a container with `ipMasq`; the masquerade chain stays until GC) is reused by
//! a network of another name on another bridge in the same host namespace (Podman's
//! `network rm` + `network create`). The reference succeeds; so must we. Then both networks
//! live at once: each ADD takes the subnet's masquerade element over, CHECK passes for both.
//! Point 2: a fresh host namespace whose inode a dead namespace held does not inherit that
//! namespace's masquerade state from `/run/cnm/nft` (simulated by planting it before ADD).

use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

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

/// `masq-<fnv1a64(network)>`, the name of a network's chain and of its state file.
fn masq_chain(network: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in network.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("masq-{h:016x}")
}

/// Removes the planted directories (also on failure).
struct Planted(Vec<PathBuf>);

impl Drop for Planted {
    fn drop(&mut self) {
        for d in &self.0 {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

#[test]
fn fresh_namespace_ignores_a_dead_namespaces_state() {
    require_root!();
    let f = BridgeFixture::new(Main::SimpleBridge, Impl::Ours);
    let mut conf = f.conf("1.0.0");
    conf["ipMasq"] = json!(true);
    // What a dead namespace with our host namespace's inode would have left: the old layout
    // (`<inode>`) and the keyed one with another cookie. Both name our network with a subnet
    // that is not ours.
    let ino = std::fs::metadata(f.host.path()).unwrap().ino();
    let base = PathBuf::from("/run/cnm/nft");
    let dead = Planted(vec![
        base.join(ino.to_string()),
        base.join(format!("{ino}-{}", u64::MAX - 1)),
    ]);
    for d in &dead.0 {
        std::fs::create_dir_all(d).unwrap();
        std::fs::write(d.join(masq_chain(&f.net)), "192.0.2.0/24\n").unwrap();
    }
    let c1 = f.container("c1");
    let r1 = f.add("c1", &c1, &conf);
    let table = cnm_table(&f.host).unwrap_or_default();
    // Before the fix: the dead namespace's 192.0.2.0/24 was masqueraded here too.
    assert!(!table.contains("192.0.2.0/24"), "{table}");
    assert!(table.contains(&format!("{} : jump", f.v4)), "{table}");
    for d in &dead.0 {
        assert!(!d.exists(), "{d:?}: stale state not cleaned");
    }
    f.run("DEL", &f.env("c1", &c1, "eth0"), &with_prev(&conf, &r1))
        .ok_empty();
}
