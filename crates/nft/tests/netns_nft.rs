//! Root tests against the real kernel: every nft call runs inside a throwaway network namespace
//! (`ip netns exec cnmnft-<pid>-<n> nft`); the root namespace's ruleset is never touched.

mod common;

use cnm_nft::{Applied, Firewall, MasqNet, NftError, Owner, PortMapping, Protocol};
use common::Fixture;

/// One throwaway namespace; nft runs in it through `ip netns exec`, no state kept.
fn ns() -> Fixture {
    Fixture::new("cnmnft", 1)
}

fn net<'a>(name: &'a str, bridge: &'a str, subnets: &[&str]) -> MasqNet<'a> {
    MasqNet {
        network: name,
        bridge,
        subnets: subnets.iter().map(|s| s.parse().unwrap()).collect(),
    }
}

fn masq_rules(ns: &Fixture, network: &str) -> usize {
    let state = ns.fw_exec(0).read_state().unwrap().unwrap();
    state
        .chains
        .values()
        .flat_map(|c| c.rules.iter())
        .filter(|r| r.comment.as_deref() == Some(&format!("cnm:{network}")))
        .count()
}

#[test]
fn masquerade_lifecycle() {
    cnm_test_support::require_root!("cnm-nft netns_nft::masquerade_lifecycle");
    let ns = ns();
    let fw = ns.fw_exec(0);
    let n1 = net("net1", "cnm0", &["10.88.0.1/16", "fd88::/64"]);
    fw.available().unwrap();
    assert_eq!(fw.ensure_masquerade(&n1).unwrap(), Applied::Written);
    assert_eq!(fw.ensure_masquerade(&n1).unwrap(), Applied::Written);
    assert_eq!(
        masq_rules(&ns, "net1"),
        1,
        "{}",
        ns.nft(0, &["list", "ruleset"])
    );
    let elems = ns.nft(0, &["list", "map", "inet", "cnm", "masq4"]);
    assert_eq!(elems.matches("10.88.0.0/16").count(), 1, "{elems}");
    fw.check_masquerade(&n1).unwrap();
    assert_eq!(fw.list_masquerade_networks().unwrap(), ["net1"]);
    // CHECK is inclusive: a subset of the subnets passes, another subnet or bridge does not.
    fw.check_masquerade(&net("net1", "cnm0", &["10.88.0.0/16"]))
        .unwrap();
    assert!(fw
        .check_masquerade(&net("net1", "cnm0", &["10.99.0.0/16"]))
        .is_err());
    assert!(fw
        .check_masquerade(&net("net1", "other0", &["10.88.0.0/16"]))
        .is_err());
    fw.remove_masquerade("net1").unwrap();
    let err = fw.check_masquerade(&n1).unwrap_err();
    assert!(matches!(err, NftError::Missing { .. }), "{err}");
    assert!(err.to_string().contains("net1"), "{err}");
    fw.remove_masquerade("net1").unwrap();
    assert_eq!(masq_rules(&ns, "net1"), 0);
    assert!(fw.list_masquerade_networks().unwrap().is_empty());
}

#[test]
fn remove_on_empty_namespace_is_ok() {
    cnm_test_support::require_root!("cnm-nft netns_nft::remove_on_empty_namespace_is_ok");
    let ns = ns();
    let fw = ns.fw_exec(0);
    fw.remove_masquerade("never").unwrap();
    fw.remove_port_mappings(&owner("c1")).unwrap();
    assert!(fw.list_owners().unwrap().is_empty());
    assert!(fw
        .check_masquerade(&net("never", "b", &["10.0.0.0/8"]))
        .is_err());
}

#[test]
fn two_networks_are_independent() {
    cnm_test_support::require_root!("cnm-nft netns_nft::two_networks_are_independent");
    let ns = ns();
    let fw = ns.fw_exec(0);
    let a = net("neta", "bra", &["10.10.0.0/24"]);
    let b = net("netb", "brb", &["10.20.0.0/24", "fd20::/64"]);
    fw.ensure_masquerade(&a).unwrap();
    fw.ensure_masquerade(&b).unwrap();
    fw.check_masquerade(&a).unwrap();
    fw.check_masquerade(&b).unwrap();
    fw.remove_masquerade("neta").unwrap();
    assert!(fw.check_masquerade(&a).is_err());
    fw.check_masquerade(&b).unwrap();
    assert_eq!(fw.list_masquerade_networks().unwrap(), ["netb"]);
    // A second network claiming an existing subnet takes it over in one batch (a subnet
    // reused under a new name, issue 10); the first gets it back when the second goes.
    let clash = net("netc", "brc", &["10.30.0.0/24", "10.20.0.0/24"]);
    fw.ensure_masquerade(&clash).unwrap();
    fw.check_masquerade(&clash).unwrap();
    // netb's CHECK passes: netc's chain masquerades the shared subnet.
    fw.check_masquerade(&b).unwrap();
    let t = fw.read_state().unwrap().unwrap();
    let owner: Vec<_> = t.sets["masq4"]
        .iter()
        .filter(|e| e.key == "10.20.0.0/24")
        .map(|e| e.value.clone().unwrap_or_default())
        .collect();
    assert_eq!(owner, [format!("jump {}", cnm_nft::masq_chain("netc"))]);
    fw.remove_masquerade("netc").unwrap();
    fw.check_masquerade(&b).unwrap();
    assert_eq!(fw.list_masquerade_networks().unwrap(), ["netb"]);
}

#[test]
fn stateless_ensure_keeps_earlier_subnets() {
    cnm_test_support::require_root!("cnm-nft netns_nft::stateless_ensure_keeps_earlier_subnets");
    let ns = ns();
    let fw = ns.fw_exec(0);
    let a = net("multi", "brx", &["10.41.0.0/24"]);
    let b = net("multi", "brx", &["10.41.1.0/24"]);
    assert_eq!(fw.ensure_masquerade(&a).unwrap(), Applied::Written);
    assert_eq!(fw.ensure_masquerade(&b).unwrap(), Applied::Written);
    // The second ensure learnt subnet A from the live maps: CHECK of A still passes.
    fw.check_masquerade(&a).unwrap();
    fw.check_masquerade(&b).unwrap();
    fw.check_masquerade(&net("multi", "brx", &["10.41.0.0/24", "10.41.1.0/24"]))
        .unwrap();
    assert!(fw
        .check_masquerade(&net("multi", "brx", &["10.41.2.0/24"]))
        .is_err());
}

fn owner(cid: &str) -> Owner {
    Owner {
        network: "pnet".into(),
        container_id: cid.into(),
        ifname: "eth0".into(),
    }
}

fn pm(h: u16, c: u16, p: Protocol, ip: Option<&str>) -> PortMapping {
    PortMapping {
        host_port: h,
        container_port: c,
        protocol: p,
        host_ip: ip.map(|s| s.parse().unwrap()),
    }
}

fn addrs(a: &[&str]) -> Vec<ipnet::IpNet> {
    a.iter().map(|s| s.parse().unwrap()).collect()
}

#[test]
fn port_mappings_per_owner() {
    cnm_test_support::require_root!("cnm-nft netns_nft::port_mappings_per_owner");
    let ns = ns();
    let fw = ns.fw_exec(0);
    let (o1, o2) = (owner("c1"), owner("c2"));
    let a1 = addrs(&["10.50.0.2/24", "fd50::2/64"]);
    let a2 = addrs(&["10.50.0.3/24"]);
    let m1 = [
        pm(8080, 80, Protocol::Tcp, None),
        pm(5353, 53, Protocol::Udp, Some("127.0.0.1")),
        pm(9999, 99, Protocol::Sctp, Some("::")),
    ];
    let m2 = [pm(8081, 80, Protocol::Tcp, None)];
    fw.add_port_mappings(&o1, &a1, &m1, true).unwrap();
    fw.add_port_mappings(&o2, &a2, &m2, false).unwrap();
    fw.check_port_mappings(&o1, &a1, &m1, true).unwrap();
    fw.check_port_mappings(&o2, &a2, &m2, false).unwrap();
    // CHECK is exact: other mappings or another snat flag do not pass.
    assert!(fw.check_port_mappings(&o1, &a1, &m1[..2], true).is_err());
    assert!(fw.check_port_mappings(&o2, &a2, &m2, true).is_err());
    assert_eq!(fw.list_owners().unwrap(), vec![o1.clone(), o2.clone()]);
    // Repeating the same owner's add is fine (replaces its elements).
    fw.add_port_mappings(&o1, &a1, &m1, true).unwrap();
    fw.check_port_mappings(&o1, &a1, &m1, true).unwrap();
    fw.remove_port_mappings(&o1).unwrap();
    assert!(fw.check_port_mappings(&o1, &a1, &m1, true).is_err());
    fw.check_port_mappings(&o2, &a2, &m2, false).unwrap();
    assert_eq!(fw.list_owners().unwrap(), vec![o2.clone()]);
    fw.remove_port_mappings(&o1).unwrap();
    fw.remove_port_mappings(&o2).unwrap();
    assert!(fw.list_owners().unwrap().is_empty());
    let listing = ns.nft(0, &["list", "table", "inet", "cnm"]);
    assert!(!listing.contains("pnet,"), "{listing}");
}

#[test]
fn port_conflict_is_atomic() {
    cnm_test_support::require_root!("cnm-nft netns_nft::port_conflict_is_atomic");
    let ns = ns();
    let fw = ns.fw_exec(0);
    let (o1, o2) = (owner("c1"), owner("c2"));
    let a1 = addrs(&["10.60.0.2/24"]);
    let a2 = addrs(&["10.60.0.3/24"]);
    fw.add_port_mappings(&o1, &a1, &[pm(8080, 80, Protocol::Tcp, None)], true)
        .unwrap();
    let m2 = [
        pm(9000, 90, Protocol::Tcp, None),
        pm(8080, 81, Protocol::Tcp, None),
    ];
    let err = fw.add_port_mappings(&o2, &a2, &m2, true).unwrap_err();
    match &err {
        NftError::PortConflict {
            host_port, owner, ..
        } => {
            assert_eq!(*host_port, 8080);
            assert_eq!(owner, "pnet,c1,eth0");
        }
        other => panic!("expected a conflict, got {other}"),
    }
    // Nothing of o2 was installed, not even the free port 9000 or its SNAT elements.
    assert_eq!(fw.list_owners().unwrap(), vec![o1.clone()]);
    assert!(!ns
        .nft(0, &["list", "table", "inet", "cnm"])
        .contains("9000"));
    // Same port on another protocol is not a conflict.
    fw.add_port_mappings(&o2, &a2, &[pm(8080, 80, Protocol::Udp, None)], false)
        .unwrap();
    // An invalid mapping fails before anything is sent.
    let bad = [
        pm(7000, 70, Protocol::Tcp, None),
        pm(0, 1, Protocol::Tcp, None),
    ];
    assert!(matches!(
        fw.add_port_mappings(&owner("c3"), &a2, &bad, true),
        Err(NftError::InvalidMapping { .. })
    ));
    assert!(!ns
        .nft(0, &["list", "table", "inet", "cnm"])
        .contains("7000"));
    fw.check_port_mappings(&o1, &a1, &[pm(8080, 80, Protocol::Tcp, None)], true)
        .unwrap();
}

#[test]
fn masquerade_and_portmap_coexist() {
    cnm_test_support::require_root!("cnm-nft netns_nft::masquerade_and_portmap_coexist");
    let ns = ns();
    let fw = ns.fw_exec(0);
    let n = net("pnet", "cnm1", &["10.70.0.0/24"]);
    let a = addrs(&["10.70.0.2/24"]);
    let m = [pm(8080, 80, Protocol::Tcp, None)];
    fw.ensure_masquerade(&n).unwrap();
    fw.add_port_mappings(&owner("c1"), &a, &m, true).unwrap();
    fw.ensure_masquerade(&n).unwrap();
    fw.check_masquerade(&n).unwrap();
    fw.check_port_mappings(&owner("c1"), &a, &m, true).unwrap();
    fw.remove_masquerade("pnet").unwrap();
    fw.check_port_mappings(&owner("c1"), &a, &m, true).unwrap();
}

#[test]
fn missing_binary_is_reported() {
    let fw = Firewall::with_program("/nonexistent/nft", Vec::new()).with_state_dir(None);
    let err = fw.available().unwrap_err();
    assert!(err.to_string().contains("/nonexistent/nft"), "{err}");
}
