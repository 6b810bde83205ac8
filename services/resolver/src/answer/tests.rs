//! The wire rules of `handle`, on queries built with `domain`.

use super::*;
use crate::view::tests::sample;
use cnm_dns_records::{EndpointRecord, NetworkSettings, NetworkSnapshot, Snapshot, FORMAT_VERSION};
use domain::base::Message;

const CLIENT: &str = "10.1.0.3";
const GW: &str = "10.1.0.1";
const GW_INTERNAL: &str = "10.2.0.1";

fn query_with(name: &str, qtype: Rtype, edns: Option<(u16, u8)>, id: u16) -> Vec<u8> {
    let mut b = MessageBuilder::new_vec();
    b.header_mut().set_id(id);
    b.header_mut().set_rd(true);
    let mut q = b.question();
    q.push((Name::<Vec<u8>>::from_str(name).unwrap(), qtype))
        .unwrap();
    let mut add = q.additional();
    if let Some((size, version)) = edns {
        add.opt(|o| {
            o.set_udp_payload_size(size);
            o.set_version(version);
            Ok(())
        })
        .unwrap();
    }
    add.finish()
}

fn query(name: &str, qtype: Rtype) -> Vec<u8> {
    query_with(name, qtype, None, 0x4242)
}

fn ask(v: &View, q: &[u8], local: &str, t: Transport) -> Action {
    handle(q, CLIENT.parse().unwrap(), local.parse().unwrap(), v, t)
}

fn reply(a: Action) -> Message<Vec<u8>> {
    match a {
        Action::Reply(b) => Message::from_octets(b).unwrap(),
        other => panic!("expected a reply, got {other:?}"),
    }
}

fn addrs(m: &Message<Vec<u8>>) -> Vec<String> {
    let mut out = Vec::new();
    for rr in m.answer().unwrap().limit_to::<A>() {
        out.push(rr.unwrap().data().addr().to_string());
    }
    for rr in m.answer().unwrap().limit_to::<Aaaa>() {
        out.push(rr.unwrap().data().addr().to_string());
    }
    out
}

#[test]
fn a_and_aaaa_with_and_without_domain() {
    let v = sample();
    let m = reply(ask(&v, &query("web", Rtype::A), GW, Transport::Udp));
    assert_eq!(m.header().id(), 0x4242);
    assert!(m.header().qr() && m.header().aa() && m.header().rd() && m.header().ra());
    assert_eq!(m.header().rcode(), Rcode::NOERROR);
    assert_eq!(addrs(&m), ["10.1.0.2"]);
    let rr = m.answer().unwrap().limit_to::<A>().next().unwrap().unwrap();
    assert_eq!(rr.ttl(), Ttl::ZERO);
    let m = reply(ask(
        &v,
        &query("WeB.Dns.Podman", Rtype::AAAA),
        GW,
        Transport::Udp,
    ));
    assert_eq!(addrs(&m), ["fd01::2"]);
    // The answer's owner echoes the question as asked.
    let owner = m
        .answer()
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .owner()
        .to_string();
    assert_eq!(owner, "WeB.Dns.Podman");
    let m = reply(ask(
        &v,
        &query("www.dns.podman.", Rtype::ANY),
        GW,
        Transport::Udp,
    ));
    assert_eq!(addrs(&m), ["10.1.0.2", "fd01::2"]);
}

#[test]
fn names_without_an_answer_of_that_type_or_at_all() {
    let v = sample();
    let m = reply(ask(&v, &query("web", Rtype::MX), GW, Transport::Udp));
    assert_eq!(m.header().rcode(), Rcode::NOERROR);
    assert_eq!(m.header_counts().ancount(), 0);
    let m = reply(ask(&v, &query("client", Rtype::AAAA), GW, Transport::Udp));
    assert_eq!(
        (m.header().rcode(), m.header_counts().ancount()),
        (Rcode::NOERROR, 0)
    );
    let m = reply(ask(
        &v,
        &query("nobody.dns.podman", Rtype::A),
        GW,
        Transport::Udp,
    ));
    assert_eq!(m.header().rcode(), Rcode::NXDOMAIN);
    assert!(m.header().aa());
    // Another network's container, by its full name: NXDOMAIN, never forwarded.
    let m = reply(ask(
        &v,
        &query("secret.dns.podman", Rtype::A),
        GW,
        Transport::Udp,
    ));
    assert_eq!(m.header().rcode(), Rcode::NXDOMAIN);
    let m = reply(ask(
        &v,
        &query("dns.podman", Rtype::SOA),
        GW,
        Transport::Udp,
    ));
    assert_eq!(
        (m.header().rcode(), m.header_counts().ancount()),
        (Rcode::NOERROR, 0)
    );
}

#[test]
fn other_names_are_forwarded_except_on_internal_networks() {
    let v = sample();
    assert_eq!(
        ask(&v, &query("example.com", Rtype::A), GW, Transport::Udp),
        Action::Forward(vec![])
    );
    assert_eq!(
        ask(&v, &query("secret", Rtype::A), GW, Transport::Udp),
        Action::Forward(vec![])
    );
    // A name with bytes none of ours can hold goes upstream as it is.
    assert_eq!(
        ask(&v, &query("a\\032b.example", Rtype::A), GW, Transport::Udp),
        Action::Forward(vec![])
    );
    let m = reply(ask(
        &v,
        &query("example.com", Rtype::A),
        GW_INTERNAL,
        Transport::Udp,
    ));
    assert_eq!(m.header().rcode(), Rcode::REFUSED);
    assert!(!m.header().ra());
}

#[test]
fn per_network_upstreams_are_handed_to_the_forwarder() {
    let mut s = NetworkSettings::new("n");
    s.listen = vec![GW.parse().unwrap()];
    s.upstreams = vec!["192.0.2.53:5353".parse().unwrap()];
    let snap = Snapshot {
        networks: vec![NetworkSnapshot {
            settings: s,
            endpoints: vec![EndpointRecord {
                version: FORMAT_VERSION,
                network: "n".into(),
                container_id: "c".into(),
                ifname: "eth0".into(),
                name: "x".into(),
                aliases: vec![],
                addresses: vec![CLIENT.parse().unwrap()],
            }],
            remote: vec![],
        }],
        warnings: vec![],
    };
    let v = View::build(&snap);
    assert_eq!(
        ask(&v, &query("example.com", Rtype::A), GW, Transport::Udp),
        Action::Forward(vec!["192.0.2.53:5353".parse().unwrap()])
    );
}

#[test]
fn ptr_for_visible_names() {
    let v = sample();
    let m = reply(ask(
        &v,
        &query("2.0.1.10.in-addr.arpa", Rtype::PTR),
        GW,
        Transport::Udp,
    ));
    let rr = m
        .answer()
        .unwrap()
        .limit_to::<Ptr<_>>()
        .next()
        .unwrap()
        .unwrap();
    assert_eq!(rr.data().ptrdname().to_string(), "web.dns.podman");
    let v6 = format!("2.0.0.0.{}1.0.d.f.ip6.arpa", "0.".repeat(24));
    assert_eq!(reverse_to_ip(&v6), Some("fd01::2".parse().unwrap()));
    let m = reply(ask(&v, &query(&v6, Rtype::PTR), GW, Transport::Udp));
    assert_eq!(m.header_counts().ancount(), 1);
    let m = reply(ask(
        &v,
        &query("9.0.2.10.in-addr.arpa", Rtype::PTR),
        GW,
        Transport::Udp,
    ));
    assert_eq!(
        m.header().rcode(),
        Rcode::NXDOMAIN,
        "another network's address"
    );
    assert_eq!(
        ask(
            &v,
            &query("1.2.0.192.in-addr.arpa", Rtype::PTR),
            GW,
            Transport::Udp
        ),
        Action::Forward(vec![])
    );
}

#[test]
fn reverse_names_parse_strictly() {
    assert_eq!(
        reverse_to_ip("4.3.2.1.in-addr.arpa"),
        Some("1.2.3.4".parse().unwrap())
    );
    for bad in [
        "3.2.1.in-addr.arpa",
        "256.3.2.1.in-addr.arpa",
        "04.3.2.1.in-addr.arpa",
        "x.3.2.1.in-addr.arpa",
        "1.ip6.arpa",
        "example.com",
    ] {
        assert_eq!(reverse_to_ip(bad), None, "{bad}");
    }
}

#[test]
fn malformed_queries_get_an_error_or_nothing() {
    let v = sample();
    let gw = GW;
    assert_eq!(ask(&v, &[], gw, Transport::Udp), Action::Drop);
    assert_eq!(ask(&v, &[1, 2, 3, 4, 5], gw, Transport::Udp), Action::Drop);
    // A response (QR set) is never answered.
    let mut q = query("web", Rtype::A);
    q[2] |= 0x80;
    assert_eq!(ask(&v, &q, gw, Transport::Udp), Action::Drop);
    // NOTIFY opcode.
    let mut q = query("web", Rtype::A);
    q[2] = (q[2] & 0x87) | (4 << 3);
    assert_eq!(
        reply(ask(&v, &q, gw, Transport::Udp)).header().rcode(),
        Rcode::NOTIMP
    );
    // Two questions announced, one present; none; a cut question.
    let mut q = query("web", Rtype::A);
    q[5] = 2;
    assert_eq!(
        reply(ask(&v, &q, gw, Transport::Udp)).header().rcode(),
        Rcode::FORMERR
    );
    let mut q = query("web", Rtype::A);
    q[5] = 0;
    assert_eq!(
        reply(ask(&v, &q, gw, Transport::Udp)).header().rcode(),
        Rcode::FORMERR
    );
    let q = query("web", Rtype::A);
    let m = reply(ask(&v, &q[..15], gw, Transport::Udp));
    assert_eq!(m.header().rcode(), Rcode::FORMERR);
    assert_eq!(m.header().id(), 0x4242);
    // A compression loop in the question.
    let mut q = q[..12].to_vec();
    q.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1]);
    assert_eq!(
        reply(ask(&v, &q, gw, Transport::Udp)).header().rcode(),
        Rcode::FORMERR
    );
    // Class CHAOS.
    let mut q = query("version.bind", Rtype::TXT);
    let n = q.len();
    q[n - 1] = 3;
    assert_eq!(
        reply(ask(&v, &q, gw, Transport::Udp)).header().rcode(),
        Rcode::REFUSED
    );
}

#[test]
fn edns_is_answered_with_edns_and_badvers() {
    let v = sample();
    let m = reply(ask(
        &v,
        &query_with("web", Rtype::A, Some((4096, 0)), 7),
        GW,
        Transport::Udp,
    ));
    let opt = m.opt().expect("OPT in the answer");
    assert_eq!(opt.udp_payload_size(), EDNS_UDP_SIZE);
    assert_eq!(addrs(&m), ["10.1.0.2"]);
    let m = reply(ask(
        &v,
        &query_with("web", Rtype::A, Some((4096, 1)), 7),
        GW,
        Transport::Udp,
    ));
    assert_eq!(m.opt_rcode(), OptRcode::BADVERS);
    assert_eq!(m.header_counts().ancount(), 0);
}

fn crowded() -> View {
    // 60 containers sharing an alias: 60 A records, ~1 KB.
    let mut s = NetworkSettings::new("n");
    s.listen = vec![GW.parse().unwrap()];
    s.domain = Some("dns.podman".into());
    s.subnets = vec!["10.1.0.0/24".parse().unwrap()];
    let endpoints = (0..60)
        .map(|i| EndpointRecord {
            version: FORMAT_VERSION,
            network: "n".into(),
            container_id: format!("c{i}"),
            ifname: "eth0".into(),
            name: format!("w{i}"),
            aliases: vec!["pool".into()],
            addresses: vec![format!("10.1.0.{}", i + 10).parse().unwrap()],
        })
        .collect();
    View::build(&Snapshot {
        networks: vec![NetworkSnapshot {
            settings: s,
            endpoints,
            remote: vec![],
        }],
        warnings: vec![],
    })
}

#[test]
fn large_answers_are_truncated_over_udp_only() {
    let v = crowded();
    let m = reply(ask(&v, &query("pool", Rtype::A), GW, Transport::Udp));
    assert!(m.header().tc());
    assert_eq!(m.header_counts().ancount(), 0);
    assert!(m.as_slice().len() <= PLAIN_UDP_SIZE);
    let m = reply(ask(
        &v,
        &query_with("pool", Rtype::A, Some((4096, 0)), 1),
        GW,
        Transport::Udp,
    ));
    assert!(
        !m.header().tc(),
        "fits in 1232 with compression: {} bytes",
        m.as_slice().len()
    );
    assert_eq!(m.header_counts().ancount(), 60);
    assert!(m.opt().is_some());
    let m = reply(ask(&v, &query("pool", Rtype::A), GW, Transport::Tcp));
    assert_eq!(m.header_counts().ancount(), 60);
}

#[test]
fn servfail_and_reply_matching() {
    let q = query("example.com", Rtype::A);
    let sf = Message::from_octets(servfail(&q, true).unwrap()).unwrap();
    assert_eq!(
        (sf.header().rcode(), sf.header().id()),
        (Rcode::SERVFAIL, 0x4242)
    );
    assert!(servfail(&[0, 1], true).is_none());
    let good = servfail(&q, true).unwrap();
    assert!(is_reply_to(&q, &good));
    let other = servfail(&query("example.org", Rtype::A), true).unwrap();
    assert!(!is_reply_to(&q, &other));
    assert!(!is_reply_to(&q, &q), "a query is no reply");
}
