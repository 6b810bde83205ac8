//! The resolver as the record store starts it, inside a throwaway network
//! namespace (root only): names, visibility, NXDOMAIN, PTR, forwarding to an
//! upstream of the test's own, internal networks, removal, a killed
//! resolver, bad packets on UDP and TCP, idle TCP connections, and the stop
//! when the last network leaves.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cnm_dns_records::{EndpointRecord, Launcher, NetworkSettings, Store, FORMAT_VERSION};
use domain::base::iana::{Rcode, Rtype};
use domain::base::{Message, MessageBuilder, Name, ToName, Ttl};
use domain::rdata::{Aaaa, Ptr, A};
use netns::NetNs;

/// A throwaway namespace with a dummy link carrying the test's addresses.
struct Ns {
    name: String,
    ns: NetNs,
    tmp: tempfile::TempDir,
}

impl Ns {
    fn new(tag: &str, addrs: &[&str]) -> Ns {
        let name = format!("cnmdns-{tag}-{}", std::process::id());
        let path = netns::create_named(&name).unwrap();
        let ns = NetNs::open(&path).unwrap();
        let ip = |args: &[&str]| {
            let st = Command::new("ip")
                .arg("-n")
                .arg(&name)
                .args(args)
                .status()
                .unwrap();
            assert!(st.success(), "ip {args:?}");
        };
        ip(&["link", "set", "lo", "up"]);
        ip(&["link", "add", "dns0", "type", "bridge"]);
        ip(&["link", "set", "dns0", "up"]);
        for a in addrs {
            if a.contains(':') {
                ip(&["addr", "add", a, "dev", "dns0", "nodad"]);
            } else {
                ip(&["addr", "add", a, "dev", "dns0"]);
            }
        }
        Ns {
            name,
            ns,
            tmp: tempfile::tempdir().unwrap(),
        }
    }

    fn store(&self) -> Store {
        let resolv = self.tmp.path().join("resolv.conf");
        if !resolv.exists() {
            std::fs::write(&resolv, "nameserver 10.77.0.53\n").unwrap();
        }
        let mut l = Launcher::new(env!("CARGO_BIN_EXE_cnm-resolver"));
        l.args = vec!["--resolv-conf".into(), resolv.display().to_string()];
        Store::at(self.root(), Some(l))
    }

    fn root(&self) -> PathBuf {
        self.tmp.path().join("store")
    }

    fn run<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        self.ns.run_in(f).unwrap()
    }
}

impl Drop for Ns {
    fn drop(&mut self) {
        // Whatever the test left running in the namespace goes first.
        let _ = Command::new("ip")
            .args(["netns", "pids", &self.name])
            .output()
            .map(|o| {
                for pid in String::from_utf8_lossy(&o.stdout).split_whitespace() {
                    let _ = Command::new("kill").args(["-9", pid]).status();
                }
            });
        if let Err(e) = netns::remove_named(&self.name) {
            eprintln!("cannot remove namespace {}: {e}", self.name);
            let _ = Command::new("ip")
                .args(["netns", "del", &self.name])
                .status();
        }
    }
}

fn settings(net: &str, gw: &str, subnet: &str) -> NetworkSettings {
    let mut s = NetworkSettings::new(net);
    s.domain = Some("dns.podman".into());
    s.listen = vec![gw.parse().unwrap()];
    s.subnets = vec![subnet.parse().unwrap()];
    s
}

fn record(net: &str, cid: &str, name: &str, aliases: &[&str], addrs: &[&str]) -> EndpointRecord {
    EndpointRecord {
        version: FORMAT_VERSION,
        network: net.into(),
        container_id: cid.into(),
        ifname: "eth0".into(),
        name: name.into(),
        aliases: aliases.iter().map(|s| s.to_string()).collect(),
        addresses: addrs.iter().map(|s| s.parse().unwrap()).collect(),
    }
}

fn query(name: &str, qtype: Rtype, id: u16) -> Vec<u8> {
    let mut b = MessageBuilder::new_vec();
    b.header_mut().set_id(id);
    b.header_mut().set_rd(true);
    let mut q = b.question();
    q.push((Name::<Vec<u8>>::from_str(name).unwrap(), qtype))
        .unwrap();
    q.finish()
}

/// One UDP query from `src` to `server`:53; None on timeout.
fn udp_ask(src: &str, server: &str, name: &str, qtype: Rtype) -> Option<Message<Vec<u8>>> {
    let s = UdpSocket::bind((src.parse::<IpAddr>().unwrap(), 0)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let q = query(name, qtype, 0x1234);
    s.send_to(&q, (server.parse::<IpAddr>().unwrap(), 53))
        .unwrap();
    let mut buf = [0u8; 4096];
    let n = s.recv(&mut buf).ok()?;
    Some(Message::from_octets(buf[..n].to_vec()).unwrap())
}

fn tcp_ask(src: &str, server: &str, name: &str, qtype: Rtype) -> Option<Message<Vec<u8>>> {
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    sock.bind(&SocketAddr::new(src.parse().unwrap(), 0).into())
        .unwrap();
    sock.connect_timeout(
        &SocketAddr::new(server.parse().unwrap(), 53).into(),
        Duration::from_secs(3),
    )
    .ok()?;
    let mut s: TcpStream = sock.into();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let q = query(name, qtype, 0x2345);
    let mut framed = (q.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(&q);
    s.write_all(&framed).ok()?;
    let mut len = [0u8; 2];
    s.read_exact(&mut len).ok()?;
    let mut buf = vec![0u8; u16::from_be_bytes(len) as usize];
    s.read_exact(&mut buf).ok()?;
    Some(Message::from_octets(buf).unwrap())
}

fn a_records(m: &Message<Vec<u8>>) -> Vec<String> {
    let mut out: Vec<String> = m
        .answer()
        .unwrap()
        .limit_to::<A>()
        .map(|r| r.unwrap().data().addr().to_string())
        .collect();
    out.extend(
        m.answer()
            .unwrap()
            .limit_to::<Aaaa>()
            .map(|r| r.unwrap().data().addr().to_string()),
    );
    out
}

fn resolver_pid(root: &Path) -> Option<u32> {
    let text = std::fs::read_to_string(root.join("resolver.pid")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v["pid"].as_u64().map(|p| p as u32)
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| !s.contains(") Z ") && !s.contains(") X "))
        .unwrap_or(false)
}

/// A fake upstream on `addr`:53 answering every A query with 192.0.2.<last>.
fn upstream(
    ns: &Ns,
    addr: &'static str,
    last: u8,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<usize> {
    let nsfd = NetNs::open(netns::named_path(&ns.name).unwrap()).unwrap();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let handle = std::thread::spawn(move || {
        nsfd.run_in(|| {
            let s = UdpSocket::bind((addr, 53)).unwrap();
            s.set_read_timeout(Some(Duration::from_millis(100)))
                .unwrap();
            ready_tx.send(()).unwrap();
            let mut served = 0;
            let mut buf = [0u8; 4096];
            while !stop.load(Ordering::Relaxed) {
                let Ok((n, from)) = s.recv_from(&mut buf) else {
                    continue;
                };
                let Ok(q) = Message::from_octets(&buf[..n]) else {
                    continue;
                };
                let Ok(mut ans) = MessageBuilder::new_vec().start_answer(&q, Rcode::NOERROR) else {
                    continue;
                };
                let qname = q.first_question().unwrap().qname().to_name::<Vec<u8>>();
                ans.push((qname, Ttl::from_secs(60), A::from_octets(192, 0, 2, last)))
                    .unwrap();
                let _ = s.send_to(&ans.finish(), from);
                served += 1;
            }
            served
        })
        .unwrap()
    });
    ready_rx
        .recv_timeout(Duration::from_secs(5))
        .expect("the fake upstream did not start");
    handle
}

const GW: &str = "10.77.0.1";
const GW_INTERNAL: &str = "10.78.0.1";
const C_WEB: &str = "10.77.0.2";
const C_CLIENT: &str = "10.77.0.3";
const C_OTHER: &str = "10.78.0.9";

#[test]
fn names_visibility_forwarding_removal_and_restart() {
    cnm_test_support::require_root!();
    let ns = Ns::new(
        "names",
        &[
            "10.77.0.1/24",
            "10.77.0.2/24",
            "10.77.0.3/24",
            "10.77.0.53/24",
            "10.77.0.54/24",
            "10.78.0.1/24",
            "10.78.0.9/24",
        ],
    );
    let store = ns.store();
    let stop = Arc::new(AtomicBool::new(false));
    let up = upstream(&ns, "10.77.0.53", 7, stop.clone());
    let up2 = upstream(&ns, "10.77.0.54", 8, stop.clone());
    ns.run(|| {
        let a = settings("neta", GW, "10.77.0.0/24");
        let mut b = settings("netb", GW_INTERNAL, "10.78.0.0/24");
        b.internal = true;
        store
            .register(&a, &record("neta", "web1", "web", &["www"], &[C_WEB]))
            .unwrap();
        store
            .register(&a, &record("neta", "cli1", "client", &[], &[C_CLIENT]))
            .unwrap();
        store
            .register(&b, &record("netb", "oth1", "other", &[], &[C_OTHER]))
            .unwrap();
        let pid = resolver_pid(&ns.root()).expect("the first registration starts the resolver");
        assert!(alive(pid));

        // Name and alias, with and without the domain, any case, UDP and TCP.
        for n in ["web", "WWW", "web.dns.podman", "www.Dns.Podman"] {
            let m = udp_ask(C_CLIENT, GW, n, Rtype::A).expect(n);
            assert_eq!(a_records(&m), [C_WEB], "{n}");
        }
        let m = tcp_ask(C_CLIENT, GW, "web.dns.podman", Rtype::A).unwrap();
        assert_eq!(a_records(&m), [C_WEB]);
        // Another network's container is not visible.
        let m = udp_ask(C_CLIENT, GW, "other.dns.podman", Rtype::A).unwrap();
        assert_eq!(m.header().rcode(), Rcode::NXDOMAIN);
        let m = udp_ask(C_OTHER, GW_INTERNAL, "web.dns.podman", Rtype::A).unwrap();
        assert_eq!(m.header().rcode(), Rcode::NXDOMAIN);
        // NXDOMAIN at once.
        let t = Instant::now();
        let m = udp_ask(C_CLIENT, GW, "nobody.dns.podman", Rtype::A).unwrap();
        let took = t.elapsed();
        assert_eq!(m.header().rcode(), Rcode::NXDOMAIN);
        eprintln!("NXDOMAIN in {took:?}");
        assert!(took < Duration::from_millis(100), "NXDOMAIN took {took:?}");
        // PTR.
        let m = udp_ask(C_CLIENT, GW, "2.0.77.10.in-addr.arpa", Rtype::PTR).unwrap();
        let ptr: Vec<String> = m
            .answer()
            .unwrap()
            .limit_to::<Ptr<_>>()
            .map(|r| r.unwrap().data().ptrdname().to_string())
            .collect();
        assert_eq!(ptr, ["web.dns.podman"]);
        // Forwarded to the upstream of resolv.conf, over UDP and TCP (TCP
        // upstream: none listens, so SERVFAIL, not a hang).
        let m = udp_ask(C_CLIENT, GW, "example.com", Rtype::A).unwrap();
        assert_eq!(
            a_records(&m),
            ["192.0.2.7"],
            "{:?}: {:?}",
            m.header().rcode(),
            std::fs::read_to_string(ns.root().join("resolver.log"))
        );
        // Over TCP the query goes upstream over TCP: nothing listens there,
        // so SERVFAIL at once, not a hang.
        let t = Instant::now();
        let m = tcp_ask(C_CLIENT, GW, "example.com", Rtype::A).unwrap();
        assert_eq!(m.header().rcode(), Rcode::SERVFAIL);
        assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
        // resolv.conf replaced (by rename, as resolvconf does): used within a second or so.
        let resolv = ns.tmp.path().join("resolv.conf");
        std::fs::write(ns.tmp.path().join("resolv.new"), "nameserver 10.77.0.54\n").unwrap();
        std::fs::rename(ns.tmp.path().join("resolv.new"), &resolv).unwrap();
        let t = Instant::now();
        loop {
            let m = udp_ask(C_CLIENT, GW, "example.org", Rtype::A).unwrap();
            if a_records(&m) == ["192.0.2.8"] {
                eprintln!("new resolv.conf used after {:?}", t.elapsed());
                break;
            }
            assert!(
                t.elapsed() < Duration::from_secs(5),
                "resolv.conf change not picked up"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        // The internal network does not forward.
        let m = udp_ask(C_OTHER, GW_INTERNAL, "example.com", Rtype::A).unwrap();
        assert_eq!(m.header().rcode(), Rcode::REFUSED);

        // Removed: gone as soon as unregister returns; re-created with a new address.
        store.unregister("neta", "web1", "eth0").unwrap();
        // The bare name is not ours any more: forwarded (the fake upstream answers).
        let m = udp_ask(C_CLIENT, GW, "web", Rtype::A).unwrap();
        assert_eq!(a_records(&m), ["192.0.2.8"], "web still answers");
        let m = udp_ask(C_CLIENT, GW, "web.dns.podman", Rtype::A).unwrap();
        assert_eq!(m.header().rcode(), Rcode::NXDOMAIN);
        store
            .register(&a, &record("neta", "web2", "web", &[], &["10.77.0.22"]))
            .unwrap();
        let m = udp_ask(C_CLIENT, GW, "web", Rtype::A).unwrap();
        assert_eq!(a_records(&m), ["10.77.0.22"]);

        // Killed: the next registration brings every name back.
        Command::new("kill")
            .args(["-9", &pid.to_string()])
            .status()
            .unwrap();
        let t = Instant::now();
        while alive(pid) && t.elapsed() < Duration::from_secs(3) {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(
            udp_ask(C_CLIENT, GW, "web", Rtype::A).is_none(),
            "a dead resolver answers?"
        );
        let t = Instant::now();
        store
            .register(&a, &record("neta", "new1", "newbie", &[], &["10.77.0.30"]))
            .unwrap();
        for (n, want) in [
            ("web", "10.77.0.22"),
            ("client", C_CLIENT),
            ("newbie", "10.77.0.30"),
        ] {
            let m = udp_ask(C_CLIENT, GW, n, Rtype::A).expect(n);
            assert_eq!(a_records(&m), [want], "{n} after restart");
        }
        eprintln!(
            "names back {:?} after the kill, at the next registration",
            t.elapsed()
        );
        let pid2 = resolver_pid(&ns.root()).unwrap();
        assert_ne!(pid2, pid);
        store.check("neta", "new1", "eth0", None).unwrap();
    });
    stop.store(true, Ordering::Relaxed);
    assert!(
        up.join().unwrap() >= 1,
        "the upstream saw the forwarded query"
    );
    assert!(
        up2.join().unwrap() >= 1,
        "the new upstream saw a forwarded query"
    );
    // The last one out stops the resolver and leaves no file.
    ns.run(|| {
        let pid = resolver_pid(&ns.root()).unwrap();
        for (net, c) in [
            ("neta", "web2"),
            ("neta", "cli1"),
            ("neta", "new1"),
            ("netb", "oth1"),
        ] {
            store.unregister(net, c, "eth0").unwrap();
        }
        assert!(
            !alive(pid),
            "resolver still running after the last unregister"
        );
        assert!(
            !ns.root().exists(),
            "store left: {:?}",
            std::fs::read_dir(ns.root()).map(|d| d.flatten().map(|e| e.path()).collect::<Vec<_>>())
        );
    });
}

#[test]
fn bad_packets_and_idle_connections_never_stop_it() {
    cnm_test_support::require_root!();
    let ns = Ns::new("abuse", &["10.77.0.1/24", "10.77.0.2/24", "10.77.0.3/24"]);
    let store = ns.store();
    // A descriptor the starter leaks (as `flock FILE cmd` leaks its lock):
    // the resolver must not keep it.
    let marker = ns.tmp.path().join("inherited-lock");
    let leaked = std::fs::File::create(&marker).unwrap();
    nix::fcntl::fcntl(
        &leaked,
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty()),
    )
    .unwrap();
    ns.run(|| {
        store
            .register(
                &settings("neta", GW, "10.77.0.0/24"),
                &record("neta", "web1", "web", &[], &[C_WEB]),
            )
            .unwrap();
        let pid = resolver_pid(&ns.root()).unwrap();
        let open: Vec<PathBuf> = std::fs::read_dir(format!("/proc/{pid}/fd"))
            .unwrap()
            .flatten()
            .filter_map(|e| std::fs::read_link(e.path()).ok())
            .collect();
        assert!(
            !open.contains(&marker),
            "the resolver kept an inherited descriptor: {open:?}"
        );
        let gw: SocketAddr = "10.77.0.1:53".parse().unwrap();
        // UDP garbage of every size, an oversized datagram, a reflected response.
        let s = UdpSocket::bind((C_CLIENT, 0)).unwrap();
        let mut seed = 0x9e37_79b9_u32;
        for len in [
            0usize, 1, 11, 12, 13, 40, 300, 512, 1500, 4096, 4097, 9000, 65000,
        ] {
            let pkt: Vec<u8> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 17;
                    seed ^= seed << 5;
                    seed as u8
                })
                .collect();
            let _ = s.send_to(&pkt, gw);
        }
        let mut resp = query("web", Rtype::A, 9);
        resp[2] |= 0x80;
        s.send_to(&resp, gw).unwrap();
        // TCP: a huge length, a short message then silence, garbage.
        for payload in [
            vec![0xff, 0xff, 1, 2, 3],
            vec![0, 40, 1, 2],
            vec![0, 3, 1, 2, 3],
        ] {
            if let Ok(mut c) = TcpStream::connect_timeout(&gw, Duration::from_secs(2)) {
                let _ = c.write_all(&payload);
            }
        }
        // 300 idle connections (more than the bound of 128).
        let mut idle = Vec::new();
        for _ in 0..300 {
            if let Ok(c) = TcpStream::connect_timeout(&gw, Duration::from_secs(2)) {
                idle.push(c);
            }
        }
        let t = Instant::now();
        let m = tcp_ask(C_CLIENT, GW, "web", Rtype::A)
            .expect("TCP answered with 300 idle connections open");
        assert_eq!(a_records(&m), [C_WEB]);
        let m = udp_ask(C_CLIENT, GW, "web", Rtype::A).expect("UDP answered");
        assert_eq!(a_records(&m), [C_WEB]);
        eprintln!(
            "answered in {:?} with {} idle connections open",
            t.elapsed(),
            idle.len()
        );
        // The oldest idle connections were evicted: reading them gives EOF.
        let mut first = idle.remove(0);
        first
            .set_read_timeout(Some(Duration::from_secs(1)))
            .unwrap();
        let mut b = [0u8; 1];
        assert!(
            matches!(first.read(&mut b), Ok(0)),
            "the oldest idle connection is still open"
        );
        assert!(alive(pid));
        drop(idle);
        store.unregister("neta", "web1", "eth0").unwrap();
        assert!(!alive(pid));
    });
    drop(leaked);
}

#[test]
fn ipv6_gateway_aaaa_and_ptr() {
    cnm_test_support::require_root!();
    let ns = Ns::new(
        "v6",
        &[
            "10.77.0.1/24",
            "10.77.0.2/24",
            "fd77::1/64",
            "fd77::2/64",
            "fd77::3/64",
        ],
    );
    let store = ns.store();
    ns.run(|| {
        let mut s = settings("net6", GW, "10.77.0.0/24");
        s.listen.push("fd77::1".parse().unwrap());
        s.subnets.push("fd77::/64".parse().unwrap());
        store
            .register(&s, &record("net6", "web1", "web", &[], &[C_WEB, "fd77::2"]))
            .unwrap();
        store
            .register(&s, &record("net6", "cli1", "client", &[], &["fd77::3"]))
            .unwrap();
        let m = udp_ask("fd77::3", "fd77::1", "web.dns.podman", Rtype::AAAA)
            .expect("an answer on the IPv6 gateway");
        assert_eq!(a_records(&m), ["fd77::2"]);
        let m = udp_ask("fd77::3", "fd77::1", "web", Rtype::A).unwrap();
        assert_eq!(a_records(&m), [C_WEB]);
        let rev = format!("2.0.0.0.{}7.7.d.f.ip6.arpa", "0.".repeat(24));
        let m = udp_ask("fd77::3", "fd77::1", &rev, Rtype::PTR).unwrap();
        let ptr: Vec<String> = m
            .answer()
            .unwrap()
            .limit_to::<Ptr<_>>()
            .map(|r| r.unwrap().data().ptrdname().to_string())
            .collect();
        assert_eq!(ptr, ["web.dns.podman"]);
        store.unregister("net6", "web1", "eth0").unwrap();
        store.unregister("net6", "cli1", "eth0").unwrap();
        assert!(!ns.root().exists());
    });
}

#[test]
fn concurrent_registrations_start_one_resolver() {
    cnm_test_support::require_root!();
    let mut addrs = vec!["10.77.0.1/24".to_string()];
    addrs.extend((0..16).map(|i| format!("10.77.0.{}/24", 100 + i)));
    let refs: Vec<&str> = addrs.iter().map(String::as_str).collect();
    let ns = Ns::new("race", &refs);
    let store = ns.store();
    ns.run(|| {
        let s = settings("race", GW, "10.77.0.0/24");
        std::thread::scope(|sc| {
            for i in 0..16 {
                let (store, s) = (&store, &s);
                sc.spawn(move || {
                    let addr = format!("10.77.0.{}", 100 + i);
                    store
                        .register(
                            s,
                            &record("race", &format!("c{i}"), &format!("n{i}"), &[], &[&addr]),
                        )
                        .unwrap();
                });
            }
        });
        let resolvers: Vec<String> = String::from_utf8_lossy(
            &Command::new("ip")
                .args(["netns", "pids", &ns.name])
                .output()
                .unwrap()
                .stdout,
        )
        .split_whitespace()
        .filter(|p| {
            std::fs::read_to_string(format!("/proc/{p}/comm"))
                .is_ok_and(|c| c.trim() == "cnm-resolver")
        })
        .map(str::to_string)
        .collect();
        assert_eq!(resolvers.len(), 1, "resolvers running: {resolvers:?}");
        for i in 0..16 {
            let m = udp_ask("10.77.0.100", GW, &format!("n{i}"), Rtype::A).unwrap();
            assert_eq!(a_records(&m), [format!("10.77.0.{}", 100 + i)], "n{i}");
        }
        std::thread::scope(|sc| {
            for i in 0..16 {
                let store = &store;
                sc.spawn(move || store.unregister("race", &format!("c{i}"), "eth0").unwrap());
            }
        });
        let pid: u32 = resolvers[0].parse().unwrap();
        assert!(!alive(pid), "the resolver outlived the last network");
        assert!(!ns.root().exists());
    });
}
