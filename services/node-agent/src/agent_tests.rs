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

// ----- container names across hosts ------------------------------------------

mod names {
    use super::*;
    use crate::names::{names_key, Names};
    use cnm_dns_records::{EndpointRecord, NetworkSettings, RemoteRecords, Store, FORMAT_VERSION};

    /// A host whose agent publishes and feeds names, with its record store.
    struct Named {
        h: Host,
        store: Store,
    }

    fn named(cluster: &FakeCluster, n: u8) -> Named {
        let mut h = host(cluster, n, NET);
        let store = Store::at(h._dir.path().join("dns"), None);
        h.agent = with_names(cluster, &h, &store, n);
        Named { h, store }
    }

    /// A (new) agent of host `h` over `store`.
    fn with_names(
        cluster: &FakeCluster,
        h: &Host,
        store: &Store,
        n: u8,
    ) -> Agent<FakeCluster, FakeDp> {
        Agent::new(
            h.agent.cfg.clone(),
            cluster.clone(),
            h.dp.clone(),
            (2, 1500),
        )
        .unwrap()
        .with_names(Names::new(
            store.clone(),
            &format!("h{n}"),
            keys::DEFAULT_ROOT,
            vec!["ov1".into()],
        ))
    }

    fn settings() -> NetworkSettings {
        let mut s = NetworkSettings::new("ov1");
        s.domain = Some("ov.test".into());
        s.listen = vec![ip("10.214.0.1")];
        s
    }

    /// What dnsname's ADD writes on that host.
    fn add(h: &Named, cid: &str, name: &str, addr: &str) {
        h.store
            .register(
                &settings(),
                &EndpointRecord {
                    version: FORMAT_VERSION,
                    network: "ov1".into(),
                    container_id: cid.into(),
                    ifname: "eth0".into(),
                    name: name.into(),
                    aliases: vec![format!("{name}-alias")],
                    addresses: vec![ip(addr)],
                },
            )
            .unwrap();
    }

    fn del(h: &Named, cid: &str) {
        h.store.unregister("ov1", cid, "eth0").unwrap();
    }

    /// The poller's event, as it sends it.
    fn local_changed(h: &mut Named) {
        let mut b = Batch::default();
        b.add(Event::LocalNames);
        assert!(!h.h.agent.handle(b));
    }

    /// A watch event on the names prefix (the fake has no watch: the view
    /// is re-read first, as a full tick does).
    fn names_changed(h: &mut Named) {
        h.h.agent.tick(true).unwrap();
        let mut b = Batch::default();
        b.add(Event::Names);
        assert!(!h.h.agent.handle(b));
    }

    fn key_of(cluster: &FakeCluster, n: u8) -> Option<RemoteRecords> {
        let mut kv = cluster.kv.clone();
        kv.get(&names_key(keys::DEFAULT_ROOT, "ov1", &format!("h{n}")))
            .unwrap()
            .map(|v| serde_json::from_slice(&v).unwrap())
    }

    fn remote_names(h: &Named, n: u8) -> Option<Vec<String>> {
        h.store
            .remote("ov1", &format!("h{n}"))
            .unwrap()
            .map(|r| r.entries.into_iter().map(|e| e.name).collect())
    }

    #[test]
    fn a_containers_names_travel_to_the_other_hosts_and_leave_with_it() {
        let cluster = FakeCluster::default();
        let mut h1 = named(&cluster, 1);
        let mut h3 = named(&cluster, 3);
        h1.h.agent.connect().unwrap();
        h3.h.agent.connect().unwrap();
        assert_eq!(key_of(&cluster, 3), None, "no records, no key");
        add(&h3, "c30", "db", "10.214.0.66");
        local_changed(&mut h3);
        let published = key_of(&cluster, 3).expect("h3's names in etcd");
        assert_eq!(published.host, "h3");
        assert_eq!(published.entries[0].aliases, ["db-alias"]);
        assert_eq!(published.entries[0].addresses, [ip("10.214.0.66")]);
        // Under h3's lease.
        let lease = h3.h.agent.session.as_ref().unwrap().lease;
        cluster.expire(lease + 1000); // another lease: nothing happens
        assert!(key_of(&cluster, 3).is_some());
        names_changed(&mut h1);
        assert_eq!(remote_names(&h1, 3), Some(vec!["db".to_string()]));
        assert_eq!(remote_names(&h3, 3), None, "a host does not feed itself");
        // A second container, then the first leaves.
        add(&h3, "c31", "web", "10.214.0.67");
        local_changed(&mut h3);
        names_changed(&mut h1);
        assert_eq!(
            remote_names(&h1, 3),
            Some(vec!["db".to_string(), "web".to_string()])
        );
        del(&h3, "c30");
        del(&h3, "c31");
        local_changed(&mut h3);
        assert_eq!(key_of(&cluster, 3), None, "the last one gone: the key too");
        names_changed(&mut h1);
        assert_eq!(remote_names(&h1, 3), None);
        assert!(h1.store.remote_networks().unwrap().is_empty());
    }

    #[test]
    fn a_dead_hosts_names_go_when_its_lease_expires_and_not_while_etcd_is_away() {
        let cluster = FakeCluster::default();
        let mut h1 = named(&cluster, 1);
        let mut h3 = named(&cluster, 3);
        h1.h.agent.connect().unwrap();
        h3.h.agent.connect().unwrap();
        add(&h3, "c30", "db", "10.214.0.66");
        local_changed(&mut h3);
        names_changed(&mut h1);
        assert!(remote_names(&h1, 3).is_some());
        // h3 dies: its lease runs out while h1 cannot read etcd.
        let lease = h3.h.agent.session.as_ref().unwrap().lease;
        store_down_then(&cluster, || cluster.expire(lease));
        assert!(h1.h.agent.tick(true).is_err());
        let mut b = Batch::default();
        b.add(Event::Names);
        h1.h.agent.handle(b);
        assert_eq!(
            remote_names(&h1, 3),
            Some(vec!["db".to_string()]),
            "kept while etcd cannot be read"
        );
        cluster.kv.set_down(false);
        names_changed(&mut h1);
        assert_eq!(remote_names(&h1, 3), None, "gone with the lease");
    }

    fn store_down_then(cluster: &FakeCluster, f: impl FnOnce()) {
        f();
        cluster.kv.set_down(true);
    }

    #[test]
    fn the_same_container_id_on_two_hosts_never_collides() {
        let cluster = FakeCluster::default();
        let mut h1 = named(&cluster, 1);
        let mut h2 = named(&cluster, 2);
        let mut h3 = named(&cluster, 3);
        for h in [&mut h1, &mut h2, &mut h3] {
            h.h.agent.connect().unwrap();
        }
        add(&h2, "same", "web", "10.214.0.130");
        add(&h3, "same", "web", "10.214.0.66");
        local_changed(&mut h2);
        local_changed(&mut h3);
        add(&h1, "c10", "client", "10.214.0.2");
        names_changed(&mut h1);
        assert_eq!(remote_names(&h1, 2), Some(vec!["web".to_string()]));
        assert_eq!(remote_names(&h1, 3), Some(vec!["web".to_string()]));
        // The resolver's view: both hosts' records, side by side.
        let snap = h1.store.snapshot();
        let remote: Vec<(String, IpAddr)> = snap.networks[0]
            .remote
            .iter()
            .map(|r| (r.host.clone(), r.entries[0].addresses[0]))
            .collect();
        assert_eq!(
            remote,
            [
                ("h2".to_string(), ip("10.214.0.130")),
                ("h3".to_string(), ip("10.214.0.66"))
            ]
        );
        // One host's container leaving takes only its own record.
        del(&h2, "same");
        local_changed(&mut h2);
        names_changed(&mut h1);
        assert_eq!(remote_names(&h1, 2), None);
        assert_eq!(remote_names(&h1, 3), Some(vec!["web".to_string()]));
    }

    #[test]
    fn a_new_session_publishes_again_and_drops_what_the_old_lease_held() {
        let cluster = FakeCluster::default();
        let mut h3 = named(&cluster, 3);
        h3.h.agent.connect().unwrap();
        add(&h3, "c30", "db", "10.214.0.66");
        local_changed(&mut h3);
        let old = h3.h.agent.session.as_ref().unwrap().lease;
        // The lease is lost (etcd said so): registering again puts the
        // names under the new lease, so they do not go with the old one.
        let mut b = Batch::default();
        b.add(Event::Lost("the lease expired".into()));
        h3.h.agent.handle(b);
        h3.h.agent.connect().unwrap();
        let new = h3.h.agent.session.as_ref().unwrap().lease;
        assert_ne!(old, new);
        cluster.expire(old);
        assert!(key_of(&cluster, 3).is_some(), "moved to the new lease");
        // Restarted with no container left, before the old key expired:
        // the new session deletes it.
        del(&h3, "c30");
        let mut restarted = with_names(&cluster, &h3.h, &h3.store, 3);
        restarted.connect().unwrap();
        assert_eq!(key_of(&cluster, 3), None);
    }

    #[test]
    fn publishing_waits_for_etcd_and_a_key_changed_by_hand_is_written_again() {
        let cluster = FakeCluster::default();
        let mut h3 = named(&cluster, 3);
        h3.h.agent.connect().unwrap();
        cluster.kv.set_down(true);
        add(&h3, "c30", "db", "10.214.0.66");
        local_changed(&mut h3);
        cluster.kv.set_down(false);
        assert_eq!(key_of(&cluster, 3), None, "not yet");
        h3.h.agent.tick(false).unwrap();
        assert!(key_of(&cluster, 3).is_some(), "the next tick publishes");
        // Deleted by hand: the full tick writes it again.
        cluster
            .kv
            .remove(&names_key(keys::DEFAULT_ROOT, "ov1", "h3"));
        h3.h.agent.tick(true).unwrap();
        assert_eq!(key_of(&cluster, 3).unwrap().entries.len(), 1);
    }

    #[test]
    fn foreign_networks_our_own_host_and_bad_values_are_not_fed() {
        let cluster = FakeCluster::default();
        let mut h1 = named(&cluster, 1);
        h1.h.agent.connect().unwrap();
        let good = |net: &str, host: &str| {
            serde_json::to_vec(&RemoteRecords {
                version: FORMAT_VERSION,
                network: net.into(),
                host: host.into(),
                entries: vec![cnm_dns_records::RemoteEntry {
                    container_id: "x".into(),
                    ifname: "eth0".into(),
                    name: "x".into(),
                    aliases: vec![],
                    addresses: vec![ip("10.214.9.9")],
                }],
            })
            .unwrap()
        };
        let put = |k: String, v: &[u8]| cluster.kv.put(&k, v);
        put(
            names_key(keys::DEFAULT_ROOT, "other", "h5"),
            &good("other", "h5"),
        );
        put(
            names_key(keys::DEFAULT_ROOT, "ov1", "h1"),
            &good("ov1", "h1"),
        );
        put(names_key(keys::DEFAULT_ROOT, "ov1", "h6"), b"{not json");
        put(
            names_key(keys::DEFAULT_ROOT, "ov1", "h7"),
            &good("ov1", "h8"),
        );
        put(
            names_key(keys::DEFAULT_ROOT, "ov1", "h9"),
            &good("ov1", "h9"),
        );
        // A file left from before (its host gone while the agent was down).
        h1.store
            .set_remote(&serde_json::from_slice(&good("ov1", "h4")).unwrap())
            .unwrap();
        names_changed(&mut h1);
        assert_eq!(h1.store.remote_networks().unwrap(), ["ov1"]);
        assert_eq!(h1.store.remote_hosts("ov1").unwrap(), ["h9"]);
    }
}
