//! Files opened (`openat` calls by cnm-ipam, counted by `cnm_ipam::fsio`) per
//! ADD, CHECK and DEL with 0 and with 1000 reservations in the store: the same,
//! because the attachment index replaces the scan of every reservation.
//! One test in this binary, so no other test's opens are counted.

mod common;

use std::time::Duration;

use cnm_ipam::fsio::open_calls;
use cnm_ipam::{ops, IpamConfig};
use common::{obj, TempDir};
use serde_json::json;

const T: Duration = Duration::from_secs(10);

fn cfg(dir: &TempDir) -> IpamConfig {
    let raw = obj(json!({"cniVersion": "1.0.0", "name": "net1", "ipam": {
        "ranges": [[{"subnet": "10.64.0.0/16"}], [{"subnet": "fd00:64::/64"}]],
        "dataDir": dir.path().to_str().unwrap(),
    }}));
    IpamConfig::from_raw(&raw, "net1", "1.0.0", &[]).unwrap()
}

/// Opens for (ADD, CHECK, DEL) of a new attachment with `n` others attached.
fn cost(n: usize) -> (u64, u64, u64) {
    let d = TempDir::new("cost");
    let c = cfg(&d);
    for i in 0..n {
        ops::add(&c, &format!("c{i}"), "eth0", T).unwrap();
    }
    // Warm-up (the very first ADD of a store builds its index).
    ops::add(&c, "warm", "eth0", T).unwrap();
    ops::del(&c.data_dir, "net1", "warm", "eth0", T).unwrap();
    let before = open_calls();
    ops::add(&c, "probe", "eth0", T).unwrap();
    let add = open_calls() - before;
    let before = open_calls();
    ops::check(&c.data_dir, "net1", "probe", "eth0", T).unwrap();
    let check = open_calls() - before;
    let before = open_calls();
    assert_eq!(
        ops::del(&c.data_dir, "net1", "probe", "eth0", T)
            .unwrap()
            .len(),
        2
    );
    let del = open_calls() - before;
    (add, check, del)
}

#[test]
fn opens_per_verb_do_not_grow_with_reservations() {
    let zero = cost(0);
    let thousand = cost(1000);
    println!(
        "opens (ADD, CHECK, DEL), dual-stack: 0 attached {zero:?}, 1000 attached {thousand:?}"
    );
    assert_eq!(zero, thousand);
    assert!(zero.0 < 30, "ADD opens {} files", zero.0);
}
