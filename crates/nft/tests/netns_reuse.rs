//! Root tests of reuse (issue 10): a subnet reused under another network name (masquerade and
//! port mappings), two live networks sharing a subnet, and a fresh namespace whose inode a dead
//! namespace held (simulated by planting that namespace's state before the first call) getting
//! none of the dead one's state. Each test thread enters a throwaway namespace with setns(2);
//! the root namespace is never touched.

mod common;

use std::path::{Path, PathBuf};

use cnm_nft::{fnv1a64, masq_chain, Applied, Firewall, MasqNet, Owner, PortMapping, Protocol};
use common::Fixture;
use ipnet::IpNet;

fn fixture() -> Fixture {
    Fixture::new("cnmreuse", 1)
}

/// (inode, cookie) of the namespace, read from inside it.
fn ino_cookie(fx: &Fixture) -> (u64, u64) {
    fx.in_ns(0, || {
        let ino = std::fs::metadata("/proc/thread-self/ns/net")
            .map(|m| std::os::unix::fs::MetadataExt::ino(&m))
            .unwrap();
        // SAFETY: socket(2) with constant arguments; the fd is closed below.
        let fd = unsafe { libc::socket(libc::AF_NETLINK, libc::SOCK_RAW, 0) };
        assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
        let mut cookie: u64 = 0;
        let mut len = std::mem::size_of::<u64>() as libc::socklen_t;
        // SAFETY: getsockopt(2) writing at most `len` bytes into a live u64.
        let rc = unsafe {
            libc::getsockopt(
                fd,
                libc::SOL_SOCKET,
                71, // SO_NETNS_COOKIE
                (&mut cookie as *mut u64).cast(),
                &mut len,
            )
        };
        // SAFETY: closing the fd opened above.
        unsafe { libc::close(fd) };
        assert_eq!(
            rc,
            0,
            "SO_NETNS_COOKIE: {}",
            std::io::Error::last_os_error()
        );
        (ino, cookie)
    })
}

/// The directories a dead namespace that held this namespace's inode would have left:
/// the pre-cookie layout (`<ino>`) and the keyed one with another cookie.
fn dead_dirs(fx: &Fixture) -> Vec<PathBuf> {
    let (ino, cookie) = ino_cookie(fx);
    vec![
        fx.state_base().join(ino.to_string()),
        fx.state_base()
            .join(format!("{ino}-{}", cookie ^ (1 << 62))),
    ]
}

/// This namespace's own state directory.
fn own_dir(fx: &Fixture) -> PathBuf {
    let (ino, cookie) = ino_cookie(fx);
    fx.state_base().join(format!("{ino}-{cookie}"))
}

/// `inet cnm`'s kernel handle (`nft -a list table`).
fn table_handle(fx: &Fixture) -> u64 {
    let out = fx.nft(0, &["-a", "list", "table", "inet", "cnm"]);
    let line = out.lines().next().unwrap();
    line.rsplit("# handle ")
        .next()
        .and_then(|h| h.trim().parse().ok())
        .unwrap_or_else(|| panic!("no handle in {line:?}"))
}

/// (key, verdict) of every element of masq4.
fn masq4(fx: &Fixture) -> Vec<(String, String)> {
    let t = fx.in_ns(0, || fx.fw_plain().read_state()).unwrap().unwrap();
    t.sets["masq4"]
        .iter()
        .map(|e| (e.key.clone(), e.value.clone().unwrap_or_default()))
        .collect()
}

fn net<'a>(name: &'a str, bridge: &'a str, subnets: &[&str]) -> MasqNet<'a> {
    MasqNet {
        network: name,
        bridge,
        subnets: subnets.iter().map(|s| s.parse().unwrap()).collect(),
    }
}

fn jump(network: &str) -> String {
    format!("jump {}", masq_chain(network))
}

fn elems(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter().map(|(k, n)| (k.to_string(), jump(n))).collect()
}

fn plant(dir: &Path, name: &str, text: &str) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join(name), text).unwrap();
}

fn owner(network: &str, cid: &str) -> Owner {
    Owner {
        network: network.into(),
        container_id: cid.into(),
        ifname: "eth0".into(),
    }
}

fn tcp(h: u16, c: u16) -> PortMapping {
    PortMapping {
        host_port: h,
        container_port: c,
        protocol: Protocol::Tcp,
        host_ip: None,
    }
}

fn addrs(a: &[&str]) -> Vec<IpNet> {
    a.iter().map(|s| s.parse().unwrap()).collect()
}

/// Podman's `network rm` + `network create`: the subnet of a network whose containers are gone
/// (its masquerade is only removed at GC) comes back under another name and another bridge.
/// The new network takes the subnet over in one batch; the old one's state is dropped, so it
/// would take it back on its next ADD.
#[test]
fn subnet_reused_under_another_network_name() {
    cnm_test_support::require_root!(
        "cnm-nft netns_reuse::subnet_reused_under_another_network_name"
    );
    let fx = fixture();
    let a = net("reuse-a", "cnmra0", &["10.71.0.0/16"]);
    let b = net("reuse-b", "cnmrb0", &["10.71.0.0/16"]);
    assert_eq!(
        fx.in_ns(0, || fx.fw_plain().ensure_masquerade(&a)).unwrap(),
        Applied::Written
    );
    assert_eq!(masq4(&fx), elems(&[("10.71.0.0/16", "reuse-a")]));
    // Before the fix: nft "File exists" (the subnet is keyed to reuse-a's chain).
    let r = fx.in_ns(0, || fx.fw_plain().ensure_masquerade(&b));
    assert_eq!(r.unwrap(), Applied::Written);
    assert_eq!(masq4(&fx), elems(&[("10.71.0.0/16", "reuse-b")]));
    fx.in_ns(0, || fx.fw_plain().check_masquerade(&b)).unwrap();
    // CHECK of the old network still passes: the new owner's chain masquerades the subnet.
    fx.in_ns(0, || fx.fw_plain().check_masquerade(&a)).unwrap();
    // reuse-a's chain is still there (only GC removes it); its state no longer claims the
    // subnet, so its next ensure is not skipped but takes the subnet back.
    let own = own_dir(&fx);
    assert!(!own.join(masq_chain("reuse-a")).exists());
    assert!(own.join(masq_chain("reuse-b")).exists());
    // The same with a state-less firewall, back and forth.
    let stateless = || Firewall::with_program("nft", Vec::new()).with_state_dir(None);
    fx.in_ns(0, || stateless().ensure_masquerade(&a)).unwrap();
    assert_eq!(masq4(&fx), elems(&[("10.71.0.0/16", "reuse-a")]));
    fx.in_ns(0, || stateless().ensure_masquerade(&b)).unwrap();
    assert_eq!(masq4(&fx), elems(&[("10.71.0.0/16", "reuse-b")]));
    // GC of the old network leaves the new one alone.
    fx.in_ns(0, || fx.fw_plain().remove_masquerade("reuse-a"))
        .unwrap();
    assert_eq!(masq4(&fx), elems(&[("10.71.0.0/16", "reuse-b")]));
    assert_eq!(
        fx.in_ns(0, || fx.fw_plain().list_masquerade_networks())
            .unwrap(),
        ["reuse-b"]
    );
    fx.in_ns(0, || fx.fw_plain().check_masquerade(&b)).unwrap();
}

/// The other direction: a network name comes back with another subnet and another bridge
/// (its old chain was never GC'ed). The chain is rebuilt for the new bridge, the old subnet
/// stays excluded until GC, and another network can still take the old subnet.
#[test]
fn network_name_reused_with_another_subnet() {
    cnm_test_support::require_root!("cnm-nft netns_reuse::network_name_reused_with_another_subnet");
    let fx = fixture();
    let old = net("rename", "cnmnb1", &["10.79.1.0/24"]);
    let new = net("rename", "cnmnb2", &["10.79.2.0/24"]);
    let other = net("rename-other", "cnmnb3", &["10.79.1.0/24"]);
    fx.in_ns(0, || fx.fw_plain().ensure_masquerade(&old))
        .unwrap();
    assert_eq!(
        fx.in_ns(0, || fx.fw_plain().ensure_masquerade(&new))
            .unwrap(),
        Applied::Written
    );
    fx.in_ns(0, || fx.fw_plain().check_masquerade(&new))
        .unwrap();
    let t = fx.in_ns(0, || fx.fw_plain().read_state()).unwrap().unwrap();
    let first = &t.chains[&masq_chain("rename")].rules[0].text;
    assert_eq!(first, "meta oifname cnmnb2 return");
    fx.in_ns(0, || fx.fw_plain().ensure_masquerade(&other))
        .unwrap();
    let mut got = masq4(&fx);
    got.sort();
    assert_eq!(
        got,
        elems(&[("10.79.1.0/24", "rename-other"), ("10.79.2.0/24", "rename")])
    );
    fx.in_ns(0, || fx.fw_plain().check_masquerade(&new))
        .unwrap();
}

/// Two live networks with one subnet (each on its own bridge): the subnet's map element can
/// only jump to one chain. The network whose ensure ran last owns it (its chain masquerades the
/// other network's traffic too: same subnet, same exceptions); when it is removed, the subnet
/// goes back to the network that still has a chain for it, in the same batch. A narrower
/// overlapping subnet takes the wider one over and gives it back the same way.
#[test]
fn two_live_networks_sharing_a_subnet() {
    cnm_test_support::require_root!("cnm-nft netns_reuse::two_live_networks_sharing_a_subnet");
    let fx = fixture();
    let a = net("share-a", "cnmsa0", &["10.72.0.0/16", "fd72::/64"]);
    let b = net("share-b", "cnmsb0", &["10.72.0.0/16"]);
    let c = net("share-c", "cnmsc0", &["10.72.5.0/24"]);
    fx.in_ns(0, || fx.fw_plain().ensure_masquerade(&a)).unwrap();
    fx.in_ns(0, || fx.fw_plain().ensure_masquerade(&b)).unwrap();
    assert_eq!(masq4(&fx), elems(&[("10.72.0.0/16", "share-b")]));
    // Both networks pass CHECK: B's chain masquerades A's containers too.
    fx.in_ns(0, || fx.fw_plain().check_masquerade(&a)).unwrap();
    fx.in_ns(0, || fx.fw_plain().check_masquerade(&b)).unwrap();
    // A's next ADD takes it back (A's state was dropped by B's takeover: no stale fast path).
    assert_eq!(
        fx.in_ns(0, || fx.fw_plain().ensure_masquerade(&a)).unwrap(),
        Applied::Written
    );
    assert_eq!(masq4(&fx), elems(&[("10.72.0.0/16", "share-a")]));
    fx.in_ns(0, || fx.fw_plain().check_masquerade(&a)).unwrap();
    // And B's: ping-pong, each ADD leaves masquerade in place for both.
    assert_eq!(
        fx.in_ns(0, || fx.fw_plain().ensure_masquerade(&b)).unwrap(),
        Applied::Written
    );
    assert_eq!(masq4(&fx), elems(&[("10.72.0.0/16", "share-b")]));
    // A's v6 subnet never moved.
    let t = fx.in_ns(0, || fx.fw_plain().read_state()).unwrap().unwrap();
    let v6: Vec<_> = t.sets["masq6"].iter().map(|e| e.key.clone()).collect();
    assert_eq!(v6, ["fd72::/64"]);
    // Removing the owner hands the subnet back to A in the same batch.
    fx.in_ns(0, || fx.fw_plain().remove_masquerade("share-b"))
        .unwrap();
    assert_eq!(masq4(&fx), elems(&[("10.72.0.0/16", "share-a")]));
    fx.in_ns(0, || fx.fw_plain().check_masquerade(&a)).unwrap();
    // Overlap: C's /24 inside A's /16 (interval maps cannot hold both).
    fx.in_ns(0, || fx.fw_plain().ensure_masquerade(&c)).unwrap();
    assert_eq!(masq4(&fx), elems(&[("10.72.5.0/24", "share-c")]));
    // A's /16 is only partly covered now: its CHECK says so.
    let e = fx
        .in_ns(0, || fx.fw_plain().check_masquerade(&a))
        .unwrap_err();
    assert!(e.to_string().contains("no element 10.72.0.0/16"), "{e}");
    fx.in_ns(0, || fx.fw_plain().remove_masquerade("share-c"))
        .unwrap();
    assert_eq!(masq4(&fx), elems(&[("10.72.0.0/16", "share-a")]));
    fx.in_ns(0, || fx.fw_plain().remove_masquerade("share-a"))
        .unwrap();
    assert!(masq4(&fx).is_empty());
    assert!(fx
        .in_ns(0, || fx.fw_plain().list_masquerade_networks())
        .unwrap()
        .is_empty());
}

/// Two networks racing for one subnet from parallel threads (one lock per namespace): every
/// ensure succeeds and the map ends with exactly one element for the subnet, owned by one of
/// them, whose CHECK passes for both.
#[test]
fn parallel_takeovers_are_serialised() {
    cnm_test_support::require_root!("cnm-nft netns_reuse::parallel_takeovers_are_serialised");
    let fx = fixture();
    let a = net("race-a", "cnmqa0", &["10.78.0.0/16"]);
    let b = net("race-b", "cnmqb0", &["10.78.0.0/16"]);
    std::thread::scope(|s| {
        let hs: Vec<_> = (0..6)
            .map(|i| {
                let (fx, n) = (&fx, if i % 2 == 0 { &a } else { &b });
                s.spawn(move || {
                    for _ in 0..3 {
                        fx.in_ns(0, || fx.fw_plain().ensure_masquerade(n)).unwrap();
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
    });
    let got = masq4(&fx);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].0, "10.78.0.0/16");
    assert!(
        got[0].1 == jump("race-a") || got[0].1 == jump("race-b"),
        "{got:?}"
    );
    fx.in_ns(0, || fx.fw_plain().check_masquerade(&a)).unwrap();
    fx.in_ns(0, || fx.fw_plain().check_masquerade(&b)).unwrap();
}

/// A remembered subnet another network took over is given up (not stolen back) when the
/// network asks for a new subnet: only requested subnets are taken over.
#[test]
fn only_requested_subnets_are_taken_over() {
    cnm_test_support::require_root!("cnm-nft netns_reuse::only_requested_subnets_are_taken_over");
    let fx = fixture();
    let a1 = net("give-a", "cnmga0", &["10.73.1.0/24"]);
    let a2 = net("give-a", "cnmga0", &["10.73.2.0/24"]);
    let b = net("give-b", "cnmgb0", &["10.73.1.0/24"]);
    fx.in_ns(0, || fx.fw_plain().ensure_masquerade(&a1))
        .unwrap();
    fx.in_ns(0, || fx.fw_plain().ensure_masquerade(&b)).unwrap();
    fx.in_ns(0, || fx.fw_plain().ensure_masquerade(&a2))
        .unwrap();
    let mut got = masq4(&fx);
    got.sort();
    assert_eq!(
        got,
        elems(&[("10.73.1.0/24", "give-b"), ("10.73.2.0/24", "give-a")])
    );
}

/// Port mappings of a network whose subnet and container address come back under another
/// network name: the new owner's ADD, CHECK and DEL work, and the old owner's DEL (repeated
/// by a runtime) does not touch them.
#[test]
fn port_mappings_survive_subnet_reuse() {
    cnm_test_support::require_root!("cnm-nft netns_reuse::port_mappings_survive_subnet_reuse");
    let fx = fixture();
    let old = owner("pm-reuse-a", "c1");
    let new = owner("pm-reuse-b", "c1");
    let ad = addrs(&["10.74.0.5/16"]);
    fx.in_ns(0, || {
        fx.fw_plain()
            .add_port_mappings(&old, &ad, &[tcp(8080, 80)], true)
    })
    .unwrap();
    fx.in_ns(0, || fx.fw_plain().remove_port_mappings(&old))
        .unwrap();
    fx.in_ns(0, || {
        fx.fw_plain()
            .add_port_mappings(&new, &ad, &[tcp(8080, 80)], true)
    })
    .unwrap();
    fx.in_ns(0, || {
        fx.fw_plain()
            .check_port_mappings(&new, &ad, &[tcp(8080, 80)], true)
    })
    .unwrap();
    fx.in_ns(0, || fx.fw_plain().remove_port_mappings(&old))
        .unwrap();
    fx.in_ns(0, || {
        fx.fw_plain()
            .check_port_mappings(&new, &ad, &[tcp(8080, 80)], true)
    })
    .unwrap();
    let owners = fx.in_ns(0, || fx.fw_plain().list_owners()).unwrap();
    assert_eq!(owners, std::slice::from_ref(&new));
    fx.in_ns(0, || fx.fw_plain().remove_port_mappings(&new))
        .unwrap();
    assert!(fx
        .in_ns(0, || fx.fw_plain().list_owners())
        .unwrap()
        .is_empty());
}

/// A fresh namespace whose inode a dead namespace held: the dead one's masquerade state (in
/// the old `<ino>` layout and under `<ino>-<its cookie>`) names a subnet of the same network.
/// The first ensure must install only what it is asked for, and the dead state is removed.
#[test]
fn fresh_namespace_gets_no_masquerade_state_of_a_dead_one() {
    cnm_test_support::require_root!(
        "cnm-nft netns_reuse::fresh_namespace_gets_no_masquerade_state_of_a_dead_one"
    );
    let fx = fixture();
    let chain = masq_chain("ghost");
    for d in dead_dirs(&fx) {
        plant(&d, &chain, "10.75.9.0/24\n");
    }
    let n = net("ghost", "cnmgh0", &["10.75.1.0/24"]);
    assert_eq!(
        fx.in_ns(0, || fx.fw_plain().ensure_masquerade(&n)).unwrap(),
        Applied::Written
    );
    // Before the fix: 10.75.9.0/24 from the dead namespace was masqueraded here too.
    assert_eq!(masq4(&fx), elems(&[("10.75.1.0/24", "ghost")]));
    let t = fx.in_ns(0, || fx.fw_plain().read_state()).unwrap().unwrap();
    let rules: Vec<_> = t.chains[&chain]
        .rules
        .iter()
        .map(|r| r.text.clone())
        .collect();
    assert!(!rules.iter().any(|r| r.contains("10.75.9.0")), "{rules:?}");
    // Our own state is in our own directory; the dead namespace's is gone.
    let own = std::fs::read_to_string(own_dir(&fx).join(&chain)).unwrap();
    assert_eq!(own, "network ghost\nbridge cnmgh0\n10.75.1.0/24\n");
    for d in dead_dirs(&fx) {
        assert!(!d.exists(), "{d:?} should have been cleaned");
    }
}

/// The same for port mappings: a dead namespace's record for an owner names an element that,
/// in this namespace, belongs to another owner, in a table with the same kernel handle (fresh
/// namespaces number tables alike). A DEL of that owner must not delete the other's element.
#[test]
fn fresh_namespace_gets_no_port_mapping_state_of_a_dead_one() {
    cnm_test_support::require_root!(
        "cnm-nft netns_reuse::fresh_namespace_gets_no_port_mapping_state_of_a_dead_one"
    );
    let fx = fixture();
    let holder = owner("live-net", "holder");
    let ghost = owner("dead-net", "ghost");
    let ad = addrs(&["10.76.0.5/24"]);
    fx.in_ns(0, || {
        fx.fw_plain()
            .add_port_mappings(&holder, &ad, &[tcp(8080, 80)], false)
    })
    .unwrap();
    let handle = table_handle(&fx);
    let tag = ghost.tag().unwrap();
    let file = format!("pm-{:016x}", fnv1a64(&[tag.as_bytes()]));
    for d in dead_dirs(&fx) {
        plant(
            &d,
            &file,
            &format!("owner {tag}\ntable {handle}\nelem pm4any tcp . 8080\n"),
        );
    }
    // The runtime repeats the dead container's DEL here (DEL is idempotent).
    fx.in_ns(0, || fx.fw_plain().remove_port_mappings(&ghost))
        .unwrap();
    // Before the fix: the record was trusted and the holder's element deleted.
    fx.in_ns(0, || {
        fx.fw_plain()
            .check_port_mappings(&holder, &ad, &[tcp(8080, 80)], false)
    })
    .unwrap();
    assert_eq!(
        fx.in_ns(0, || fx.fw_plain().list_owners()).unwrap(),
        [holder]
    );
}
