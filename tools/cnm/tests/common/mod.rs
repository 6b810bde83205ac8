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
    cnm_test_support::require_root("cnm root test")
}

/// A named netns (`ip netns add`), deleted on drop.
pub struct Netns {
    pub name: String,
    deleted: bool,
}

impl Netns {
    pub fn new(role: &str) -> Netns {
        let name = unique(&format!("cnmt-{role}"));
        let out = Command::new("ip")
            .args(["netns", "add", &name])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "ip netns add {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Bring lo up so the namespace behaves like a runtime's.
        let _ = Command::new("ip")
            .args(["-n", &name, "link", "set", "lo", "up"])
            .output();
        Netns {
            name,
            deleted: false,
        }
    }

    pub fn path(&self) -> String {
        format!("/run/netns/{}", self.name)
    }

    /// Deletes it now (to make an attachment stale).
    pub fn delete(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
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
            cnm_test_support::forget_nft_state(std::path::Path::new(&format!(
                "/run/netns/{}",
                self.name
            )));
            let _ = Command::new("ip")
                .args(["netns", "del", &self.name])
                .output();
        }
    }
}

/// A temp dir (`tempfile`) removed on drop; `.0` is its path.
pub struct TempDir(pub PathBuf, tempfile::TempDir);

impl TempDir {
    pub fn new() -> TempDir {
        let dir = tempfile::Builder::new()
            .prefix("cnm-it-")
            .tempdir()
            .unwrap();
        TempDir(dir.path().to_path_buf(), dir)
    }
    pub fn path(&self) -> &Path {
        &self.0
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
        self.cache_dir().join("results").join(format!(
            "{net}-{}-{ifname}",
            cnm::container_id_for(netns_path)
        ))
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

/// The whole CLI lifecycle against real plugins, in `world`'s host netns:
/// ADD (address in the container, cache file in libcni's shape, IPAM
/// reservation), CHECK, STATUS, GC of an attachment whose netns is gone,
/// DEL (interface, cache and reservation gone) and a repeated DEL.
pub fn lifecycle(world: &World, net: &str, conf_bytes: &[u8], version: &str) {
    use std::os::unix::fs::PermissionsExt;
    let c1 = Netns::new("ctr");
    let p1 = c1.path();
    let stdout = ok(&world.cnm(&["add", net, &p1], &[]), "add c1");
    let result: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(result["cniVersion"], version, "{stdout}");
    let ip1 = first_ip(&stdout);
    assert!(
        c1.addrs("eth0").contains(&ip1),
        "{ip1} not on eth0 of {}: {:?}",
        c1.name,
        c1.addrs("eth0")
    );
    let bare1 = ip1.split('/').next().unwrap().to_string();
    let reservation = |ip: &str| world.ipam_dir().join(net).join(ip);
    assert!(
        reservation(&bare1).exists(),
        "host-local reservation for {bare1}"
    );

    // The cache file, exactly as libcni writes it.
    let cache1 = world.cache_file(net, &p1, "eth0");
    let text =
        std::fs::read_to_string(&cache1).unwrap_or_else(|e| panic!("{}: {e}", cache1.display()));
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "kind",
            "containerId",
            "config",
            "ifName",
            "networkName",
            "netns",
            "result"
        ]
    );
    assert_eq!(v["kind"], "cniCacheV1");
    assert_eq!(v["containerId"], cnm::container_id_for(&p1));
    assert_eq!(
        {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD
                .decode(v["config"].as_str().unwrap())
                .unwrap()
        },
        conf_bytes
    );
    assert_eq!(v["ifName"], "eth0");
    assert_eq!(v["networkName"], net);
    assert_eq!(v["netns"], p1.as_str());
    assert_eq!(v["result"]["ips"][0]["address"], ip1.as_str());
    assert_eq!(
        std::fs::metadata(&cache1).unwrap().permissions().mode() & 0o777,
        0o600
    );

    ok(&world.cnm(&["check", net, &p1], &[]), "check c1");
    ok(&world.cnm(&["status", net], &[]), "status");

    // GC: c2's netns disappears, c1 stays valid.
    let mut c2 = Netns::new("ctr");
    let p2 = c2.path();
    let ip2 = first_ip(&ok(&world.cnm(&["add", net, &p2], &[]), "add c2"));
    assert_ne!(ip1, ip2);
    let bare2 = ip2.split('/').next().unwrap().to_string();
    let cache2 = world.cache_file(net, &p2, "eth0");
    assert!(cache2.exists() && reservation(&bare2).exists());
    c2.delete();
    ok(&world.cnm(&["gc", net], &[]), "gc");
    assert!(!cache2.exists(), "stale attachment's cache removed by GC");
    assert!(
        !reservation(&bare2).exists(),
        "stale attachment's IP released by GC"
    );
    assert!(
        cache1.exists() && reservation(&bare1).exists(),
        "valid attachment kept"
    );
    ok(&world.cnm(&["check", net, &p1], &[]), "check c1 after gc");

    ok(&world.cnm(&["del", net, &p1], &[]), "del c1");
    assert!(!cache1.exists(), "cache removed by DEL");
    assert!(!c1.has_link("eth0"), "eth0 removed from {}", c1.name);
    assert!(!reservation(&bare1).exists(), "IP released by DEL");
    ok(&world.cnm(&["del", net, &p1], &[]), "repeated del");
}
