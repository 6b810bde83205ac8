//! Root tests of the MAC spoof check (`bridge cnm`), every nft call and link inside throwaway
//! network namespaces: lifecycle (ensure/check/remove, idempotence, other ports untouched) and
//! traffic (a container whose MAC changes is cut off, and reachable again when it changes back).

mod common;

use cnm_nft::NftError;
use common::{run, run_ok, Fixture};

const MAC1: [u8; 6] = [0x02, 0x42, 0x0a, 0x00, 0x00, 0x02];
const MAC2: [u8; 6] = [0x02, 0x42, 0x0a, 0x00, 0x00, 0x03];

#[test]
fn spoof_check_lifecycle() {
    cnm_test_support::require_root!("cnm-nft netns_spoof::spoof_check_lifecycle");
    let nss = Fixture::new("cnmsp", 1);
    let ns = nss.name(0);
    let fw = nss.fw_exec(0);
    // Nothing there yet: check fails, remove is a no-op.
    assert!(matches!(
        fw.check_mac_spoof_check("veth1", &MAC1),
        Err(NftError::Missing { .. })
    ));
    fw.remove_mac_spoof_check("veth1").unwrap();

    fw.ensure_mac_spoof_check("veth1", &MAC1).unwrap();
    fw.ensure_mac_spoof_check("veth1", &MAC1).unwrap();
    fw.ensure_mac_spoof_check("veth2", &MAC2).unwrap();
    fw.check_mac_spoof_check("veth1", &MAC1).unwrap();
    fw.check_mac_spoof_check("veth2", &MAC2).unwrap();
    assert!(fw.check_mac_spoof_check("veth1", &MAC2).is_err());
    let listing = run(&[
        "ip", "netns", "exec", ns, "nft", "list", "table", "bridge", "cnm",
    ]);
    assert_eq!(
        listing
            .matches("ether saddr != 02:42:0a:00:00:02 drop")
            .count(),
        1,
        "{listing}"
    );
    assert!(
        listing.contains("priority -300") || listing.contains("priority dstnat"),
        "{listing}"
    );

    // Re-ensuring with another MAC replaces the rule (only the new MAC is allowed).
    fw.ensure_mac_spoof_check("veth1", &MAC2).unwrap();
    fw.check_mac_spoof_check("veth1", &MAC2).unwrap();
    assert!(fw.check_mac_spoof_check("veth1", &MAC1).is_err());

    fw.remove_mac_spoof_check("veth1").unwrap();
    fw.remove_mac_spoof_check("veth1").unwrap();
    assert!(fw.check_mac_spoof_check("veth1", &MAC2).is_err());
    fw.check_mac_spoof_check("veth2", &MAC2).unwrap();
    assert_eq!(fw.list_mac_spoof_ports().unwrap(), ["veth2"]);
    let listing = run(&[
        "ip", "netns", "exec", ns, "nft", "list", "table", "bridge", "cnm",
    ]);
    assert!(!listing.contains("cnm-spoof:veth1"), "{listing}");

    // Invalid port names never reach nft.
    assert!(matches!(
        fw.ensure_mac_spoof_check("x\"; flush ruleset", &MAC1),
        Err(NftError::InvalidName { .. })
    ));
    assert!(fw.remove_mac_spoof_check("").is_err());
}

fn ping_ok(ns: &str, dst: &str) -> bool {
    run_ok(&["ip", "netns", "exec", ns, "ping", "-c1", "-W1", "-q", dst])
}

#[test]
fn spoofed_frames_are_dropped() {
    cnm_test_support::require_root!("cnm-nft netns_spoof::spoofed_frames_are_dropped");
    let nss = Fixture::new("cnmsp", 2);
    let (host, ctr) = (nss.name(0), nss.name(1));
    run(&["ip", "-n", host, "link", "add", "br0", "type", "bridge"]);
    run(&[
        "ip",
        "-n",
        host,
        "addr",
        "add",
        "10.77.0.1/24",
        "dev",
        "br0",
    ]);
    run(&["ip", "-n", host, "link", "set", "br0", "up"]);
    run(&[
        "ip", "-n", host, "link", "add", "vethc", "type", "veth", "peer", "name", "eth0", "netns",
        ctr,
    ]);
    run(&[
        "ip", "-n", host, "link", "set", "vethc", "master", "br0", "up",
    ]);
    run(&[
        "ip",
        "-n",
        ctr,
        "link",
        "set",
        "eth0",
        "address",
        "02:42:0a:00:00:02",
    ]);
    run(&[
        "ip",
        "-n",
        ctr,
        "addr",
        "add",
        "10.77.0.2/24",
        "dev",
        "eth0",
    ]);
    run(&["ip", "-n", ctr, "link", "set", "eth0", "up"]);
    let fw = nss.fw_exec(0);
    fw.ensure_mac_spoof_check("vethc", &MAC1).unwrap();
    assert!(ping_ok(ctr, "10.77.0.1"), "genuine MAC must pass");

    run(&[
        "ip",
        "-n",
        ctr,
        "link",
        "set",
        "eth0",
        "address",
        "02:42:0a:00:00:99",
    ]);
    run(&["ip", "-n", ctr, "neigh", "flush", "dev", "eth0"]);
    assert!(!ping_ok(ctr, "10.77.0.1"), "spoofed MAC must be dropped");

    fw.remove_mac_spoof_check("vethc").unwrap();
    // Both sides may still hold the old MAC in their neighbour caches (and
    // the bridge in its FDB): forget it, then allow a few bounded tries.
    run(&["ip", "-n", ctr, "neigh", "flush", "dev", "eth0"]);
    run(&["ip", "-n", host, "neigh", "flush", "all"]);
    let back = (0..3).any(|_| ping_ok(ctr, "10.77.0.1"));
    assert!(back, "no check after removal");
}
