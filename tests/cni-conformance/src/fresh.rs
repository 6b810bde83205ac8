//! The suite never tests stale binaries: each of our binaries must be newer
//! than every source file (`*.rs`, `Cargo.toml`, `Cargo.lock`) of the
//! workspace's crates, plugins and tools it could be built from. A stale
//! binary fails the test with the command that rebuilds it.

use std::path::Path;
use std::sync::OnceLock;
use std::time::SystemTime;

/// Folders whose sources go into our binaries.
const SOURCE_DIRS: &[&str] = &["crates", "plugins", "tools", "Cargo.toml", "Cargo.lock"];

fn newest_in(path: &Path, newest: &mut Option<(SystemTime, String)>) {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return;
    };
    if meta.is_dir() {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
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
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
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
        let root = crate::bins::workspace_root();
        let mut newest = None;
        for d in SOURCE_DIRS {
            newest_in(&root.join(d), &mut newest);
        }
        newest
    })
}

/// Panic when `bin` is older than the newest source file.
pub fn assert_fresh(bin: &Path) {
    let Some((src_time, src)) = newest_source() else {
        return;
    };
    let Ok(bin_time) = std::fs::metadata(bin).and_then(|m| m.modified()) else {
        return;
    };
    if bin_time < *src_time {
        panic!(
            "{} is older than {src}: rebuild it (cargo build --workspace --bins --examples, \
             or scripts/build-release.sh for CNM_PLUGIN_DIR=target/dist)",
            bin.display()
        );
    }
}
