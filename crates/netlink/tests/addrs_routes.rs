//! Root tests for addresses (IPv4 broadcast, IPv6 nodad) and routes
//! (default via gateway, link scope with metrics, other tables).

mod common;

use cnm_netlink::{Handle, IpFamily, RouteSpec, VethSpec, SCOPE_LINK, TABLE_MAIN};
use common::{root_or_skip, TestNs};
use ipnet::IpNet;

fn veth_up(h: &mut Handle) -> u32 {
    h.create_veth(&VethSpec {
        name: "c0",
        peer_name: "c1",
        mtu: None,
        mac: None,
        peer_mac: None,
        peer_netns: None,
        alias: None,
    })
    .unwrap();
    let c0 = h.link_by_name("c0").unwrap().unwrap();
    let c1 = h.link_by_name("c1").unwrap().unwrap();
    h.set_up(c1.index).unwrap();
    h.set_up(c0.index).unwrap();
    c0.index
}

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

#[test]
fn addresses_v4_v6_nodad() {
    if !root_or_skip() {
        return;
    }
    let ns = TestNs::new("addr");
    let mut h = ns.handle();
    let idx = veth_up(&mut h);

    assert!(h.add_addr(idx, net("10.10.0.2/24"), false).unwrap());
    assert!(!h.add_addr(idx, net("10.10.0.2/24"), false).unwrap());
    assert!(h.add_addr(idx, net("fd00:10::2/64"), true).unwrap());

    let addrs = h.addrs(idx).unwrap();
    let v4 = addrs
        .iter()
        .find(|a| a.addr == net("10.10.0.2/24"))
        .unwrap();
    assert_eq!(v4.scope, 0);
    let v6 = addrs
        .iter()
        .find(|a| a.addr == net("fd00:10::2/64"))
        .unwrap();
    assert!(
        !v6.is_tentative() && !v6.is_dadfailed(),
        "flags {:#x}",
        v6.flags
    );
    assert!(v6.flags & cnm_netlink::IFA_F_NODAD != 0);
    // other links' addresses are filtered out (lo has none until up; c1 has none)
    assert!(addrs.iter().all(|a| a.addr != net("127.0.0.1/8")));

    let j = ns.ip_json(&["addr", "show", "dev", "c0"]);
    let infos = j[0]["addr_info"].as_array().unwrap();
    let v4j = infos.iter().find(|a| a["local"] == "10.10.0.2").unwrap();
    assert_eq!(v4j["broadcast"], "10.10.0.255");
    assert_eq!(v4j["prefixlen"], 24);
    let v6j = infos.iter().find(|a| a["local"] == "fd00:10::2").unwrap();
    assert_eq!(v6j["nodad"], true);
    assert!(v6j.get("tentative").is_none());

    assert!(h.del_addr(idx, net("10.10.0.2/24")).unwrap());
    assert!(!h.del_addr(idx, net("10.10.0.2/24")).unwrap());
    assert!(h.del_addr(idx, net("fd00:10::2/64")).unwrap());
    let left = h.addrs(idx).unwrap();
    assert!(left
        .iter()
        .all(|a| a.addr != net("10.10.0.2/24") && a.addr != net("fd00:10::2/64")));

    // a dump larger than one 32 KiB datagram (multipart)
    for i in 0..600u32 {
        let a = std::net::Ipv4Addr::from(0x0a0b_0000 + i);
        assert!(h
            .add_addr(idx, IpNet::new(a.into(), 32).unwrap(), false)
            .unwrap());
    }
    let many = h.addrs(idx).unwrap();
    let count = many
        .iter()
        .filter(|a| matches!(a.addr, IpNet::V4(v) if v.addr().octets()[..2] == [10, 11]))
        .count();
    assert_eq!(count, 600);

    let e = h.add_addr(99999, net("10.9.0.1/24"), false).unwrap_err();
    assert!(e.to_string().contains("10.9.0.1/24 on link 99999"), "{e}");
}

#[test]
fn routes_default_gateway_metrics_tables() {
    if !root_or_skip() {
        return;
    }
    let ns = TestNs::new("route");
    let mut h = ns.handle();
    let idx = veth_up(&mut h);
    h.add_addr(idx, net("10.20.0.2/24"), false).unwrap();
    h.add_addr(idx, net("fd00:20::2/64"), true).unwrap();

    // default via gateway
    let mut def = RouteSpec::new(net("0.0.0.0/0"));
    def.gw = Some("10.20.0.1".parse().unwrap());
    def.oif = Some(idx);
    assert!(h.add_route(&def).unwrap());
    assert!(!h.add_route(&def).unwrap());
    let routes = h.routes(IpFamily::V4, Some(TABLE_MAIN)).unwrap();
    let got = routes.iter().find(|r| r.dst == def.dst).unwrap();
    assert_eq!(got.gw, def.gw);
    assert_eq!(got.oif, Some(idx));
    let j = ns.ip_json(&["route", "show", "default"]);
    assert_eq!(j[0]["gateway"], "10.20.0.1");
    assert_eq!(j[0]["dev"], "c0");

    // link-scoped route with metric, mtu and advmss
    let mut r = RouteSpec::new(net("192.168.5.0/24"));
    r.oif = Some(idx);
    r.priority = Some(50);
    r.mtu = Some(1300);
    r.advmss = Some(1200);
    assert!(h.add_route(&r).unwrap());
    let got = h
        .routes(IpFamily::V4, Some(TABLE_MAIN))
        .unwrap()
        .into_iter()
        .find(|x| x.dst == r.dst)
        .unwrap();
    assert_eq!(got.scope, Some(SCOPE_LINK));
    assert_eq!(
        (got.priority, got.mtu, got.advmss),
        (Some(50), Some(1300), Some(1200))
    );
    assert_eq!(got.gw, None);

    // IPv6 route via gateway
    let mut r6 = RouteSpec::new(net("fd00:99::/64"));
    r6.gw = Some("fd00:20::1".parse().unwrap());
    assert!(h.add_route(&r6).unwrap());
    let v6 = h.routes(IpFamily::V6, Some(TABLE_MAIN)).unwrap();
    let got = v6.iter().find(|x| x.dst == r6.dst).unwrap();
    assert_eq!(got.gw, r6.gw);
    assert_eq!(got.oif, Some(idx));
    assert!(v6.iter().all(|x| matches!(x.dst, IpNet::V6(_))));

    // another table
    let mut t = RouteSpec::new(net("172.30.0.0/16"));
    t.gw = Some("10.20.0.1".parse().unwrap());
    t.table = Some(100);
    assert!(h.add_route(&t).unwrap());
    assert!(h
        .routes(IpFamily::V4, Some(100))
        .unwrap()
        .iter()
        .any(|x| x.dst == t.dst));
    assert!(!h
        .routes(IpFamily::V4, Some(TABLE_MAIN))
        .unwrap()
        .iter()
        .any(|x| x.dst == t.dst));

    // delete twice
    for spec in [&def, &r, &r6, &t] {
        assert!(h.del_route(spec).unwrap(), "delete {spec:?}");
        assert!(!h.del_route(spec).unwrap(), "second delete {spec:?}");
    }
    assert!(!h
        .routes(IpFamily::V4, None)
        .unwrap()
        .iter()
        .any(|x| x.dst == def.dst));

    // unreachable gateway: error names the route
    let mut bad = RouteSpec::new(net("10.99.0.0/16"));
    bad.gw = Some("10.98.0.1".parse().unwrap());
    let e = h.add_route(&bad).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("add route 10.99.0.0/16 via 10.98.0.1: "),
        "{e}"
    );
}
