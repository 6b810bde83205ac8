//! Reboots simulated with injected boot IDs: reservations of an earlier boot are
//! reclaimed when needed (exhaustion, requested address, same attachment again),
//! never within one boot, never by GC on its own account.

mod common;

use std::fs::File;
use std::net::IpAddr;
use std::os::fd::AsFd;
use std::path::Path;
use std::time::{Duration, SystemTime};

use cnm_ipam::stamp::{self, Stamp};
use cnm_ipam::{ops, FixedBoot, IpamConfig, Store};
use cnm_model::ErrorKind;
use common::{names, obj, TempDir};
use serde_json::json;

const T: Duration = Duration::from_secs(10);
const A: &str = "aaaaaaaa-0000-4000-8000-00000000000a";
const B: &str = "bbbbbbbb-0000-4000-8000-00000000000b";

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

/// Boot `id` that started an hour ago (files written now are of this boot by mtime too).
fn boot(id: &str) -> FixedBoot {
    FixedBoot::new(id, SystemTime::now() - Duration::from_secs(3600))
}

fn addrs(r: &cnm_model::Allocation) -> Vec<String> {
    r.addresses.iter().map(|i| i.address.to_string()).collect()
}

fn stamp_of(path: &Path) -> Stamp {
    stamp::read(File::open(path).unwrap().as_fd())
}

fn reservations(net: &Path) -> Vec<String> {
    names(net)
        .into_iter()
        .filter(|n| n.parse::<std::net::IpAddr>().is_ok())
        .collect()
}

#[test]
fn new_boot_reclaims_on_exhaustion_only() {
    let d = TempDir::new("reboot");
    let c = cfg(&d, json!({"subnet": "10.9.0.0/29"}), None);
    let net = d.path().join("net1");
    let (a, b) = (boot(A), boot(B));
    // boot A fills the /29 (5 addresses)
    for i in 0..5 {
        ops::add_with_boot(&c, &format!("a{i}"), "eth0", T, &a).unwrap();
    }
    assert_eq!(stamp_of(&net.join("10.9.0.2")), Stamp::Boot(A.into()));
    // same boot: exhaustion is still an error and nothing is released
    let e: cnm_model::DriverError = ops::add_with_boot(&c, "a5", "eth0", T, &a)
        .unwrap_err()
        .into();
    assert_eq!(e.kind, ErrorKind::Ipam);
    assert!(e.msg.contains("no IP addresses available"), "{}", e.msg);
    assert_eq!(reservations(&net).len(), 5);
    let e: cnm_model::DriverError = ops::status_with_boot(&c, T, &a).unwrap_err().into();
    assert_eq!(e.kind, ErrorKind::Unavailable, "STATUS in boot A: full");

    // boot B: STATUS sees reclaimable addresses; ADD reclaims every boot-A reservation
    ops::status_with_boot(&c, T, &b).unwrap();
    let r = ops::add_with_boot(&c, "b0", "eth0", T, &b).unwrap();
    // round robin continues after the cursor (10.9.0.6) and wraps to .2
    assert_eq!(addrs(&r), ["10.9.0.2/29"]);
    assert_eq!(reservations(&net), ["10.9.0.2"]);
    assert_eq!(
        std::fs::read(net.join("10.9.0.2")).unwrap(),
        b"b0\r\neth0",
        "reference content format kept"
    );
    assert_eq!(stamp_of(&net.join("10.9.0.2")), Stamp::Boot(B.into()));
    // boot B fills the rest; then exhaustion under B is an error again
    for i in 1..5 {
        ops::add_with_boot(&c, &format!("b{i}"), "eth0", T, &b).unwrap();
    }
    let e: cnm_model::DriverError = ops::add_with_boot(&c, "b5", "eth0", T, &b)
        .unwrap_err()
        .into();
    assert_eq!(e.kind, ErrorKind::Ipam);
    assert_eq!(reservations(&net).len(), 5);
    // an old-boot DEL that arrives late releases nothing of boot B
    assert!(ops::del(&c.data_dir, "net1", "a0", "eth0", T)
        .unwrap()
        .is_empty());
    assert_eq!(reservations(&net).len(), 5);
}

#[test]
fn unknown_boot_never_reclaims() {
    let d = TempDir::new("reboot-unknown");
    let c = cfg(
        &d,
        json!({"subnet": "10.9.1.0/29", "rangeEnd": "10.9.1.3"}),
        None,
    );
    ops::add_with_boot(&c, "a0", "eth0", T, &boot(A)).unwrap();
    ops::add_with_boot(&c, "a1", "eth0", T, &boot(A)).unwrap();
    let unknown = FixedBoot::default();
    assert!(ops::add_with_boot(&c, "x", "eth0", T, &unknown).is_err());
    assert_eq!(reservations(&d.path().join("net1")).len(), 2);
    // and without a boot ID nothing is stamped
    let c2 = cfg(&d, json!({"subnet": "10.9.2.0/29"}), None);
    let c2 = IpamConfig {
        name: "net2".into(),
        ..c2
    };
    ops::add_with_boot(&c2, "u", "eth0", T, &unknown).unwrap();
    assert_eq!(
        stamp_of(&d.path().join("net2").join("10.9.2.2")),
        Stamp::Missing
    );
}

#[test]
fn unstamped_files_use_mtime_against_boot_time() {
    let d = TempDir::new("reboot-mtime");
    let c = cfg(
        &d,
        json!({"subnet": "10.9.3.0/29", "rangeEnd": "10.9.3.3"}),
        None,
    );
    let net = d.path().join("net1");
    {
        // files as the reference (or an older cnm) writes them: no stamp
        let s = Store::open(d.path(), "net1").unwrap();
        let l = s.lock(T).unwrap();
        assert!(l
            .reserve("10.9.3.2".parse().unwrap(), "old", "eth0")
            .unwrap());
    }
    assert_eq!(stamp_of(&net.join("10.9.3.2")), Stamp::Missing);
    // a boot that started an hour ago: the file is from this boot, kept
    ops::add_with_boot(&c, "n", "eth0", T, &boot(B)).unwrap();
    assert!(ops::add_with_boot(&c, "m", "eth0", T, &boot(B)).is_err());
    assert_eq!(reservations(&net), ["10.9.3.2", "10.9.3.3"]);
    // a boot that started after the file was written: the file is reclaimed,
    // (10.9.3.3, stamped B, is of this boot and stays)
    let later = FixedBoot::new(B, SystemTime::now() + Duration::from_secs(3600));
    let r = ops::add_with_boot(&c, "m", "eth0", T, &later).unwrap();
    assert_eq!(addrs(&r), ["10.9.3.2/29"]);
    assert_eq!(std::fs::read(net.join("10.9.3.2")).unwrap(), b"m\r\neth0");
}

#[test]
fn same_attachment_after_reboot_gets_its_address_back() {
    let d = TempDir::new("reboot-same");
    let c = cfg(&d, json!({"subnet": "10.9.4.0/24"}), None);
    let (a, b) = (boot(A), boot(B));
    ops::add_with_boot(&c, "x", "eth0", T, &a).unwrap();
    let first = ops::add_with_boot(&c, "p", "eth0", T, &a).unwrap();
    ops::add_with_boot(&c, "y", "eth0", T, &a).unwrap();
    // same boot: a duplicate is refused
    let e = ops::add_with_boot(&c, "p", "eth0", T, &a).unwrap_err();
    assert!(e.to_string().contains("duplicate"), "{e}");
    // after the reboot the runtime adds the same attachment again
    let again = ops::add_with_boot(&c, "p", "eth0", T, &b).unwrap();
    assert_eq!(addrs(&again), addrs(&first));
    let net = d.path().join("net1");
    assert_eq!(stamp_of(&net.join("10.9.4.3")), Stamp::Boot(B.into()));
    // the other boot-A reservations are untouched (no exhaustion)
    assert_eq!(reservations(&net).len(), 3);
}

#[test]
fn requested_address_held_by_earlier_boot_is_reclaimed() {
    let d = TempDir::new("reboot-req");
    let plain = cfg(&d, json!({"subnet": "10.9.5.0/24"}), None);
    let r = ops::add_with_boot(&plain, "old", "eth0", T, &boot(A)).unwrap();
    assert_eq!(addrs(&r), ["10.9.5.2/24"]);
    let want = cfg(&d, json!({"subnet": "10.9.5.0/24"}), Some("10.9.5.2"));
    assert!(
        ops::add_with_boot(&want, "new", "eth0", T, &boot(A)).is_err(),
        "same boot: taken"
    );
    let r = ops::add_with_boot(&want, "new", "eth0", T, &boot(B)).unwrap();
    assert_eq!(addrs(&r), ["10.9.5.2/24"]);
    assert_eq!(
        std::fs::read(d.path().join("net1").join("10.9.5.2")).unwrap(),
        b"new\r\neth0"
    );
}

#[test]
fn gc_goes_by_the_valid_list_only() {
    let d = TempDir::new("reboot-gc");
    let c = cfg(&d, json!({"subnet": "10.9.6.0/24"}), None);
    ops::add_with_boot(&c, "keep", "eth0", T, &boot(A)).unwrap();
    ops::add_with_boot(&c, "drop", "eth0", T, &boot(A)).unwrap();
    ops::add_with_boot(&c, "now", "eth0", T, &boot(B)).unwrap();
    // run in boot B: the earlier-boot attachment listed as valid is kept, the
    // unlisted one of this boot is released
    let valid = vec![("keep".to_string(), "eth0".to_string())];
    let mut rel: Vec<String> = ops::gc(&c.data_dir, "net1", &valid, T)
        .unwrap()
        .released
        .iter()
        .map(ToString::to_string)
        .collect();
    rel.sort();
    assert_eq!(rel, ["10.9.6.3", "10.9.6.4"]);
    assert_eq!(reservations(&d.path().join("net1")), ["10.9.6.2"]);
}
