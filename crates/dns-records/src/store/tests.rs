//! Store tests on a temporary directory, with a fake resolver on the control
//! socket where the resolver's part matters (no root needed).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixListener;
use std::sync::{Arc, Mutex};

use super::*;
use crate::records::{RemoteEntry, FORMAT_VERSION};

fn settings(net: &str) -> NetworkSettings {
    let mut s = NetworkSettings::new(net);
    s.domain = Some("dns.podman".into());
    s.listen = vec!["10.88.0.1".parse().unwrap()];
    s.subnets = vec!["10.88.0.0/24".parse().unwrap()];
    s
}

fn record(net: &str, cid: &str, name: &str, addr: &str) -> EndpointRecord {
    EndpointRecord {
        version: FORMAT_VERSION,
        network: net.into(),
        container_id: cid.into(),
        ifname: "eth0".into(),
        name: name.into(),
        aliases: vec![],
        addresses: vec![addr.parse().unwrap()],
    }
}

/// A fake resolver: answers each request with `reply(request)` and records it.
struct FakeResolver {
    seen: Arc<Mutex<Vec<String>>>,
}

impl FakeResolver {
    fn start(layout: &Layout, reply: fn(&str) -> String) -> FakeResolver {
        layout::create_dir(&layout.root).unwrap();
        let listener = UnixListener::bind(layout.control_socket()).unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s2 = seen.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { return };
                let mut line = String::new();
                BufReader::new(&conn).read_line(&mut line).unwrap();
                let req = line.trim().to_string();
                s2.lock().unwrap().push(req.clone());
                let _ = conn.write_all(format!("{}\n", reply(&req)).as_bytes());
            }
        });
        FakeResolver { seen }
    }

    fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

#[test]
fn register_writes_keyed_files_and_merges_settings() {
    let d = tempfile::tempdir().unwrap();
    let store = Store::at(d.path().join("s"), None);
    let r1 = record("n1", "c1", "web", "10.88.0.2");
    let reg = store.register(&settings("n1"), &r1).unwrap();
    assert_eq!(
        reg.nameservers,
        vec!["10.88.0.1".parse::<IpAddr>().unwrap()]
    );
    assert_eq!(reg.domain.as_deref(), Some("dns.podman"));
    let path = store.layout().endpoint_file("n1", "c1", "eth0");
    assert!(
        path.ends_with("networks/n1/endpoints/c1@eth0.json"),
        "{}",
        path.display()
    );
    assert_eq!(store.endpoints("n1").unwrap(), vec![r1.clone()]);

    // A second endpoint attached with another gateway (dual stack): union.
    let mut s6 = settings("n1");
    s6.listen = vec!["fd00::1".parse().unwrap()];
    store
        .register(&s6, &record("n1", "c2", "db", "fd00::2"))
        .unwrap();
    let merged = store.settings("n1").unwrap().unwrap();
    assert_eq!(merged.listen.len(), 2, "{merged:?}");

    // Re-registering replaces.
    let mut r1b = r1.clone();
    r1b.aliases = vec!["www".into()];
    store.register(&settings("n1"), &r1b).unwrap();
    let eps = store.endpoints("n1").unwrap();
    assert_eq!(eps.len(), 2);
    assert!(eps.contains(&r1b));
    store.check("n1", "c1", "eth0", Some(&r1b)).unwrap_err(); // no resolver runs
}

#[test]
fn invalid_input_writes_nothing() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("s");
    let store = Store::at(&root, None);
    let mut bad = record("n1", "c1", "web", "10.88.0.2");
    bad.aliases = vec!["no spaces".into()];
    let e = store.register(&settings("n1"), &bad).unwrap_err();
    assert_eq!(e.kind(), crate::ErrorKind::InvalidInput);
    assert!(e.to_string().contains("aliases"), "{e}");
    let e = store
        .register(&settings("n2"), &record("n1", "c1", "web", "10.88.0.2"))
        .unwrap_err();
    assert_eq!(e.kind(), crate::ErrorKind::InvalidInput);
    let mut s = settings("n1");
    s.domain = Some("".into());
    assert!(store
        .register(&s, &record("n1", "c1", "web", "10.88.0.2"))
        .is_err());
    assert!(
        !root.exists(),
        "nothing may be created for a refused registration"
    );
}

#[test]
fn last_unregister_leaves_no_file_and_is_idempotent() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("s");
    let store = Store::at(&root, None);
    store
        .register(&settings("n1"), &record("n1", "c1", "web", "10.88.0.2"))
        .unwrap();
    store
        .register(&settings("n1"), &record("n1", "c2", "db", "10.88.0.3"))
        .unwrap();
    store.unregister("n1", "c1", "eth0").unwrap();
    assert_eq!(store.endpoints("n1").unwrap().len(), 1);
    assert!(store.settings("n1").unwrap().is_some());
    store.unregister("n1", "c2", "eth0").unwrap();
    assert!(
        !root.exists(),
        "store directory left: {:?}",
        fs::read_dir(&root).map(|d| d.count())
    );
    // Again, and for a network that never existed.
    store.unregister("n1", "c2", "eth0").unwrap();
    store.unregister("other", "c9", "eth0").unwrap();
    assert!(!root.exists());
    assert!(store.unregister("bad/name", "c", "eth0").is_err());
}

#[test]
fn gc_keeps_only_valid_attachments() {
    let d = tempfile::tempdir().unwrap();
    let store = Store::at(d.path().join("s"), None);
    for (c, a) in [
        ("c1", "10.88.0.2"),
        ("c2", "10.88.0.3"),
        ("c3", "10.88.0.4"),
    ] {
        store
            .register(&settings("n1"), &record("n1", c, c, a))
            .unwrap();
    }
    store
        .register(&settings("n2"), &record("n2", "c1", "x", "10.88.0.9"))
        .unwrap();
    let report = store.gc("n1", &[("c2".into(), "eth0".into())]).unwrap();
    let mut removed = report.removed.clone();
    removed.sort();
    assert_eq!(
        removed,
        vec![("c1".into(), "eth0".into()), ("c3".into(), "eth0".into())]
    );
    assert_eq!(store.endpoints("n1").unwrap().len(), 1);
    assert_eq!(
        store.endpoints("n2").unwrap().len(),
        1,
        "another network is untouched"
    );
    let report = store.gc("n1", &[]).unwrap();
    assert_eq!(report.removed.len(), 1);
    assert!(store.settings("n1").unwrap().is_none());
}

#[test]
fn snapshot_skips_what_is_not_what_its_place_says() {
    let d = tempfile::tempdir().unwrap();
    let store = Store::at(d.path().join("s"), None);
    store
        .register(&settings("n1"), &record("n1", "c1", "web", "10.88.0.2"))
        .unwrap();
    let dir = store.layout().endpoints_dir("n1");
    // A record copied under another attachment's name, one of another
    // network, garbage, an invalid name.
    fs::copy(dir.join("c1@eth0.json"), dir.join("c9@eth0.json")).unwrap();
    layout::write_json(
        &dir.join("c5@eth0.json"),
        &record("n2", "c5", "x", "10.88.0.5"),
    )
    .unwrap();
    fs::write(dir.join("c6@eth0.json"), b"{").unwrap();
    let mut bad = record("n1", "c7", "ok", "10.88.0.7");
    bad.name = "not ok".into();
    layout::write_json(&dir.join("c7@eth0.json"), &bad).unwrap();
    let snap = store.snapshot();
    assert_eq!(snap.networks.len(), 1);
    assert_eq!(
        snap.networks[0].endpoints,
        vec![record("n1", "c1", "web", "10.88.0.2")]
    );
    assert_eq!(snap.warnings.len(), 4, "{:#?}", snap.warnings);
    assert_eq!(
        snap.listen_addresses(),
        vec!["10.88.0.1".parse::<IpAddr>().unwrap()]
    );
    let fp = store.fingerprint();
    assert_eq!(fp.len(), 6, "settings + 5 endpoint files");
    layout::write_json(
        &dir.join("c1@eth0.json"),
        &record("n1", "c1", "web", "10.88.0.22"),
    )
    .unwrap();
    assert_ne!(store.fingerprint(), fp, "a rewrite changes the fingerprint");
}

#[test]
fn remote_hosts_are_files_of_their_own() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("s");
    let store = Store::at(&root, None);
    let remote = RemoteRecords {
        version: FORMAT_VERSION,
        network: "ov".into(),
        host: "host3".into(),
        entries: vec![RemoteEntry {
            container_id: "c30".into(),
            ifname: "eth0".into(),
            name: "db3".into(),
            aliases: vec!["db".into()],
            addresses: vec!["10.10.3.2".parse().unwrap()],
        }],
    };
    store.set_remote(&remote).unwrap();
    assert_eq!(store.remote_hosts("ov").unwrap(), vec!["host3".to_string()]);
    // Served only once a local endpoint is on the network.
    assert!(store.snapshot().networks.is_empty());
    store
        .register(&settings("ov"), &record("ov", "c1", "web1", "10.10.1.2"))
        .unwrap();
    let snap = store.snapshot();
    assert_eq!(snap.networks[0].remote, vec![remote.clone()]);
    // The local network leaving keeps the agent's file; removing it empties the store.
    store.unregister("ov", "c1", "eth0").unwrap();
    assert_eq!(store.remote_hosts("ov").unwrap().len(), 1);
    store.remove_remote("ov", "host3").unwrap();
    store.remove_remote("ov", "host3").unwrap();
    assert!(!root.exists());
    let mut bad = remote;
    bad.host = "../x".into();
    assert!(store.set_remote(&bad).is_err());
}

#[test]
fn the_node_agent_reads_remote_files_and_local_fingerprints() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("s");
    let store = Store::at(&root, None);
    assert_eq!(store.remote("ov", "host3").unwrap(), None);
    assert!(store.remote_networks().unwrap().is_empty());
    let remote = RemoteRecords {
        version: FORMAT_VERSION,
        network: "ov".into(),
        host: "host3".into(),
        entries: vec![],
    };
    store.set_remote(&remote).unwrap();
    assert_eq!(store.remote("ov", "host3").unwrap(), Some(remote));
    assert_eq!(store.remote_networks().unwrap(), vec!["ov".to_string()]);
    assert!(store.remote("ov", "../x").is_err(), "host checked");
    assert!(store.remote("a/b", "host3").is_err(), "network checked");
    // A file that does not parse is an error, not "absent".
    std::fs::write(root.join("remote/ov/host4.json"), b"{").unwrap();
    assert!(store.remote("ov", "host4").is_err());
    std::fs::remove_file(root.join("remote/ov/host4.json")).unwrap();

    // The fingerprint of a network's endpoints changes with every write and
    // removal there, and only there.
    let nets = vec!["ov".to_string()];
    let empty = store.endpoints_fingerprint(&nets);
    assert!(empty.is_empty());
    store
        .register(&settings("ov"), &record("ov", "c1", "web1", "10.10.1.2"))
        .unwrap();
    let one = store.endpoints_fingerprint(&nets);
    assert_eq!(one.len(), 1);
    store
        .register(&settings("other"), &record("other", "c2", "x", "10.10.2.2"))
        .unwrap();
    assert_eq!(store.endpoints_fingerprint(&nets), one, "another network");
    store
        .register(&settings("ov"), &record("ov", "c1", "web1", "10.10.1.3"))
        .unwrap();
    assert_ne!(store.endpoints_fingerprint(&nets), one, "rewritten");
    store.unregister("ov", "c1", "eth0").unwrap();
    assert_eq!(store.endpoints_fingerprint(&nets), empty);
}

#[test]
fn resolver_is_reloaded_then_stopped_when_unused() {
    let d = tempfile::tempdir().unwrap();
    let store = Store::at(d.path().join("s"), None);
    let fake = FakeResolver::start(store.layout(), |_| "ok 1 1 10.88.0.1".into());
    store
        .register(&settings("n1"), &record("n1", "c1", "web", "10.88.0.2"))
        .unwrap();
    store.check("n1", "c1", "eth0", None).unwrap();
    store.unregister("n1", "c1", "eth0").unwrap();
    assert_eq!(fake.seen(), vec!["reload", "ping", "stop"]);
}

#[test]
fn check_reports_an_address_the_resolver_does_not_listen_on() {
    let d = tempfile::tempdir().unwrap();
    let store = Store::at(d.path().join("s"), None);
    let _fake = FakeResolver::start(store.layout(), |_| "ok 1 1 10.99.0.1".into());
    store
        .register(&settings("n1"), &record("n1", "c1", "web", "10.88.0.2"))
        .unwrap();
    let e = store.check("n1", "c1", "eth0", None).unwrap_err();
    assert!(
        e.to_string().contains("does not listen on 10.88.0.1"),
        "{e}"
    );
    let e = store.check("n1", "c9", "eth0", None).unwrap_err();
    assert!(e.to_string().contains("no name record"), "{e}");
}

#[test]
fn a_registration_the_resolver_cannot_serve_is_undone() {
    let d = tempfile::tempdir().unwrap();
    let store = Store::at(d.path().join("s"), None);
    let fake = FakeResolver::start(store.layout(), |req| match req {
        "reload" => "err bind 10.88.0.1:53/udp: Address in use".into(),
        _ => "ok 1 1 -".into(),
    });
    let e = store
        .register(&settings("n1"), &record("n1", "c1", "web", "10.88.0.2"))
        .unwrap_err();
    assert_eq!(e.kind(), crate::ErrorKind::Resolver);
    assert!(e.to_string().contains("Address in use"), "{e}");
    assert!(store.endpoints("n1").unwrap().is_empty());
    assert!(store.settings("n1").unwrap().is_none());
    // The undo told the resolver too (a stop: nothing is needed any more).
    assert_eq!(fake.seen(), vec!["reload", "stop"]);
}
