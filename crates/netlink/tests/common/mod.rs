//! Test helpers: throwaway named network namespaces (removed on drop) and
//! `ip -j` output parsed as JSON.

#![allow(dead_code)]

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use cnm_netlink::Handle;
use netns::NetNs;

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// True when running as root; otherwise prints the skip notice.
pub fn root_or_skip() -> bool {
    cnm_test_support::require_root("netlink root test")
}

/// A namespace created with `ip netns add`, deleted with `ip netns del` on drop.
pub struct TestNs {
    pub name: String,
    pub ns: NetNs,
}

impl TestNs {
    pub fn new(tag: &str) -> TestNs {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let name = format!("cnmnl-{}-{tag}-{n}", std::process::id());
        let st = Command::new("ip")
            .args(["netns", "add", &name])
            .status()
            .unwrap();
        assert!(st.success(), "ip netns add {name} failed");
        // Construct the guard-owning value only after creation succeeded; if
        // open fails, remove the namespace before panicking.
        match NetNs::open(format!("/run/netns/{name}")) {
            Ok(ns) => TestNs { name, ns },
            Err(e) => {
                let _ = Command::new("ip").args(["netns", "del", &name]).status();
                panic!("open {name}: {e}");
            }
        }
    }

    pub fn handle(&self) -> Handle {
        Handle::new_in(&self.ns).unwrap()
    }

    /// Run `ip -n <ns> -j <args>` and parse its JSON output.
    pub fn ip_json(&self, args: &[&str]) -> serde_json::Value {
        let out = Command::new("ip")
            .args(["-n", &self.name, "-j"])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "ip {args:?} in {}: {}",
            self.name,
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

impl Drop for TestNs {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}
