//! Unit tests of the CNI front-end with the bridge driver over the fake
//! kernel, firewall and IPAM: the ADD transaction, DEL idempotence, CHECK,
//! GC and config validation, exactly as CNI requests arrive.

use std::sync::Arc;

use cni_protocol::{code, CniEnv, NetConf, Plugin, Request};
use cnm_bridge::names::host_veth_name;
use cnm_kernel::fake::{FakeIpamDriver, FakeSystem};
use cnm_kernel::KernelSandboxes;
use cnm_model::Controller;
use serde_json::{json, Value};

use super::{register_bridge, CniAdapter, IpamPolicy};

const NETNS: &str = "/run/netns/test-c1";

pub(crate) fn request(cmd: &str, cid: &str, ifname: &str, conf: &Value) -> Request {
    let bytes = serde_json::to_vec(conf).expect("json");
    let env = CniEnv::from_lookup(|k| {
        match k {
            "CNI_COMMAND" => Some(cmd),
            "CNI_CONTAINERID" => Some(cid),
            "CNI_NETNS" => Some(NETNS),
            "CNI_IFNAME" => Some(ifname),
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

fn conf(extra: Value) -> Value {
    let mut base = json!({
        "cniVersion": "1.0.0",
        "name": "testnet",
        "type": "simplebridge",
        "bridge": "br-test",
        "isGateway": true,
        "ipam": {"type": "fake"}
    });
    if let (Some(b), Some(e)) = (base.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            b.insert(k.clone(), v.clone());
        }
    }
    base
}

/// The adapter over the fake system, as simplebridge builds it (the fake
/// IPAM driver in-process under the type `fake`).
pub(crate) struct TestPlugin {
    pub adapter: CniAdapter,
    pub system: Arc<FakeSystem>,
}

impl std::ops::Deref for TestPlugin {
    type Target = CniAdapter;
    fn deref(&self) -> &Self::Target {
        &self.adapter
    }
}

pub(crate) fn plugin_on(system: FakeSystem, cni_path: Vec<std::path::PathBuf>) -> TestPlugin {
    let system = Arc::new(system);
    let controller = Controller::new(Arc::new(KernelSandboxes::new(Arc::clone(&system))));
    register_bridge(&controller, &system).expect("bridge");
    controller
        .register_ipam_driver(
            "fake",
            Arc::new(FakeIpamDriver {
                state: system.state.clone(),
            }),
        )
        .expect("fake IPAM");
    TestPlugin {
        adapter: CniAdapter::new(
            controller,
            "bridge",
            IpamPolicy::FromConfig {
                in_process: vec!["fake".into()],
                force_exec: false,
                cni_path,
            },
            system.clone(),
            "simplebridge test",
        ),
        system,
    }
}

fn plugin() -> TestPlugin {
    plugin_on(FakeSystem::new(NETNS), Vec::new())
}

#[test]
fn add_builds_the_endpoint_and_replies_in_order() {
    let p = plugin();
    let c = conf(json!({"isDefaultGateway": true, "ipMasq": true, "mtu": 1400}));
    let r = p.add(&request("ADD", "c1", "eth0", &c)).expect("add");
    let names: Vec<&str> = r.interfaces.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names[0], "br-test");
    assert!(names[1].starts_with("veth") && names[1].len() == 15);
    assert_eq!(names[2], "eth0");
    assert_eq!(r.interfaces[2].sandbox.as_deref(), Some(NETNS));
    assert!(r.interfaces[1].sandbox.is_none());
    assert_eq!(r.ips.len(), 1);
    assert_eq!(r.ips[0].interface, Some(2));
    assert_eq!(r.ips[0].address.to_string(), "10.99.0.2/24");
    assert_eq!(r.routes.len(), 1, "default route added: {:?}", r.routes);
    assert_eq!(r.routes[0].dst.to_string(), "0.0.0.0/0");

    let st = p.system.state.borrow();
    let br = st.host.get("br-test").expect("bridge");
    assert_eq!(br.addrs[0].to_string(), "10.99.0.1/24");
    assert_eq!(br.state.mtu, 1400);
    let c0 = st
        .container
        .as_ref()
        .and_then(|c| c.get("eth0"))
        .expect("eth0");
    assert!(c0.state.up);
    assert_eq!(c0.state.mtu, 1400);
    assert_eq!(c0.addrs[0].to_string(), "10.99.0.2/24");
    assert_eq!(
        st.sysctls.get("net/ipv4/ip_forward").map(String::as_str),
        Some("1")
    );
    assert_eq!(st.masquerade.get("testnet").map(Vec::len), Some(1));
}

#[test]
fn result_versions_have_the_right_shape() {
    for (v, has_version) in [
        ("0.3.1", true),
        ("0.4.0", true),
        ("1.0.0", false),
        ("1.1.0", false),
    ] {
        let p = plugin();
        let c = conf(json!({"cniVersion": v}));
        let r = p.add(&request("ADD", "c1", "eth0", &c)).expect("add");
        let j = r.to_json(v).expect("to_json");
        assert_eq!(j["cniVersion"], v);
        assert_eq!(
            j["ips"][0].get("version").is_some(),
            has_version,
            "{v}: {j}"
        );
        assert_eq!(j["interfaces"][2]["name"], "eth0");
        assert_eq!(
            j["interfaces"][0].get("mtu").is_some(),
            v == "1.1.0",
            "{v}: {j}"
        );
    }
}

#[test]
fn add_rolls_back_every_step_on_failure() {
    for failing in [
        "ensure bridge",
        "create veth",
        "attach port",
        "configure container",
        "add host address",
        "sysctl",
        "ensure masquerade",
    ] {
        let p = plugin();
        p.system.state.borrow_mut().fail_on = Some(failing.to_string());
        let c = conf(json!({"ipMasq": true}));
        let err = p.add(&request("ADD", "c1", "eth0", &c)).expect_err(failing);
        assert_eq!(err.code, code::KERNEL, "{failing}: {err:?}");
        let st = p.system.state.borrow();
        assert!(st.ipam.is_empty(), "{failing}: IPAM not released");
        assert!(
            st.host.keys().all(|k| !k.starts_with("veth")),
            "{failing}: host veth left: {:?}",
            st.host.keys()
        );
        assert!(
            st.container.as_ref().is_some_and(|c| c.is_empty()),
            "{failing}: container link left"
        );
    }
}

#[test]
fn exhausted_ipam_creates_no_link() {
    let p = plugin();
    p.system.state.borrow_mut().fail_on = Some("ipam add".into());
    let err = p
        .add(&request("ADD", "c1", "eth0", &conf(json!({}))))
        .expect_err("exhausted");
    assert_eq!(err.code, code::IPAM);
    let st = p.system.state.borrow();
    assert!(
        !st.log.iter().any(|l| l.starts_with("create veth")),
        "{:?}",
        st.log
    );
    assert!(st.container.as_ref().is_some_and(|c| c.is_empty()));
}

#[test]
fn existing_ifname_is_refused_and_its_address_released() {
    let p = plugin();
    let c = conf(json!({}));
    p.add(&request("ADD", "c1", "eth0", &c)).expect("first");
    let err = p
        .add(&request("ADD", "c2", "eth0", &c))
        .expect_err("dup ifname");
    assert!(err.msg.contains("already exists"), "{err:?}");
    assert_eq!(
        p.system.state.borrow().ipam.len(),
        1,
        "the second ADD's address is released, the first one's kept"
    );
}

#[test]
fn repeated_add_of_a_live_attachment_keeps_its_address() {
    let p = plugin();
    let c = conf(json!({}));
    let first = p.add(&request("ADD", "c1", "eth0", &c)).expect("first");
    let err = p
        .add(&request("ADD", "c1", "eth0", &c))
        .expect_err("repeated ADD");
    assert!(err.msg.contains("already exists"), "{err:?}");
    assert!(err.details.contains("repeated ADD"), "{err:?}");
    let st = p.system.state.borrow();
    assert_eq!(
        st.ipam.get(&("c1".to_string(), "eth0".to_string())),
        Some(&first.ips[0].address),
        "the live attachment's reservation must stay"
    );
    let veth = host_veth_name("c1", "eth0");
    assert!(st.host.contains_key(&veth), "its host veth must stay");
}

#[test]
fn stale_host_veth_from_a_crash_is_replaced() {
    let p = plugin();
    let c = conf(json!({}));
    p.add(&request("ADD", "c1", "eth0", &c)).expect("add");
    // Simulate a crash: the container interface is gone but the host veth
    // and reservation stay; the runtime's DEL then a new ADD must work.
    {
        let mut st = p.system.state.borrow_mut();
        st.container = Some(Default::default());
        st.ipam.clear();
    }
    let veth = host_veth_name("c1", "eth0");
    assert!(p.system.state.borrow().host.contains_key(&veth));
    p.add(&request("ADD", "c1", "eth0", &c))
        .expect("re-add over a stale veth");
}

#[test]
fn del_is_idempotent_and_works_without_the_sandbox() {
    let p = plugin();
    let c = conf(json!({}));
    p.add(&request("ADD", "c1", "eth0", &c)).expect("add");
    p.del(&request("DEL", "c1", "eth0", &c)).expect("del");
    p.del(&request("DEL", "c1", "eth0", &c)).expect("del again");
    let st = p.system.state.borrow();
    assert!(st.ipam.is_empty());
    assert!(st.host.keys().all(|k| !k.starts_with("veth")));
    drop(st);

    // The namespace is deleted before DEL: the address and host veth go anyway.
    p.add(&request("ADD", "c2", "eth0", &c)).expect("add c2");
    p.system.state.borrow_mut().container = None;
    p.del(&request("DEL", "c2", "eth0", &c))
        .expect("del without netns");
    let st = p.system.state.borrow();
    assert!(st.ipam.is_empty(), "address not released");
    assert!(
        st.host.keys().all(|k| !k.starts_with("veth")),
        "{:?}",
        st.host.keys()
    );
}

#[test]
fn del_collects_errors_and_still_releases_ipam() {
    let p = plugin();
    let c = conf(json!({}));
    p.add(&request("ADD", "c1", "eth0", &c)).expect("add");
    p.system.state.borrow_mut().fail_on = Some("delete host link".into());
    let err = p
        .del(&request("DEL", "c1", "eth0", &c))
        .expect_err("injected");
    assert!(err.to_string().contains("host veth"), "{err}");
    let st = p.system.state.borrow();
    assert!(st.ipam.is_empty(), "IPAM released first");
    assert!(
        st.log
            .iter()
            .any(|l| l.starts_with("delete container link")),
        "fell back to the container end: {:?}",
        st.log
    );
    assert!(st.container.as_ref().is_some_and(|c| c.is_empty()));
}

#[test]
fn del_does_not_enter_the_sandbox_when_the_host_veth_goes() {
    let p = plugin();
    let c = conf(json!({}));
    p.add(&request("ADD", "c1", "eth0", &c)).expect("add");
    p.system.state.borrow_mut().log.clear();
    p.del(&request("DEL", "c1", "eth0", &c)).expect("del");
    let st = p.system.state.borrow();
    assert!(
        !st.log
            .iter()
            .any(|l| l.starts_with("delete container link")),
        "{:?}",
        st.log
    );
    assert!(
        st.container.as_ref().is_some_and(|c| c.is_empty()),
        "pair removed"
    );
}

#[test]
fn check_passes_after_add_and_fails_when_an_address_is_removed() {
    let p = plugin();
    let c = conf(json!({"isDefaultGateway": true, "ipMasq": true}));
    let r = p.add(&request("ADD", "c1", "eth0", &c)).expect("add");
    let mut with_prev = c.clone();
    with_prev["prevResult"] = r.to_json("1.0.0").expect("json");
    p.check(&request("CHECK", "c1", "eth0", &with_prev))
        .expect("check after add");

    // Missing prevResult.
    let err = p
        .check(&request("CHECK", "c1", "eth0", &c))
        .expect_err("no prevResult");
    assert_eq!(err.code, code::INVALID_NETWORK_CONFIG);

    p.system
        .state
        .borrow_mut()
        .container
        .as_mut()
        .and_then(|c| c.get_mut("eth0"))
        .expect("eth0")
        .addrs
        .clear();
    let err = p
        .check(&request("CHECK", "c1", "eth0", &with_prev))
        .expect_err("address gone");
    assert!(err.msg.contains("missing"), "{err:?}");
}

#[test]
fn check_fails_when_masquerade_or_bridge_address_is_gone() {
    let p = plugin();
    let c = conf(json!({"ipMasq": true}));
    let r = p.add(&request("ADD", "c1", "eth0", &c)).expect("add");
    let mut with_prev = c.clone();
    with_prev["prevResult"] = r.to_json("1.0.0").expect("json");
    p.system.state.borrow_mut().masquerade.clear();
    assert!(p
        .check(&request("CHECK", "c1", "eth0", &with_prev))
        .is_err());
    p.add(&request("ADD", "c2", "eth1", &c)).ok();
    p.system
        .state
        .borrow_mut()
        .host
        .get_mut("br-test")
        .expect("bridge")
        .addrs
        .clear();
    let err = p
        .check(&request("CHECK", "c1", "eth0", &with_prev))
        .expect_err("gw gone");
    assert!(
        err.msg.contains("gateway") || err.msg.contains("masquerade"),
        "{err:?}"
    );
}

#[test]
fn gc_removes_what_is_not_valid() {
    let p = plugin();
    let c = conf(json!({"cniVersion": "1.1.0", "ipMasq": true}));
    p.add(&request("ADD", "c1", "eth0", &c)).expect("c1");
    p.add(&request("ADD", "c2", "eth1", &c)).expect("c2");
    let mut gc = c.clone();
    gc["cni.dev/valid-attachments"] = json!([{"containerID": "c1", "ifname": "eth0"}]);
    p.gc(&request("GC", "c1", "eth0", &gc)).expect("gc");
    {
        let st = p.system.state.borrow();
        assert_eq!(st.ipam.len(), 1);
        assert!(st.host.contains_key(&host_veth_name("c1", "eth0")));
        assert!(!st.host.contains_key(&host_veth_name("c2", "eth1")));
        assert!(
            st.masquerade.contains_key("testnet"),
            "still one attachment"
        );
    }
    gc["cni.dev/valid-attachments"] = json!([]);
    p.gc(&request("GC", "c1", "eth0", &gc)).expect("gc all");
    let st = p.system.state.borrow();
    assert!(st.ipam.is_empty());
    assert!(st.host.keys().all(|k| !k.starts_with("veth")));
    assert!(st.masquerade.is_empty());
}

#[test]
fn layer2_mode_has_no_addresses() {
    let p = plugin();
    let mut c = conf(json!({"isGateway": false}));
    c["ipam"] = json!({});
    let r = p.add(&request("ADD", "c1", "eth0", &c)).expect("l2 add");
    assert!(r.ips.is_empty());
    let st = p.system.state.borrow();
    assert!(st.ipam.is_empty());
    assert!(st
        .container
        .as_ref()
        .and_then(|c| c.get("eth0"))
        .is_some_and(|l| l.state.up));
}

#[test]
fn container_mac_precedence() {
    let p = plugin();
    let c = conf(json!({
        "runtimeConfig": {"mac": "c2:00:00:00:00:01"},
        "args": {"cni": {"mac": "c2:00:00:00:00:02"}}
    }));
    let r = p.add(&request("ADD", "c1", "eth0", &c)).expect("add");
    assert_eq!(r.interfaces[2].mac.as_deref(), Some("c2:00:00:00:00:01"));
}

#[test]
fn invalid_configs_are_refused_with_code_7_and_touch_nothing() {
    let cases = [
        json!({"hairpinMode": true, "promiscMode": true}),
        json!({"vlan": 5000}),
        json!({"vlan": -1}),
        json!({"mtu": 100000}),
        json!({"mtu": -5}),
        json!({"disableContainerInterface": true}),
        json!({"bridge": "this-name-is-too-long"}),
        json!({"bridge": "a/b"}),
        json!({"vlanTrunk": [{"minID": 10, "maxID": 5}]}),
        json!({"vlanTrunk": [{"id": 0}]}),
        json!({"runtimeConfig": {"mac": "01:00:00:00:00:01"}}),
        json!({"ipMasqBackend": "ebtables"}),
        json!({"mtu": "big"}),
    ];
    for extra in cases {
        let p = plugin();
        let err = p
            .add(&request("ADD", "c1", "eth0", &conf(extra.clone())))
            .expect_err(&extra.to_string());
        assert_eq!(err.code, code::INVALID_NETWORK_CONFIG, "{extra}: {err:?}");
        let st = p.system.state.borrow();
        assert!(st.log.is_empty(), "{extra}: {:?}", st.log);
        assert!(st.ipam.is_empty());
    }
}

#[test]
fn status_reports_the_firewall() {
    let p = plugin();
    let c = conf(json!({"cniVersion": "1.1.0", "ipMasq": true}));
    p.status(&request("STATUS", "c1", "eth0", &c))
        .expect("status ok");
    p.system.state.borrow_mut().fail_on = Some("firewall available".into());
    let err = p
        .status(&request("STATUS", "c1", "eth0", &c))
        .expect_err("nft gone");
    assert_eq!(err.code, code::PLUGIN_NOT_AVAILABLE);
}

#[test]
fn gc_without_a_valid_list_touches_nothing() {
    let p = plugin();
    let c = conf(json!({"cniVersion": "1.1.0", "ipMasq": true}));
    p.add(&request("ADD", "c1", "eth0", &c)).expect("c1");
    let err = p.gc(&request("GC", "c1", "eth0", &c)).expect_err("no list");
    assert_eq!(err.code, code::INVALID_NETWORK_CONFIG);
    let st = p.system.state.borrow();
    assert_eq!(st.ipam.len(), 1);
    assert!(st.host.contains_key(&host_veth_name("c1", "eth0")));
    assert!(st.masquerade.contains_key("testnet"));
}

#[test]
fn gc_of_one_network_keeps_another_networks_ports_on_a_shared_bridge() {
    let p = plugin();
    let a = conf(json!({"cniVersion": "1.1.0", "name": "net-a"}));
    let b = conf(json!({"cniVersion": "1.1.0", "name": "net-b"}));
    p.add(&request("ADD", "c1", "eth0", &a)).expect("a");
    p.add(&request("ADD", "c2", "eth1", &b)).expect("b");
    let mut gc = a.clone();
    gc["cni.dev/valid-attachments"] = json!([]);
    p.gc(&request("GC", "c1", "eth0", &gc)).expect("gc a");
    let st = p.system.state.borrow();
    assert!(!st.host.contains_key(&host_veth_name("c1", "eth0")));
    assert!(st.host.contains_key(&host_veth_name("c2", "eth1")));
}

#[test]
fn del_works_with_a_config_add_would_refuse() {
    let p = plugin();
    let c = conf(json!({}));
    p.add(&request("ADD", "c1", "eth0", &c)).expect("add");
    let broken = conf(json!({
        "runtimeConfig": {"mac": "not-a-mac"},
        "hairpinMode": true, "promiscMode": true, "mtu": 5
    }));
    p.del(&request("DEL", "c1", "eth0", &broken))
        .expect("lenient del");
    let st = p.system.state.borrow();
    assert!(st.ipam.is_empty());
    assert!(st.host.keys().all(|k| !k.starts_with("veth")));
}

#[test]
fn layer2_mode_needs_a_rich_result_version() {
    let p = plugin();
    let mut c = conf(json!({"cniVersion": "0.2.0", "isGateway": false}));
    c["ipam"] = json!({});
    let err = p
        .add(&request("ADD", "c1", "eth0", &c))
        .expect_err("0.2.0 l2");
    assert_eq!(err.code, code::INVALID_NETWORK_CONFIG);
    assert!(p.system.state.borrow().log.is_empty());
}

#[test]
fn spoof_check_failure_rolls_back_everything() {
    let p = plugin();
    p.system.state.borrow_mut().fail_on = Some("ensure spoof check".into());
    let c = conf(json!({"macspoofchk": true}));
    p.add(&request("ADD", "c1", "eth0", &c))
        .expect_err("spoof fails");
    let st = p.system.state.borrow();
    assert!(st.ipam.is_empty());
    assert!(st.spoof.is_empty());
    assert!(st.host.keys().all(|k| !k.starts_with("veth")));
}

#[test]
fn vlan_gateway_name_too_long_is_a_config_error() {
    let p = plugin();
    let c = conf(json!({"bridge": "br-0123456789", "vlan": 4000}));
    let err = p
        .add(&request("ADD", "c1", "eth0", &c))
        .expect_err("long helper name");
    assert_eq!(err.code, code::INVALID_NETWORK_CONFIG);
    assert!(p.system.state.borrow().log.is_empty());
}

mod exec;
mod legacy;
mod overlay;
