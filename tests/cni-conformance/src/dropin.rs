//! The drop-in install (`scripts/install.sh`, `make install MODE=dropin`) in
//! a temporary root whose CNI_BIN_DIR first holds copies of the reference
//! plugins, as on a node that ran them; and running a program (the `cnm`
//! CLI, a plugin) in a test's host namespace inside a private mount
//! namespace, so that paths fixed in third-party configs (`/var/lib/cni`,
//! a `dataDir`) are per-test directories bind-mounted over them.

use crate::bins::{our_dir, ref_dir, workspace_root};
use crate::ns::Netns;
use crate::proc::{run_bounded, RawOutput, DEFAULT_TIMEOUT};
use crate::tmp::TempDir;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The CNI_BIN_DIR inside the root.
pub const CNI_BIN_DIR: &str = "/opt/cni/bin";

/// A temporary node root.
#[derive(Debug)]
pub struct Node {
    pub root: TempDir,
}

impl Node {
    /// A root whose CNI_BIN_DIR holds a copy of every reference plugin.
    pub fn with_reference_plugins() -> Node {
        let node = Node {
            root: TempDir::new("node"),
        };
        let bin = node.bin_dir();
        std::fs::create_dir_all(&bin).unwrap_or_else(|e| panic!("mkdir {}: {e}", bin.display()));
        let rd = std::fs::read_dir(ref_dir())
            .unwrap_or_else(|e| panic!("reference plugins in {}: {e}", ref_dir().display()));
        for e in rd.flatten() {
            let to = bin.join(e.file_name());
            std::fs::copy(e.path(), &to).unwrap_or_else(|err| {
                panic!("copy {} -> {}: {err}", e.path().display(), to.display())
            });
        }
        node
    }

    /// `<root>/opt/cni/bin`.
    pub fn bin_dir(&self) -> PathBuf {
        self.root.path().join(CNI_BIN_DIR.trim_start_matches('/'))
    }

    /// The installed `cnm` CLI.
    pub fn cnm(&self) -> PathBuf {
        self.root.path().join("usr/local/bin/cnm")
    }

    /// `scripts/install.sh <verb>` with DESTDIR=<root>, our freshly built
    /// binaries (DIST = the conformance suite's binary directory).
    pub fn script(&self, verb: &str, mode: &str) -> RawOutput {
        let mut cmd = Command::new("bash");
        cmd.arg(workspace_root().join("scripts/install.sh"))
            .arg(verb)
            .env("MODE", mode)
            .env("DIST", our_dir())
            .env("DESTDIR", self.root.path())
            .env("PREFIX", "/usr/local")
            .env("CNI_BIN_DIR", CNI_BIN_DIR)
            .env("CNI_CONF_DIR", "/etc/cni/net.d");
        run_bounded(cmd, b"", DEFAULT_TIMEOUT)
    }

    /// `script`, which must succeed.
    pub fn run_script(&self, verb: &str, mode: &str) {
        let out = self.script(verb, mode);
        assert_eq!(
            out.code,
            0,
            "install.sh {verb} (MODE={mode}) failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Run `argv` with `env` in `host`'s network namespace and a private mount
/// namespace where each `(dir, mountpoint)` of `binds` is bind-mounted (the
/// mount point is created if missing). Bounded like every plugin call.
pub fn run_private(
    host: &Netns,
    binds: &[(&Path, &str)],
    env: &[(&str, &str)],
    argv: &[&str],
) -> RawOutput {
    let script = r#"set -e
while [ "$1" != -- ]; do mkdir -p "$2"; mount --bind "$1" "$2"; shift 2; done
shift
exec nsenter --net="$CNM_TEST_NETNS" -- "$@""#;
    let mut cmd = Command::new("unshare");
    cmd.args([
        "--mount",
        "--propagation",
        "private",
        "--",
        "sh",
        "-c",
        script,
        "sh",
    ]);
    for (dir, at) in binds {
        cmd.arg(dir).arg(at);
    }
    cmd.arg("--").args(argv);
    cmd.env_clear();
    cmd.env(
        "PATH",
        "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    );
    cmd.env("CNM_TEST_NETNS", host.path());
    for (k, v) in env {
        cmd.env(k, v);
    }
    run_bounded(cmd, b"", DEFAULT_TIMEOUT)
}

/// `iptables-save` (both families) in `ns`.
pub fn iptables_save(ns: &Netns) -> String {
    let mut all = String::new();
    for prog in ["iptables-save", "ip6tables-save"] {
        let out = ns.exec(&[prog]);
        all.push_str(&String::from_utf8_lossy(&out.stdout));
    }
    all
}
