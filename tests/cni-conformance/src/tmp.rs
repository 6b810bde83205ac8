//! Temporary directories removed on drop (also when the test panics).

use std::path::{Path, PathBuf};

/// A directory under the system temp dir, `cnmt-<tag>-<pid>-<counter>`, removed on drop.
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Create a fresh empty directory. Panics (test harness) if it cannot.
    pub fn new(tag: &str) -> TempDir {
        let path =
            std::env::temp_dir().join(format!("cnmt-{tag}-{}", crate::alloc::unique_suffix()));
        if let Err(e) = std::fs::create_dir_all(&path) {
            panic!("cannot create temp dir {}: {e}", path.display());
        }
        TempDir { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The path as a `&str` (temp paths are ASCII).
    pub fn path_str(&self) -> &str {
        self.path.to_str().unwrap_or_default()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}
