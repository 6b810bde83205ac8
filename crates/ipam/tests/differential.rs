//! Differential tests against the reference `host-local` binary (skipped when
//! /usr/lib/cni/host-local is absent): shared store, same allocation order.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use cnm_ipam::{ops, IpamConfig};
use common::{names, obj, TempDir};
use serde_json::{json, Value};

const REF: &str = "/usr/lib/cni/host-local";
const T: Duration = Duration::from_secs(10);

fn have_ref() -> bool {
    if Path::new(REF).exists() {
        true
    } else {
        println!("skipped: {REF} not installed");
        false
    }
}

/// Runs the reference plugin; returns (exit ok, stdout JSON).
fn reference(cmd: &str, conf: &Value, id: &str, ifname: &str) -> (bool, Value) {
    let mut child = Command::new(REF)
        .env_clear()
        .env("CNI_COMMAND", cmd)
        .env("CNI_CONTAINERID", id)
        .env("CNI_NETNS", "/var/run/netns/nonexistent")
        .env("CNI_IFNAME", ifname)
        .env("CNI_PATH", "/usr/lib/cni")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(conf.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let v = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out.status.success(), v)
}

fn conf(dir: &TempDir, ipam: Value) -> Value {
    let mut ipam = ipam;
    ipam["type"] = json!("host-local");
    ipam["dataDir"] = json!(dir.path().to_str().unwrap());
    json!({"cniVersion": "1.0.0", "name": "diffnet", "type": "bridge", "ipam": ipam})
}

fn ours(c: &Value) -> IpamConfig {
    IpamConfig::from_raw(&obj(c.clone()), "diffnet", "1.0.0", &[]).unwrap()
}

fn ref_addrs(v: &Value) -> Vec<String> {
    v["ips"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["address"].as_str().unwrap().to_string())
        .collect()
}

fn our_addrs(r: &cnm_model::Allocation) -> Vec<String> {
    r.addresses.iter().map(|i| i.address.to_string()).collect()
}

#[test]
fn same_sequence_as_reference() {
    if !have_ref() {
        return;
    }
    let ipam = json!({"ranges": [
        [{"subnet": "10.5.0.0/28", "rangeStart": "10.5.0.3", "rangeEnd": "10.5.0.9", "gateway": "10.5.0.5"},
         {"subnet": "10.6.0.0/29"}],
        [{"subnet": "2001:db8:5::/125", "gateway": "2001:db8:5::3"}]]});
    let (da, db) = (TempDir::new("seq-ref"), TempDir::new("seq-ours"));
    let (ca, cb) = (conf(&da, ipam.clone()), conf(&db, ipam));
    let c = ours(&cb);
    // allocate, with releases in between to exercise round robin and exhaustion
    let mut failures = 0;
    for i in 0..12 {
        let id = format!("ctr{i}");
        let (ok, v) = reference("ADD", &ca, &id, "eth0");
        let mine = ops::add(&c, &id, "eth0", T);
        match (&ok, &mine) {
            (true, Ok(r)) => assert_eq!(ref_addrs(&v), our_addrs(r), "step {i}"),
            (false, Err(_)) => failures += 1,
            _ => panic!("step {i}: reference ok={ok} {v}, ours {mine:?}"),
        }
        if i % 4 == 1 {
            let victim = format!("ctr{}", i - 1);
            assert!(reference("DEL", &ca, &victim, "eth0").0);
            ops::del(&c.data_dir, "diffnet", &victim, "eth0", T).unwrap();
        }
    }
    assert!(failures > 0, "the v6 set (6 addresses) must run out");
    // identical store contents (names and bytes), except the lock file
    let (na, nb) = (da.path().join("diffnet"), db.path().join("diffnet"));
    assert_eq!(names(&na), names(&nb));
    for n in names(&na) {
        assert_eq!(
            std::fs::read(na.join(&n)).unwrap(),
            std::fs::read(nb.join(&n)).unwrap(),
            "{n}"
        );
    }
}

#[test]
fn our_add_reference_del_and_vice_versa() {
    if !have_ref() {
        return;
    }
    let d = TempDir::new("xdel");
    let cj = conf(
        &d,
        json!({"ranges": [[{"subnet": "10.7.0.0/24"}], [{"subnet": "2001:db8:7::/64"}]]}),
    );
    let c = ours(&cj);
    let net = d.path().join("diffnet");

    ops::add(&c, "a", "eth0", T).unwrap();
    let (ok, v) = reference("CHECK", &cj, "a", "eth0");
    assert!(ok, "reference CHECK of our reservation: {v}");
    // the reference refuses a duplicate of our reservation
    assert!(!reference("ADD", &cj, "a", "eth0").0);
    assert!(reference("DEL", &cj, "a", "eth0").0);
    assert_eq!(
        names(&net),
        ["last_reserved_ip.0", "last_reserved_ip.1", "lock"]
    );

    let (ok, v) = reference("ADD", &cj, "b", "eth1");
    assert!(ok, "{v}");
    // round robin continues from the reference's cursor
    assert_eq!(ref_addrs(&v), ["10.7.0.3/24", "2001:db8:7::3/64"]);
    ops::check(&c.data_dir, "diffnet", "b", "eth1", T).unwrap();
    assert!(
        ops::add(&c, "b", "eth1", T).is_err(),
        "duplicate of the reference's reservation"
    );
    let mut rel: Vec<String> = ops::del(&c.data_dir, "diffnet", "b", "eth1", T)
        .unwrap()
        .iter()
        .map(ToString::to_string)
        .collect();
    rel.sort();
    assert_eq!(rel, ["10.7.0.3", "2001:db8:7::3"]);
    assert_eq!(
        names(&net),
        ["last_reserved_ip.0", "last_reserved_ip.1", "lock"]
    );
    assert!(!reference("CHECK", &cj, "b", "eth1").0);
}

#[test]
fn boot_stamps_do_not_disturb_the_reference() {
    use cnm_ipam::FixedBoot;
    use std::time::SystemTime;
    if !have_ref() {
        return;
    }
    let d = TempDir::new("xboot");
    let cj = conf(
        &d,
        json!({"ranges": [[{"subnet": "10.8.0.0/29", "rangeEnd": "10.8.0.3"}]]}),
    );
    let c = ours(&cj);
    let net = d.path().join("diffnet");
    let hour = Duration::from_secs(3600);
    let boot_a = FixedBoot::new("aaaa-0001", SystemTime::now() - hour);
    // our stamped reservation: the reference checks, refuses a duplicate, deletes it
    ops::add_with_boot(&c, "a", "eth0", T, &boot_a).unwrap();
    assert_eq!(
        names(&net),
        ["10.8.0.2", "last_reserved_ip.0", "lock"],
        "no side files"
    );
    assert!(reference("CHECK", &cj, "a", "eth0").0);
    assert!(!reference("ADD", &cj, "a", "eth0").0);
    assert!(reference("DEL", &cj, "a", "eth0").0);
    assert_eq!(names(&net), ["last_reserved_ip.0", "lock"]);
    // the reference fills the range (unstamped files); after a (simulated) reboot
    // later than those files, our ADD reclaims one of them
    assert!(reference("ADD", &cj, "r1", "eth0").0);
    assert!(reference("ADD", &cj, "r2", "eth0").0);
    assert!(ops::add_with_boot(&c, "b", "eth0", T, &boot_a).is_err());
    let boot_b = FixedBoot::new("bbbb-0002", SystemTime::now() + hour);
    let r = ops::add_with_boot(&c, "b", "eth0", T, &boot_b).unwrap();
    assert_eq!(our_addrs(&r), ["10.8.0.3/29"]);
    // and the reference still sees and releases our reservation
    assert!(reference("CHECK", &cj, "b", "eth0").0);
    assert!(reference("DEL", &cj, "b", "eth0").0);
    assert_eq!(names(&net), ["last_reserved_ip.0", "lock"]);
}
