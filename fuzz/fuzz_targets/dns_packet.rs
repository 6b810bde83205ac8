//! The resolver's packet path (`cnm_resolver::answer::handle`) on arbitrary
//! bytes, over UDP and TCP, from a client that sees names and from one that
//! does not, at a normal and at an internal network's address; plus the
//! record files' parser. Invariants: no panic; an answer is a DNS response
//! (QR set) with the query's ID; a UDP answer fits the largest size we send.
#![no_main]

use std::net::IpAddr;
use std::sync::OnceLock;

use cnm_dns_records::{
    EndpointRecord, NetworkSettings, NetworkSnapshot, RemoteRecords, Snapshot, FORMAT_VERSION,
};
use cnm_resolver::answer::{handle, Action, Transport, EDNS_UDP_SIZE};
use cnm_resolver::view::View;
use libfuzzer_sys::fuzz_target;

fn view() -> &'static View {
    static VIEW: OnceLock<View> = OnceLock::new();
    VIEW.get_or_init(|| {
        let net = |name: &str, gw: &str, subnet: &str, internal: bool| {
            let mut s = NetworkSettings::new(name);
            s.domain = Some("dns.podman".into());
            s.listen = vec![gw.parse().unwrap()];
            s.subnets = vec![subnet.parse().unwrap()];
            s.internal = internal;
            s
        };
        let ep = |net: &str, cid: &str, name: &str, addrs: &[&str]| EndpointRecord {
            version: FORMAT_VERSION,
            network: net.into(),
            container_id: cid.into(),
            ifname: "eth0".into(),
            name: name.into(),
            aliases: vec!["alias".into(), "a.b".into()],
            addresses: addrs.iter().map(|a| a.parse().unwrap()).collect(),
        };
        let mut many: Vec<EndpointRecord> = (0..40)
            .map(|i| ep("a", &format!("c{i}"), "pool", &[&format!("10.1.0.{}", i + 10)]))
            .collect();
        many.push(ep("a", "web", "web", &["10.1.0.2", "fd01::2"]));
        View::build(&Snapshot {
            networks: vec![
                NetworkSnapshot {
                    settings: net("a", "10.1.0.1", "10.1.0.0/24", false),
                    endpoints: many,
                    remote: vec![],
                },
                NetworkSnapshot {
                    settings: net("b", "10.2.0.1", "10.2.0.0/24", true),
                    endpoints: vec![ep("b", "x", "x", &["10.2.0.2"])],
                    remote: vec![],
                },
            ],
            warnings: vec![],
        })
    })
}

fuzz_target!(|data: &[u8]| {
    let v = view();
    let clients: [(&str, &str); 3] = [
        ("10.1.0.3", "10.1.0.1"),
        ("192.0.2.1", "10.1.0.1"),
        ("10.2.0.2", "10.2.0.1"),
    ];
    for (src, local) in clients {
        let src: IpAddr = src.parse().unwrap();
        let local: IpAddr = local.parse().unwrap();
        for t in [Transport::Udp, Transport::Tcp] {
            if let Action::Reply(out) = handle(data, src, local, v, t) {
                assert!(out.len() >= 12, "short answer");
                assert_eq!(out[..2], data[..2], "answer with another ID");
                assert!(out[2] & 0x80 != 0, "answer without QR");
                if t == Transport::Udp {
                    assert!(out.len() <= usize::from(EDNS_UDP_SIZE), "UDP answer of {} bytes", out.len());
                }
            }
        }
    }
    if let Ok(r) = serde_json::from_slice::<EndpointRecord>(data) {
        let _ = r.validate();
    }
    if let Ok(r) = serde_json::from_slice::<RemoteRecords>(data) {
        let _ = r.validate();
    }
    if let Ok(s) = serde_json::from_slice::<NetworkSettings>(data) {
        let _ = s.validate();
    }
});
