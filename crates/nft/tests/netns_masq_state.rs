//! Root tests of the masquerade state (per netns and network) and its no-exec fast path. Each
//! test thread enters a throwaway namespace with setns(2), so nft, the netlink probe and
//! `/proc/thread-self/ns/net` all see that namespace; nft is wrapped by a shell script that logs
//! every run, which is how the tests count execs. The root namespace is never touched.

mod common;

use std::path::PathBuf;

use cnm_nft::{masq_chain, Applied, Firewall, MasqNet};
use common::Fixture;

/// The state file of `network` for the namespace the calling thread is in.
fn state_file(fx: &Fixture, network: &str) -> PathBuf {
    let dir = fx.fw().netns_state_dir().expect("namespace cookie");
    assert!(dir.starts_with(fx.state_base()), "{dir:?}");
    dir.join(masq_chain(network))
}

fn net<'a>(name: &'a str, subnets: &[&str]) -> MasqNet<'a> {
    MasqNet {
        network: name,
        bridge: "cnmbr0",
        subnets: subnets.iter().map(|s| s.parse().unwrap()).collect(),
    }
}

fn chain_rules(fw: &Firewall, network: &str) -> Vec<String> {
    let t = fw.read_state().unwrap().unwrap();
    t.chains[&masq_chain(network)]
        .rules
        .iter()
        .map(|r| r.text.clone())
        .collect()
}

#[test]
fn subnets_accumulate_and_check_is_inclusive() {
    cnm_test_support::require_root!(
        "cnm-nft netns_masq_state::subnets_accumulate_and_check_is_inclusive"
    );
    let fx = Fixture::new("cnmms", 1);
    fx.in_ns(0, || {
        let fw = fx.fw();
        let (a, b) = (
            net("multi", &["10.91.0.0/24"]),
            net("multi", &["10.91.1.0/24"]),
        );
        assert_eq!(fw.ensure_masquerade(&a).unwrap(), Applied::Written);
        assert_eq!(fw.ensure_masquerade(&b).unwrap(), Applied::Written);
        let rules = chain_rules(&fw, "multi");
        assert!(
            rules.contains(&"ip daddr 10.91.0.0/24 return".to_string()),
            "{rules:?}"
        );
        assert!(
            rules.contains(&"ip daddr 10.91.1.0/24 return".to_string()),
            "{rules:?}"
        );
        // CHECK of the earlier container still passes after B was ensured.
        fw.check_masquerade(&a).unwrap();
        fw.check_masquerade(&b).unwrap();
        assert!(fw
            .check_masquerade(&net("multi", &["10.91.2.0/24"]))
            .is_err());
        let state = std::fs::read_to_string(state_file(&fx, "multi")).unwrap();
        assert_eq!(
            state,
            "network multi\nbridge cnmbr0\n10.91.0.0/24\n10.91.1.0/24\n"
        );
        // Ensuring A again changes nothing: the chain keeps covering B.
        assert_eq!(fw.ensure_masquerade(&a).unwrap(), Applied::Unchanged);
        fw.check_masquerade(&b).unwrap();
    });
}

#[test]
fn fast_path_runs_no_nft() {
    cnm_test_support::require_root!("cnm-nft netns_masq_state::fast_path_runs_no_nft");
    let fx = Fixture::new("cnmms", 1);
    fx.in_ns(0, || {
        let fw = fx.fw();
        let a = net("fast", &["10.92.0.0/24", "fd92::/64"]);
        assert_eq!(fw.ensure_masquerade(&a).unwrap(), Applied::Written);
        assert_eq!(fx.execs().len(), 1, "the first ensure is one batch");
        assert_eq!(fw.ensure_masquerade(&a).unwrap(), Applied::Unchanged);
        let sub = net("fast", &["10.92.0.0/24"]);
        assert_eq!(fw.ensure_masquerade(&sub).unwrap(), Applied::Unchanged);
        assert_eq!(
            fx.execs().len(),
            1,
            "an ensure already in place must not exec nft"
        );
        fw.check_masquerade(&a).unwrap();
    });
}

#[test]
fn flush_ruleset_is_repaired() {
    cnm_test_support::require_root!("cnm-nft netns_masq_state::flush_ruleset_is_repaired");
    let fx = Fixture::new("cnmms", 1);
    let a = net("flushed", &["10.93.0.0/24"]);
    fx.in_ns(0, || {
        let fw = fx.fw();
        assert_eq!(fw.ensure_masquerade(&a).unwrap(), Applied::Written);
        assert_eq!(fw.ensure_masquerade(&a).unwrap(), Applied::Unchanged);
    });
    // What Debian's nftables.service does on restart.
    fx.nft(0, &["flush", "ruleset"]);
    fx.in_ns(0, || {
        let fw = fx.fw();
        assert!(fw.check_masquerade(&a).is_err());
        assert_eq!(fw.ensure_masquerade(&a).unwrap(), Applied::Written);
        fw.check_masquerade(&a).unwrap();
        assert_eq!(fw.ensure_masquerade(&a).unwrap(), Applied::Unchanged);
    });
}

#[test]
fn namespaces_are_keyed_separately() {
    cnm_test_support::require_root!("cnm-nft netns_masq_state::namespaces_are_keyed_separately");
    let fx = Fixture::new("cnmms", 2);
    let a = net("shared", &["10.94.0.0/24"]);
    let files: Vec<PathBuf> = (0..2)
        .map(|i| {
            fx.in_ns(i, || {
                let fw = fx.fw();
                assert_eq!(
                    fw.ensure_masquerade(&a).unwrap(),
                    Applied::Written,
                    "namespace {i} must get its own rule"
                );
                fw.check_masquerade(&a).unwrap();
                assert_eq!(fw.ensure_masquerade(&a).unwrap(), Applied::Unchanged);
                state_file(&fx, "shared")
            })
        })
        .collect();
    assert_ne!(files[0], files[1]);
    assert!(files.iter().all(|f| f.is_file()), "{files:?}");
    assert!(fx.nft(1, &["list", "ruleset"]).contains("cnm:shared"));
}

#[test]
fn remove_forgets_the_subnets() {
    cnm_test_support::require_root!("cnm-nft netns_masq_state::remove_forgets_the_subnets");
    let fx = Fixture::new("cnmms", 1);
    fx.in_ns(0, || {
        let fw = fx.fw();
        let (a, b) = (
            net("gone", &["10.95.0.0/24"]),
            net("gone", &["10.95.1.0/24"]),
        );
        fw.ensure_masquerade(&a).unwrap();
        fw.ensure_masquerade(&b).unwrap();
        fw.remove_masquerade("gone").unwrap();
        assert!(!state_file(&fx, "gone").exists());
        assert!(fw.check_masquerade(&a).is_err());
        fw.remove_masquerade("gone").unwrap();
        assert_eq!(fw.ensure_masquerade(&a).unwrap(), Applied::Written);
        let rules = chain_rules(&fw, "gone");
        assert!(
            !rules.iter().any(|r| r.contains("10.95.1.0")),
            "B was forgotten: {rules:?}"
        );
        fw.check_masquerade(&a).unwrap();
    });
}

#[test]
fn parallel_ensures_lose_no_subnet() {
    cnm_test_support::require_root!("cnm-nft netns_masq_state::parallel_ensures_lose_no_subnet");
    let fx = Fixture::new("cnmms", 1);
    let subnets: Vec<String> = (0..6).map(|i| format!("10.96.{i}.0/24")).collect();
    std::thread::scope(|s| {
        for sn in &subnets {
            let fx = &fx;
            s.spawn(move || {
                fx.in_ns(0, || {
                    fx.fw().ensure_masquerade(&net("par", &[sn])).unwrap();
                })
            });
        }
    });
    fx.in_ns(0, || {
        let fw = fx.fw();
        let all: Vec<&str> = subnets.iter().map(String::as_str).collect();
        fw.check_masquerade(&net("par", &all)).unwrap();
        let state = std::fs::read_to_string(state_file(&fx, "par")).unwrap();
        // The network, its bridge and the six subnets.
        assert_eq!(state.lines().count(), 8, "{state}");
        assert_eq!(
            fw.ensure_masquerade(&net("par", &all)).unwrap(),
            Applied::Unchanged
        );
    });
}
