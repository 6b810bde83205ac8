//! Test helpers shared by the workspace's test suites.
//!
//! Tests that need root call [`require_root!`] first. Without root the test
//! returns early after writing `skipped: needs root: <test>` straight to the
//! process's stderr (not through `eprintln!`, which the test harness
//! captures), so the line shows in every run and `scripts/test.sh` counts
//! the skips and subtracts them from the passed tests: a skipped test is
//! never reported as passed.

#![forbid(unsafe_code)]

use std::io::Write;

/// The marker line `scripts/test.sh` counts.
pub const SKIP_MARKER: &str = "skipped: needs root";

/// True when the effective user is root.
pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// True when the test may go on; otherwise reports the skip of `test`.
pub fn require_root(test: &str) -> bool {
    if is_root() {
        return true;
    }
    report_skip(test);
    false
}

/// Write the skip line for `test` to the real stderr (uncaptured).
pub fn report_skip(test: &str) {
    let mut err = std::io::stderr().lock();
    // Nothing useful can be done when stderr is closed.
    let _ = writeln!(err, "{SKIP_MARKER}: {test}");
}

/// Return from the calling test (reporting a counted skip) unless root.
#[macro_export]
macro_rules! require_root {
    () => {
        if !$crate::require_root(module_path!()) {
            return;
        }
    };
    ($name:expr) => {
        if !$crate::require_root($name) {
            return;
        }
    };
}

/// Remove our plugins' nftables state of the network namespace bound at
/// `netns` (`/run/cnm/nft/<inode>-<cookie>/`, a cache the plugins check
/// against the kernel): called by a test just before it deletes a throwaway
/// namespace, so no state of it stays behind. Any directory with that inode
/// belongs to this namespace or to a dead one (inode numbers are unique among
/// live namespaces), so all of them go.
pub fn forget_nft_state(netns: &std::path::Path) {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = std::fs::metadata(netns) else {
        return;
    };
    let ino = meta.ino().to_string();
    let Ok(dir) = std::fs::read_dir(NFT_STATE_DIR) else {
        return;
    };
    for entry in dir.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let ours = name == ino.as_str()
            || name
                .strip_prefix(ino.as_str())
                .is_some_and(|rest| rest.starts_with('-'));
        if ours {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Where cnm-nft keeps its per-namespace state.
pub const NFT_STATE_DIR: &str = "/run/cnm/nft";
