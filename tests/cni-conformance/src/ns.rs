//! `Netns`: a throwaway named network namespace (`ip netns add`), with `lo` up,
//! deleted on drop (also when the test panics). Stale namespaces left by a
//! killed earlier run of this suite (`cnmt-<dead pid>-*`) are removed on first use.

use crate::proc::{tool, tool_status, RawOutput};
use std::path::{Path, PathBuf};
use std::sync::Once;

/// Name prefix of every namespace created by the suite.
pub const PREFIX: &str = "cnmt";

static REAP: Once = Once::new();

/// A named network namespace under /run/netns.
#[derive(Debug)]
pub struct Netns {
    name: String,
    path: PathBuf,
}

impl Netns {
    /// Create `cnmt-<tag>-<pid>-<counter>` and bring `lo` up in it. Panics on failure.
    pub fn new(tag: &str) -> Netns {
        REAP.call_once(reap_stale);
        let pid = std::process::id();
        let n = crate::alloc::next();
        let name = format!("{PREFIX}-{pid}-{n}-{tag}");
        tool(&["ip", "netns", "add", &name]);
        let ns = Netns {
            path: PathBuf::from(format!("/run/netns/{name}")),
            name,
        };
        tool(&["ip", "-n", &ns.name, "link", "set", "lo", "up"]);
        ns
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// `/run/netns/<name>`: the CNI_NETNS value.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn path_str(&self) -> &str {
        self.path.to_str().unwrap_or_default()
    }

    /// Run a command inside the namespace (`nsenter --net=...`), bounded to 30 s.
    pub fn exec(&self, args: &[&str]) -> RawOutput {
        let net = format!("--net={}", self.path_str());
        let mut all = vec!["nsenter", net.as_str(), "--"];
        all.extend_from_slice(args);
        tool_status(&all)
    }

    /// `ip -n <ns> <args>`; panics unless it succeeds. Returns stdout.
    pub fn ip(&self, args: &[&str]) -> Vec<u8> {
        let mut all = vec!["ip", "-n", self.name.as_str()];
        all.extend_from_slice(args);
        tool(&all)
    }

    /// One ping (`-c1 -W1`) to `ip`, retried up to `attempts` times. True on a reply.
    pub fn ping(&self, ip: &str, attempts: u32) -> bool {
        let ping = if ip.contains(':') { "ping6" } else { "ping" };
        for _ in 0..attempts.max(1) {
            let out = self.exec(&[ping, "-c1", "-W1", ip]);
            if out.code == 0 {
                return true;
            }
        }
        false
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        cnm_test_support::forget_nft_state(&self.path);
        let out = tool_status(&["ip", "netns", "del", &self.name]);
        if out.code != 0 && self.path.exists() {
            eprintln!(
                "warning: cannot delete netns {}: {}",
                self.name,
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

/// Delete `/run/netns/cnmt-<pid>-*` whose pid no longer runs (left by a killed run).
fn reap_stale() {
    let Ok(rd) = std::fs::read_dir("/run/netns") else {
        return;
    };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix(&format!("{PREFIX}-")) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = tool_status(&["ip", "netns", "del", &name]);
        }
    }
}
