//! Root test (its own test binary, so no other test's children interfere): port-mapping DEL by
//! one nfnetlink batch forks a child that closes the socket (so DEL does not wait for the RCU
//! grace period); a long-lived caller, like this test process, must not collect that child as a
//! zombie. The test thread enters a throwaway namespace with setns(2); the root namespace is
//! never touched.

mod common;

use std::time::{Duration, Instant};

use cnm_nft::{Owner, PortMapping, Protocol};
use common::Fixture;

/// Pids of zombie processes whose parent is this process.
fn zombie_children() -> Vec<u32> {
    let me = std::process::id();
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // `pid (comm) state ppid ...`: comm may hold spaces, so split after the last ')'.
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
            continue;
        };
        let mut f = rest.split_whitespace();
        let (state, ppid) = (f.next(), f.next().and_then(|p| p.parse::<u32>().ok()));
        if state == Some("Z") && ppid == Some(me) {
            out.push(pid);
        }
    }
    out
}

#[test]
fn netlink_del_leaves_no_zombie() {
    cnm_test_support::require_root!("cnm-nft netns_reap::netlink_del_leaves_no_zombie");
    let fx = Fixture::new("cnmreap", 1);
    let execs = || fx.execs().len();
    fx.in_ns(0, || {
        let fw = fx.fw();
        let owner = Owner {
            network: "reap".into(),
            container_id: "c1".into(),
            ifname: "eth0".into(),
        };
        let addrs = ["10.77.0.5/24".parse().unwrap()];
        let map = [PortMapping {
            host_port: 8080,
            container_port: 80,
            protocol: Protocol::Tcp,
            host_ip: None,
        }];
        for _ in 0..3 {
            fw.add_port_mappings(&owner, &addrs, &map, true).unwrap();
            let before = execs();
            fw.remove_port_mappings(&owner).unwrap();
            assert_eq!(execs(), before, "DEL must take the nfnetlink path");
        }
    });
    // The children close their socket after an RCU grace period (milliseconds): give them
    // time, bounded.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut zombies = zombie_children();
    while !zombies.is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        zombies = zombie_children();
    }
    assert!(zombies.is_empty(), "zombie children left: {zombies:?}");
}
