//! Root tests of `Firewall::restore` (issue 21): after `nft flush ruleset`, `nft delete table`
//! or `nft flush table`, every recorded masquerade, port mapping and MAC spoof check comes back
//! exactly as the ADD made it (CHECK passes, DEL keeps its no-listing fast path), a second
//! restore writes nothing, other tables are untouched, and nothing comes back for attachments
//! deleted while the rules were gone, for links that vanished, or for owners the liveness
//! oracle knows are gone. Also: the change monitor sees a flush as structural and our own DEL
//! as no reason to restore. Everything runs inside throwaway namespaces (`common::Fixture`).

mod common;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use cnm_nft::{
    Alive, Firewall, Kind, Liveness, MasqNet, Mode, Monitor, Outcome, Owner, PortMapping, Protocol,
    Received, RestoreReport, Suspect, TableState, Tracker, Trigger, TrustRecords,
};
use common::Fixture;
use ipnet::IpNet;

const MAC1: [u8; 6] = [0x02, 0x42, 0x0a, 0x3d, 0x00, 0x02];
const MAC2: [u8; 6] = [0x02, 0x42, 0x0a, 0x3d, 0x00, 0x03];

fn net<'a>(name: &'a str, bridge: &'a str, subnets: &[&str]) -> MasqNet<'a> {
    MasqNet {
        network: name,
        bridge,
        subnets: subnets.iter().map(|s| s.parse().unwrap()).collect(),
    }
}

fn owner(network: &str, cid: &str) -> Owner {
    Owner {
        network: network.into(),
        container_id: cid.into(),
        ifname: "eth0".into(),
    }
}

fn pm(h: u16, c: u16, protocol: Protocol) -> PortMapping {
    PortMapping {
        host_port: h,
        container_port: c,
        protocol,
        host_ip: None,
    }
}

fn addrs(a: &[&str]) -> Vec<IpNet> {
    a.iter().map(|s| s.parse().unwrap()).collect()
}

/// A table without kernel handles: chains with their rules (text, comment), sets with their
/// elements, for comparing before and after.
type Shape = (
    BTreeMap<String, Vec<(String, Option<String>)>>,
    BTreeMap<String, Vec<(String, Option<String>, Option<String>)>>,
);

fn shape(t: Option<TableState>) -> Shape {
    let t = t.unwrap_or_default();
    let chains = t
        .chains
        .into_iter()
        .map(|(n, c)| {
            (
                n,
                c.rules.into_iter().map(|r| (r.text, r.comment)).collect(),
            )
        })
        .collect();
    let sets = t
        .sets
        .into_iter()
        .map(|(n, es)| {
            let mut v: Vec<_> = es
                .into_iter()
                .map(|e| (e.key, e.value, e.comment))
                .collect();
            v.sort();
            (n, v)
        })
        .collect();
    (chains, sets)
}

fn shapes(fx: &Fixture) -> (Shape, Shape) {
    fx.in_ns(0, || {
        let fw = fx.fw_plain();
        (
            shape(fw.read_state().unwrap()),
            shape(fw.read_bridge_state().unwrap()),
        )
    })
}

/// The links the records are checked against, made inside namespace 0.
fn links(fx: &Fixture) {
    fx.ip(0, &["link", "add", "cnmrbr0", "type", "bridge"]);
    for (h, c) in [("cnmrvh1", "cnmrvc1"), ("cnmrvh2", "cnmrvc2")] {
        fx.ip(0, &["link", "add", h, "type", "veth", "peer", "name", c]);
    }
}

/// Network n1 with masquerade, two attachments publishing ports with spoof checks.
fn populate(fx: &Fixture) {
    fx.in_ns(0, || {
        let fw = fx.fw();
        fw.ensure_masquerade(&net("n1", "cnmrbr0", &["10.61.0.0/24", "fd61::/64"]))
            .unwrap();
        let both = [pm(8080, 80, Protocol::Tcp), pm(5353, 53, Protocol::Udp)];
        fw.add_port_mappings(
            &owner("n1", "c1"),
            &addrs(&["10.61.0.2/24", "fd61::2/64"]),
            &both,
            true,
        )
        .unwrap();
        fw.add_port_mappings(
            &owner("n1", "c2"),
            &addrs(&["10.61.0.3/24"]),
            &[pm(9090, 90, Protocol::Tcp)],
            true,
        )
        .unwrap();
        fw.ensure_mac_spoof_check("cnmrvh1", &MAC1).unwrap();
        fw.ensure_mac_spoof_check("cnmrvh2", &MAC2).unwrap();
    });
}

fn restore(fx: &Fixture, live: &(dyn Liveness + Sync)) -> RestoreReport {
    fx.in_ns(0, || fx.fw().restore(live, Mode::Apply)).unwrap()
}

fn outcome(r: &RestoreReport, kind: Kind, subject_start: &str) -> Outcome {
    r.items
        .iter()
        .find(|i| i.kind == kind && i.subject.starts_with(subject_start))
        .unwrap_or_else(|| panic!("no {kind} {subject_start} in {:#?}", r.items))
        .outcome
        .clone()
}

/// Every check an ADD's CHECK runs passes.
fn all_checks_pass(fx: &Fixture) {
    fx.in_ns(0, || {
        let fw = fx.fw_plain();
        fw.check_masquerade(&net("n1", "cnmrbr0", &["10.61.0.0/24", "fd61::/64"]))
            .unwrap();
        let both = [pm(8080, 80, Protocol::Tcp), pm(5353, 53, Protocol::Udp)];
        fw.check_port_mappings(
            &owner("n1", "c1"),
            &addrs(&["10.61.0.2/24", "fd61::2/64"]),
            &both,
            true,
        )
        .unwrap();
        fw.check_port_mappings(
            &owner("n1", "c2"),
            &addrs(&["10.61.0.3/24"]),
            &[pm(9090, 90, Protocol::Tcp)],
            true,
        )
        .unwrap();
        fw.check_mac_spoof_check("cnmrvh1", &MAC1).unwrap();
        fw.check_mac_spoof_check("cnmrvh2", &MAC2).unwrap();
    });
}

const OTHER: &str = "table inet others {
  chain c { type filter hook input priority 0; policy accept; tcp dport 22 counter accept comment \"theirs\"; }
  set s { type ipv4_addr; elements = { 192.0.2.1 } }
}
";

#[test]
fn every_kind_of_flush_is_restored_exactly_and_once() {
    cnm_test_support::require_root!(
        "cnm-nft netns_restore::every_kind_of_flush_is_restored_exactly_and_once"
    );
    let fx = Fixture::new("cnmrst", 1);
    links(&fx);
    populate(&fx);
    let before = shapes(&fx);
    all_checks_pass(&fx);

    // Nothing missing: nothing written.
    let r = restore(&fx, &TrustRecords);
    assert_eq!((r.batches, r.restored(), r.failed()), (0, 0, 0), "{r:#?}");

    for (what, destroy) in [
        ("flush ruleset", vec![vec!["flush", "ruleset"]]),
        (
            "delete tables",
            vec![
                vec!["delete", "table", "inet", "cnm"],
                vec!["delete", "table", "bridge", "cnm"],
            ],
        ),
        (
            "flush tables",
            vec![
                vec!["flush", "table", "inet", "cnm"],
                vec!["flush", "table", "bridge", "cnm"],
            ],
        ),
    ] {
        fx.nft_script(0, OTHER);
        let others = fx.nft(0, &["list", "table", "inet", "others"]);
        for args in &destroy {
            fx.nft(0, args);
        }
        let others_after_flush = fx.nft_ok(0, &["list", "table", "inet", "others"]);
        assert!(
            fx.in_ns(0, || fx.fw_plain().check_mac_spoof_check("cnmrvh1", &MAC1))
                .is_err(),
            "{what}: the check is gone before the restore"
        );
        let dry = fx
            .in_ns(0, || fx.fw().restore(&TrustRecords, Mode::DryRun))
            .unwrap();
        assert!(dry.missing() >= 4 && dry.batches == 0, "{what}: {dry:#?}");
        let r = restore(&fx, &TrustRecords);
        assert_eq!(r.failed(), 0, "{what}: {r:#?}");
        for (kind, subject) in [
            (Kind::Masquerade, "n1"),
            (Kind::PortMappings, "n1,c1,eth0"),
            (Kind::PortMappings, "n1,c2,eth0"),
            (Kind::SpoofCheck, "cnmrvh1"),
            (Kind::SpoofCheck, "cnmrvh2"),
        ] {
            // `flush table` keeps the set elements: port mappings are then present, and
            // only the table's own rules come back.
            let o = outcome(&r, kind, subject);
            let ok = o == Outcome::Restored
                || (what == "flush tables" && kind == Kind::PortMappings && o == Outcome::Present);
            assert!(ok, "{what}: {kind} {subject}: {o:?}");
        }
        assert!(r.batches <= 2, "{what}: one batch per table: {r:#?}");
        assert_eq!(shapes(&fx), before, "{what}: restored exactly");
        all_checks_pass(&fx);
        // Others' table: exactly as it was, or (flushed with the ruleset) still gone.
        match others_after_flush {
            true => assert_eq!(fx.nft(0, &["list", "table", "inet", "others"]), others),
            false => assert!(
                !fx.nft_ok(0, &["list", "table", "inet", "others"]),
                "{what}"
            ),
        }
        let again = restore(&fx, &TrustRecords);
        assert_eq!(
            (again.batches, again.restored()),
            (0, 0),
            "{what}: {again:#?}"
        );
        if others_after_flush {
            fx.nft(0, &["delete", "table", "inet", "others"]);
        }
    }
    // DEL after a restore still runs no nft (the records carry the new table's handle).
    let execs = fx.execs().len();
    fx.in_ns(0, || fx.fw().remove_port_mappings(&owner("n1", "c2")))
        .unwrap();
    assert_eq!(
        fx.execs().len(),
        execs,
        "no nft: {:?}",
        &fx.execs()[execs..]
    );
    assert!(!fx
        .nft(0, &["list", "table", "inet", "cnm"])
        .contains("n1,c2"));
}

#[test]
fn attachments_deleted_while_the_rules_were_gone_stay_deleted() {
    cnm_test_support::require_root!(
        "cnm-nft netns_restore::attachments_deleted_while_the_rules_were_gone_stay_deleted"
    );
    let fx = Fixture::new("cnmrdl", 1);
    links(&fx);
    populate(&fx);
    fx.nft(0, &["flush", "ruleset"]);
    // c2's DEL while the tables are gone: both calls succeed and forget c2.
    fx.in_ns(0, || {
        let fw = fx.fw();
        fw.remove_port_mappings(&owner("n1", "c2")).unwrap();
        fw.remove_mac_spoof_check_if_present("cnmrvh2").unwrap();
    });
    let r = restore(&fx, &TrustRecords);
    assert_eq!(r.failed(), 0, "{r:#?}");
    assert!(
        !r.items
            .iter()
            .any(|i| i.subject.contains("c2") || i.subject == "cnmrvh2"),
        "{r:#?}"
    );
    let inet = fx.nft(0, &["list", "table", "inet", "cnm"]);
    assert!(
        inet.contains("n1,c1,eth0") && !inet.contains("n1,c2") && !inet.contains("9090"),
        "{inet}"
    );
    let bridge = fx.nft(0, &["list", "table", "bridge", "cnm"]);
    assert!(
        bridge.contains("cnmrvh1") && !bridge.contains("cnmrvh2"),
        "{bridge}"
    );
}

/// An oracle that knows one owner is gone.
struct Gone(&'static str);

impl Liveness for Gone {
    fn port_owner(&self, owner: &Owner, addrs: &[IpAddr]) -> Alive {
        assert!(!addrs.is_empty(), "the oracle gets the container addresses");
        match owner.container_id == self.0 {
            true => Alive::No(format!("{} released its address", self.0)),
            false => Alive::Yes,
        }
    }
}

#[test]
fn vanished_links_and_gone_owners_are_not_restored() {
    cnm_test_support::require_root!(
        "cnm-nft netns_restore::vanished_links_and_gone_owners_are_not_restored"
    );
    let fx = Fixture::new("cnmrgn", 1);
    links(&fx);
    populate(&fx);
    fx.nft(0, &["delete", "table", "inet", "cnm"]);
    fx.nft(0, &["delete", "table", "bridge", "cnm"]);
    // The bridge and one veth vanish; the other veth is replaced by another link of its name.
    fx.ip(0, &["link", "del", "cnmrbr0"]);
    fx.ip(0, &["link", "del", "cnmrvh1"]);
    fx.ip(0, &["link", "del", "cnmrvh2"]);
    fx.ip(
        0,
        &[
            "link", "add", "cnmrvh2", "type", "veth", "peer", "name", "cnmrvx2",
        ],
    );
    let dir = fx.ns_dir(0);
    let r = restore(&fx, &Gone("c2"));
    assert_eq!(r.failed(), 0, "{r:#?}");
    for (kind, subject, why) in [
        (Kind::Masquerade, "n1", "bridge cnmrbr0 does not exist"),
        (Kind::SpoofCheck, "cnmrvh1", "does not exist"),
        (Kind::SpoofCheck, "cnmrvh2", "another interface"),
        (Kind::PortMappings, "n1,c2,eth0", "c2 released its address"),
    ] {
        match outcome(&r, kind, subject) {
            Outcome::Skipped(w) => assert!(w.contains(why), "{kind} {subject}: {w}"),
            o => panic!("{kind} {subject}: {o:?}"),
        }
    }
    assert_eq!(
        outcome(&r, Kind::PortMappings, "n1,c1,eth0"),
        Outcome::Restored
    );
    let inet = fx.nft(0, &["list", "table", "inet", "cnm"]);
    assert!(
        inet.contains("n1,c1,eth0") && !inet.contains("n1,c2") && !inet.contains("masq-"),
        "{inet}"
    );
    assert!(
        !fx.nft_ok(0, &["list", "table", "bridge", "cnm"]),
        "no spoof check to restore"
    );
    // Spoof records of vanished veths are dropped; the network's and owners' records stay.
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!names.iter().any(|n| n.starts_with("spoof-")), "{names:?}");
    assert!(names.iter().any(|n| n.starts_with("masq-")), "{names:?}");
}

#[test]
fn records_of_older_versions_are_reported_not_guessed() {
    cnm_test_support::require_root!(
        "cnm-nft netns_restore::records_of_older_versions_are_reported_not_guessed"
    );
    let fx = Fixture::new("cnmrold", 1);
    links(&fx);
    populate(&fx);
    let dir = fx.ns_dir(0);
    let chain = cnm_nft::masq_chain("n1");
    // What an older version wrote: subnets only.
    std::fs::write(dir.join(&chain), "10.61.0.0/24\nfd61::/64\n").unwrap();
    fx.nft(0, &["flush", "ruleset"]);
    let r = restore(&fx, &TrustRecords);
    assert!(
        matches!(outcome(&r, Kind::Masquerade, &chain), Outcome::Skipped(_)),
        "{r:#?}"
    );
    // The network's next ADD rewrites the record (the fast path does not trust it), and the
    // next restore has what it needs.
    fx.in_ns(0, || {
        fx.fw()
            .ensure_masquerade(&net("n1", "cnmrbr0", &["10.61.0.0/24"]))
            .unwrap()
    });
    let text = std::fs::read_to_string(dir.join(&chain)).unwrap();
    assert!(text.starts_with("network n1\nbridge cnmrbr0\n"), "{text}");
    fx.nft(0, &["flush", "ruleset"]);
    let r = restore(&fx, &TrustRecords);
    assert_eq!(outcome(&r, Kind::Masquerade, "n1"), Outcome::Restored);
}

#[test]
fn restores_racing_dels_never_bring_a_deleted_attachment_back() {
    cnm_test_support::require_root!(
        "cnm-nft netns_restore::restores_racing_dels_never_bring_a_deleted_attachment_back"
    );
    let fx = Fixture::new("cnmrrc", 1);
    links(&fx);
    for round in 0..8u16 {
        let o = owner("n1", &format!("r{round}"));
        fx.in_ns(0, || {
            fx.fw_plain()
                .add_port_mappings(
                    &o,
                    &addrs(&["10.61.0.9/24"]),
                    &[pm(7000 + round, 80, Protocol::Tcp)],
                    true,
                )
                .unwrap()
        });
        fx.nft(0, &["flush", "ruleset"]);
        std::thread::scope(|s| {
            s.spawn(|| {
                fx.in_ns(0, || fx.fw_plain().remove_port_mappings(&o))
                    .unwrap()
            });
            s.spawn(|| restore(&fx, &TrustRecords));
        });
        let listed = if fx.nft_ok(0, &["list", "table", "inet", "cnm"]) {
            fx.nft(0, &["list", "table", "inet", "cnm"])
        } else {
            String::new()
        };
        assert!(
            !listed.contains(&o.tag().unwrap()),
            "round {round}: {listed}"
        );
    }
}

/// Read notifications until `want` says done or `limit` passed; returns every suspect seen.
fn suspects_until(
    m: &Monitor,
    t: &mut Tracker,
    limit: Duration,
    want: impl Fn(&[Suspect]) -> bool,
) -> Vec<Suspect> {
    let deadline = Instant::now() + limit;
    let mut seen = Vec::new();
    while Instant::now() < deadline && !want(&seen) {
        match m.recv(Some(Duration::from_millis(200))).unwrap() {
            Received::Datagram(d) => seen.extend(t.feed(&d).unwrap()),
            Received::Overrun => seen.push(Suspect::Structural("overrun".into())),
            Received::Timeout => seen.extend(t.finish()),
        }
    }
    seen
}

/// How long a test waits for notifications that must come, and listens for ones that must not.
const WAIT: Duration = Duration::from_secs(5);
const QUIET: Duration = Duration::from_millis(800);

#[test]
fn the_monitor_tells_a_flush_from_our_own_changes() {
    cnm_test_support::require_root!(
        "cnm-nft netns_restore::the_monitor_tells_a_flush_from_our_own_changes"
    );
    let fx = Fixture::new("cnmrmon", 1);
    links(&fx);
    let m = fx.in_ns(0, Monitor::subscribe).unwrap();
    let mut t = Tracker::new();
    // Our ADDs (skeleton rebuilt, elements created): no loss at all.
    populate(&fx);
    let seen = suspects_until(&m, &mut t, QUIET, |_| false);
    assert_eq!(seen, [], "ADDs are no loss");
    // Our DEL: element deletions naming the owner's record, which the DEL removed first, so
    // the restore it would trigger does nothing.
    fx.in_ns(0, || fx.fw().remove_port_mappings(&owner("n1", "c2")))
        .unwrap();
    let seen = suspects_until(&m, &mut t, WAIT, |s| !s.is_empty());
    assert!(
        !seen.is_empty()
            && seen
                .iter()
                .all(|s| matches!(s, Suspect::Record(n) if n.starts_with("pm-"))),
        "{seen:?}"
    );
    let names: Vec<String> = seen
        .iter()
        .filter_map(|s| match s {
            Suspect::Record(n) => Some(n.clone()),
            Suspect::Structural(_) => None,
        })
        .collect();
    let r = fx
        .in_ns(0, || {
            fx.fw()
                .restore_when(&TrustRecords, Mode::Apply, Trigger::IfRecorded(&names))
        })
        .unwrap();
    assert_eq!(r, None, "the record is gone: no restore");
    // Someone deletes one of c1's elements: its record still exists, so a restore runs.
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
    let seen = suspects_until(&m, &mut t, WAIT, |s| !s.is_empty());
    let names: Vec<String> = seen
        .iter()
        .filter_map(|s| match s {
            Suspect::Record(n) => Some(n.clone()),
            Suspect::Structural(_) => None,
        })
        .collect();
    let r = fx
        .in_ns(0, || {
            fx.fw()
                .restore_when(&TrustRecords, Mode::Apply, Trigger::IfRecorded(&names))
        })
        .unwrap()
        .expect("c1's record exists");
    assert_eq!(
        outcome(&r, Kind::PortMappings, "n1,c1,eth0"),
        Outcome::Restored
    );
    // The restore's own batch is no loss; a flush of the ruleset is structural.
    let seen = suspects_until(&m, &mut t, QUIET, |_| false);
    assert_eq!(seen, [], "the restore's batch is no loss");
    fx.nft(0, &["flush", "ruleset"]);
    let seen = suspects_until(&m, &mut t, WAIT, |s| {
        s.iter().any(|x| matches!(x, Suspect::Structural(_)))
    });
    assert!(
        seen.contains(&Suspect::Structural("table inet cnm deleted".into()))
            && seen.contains(&Suspect::Structural("table bridge cnm deleted".into())),
        "{seen:?}"
    );
}

#[test]
fn without_state_there_is_nothing_to_restore_from() {
    cnm_test_support::require_root!(
        "cnm-nft netns_restore::without_state_there_is_nothing_to_restore_from"
    );
    let fx = Fixture::new("cnmrns", 1);
    let e = fx
        .in_ns(0, || {
            Firewall::new()
                .with_state_dir(None)
                .restore(&TrustRecords, Mode::Apply)
        })
        .unwrap_err();
    assert!(e.to_string().contains("nothing to restore"), "{e}");
    // A namespace that never had anything: an empty report, and no table is created.
    let r = restore(&fx, &TrustRecords);
    assert_eq!(r, RestoreReport::default());
    assert!(!fx.nft_ok(0, &["list", "table", "inet", "cnm"]));
}

#[test]
fn the_keepalive_table_outlives_a_flush_and_goes_with_its_holder() {
    cnm_test_support::require_root!(
        "cnm-nft netns_restore::the_keepalive_table_outlives_a_flush_and_goes_with_its_holder"
    );
    let fx = Fixture::new("cnmrka", 1);
    let keep = fx.in_ns(0, cnm_nft::NatKeepalive::hold).unwrap();
    let tables = fx.nft(0, &["list", "tables"]);
    assert!(tables.contains("table inet cnm-keep"), "{tables}");
    let listed = fx.nft(0, &["list", "table", "inet", "cnm-keep"]);
    assert!(
        listed.contains("flags owner") && listed.contains("type nat hook prerouting"),
        "{listed}"
    );
    // An operator's flush and delete leave it alone.
    fx.nft(0, &["flush", "ruleset"]);
    assert!(fx
        .nft(0, &["list", "tables"])
        .contains("table inet cnm-keep"));
    assert!(!fx.nft_ok(0, &["delete", "table", "inet", "cnm-keep"]));
    // A second holder is refused while the first lives.
    assert!(fx.in_ns(0, cnm_nft::NatKeepalive::hold).is_err());
    drop(keep);
    // Gone with its socket (released asynchronously: bounded wait).
    let deadline = Instant::now() + Duration::from_secs(5);
    while fx.nft(0, &["list", "tables"]).contains("cnm-keep") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!fx.nft(0, &["list", "tables"]).contains("cnm-keep"));
    // And can be held again.
    let again = fx.in_ns(0, cnm_nft::NatKeepalive::hold).unwrap();
    drop(again);
}
