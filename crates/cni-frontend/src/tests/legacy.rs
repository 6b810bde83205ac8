//! Attachments the reference `bridge` made, through the CNI front-end on
//! the fake system: CHECK finds a randomly named host veth through the
//! container veth's peer index.

use cni_protocol::{CniEnv, NetConf, Plugin, Request};
use cnm_kernel::fake::FakeSystem;
use serde_json::json;

use super::plugin_on;

const NETNS: &str = "/run/netns/test-legacy";

fn request(cmd: &str, conf: &serde_json::Value) -> Request {
    let bytes = serde_json::to_vec(conf).expect("json");
    let env = CniEnv::from_lookup(|k| {
        match k {
            "CNI_COMMAND" => Some(cmd),
            "CNI_CONTAINERID" => Some("c1"),
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

/// Give the host veth a random name, as the reference plugin does.
fn rename_host_veth(system: &FakeSystem, to: &str) {
    let mut st = system.state.borrow_mut();
    let ours = st
        .host
        .keys()
        .find(|k| k.starts_with("veth"))
        .cloned()
        .expect("host veth");
    let mut link = st.host.remove(&ours).expect("host veth");
    link.state.name = to.to_string();
    st.host.insert(to.to_string(), link);
}

#[test]
fn check_finds_a_randomly_named_host_veth_through_the_peer_index() {
    let p = plugin_on(FakeSystem::new(NETNS), Vec::new());
    let system = p.system.clone();
    let mut conf = json!({
        "cniVersion": "1.0.0", "name": "n", "type": "bridge",
        "bridge": "br-l", "isGateway": true, "ipam": {"type": "fake"}
    });
    let r = p.add(&request("ADD", &conf)).expect("add");
    conf["prevResult"] = r.to_json("1.0.0").expect("json");
    rename_host_veth(&system, "veth1befa9f4");
    p.check(&request("CHECK", &conf)).expect("check");

    // A host link with the peer's index that is not the peer is refused.
    system
        .state
        .borrow_mut()
        .host
        .get_mut("veth1befa9f4")
        .expect("veth")
        .state
        .peer_index = Some(999);
    let e = p.check(&request("CHECK", &conf)).expect_err("not the peer");
    assert!(e.msg.contains("not found"), "{e:?}");
}
