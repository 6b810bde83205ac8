//! The in-process IPAM fast path under the reference's names. When our
//! plugins are installed as a drop-in (`make install MODE=dropin`), configs
//! say `"ipam": {"type": "host-local"}`; that name runs in-process only when
//! the `host-local` that exec would run is ours: the first `host-local` in
//! CNI_PATH is the same file (device and inode, links followed) as the
//! `ipam-host-local` in the same directory. Otherwise (the reference, or
//! anything else installed under that name) it is executed as usual. Two
//! `stat` calls, no read of the binaries.

use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

/// The reference's IPAM names our host-local may be installed under.
pub const DROP_IN_TYPES: &[&str] = &["host-local"];

/// Our IPAM binary's own name.
const NATIVE: &str = "ipam-host-local";

/// True when `ipam_type` is a drop-in name and the binary exec would run
/// for it (the first in `cni_path`) is our host-local.
pub fn is_ours(ipam_type: &str, cni_path: &[PathBuf]) -> bool {
    if !DROP_IN_TYPES.contains(&ipam_type) {
        return false;
    }
    for dir in cni_path {
        let Ok(found) = std::fs::metadata(dir.join(ipam_type)) else {
            continue;
        };
        if !found.is_file() {
            continue;
        }
        return std::fs::metadata(dir.join(NATIVE))
            .is_ok_and(|ours| ours.dev() == found.dev() && ours.ino() == found.ino());
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_to_ours_are_ours_copies_and_others_are_not() {
        let (ta, tb) = (
            tempfile::tempdir().expect("tempdir"),
            tempfile::tempdir().expect("tempdir"),
        );
        let (a, b) = (ta.path().to_path_buf(), tb.path().to_path_buf());
        std::fs::write(a.join(NATIVE), b"ours").expect("write");
        // Not a drop-in name, or nothing installed.
        assert!(!is_ours("static", std::slice::from_ref(&a)));
        assert!(!is_ours("host-local", std::slice::from_ref(&a)));
        // A symlink and a hard link are ours.
        std::os::unix::fs::symlink(NATIVE, a.join("host-local")).expect("symlink");
        assert!(is_ours("host-local", std::slice::from_ref(&a)));
        std::fs::remove_file(a.join("host-local")).expect("rm");
        std::fs::hard_link(a.join(NATIVE), a.join("host-local")).expect("link");
        assert!(is_ours("host-local", std::slice::from_ref(&a)));
        // A different file (the reference) earlier in CNI_PATH wins.
        std::fs::write(b.join("host-local"), b"reference").expect("write");
        assert!(!is_ours("host-local", &[b.clone(), a.clone()]));
        assert!(is_ours("host-local", &[a.clone(), b.clone()]));
        // A copy with the same bytes is not recognised (exec'd instead: same result).
        std::fs::remove_file(a.join("host-local")).expect("rm");
        std::fs::write(a.join("host-local"), b"ours").expect("write");
        assert!(!is_ours("host-local", std::slice::from_ref(&a)));
    }
}
