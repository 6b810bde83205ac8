//! Unit tests of the agent's logic on the fake store and fake kernels:
//! claims, registration, reconcile, lease loss, etcd down, a new VTEP MAC,
//! dual stack.

use std::net::IpAddr;

use cnm_cluster_ipam::{keys, Kv};

use super::*;
use crate::config::Config;
use crate::fake::{FakeCluster, FakeDp};

const NET: &str = "name=ov1,subnet=10.214.0.0/16,vni=42,block=26";
const NET_DS: &str =
    "name=ov1,subnet=10.214.0.0/16,vni=42,block=26,subnet6=fd00:214::/48,block6=64";

struct Host {
    agent: Agent<FakeCluster, FakeDp>,
    dp: FakeDp,
    _dir: tempfile::TempDir,
}

fn host(store: &FakeCluster, n: u8, network: &str) -> Host {
    let dir = tempfile::tempdir().unwrap();
    let args: Vec<String> = format!(
        "--host h{n} --underlay-ip 10.213.0.{} --etcd-endpoints http://127.0.0.1:2379 \
         --network {network} --state-dir {} --data-dir {} --min-free 10",
        10 + n,
        dir.path().join("state").display(),
        dir.path().join("store").display()
    )
    .split_whitespace()
    .map(String::from)
    .collect();
    let cfg = Config::parse(&args).unwrap();
    let dp = FakeDp::new(n);
    let agent = Agent::new(cfg, store.clone(), dp.clone(), (2, 1500)).unwrap();
    Host {
        agent,
        dp,
        _dir: dir,
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn record(store: &FakeCluster, n: u8) -> Option<HostRecord> {
    let mut kv = store.kv.clone();
    kv.get(&keys::host(keys::DEFAULT_ROOT, &format!("h{n}")))
        .unwrap()
        .map(|v| serde_json::from_slice(&v).unwrap())
}

/// Every session start and full tick re-reads the records; a watch event
/// is an `Event::Changed` after the view was updated (here: by a full tick).
fn sync(h: &mut Host) {
    h.agent.tick(true).unwrap();
}

#[test]
fn claims_registers_and_routes_the_others() {
    let store = FakeCluster::default();
    let mut h1 = host(&store, 1, NET);
    let mut h2 = host(&store, 2, NET);
    h1.agent.connect().unwrap();
    h2.agent.connect().unwrap();
    assert!(h1.agent.session.is_some() && h2.agent.session.is_some());
    let r1 = record(&store, 1).unwrap();
    let r2 = record(&store, 2).unwrap();
    assert_eq!(
        r1.networks["ov1"].blocks,
        vec!["10.214.0.0/26".parse::<IpNet>().unwrap()]
    );
    assert_eq!(
        r2.networks["ov1"].blocks,
        vec!["10.214.0.64/26".parse::<IpNet>().unwrap()]
    );
    assert_eq!(r2.networks["ov1"].vtep_mac, "02:00:00:00:00:02");
    // h2 saw h1 at its start; h1 learns of h2 at its next read.
    assert_eq!(
        h2.dp.state().programmed.routes[&"10.214.0.0/26".parse().unwrap()],
        ip("10.213.0.11")
    );
    sync(&mut h1);
    let p = h1.dp.state().programmed.clone();
    assert_eq!(
        p.routes[&"10.214.0.64/26".parse().unwrap()],
        ip("10.213.0.12")
    );
    assert_eq!(p.neighs[&ip("10.213.0.12")], [2, 0, 0, 0, 0, 2]);
    assert!(p.fdb.contains(&([2, 0, 0, 0, 0, 2], ip("10.213.0.12"))));
    // Gateways and the state file follow the held blocks.
    assert_eq!(
        h1.dp.state().gateways,
        vec!["10.214.0.0/26".parse::<IpNet>().unwrap()]
    );
    let st = HostState::load(&h1.agent.cfg.state_dir, "ov1").unwrap();
    assert_eq!(st.blocks, vec!["10.214.0.0/26".parse::<IpNet>().unwrap()]);
}

#[test]
fn a_lost_claim_race_takes_the_next_block() {
    let store = FakeCluster::default();
    let taken = serde_json::to_vec(&cnm_cluster_ipam::BlockRecord {
        host: "other".into(),
        used: 0,
        claimed_at: 0,
    })
    .unwrap();
    store
        .kv
        .steal_next_create("/cnm/v1/blocks/ov1/10.214.0.0-26", &taken);
    let mut h1 = host(&store, 1, NET);
    h1.agent.connect().unwrap();
    assert_eq!(
        record(&store, 1).unwrap().networks["ov1"].blocks,
        vec!["10.214.0.64/26".parse::<IpNet>().unwrap()]
    );
}

#[test]
fn lease_loss_keeps_the_kernel_state_and_registers_again() {
    let store = FakeCluster::default();
    let mut h1 = host(&store, 1, NET);
    let mut h2 = host(&store, 2, NET);
    h2.agent.connect().unwrap();
    h1.agent.connect().unwrap();
    let before = h1.dp.state().programmed.clone();
    assert_eq!(before.routes.len(), 1);
    let lease = h1.agent.session.as_ref().unwrap().lease;
    store.expire(lease);
    assert!(record(&store, 1).is_none());
    let mut b = Batch::default();
    b.add(Event::Lost("the lease expired".into()));
    assert!(!h1.agent.handle(b));
    assert!(h1.agent.session.is_none());
    assert_eq!(h1.dp.state().programmed, before, "kernel state kept");
    h1.agent.connect().unwrap();
    let new_lease = h1.agent.session.as_ref().unwrap().lease;
    assert_ne!(new_lease, lease);
    assert_eq!(
        record(&store, 1).unwrap().networks["ov1"].blocks,
        vec!["10.214.0.64/26".parse::<IpNet>().unwrap()],
        "the same block, found by host name"
    );
}

#[test]
fn etcd_down_changes_nothing_and_a_gone_host_leaves_only_after_a_read() {
    let store = FakeCluster::default();
    let mut h1 = host(&store, 1, NET);
    let mut h2 = host(&store, 2, NET);
    h2.agent.connect().unwrap();
    h1.agent.connect().unwrap();
    let before = h1.dp.state().programmed.clone();
    // h2's lease expires while etcd is unreachable for h1.
    let l2 = h2.agent.session.as_ref().unwrap().lease;
    store.expire(l2);
    store.kv.set_down(true);
    assert!(h1.agent.tick(true).is_err(), "the read fails");
    assert_eq!(
        h1.dp.state().programmed,
        before,
        "nothing removed on a failed read"
    );
    // Kernel events are healed from the last view, without etcd.
    h1.dp.state().programmed.routes.clear();
    let mut b = Batch::default();
    b.add(Event::Kernel(Some("ov1".into())));
    h1.agent.handle(b);
    assert_eq!(h1.dp.state().programmed, before, "healed without etcd");
    // A new session cannot start; the agent keeps retrying.
    h1.agent.session = None;
    h1.agent.connect().unwrap();
    assert!(h1.agent.session.is_none());
    store.kv.set_down(false);
    h1.agent.connect().unwrap();
    assert!(h1.agent.session.is_some());
    assert!(
        h1.dp.state().programmed.routes.is_empty(),
        "h2's record is gone: its route goes after a successful read"
    );
}

#[test]
fn a_new_vtep_mac_is_published_and_followed() {
    let store = FakeCluster::default();
    let mut h1 = host(&store, 1, NET);
    let mut h2 = host(&store, 2, NET);
    h1.agent.connect().unwrap();
    h2.agent.connect().unwrap();
    // h1's VXLAN device re-created with another MAC: the kernel monitor
    // tells the agent, which publishes it.
    h1.dp.state().mac = [2, 0, 0, 0, 0, 0x99];
    let mut b = Batch::default();
    b.add(Event::Kernel(None));
    h1.agent.handle(b);
    assert_eq!(
        record(&store, 1).unwrap().networks["ov1"].vtep_mac,
        "02:00:00:00:00:99"
    );
    sync(&mut h2);
    let p = h2.dp.state().programmed.clone();
    assert_eq!(p.neighs[&ip("10.213.0.11")], [2, 0, 0, 0, 0, 0x99]);
    assert!(p.fdb.contains(&([2, 0, 0, 0, 0, 0x99], ip("10.213.0.11"))));
    assert!(
        !p.fdb.contains(&([2, 0, 0, 0, 0, 1], ip("10.213.0.11"))),
        "old entry gone"
    );
}

#[test]
fn stop_revokes_the_lease() {
    let store = FakeCluster::default();
    let mut h1 = host(&store, 1, NET);
    h1.agent.connect().unwrap();
    assert_eq!(store.live_leases().len(), 1);
    let mut b = Batch::default();
    b.add(Event::Stop);
    assert!(h1.agent.handle(b));
    assert!(store.live_leases().is_empty());
    assert!(record(&store, 1).is_none());
}

#[test]
fn dual_stack_claims_a_block_per_family_and_routes_ipv6_via_the_mapped_hop() {
    let store = FakeCluster::default();
    let mut h1 = host(&store, 1, NET_DS);
    let mut h2 = host(&store, 2, NET_DS);
    h1.agent.connect().unwrap();
    h2.agent.connect().unwrap();
    let blocks = record(&store, 2).unwrap().networks["ov1"].blocks.clone();
    assert_eq!(
        blocks,
        vec![
            "10.214.0.64/26".parse::<IpNet>().unwrap(),
            "fd00:214:0:1::/64".parse::<IpNet>().unwrap()
        ]
    );
    sync(&mut h1);
    let p = h1.dp.state().programmed.clone();
    assert_eq!(
        p.routes[&"fd00:214:0:1::/64".parse().unwrap()],
        ip("::ffff:10.213.0.12")
    );
    assert_eq!(p.neighs[&ip("::ffff:10.213.0.12")], [2, 0, 0, 0, 0, 2]);
    let st = HostState::load(&h1.agent.cfg.state_dir, "ov1").unwrap();
    assert_eq!(st.blocks.len(), 2);
}
