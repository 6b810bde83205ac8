//! The one namespace fixture of cnm-nft's root tests: throwaway named network namespaces (with
//! `lo` up) and a private temporary directory (the state base and an nft wrapper that logs
//! every run, which is how tests count execs), all removed on drop, also when an assertion
//! fails. Firewalls come in two shapes: [`Fixture::fw`] / [`Fixture::fw_plain`] run in the
//! calling thread's namespace with state under the private base (use them inside
//! [`Fixture::in_ns`], which runs a closure on a thread that entered a namespace with setns(2),
//! so nft, the netlink probes and `/proc/thread-self/ns/net` all see it); [`Fixture::fw_exec`]
//! runs nft through `ip netns exec` and keeps no state. The root namespace is never touched.

// Each test binary uses part of it.
#![allow(dead_code)]

use std::ffi::OsString;
use std::fs::File;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use cnm_exec::Exec;
use cnm_nft::Firewall;

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// Throwaway namespaces and a private directory.
pub struct Fixture {
    names: Vec<String>,
    dir: tempfile::TempDir,
}

impl Fixture {
    /// `count` namespaces named `<tag>-<pid>-<n>-<i>` (unique per test and process).
    pub fn new(tag: &str, count: usize) -> Fixture {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let dir = tempfile::Builder::new()
            .prefix(&format!("cnm-nft-{tag}-"))
            .tempdir()
            .unwrap();
        let mut fx = Fixture {
            names: Vec::new(),
            dir,
        };
        for i in 0..count {
            let name = format!("{tag}-{}-{n}-{i}", std::process::id());
            run(&["ip", "netns", "add", &name]);
            fx.names.push(name.clone());
            run(&["ip", "-n", &name, "link", "set", "lo", "up"]);
        }
        let script = format!(
            "echo \"$*\" >> {}/nft.log\nexec nft \"$@\"\n",
            fx.dir.path().display()
        );
        std::fs::write(fx.dir.path().join("nft-logger.sh"), script).unwrap();
        fx
    }

    /// The name of namespace `i`.
    pub fn name(&self, i: usize) -> &str {
        &self.names[i]
    }

    /// `/run/netns/<name>` of namespace `i`.
    pub fn path(&self, i: usize) -> String {
        format!("/run/netns/{}", self.names[i])
    }

    /// The private directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The private state base (`<dir>/state`).
    pub fn state_base(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    /// nft through the logger, state under the private base (valid inside `in_ns`).
    pub fn fw(&self) -> Firewall {
        Firewall::with_program("sh", vec![self.dir.path().join("nft-logger.sh").into()])
            .with_state_dir(Some(self.state_base()))
    }

    /// nft from PATH, not logged, state under the private base (valid inside `in_ns`).
    pub fn fw_plain(&self) -> Firewall {
        Firewall::with_program("nft", Vec::new()).with_state_dir(Some(self.state_base()))
    }

    /// nft in namespace `i` through `ip netns exec`, no state (valid anywhere).
    pub fn fw_exec(&self, i: usize) -> Firewall {
        let prefix: Vec<OsString> = ["netns", "exec", &self.names[i], "nft"]
            .iter()
            .map(OsString::from)
            .collect();
        Firewall::with_program("ip", prefix).with_state_dir(None)
    }

    /// Every nft run through the logger so far (its arguments).
    pub fn execs(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.path().join("nft.log"))
            .map(|s| s.lines().map(str::to_string).collect())
            .unwrap_or_default()
    }

    /// `nft <args>` in namespace `i` (not logged); panics with nft's error unless it succeeds.
    pub fn nft(&self, i: usize, args: &[&str]) -> String {
        let mut all = vec!["ip", "netns", "exec", &self.names[i], "nft"];
        all.extend_from_slice(args);
        run(&all)
    }

    /// `nft <args>` in namespace `i`: whether it succeeded.
    pub fn nft_ok(&self, i: usize, args: &[&str]) -> bool {
        let mut all = vec!["ip", "netns", "exec", &self.names[i], "nft"];
        all.extend_from_slice(args);
        run_ok(&all)
    }

    /// `nft -f -` of `script` in namespace `i`; panics unless it succeeds.
    pub fn nft_script(&self, i: usize, script: &str) {
        let done = exec(
            &["ip", "netns", "exec", &self.names[i], "nft", "-f", "-"],
            script,
        );
        assert!(
            done.status.success(),
            "nft -f - in {}: {}",
            self.names[i],
            done.stderr_text()
        );
    }

    /// `ip -n <ns> <args>`; panics unless it succeeds.
    pub fn ip(&self, i: usize, args: &[&str]) -> String {
        let mut all = vec!["ip", "-n", &self.names[i]];
        all.extend_from_slice(args);
        run(&all)
    }

    /// Run `f` on a thread that has entered namespace `i` (network namespace only).
    pub fn in_ns<T: Send>(&self, i: usize, f: impl FnOnce() -> T + Send) -> T {
        let path = self.path(i);
        std::thread::scope(|s| {
            let h = s.spawn(|| {
                let file = File::open(&path).unwrap();
                // SAFETY: setns on a valid namespace fd; it only changes this thread's netns.
                let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
                assert_eq!(rc, 0, "setns {path}: {}", std::io::Error::last_os_error());
                f()
            });
            match h.join() {
                Ok(v) => v,
                Err(p) => std::panic::resume_unwind(p),
            }
        })
    }

    /// The state directory of namespace `i` under the private base (computed from inside it).
    pub fn ns_dir(&self, i: usize) -> PathBuf {
        self.in_ns(i, || {
            self.fw()
                .netns_state_dir()
                .expect("namespace cookie (Linux >= 5.14)")
        })
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        for i in 0..self.names.len() {
            // State a test kept under the default base (firewalls made with `new()`).
            cnm_test_support::forget_nft_state(Path::new(&self.path(i)));
            let _ = Command::new("ip")
                .args(["netns", "del", &self.names[i]])
                .status();
        }
    }
}

/// Every command of a test is bounded by this.
const TIMEOUT: Duration = Duration::from_secs(60);

fn exec(args: &[&str], input: &str) -> cnm_exec::Finished {
    let mut cmd = Command::new(args[0]);
    cmd.args(&args[1..]);
    cnm_exec::run(&mut cmd, input.as_bytes(), &Exec::bounded(TIMEOUT))
        .unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

/// Run a command; panics with its stderr unless it succeeds; returns its stdout.
pub fn run(args: &[&str]) -> String {
    let done = exec(args, "");
    assert!(done.status.success(), "{args:?}: {}", done.stderr_text());
    done.stdout_text()
}

/// Whether a command succeeds.
pub fn run_ok(args: &[&str]) -> bool {
    exec(args, "").status.success()
}
