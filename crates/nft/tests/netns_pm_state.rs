//! Root tests of the port-mapping state (per netns and owner): DEL after ADD runs no nft at all
//! (one nfnetlink batch), stale records (flushed ruleset, recreated table, elements deleted
//! behind our back) fall back to listing without touching other owners, and GC prunes records. Each test thread enters a
//! throwaway namespace with setns(2), so nft, the netlink probe and `/proc/thread-self/ns/net`
//! all see that namespace; nft is wrapped by a shell script that logs every run (the exec
//! count). The root namespace is never touched.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use cnm_nft::{fnv1a64, Owner, PortMapping, Protocol};
use common::Fixture;
use ipnet::IpNet;

fn fixture() -> Fixture {
    Fixture::new("cnmpms", 1)
}

fn state_file(fx: &Fixture, o: &Owner) -> PathBuf {
    let tag = o.tag().unwrap();
    fx.ns_dir(0)
        .join(format!("pm-{:016x}", fnv1a64(&[tag.as_bytes()])))
}

fn owner(network: &str, cid: &str) -> Owner {
    Owner {
        network: network.into(),
        container_id: cid.into(),
        ifname: "eth0".into(),
    }
}

fn tcp(h: u16, c: u16) -> PortMapping {
    PortMapping {
        host_port: h,
        container_port: c,
        protocol: Protocol::Tcp,
        host_ip: None,
    }
}

fn addrs(a: &[&str]) -> Vec<IpNet> {
    a.iter().map(|s| s.parse().unwrap()).collect()
}

fn five() -> Vec<PortMapping> {
    [(8080, 80), (8081, 81), (8082, 82), (8083, 83), (8443, 443)]
        .into_iter()
        .map(|(h, c)| tcp(h, c))
        .collect()
}

fn map(h: u16, c: u16, protocol: Protocol, host_ip: Option<&str>) -> PortMapping {
    PortMapping {
        host_port: h,
        container_port: c,
        protocol,
        host_ip: host_ip.map(|s| s.parse().unwrap()),
    }
}

/// tcp and udp (and sctp), v4 and v6, a v4 and a v6 host IP: every set type is used.
fn mixed() -> Vec<PortMapping> {
    vec![
        map(8080, 80, Protocol::Tcp, None),
        map(5353, 53, Protocol::Udp, None),
        map(8443, 443, Protocol::Tcp, Some("192.168.50.1")),
        map(9000, 90, Protocol::Udp, Some("fd50::1")),
        map(7000, 70, Protocol::Sctp, None),
    ]
}

/// Five TCP mappings on ports no other helper here uses.
fn others() -> Vec<PortMapping> {
    (9080..9085).map(|h| tcp(h, 80)).collect()
}

#[test]
fn del_after_add_runs_no_nft_and_state_is_private() {
    cnm_test_support::require_root!(
        "cnm-nft netns_pm_state::del_after_add_runs_no_nft_and_state_is_private"
    );
    let fx = fixture();
    let (o1, o2) = (owner("pnet", "c1"), owner("pnet", "c2"));
    let a1 = addrs(&["10.90.0.2/24", "fd90::2/64"]);
    let a2 = addrs(&["10.90.0.3/24", "fd90::3/64"]);
    fx.in_ns(0, || fx.fw().add_port_mappings(&o1, &a1, &mixed(), true))
        .unwrap();
    assert_eq!(fx.execs().len(), 1, "ADD is one batch: {:?}", fx.execs());
    fx.in_ns(0, || fx.fw().add_port_mappings(&o2, &a2, &others(), true))
        .unwrap();
    let file = state_file(&fx, &o1);
    let mode = |p: &PathBuf| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&file), 0o600);
    assert_eq!(mode(&fx.ns_dir(0)), 0o700);
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.starts_with("owner pnet,c1,eth0\ntable "), "{text}");
    // 3 mappings x 2 families + 2 with a host IP + 2 SNAT v4 + 1 SNAT v6.
    assert_eq!(text.matches("\nelem ").count(), 11, "{text}");
    for set in ["pm4any", "pm6any", "pm4", "pm6", "pmsnat4", "pmsnat6"] {
        assert!(text.contains(&format!("\nelem {set} ")), "{set}: {text}");
    }

    let before = fx.execs();
    fx.in_ns(0, || fx.fw().remove_port_mappings(&o1)).unwrap();
    assert_eq!(fx.execs(), before, "DEL runs no nft process");
    assert!(!file.exists(), "the record is removed");
    let listing = fx.nft(0, &["list", "table", "inet", "cnm"]);
    assert!(!listing.contains("pnet,c1"), "{listing}");
    for gone in ["192.168.50.1", "fd50::1", "10.90.0.2", "fd90::2", "7000"] {
        assert!(!listing.contains(gone), "{gone} left: {listing}");
    }
    // The other owner keeps all of its elements (SNAT included).
    fx.in_ns(0, || fx.fw().check_port_mappings(&o2, &a2, &others(), true))
        .unwrap();
    assert!(state_file(&fx, &o2).exists());
    // A second DEL (no record) is still fine: one listing, nothing to delete.
    let before = fx.execs().len();
    fx.in_ns(0, || fx.fw().remove_port_mappings(&o1)).unwrap();
    assert_eq!(fx.execs().len(), before + 1, "{:?}", fx.execs());
    // And o2's DEL is netlink only too, leaving the maps and sets empty.
    let before = fx.execs();
    fx.in_ns(0, || fx.fw().remove_port_mappings(&o2)).unwrap();
    assert_eq!(fx.execs(), before);
    let listing = fx.nft(0, &["list", "table", "inet", "cnm"]);
    assert!(!listing.contains("elements"), "{listing}");
}

#[test]
fn repeated_add_is_recorded_in_full() {
    cnm_test_support::require_root!("cnm-nft netns_pm_state::repeated_add_is_recorded_in_full");
    let fx = fixture();
    let o = owner("pnet", "c1");
    let a = addrs(&["10.91.0.2/24"]);
    let fw = || fx.fw();
    // A new port on the fast path adds to the record; the same ports again (slow path,
    // replacing) record exactly what is installed.
    fx.in_ns(0, || fw().add_port_mappings(&o, &a, &[tcp(8080, 80)], true))
        .unwrap();
    fx.in_ns(0, || fw().add_port_mappings(&o, &a, &[tcp(9090, 90)], true))
        .unwrap();
    let text = std::fs::read_to_string(state_file(&fx, &o)).unwrap();
    assert!(
        text.contains("elem pm4any tcp . 8080 : 10.91.0.2 . 80\n")
            && text.contains("elem pm4any tcp . 9090 : 10.91.0.2 . 90\n"),
        "{text}"
    );
    fx.in_ns(0, || fw().add_port_mappings(&o, &a, &[tcp(9090, 90)], true))
        .unwrap();
    let text = std::fs::read_to_string(state_file(&fx, &o)).unwrap();
    assert!(
        !text.contains("8080") && text.contains("tcp . 9090"),
        "{text}"
    );
    let before = fx.execs().len();
    fx.in_ns(0, || fw().remove_port_mappings(&o)).unwrap();
    assert_eq!(fx.execs().len(), before, "no nft: {:?}", fx.execs());
    assert!(!fx
        .nft(0, &["list", "table", "inet", "cnm"])
        .contains("pnet,c1"));
}

#[test]
fn del_after_flush_ruleset_succeeds_and_spares_the_new_holder() {
    cnm_test_support::require_root!(
        "cnm-nft netns_pm_state::del_after_flush_ruleset_succeeds_and_spares_the_new_holder"
    );
    let fx = fixture();
    let (o1, o2) = (owner("pnet", "c1"), owner("pnet", "c2"));
    let a1 = addrs(&["10.92.0.2/24"]);
    let a2 = addrs(&["10.92.0.3/24"]);
    fx.in_ns(0, || fx.fw().add_port_mappings(&o1, &a1, &five(), true))
        .unwrap();
    fx.nft(0, &["flush", "ruleset"]);
    // Plain DEL after the flush: the record is stale (no table), DEL falls back to a listing
    // (which finds no table), still succeeds and forgets the record.
    let before = fx.execs().len();
    fx.in_ns(0, || fx.fw().remove_port_mappings(&o1)).unwrap();
    assert_eq!(
        fx.execs().len(),
        before + 1,
        "one listing: {:?}",
        fx.execs()
    );
    assert!(!state_file(&fx, &o1).exists());

    // Again, but another owner takes the same host ports in the recreated table before o1's
    // DEL: o1's record has exactly o2's keys (no SNAT elements, which would differ), and must
    // not delete them (the table handle changed).
    fx.in_ns(0, || fx.fw().add_port_mappings(&o1, &a1, &five(), false))
        .unwrap();
    fx.nft(0, &["flush", "ruleset"]);
    fx.in_ns(0, || fx.fw().add_port_mappings(&o2, &a2, &five(), false))
        .unwrap();
    fx.in_ns(0, || fx.fw().remove_port_mappings(&o1)).unwrap();
    fx.in_ns(0, || fx.fw().check_port_mappings(&o2, &a2, &five(), false))
        .unwrap();
    assert!(!state_file(&fx, &o1).exists());
    assert!(state_file(&fx, &o2).exists());
}

#[test]
fn elements_deleted_behind_our_back_fall_back_to_listing() {
    cnm_test_support::require_root!(
        "cnm-nft netns_pm_state::elements_deleted_behind_our_back_fall_back_to_listing"
    );
    let fx = fixture();
    let (o1, o2) = (owner("pnet", "c1"), owner("pnet", "c2"));
    let a1 = addrs(&["10.93.0.2/24"]);
    let a2 = addrs(&["10.93.0.3/24"]);
    fx.in_ns(0, || {
        fx.fw()
            .add_port_mappings(&o1, &a1, &[tcp(8080, 80), tcp(8081, 81)], true)
    })
    .unwrap();
    fx.in_ns(0, || {
        fx.fw().add_port_mappings(&o2, &a2, &[tcp(9090, 90)], true)
    })
    .unwrap();
    // Someone removes one of o1's elements by hand (same table): the recorded netlink batch fails
    // as a whole (nothing deleted), DEL lists and removes what is left of o1 with nft, o2 is
    // untouched.
    fx.nft(
        0,
        &[
            "delete",
            "element",
            "inet",
            "cnm",
            "pm4any",
            "{ tcp . 8080 }",
        ],
    );
    let before = fx.execs().len();
    fx.in_ns(0, || fx.fw().remove_port_mappings(&o1)).unwrap();
    let execs = fx.execs();
    assert_eq!(execs.len(), before + 2, "listing, batch: {execs:?}");
    assert_eq!(execs[before + 1], "-f -", "{execs:?}");
    let listing = fx.nft(0, &["list", "table", "inet", "cnm"]);
    assert!(!listing.contains("pnet,c1"), "{listing}");
    fx.in_ns(0, || {
        fx.fw()
            .check_port_mappings(&o2, &a2, &[tcp(9090, 90)], true)
    })
    .unwrap();
    assert!(!state_file(&fx, &o1).exists());
}

#[test]
fn gc_prunes_records_of_owners_without_elements() {
    cnm_test_support::require_root!(
        "cnm-nft netns_pm_state::gc_prunes_records_of_owners_without_elements"
    );
    let fx = fixture();
    let (o1, o2, other) = (
        owner("pnet", "c1"),
        owner("pnet", "c2"),
        owner("qnet", "c3"),
    );
    let a = addrs(&["10.94.0.2/24"]);
    fx.in_ns(0, || {
        let fw = fx.fw();
        fw.add_port_mappings(&o1, &a, &[tcp(8080, 80)], false)?;
        fw.add_port_mappings(&o2, &a, &[tcp(8081, 80)], false)?;
        fw.add_port_mappings(&other, &a, &[tcp(8082, 80)], false)
    })
    .unwrap();
    // o1's element disappears behind our back; qnet's record is another network's business.
    fx.nft(
        0,
        &[
            "delete",
            "element",
            "inet",
            "cnm",
            "pm4any",
            "{ tcp . 8080 }",
        ],
    );
    fx.nft(
        0,
        &[
            "delete",
            "element",
            "inet",
            "cnm",
            "pm4any",
            "{ tcp . 8082 }",
        ],
    );
    let garbage = fx.ns_dir(0).join("pm-0000000000000000");
    std::fs::write(&garbage, "not a record\n").unwrap();
    fx.in_ns(0, || {
        let fw = fx.fw();
        let live = fw.list_owners()?;
        fw.prune_port_mapping_state("pnet", &live)
    })
    .unwrap();
    assert!(!state_file(&fx, &o1).exists(), "o1 has no elements left");
    assert!(state_file(&fx, &o2).exists(), "o2 still holds 8081");
    assert!(
        state_file(&fx, &other).exists(),
        "other networks are left alone"
    );
    assert!(!garbage.exists(), "unreadable records are removed");
}
