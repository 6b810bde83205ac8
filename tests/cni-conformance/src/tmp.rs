//! Temporary directories (`tempfile`) removed on drop, also when the test
//! panics.

use std::path::Path;

/// A directory under the system temp dir, `cnmt-<tag>-<pid>-<counter>-*`,
/// removed on drop.
#[derive(Debug)]
pub struct TempDir {
    dir: tempfile::TempDir,
}

impl TempDir {
    /// Create a fresh empty directory. Panics (test harness) if it cannot.
    pub fn new(tag: &str) -> TempDir {
        let prefix = format!("cnmt-{tag}-{}-", crate::alloc::unique_suffix());
        match tempfile::Builder::new().prefix(&prefix).tempdir() {
            Ok(dir) => TempDir { dir },
            Err(e) => panic!("cannot create temp dir {prefix}*: {e}"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The path as a `&str` (temp paths are ASCII).
    pub fn path_str(&self) -> &str {
        self.dir.path().to_str().unwrap_or_default()
    }
}
