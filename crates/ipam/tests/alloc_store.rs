//! Allocation, store format, release, GC and concurrency against a temp-dir store.

mod common;

use std::net::IpAddr;
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use cnm_ipam::{ops, IpamConfig, IpamError, Store};
use cnm_model::ErrorKind;
use common::{names, obj, TempDir};
use serde_json::json;

const T: Duration = Duration::from_secs(10);

fn cfg(dir: &TempDir, ipam: serde_json::Value, ip_arg: Option<&str>) -> IpamConfig {
    let mut ipam = ipam;
    ipam["dataDir"] = json!(dir.path().to_str().unwrap());
    let raw = obj(json!({"cniVersion": "1.0.0", "name": "net1", "ipam": ipam}));
    IpamConfig::from_raw(
        &raw,
        "net1",
        "1.0.0",
        &ip_arg
            .map(|s| s.parse::<IpAddr>().unwrap())
            .into_iter()
            .collect::<Vec<_>>(),
    )
    .unwrap()
}

fn addrs(r: &cnm_model::Allocation) -> Vec<String> {
    r.addresses.iter().map(|i| i.address.to_string()).collect()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn order_skip_gateway_exhaustion_and_round_robin() {
    let d = TempDir::new("order");
    let c = cfg(&d, json!({"subnet": "10.0.0.0/29"}), None);
    let mut got = Vec::new();
    for i in 0..5 {
        let r = ops::add(&c, &format!("c{i}"), "eth0", T).unwrap();
        assert_eq!(r.addresses[0].gateway, Some(ip("10.0.0.1")));
        got.extend(addrs(&r));
    }
    assert_eq!(
        got,
        [
            "10.0.0.2/29",
            "10.0.0.3/29",
            "10.0.0.4/29",
            "10.0.0.5/29",
            "10.0.0.6/29"
        ]
    );
    let e: cnm_model::DriverError = ops::add(&c, "c5", "eth0", T).unwrap_err().into();
    assert_eq!(e.kind, ErrorKind::Ipam);
    assert_eq!(
        e.msg,
        "failed to allocate for range 0: no IP addresses available in range set: 10.0.0.1-10.0.0.6"
    );
    assert_eq!(e.details, "5 addresses, all reserved");
    // release .3; the next ADD wraps around from .6 and finds .3
    assert_eq!(
        ops::del(&c.data_dir, "net1", "c1", "eth0", T).unwrap(),
        vec![ip("10.0.0.3")]
    );
    assert_eq!(
        addrs(&ops::add(&c, "c6", "eth0", T).unwrap()),
        ["10.0.0.3/29"]
    );
}

#[test]
fn round_robin_does_not_reuse_just_released() {
    let d = TempDir::new("rr");
    let c = cfg(
        &d,
        json!({"ranges": [[{"subnet": "10.1.0.0/24", "rangeStart": "10.1.0.10", "rangeEnd": "10.1.0.20"}]]}),
        None,
    );
    assert_eq!(
        addrs(&ops::add(&c, "a", "eth0", T).unwrap()),
        ["10.1.0.10/24"]
    );
    ops::del(&c.data_dir, "net1", "a", "eth0", T).unwrap();
    assert_eq!(
        addrs(&ops::add(&c, "b", "eth0", T).unwrap()),
        ["10.1.0.11/24"]
    );
}

#[test]
fn store_format_is_byte_exact_with_modes() {
    let d = TempDir::new("fmt");
    let c = cfg(&d, json!({"subnet": "10.0.0.0/24"}), None);
    ops::add(&c, "abc123", "eth0", T).unwrap();
    let net = d.path().join("net1");
    assert_eq!(
        std::fs::read(net.join("10.0.0.2")).unwrap(),
        b"abc123\r\neth0"
    );
    assert_eq!(
        std::fs::read(net.join("last_reserved_ip.0")).unwrap(),
        b"10.0.0.2"
    );
    assert_eq!(names(&net), ["10.0.0.2", "last_reserved_ip.0", "lock"]);
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&net.join("10.0.0.2")), 0o600);
    assert_eq!(mode(&net.join("last_reserved_ip.0")), 0o600);
    assert_eq!(mode(&net), 0o700);
}

#[test]
fn requested_addresses() {
    let d = TempDir::new("req");
    let c = cfg(&d, json!({"subnet": "10.0.0.0/24"}), Some("10.0.0.50"));
    assert_eq!(
        addrs(&ops::add(&c, "a", "eth0", T).unwrap()),
        ["10.0.0.50/24"]
    );
    let e = ops::add(&c, "b", "eth0", T).unwrap_err().to_string();
    assert_eq!(e, "failed to allocate for range 0: requested IP address 10.0.0.50 is not available in range set 10.0.0.1-10.0.0.254");
    let g = cfg(&d, json!({"subnet": "10.0.0.0/24"}), Some("10.0.0.1"));
    assert_eq!(
        ops::add(&g, "b", "eth0", T).unwrap_err().to_string(),
        "failed to allocate for range 0: requested ip 10.0.0.1 is subnet's gateway"
    );
    let o = cfg(&d, json!({"subnet": "10.0.0.0/24"}), Some("192.168.1.1"));
    let e: cnm_model::DriverError = ops::add(&o, "b", "eth0", T).unwrap_err().into();
    assert_eq!(
        (e.kind, e.msg.as_str()),
        (
            ErrorKind::Ipam,
            "failed to allocate all requested IPs: 192.168.1.1"
        )
    );
    // the failed attempts left nothing behind
    assert_eq!(
        names(&d.path().join("net1")),
        ["10.0.0.50", "last_reserved_ip.0", "lock"]
    );
    // runtimeConfig.ips and args.cni.ips
    let raw = obj(
        json!({"name": "net1", "ipam": {"subnet": "10.0.0.0/24", "dataDir": d.path()},
        "runtimeConfig": {"ips": ["10.0.0.60/24"]}}),
    );
    let c2 = IpamConfig::from_raw(&raw, "net1", "1.0.0", &[]).unwrap();
    assert_eq!(
        addrs(&ops::add(&c2, "c", "eth0", T).unwrap()),
        ["10.0.0.60/24"]
    );
}

#[test]
fn dual_stack_and_atomic_rollback() {
    let d = TempDir::new("dual");
    let c = cfg(
        &d,
        json!({"ranges": [[{"subnet": "10.0.0.0/24"}], [{"subnet": "2001:db8::/126"}]],
        "routes": [{"dst": "0.0.0.0/0"}, {"dst": "::/0"}]}),
        None,
    );
    let r = ops::add(&c, "a", "eth0", T).unwrap();
    assert_eq!(addrs(&r), ["10.0.0.2/24", "2001:db8::2/126"]);
    assert_eq!(r.addresses[1].gateway, Some(ip("2001:db8::1")));
    assert_eq!(r.routes.len(), 2);
    assert_eq!(
        addrs(&ops::add(&c, "b", "eth0", T).unwrap()),
        ["10.0.0.3/24", "2001:db8::3/126"]
    );
    // v6 exhausted: the v4 reservation of this ADD is rolled back
    let e = ops::add(&c, "x", "eth0", T).unwrap_err().to_string();
    assert!(e.starts_with("failed to allocate for range 1: no IP addresses available in range set: 2001:db8::1-2001:db8::3"), "{e}");
    assert!(!d.path().join("net1/10.0.0.4").exists());
    // DEL releases both families in one call
    let mut rel = ops::del(&c.data_dir, "net1", "a", "eth0", T).unwrap();
    rel.sort();
    assert_eq!(rel, vec![ip("10.0.0.2"), ip("2001:db8::2")]);
}

#[test]
fn duplicate_allocation_is_refused() {
    let d = TempDir::new("dup");
    let c = cfg(&d, json!({"subnet": "10.0.0.0/24"}), None);
    ops::add(&c, "a", "eth0", T).unwrap();
    let e = ops::add(&c, "a", "eth0", T).unwrap_err().to_string();
    assert_eq!(e, "failed to allocate for range 0: 10.0.0.2 has been allocated to a, duplicate allocation is not allowed");
    assert_eq!(
        addrs(&ops::add(&c, "a", "eth1", T).unwrap()),
        ["10.0.0.3/24"]
    );
}

#[test]
fn del_check_legacy_and_idempotency() {
    let d = TempDir::new("legacy");
    let c = cfg(&d, json!({"subnet": "10.0.0.0/24"}), None);
    // no network dir yet: DEL succeeds, CHECK fails
    assert!(ops::del(&c.data_dir, "net1", "a", "eth0", T)
        .unwrap()
        .is_empty());
    assert!(
        !d.path().join("net1").exists(),
        "DEL must not create the store"
    );
    let e: cnm_model::DriverError = ops::check(&c.data_dir, "net1", "a", "eth0", T)
        .unwrap_err()
        .into();
    assert_eq!(
        (e.kind, e.msg.as_str()),
        (
            ErrorKind::Ipam,
            "host-local: Failed to find address added by container a"
        )
    );
    ops::add(&c, "a", "eth0", T).unwrap();
    ops::check(&c.data_dir, "net1", "a", "eth0", T).unwrap();
    assert!(ops::check(&c.data_dir, "net1", "a", "eth1", T).is_err());
    // a legacy file (container ID only)
    std::fs::write(d.path().join("net1/10.0.0.77"), "oldid\n").unwrap();
    ops::check(&c.data_dir, "net1", "oldid", "eth0", T).unwrap();
    // the duplicate check sees legacy files too
    let e = ops::add(&c, "oldid", "eth0", T).unwrap_err().to_string();
    assert!(e.contains("10.0.0.77 has been allocated to oldid"), "{e}");
    assert_eq!(
        ops::del(&c.data_dir, "net1", "oldid", "eth0", T).unwrap(),
        vec![ip("10.0.0.77")]
    );
    assert!(ops::del(&c.data_dir, "net1", "oldid", "eth0", T)
        .unwrap()
        .is_empty());
    assert_eq!(
        ops::del(&c.data_dir, "net1", "a", "eth0", T).unwrap(),
        vec![ip("10.0.0.2")]
    );
    assert!(ops::del(&c.data_dir, "net1", "a", "eth0", T)
        .unwrap()
        .is_empty());
}

#[test]
fn gc_keeps_valid_and_bookkeeping_files() {
    let d = TempDir::new("gc");
    let c = cfg(
        &d,
        json!({"ranges": [[{"subnet": "10.0.0.0/24"}], [{"subnet": "2001:db8::/64"}]]}),
        None,
    );
    for id in ["keep", "drop1", "drop2"] {
        ops::add(&c, id, "eth0", T).unwrap();
    }
    let net = d.path().join("net1");
    std::fs::write(net.join("10.0.0.90"), "legacykeep").unwrap();
    std::fs::write(net.join("10.0.0.91"), "legacydrop").unwrap();
    std::fs::write(net.join("notes.txt"), "drop1\r\neth0").unwrap();
    std::fs::write(net.join(".cnm-tmp-1-1"), "stale").unwrap();
    let valid = vec![
        ("keep".to_string(), "eth0".to_string()),
        ("legacykeep".to_string(), "eth9".to_string()),
    ];
    let rep = ops::gc(&c.data_dir, "net1", &valid, T).unwrap();
    assert!(rep.errors.is_empty());
    assert_eq!(rep.released.len(), 5);
    assert_eq!(
        names(&net),
        [
            "10.0.0.2",
            "10.0.0.90",
            "2001:db8::2",
            "last_reserved_ip.0",
            "last_reserved_ip.1",
            "lock",
            "notes.txt"
        ]
    );
    // GC on a network that never existed is a no-op
    assert!(ops::gc(&c.data_dir, "other", &valid, T)
        .unwrap()
        .released
        .is_empty());
}

#[test]
fn symlinks_are_refused() {
    let d = TempDir::new("sym");
    let real = d.path().join("real");
    std::fs::create_dir(&real).unwrap();
    let link = d.path().join("link");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let e = Store::open(&link, "net1").err().unwrap();
    assert!(matches!(e, IpamError::Unsafe { .. }), "{e}");
    assert!(e.to_string().contains("symlink"), "{e}");
    let c: cnm_model::DriverError = e.into();
    assert_eq!(c.kind, ErrorKind::Io);
    // network dir that is a symlink
    std::os::unix::fs::symlink(&real, real.join("net2")).unwrap();
    assert!(matches!(
        Store::open(&real, "net2"),
        Err(IpamError::Unsafe { .. })
    ));
    assert!(matches!(
        Store::open_existing(&real, "net2"),
        Err(IpamError::Unsafe { .. })
    ));
    // a reservation that is a symlink is neither followed nor counted
    let s = Store::open(&real, "net3").unwrap();
    std::fs::write(d.path().join("target"), "a\r\neth0").unwrap();
    std::os::unix::fs::symlink(d.path().join("target"), real.join("net3/10.0.0.5")).unwrap();
    let l = s.lock(T).unwrap();
    assert!(l.reservations().unwrap().is_empty());
    assert!(l.release_by_id("a", "eth0").unwrap().is_empty());
    assert!(d.path().join("target").exists());
    // bad network names never reach the filesystem
    for bad in ["", "..", "a/b", "-x", "a b"] {
        assert!(
            matches!(Store::open(&real, bad), Err(IpamError::Config(_))),
            "{bad}"
        );
    }
}

#[test]
fn lock_timeout_is_code_11() {
    let d = TempDir::new("lock");
    let a = Store::open(d.path(), "n").unwrap();
    let b = Store::open(d.path(), "n").unwrap();
    let held = a.lock(T).unwrap();
    let e = b.lock(Duration::from_millis(50)).err().unwrap();
    let c: cnm_model::DriverError = e.into();
    assert_eq!(c.kind, ErrorKind::TryAgainLater);
    drop(held);
    assert!(b.lock(Duration::from_millis(50)).is_ok());
}

#[test]
fn status_ok_then_exhausted() {
    let d = TempDir::new("status");
    let c = cfg(&d, json!({"subnet": "10.0.0.0/30"}), None);
    ops::status(&c, T).unwrap();
    ops::add(&c, "a", "eth0", T).unwrap();
    let e: cnm_model::DriverError = ops::status(&c, T).unwrap_err().into();
    assert_eq!(e.kind, ErrorKind::Unavailable);
    assert!(e.msg.contains("no IP addresses available"), "{}", e.msg);
}

#[test]
fn sixty_four_threads_get_distinct_addresses() {
    let d = TempDir::new("conc");
    let c = cfg(
        &d,
        json!({"ranges": [[{"subnet": "10.0.0.0/24"}], [{"subnet": "2001:db8::/64"}]]}),
        None,
    );
    let results: Vec<Vec<String>> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..64)
            .map(|i| {
                let c = &c;
                s.spawn(move || {
                    addrs(
                        &ops::add(c, &format!("ctr{i}"), "eth0", Duration::from_secs(60)).unwrap(),
                    )
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut v4: Vec<&String> = results.iter().map(|r| &r[0]).collect();
    let mut v6: Vec<&String> = results.iter().map(|r| &r[1]).collect();
    v4.sort();
    v4.dedup();
    v6.sort();
    v6.dedup();
    assert_eq!((v4.len(), v6.len()), (64, 64));
    // 128 reservations + 2 cursors + lock, no temp files left
    assert_eq!(names(&d.path().join("net1")).len(), 131);
}

#[test]
fn large_store_release_and_find() {
    // > 256 reservations: the parallel read path
    let d = TempDir::new("large");
    let s = Store::open(d.path(), "big").unwrap();
    let l = s.lock(T).unwrap();
    for i in 0..400u32 {
        let a = IpAddr::from([10, 20, (i / 250) as u8, (i % 250 + 1) as u8]);
        let (id, ifname) = if i % 100 == 7 {
            ("target".to_string(), "eth0")
        } else {
            (format!("c{i}"), "eth0")
        };
        assert!(l.reserve(a, &id, ifname).unwrap());
        assert!(
            !l.reserve(a, "other", "eth0").unwrap(),
            "second reserve of {a} must fail"
        );
    }
    std::fs::write(d.path().join("big/10.20.9.9"), "target").unwrap();
    let m = l.find("target", "eth0", |_| true).unwrap();
    assert_eq!((m.exact.len(), m.legacy.len()), (4, 1));
    let mut rel = l.release_by_id("target", "eth0").unwrap();
    rel.sort();
    assert_eq!(
        rel,
        vec![
            ip("10.20.0.8"),
            ip("10.20.0.108"),
            ip("10.20.0.208"),
            ip("10.20.1.58")
        ]
    );
    // exact matches existed, so the legacy file stays (reference semantics)
    assert!(d.path().join("big/10.20.9.9").exists());
    assert_eq!(l.reservations().unwrap().len(), 397);
    assert_eq!(
        l.release_by_id("target", "eth0").unwrap(),
        vec![ip("10.20.9.9")]
    );
}
