//! The suite never tests stale binaries.
//!
//! - Without `CNM_PLUGIN_DIR` (the default `target/debug`), the first use of
//!   one of our binaries runs `cargo build` for them and the examples (a
//!   no-op when scripts/test.sh built them already), so cargo's own
//!   fingerprints decide what is out of date.
//! - With `CNM_PLUGIN_DIR` (e.g. `target/dist` from scripts/build-release.sh,
//!   whose `install` stamps each copy), every binary must be newer than every
//!   source file (`*.rs`, `Cargo.toml`, `Cargo.lock`) of the workspace's
//!   crates, plugins and tools, or the test fails saying how to rebuild.

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use crate::bins::workspace_root;

/// Folders whose sources go into our binaries.
const SOURCE_DIRS: &[&str] = &["crates", "plugins", "tools", "Cargo.toml", "Cargo.lock"];
/// Bound on the build.
const BUILD_TIMEOUT: Duration = Duration::from_secs(900);

fn newest_in(path: &Path, newest: &mut Option<(SystemTime, String)>) {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return;
    };
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if meta.is_dir() {
        if name == "target" || name.starts_with('.') {
            return;
        }
        if let Ok(rd) = std::fs::read_dir(path) {
            for e in rd.flatten() {
                newest_in(&e.path(), newest);
            }
        }
        return;
    }
    if !(name.ends_with(".rs") || name == "Cargo.toml" || name == "Cargo.lock") {
        return;
    }
    if let Ok(m) = meta.modified() {
        if newest.as_ref().is_none_or(|(t, _)| m > *t) {
            *newest = Some((m, path.display().to_string()));
        }
    }
}

/// The newest source file's time and path (computed once per test binary).
fn newest_source() -> &'static Option<(SystemTime, String)> {
    static NEWEST: OnceLock<Option<(SystemTime, String)>> = OnceLock::new();
    NEWEST.get_or_init(|| {
        let root = workspace_root();
        let mut newest = None;
        for d in SOURCE_DIRS {
            newest_in(&root.join(d), &mut newest);
        }
        newest
    })
}

/// Build our binaries and examples into `target/debug` once per test
/// process; panics when the build fails.
fn build_debug() {
    static BUILT: OnceLock<Result<(), String>> = OnceLock::new();
    let res = BUILT.get_or_init(|| {
        let cargo = std::env::var("CARGO")
            .ok()
            .or_else(|| option_env!("CARGO").map(str::to_owned))
            .unwrap_or_else(|| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.current_dir(workspace_root()).args([
            "build",
            "-p",
            "simplebridge",
            "-p",
            "ipam-host-local",
            "-p",
            "portmap",
            "-p",
            "cnm-bridge",
            "--bins",
            "--examples",
        ]);
        let out = crate::proc::run_bounded(cmd, b"", BUILD_TIMEOUT);
        if out.code == 0 {
            Ok(())
        } else {
            Err(format!(
                "building our binaries failed (exit {}, timed out {}): {}",
                out.code,
                out.timed_out,
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    });
    if let Err(e) = res {
        panic!("{e}");
    }
}

/// Build the examples (and our binaries) into `target/debug` from the
/// current source, whatever `CNM_PLUGIN_DIR` says (examples are not part of
/// the release build).
pub fn build_examples() {
    build_debug();
}

/// Make sure `bin` (one of ours, or an example) is built from the current
/// source: build it when it lives in the default `target/debug`, else check
/// its stamp against the sources.
pub fn assert_fresh(bin: &Path) {
    if std::env::var_os("CNM_PLUGIN_DIR").is_none_or(|d| d.is_empty()) {
        build_debug();
        return;
    }
    let Some((src_time, src)) = newest_source() else {
        return;
    };
    let Ok(bin_time) = std::fs::metadata(bin).and_then(|m| m.modified()) else {
        return;
    };
    if bin_time < *src_time {
        panic!(
            "{} is older than {src}: rebuild it (scripts/build-release.sh)",
            bin.display()
        );
    }
}
