//! Shared helpers of the root tests: a throwaway topology (a "host" namespace with a bridge and
//! two "container" namespaces on it), bounded command runs, a busybox web server guard, and
//! plugin invocation inside the host namespace. Everything is removed on drop.

#![allow(dead_code)]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

pub const BUSYBOX: &str = "/bin/busybox";
pub const BRIDGE: &str = "br-pm";
pub const HOST_ADDR: &str = "10.66.0.1";

pub fn is_root() -> bool {
    cnm_test_support::require_root("portmap root test")
}

/// Run a command with stdin, killed after `secs`; returns its output (status -1 on timeout).
pub fn run_timeout(cmd: &mut Command, stdin: &[u8], secs: u64) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    if let Some(mut input) = child.stdin.take() {
        let _ = input.write_all(stdin);
    }
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            eprintln!("timed out after {secs}s: {cmd:?}");
            return out;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// Run and require success.
pub fn sh(args: &[&str]) -> String {
    let out = run_timeout(Command::new(args[0]).args(&args[1..]), b"", 20);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Host namespace `h`, containers `c1` (10.66.0.2) and `c2` (10.66.0.3) on bridge `br-pm`
/// (10.66.0.1/24) in `h`. Namespaces and the web root are removed on drop.
pub struct Topo {
    pub host: String,
    pub c1: String,
    pub c2: String,
    pub www: PathBuf,
    pub page: String,
    servers: Vec<Child>,
    /// Removes the web root on drop.
    _www_dir: tempfile::TempDir,
}

impl Topo {
    pub fn new() -> Topo {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let base = format!("cnmpm-{}-{n}", std::process::id());
        let www_dir = tempfile::Builder::new()
            .prefix(&format!("{base}-www-"))
            .tempdir()
            .unwrap();
        let www = www_dir.path().to_path_buf();
        let t = Topo {
            host: format!("{base}-h"),
            c1: format!("{base}-c1"),
            c2: format!("{base}-c2"),
            page: format!("hello from {base}"),
            www,
            servers: Vec::new(),
            _www_dir: www_dir,
        };
        std::fs::write(t.www.join("index.html"), &t.page).unwrap();
        for ns in [&t.host, &t.c1, &t.c2] {
            sh(&["ip", "netns", "add", ns]);
            sh(&["ip", "-n", ns, "link", "set", "lo", "up"]);
        }
        let h = t.host.as_str();
        sh(&["ip", "-n", h, "link", "add", BRIDGE, "type", "bridge"]);
        sh(&["ip", "-n", h, "addr", "add", "10.66.0.1/24", "dev", BRIDGE]);
        sh(&["ip", "-n", h, "link", "set", BRIDGE, "up"]);
        sh(&[
            "ip",
            "netns",
            "exec",
            h,
            "sysctl",
            "-qw",
            "net.ipv4.ip_forward=1",
        ]);
        for (ns, veth, addr) in [
            (&t.c1, "vh1", "10.66.0.2/24"),
            (&t.c2, "vh2", "10.66.0.3/24"),
        ] {
            sh(&[
                "ip", "-n", h, "link", "add", veth, "type", "veth", "peer", "name", "eth0",
                "netns", ns,
            ]);
            sh(&["ip", "-n", h, "link", "set", veth, "master", BRIDGE, "up"]);
            sh(&["ip", "-n", ns, "addr", "add", addr, "dev", "eth0"]);
            sh(&["ip", "-n", ns, "link", "set", "eth0", "up"]);
            sh(&["ip", "-n", ns, "route", "add", "default", "via", HOST_ADDR]);
        }
        t
    }

    /// Add IPv6: fd66::1/64 on the bridge, fd66::2 and fd66::3 in c1 and c2 (no DAD), with
    /// forwarding on in the host namespace.
    pub fn add_ipv6(&self) {
        let h = self.host.as_str();
        sh(&[
            "ip",
            "netns",
            "exec",
            h,
            "sysctl",
            "-qw",
            "net.ipv6.conf.all.forwarding=1",
        ]);
        sh(&[
            "ip",
            "-n",
            h,
            "addr",
            "add",
            "fd66::1/64",
            "dev",
            BRIDGE,
            "nodad",
        ]);
        for (ns, addr) in [(&self.c1, "fd66::2/64"), (&self.c2, "fd66::3/64")] {
            sh(&["ip", "-n", ns, "addr", "add", addr, "dev", "eth0", "nodad"]);
            sh(&[
                "ip", "-n", ns, "-6", "route", "add", "default", "via", "fd66::1",
            ]);
        }
    }

    /// Start `busybox httpd` on port 80 in `c1` and wait (bounded) until it answers.
    pub fn serve_c1(&mut self) {
        let child = Command::new("ip")
            .args([
                "netns", "exec", &self.c1, BUSYBOX, "httpd", "-f", "-p", "80", "-h",
            ])
            .arg(&self.www)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.servers.push(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.fetch(&self.c1.clone(), "127.0.0.1:80").is_some() {
                return;
            }
            thread::sleep(Duration::from_millis(100));
        }
        panic!("httpd in {} did not start", self.c1);
    }

    /// `busybox wget` from namespace `ns`; Some(body) on success. (busybox 1.35's `wget -T`
    /// segfaults, so the bound is the 5 s kill of [`run_timeout`].)
    pub fn fetch(&self, ns: &str, hostport: &str) -> Option<String> {
        let url = format!("http://{hostport}/");
        let out = run_timeout(
            Command::new("ip").args(["netns", "exec", ns, BUSYBOX, "wget", "-q", "-O", "-", &url]),
            b"",
            5,
        );
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Whether the served page is reachable from `ns` at `hostport`.
    pub fn reachable(&self, ns: &str, hostport: &str) -> bool {
        self.fetch(ns, hostport).as_deref() == Some(self.page.as_str())
    }

    /// The prevResult a bridge plugin would have produced for container `ns` (c1 or c2).
    pub fn prev_result(&self, ns: &str) -> Value {
        let (veth, addr) = if ns == self.c1 {
            ("vh1", "10.66.0.2/24")
        } else {
            ("vh2", "10.66.0.3/24")
        };
        json!({"cniVersion": "1.0.0",
            "interfaces": [
                {"name": BRIDGE, "mac": "02:00:00:00:00:01"},
                {"name": veth, "mac": "02:00:00:00:00:02"},
                {"name": "eth0", "mac": "02:00:00:00:00:03", "sandbox": format!("/var/run/netns/{ns}")}],
            "ips": [{"address": addr, "gateway": HOST_ADDR, "interface": 2}],
            "routes": [{"dst": "0.0.0.0/0"}]})
    }

    /// [`Topo::prev_result`] plus the container's IPv6 address (after [`Topo::add_ipv6`]).
    pub fn prev_result_dual(&self, ns: &str) -> Value {
        let mut v = self.prev_result(ns);
        let addr = if ns == self.c1 {
            "fd66::2/64"
        } else {
            "fd66::3/64"
        };
        if let Some(ips) = v["ips"].as_array_mut() {
            ips.push(json!({"address": addr, "gateway": "fd66::1", "interface": 2}));
        }
        v
    }

    /// Run plugin `bin` inside the host namespace for container `ns`; (exit, stdout JSON, stderr).
    pub fn plugin(&self, bin: &str, cmd: &str, ns: &str, conf: &Value) -> (i32, Value, String) {
        self.plugin_with_args(bin, cmd, ns, conf, "")
    }

    /// [`Topo::plugin`] with `CNI_ARGS` set to `args`.
    pub fn plugin_with_args(
        &self,
        bin: &str,
        cmd: &str,
        ns: &str,
        conf: &Value,
        args: &str,
    ) -> (i32, Value, String) {
        let out = run_timeout(
            Command::new("ip")
                .args(["netns", "exec", &self.host, bin])
                .env("CNI_ARGS", args)
                .env("CNI_COMMAND", cmd)
                .env("CNI_CONTAINERID", format!("id-{ns}"))
                .env("CNI_NETNS", format!("/var/run/netns/{ns}"))
                .env("CNI_IFNAME", "eth0")
                .env("CNI_PATH", "/usr/lib/cni"),
            conf.to_string().as_bytes(),
            30,
        );
        (
            out.status.code().unwrap_or(-1),
            serde_json::from_slice(&out.stdout).unwrap_or(Value::Null),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// `nft <args>` inside the host namespace (empty string when it fails).
    pub fn nft(&self, args: &[&str]) -> String {
        let out = run_timeout(
            Command::new("ip")
                .args(["netns", "exec", &self.host, "nft"])
                .args(args),
            b"",
            10,
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Topo {
    fn drop(&mut self) {
        for c in &mut self.servers {
            let _ = c.kill();
            let _ = c.wait();
        }
        for ns in [&self.c1, &self.c2, &self.host] {
            cnm_test_support::forget_nft_state(std::path::Path::new(&format!("/run/netns/{ns}")));
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

/// A portmap config for `name` with `mappings` and optional prevResult.
pub fn conf(version: &str, mappings: Value, prev: Option<Value>) -> Value {
    let mut c = json!({"cniVersion": version, "name": "pmnet", "type": "portmap",
        "capabilities": {"portMappings": true},
        "runtimeConfig": {"portMappings": mappings}});
    if let Some(p) = prev {
        c["prevResult"] = p;
    }
    c
}
