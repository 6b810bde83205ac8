//! Block claims, releases, GC and local allocation against the in-memory
//! store (no etcd, no root).

use std::collections::HashSet;
use std::time::Duration;

use cnm_cluster_ipam::claim::{define_network, gc_blocks, list_blocks};
use cnm_cluster_ipam::fake::FakeKv;
use cnm_cluster_ipam::{keys, local, Claimer, ClusterIpamError, HostState, Kv, NetworkSpec};
use ipnet::IpNet;

/// The boot the allocations are stamped with.
fn boot() -> cnm_ipam::FixedBoot {
    cnm_ipam::FixedBoot::new("boot-a", std::time::SystemTime::UNIX_EPOCH)
}

const ROOT: &str = keys::DEFAULT_ROOT;

fn spec(subnet: &str, block: u8) -> NetworkSpec {
    NetworkSpec {
        name: "ov1".into(),
        subnet: subnet.parse().unwrap(),
        vni: 4242,
        block_prefix: block,
        subnet6: None,
        block_prefix6: None,
    }
}

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

#[test]
fn hosts_get_distinct_blocks_and_keep_them_across_restarts() {
    let kv = FakeKv::new();
    let mut a = Claimer::new(kv.clone(), ROOT, spec("10.214.0.0/24", 26), "a").unwrap();
    let mut b = Claimer::new(kv.clone(), ROOT, spec("10.214.0.0/24", 26), "b").unwrap();
    assert_eq!(a.claim().unwrap(), net("10.214.0.0/26"));
    assert_eq!(b.claim().unwrap(), net("10.214.0.64/26"));
    assert_eq!(a.claim().unwrap(), net("10.214.0.128/26"));
    // A restarted agent finds its blocks again.
    let mut a2 = Claimer::new(kv.clone(), ROOT, spec("10.214.0.0/24", 26), "a").unwrap();
    let held: Vec<IpNet> = a2.held().unwrap().into_iter().map(|c| c.block).collect();
    assert_eq!(held, vec![net("10.214.0.0/26"), net("10.214.0.128/26")]);
    assert_eq!(b.claim().unwrap(), net("10.214.0.192/26"));
    let e = a.claim().unwrap_err();
    assert!(
        matches!(e, ClusterIpamError::Exhausted { blocks: 4, .. }),
        "{e}"
    );
    assert!(
        e.to_string()
            .contains("no free block left in 10.214.0.0/24"),
        "{e}"
    );
}

#[test]
fn a_lost_race_moves_on_to_the_next_block() {
    let kv = FakeKv::new();
    let mut a = Claimer::new(kv.clone(), ROOT, spec("10.214.0.0/24", 26), "a").unwrap();
    let first = keys::block(ROOT, "ov1", &net("10.214.0.0/26"));
    kv.steal_next_create(&first, br#"{"host":"b","used":0,"claimedAt":1}"#);
    assert_eq!(a.claim().unwrap(), net("10.214.0.64/26"));
    let owners: Vec<(IpNet, String)> = list_blocks(&mut kv.clone(), ROOT, "ov1")
        .unwrap()
        .into_iter()
        .map(|c| (c.block, c.record.host))
        .collect();
    assert_eq!(
        owners,
        vec![
            (net("10.214.0.0/26"), "b".to_string()),
            (net("10.214.0.64/26"), "a".to_string())
        ]
    );
}

#[test]
fn concurrent_claimers_never_share_a_block() {
    let kv = FakeKv::new();
    let handles: Vec<_> = (0..6)
        .map(|h| {
            let kv = kv.clone();
            std::thread::spawn(move || {
                let mut c =
                    Claimer::new(kv, ROOT, spec("10.214.0.0/20", 26), &format!("h{h}")).unwrap();
                (0..10).map(|_| c.claim().unwrap()).collect::<Vec<_>>()
            })
        })
        .collect();
    let mut all = HashSet::new();
    for h in handles {
        for b in h.join().unwrap() {
            assert!(all.insert(b), "block {b} claimed twice");
        }
    }
    assert_eq!(all.len(), 60);
}

#[test]
fn concurrent_dual_stack_claimers_never_share_a_block_of_either_family() {
    let kv = FakeKv::new();
    let mut ds = spec("10.214.0.0/20", 26);
    ds.subnet6 = Some(net("fd00:214::/56"));
    ds.block_prefix6 = Some(64);
    let handles: Vec<_> = (0..6)
        .map(|h| {
            let (kv, ds) = (kv.clone(), ds.clone());
            std::thread::spawn(move || {
                let mut c = Claimer::new(kv, ROOT, ds, &format!("h{h}")).unwrap();
                let mut got: Vec<IpNet> = (0..5).map(|_| c.claim_in(1).unwrap()).collect();
                got.push(c.claim_in(0).unwrap());
                let held: Vec<IpNet> = c.held().unwrap().iter().map(|x| x.block).collect();
                (got, held)
            })
        })
        .collect();
    let mut all = HashSet::new();
    for h in handles {
        let (got, held) = h.join().unwrap();
        assert!(held[0].addr().is_ipv4(), "IPv4 first: {held:?}");
        assert_eq!(held.len(), 6);
        for b in got {
            assert!(all.insert(b), "block {b} claimed twice");
        }
    }
    assert_eq!(all.len(), 36);
    assert_eq!(all.iter().filter(|b| b.addr().is_ipv6()).count(), 30);
    let e = Claimer::new(kv, ROOT, ds, "x")
        .unwrap()
        .claim_in(2)
        .unwrap_err();
    assert!(e.to_string().contains("no address family #2"), "{e}");
}

#[test]
fn releases_only_own_empty_blocks() {
    let kv = FakeKv::new();
    let mut a = Claimer::new(kv.clone(), ROOT, spec("10.214.0.0/24", 26), "a").unwrap();
    let mut b = Claimer::new(kv.clone(), ROOT, spec("10.214.0.0/24", 26), "b").unwrap();
    let ba = a.claim().unwrap();
    let e = b.release(&ba, 0).unwrap_err();
    assert!(e.to_string().contains("held by host \"a\""), "{e}");
    let e = a.release(&ba, 3).unwrap_err();
    assert!(
        e.to_string().contains("3 addresses are still in use"),
        "{e}"
    );
    a.release(&ba, 0).unwrap();
    assert!(a.held().unwrap().is_empty());
    assert!(a
        .release(&ba, 0)
        .unwrap_err()
        .to_string()
        .contains("not claimed"));
}

#[test]
fn gc_collects_only_empty_blocks_of_hosts_without_a_lease() {
    let mut kv = FakeKv::new();
    let mut a = Claimer::new(kv.clone(), ROOT, spec("10.214.0.0/24", 26), "a").unwrap();
    let mut b = Claimer::new(kv.clone(), ROOT, spec("10.214.0.0/24", 26), "b").unwrap();
    kv.put(&keys::host(ROOT, "a"), b"{}");
    kv.put(&keys::host(ROOT, "b"), b"{}");
    let a1 = a.claim().unwrap();
    let b1 = b.claim().unwrap();
    let b2 = b.claim().unwrap();
    let held = b.held().unwrap();
    assert!(b.report_usage(&held[0], 2).unwrap());
    // Everybody alive: nothing collected.
    assert!(gc_blocks(&mut kv, ROOT, "ov1").unwrap().is_empty());
    // b's lease expires: its empty block goes, the used one stays; a's stays.
    kv.remove(&keys::host(ROOT, "b"));
    assert_eq!(gc_blocks(&mut kv, ROOT, "ov1").unwrap(), vec![b2]);
    let left: Vec<IpNet> = list_blocks(&mut kv, ROOT, "ov1")
        .unwrap()
        .into_iter()
        .map(|c| c.block)
        .collect();
    assert_eq!(left, vec![a1, b1]);
}

#[test]
fn store_outage_is_reported_as_unavailable() {
    let kv = FakeKv::new();
    let mut a = Claimer::new(kv.clone(), ROOT, spec("10.214.0.0/24", 26), "a").unwrap();
    kv.set_down(true);
    let e = a.claim().unwrap_err();
    assert!(
        matches!(
            e,
            ClusterIpamError::Kv(cnm_cluster_ipam::KvError::Unavailable(_))
        ),
        "{e}"
    );
    kv.set_down(false);
    assert!(a.claim().is_ok());
}

#[test]
fn network_definitions_are_checked_before_anything_is_written() {
    let mut kv = FakeKv::new();
    define_network(&mut kv, ROOT, &spec("10.214.0.0/16", 26)).unwrap();
    // Same definition again: fine.
    define_network(&mut kv, ROOT, &spec("10.214.0.0/16", 26)).unwrap();
    let mut other = spec("10.214.64.0/18", 26);
    other.name = "ov2".into();
    other.vni = 7;
    let e = define_network(&mut kv, ROOT, &other).unwrap_err();
    assert!(e.to_string().contains("overlaps 10.214.0.0/16"), "{e}");
    let mut bad = spec("10.215.0.0/24", 20);
    bad.name = "ov3".into();
    assert!(define_network(&mut kv, ROOT, &bad)
        .unwrap_err()
        .to_string()
        .contains("larger than the subnet"));
    assert_eq!(kv.list(&keys::networks(ROOT)).unwrap().len(), 1);
    assert!(Claimer::new(kv.clone(), ROOT, spec("10.214.0.0/16", 26), "a/b").is_err());
}

fn state(dir: &std::path::Path, blocks: &[&str]) -> HostState {
    HostState {
        version: cnm_cluster_ipam::state::STATE_VERSION,
        network: spec("10.214.0.0/24", 29),
        host: "a".into(),
        blocks: blocks.iter().map(|b| net(b)).collect(),
        mtu: 1450,
        data_dir: dir.join("store"),
        bridge: "cnm-ov1".into(),
        vxlan: "vx-ov1".into(),
    }
}

#[test]
fn local_allocation_fills_held_blocks_then_says_why_it_stops() {
    let dir = tempfile::tempdir().unwrap();
    let t = Duration::from_secs(5);
    let s = state(dir.path(), &["10.214.0.8/29"]);
    let plan = s.network.validate().unwrap();
    let mut got = Vec::new();
    for i in 0..5 {
        let r = local::allocate(&s, "1.1.0", &[], (&format!("c{i}"), "eth0"), t, &boot()).unwrap();
        let ip = &r.addresses[0];
        assert_eq!(ip.gateway.unwrap().to_string(), "10.214.0.9");
        assert_eq!(ip.address.prefix_len(), 29);
        got.push(ip.address.addr());
    }
    let uniq: HashSet<_> = got.iter().collect();
    assert_eq!(uniq.len(), 5);
    let e = local::allocate(&s, "1.1.0", &[], ("c5", "eth0"), t, &boot()).unwrap_err();
    assert!(
        matches!(&e, ClusterIpamError::BlocksFull { blocks: 1, .. }),
        "{e:?}"
    );
    assert!(
        e.to_string().contains("no free address in the 1 block(s)"),
        "{e}"
    );
    // Holding no block yet is the same: try again once the agent claimed one.
    let none = state(dir.path(), &[]);
    let e = local::allocate(&none, "1.1.0", &[], ("c5", "eth0"), t, &boot()).unwrap_err();
    assert!(
        matches!(&e, ClusterIpamError::BlocksFull { blocks: 0, .. }),
        "{e:?}"
    );
    let usage = local::usage(&s.data_dir, "ov1", &plan).unwrap();
    assert_eq!(usage.get(&net("10.214.0.8/29")), Some(&5));
    assert_eq!(local::free_in(&plan, &s.blocks, &usage), 0);
    // The agent claimed another block: the next ADD lands there.
    let s2 = state(dir.path(), &["10.214.0.8/29", "10.214.0.32/29"]);
    let r = local::allocate(&s2, "1.1.0", &[], ("c5", "eth0"), t, &boot()).unwrap();
    assert!(net("10.214.0.32/29").contains(&r.addresses[0].address.addr()));
    // A requested address is honoured when it is in a held block.
    let want: std::net::IpAddr = "10.214.0.35".parse().unwrap();
    let r = local::allocate(&s2, "1.1.0", &[want], ("c6", "eth0"), t, &boot()).unwrap();
    assert_eq!(r.addresses[0].address.addr(), want);
    // DEL needs nothing but the store, and is idempotent.
    local::release(&s.data_dir, "ov1", "c0", "eth0", t).unwrap();
    local::release(&s.data_dir, "ov1", "c0", "eth0", t).unwrap();
    let usage = local::usage(&s.data_dir, "ov1", &plan).unwrap();
    assert_eq!(local::free_in(&plan, &s2.blocks, &usage), 5 + 5 - 6);
}

#[test]
fn state_files_round_trip_and_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let s = state(dir.path(), &["10.214.0.8/29"]);
    s.store(dir.path()).unwrap();
    assert_eq!(HostState::load(dir.path(), "ov1").unwrap(), s);
    let mut bad = s.clone();
    bad.blocks = vec![net("10.214.0.8/28")];
    bad.store(dir.path()).unwrap();
    let e = HostState::load(dir.path(), "ov1").unwrap_err();
    assert!(e.to_string().contains("is not a block of"), "{e}");
    let e = HostState::load(dir.path(), "nope").unwrap_err();
    assert!(e.to_string().contains("reading"), "{e}");
}
