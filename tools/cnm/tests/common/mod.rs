//! Shared helpers of the integration tests: root check, throwaway named
//! network namespaces (removed on drop), temp dirs, and running `cnm`
//! inside a throwaway "host" namespace so the machine's own is never touched.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

fn unique(prefix: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    format!("{prefix}-{}-{n}", std::process::id())
}

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// A named netns (`ip netns add`), deleted on drop.
pub struct Netns {
    pub name: String,
    deleted: bool,
}

impl Netns {
    pub fn new(role: &str) -> Netns {
        let name = unique(&format!("cnmt-{role}"));
        let out = Command::new("ip").args(["netns", "add", &name]).output().unwrap();
        assert!(out.status.success(), "ip netns add {name}: {}", String::from_utf8_lossy(&out.stderr));
        // Bring lo up so the namespace behaves like a runtime's.
        let _ = Command::new("ip").args(["-n", &name, "link", "set", "lo", "up"]).output();
        Netns { name, deleted: false }
    }

    pub fn path(&self) -> String {
        format!("/run/netns/{}", self.name)
    }

    /// Deletes it now (to make an attachment stale).
    pub fn delete(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.name]).output();
        self.deleted = true;
    }

    /// `ip -n <ns> -j addr show dev <ifname>` addresses as "addr/prefix".
    pub fn addrs(&self, ifname: &str) -> Vec<String> {
        let out = Command::new("ip")
            .args(["-n", &self.name, "-j", "addr", "show", "dev", ifname])
            .output()
            .unwrap();
        if !out.status.success() {
            return Vec::new();
        }
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        v.as_array()
            .into_iter()
            .flatten()
            .flat_map(|l| l["addr_info"].as_array().cloned().unwrap_or_default())
            .map(|a| format!("{}/{}", a["local"].as_str().unwrap_or(""), a["prefixlen"]))
            .collect()
    }

    pub fn has_link(&self, ifname: &str) -> bool {
        Command::new("ip")
            .args(["-n", &self.name, "link", "show", "dev", ifname])
            .output()
            .unwrap()
            .status
            .success()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        if !self.deleted {
            let _ = Command::new("ip").args(["netns", "del", &self.name]).output();
        }
    }
}

/// A temp dir removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> TempDir {
        let p = std::env::temp_dir().join(unique("cnm-it"));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One test's world: a host netns where plugins run, config and cache dirs.
pub struct World {
    pub host: Netns,
    pub dir: TempDir,
    pub cni_path: String,
}

impl World {
    pub fn new(cni_path: &str) -> World {
        let dir = TempDir::new();
        std::fs::create_dir_all(dir.path().join("net.d")).unwrap();
        World {
            host: Netns::new("host"),
            dir,
            cni_path: cni_path.to_string(),
        }
    }

    pub fn conf_dir(&self) -> PathBuf {
        self.dir.path().join("net.d")
    }
    pub fn cache_dir(&self) -> PathBuf {
        self.dir.path().join("cache")
    }
    pub fn ipam_dir(&self) -> PathBuf {
        self.dir.path().join("ipam")
    }

    pub fn write_conf(&self, file: &str, v: &serde_json::Value) -> Vec<u8> {
        let bytes = serde_json::to_vec_pretty(v).unwrap();
        std::fs::write(self.conf_dir().join(file), &bytes).unwrap();
        bytes
    }

    /// `ip netns exec <host> cnm <args>` with the test's environment.
    pub fn cnm(&self, args: &[&str], extra_env: &[(&str, &str)]) -> Output {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.host.name, env!("CARGO_BIN_EXE_cnm")])
            .args(args)
            .env("NETCONFPATH", self.conf_dir())
            .env("CNI_CACHE_DIR", self.cache_dir())
            .env("CNI_PATH", &self.cni_path)
            .env_remove("CNI_ARGS")
            .env_remove("CAP_ARGS")
            .env_remove("CNI_IFNAME")
            .env_remove("CNI_CONTAINERID");
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    }

    pub fn cache_file(&self, net: &str, netns_path: &str, ifname: &str) -> PathBuf {
        self.cache_dir()
            .join("results")
            .join(format!("{net}-{}-{ifname}", cnm::container_id_for(netns_path)))
    }
}

/// Panics with stdout/stderr unless `out` succeeded; returns stdout.
pub fn ok(out: &Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed: {}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The first IPv4 address of an ADD result printed by cnm.
pub fn first_ip(stdout: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(stdout).unwrap();
    v["ips"][0]["address"].as_str().unwrap().to_string()
}
