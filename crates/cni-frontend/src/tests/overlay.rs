//! The overlay's CNI path (`simpleoverlay`) on the fake system: addresses
//! from the held blocks through the held-blocks IPAM driver, every held
//! block full is code 11 saying why, no agent state is code 11 naming
//! cnmd, DEL works without the state, CHECK and GC reach IPAM.

use std::sync::Arc;

use cni_protocol::{code, CniEnv, NetConf, Plugin, Request};
use cnm_cluster_ipam::state::STATE_VERSION;
use cnm_cluster_ipam::{HostState, NetworkSpec as ClusterNet};
use cnm_kernel::fake::FakeSystem;
use serde_json::{json, Value};

use crate::{simpleoverlay, CniAdapter, Settings};

const NETNS: &str = "/run/netns/test-overlay";

fn request(cmd: &str, cid: &str, conf: &Value) -> Request {
    let bytes = serde_json::to_vec(conf).expect("json");
    let env = CniEnv::from_lookup(|k| {
        match k {
            "CNI_COMMAND" => Some(cmd),
            "CNI_CONTAINERID" => Some(cid),
            "CNI_NETNS" => Some(NETNS),
            "CNI_IFNAME" => Some("eth0"),
            "CNI_PATH" => Some("/opt/cni/bin"),
            _ => None,
        }
        .map(String::from)
    })
    .expect("env");
    Request {
        env,
        conf: NetConf::parse(&bytes).expect("conf"),
        stdin: bytes,
    }
}

struct World {
    plugin: CniAdapter,
    system: Arc<FakeSystem>,
    dir: tempfile::TempDir,
}

fn state(dir: &std::path::Path, blocks: &[&str]) -> HostState {
    HostState {
        version: STATE_VERSION,
        network: ClusterNet {
            name: "ov1".into(),
            subnet: "10.214.0.0/24".parse().expect("net"),
            vni: 42,
            block_prefix: 29,
            subnet6: None,
            block_prefix6: None,
        },
        host: "h1".into(),
        blocks: blocks.iter().map(|b| b.parse().expect("net")).collect(),
        mtu: 1450,
        data_dir: dir.join("store"),
        bridge: "cnmb42".into(),
        vxlan: "cnmx42".into(),
    }
}

fn world(blocks: Option<&[&str]>) -> World {
    let dir = tempfile::tempdir().expect("tempdir");
    if let Some(b) = blocks {
        state(dir.path(), b).store(dir.path()).expect("state");
    }
    let system = Arc::new(FakeSystem::new(NETNS));
    let plugin = simpleoverlay(Arc::clone(&system), Settings::default(), "test").expect("plugin");
    World {
        plugin,
        system,
        dir,
    }
}

fn conf(w: &World) -> Value {
    json!({"cniVersion": "1.1.0", "name": "ov1", "type": "simpleoverlay",
        "stateDir": w.dir.path().display().to_string(), "vni": 42})
}

#[test]
fn add_allocates_in_a_held_block_and_del_releases_it() {
    let w = world(Some(&["10.214.0.8/29"]));
    let r = w.plugin.add(&request("ADD", "c1", &conf(&w))).expect("add");
    let a = r.ips[0].address;
    assert!(
        "10.214.0.8/29"
            .parse::<ipnet::IpNet>()
            .expect("net")
            .contains(&a.addr()),
        "{a}"
    );
    assert_eq!(
        r.ips[0].gateway.map(|g| g.to_string()).as_deref(),
        Some("10.214.0.9")
    );
    assert!(
        r.routes.iter().any(|x| x.dst.prefix_len() == 0),
        "{:?}",
        r.routes
    );
    // The reservation is in the agent's store, in the reference format.
    let file = w.dir.path().join("store/ov1").join(a.addr().to_string());
    assert!(file.exists(), "{}", file.display());
    let mut prev = conf(&w);
    prev["prevResult"] = r.to_json("1.1.0").expect("json");
    w.plugin
        .check(&request("CHECK", "c1", &prev))
        .expect("check");
    // DEL needs no state file.
    std::fs::remove_file(w.dir.path().join("ov1.json")).expect("rm state");
    w.plugin.del(&request("DEL", "c1", &conf(&w))).expect("del");
    assert!(w
        .system
        .state
        .borrow()
        .host
        .keys()
        .all(|k| !k.starts_with("veth")));
}

#[test]
fn full_blocks_are_code_11_saying_why_and_nothing_is_left() {
    // A /29 block: five addresses after the gateway.
    let w = world(Some(&["10.214.0.8/29"]));
    for i in 0..5 {
        w.plugin
            .add(&request("ADD", &format!("c{i}"), &conf(&w)))
            .expect("add");
        w.system.state.borrow_mut().container = Some(Default::default());
    }
    let e = w
        .plugin
        .add(&request("ADD", "c5", &conf(&w)))
        .expect_err("full");
    assert_eq!(e.code, code::TRY_AGAIN_LATER, "{e:?}");
    assert_eq!(
        e.msg,
        "no free address in the 1 block(s) of network \"ov1\" this host holds"
    );
    assert!(e.details.contains("is etcd reachable?"), "{e:?}");
    assert!(!w
        .system
        .state
        .borrow()
        .host
        .contains_key(&cnm_bridge::names::host_veth_name("c5", "eth0")));
}

#[test]
fn without_the_agents_state_add_is_code_11_naming_cnmd_and_gc_is_fine() {
    let w = world(None);
    let e = w
        .plugin
        .add(&request("ADD", "c1", &conf(&w)))
        .expect_err("no state");
    assert_eq!(e.code, code::TRY_AGAIN_LATER, "{e:?}");
    assert!(e.details.contains("cnmd"), "{e:?}");
    w.plugin.del(&request("DEL", "c1", &conf(&w))).expect("del");
    let mut gc = conf(&w);
    gc["cni.dev/valid-attachments"] = json!([]);
    // GC needs the network's bridge from the state: without it, 11 again.
    let e = w.plugin.gc(&request("GC", "c1", &gc)).expect_err("gc");
    assert_eq!(e.code, code::TRY_AGAIN_LATER, "{e:?}");
}

#[test]
fn gc_releases_addresses_of_attachments_that_are_gone() {
    let w = world(Some(&["10.214.0.8/29"]));
    let r1 = w.plugin.add(&request("ADD", "c1", &conf(&w))).expect("c1");
    w.system.state.borrow_mut().container = Some(Default::default());
    let r2 = w.plugin.add(&request("ADD", "c2", &conf(&w))).expect("c2");
    let mut gc = conf(&w);
    gc["cni.dev/valid-attachments"] = json!([{"containerID": "c2", "ifname": "eth0"}]);
    w.plugin.gc(&request("GC", "c1", &gc)).expect("gc");
    let store = w.dir.path().join("store/ov1");
    assert!(!store.join(r1.ips[0].address.addr().to_string()).exists());
    assert!(store.join(r2.ips[0].address.addr().to_string()).exists());
}
