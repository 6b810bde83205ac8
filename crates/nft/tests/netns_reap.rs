//! Root test (its own test binary, so no other test's children interfere): port-mapping DEL by
//! one nfnetlink batch forks a child that closes the socket (so DEL does not wait for the RCU
//! grace period); a long-lived caller, like this test process, must not collect that child as a
//! zombie. The test thread enters a throwaway namespace with setns(2); the root namespace is
//! never touched.

use std::fs::File;
use std::os::unix::io::AsRawFd;
use std::process::Command;
use std::time::{Duration, Instant};

use cnm_nft::{Firewall, Owner, PortMapping, Protocol};

/// Namespace and directory removed on drop (also when an assertion fails).
struct Guard {
    name: String,
    dir: std::path::PathBuf,
}

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

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
    let name = format!("cnmreap-{}", std::process::id());
    let guard = Guard {
        dir: std::env::temp_dir().join(&name),
        name,
    };
    let st = Command::new("ip")
        .args(["netns", "add", &guard.name])
        .status()
        .unwrap();
    assert!(st.success(), "ip netns add {}", guard.name);
    let log = guard.dir.join("nft.log");
    std::fs::create_dir_all(&guard.dir).unwrap();
    let logger = guard.dir.join("nft-logger.sh");
    let script = format!("echo \"$*\" >> {}\nexec nft \"$@\"\n", log.display());
    std::fs::write(&logger, script).unwrap();
    let execs = || {
        std::fs::read_to_string(&log)
            .map(|s| s.lines().count())
            .unwrap_or(0)
    };
    let path = format!("/run/netns/{}", guard.name);
    std::thread::scope(|s| {
        s.spawn(|| {
            let file = File::open(&path).unwrap();
            // SAFETY: setns on a valid namespace fd; it only changes this thread's netns.
            let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns {path}: {}", std::io::Error::last_os_error());
            let fw = Firewall::with_program("sh", vec![logger.clone().into()])
                .with_state_dir(Some(guard.dir.join("state")));
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
        })
        .join()
        .unwrap();
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
