//! The model with the bridge driver on the fake system (no root):
//! controller and registry, networks with IPAM pools, endpoints on the slow
//! path (the sandbox places the interface through the one configurator)
//! and the fast path (created inside), join, leave, delete, restore from
//! records, errors and rollback, every teardown error collected.

use std::sync::Arc;

use cnm_bridge::{BridgeDriver, DRIVER_NAMES};
use cnm_kernel::fake::{FakeIpamDriver, FakeSystem, Shared};
use cnm_kernel::{ContainerIpv6, KernelSandboxes};
use cnm_model::*;
use serde_json::json;

const PRIMARY: &str = "/run/netns/primary";

struct World {
    controller: Controller,
    state: Shared,
}

/// A controller on `system` with the bridge registered, as front-ends do.
fn controller_on(system: FakeSystem) -> Controller {
    let system = Arc::new(system);
    let c = Controller::new(Arc::new(KernelSandboxes::new(Arc::clone(&system))));
    let bridge: Arc<dyn NetworkDriver> = Arc::new(BridgeDriver::new(system));
    for name in DRIVER_NAMES {
        c.register_driver(name, Arc::clone(&bridge))
            .expect("register bridge");
    }
    c
}

fn world() -> World {
    let system = FakeSystem::new(PRIMARY);
    let state = system.state.clone();
    let controller = controller_on(system);
    controller
        .register_ipam_driver(
            "fake",
            Arc::new(FakeIpamDriver {
                state: state.clone(),
            }),
        )
        .expect("register fake IPAM");
    World { controller, state }
}

fn spec(name: &str, options: serde_json::Value) -> NetworkSpec {
    NetworkSpec {
        name: name.into(),
        driver: "bridge".into(),
        options: NetworkOptions::from_json(options).expect("options"),
        ipam: Some(IpamSpec {
            driver: "fake".into(),
            pools: vec![PoolRequest {
                pool: Some("10.60.0.0/24".parse().expect("net")),
                ..Default::default()
            }],
            options: None,
        }),
        ..Default::default()
    }
}

fn network(w: &World) -> Network {
    w.controller
        .new_network(spec(
            "net1",
            json!({"bridge": "br-m", "isGateway": true, "ipMasq": true}),
        ))
        .expect("network")
}

fn host_links(w: &World) -> Vec<String> {
    w.state.borrow().host.keys().cloned().collect()
}

fn sandbox_links(w: &World, key: &str) -> Vec<String> {
    w.state
        .borrow()
        .sandbox(key)
        .map(|s| s.keys().cloned().collect())
        .unwrap_or_default()
}

#[test]
fn front_ends_register_drivers_by_name() {
    let w = world();
    let names = w.controller.driver_names();
    assert!(names.contains(&"bridge".to_string()), "{names:?}");
    assert!(names.contains(&"simplebridge".to_string()), "{names:?}");
    let d = w.controller.driver("bridge").expect("bridge");
    assert_eq!(d.name(), "bridge");
    assert_eq!(d.capabilities().data_scope, DataScope::Local);
    assert!(d.capabilities().creates_in_sandbox);
    // The model registers nothing itself.
    let bare = Controller::new(Arc::new(KernelSandboxes::new(Arc::new(FakeSystem::new(
        PRIMARY,
    )))));
    assert!(bare.driver_names().is_empty());
    assert!(bare.ipam_driver("host-local").is_err());
}

#[test]
fn a_taken_or_unknown_driver_name_is_an_error() {
    let w = world();
    let d = w.controller.driver("bridge").expect("bridge");
    let e = w
        .controller
        .register_driver("bridge", d)
        .expect_err("taken");
    assert!(matches!(e, ModelError::DriverExists { .. }), "{e}");
    let e = w.controller.driver("nope").err().expect("unknown");
    assert!(matches!(e, ModelError::UnknownDriver { .. }), "{e}");
    let mut s = spec("net1", json!({}));
    s.driver = "nope".into();
    assert!(matches!(
        w.controller.new_network(s),
        Err(ModelError::UnknownDriver { .. })
    ));
}

#[test]
fn network_names_are_validated() {
    let w = world();
    for bad in ["", "a/b", "has space", "../x"] {
        let e = w
            .controller
            .new_network(spec(bad, json!({})))
            .expect_err(bad);
        assert!(matches!(e, ModelError::Invalid { .. }), "{bad}: {e}");
    }
}

#[test]
fn invalid_options_fail_and_release_the_pools() {
    let w = world();
    let e = w
        .controller
        .new_network(spec(
            "net1",
            json!({"hairpinMode": true, "promiscMode": true}),
        ))
        .expect_err("hairpin + promisc");
    let d = e.driver_error().expect("driver error");
    assert_eq!(d.kind, ErrorKind::InvalidConfig);
    let log = w.state.borrow().log.clone();
    assert!(
        log.contains(&"release pool 10.60.0.0/24".to_string()),
        "{log:?}"
    );
    assert!(
        host_links(&w).is_empty(),
        "no kernel work: {:?}",
        host_links(&w)
    );
}

#[test]
fn a_network_gets_pool_data_from_ipam() {
    let w = world();
    let n = network(&w);
    assert_eq!(n.name(), "net1");
    assert_eq!(n.id(), "net1");
    let r = n.record();
    assert_eq!(r.ipv4.len(), 1);
    assert_eq!(r.ipv4[0].pool.to_string(), "10.60.0.0/24");
    assert_eq!(
        r.ipv4[0].gateway.map(|g| g.to_string()).as_deref(),
        Some("10.60.0.1/24")
    );
    assert_eq!(r.ipam.as_ref().map(|i| i.pools.len()), Some(1));
}

#[test]
fn slow_path_prepares_the_interface_in_the_host() {
    let w = world();
    let n = network(&w);
    let ep = n
        .create_endpoint("ep1", EndpointSpec::default())
        .expect("endpoint");
    assert_eq!(ep.interface().addresses.len(), 1);
    assert_eq!(
        ep.interface().addresses[0].address.to_string(),
        "10.60.0.2/24"
    );
    assert_eq!(
        ep.interface().addresses[0]
            .gateway
            .map(|g| g.to_string())
            .as_deref(),
        Some("10.60.0.1")
    );
    let links = host_links(&w);
    assert!(links.contains(&"br-m".to_string()), "{links:?}");
    assert!(
        links.iter().any(|l| l.starts_with("vsb")),
        "peer in host: {links:?}"
    );
    let st = w.state.borrow();
    let br = st.host.get("br-m").expect("bridge");
    assert_eq!(br.addrs[0].to_string(), "10.60.0.1/24");
    let port = st
        .host
        .values()
        .find(|l| l.state.name.starts_with("veth"))
        .expect("host veth");
    assert_eq!(port.state.master, Some(br.state.index));
    assert_eq!(st.masquerade.get("net1").map(Vec::len), Some(1));
}

#[test]
fn join_hands_back_a_host_interface_and_the_gateway() {
    let w = world();
    let n = network(&w);
    let sb = w.controller.new_sandbox("/run/netns/sb1").expect("sandbox");
    let mut ep = n
        .create_endpoint("ep1", EndpointSpec::default())
        .expect("ep");
    let info = ep.join(&sb).expect("join");
    assert!(!info.configured_in_sandbox);
    assert_eq!(info.interfaces.len(), 1);
    assert!(
        matches!(&info.interfaces[0].placement, Placement::Host { src_name } if src_name.starts_with("vsb"))
    );
    assert_eq!(info.interfaces[0].dst_prefix, "eth");
    assert_eq!(
        info.gateway.map(|g| g.to_string()).as_deref(),
        Some("10.60.0.1")
    );
    assert!(info.gateway6.is_none());
    assert_eq!(ep.join_info(), Some(&info));
}

#[test]
fn add_interface_moves_renames_configures_and_sets_up() {
    let w = world();
    let n = network(&w);
    let sb = w.controller.new_sandbox("/run/netns/sb1").expect("sandbox");
    let mut ep = n
        .create_endpoint("ep1", EndpointSpec::default())
        .expect("ep");
    let info = ep.join(&sb).expect("join");
    let name = sb
        .add_interface(&info.interfaces[0])
        .expect("add interface");
    assert_eq!(name, "eth0");
    assert!(
        !host_links(&w).iter().any(|l| l.starts_with("vsb")),
        "moved out of the host"
    );
    let st = w.state.borrow();
    let eth0 = st
        .sandbox("/run/netns/sb1")
        .and_then(|s| s.get("eth0"))
        .expect("eth0");
    assert!(eth0.state.up);
    assert_eq!(eth0.addrs[0].to_string(), "10.60.0.2/24");
    drop(st);
    sb.set_gateway(info.gateway.expect("gw")).expect("gateway");
    let st = w.state.borrow();
    let eth0 = st
        .sandbox("/run/netns/sb1")
        .and_then(|s| s.get("eth0"))
        .expect("eth0");
    assert_eq!(eth0.routes.len(), 1);
    assert_eq!(eth0.routes[0].dst.to_string(), "0.0.0.0/0");
    assert_eq!(
        eth0.routes[0].gw.map(|g| g.to_string()).as_deref(),
        Some("10.60.0.1")
    );
}

#[test]
fn a_second_interface_gets_the_next_free_name() {
    let w = world();
    let n = network(&w);
    let sb = w.controller.new_sandbox("/run/netns/sb1").expect("sandbox");
    for (i, id) in ["ep1", "ep2"].iter().enumerate() {
        let mut ep = n.create_endpoint(id, EndpointSpec::default()).expect("ep");
        let names = sb.apply(id, &ep.join(&sb).expect("join")).expect("apply");
        assert_eq!(names, vec![format!("eth{i}")]);
    }
    assert_eq!(sandbox_links(&w, "/run/netns/sb1"), vec!["eth0", "eth1"]);
}

#[test]
fn set_gateway_without_an_interface_on_its_subnet_fails() {
    let w = world();
    let sb = w.controller.new_sandbox("/run/netns/sb1").expect("sandbox");
    let e = sb
        .set_gateway("10.9.9.1".parse().expect("ip"))
        .expect_err("no interface");
    assert!(matches!(e, ModelError::Invalid { .. }), "{e}");
}

#[test]
fn two_sandboxes_join_one_network() {
    let w = world();
    let n = network(&w);
    let mut eps = Vec::new();
    for i in 1..=2 {
        let key = format!("/run/netns/sb{i}");
        let sb = w.controller.new_sandbox(&key).expect("sandbox");
        let mut ep = n
            .create_endpoint(&format!("ep{i}"), EndpointSpec::default())
            .expect("ep");
        ep.join_and_apply(&sb).expect("join");
        eps.push((ep, sb));
    }
    let st = w.state.borrow();
    let a = st
        .sandbox("/run/netns/sb1")
        .and_then(|s| s.get("eth0"))
        .expect("a");
    let b = st
        .sandbox("/run/netns/sb2")
        .and_then(|s| s.get("eth0"))
        .expect("b");
    assert_ne!(a.addrs, b.addrs);
    let br = st.host.get("br-m").expect("bridge").state.index;
    let ports = st
        .host
        .values()
        .filter(|l| l.state.master == Some(br))
        .count();
    assert_eq!(ports, 2);
    drop(st);
    for (mut ep, sb) in eps {
        ep.leave(&sb).expect("leave");
        ep.delete().expect("delete");
        sb.destroy().expect("destroy");
    }
    assert_eq!(host_links(&w), vec!["br-m"]);
    assert!(w.state.borrow().ipam.is_empty());
}

#[test]
fn fast_path_creates_the_interface_inside_the_sandbox() {
    let w = world();
    let n = network(&w);
    let sb = w.controller.open_sandbox(PRIMARY, false).expect("sandbox");
    let mut ep = n
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
    assert_eq!(sandbox_links(&w, PRIMARY), vec!["eth0"]);
    assert_eq!(ep.links().len(), 3);
    assert_eq!(ep.links()[2].sandbox.as_deref(), Some(PRIMARY));
    let moves_before = w
        .state
        .borrow()
        .log
        .iter()
        .filter(|l| l.starts_with("move"))
        .count();
    let info = ep.join_and_apply(&sb).expect("join");
    assert!(info.configured_in_sandbox);
    assert!(
        matches!(&info.interfaces[0].placement, Placement::InSandbox { name } if name == "eth0")
    );
    let log = w.state.borrow().log.clone();
    assert_eq!(
        log.iter().filter(|l| l.starts_with("move")).count(),
        moves_before,
        "nothing moved: {log:?}"
    );
    assert_eq!(sb.interfaces().len(), 1);
    ep.check().expect("check");
}

#[test]
fn an_endpoint_made_for_one_sandbox_cannot_join_another() {
    let w = world();
    let n = network(&w);
    let other = w.controller.new_sandbox("/run/netns/sb2").expect("sandbox");
    let mut ep = n
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
    assert!(matches!(ep.join(&other), Err(ModelError::Invalid { .. })));
}

#[test]
fn leave_and_delete_remove_everything_and_release_addresses() {
    let w = world();
    let n = network(&w);
    let sb = w.controller.new_sandbox("/run/netns/sb1").expect("sandbox");
    let mut ep = n
        .create_endpoint("ep1", EndpointSpec::default())
        .expect("ep");
    ep.join_and_apply(&sb).expect("join");
    assert_eq!(w.state.borrow().ipam.len(), 1);
    ep.leave(&sb).expect("leave");
    assert!(sb.interfaces().is_empty());
    ep.clone().delete().expect("delete");
    assert!(w.state.borrow().ipam.is_empty());
    assert!(sandbox_links(&w, "/run/netns/sb1").is_empty());
    assert_eq!(host_links(&w), vec!["br-m"]);
    // Idempotent.
    ep.delete().expect("delete again");
}

#[test]
fn an_endpoint_known_only_by_id_is_deleted_by_a_later_process() {
    let w = world();
    let n = network(&w);
    n.create_endpoint(
        "c9/eth0",
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
    // A new controller over the same kernel: no memory of the endpoint.
    let later = controller_on(FakeSystem {
        state: w.state.clone(),
        netns_path: PRIMARY.into(),
    });
    let n2 = later
        .attach_network(n.record().clone())
        .err()
        .map(|e| e.to_string());
    assert!(
        n2.is_some(),
        "the fake IPAM is not registered in the new controller"
    );
    let mut record = n.record().clone();
    record.ipam = None;
    let n2 = later.attach_network(record).expect("attach");
    n2.endpoint_by_id("c9/eth0", None, None)
        .delete()
        .expect("delete");
    assert!(sandbox_links(&w, PRIMARY).is_empty());
    assert_eq!(host_links(&w), vec!["br-m"]);
}

#[test]
fn a_kernel_failure_rolls_back_links_and_addresses() {
    for failing in [
        "create veth",
        "attach port",
        "add host address",
        "ensure masquerade",
    ] {
        let w = world();
        let n = network(&w);
        w.state.borrow_mut().fail_on = Some(failing.into());
        let e = n
            .create_endpoint("ep1", EndpointSpec::default())
            .expect_err(failing);
        assert_eq!(
            e.driver_error().map(|d| d.kind),
            Some(ErrorKind::Kernel),
            "{failing}: {e}"
        );
        assert!(w.state.borrow().ipam.is_empty(), "{failing}: address kept");
        let links = host_links(&w);
        assert!(
            links
                .iter()
                .all(|l| !l.starts_with("veth") && !l.starts_with("vsb")),
            "{failing}: {links:?}"
        );
    }
}

#[test]
fn exhausted_ipam_creates_no_link() {
    let w = world();
    let n = network(&w);
    w.state.borrow_mut().fail_on = Some("ipam add".into());
    let e = n
        .create_endpoint("ep1", EndpointSpec::default())
        .expect_err("exhausted");
    assert!(matches!(e, ModelError::Ipam { .. }), "{e}");
    assert_eq!(e.driver_error().map(|d| d.kind), Some(ErrorKind::Ipam));
    assert!(host_links(&w).is_empty());
}

/// The IPv6 and DAD the configurator gave the sandbox interface `name`.
fn configured(w: &World, key: &str, name: &str) -> (Option<ContainerIpv6>, bool) {
    let st = w.state.borrow();
    let l = st
        .sandbox(key)
        .and_then(|s| s.get(name))
        .expect("interface");
    (l.ipv6, l.dad)
}

#[test]
fn the_slow_path_turns_ipv6_off_on_an_ipv4_only_endpoint() {
    let w = world();
    let n = network(&w);
    let sb = w.controller.new_sandbox("/run/netns/sb1").expect("sandbox");
    let mut ep = n
        .create_endpoint("ep1", EndpointSpec::default())
        .expect("ep");
    let info = ep.join(&sb).expect("join");
    sb.apply("ep1", &info).expect("apply");
    assert_eq!(
        configured(&w, "/run/netns/sb1", "eth0"),
        (Some(ContainerIpv6::Off), false)
    );
    // Addresses, gateway and routes came in the same configuration.
    let st = w.state.borrow();
    let eth0 = st
        .sandbox("/run/netns/sb1")
        .and_then(|s| s.get("eth0"))
        .expect("eth0");
    assert_eq!(eth0.addrs[0].to_string(), "10.60.0.2/24");
    assert!(eth0
        .routes
        .iter()
        .any(|r| r.dst.prefix_len() == 0
            && r.gw.map(|g| g.to_string()).as_deref() == Some("10.60.0.1")));
}

#[test]
fn the_slow_path_keeps_ipv6_and_honours_enable_dad_on_dual_stack() {
    let w = world();
    let s = spec(
        "net6",
        json!({"bridge": "br-6", "isGateway": true, "enabledad": true}),
    );
    let n = w.controller.new_network(s).expect("network");
    let sb = w.controller.new_sandbox("/run/netns/sb6").expect("sandbox");
    let addresses = ["10.60.0.7/24", "fd00:60::7/64"]
        .iter()
        .map(|a| InterfaceAddress {
            address: a.parse().expect("net"),
            gateway: None,
        })
        .collect();
    let mut ep = n
        .create_endpoint(
            "ep6",
            EndpointSpec {
                interface: EndpointInterface {
                    addresses,
                    ..Default::default()
                },
                ..Default::default()
            },
        )
        .expect("ep");
    let info = ep.join(&sb).expect("join");
    assert!(info.interfaces[0].dad);
    sb.apply("ep6", &info).expect("apply");
    assert_eq!(
        configured(&w, "/run/netns/sb6", "eth0"),
        (Some(ContainerIpv6::On { dad: true }), true)
    );
    let st = w.state.borrow();
    let eth0 = st
        .sandbox("/run/netns/sb6")
        .and_then(|s| s.get("eth0"))
        .expect("eth0");
    assert_eq!(eth0.addrs.len(), 2);
    // Both default routes, through the bridge's gateways, in the same step.
    assert_eq!(
        eth0.routes
            .iter()
            .filter(|r| r.dst.prefix_len() == 0)
            .count(),
        2,
        "{:?}",
        eth0.routes
    );
}

#[test]
fn the_fast_path_configures_through_the_same_configurator() {
    let w = world();
    let n = network(&w);
    n.create_endpoint(
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
    assert_eq!(
        configured(&w, PRIMARY, "eth0"),
        (Some(ContainerIpv6::Off), false)
    );
    let faults = w.state.borrow().faults.clone();
    assert_eq!(
        faults,
        [
            "after-veth",
            "after-port",
            "after-addresses",
            "after-routes",
            "after-host",
            "after-firewall"
        ]
    );
}

#[test]
fn delete_collects_every_error_and_still_runs_every_step() {
    let w = world();
    let n = network(&w);
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
    {
        let mut st = w.state.borrow_mut();
        st.fail_ops.insert("ipam release".into());
        st.fail_ops.insert("delete host link".into());
    }
    let e = ep.delete().expect_err("both fail");
    let ModelError::List(list) = &e else {
        panic!("a list: {e}");
    };
    // In the order the steps ran: the release first, then the driver's.
    assert!(matches!(list.errors()[0], ModelError::Ipam { .. }), "{e}");
    assert!(matches!(list.errors()[1], ModelError::Driver { .. }), "{e}");
    assert!(e.to_string().contains("release failed"), "{e}");
    assert!(e.to_string().contains("host veth"), "{e}");
    // The driver's part still ran: it fell back to the container end.
    assert!(sandbox_links(&w, PRIMARY).is_empty());
    // Deleting the network runs the driver's part and every pool release.
    w.state.borrow_mut().fail_ops.clear();
    w.state.borrow_mut().fail_on = Some("remove masquerade".into());
    let e = n.delete().expect_err("masquerade removal fails");
    assert!(matches!(e, ModelError::Driver { .. }), "{e}");
    let log = w.state.borrow().log.clone();
    assert!(
        log.contains(&"release pool 10.60.0.0/24".to_string()),
        "the pools are released anyway: {log:?}"
    );
}

#[test]
fn a_failed_placement_deletes_the_moved_interface() {
    let w = world();
    let n = network(&w);
    let sb = w.controller.new_sandbox("/run/netns/sb1").expect("sandbox");
    let mut ep = n
        .create_endpoint("ep1", EndpointSpec::default())
        .expect("ep");
    let info = ep.join(&sb).expect("join");
    w.state.borrow_mut().fail_on = Some("configure container".into());
    let e = sb
        .add_interface(&info.interfaces[0])
        .expect_err("configure fails");
    assert!(matches!(e, ModelError::Sandbox { .. }), "{e}");
    assert!(sandbox_links(&w, "/run/netns/sb1").is_empty());
    assert!(sb.interfaces().is_empty());
    w.state.borrow_mut().fail_on = None;
    ep.delete().expect("delete");
    assert!(w.state.borrow().ipam.is_empty());
}

#[test]
fn join_of_an_unknown_endpoint_is_not_found() {
    let w = world();
    let n = network(&w);
    let sb = w.controller.new_sandbox("/run/netns/sb1").expect("sandbox");
    let mut ep = n.endpoint_by_id("ghost", None, None);
    let e = ep.join(&sb).expect_err("unknown");
    assert_eq!(e.driver_error().map(|d| d.kind), Some(ErrorKind::NotFound));
}

#[test]
fn records_survive_serde_and_restore() {
    let w = world();
    let n = network(&w);
    let sb = w.controller.new_sandbox("/run/netns/sb1").expect("sandbox");
    let mut ep = n
        .create_endpoint("ep1", EndpointSpec::default())
        .expect("ep");
    ep.join_and_apply(&sb).expect("join");
    let net_json = serde_json::to_string(n.record()).expect("net json");
    let ep_json = serde_json::to_string(ep.record()).expect("ep json");
    let net_back: NetworkRecord = serde_json::from_str(&net_json).expect("net back");
    let ep_back: EndpointRecord = serde_json::from_str(&ep_json).expect("ep back");
    assert_eq!(&net_back, n.record());
    assert_eq!(&ep_back, ep.record());
    let n2 = w
        .controller
        .restore_network(net_back)
        .expect("restore network");
    let ep2 = n2
        .restore_endpoint(ep_back.clone())
        .expect("restore endpoint");
    assert_eq!(ep2.interface(), ep.interface());
    let mut wrong = ep_back;
    wrong.network_id = "other".into();
    assert!(n2.restore_endpoint(wrong).is_err());
    ep2.delete().expect("delete");
    assert!(w.state.borrow().ipam.is_empty());
}

#[test]
fn sandboxes_are_created_opened_and_destroyed() {
    let w = world();
    let sb = w.controller.new_sandbox("/run/netns/sb1").expect("create");
    assert!(
        w.controller.new_sandbox("/run/netns/sb1").is_err(),
        "exists"
    );
    assert!(w.controller.open_sandbox("/run/netns/none", false).is_err());
    assert!(w.controller.new_sandbox("").is_err());
    let opened = w
        .controller
        .open_sandbox("/run/netns/sb1", false)
        .expect("open");
    opened
        .destroy()
        .expect("destroy of an opened sandbox keeps it");
    assert!(w.state.borrow().sandbox("/run/netns/sb1").is_some());
    sb.destroy().expect("destroy");
    assert!(w.state.borrow().sandbox("/run/netns/sb1").is_none());
}

#[test]
fn check_fails_when_the_kernel_differs() {
    let w = world();
    let n = network(&w);
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
    ep.check().expect("check");
    if let Some(l) = w
        .state
        .borrow_mut()
        .container
        .as_mut()
        .and_then(|c| c.get_mut("eth0"))
    {
        l.addrs.clear();
    }
    let e = ep.check().expect_err("address gone");
    assert_eq!(e.driver_error().map(|d| d.kind), Some(ErrorKind::Kernel));
}

#[test]
fn deleting_a_network_removes_masquerade_and_the_empty_bridge() {
    let w = world();
    let n = network(&w);
    let ep = n
        .create_endpoint("ep1", EndpointSpec::default())
        .expect("ep");
    ep.delete().expect("delete");
    assert!(w.state.borrow().masquerade.contains_key("net1"));
    n.delete().expect("delete network");
    assert!(!w.state.borrow().masquerade.contains_key("net1"));
    assert!(host_links(&w).is_empty());
    let log = w.state.borrow().log.clone();
    assert!(
        log.contains(&"release pool 10.60.0.0/24".to_string()),
        "{log:?}"
    );
}

/// A driver with only the mandatory operations, to show the contract is
/// object safe and its optional operations default to "not supported".
struct Minimal;

impl NetworkDriver for Minimal {
    fn name(&self) -> &str {
        "minimal"
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            data_scope: DataScope::Global,
            ..Default::default()
        }
    }
    fn create_network(&self, _req: &CreateNetwork) -> Result<(), DriverError> {
        Ok(())
    }
    fn delete_network(&self, _id: &str) -> Result<(), DriverError> {
        Ok(())
    }
    fn create_endpoint(&self, req: &CreateEndpoint) -> Result<CreatedEndpoint, DriverError> {
        Ok(CreatedEndpoint {
            interface: req.interface.clone(),
            ..Default::default()
        })
    }
    fn join(&self, _req: &JoinRequest) -> Result<JoinInfo, DriverError> {
        Ok(JoinInfo::default())
    }
    fn leave(&self, _ep: &EndpointRef) -> Result<(), DriverError> {
        Ok(())
    }
    fn delete_endpoint(&self, _ep: &EndpointRef) -> Result<(), DriverError> {
        Ok(())
    }
    fn endpoint_info(&self, _ep: &EndpointRef) -> Result<EndpointOperInfo, DriverError> {
        Ok(EndpointOperInfo::default())
    }
}

#[test]
fn a_registered_driver_serves_networks_and_optional_calls_are_not_supported() {
    let w = world();
    w.controller
        .register_driver("minimal", Arc::new(Minimal))
        .expect("register");
    let mut s = spec("g1", json!({}));
    s.driver = "minimal".into();
    let n = w.controller.new_network(s).expect("network");
    assert_eq!(n.driver().capabilities().data_scope, DataScope::Global);
    let ep = n
        .create_endpoint("e1", EndpointSpec::default())
        .expect("ep");
    assert_eq!(ep.interface().addresses.len(), 1, "the model allocated");
    for e in [
        ep.check().expect_err("check"),
        ep.revoke_external_connectivity().expect_err("revoke"),
        ep.program_external_connectivity(ExternalConnectivity::default())
            .expect_err("program"),
        n.gc(&[], &[]).expect_err("gc"),
        n.status().expect_err("status"),
    ] {
        assert!(
            e.driver_error().is_some_and(DriverError::is_not_supported),
            "{e}"
        );
    }
    ep.delete().expect("delete");
    assert!(w.state.borrow().ipam.is_empty());
}

#[test]
fn network_options_convert_from_typed_values() {
    #[derive(serde::Serialize)]
    struct Opts {
        bridge: String,
    }
    let o = NetworkOptions::from_typed(&Opts {
        bridge: "b0".into(),
    })
    .expect("typed");
    assert_eq!(o.get("bridge"), Some(&json!("b0")));
    assert!(NetworkOptions::from_json(json!([1])).is_err());
    let back: serde_json::Map<String, serde_json::Value> = o.typed().expect("back");
    assert_eq!(back.len(), 1);
}
