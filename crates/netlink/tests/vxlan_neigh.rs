//! Root tests for the overlay's kernel objects: a VXLAN device, permanent
//! neighbours, VXLAN FDB entries and on-link routes through the device.

mod common;

use std::net::IpAddr;

use cnm_netlink::{IpFamily, RouteSpec, VethSpec, VxlanSpec, TABLE_MAIN};
use common::{root_or_skip, TestNs};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn vxlan_neighbours_fdb_and_onlink_routes() {
    if !root_or_skip() {
        return;
    }
    let ns = TestNs::new("vxlan");
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
    h.add_addr(u0, "10.213.77.1/24".parse().unwrap(), false)
        .unwrap();
    h.set_up(u0).unwrap();
    let spec = VxlanSpec {
        name: "vx0",
        vni: 4242,
        local: ip("10.213.77.1"),
        underlay: u0,
        port: 4789,
        mtu: Some(1450),
    };
    assert!(h.create_vxlan(&spec).unwrap());
    assert!(
        !h.create_vxlan(&spec).unwrap(),
        "second create reports the existing link"
    );
    let vx = h.link_by_name("vx0").unwrap().unwrap();
    assert_eq!(vx.kind.as_deref(), Some("vxlan"));
    assert_eq!(vx.mtu, 1450);
    h.set_up(vx.index).unwrap();
    assert!(h
        .create_vxlan(&VxlanSpec {
            vni: 0,
            name: "vx1",
            ..spec
        })
        .unwrap_err()
        .to_string()
        .contains("out of range"));

    let mac = [0x02, 0, 0, 0, 0x12, 0x34];
    h.set_neigh(vx.index, ip("10.213.77.2"), mac).unwrap();
    h.set_neigh(vx.index, ip("10.213.77.2"), mac).unwrap();
    let n = h.neighs(vx.index).unwrap();
    assert_eq!(n.len(), 1, "{n:?}");
    assert_eq!(
        (n[0].ip, n[0].mac, n[0].permanent),
        (ip("10.213.77.2"), mac, true)
    );

    h.set_fdb(vx.index, mac, ip("10.213.77.2")).unwrap();
    h.set_fdb(vx.index, mac, ip("10.213.77.2")).unwrap();
    let f = h.fdb(vx.index).unwrap();
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!((f[0].ip, f[0].mac), (ip("10.213.77.2"), mac));

    let mut r = RouteSpec::new("10.214.0.64/26".parse().unwrap());
    r.gw = Some(ip("10.213.77.2"));
    r.oif = Some(vx.index);
    h.replace_route_onlink(&r).unwrap();
    h.replace_route_onlink(&r).unwrap();
    let routes: Vec<_> = h
        .routes(IpFamily::V4, Some(TABLE_MAIN))
        .unwrap()
        .into_iter()
        .filter(|x| x.oif == Some(vx.index))
        .collect();
    assert_eq!(routes.len(), 1, "{routes:?}");
    assert_eq!(routes[0].gw, Some(ip("10.213.77.2")));

    assert!(h.del_route(&r).unwrap());
    assert!(h.del_fdb(vx.index, mac, ip("10.213.77.2")).unwrap());
    assert!(!h.del_fdb(vx.index, mac, ip("10.213.77.2")).unwrap());
    assert!(h.fdb(vx.index).unwrap().is_empty());
    assert!(h.del_neigh(vx.index, ip("10.213.77.2")).unwrap());
    assert!(!h.del_neigh(vx.index, ip("10.213.77.2")).unwrap());
    assert!(h.neighs(vx.index).unwrap().is_empty());
}
