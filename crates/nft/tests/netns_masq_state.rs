//! Root tests of the masquerade state (per netns and network) and its no-exec fast path. Each
//! test thread enters a throwaway namespace with setns(2), so nft, the netlink probe and
//! `/proc/thread-self/ns/net` all see that namespace; nft is wrapped by a shell script that logs
//! every run, which is how the tests count execs. The root namespace is never touched.

use std::fs::File;
use std::os::unix::io::AsRawFd;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use cnm_nft::{masq_chain, Applied, Firewall, MasqNet};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// Throwaway namespaces plus a private directory (state base, nft logger), removed on drop.
struct Fixture {
    names: Vec<String>,
    dir: PathBuf,
}

impl Fixture {
    fn new(count: usize) -> Fixture {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let tag = format!("cnmms-{}-{n}", std::process::id());
        let dir = std::env::temp_dir().join(&tag);
        std::fs::create_dir_all(&dir).unwrap();
        let mut fx = Fixture {
            names: Vec::new(),
            dir,
        };
        for i in 0..count {
            let name = format!("{tag}-{i}");
            let st = Command::new("ip")
                .args(["netns", "add", &name])
                .status()
                .unwrap();
            assert!(st.success(), "ip netns add {name}");
            fx.names.push(name);
        }
        let script = format!(
            "echo \"$*\" >> {}/nft.log\nexec nft \"$@\"\n",
            fx.dir.display()
        );
        std::fs::write(fx.dir.join("nft-logger.sh"), script).unwrap();
        fx
    }

    fn state_base(&self) -> PathBuf {
        self.dir.join("state")
    }

    /// nft through the logger, state under our private base (only valid inside `in_ns`).
    fn fw(&self) -> Firewall {
        Firewall::with_program("sh", vec![self.dir.join("nft-logger.sh").into()])
            .with_state_dir(Some(self.state_base()))
    }

    fn execs(&self) -> usize {
        std::fs::read_to_string(self.dir.join("nft.log"))
            .map(|s| s.lines().count())
            .unwrap_or(0)
    }

    fn nft(&self, ns: usize, args: &[&str]) -> String {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.names[ns], "nft"])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "nft {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Run `f` on a thread that has entered namespace `ns` (network namespace only).
    fn in_ns<T: Send>(&self, ns: usize, f: impl FnOnce() -> T + Send) -> T {
        let path = format!("/run/netns/{}", self.names[ns]);
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

    /// The state file of `network` for the namespace the calling thread is in.
    fn state_file(&self, network: &str) -> PathBuf {
        let dir = self.fw().netns_state_dir().expect("namespace cookie");
        assert!(dir.starts_with(self.state_base()), "{dir:?}");
        dir.join(masq_chain(network))
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        for name in &self.names {
            let _ = Command::new("ip").args(["netns", "del", name]).status();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn net<'a>(name: &'a str, subnets: &[&str]) -> MasqNet<'a> {
    MasqNet {
        network: name,
        bridge: "cnmbr0",
        subnets: subnets.iter().map(|s| s.parse().unwrap()).collect(),
    }
}

fn chain_rules(fw: &Firewall, network: &str) -> Vec<String> {
    let t = fw.read_state().unwrap().unwrap();
    t.chains[&masq_chain(network)]
        .rules
        .iter()
        .map(|r| r.text.clone())
        .collect()
}

#[test]
fn subnets_accumulate_and_check_is_inclusive() {
    cnm_test_support::require_root!(
        "cnm-nft netns_masq_state::subnets_accumulate_and_check_is_inclusive"
    );
    let fx = Fixture::new(1);
    fx.in_ns(0, || {
        let fw = fx.fw();
        let (a, b) = (
            net("multi", &["10.91.0.0/24"]),
            net("multi", &["10.91.1.0/24"]),
        );
        assert_eq!(fw.ensure_masquerade(&a).unwrap(), Applied::Written);
        assert_eq!(fw.ensure_masquerade(&b).unwrap(), Applied::Written);
        let rules = chain_rules(&fw, "multi");
        assert!(
            rules.contains(&"ip daddr 10.91.0.0/24 return".to_string()),
            "{rules:?}"
        );
        assert!(
            rules.contains(&"ip daddr 10.91.1.0/24 return".to_string()),
            "{rules:?}"
        );
        // CHECK of the earlier container still passes after B was ensured.
        fw.check_masquerade(&a).unwrap();
        fw.check_masquerade(&b).unwrap();
        assert!(fw
            .check_masquerade(&net("multi", &["10.91.2.0/24"]))
            .is_err());
        let state = std::fs::read_to_string(fx.state_file("multi")).unwrap();
        assert_eq!(
            state,
            "network multi\nbridge cnmbr0\n10.91.0.0/24\n10.91.1.0/24\n"
        );
        // Ensuring A again changes nothing: the chain keeps covering B.
        assert_eq!(fw.ensure_masquerade(&a).unwrap(), Applied::Unchanged);
        fw.check_masquerade(&b).unwrap();
    });
}

#[test]
fn fast_path_runs_no_nft() {
    cnm_test_support::require_root!("cnm-nft netns_masq_state::fast_path_runs_no_nft");
    let fx = Fixture::new(1);
    fx.in_ns(0, || {
        let fw = fx.fw();
        let a = net("fast", &["10.92.0.0/24", "fd92::/64"]);
        assert_eq!(fw.ensure_masquerade(&a).unwrap(), Applied::Written);
        assert_eq!(fx.execs(), 1, "the first ensure is one batch");
        assert_eq!(fw.ensure_masquerade(&a).unwrap(), Applied::Unchanged);
        let sub = net("fast", &["10.92.0.0/24"]);
        assert_eq!(fw.ensure_masquerade(&sub).unwrap(), Applied::Unchanged);
        assert_eq!(
            fx.execs(),
            1,
            "an ensure already in place must not exec nft"
        );
        fw.check_masquerade(&a).unwrap();
    });
}

#[test]
fn flush_ruleset_is_repaired() {
    cnm_test_support::require_root!("cnm-nft netns_masq_state::flush_ruleset_is_repaired");
    let fx = Fixture::new(1);
    let a = net("flushed", &["10.93.0.0/24"]);
    fx.in_ns(0, || {
        let fw = fx.fw();
        assert_eq!(fw.ensure_masquerade(&a).unwrap(), Applied::Written);
        assert_eq!(fw.ensure_masquerade(&a).unwrap(), Applied::Unchanged);
    });
    // What Debian's nftables.service does on restart.
    fx.nft(0, &["flush", "ruleset"]);
    fx.in_ns(0, || {
        let fw = fx.fw();
        assert!(fw.check_masquerade(&a).is_err());
        assert_eq!(fw.ensure_masquerade(&a).unwrap(), Applied::Written);
        fw.check_masquerade(&a).unwrap();
        assert_eq!(fw.ensure_masquerade(&a).unwrap(), Applied::Unchanged);
    });
}

#[test]
fn namespaces_are_keyed_separately() {
    cnm_test_support::require_root!("cnm-nft netns_masq_state::namespaces_are_keyed_separately");
    let fx = Fixture::new(2);
    let a = net("shared", &["10.94.0.0/24"]);
    let files: Vec<PathBuf> = (0..2)
        .map(|i| {
            fx.in_ns(i, || {
                let fw = fx.fw();
                assert_eq!(
                    fw.ensure_masquerade(&a).unwrap(),
                    Applied::Written,
                    "namespace {i} must get its own rule"
                );
                fw.check_masquerade(&a).unwrap();
                assert_eq!(fw.ensure_masquerade(&a).unwrap(), Applied::Unchanged);
                fx.state_file("shared")
            })
        })
        .collect();
    assert_ne!(files[0], files[1]);
    assert!(files.iter().all(|f| f.is_file()), "{files:?}");
    assert!(fx.nft(1, &["list", "ruleset"]).contains("cnm:shared"));
}

#[test]
fn remove_forgets_the_subnets() {
    cnm_test_support::require_root!("cnm-nft netns_masq_state::remove_forgets_the_subnets");
    let fx = Fixture::new(1);
    fx.in_ns(0, || {
        let fw = fx.fw();
        let (a, b) = (
            net("gone", &["10.95.0.0/24"]),
            net("gone", &["10.95.1.0/24"]),
        );
        fw.ensure_masquerade(&a).unwrap();
        fw.ensure_masquerade(&b).unwrap();
        fw.remove_masquerade("gone").unwrap();
        assert!(!fx.state_file("gone").exists());
        assert!(fw.check_masquerade(&a).is_err());
        fw.remove_masquerade("gone").unwrap();
        assert_eq!(fw.ensure_masquerade(&a).unwrap(), Applied::Written);
        let rules = chain_rules(&fw, "gone");
        assert!(
            !rules.iter().any(|r| r.contains("10.95.1.0")),
            "B was forgotten: {rules:?}"
        );
        fw.check_masquerade(&a).unwrap();
    });
}

#[test]
fn parallel_ensures_lose_no_subnet() {
    cnm_test_support::require_root!("cnm-nft netns_masq_state::parallel_ensures_lose_no_subnet");
    let fx = Fixture::new(1);
    let subnets: Vec<String> = (0..6).map(|i| format!("10.96.{i}.0/24")).collect();
    std::thread::scope(|s| {
        for sn in &subnets {
            let fx = &fx;
            s.spawn(move || {
                fx.in_ns(0, || {
                    fx.fw().ensure_masquerade(&net("par", &[sn])).unwrap();
                })
            });
        }
    });
    fx.in_ns(0, || {
        let fw = fx.fw();
        let all: Vec<&str> = subnets.iter().map(String::as_str).collect();
        fw.check_masquerade(&net("par", &all)).unwrap();
        let state = std::fs::read_to_string(fx.state_file("par")).unwrap();
        // The network, its bridge and the six subnets.
        assert_eq!(state.lines().count(), 8, "{state}");
        assert_eq!(
            fw.ensure_masquerade(&net("par", &all)).unwrap(),
            Applied::Unchanged
        );
    });
}
