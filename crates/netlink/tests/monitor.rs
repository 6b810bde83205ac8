//! Root tests of [`cnm_netlink::Monitor`]: the notifications of a throwaway
//! namespace for a route, a neighbour, an FDB entry and a link removed
//! behind the back of whoever made them, and an IPv6 route through a VXLAN
//! device whose gateway is the IPv4-mapped address of an IPv4 underlay hop
//! (the overlay's way to carry IPv6 over an IPv4 underlay).

mod common;

use std::net::IpAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use cnm_netlink::{
    Change, Group, IpFamily, Monitor, Notification, RouteSpec, VethSpec, VxlanSpec, TABLE_MAIN,
};
use common::{root_or_skip, TestNs};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// Reads notifications until `pred` matches one (bounded: 3 s).
fn wait_for(m: &mut Monitor, what: &str, pred: impl Fn(&Notification) -> bool) {
    let end = Instant::now() + Duration::from_secs(3);
    while Instant::now() < end {
        if m.recv(Some(Duration::from_millis(200)))
            .unwrap()
            .iter()
            .any(&pred)
        {
            return;
        }
    }
    panic!("no notification: {what}");
}

fn ipcmd(ns: &TestNs, args: &str) {
    let st = Command::new("ip")
        .args(["-n", &ns.name])
        .args(args.split_whitespace())
        .status()
        .unwrap();
    assert!(st.success(), "ip {args}");
}

#[test]
fn deletions_behind_our_back_are_notified() {
    if !root_or_skip() {
        return;
    }
    let ns = TestNs::new("mon");
    let mut h = ns.handle();
    h.create_veth(&VethSpec {
        name: "u0",
        peer_name: "u1",
        mtu: None,
        mac: None,
        peer_mac: None,
        peer_netns: None,
        alias: None,
    })
    .unwrap();
    let u0 = h.link_by_name("u0").unwrap().unwrap().index;
    h.add_addr(u0, "10.213.78.1/24".parse().unwrap(), false)
        .unwrap();
    h.set_up(u0).unwrap();
    h.create_vxlan(&VxlanSpec {
        name: "vx0",
        vni: 4243,
        local: ip("10.213.78.1"),
        underlay: u0,
        port: 4789,
        mtu: Some(1450),
    })
    .unwrap();
    let vx = h.link_by_name("vx0").unwrap().unwrap().index;
    h.set_up(vx).unwrap();
    let peer_mac = [2, 0, 0, 0, 0, 9];
    h.set_fdb(vx, peer_mac, ip("10.213.78.2")).unwrap();
    h.set_neigh(vx, ip("10.213.78.2"), peer_mac).unwrap();
    let mut r = RouteSpec::new("10.214.9.0/26".parse().unwrap());
    r.gw = Some(ip("10.213.78.2"));
    r.oif = Some(vx);
    h.replace_route_onlink(&r).unwrap();
    // IPv6 over the IPv4 underlay: the gateway is ::ffff:<underlay hop>,
    // resolved by a permanent neighbour to the peer's VTEP MAC.
    let mapped = ip("::ffff:10.213.78.2");
    h.set_neigh(vx, mapped, peer_mac).unwrap();
    let mut r6 = RouteSpec::new("fd00:214:0:9::/64".parse().unwrap());
    r6.gw = Some(mapped);
    r6.oif = Some(vx);
    h.replace_route_onlink(&r6).unwrap();
    let v6: Vec<RouteSpec> = h
        .routes(IpFamily::V6, Some(TABLE_MAIN))
        .unwrap()
        .into_iter()
        .filter(|x| x.oif == Some(vx) && x.gw.is_some())
        .collect();
    assert_eq!(v6.len(), 1, "{v6:?}");
    assert_eq!(v6[0].gw, Some(mapped));
    assert!(h.neighs(vx).unwrap().iter().any(|n| n.ip == mapped));

    let mut m = Monitor::new_in(
        &ns.ns,
        &[
            Group::Link,
            Group::Neigh,
            Group::Ipv4Route,
            Group::Ipv6Route,
        ],
    )
    .unwrap();
    assert_eq!(
        m.recv(Some(Duration::from_millis(50))).unwrap(),
        Vec::new(),
        "nothing happened yet"
    );
    ipcmd(&ns, "route del 10.214.9.0/26");
    wait_for(&mut m, "route deleted", |n| {
        matches!(n, Notification::Route { change: Change::Del, dst: Some(d), oif: Some(o), .. }
            if d.to_string() == "10.214.9.0/26" && *o == vx)
    });
    ipcmd(&ns, "-6 route del fd00:214:0:9::/64");
    wait_for(&mut m, "IPv6 route deleted", |n| {
        matches!(n, Notification::Route { change: Change::Del, dst: Some(d), .. }
            if d.to_string() == "fd00:214:0:9::/64")
    });
    ipcmd(&ns, "neigh del 10.213.78.2 dev vx0");
    wait_for(&mut m, "neighbour deleted", |n| {
        matches!(n, Notification::Neigh { change: Change::Del, fdb: false, index, ip: Some(a), .. }
            if *index == vx && *a == ip("10.213.78.2"))
    });
    let st = Command::new("bridge")
        .args([
            "-n",
            &ns.name,
            "fdb",
            "del",
            "02:00:00:00:00:09",
            "dev",
            "vx0",
            "dst",
            "10.213.78.2",
        ])
        .status()
        .unwrap();
    assert!(st.success());
    wait_for(&mut m, "fdb entry deleted", |n| {
        matches!(n, Notification::Neigh { change: Change::Del, fdb: true, index, mac: Some(mac), .. }
            if *index == vx && *mac == peer_mac)
    });
    ipcmd(&ns, "link set vx0 address 02:00:00:00:00:77");
    wait_for(&mut m, "link changed", |n| {
        matches!(n, Notification::Link { change: Change::New, index, mac: Some(mac), .. }
            if *index == vx && *mac == [2, 0, 0, 0, 0, 0x77])
    });
    ipcmd(&ns, "link del vx0");
    wait_for(&mut m, "link deleted", |n| {
        matches!(n, Notification::Link { change: Change::Del, index, name: Some(name), .. }
            if *index == vx && name == "vx0")
    });
}
