//! Root tests for pipelined requests: a veth created attached, up and
//! echoed with its alias and the bridge's addresses in one datagram; the
//! container side in another; a failing request in the middle reported while
//! the others are still answered; and the sandbox socket opened on the
//! calling thread.

mod common;

use cnm_netlink::{Handle, Request, RouteSpec, VethSpec};
use common::{root_or_skip, TestNs};

#[test]
fn veth_attached_up_echoed_in_one_datagram() {
    if !root_or_skip() {
        return;
    }
    let host = TestNs::new("host");
    let cont = TestNs::new("cont");
    let mut h = host.handle();
    assert!(h.create_bridge("cnmpbr0", None, false, None).unwrap());
    let br = h.link_by_name("cnmpbr0").unwrap().unwrap();
    h.set_up(br.index).unwrap();
    h.add_addr(br.index, "10.251.0.1/24".parse().unwrap(), true)
        .unwrap();
    let spec = VethSpec {
        name: "vethp0",
        peer_name: "eth0",
        mtu: Some(1400),
        mac: None,
        peer_mac: Some([0x02, 0, 0, 0, 0, 0x0c]),
        peer_netns: Some(cont.ns.fd()),
        alias: None,
    };
    let replies = h
        .pipeline(vec![
            Request::create_veth(&spec, Some(br.index), true)
                .unwrap()
                .echo(),
            Request::configure_by_name("vethp0", Some("cnm:test"), true).unwrap(),
            Request::addrs(br.index),
        ])
        .unwrap();
    assert_eq!(replies.len(), 3);
    let echoed = replies[0].link.clone().expect("echo of the new veth");
    assert_eq!(echoed.name, "vethp0");
    assert_eq!(echoed.mtu, 1400);
    let addrs = replies[2].addrs.clone().expect("bridge addresses");
    assert!(addrs
        .iter()
        .any(|a| a.addr == "10.251.0.1/24".parse().unwrap()));
    let port = h.link_by_name("vethp0").unwrap().unwrap();
    assert_eq!(port.master, Some(br.index));
    assert!(port.up);
    assert_eq!(port.alias.as_deref(), Some("cnm:test"));
    let j = host.ip_json(&["-d", "link", "show", "dev", "vethp0"]);
    assert_eq!(j[0]["inet6_addr_gen_mode"], "none");

    // The container side: the echoed peer index is the one in the sandbox.
    let mut hc = cont.handle();
    let peer = hc.link_by_name("eth0").unwrap().unwrap();
    assert_eq!(echoed.link, Some(peer.index));
    assert_eq!(peer.mac, Some([0x02, 0, 0, 0, 0, 0x0c]));
    let mut route = RouteSpec::new("0.0.0.0/0".parse().unwrap());
    route.gw = Some("10.251.0.1".parse().unwrap());
    route.oif = Some(peer.index);
    hc.pipeline(vec![
        Request::link_conf(peer.index, true, true),
        Request::add_addr(peer.index, "10.251.0.2/24".parse().unwrap(), true),
        Request::set_up(peer.index),
        Request::add_route(&route).unwrap(),
    ])
    .unwrap();
    let j = cont.ip_json(&["-d", "link", "show", "dev", "eth0"]);
    assert_eq!(j[0]["inet6_addr_gen_mode"], "none");
    assert!(hc.link_by_index(peer.index).unwrap().unwrap().up);
    let routes = cont.ip_json(&["route"]);
    assert!(routes
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["dst"] == "default" && r["gateway"] == "10.251.0.1"));
    // An existing address is fine, as with add_addr.
    hc.pipeline(vec![Request::add_addr(
        peer.index,
        "10.251.0.2/24".parse().unwrap(),
        true,
    )])
    .unwrap();
}

#[test]
fn failure_in_the_middle_is_reported_and_the_rest_answered() {
    if !root_or_skip() {
        return;
    }
    let ns = TestNs::new("fail");
    let mut h = ns.handle();
    assert!(h.create_bridge("cnmpbr1", None, false, None).unwrap());
    let br = h.link_by_name("cnmpbr1").unwrap().unwrap();
    let err = h
        .pipeline(vec![
            Request::set_up(br.index),
            Request::set_up(999_999),
            Request::add_addr(br.index, "10.252.0.1/24".parse().unwrap(), true),
        ])
        .unwrap_err();
    assert_eq!(err.errno(), Some(libc::ENODEV), "{err}");
    // The kernel went on with the third request; the socket stays in step.
    let addrs = h.addrs(br.index).unwrap();
    assert!(addrs
        .iter()
        .any(|a| a.addr == "10.252.0.1/24".parse().unwrap()));
    assert!(h.link_by_index(br.index).unwrap().unwrap().up);
}

#[test]
fn socket_opened_on_the_calling_thread() {
    if !root_or_skip() {
        return;
    }
    let ns = TestNs::new("here");
    let before = std::fs::read_link("/proc/thread-self/ns/net").unwrap();
    let (mut h, inside) = Handle::new_in_here(&ns.ns, || {
        std::fs::read_link("/proc/thread-self/ns/net").unwrap()
    })
    .unwrap();
    assert_ne!(inside, before, "ran inside the namespace");
    assert_eq!(
        std::fs::read_link("/proc/thread-self/ns/net").unwrap(),
        before
    );
    // The socket belongs to the namespace: it sees only its loopback.
    assert_eq!(h.links().unwrap().len(), 1);
}
