//! Tests of the backend on the fake kernel (no root): setup, the status
//! block, teardown leaving nothing, idempotence, a static address in use,
//! rollback on a failure, ports on the first of two networks, internal.
//! host-local runs for real on a temporary directory.

use std::collections::BTreeMap;
use std::sync::Mutex;

use cnm_kernel::fake::{FakeLink, FakeSystem};
use serde_json::{json, Value};

use super::*;
use crate::config::{check_attachment, check_network, Stage};
use crate::types::NetworkPluginExec;

const NS1: &str = "/run/netns/c1";
const NS2: &str = "/run/netns/c2";
const NET_ID: &str = "53ce4390f2adb1681eb1a90ec8b48c49c015e0a8d336c197637e7f65e365fa9e";
const NET2_ID: &str = "fae505bba2b3ad2b9bc748f0d322864d44a3c976c642ee347e5276729dfb4d51";

/// Records what was published; fails on demand.
#[derive(Default)]
struct FakePublisher {
    published: Arc<Mutex<BTreeMap<PortOwner, Vec<PortSpec>>>>,
    fail: bool,
}

impl Publisher for FakePublisher {
    fn publish(
        &self,
        owner: &PortOwner,
        _addrs: &[IpNet],
        ports: &[PortSpec],
        _bridge: &str,
    ) -> Result<(), PluginError> {
        if self.fail {
            return Err(PluginError::model("publish ports", "injected failure"));
        }
        self.published
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(owner.clone(), ports.to_vec());
        Ok(())
    }
    fn unpublish(&self, owner: &PortOwner) -> Result<(), PluginError> {
        self.published
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(owner);
        Ok(())
    }
}

struct World {
    backend: Backend,
    system: Arc<FakeSystem>,
    published: Arc<Mutex<BTreeMap<PortOwner, Vec<PortSpec>>>>,
    dir: tempfile::TempDir,
}

fn world_with(fail_publish: bool) -> World {
    let dir = tempfile::tempdir().expect("tempdir");
    let system = Arc::new(FakeSystem::new(NS1));
    let publisher = FakePublisher {
        fail: fail_publish,
        ..Default::default()
    };
    let published = Arc::clone(&publisher.published);
    let backend = Backend::new(
        Arc::clone(&system),
        Registry::new(dir.path()),
        Box::new(publisher),
    )
    .expect("backend");
    backend
        .controller()
        .new_sandbox(NS2)
        .expect("second sandbox");
    World {
        backend,
        system,
        published,
        dir,
    }
}

fn world() -> World {
    world_with(false)
}

fn input(cid: &str, ip: &str) -> Value {
    json!({
        "container_id": cid,
        "container_name": "ctr",
        "network": {
            "dns_enabled": false, "driver": "cnm", "id": NET_ID,
            "internal": false, "ipv6_enabled": true, "name": "net1",
            "network_interface": "cnm-br1",
            "subnets": [{"gateway": "10.88.0.1", "subnet": "10.88.0.0/24"},
                        {"gateway": "fd00:88::1", "subnet": "fd00:88::/64"}]
        },
        "network_options": {"interface_name": "eth0", "static_ips": [ip, "fd00:88::5"]}
    })
}

fn parse(v: &Value, ns: &str) -> (NetworkConfig, Attachment) {
    let exec: NetworkPluginExec = serde_json::from_value(v.clone()).expect("shape");
    let net = check_network(&exec.network, Stage::Attach).expect("network");
    let att = check_attachment(&exec, &net, ns).expect("attachment");
    (net, att)
}

fn setup(w: &World, v: &Value, ns: &str) -> Result<StatusBlock, PluginError> {
    let (net, att) = parse(v, ns);
    w.backend.setup(&net, &att)
}

fn teardown(w: &World, v: &Value, ns: &str) -> Result<(), PluginError> {
    let (net, att) = parse(v, ns);
    w.backend.teardown(&net, &att)
}

fn host_links(w: &World) -> Vec<String> {
    w.system.state.borrow().host.keys().cloned().collect()
}

fn files_under(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p.clone());
            }
            out.push(p.strip_prefix(dir).unwrap_or(&p).display().to_string());
        }
    }
    out.sort();
    out
}

#[test]
fn setup_reports_the_interface_and_teardown_leaves_nothing() {
    let w = world();
    let v = input("c1", "10.88.0.7");
    let block = setup(&w, &v, NS1).expect("setup");
    let j = serde_json::to_value(&block).expect("json");
    let eth0 = &j["interfaces"]["eth0"];
    assert_eq!(
        eth0["subnets"][0],
        json!({"gateway": "10.88.0.1", "ipnet": "10.88.0.7/24"})
    );
    assert_eq!(
        eth0["subnets"][1],
        json!({"gateway": "fd00:88::1", "ipnet": "fd00:88::5/64"})
    );
    assert_eq!(
        eth0["mac_address"].as_str().map(str::len),
        Some(17),
        "{eth0}"
    );
    assert_eq!(j["dns_server_ips"], json!([]));
    {
        let st = w.system.state.borrow();
        assert!(st.host.contains_key("cnm-br1"), "{:?}", st.host.keys());
        let c = st
            .sandbox(NS1)
            .and_then(|s| s.get("eth0"))
            .expect("eth0 in c1");
        let defaults: Vec<_> = c
            .routes
            .iter()
            .filter(|r| r.dst.prefix_len() == 0)
            .collect();
        assert_eq!(defaults.len(), 2, "{:?}", c.routes);
        assert!(
            defaults.iter().all(|r| r.priority == Some(100)),
            "{defaults:?}"
        );
        assert_eq!(
            st.masquerade.get("net1").map(Vec::len),
            Some(2),
            "{:?}",
            st.masquerade
        );
    }
    // The reservation is in the network's store, keyed by the owner.
    let store = w.dir.path().join("networks").join(NET_ID).join("net1");
    let owner = std::fs::read_to_string(store.join("10.88.0.7")).expect("reservation");
    assert!(owner.starts_with("c1"), "{owner:?}");

    teardown(&w, &v, NS1).expect("teardown");
    assert!(host_links(&w).is_empty(), "{:?}", host_links(&w));
    assert!(w.system.state.borrow().masquerade.is_empty());
    assert!(
        files_under(w.dir.path()).iter().all(|f| f == "networks"),
        "{:?}",
        files_under(w.dir.path())
    );
    teardown(&w, &v, NS1).expect("teardown twice");
}

#[test]
fn a_static_ip_in_use_is_refused_and_nothing_changes() {
    let w = world();
    setup(&w, &input("c1", "10.88.0.7"), NS1).expect("first");
    let links = host_links(&w);
    let files = files_under(w.dir.path());
    let mut v = input("c2", "10.88.0.7");
    v["network_options"]["static_ips"] = json!(["10.88.0.7"]);
    let e = setup(&w, &v, NS2).expect_err("taken");
    assert!(e.to_string().contains("static IP 10.88.0.7"), "{e}");
    assert_eq!(host_links(&w), links);
    assert_eq!(files_under(w.dir.path()), files);
    let st = w.system.state.borrow();
    assert!(
        st.sandbox(NS2).is_some_and(|s| s.is_empty()),
        "c2 got nothing"
    );
}

#[test]
fn the_same_attachment_twice_is_refused() {
    let w = world();
    let v = input("c1", "10.88.0.7");
    setup(&w, &v, NS1).expect("first");
    let e = setup(&w, &v, NS1).expect_err("again");
    assert!(e.to_string().contains("already has interface eth0"), "{e}");
    // The live one is untouched.
    let st = w.system.state.borrow();
    assert!(st.sandbox(NS1).is_some_and(|s| s.contains_key("eth0")));
}

#[test]
fn without_static_ips_the_plugin_allocates() {
    let w = world();
    let mut v = input("c1", "10.88.0.7");
    v["network_options"]["static_ips"] = json!(null);
    let block = setup(&w, &v, NS1).expect("setup");
    let j = serde_json::to_value(&block).expect("json");
    assert_eq!(
        j["interfaces"]["eth0"]["subnets"][0]["ipnet"],
        "10.88.0.2/24"
    );
    assert_eq!(
        j["interfaces"]["eth0"]["subnets"][1]["ipnet"],
        "fd00:88::2/64"
    );
    let mut v2 = v.clone();
    v2["container_id"] = json!("c2");
    let j = serde_json::to_value(setup(&w, &v2, NS2).expect("second")).expect("json");
    assert_eq!(
        j["interfaces"]["eth0"]["subnets"][0]["ipnet"],
        "10.88.0.3/24"
    );
    teardown(&w, &v, NS1).expect("teardown 1");
    assert!(
        host_links(&w).contains(&"cnm-br1".to_string()),
        "bridge stays for c2"
    );
    teardown(&w, &v2, NS2).expect("teardown 2");
    assert!(host_links(&w).is_empty(), "{:?}", host_links(&w));
}

#[test]
fn a_failure_after_the_interface_undoes_everything() {
    let w = world_with(true);
    let mut v = input("c1", "10.88.0.7");
    v["port_mappings"] = json!([{"container_port": 80, "host_ip": "", "host_port": 8080,
        "protocol": "tcp", "range": 1}]);
    let e = setup(&w, &v, NS1).expect_err("publish fails");
    assert!(e.to_string().contains("injected failure"), "{e}");
    assert!(host_links(&w).is_empty(), "{:?}", host_links(&w));
    let st = w.system.state.borrow();
    assert!(st.sandbox(NS1).is_some_and(|s| s.is_empty()));
    drop(st);
    assert!(
        files_under(w.dir.path()).iter().all(|f| f == "networks"),
        "{:?}",
        files_under(w.dir.path())
    );
}

#[test]
fn ports_are_published_on_the_first_of_two_networks() {
    let w = world();
    let ports = json!([{"container_port": 80, "host_ip": "", "host_port": 8080,
        "protocol": "tcp", "range": 1}]);
    let mut a = input("c1", "10.88.0.7");
    a["port_mappings"] = ports.clone();
    let mut b = json!({
        "container_id": "c1", "container_name": "ctr", "port_mappings": ports,
        "network": {"dns_enabled": false, "driver": "cnm", "id": NET2_ID, "internal": false,
            "ipv6_enabled": false, "name": "net2", "network_interface": "cnm-br2",
            "subnets": [{"gateway": "10.89.0.1", "subnet": "10.89.0.0/24"}]},
        "network_options": {"interface_name": "eth1", "static_ips": ["10.89.0.9"]}
    });
    setup(&w, &a, NS1).expect("net1");
    setup(&w, &b, NS1).expect("net2");
    let owners: Vec<String> = w
        .published
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .keys()
        .map(|o| format!("{}/{}", o.network, o.ifname))
        .collect();
    assert_eq!(owners, vec!["net1/eth0".to_string()]);
    teardown(&w, &a, NS1).expect("down 1");
    teardown(&w, &b, NS1).expect("down 2");
    assert!(w
        .published
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .is_empty());
    assert!(host_links(&w).is_empty(), "{:?}", host_links(&w));
    // Internal networks publish nothing (as netavark).
    b["network"]["internal"] = json!(true);
    setup(&w, &b, NS1).expect("internal");
    assert!(w
        .published
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .is_empty());
    teardown(&w, &b, NS1).expect("down internal");
}

#[test]
fn internal_networks_have_no_default_route_and_no_masquerade() {
    let w = world();
    let mut v = input("c1", "10.88.0.7");
    v["network"]["internal"] = json!(true);
    setup(&w, &v, NS1).expect("setup");
    let st = w.system.state.borrow();
    let c = st.sandbox(NS1).and_then(|s| s.get("eth0")).expect("eth0");
    assert!(
        c.routes.iter().all(|r| r.dst.prefix_len() != 0),
        "{:?}",
        c.routes
    );
    assert!(st.masquerade.is_empty(), "{:?}", st.masquerade);
}

#[test]
fn metric_and_no_default_route() {
    let w = world();
    let mut v = input("c1", "10.88.0.7");
    v["network"]["options"] = json!({"metric": "250"});
    setup(&w, &v, NS1).expect("setup");
    {
        let st = w.system.state.borrow();
        let c = st.sandbox(NS1).and_then(|s| s.get("eth0")).expect("eth0");
        assert!(c
            .routes
            .iter()
            .filter(|r| r.dst.prefix_len() == 0)
            .all(|r| r.priority == Some(250)));
    }
    teardown(&w, &v, NS1).expect("down");
    v["network"]["options"] = json!({"no_default_route": "true"});
    setup(&w, &v, NS1).expect("setup");
    let st = w.system.state.borrow();
    let c = st.sandbox(NS1).and_then(|s| s.get("eth0")).expect("eth0");
    assert!(
        c.routes.iter().all(|r| r.dst.prefix_len() != 0),
        "{:?}",
        c.routes
    );
    assert!(!st.masquerade.is_empty(), "still masqueraded");
}

#[test]
fn a_missing_namespace_is_refused_before_anything() {
    let w = world();
    let e = setup(&w, &input("c1", "10.88.0.7"), "/run/netns/nope").expect_err("no ns");
    assert!(e.to_string().contains("network namespace"), "{e}");
    assert!(host_links(&w).is_empty());
    assert!(
        files_under(w.dir.path()).is_empty(),
        "{:?}",
        files_under(w.dir.path())
    );
    // Teardown of a namespace that is gone succeeds.
    teardown(&w, &input("c1", "10.88.0.7"), "/run/netns/nope").expect("teardown");
}

#[test]
fn static_mac_is_used() {
    let w = world();
    let mut v = input("c1", "10.88.0.7");
    v["network_options"]["static_mac"] = json!("aa:bb:cc:dd:aa:00");
    let j = serde_json::to_value(setup(&w, &v, NS1).expect("setup")).expect("json");
    assert_eq!(j["interfaces"]["eth0"]["mac_address"], "aa:bb:cc:dd:aa:00");
}

/// The node agent's state of overlay network `ov1` with the given blocks,
/// written into `dir` as cnmd writes it.
fn agent_state(dir: &std::path::Path, blocks: &[&str]) {
    let state = json!({
        "version": 1,
        "network": {"name": "ov1", "subnet": "10.214.0.0/16", "vni": 42, "blockPrefix": 29},
        "host": "h1",
        "blocks": blocks,
        "mtu": 1450,
        "dataDir": dir.join("store").display().to_string(),
        "bridge": "cnmb42",
        "vxlan": "cnmx42"
    });
    std::fs::write(dir.join("ov1.json"), state.to_string()).expect("state file");
}

fn overlay_input(w: &World, cid: &str) -> Value {
    let dir = w.dir.path().join("agent");
    json!({
        "container_id": cid,
        "container_name": "ctr",
        "network": {
            "dns_enabled": false, "driver": "cnm", "id": NET2_ID,
            "internal": false, "ipv6_enabled": false, "name": "ov1",
            "network_interface": "cnmb42",
            "options": {"driver": "overlay", "overlay_state_dir": dir.display().to_string()},
            "ipam_options": {"driver": "cnm"},
            "subnets": [{"subnet": "10.214.0.0/16", "gateway": "10.214.0.1"}]
        },
        "network_options": {"interface_name": "eth0"}
    })
}

#[test]
fn the_overlay_allocates_from_the_held_blocks() {
    let w = world();
    let agent = w.dir.path().join("agent");
    std::fs::create_dir_all(&agent).expect("agent dir");
    // Two /29 blocks: the first address of each is its gateway, five for containers.
    agent_state(&agent, &["10.214.0.8/29", "10.214.0.16/29"]);
    // The agent's bridge, with the gateway of each held block.
    w.system.state.borrow_mut().host.insert(
        "cnmb42".into(),
        FakeLink {
            state: cnm_kernel::LinkState {
                index: 90,
                name: "cnmb42".into(),
                kind: Some("bridge".into()),
                mtu: 1450,
                up: true,
                ..Default::default()
            },
            addrs: vec![
                "10.214.0.9/29".parse().expect("net"),
                "10.214.0.17/29".parse().expect("net"),
            ],
            ..Default::default()
        },
    );
    let a = overlay_input(&w, "c1");
    let j = serde_json::to_value(setup(&w, &a, NS1).expect("setup")).expect("json");
    assert_eq!(
        j["interfaces"]["eth0"]["subnets"][0],
        json!({"gateway": "10.214.0.9", "ipnet": "10.214.0.10/29"})
    );
    {
        let st = w.system.state.borrow();
        assert!(st.host.contains_key("cnmb42"), "{:?}", st.host.keys());
        let c = st.sandbox(NS1).and_then(|s| s.get("eth0")).expect("eth0");
        assert!(
            c.routes.iter().any(|r| r.dst.prefix_len() == 0
                && r.gw == Some("10.214.0.9".parse().expect("ip"))),
            "{:?}",
            c.routes
        );
    }
    // Fill the first block; the next container gets the second block.
    let mut more = Vec::new();
    for i in 2..=6 {
        let ns = format!("/run/netns/o{i}");
        w.backend.controller().new_sandbox(&ns).expect("sandbox");
        let v = overlay_input(&w, &format!("c{i}"));
        let j = serde_json::to_value(setup(&w, &v, &ns).expect("setup")).expect("json");
        more.push((
            v,
            ns,
            j["interfaces"]["eth0"]["subnets"][0]["ipnet"].clone(),
        ));
    }
    assert_eq!(more[3].2, "10.214.0.14/29");
    assert_eq!(more[4].2, "10.214.0.18/29", "the second block");
    assert!(agent.join("store").join("ov1").join("10.214.0.18").exists());
    teardown(&w, &a, NS1).expect("down 1");
    assert!(!agent.join("store").join("ov1").join("10.214.0.10").exists());
    for (v, ns, _) in &more {
        teardown(&w, v, ns).expect("down");
    }
    // The agent's bridge is not ours to delete.
    assert!(
        host_links(&w).contains(&"cnmb42".to_string()),
        "{:?}",
        host_links(&w)
    );
    assert!(files_under(w.dir.path().join("networks").as_path()).is_empty());
}

#[test]
fn every_held_block_full_is_a_clear_error() {
    let w = world();
    let agent = w.dir.path().join("agent");
    std::fs::create_dir_all(&agent).expect("agent dir");
    agent_state(&agent, &[]);
    let a = overlay_input(&w, "c1");
    let e = setup(&w, &a, NS1).expect_err("no block");
    assert!(
        e.to_string().contains("no free address in the 0 block(s)"),
        "{e}"
    );
    assert!(
        host_links(&w).iter().all(|l| l == "cnmb42"),
        "{:?}",
        host_links(&w)
    );
    let st = w.system.state.borrow();
    assert!(st.sandbox(NS1).is_some_and(|s| s.is_empty()));
}

#[test]
fn the_overlay_without_the_agents_state_is_a_clear_error() {
    let w = world();
    let a = overlay_input(&w, "c1");
    let e = setup(&w, &a, NS1).expect_err("no state");
    assert!(e.to_string().contains("is not set up on this host"), "{e}");
    assert!(host_links(&w).is_empty());
}

// ----- names on dns_enabled networks -------------------------------------------

/// A world whose backend keeps names in a record store under its temp dir
/// (no resolver is started: no launcher); counts how often the store is opened.
fn named_world(fail_publish: bool) -> (World, std::path::PathBuf, Arc<Mutex<usize>>) {
    let w = world_with(fail_publish);
    let root = w.dir.path().join("dns");
    let opened = Arc::new(Mutex::new(0usize));
    let (r, o) = (root.clone(), Arc::clone(&opened));
    let backend = w.backend.with_names(Box::new(move |_serve| {
        *o.lock().unwrap_or_else(|p| p.into_inner()) += 1;
        Ok(Arc::new(cnm_dns_records::Store::at(r.clone(), None))
            as Arc<dyn cnm_model::NameService>)
    }));
    (World { backend, ..w }, root, opened)
}

fn dns_input(cid: &str, ip: &str, name: &str, aliases: Value) -> Value {
    let mut v = input(cid, ip);
    v["network"]["dns_enabled"] = json!(true);
    v["container_name"] = json!(name);
    v["network_options"]["aliases"] = aliases;
    v
}

fn records(root: &std::path::Path) -> Vec<(String, Vec<String>, Vec<String>)> {
    cnm_dns_records::Store::at(root, None)
        .endpoints("net1")
        .expect("records")
        .into_iter()
        .map(|r| {
            (
                r.name,
                r.aliases,
                r.addresses.iter().map(ToString::to_string).collect(),
            )
        })
        .collect()
}

#[test]
fn dns_enabled_registers_the_names_and_reports_the_resolver() {
    let (w, root, _) = named_world(false);
    let a = dns_input("c1", "10.88.0.7", "web", json!(["www", "c1"]));
    let j = serde_json::to_value(setup(&w, &a, NS1).expect("setup")).expect("json");
    assert_eq!(j["dns_server_ips"], json!(["10.88.0.1", "fd00:88::1"]));
    assert_eq!(j["dns_search_domains"], json!(["dns.podman"]));
    assert_eq!(
        records(&root),
        [(
            "web".to_string(),
            vec!["www".to_string(), "c1".to_string()],
            vec!["10.88.0.7".to_string(), "fd00:88::5".to_string()]
        )]
    );
    let settings = cnm_dns_records::Store::at(&root, None)
        .settings("net1")
        .expect("read")
        .expect("settings");
    assert_eq!(settings.domain.as_deref(), Some("dns.podman"));
    assert!(!settings.internal);
    let b = dns_input("c2", "10.88.0.8", "db", json!(null));
    let mut b = b;
    b["network_options"]["static_ips"] = json!(["10.88.0.8", "fd00:88::8"]);
    setup(&w, &b, NS2).expect("second");
    assert_eq!(records(&root).len(), 2);
    // Teardown removes the names (twice is fine), the last one the store.
    teardown(&w, &a, NS1).expect("teardown c1");
    assert_eq!(records(&root)[0].0, "db");
    teardown(&w, &a, NS1).expect("teardown c1 again");
    teardown(&w, &b, NS2).expect("teardown c2");
    assert!(!root.exists(), "{:?}", files_under(&root));
    assert!(host_links(&w).is_empty(), "{:?}", host_links(&w));
}

#[test]
fn an_internal_network_with_names_answers_and_forwards_nothing() {
    let (w, root, _) = named_world(false);
    let mut a = dns_input("c1", "10.88.0.7", "web", json!(null));
    a["network"]["internal"] = json!(true);
    a["network"]["network_dns_servers"] = json!(["10.0.0.53"]);
    let j = serde_json::to_value(setup(&w, &a, NS1).expect("setup")).expect("json");
    assert_eq!(j["dns_server_ips"], json!(["10.88.0.1", "fd00:88::1"]));
    let s = cnm_dns_records::Store::at(&root, None)
        .settings("net1")
        .expect("read")
        .expect("settings");
    assert!(s.internal);
    assert_eq!(s.upstreams[0].to_string(), "10.0.0.53");
    teardown(&w, &a, NS1).expect("teardown");
}

#[test]
fn names_go_again_when_a_later_step_fails() {
    let (w, root, _) = named_world(true);
    let mut a = dns_input("c1", "10.88.0.7", "web", json!(null));
    a["port_mappings"] = json!([{"container_port": 80, "host_ip": "", "host_port": 8080,
        "protocol": "tcp", "range": 1}]);
    let e = setup(&w, &a, NS1).expect_err("publish fails");
    assert!(e.to_string().contains("injected failure"), "{e}");
    assert!(!root.exists(), "{:?}", files_under(&root));
    assert!(host_links(&w).is_empty(), "{:?}", host_links(&w));
}

#[test]
fn a_bad_name_is_refused_before_anything_is_made() {
    let (w, root, _) = named_world(false);
    for (name, aliases, want) in [
        ("web", json!(["bad name"]), "alias \"bad name\""),
        ("-web", json!(null), "container_name \"-web\""),
    ] {
        let a = dns_input("c1", "10.88.0.7", name, aliases);
        let e = setup(&w, &a, NS1).expect_err(want);
        assert!(e.to_string().contains(want), "{e}");
        assert!(!root.exists());
        assert!(host_links(&w).is_empty(), "{:?}", host_links(&w));
        assert!(
            files_under(w.dir.path()).is_empty(),
            "{:?}",
            files_under(w.dir.path())
        );
    }
}

#[test]
fn networks_without_names_never_open_the_store() {
    let (w, _, opened) = named_world(false);
    let v = input("c1", "10.88.0.7");
    setup(&w, &v, NS1).expect("setup");
    teardown(&w, &v, NS1).expect("teardown");
    assert_eq!(*opened.lock().unwrap_or_else(|p| p.into_inner()), 0);
    // Without a name service, dns_enabled is refused by name.
    let plain = world();
    let e = setup(
        &plain,
        &dns_input("c1", "10.88.0.7", "web", json!(null)),
        NS1,
    )
    .expect_err("no service");
    assert!(e.to_string().contains("--disable-dns"), "{e}");
    assert!(host_links(&plain).is_empty());
}

#[test]
fn an_overlay_network_with_names_listens_on_the_blocks_gateways() {
    let (w, root, _) = named_world(false);
    let agent = w.dir.path().join("agent");
    std::fs::create_dir_all(&agent).expect("agent dir");
    agent_state(&agent, &["10.214.0.8/29", "10.214.0.16/29"]);
    w.system.state.borrow_mut().host.insert(
        "cnmb42".into(),
        FakeLink {
            state: cnm_kernel::LinkState {
                index: 90,
                name: "cnmb42".into(),
                kind: Some("bridge".into()),
                mtu: 1450,
                up: true,
                ..Default::default()
            },
            addrs: vec!["10.214.0.9/29".parse().expect("net")],
            ..Default::default()
        },
    );
    let mut a = overlay_input(&w, "c1");
    a["network"]["dns_enabled"] = json!(true);
    a["container_name"] = json!("web");
    let j = serde_json::to_value(setup(&w, &a, NS1).expect("setup")).expect("json");
    assert_eq!(j["dns_server_ips"], json!(["10.214.0.9", "10.214.0.17"]));
    let recs = cnm_dns_records::Store::at(&root, None)
        .endpoints("ov1")
        .expect("records");
    assert_eq!(recs[0].name, "web");
    assert_eq!(recs[0].addresses[0].to_string(), "10.214.0.10");
    teardown(&w, &a, NS1).expect("teardown");
    assert!(!root.exists());
}
