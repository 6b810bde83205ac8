//! Cross-compatibility with the reference host-local on one shared dataDir:
//! ours allocates and the reference releases, and the other way round; the
//! round-robin position (last_reserved_ip.N) is shared too.

use cni_conformance::{require_root, Impl, IpamFixture};

/// Two fixtures (ours, reference) sharing one dataDir, network name and subnet.
fn shared() -> (IpamFixture, IpamFixture) {
    let ours = IpamFixture::new(Impl::Ours);
    let mut reference = IpamFixture::new(Impl::Reference);
    reference.v4 = ours.v4;
    reference.net = ours.net.clone();
    (ours, reference)
}

fn conf(f: &IpamFixture, data_dir: &str) -> serde_json::Value {
    cni_conformance::host_local_conf(f.imp, "1.0.0", &f.net, data_dir, f.default_ranges())
}

#[test]
fn ours_allocates_reference_releases() {
    require_root!();
    let (o, r) = shared();
    let dir = o.data.path_str();
    let a = o.add_ok("a", &conf(&o, dir));
    assert_eq!(IpamFixture::first_ip(&a), o.host(2));
    assert_eq!(o.reserved_ips(), vec![o.host(2)]);
    // The reference continues round robin after our reservation...
    let b = r.add_ok("b", &conf(&r, dir));
    assert_eq!(IpamFixture::first_ip(&b), o.host(3));
    // ...and its DEL releases ours.
    r.run("DEL", "a", &conf(&r, dir)).ok_empty();
    assert_eq!(o.reserved_ips(), vec![o.host(3)]);
    // The reference sees our reservation for CHECK purposes too.
    let c = o.add_ok("c", &conf(&o, dir));
    let mut chk = conf(&r, dir);
    chk["prevResult"] = c;
    r.run("CHECK", "c", &chk).ok_empty();
}

#[test]
fn reference_allocates_ours_releases() {
    require_root!();
    let (o, r) = shared();
    let dir = o.data.path_str();
    let a = r.add_ok("a", &conf(&r, dir));
    assert_eq!(IpamFixture::first_ip(&a), o.host(2));
    let b = o.add_ok("b", &conf(&o, dir));
    assert_eq!(
        IpamFixture::first_ip(&b),
        o.host(3),
        "ours continues after the reference's last_reserved_ip"
    );
    // Ours refuses a duplicate of the reference's allocation.
    o.run("ADD", "a", &conf(&o, dir)).err(None);
    o.run("DEL", "a", &conf(&o, dir)).ok_empty();
    assert_eq!(o.reserved_ips(), vec![o.host(3)]);
    r.run("DEL", "b", &conf(&r, dir)).ok_empty();
    assert!(o.reserved_ips().is_empty());
}

#[test]
fn legacy_id_only_files_released_by_ours() {
    require_root!();
    // Files written by very old host-local hold only the container ID.
    let o = IpamFixture::new(Impl::Ours);
    let dir = o.data.path().join(&o.net);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(o.host(7)), "legacy").unwrap();
    o.run("DEL", "legacy", &conf(&o, o.data.path_str()))
        .ok_empty();
    assert!(
        o.reserved_ips().is_empty(),
        "legacy reservation not released"
    );
}
