//! Test helpers shared with the other crates' tests (feature `test-util`):
//! a self-removing temporary directory and executable scripts. Test-only
//! code: it panics on I/O errors.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// A unique directory under the system temp dir (`tempfile`), removed on drop.
#[derive(Debug)]
pub struct TempDir(tempfile::TempDir);

impl TempDir {
    pub fn new() -> TempDir {
        TempDir(
            tempfile::Builder::new()
                .prefix("cni-test-")
                .tempdir()
                .unwrap(),
        )
    }

    pub fn path(&self) -> &Path {
        self.0.path()
    }

    /// Writes an executable script `name` with `body`.
    pub fn script(&self, name: &str, body: &str) -> PathBuf {
        let p = self.0.path().join(name);
        std::fs::write(&p, body).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }
}

impl Default for TempDir {
    fn default() -> Self {
        TempDir::new()
    }
}
