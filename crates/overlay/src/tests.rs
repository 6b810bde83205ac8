//! The overlay driver on the fake system (no root): the agent's state is a
//! file in a temp directory; the network takes its bridge, MTU and gateway
//! from it, masquerades the cluster subnet(s) (not the block), refuses configs
//! that contradict the cluster before creating anything, and never deletes
//! the agent's bridge. Its IPAM driver allocates in the held blocks, from
//! the state `create_network` read (one read per ADD), one address per
//! family on a dual-stack network.

use std::sync::Arc;

use cnm_cluster_ipam::state::STATE_VERSION;
use cnm_cluster_ipam::{HostState, NetworkSpec as ClusterNet};
use cnm_kernel::fake::{FakeSystem, Shared};
use cnm_kernel::KernelSandboxes;
use cnm_model::{
    AllocationRequest, Controller, CreateNetwork, DataScope, EndpointSpec, ErrorKind, IpamDriver,
    IpamNetwork, IpamSpec, NetworkDriver, NetworkOptions, NetworkSpec, OwnerKey, SandboxPlacement,
};
use serde_json::json;

use super::{OverlayDriver, HELD_BLOCKS_IPAM};

const PRIMARY: &str = "/run/netns/primary";

struct World {
    controller: Controller,
    state: Shared,
    dir: tempfile::TempDir,
}

fn world(with_state: bool) -> World {
    let system = Arc::new(FakeSystem::new(PRIMARY));
    let state = system.state.clone();
    let controller = Controller::new(Arc::new(KernelSandboxes::new(Arc::clone(&system))));
    let overlay = OverlayDriver::new(system);
    controller
        .register_ipam_driver(HELD_BLOCKS_IPAM, Arc::new(overlay.ipam_driver()))
        .expect("register held blocks");
    controller
        .register_driver("overlay", Arc::new(overlay))
        .expect("register overlay");
    let dir = tempfile::tempdir().expect("tempdir");
    if with_state {
        HostState {
            version: STATE_VERSION,
            network: ClusterNet {
                name: "ov1".into(),
                subnet: "10.214.0.0/16".parse().expect("net"),
                vni: 42,
                block_prefix: 26,
                subnet6: None,
                block_prefix6: None,
            },
            host: "h1".into(),
            blocks: vec!["10.214.0.64/26".parse().expect("net")],
            mtu: 1450,
            data_dir: dir.path().join("store"),
            bridge: "cnmb42".into(),
            vxlan: "cnmx42".into(),
        }
        .store(dir.path())
        .expect("state");
    }
    World {
        controller,
        state,
        dir,
    }
}

fn spec(w: &World, extra: serde_json::Value) -> NetworkSpec {
    let mut options = json!({"stateDir": w.dir.path().display().to_string()});
    if let (Some(o), Some(e)) = (options.as_object_mut(), extra.as_object()) {
        o.extend(e.clone());
    }
    NetworkSpec {
        name: "ov1".into(),
        driver: "overlay".into(),
        options: NetworkOptions::from_json(options).expect("options"),
        ipam: Some(IpamSpec {
            driver: HELD_BLOCKS_IPAM.into(),
            pools: Vec::new(),
            options: None,
        }),
        ..Default::default()
    }
}

#[test]
fn the_overlay_is_a_global_driver() {
    let w = world(true);
    let d = w.controller.driver("overlay").expect("overlay");
    assert_eq!(d.capabilities().data_scope, DataScope::Global);
    assert!(d.capabilities().creates_in_sandbox);
}

#[test]
fn without_the_agents_state_nothing_is_created_and_the_caller_may_retry() {
    let w = world(false);
    let e = w
        .controller
        .new_network(spec(&w, json!({})))
        .expect_err("no state");
    let d = e.driver_error().expect("driver error");
    assert_eq!(d.kind, ErrorKind::TryAgainLater, "{d}");
    assert!(d.details.contains("cnmd"), "{d}");
    assert!(w.state.borrow().host.is_empty());
    assert!(w.state.borrow().masquerade.is_empty());
}

#[test]
fn configs_contradicting_the_cluster_are_refused_before_anything_is_made() {
    let w = world(true);
    for (extra, want) in [
        (json!({"vni": 43}), "has vni 42"),
        (json!({"vni": 0}), "1..=16777215"),
        (
            json!({"subnet": "10.215.0.0/16"}),
            "has subnet 10.214.0.0/16",
        ),
        (json!({"bridge": "br0"}), "not an overlay option"),
        (json!({"mtu": 9000}), "not an overlay option"),
        (json!({"ipMasq": "yes"}), "a boolean"),
    ] {
        let e = w
            .controller
            .new_network(spec(&w, extra.clone()))
            .expect_err("refused");
        let d = e.driver_error().expect("driver error");
        assert_eq!(d.kind, ErrorKind::InvalidConfig, "{extra}: {d}");
        assert!(d.to_string().contains(want), "{extra}: {d}");
        assert!(w.state.borrow().host.is_empty(), "{extra}");
    }
}

#[test]
fn endpoints_join_the_agents_bridge_and_the_cluster_subnet_is_masqueraded() {
    let w = world(true);
    let n = w
        .controller
        .new_network(spec(&w, json!({"vni": 42, "subnet": "10.214.0.0/16"})))
        .expect("network");
    {
        let st = w.state.borrow();
        assert_eq!(
            st.masquerade
                .get("ov1")
                .map(|s| s.iter().map(|n| n.to_string()).collect::<Vec<_>>()),
            Some(vec!["10.214.0.0/16".to_string()]),
            "the cluster subnet, not the block"
        );
    }
    let ep = n
        .create_endpoint(
            "c1/eth0",
            EndpointSpec {
                sandbox: Some(SandboxPlacement {
                    key: PRIMARY.into(),
                    ifname: "eth0".into(),
                    allow_own: false,
                }),
                ..Default::default()
            },
        )
        .expect("endpoint");
    assert_eq!(ep.interface().addresses.len(), 1);
    let st = w.state.borrow();
    let br = st.host.get("cnmb42").expect("the agent's bridge");
    assert_eq!(br.state.mtu, 1450);
    assert!(br.addrs.iter().any(|a| a.to_string() == "10.214.0.65/26"));
    let port = st
        .host
        .values()
        .find(|l| l.state.name.starts_with("veth"))
        .expect("host veth");
    assert_eq!(port.state.master, Some(br.state.index));
    assert_eq!(port.state.mtu, 1450, "containers' MTU matches the VXLAN's");
}

#[test]
fn deleting_the_network_removes_the_masquerade_not_the_bridge() {
    let w = world(true);
    let n = w
        .controller
        .new_network(spec(&w, json!({})))
        .expect("network");
    let ep = n
        .create_endpoint("c1/eth0", EndpointSpec::default())
        .expect("endpoint");
    assert!(w.state.borrow().host.contains_key("cnmb42"));
    ep.delete().expect("delete endpoint");
    n.delete().expect("delete");
    assert!(w.state.borrow().masquerade.is_empty());
    assert!(w.state.borrow().host.contains_key("cnmb42"));
}

#[test]
fn endpoints_get_addresses_of_the_held_blocks() {
    let w = world(true);
    let n = w
        .controller
        .new_network(spec(&w, json!({})))
        .expect("network");
    let ep = n
        .create_endpoint("c1/eth0", EndpointSpec::default())
        .expect("endpoint");
    let a = ep.interface().addresses[0];
    assert_eq!(a.address.to_string(), "10.214.0.66/26");
    assert_eq!(
        a.gateway.map(|g| g.to_string()).as_deref(),
        Some("10.214.0.65")
    );
    let store = w.dir.path().join("store/ov1/10.214.0.66");
    assert!(store.exists(), "reserved in the agent's store");
    ep.delete().expect("delete");
    assert!(!store.exists(), "released");
}

#[test]
fn an_add_reads_the_agents_state_once() {
    let w = world(true);
    let system = Arc::new(FakeSystem::new(PRIMARY));
    let driver = OverlayDriver::new(system);
    let ipam = driver.ipam_driver();
    let options =
        NetworkOptions::from_json(json!({"stateDir": w.dir.path().display().to_string()}))
            .expect("options");
    driver
        .create_network(&CreateNetwork {
            id: "ov1".into(),
            name: "ov1".into(),
            options: options.clone(),
            ..Default::default()
        })
        .expect("network");
    // The state file goes: allocation still works from what create_network read.
    std::fs::remove_file(w.dir.path().join("ov1.json")).expect("rm state");
    let net = IpamNetwork {
        name: "ov1",
        options: &options,
        pools: &[],
    };
    let owner = OwnerKey {
        container_id: "c1".into(),
        ifname: "eth0".into(),
    };
    let got = ipam
        .allocate(
            &net,
            &AllocationRequest {
                owner: owner.clone(),
                requested: Vec::new(),
            },
        )
        .expect("allocated without reading the state again");
    assert_eq!(got.addresses.len(), 1);
    // The next request reads the file again: now gone, so "try again later".
    let e = ipam
        .allocate(
            &net,
            &AllocationRequest {
                owner,
                requested: Vec::new(),
            },
        )
        .expect_err("no state left");
    assert_eq!(e.kind, ErrorKind::TryAgainLater, "{e}");
}

#[test]
fn a_dual_stack_network_gives_an_address_of_each_family_and_masquerades_both_subnets() {
    let w = world(false);
    HostState {
        version: STATE_VERSION,
        network: ClusterNet {
            name: "ov1".into(),
            subnet: "10.214.0.0/16".parse().expect("net"),
            vni: 42,
            block_prefix: 26,
            subnet6: Some("fd00:214::/48".parse().expect("net")),
            block_prefix6: Some(64),
        },
        host: "h1".into(),
        blocks: vec![
            "10.214.0.64/26".parse().expect("net"),
            "fd00:214:0:1::/64".parse().expect("net"),
        ],
        mtu: 1450,
        data_dir: w.dir.path().join("store"),
        bridge: "cnmb42".into(),
        vxlan: "cnmx42".into(),
    }
    .store(w.dir.path())
    .expect("state");
    let n = w
        .controller
        .new_network(spec(&w, json!({})))
        .expect("network");
    {
        let st = w.state.borrow();
        let masq: Vec<String> = st.masquerade["ov1"].iter().map(|n| n.to_string()).collect();
        assert_eq!(masq, vec!["10.214.0.0/16", "fd00:214::/48"]);
    }
    let ep = n
        .create_endpoint("c1/eth0", EndpointSpec::default())
        .expect("endpoint");
    let got: Vec<(String, Option<String>)> = ep
        .interface()
        .addresses
        .iter()
        .map(|a| (a.address.to_string(), a.gateway.map(|g| g.to_string())))
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "10.214.0.66/26".to_string(),
                Some("10.214.0.65".to_string())
            ),
            (
                "fd00:214:0:1::2/64".to_string(),
                Some("fd00:214:0:1::1".to_string())
            ),
        ]
    );
    ep.delete().expect("delete");
}
