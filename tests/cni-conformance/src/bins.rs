//! Locating plugin binaries (ours and the reference Go plugins) and building a
//! per-test `CNI_PATH` directory of symlinks to both.

use crate::tmp::TempDir;
use std::path::{Path, PathBuf};

/// Our binaries delegated to / exercised by the suite.
pub const OUR_PLUGINS: &[&str] = &["ipam-host-local", "simplebridge", "portmap"];

/// Which implementation a test drives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Impl {
    /// Our Rust binaries (CNM_PLUGIN_DIR, default `<workspace>/target/debug`).
    Ours,
    /// The reference Go plugins (REF_PLUGIN_DIR, default `/usr/lib/cni`).
    Reference,
}

impl Impl {
    /// The host-local IPAM binary name (also its `ipam.type`).
    pub fn host_local_type(self) -> &'static str {
        match self {
            Impl::Ours => "ipam-host-local",
            Impl::Reference => "host-local",
        }
    }

    /// Path of the host-local IPAM binary.
    pub fn host_local(self) -> PathBuf {
        match self {
            Impl::Ours => ours("ipam-host-local"),
            Impl::Reference => reference("host-local"),
        }
    }

    /// Highest cniVersion the implementation supports (Debian's reference: 1.0.0).
    pub fn max_version(self) -> &'static str {
        match self {
            Impl::Ours => "1.1.0",
            Impl::Reference => "1.0.0",
        }
    }

    /// Versions of the spec the implementation supports.
    pub fn versions(self) -> &'static [&'static str] {
        const ALL: &[&str] = &[
            "0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0",
        ];
        match self {
            Impl::Ours => ALL,
            Impl::Reference => &ALL[..6],
        }
    }
}

/// Workspace root computed from this crate's manifest dir (`tests/cni-conformance/../..`).
pub fn workspace_root() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    dir.canonicalize().unwrap_or(dir)
}

/// Directory of our built binaries: `$CNM_PLUGIN_DIR` or `<workspace>/target/debug`.
pub fn our_dir() -> PathBuf {
    match std::env::var_os("CNM_PLUGIN_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => workspace_root().join("target/debug"),
    }
}

/// Directory of the reference plugins: `$REF_PLUGIN_DIR` or `/usr/lib/cni`.
pub fn ref_dir() -> PathBuf {
    match std::env::var_os("REF_PLUGIN_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => PathBuf::from("/usr/lib/cni"),
    }
}

/// Path of one of our binaries; panics with a build hint when it is missing.
pub fn ours(name: &str) -> PathBuf {
    let p = our_dir().join(name);
    if !p.is_file() {
        panic!(
            "our plugin binary {} is missing: build it first (cargo build --workspace) or set CNM_PLUGIN_DIR",
            p.display()
        );
    }
    crate::fresh::assert_fresh(&p);
    p
}

/// Path of a reference plugin; panics when it is missing (see `ref_available`).
pub fn reference(name: &str) -> PathBuf {
    let p = ref_dir().join(name);
    if !p.is_file() {
        panic!(
            "reference plugin {} is missing: apt-get install containernetworking-plugins or set REF_PLUGIN_DIR",
            p.display()
        );
    }
    p
}

/// True when the reference plugin `name` is installed.
pub fn ref_available(name: &str) -> bool {
    ref_dir().join(name).is_file()
}

/// A per-test `CNI_PATH` directory with symlinks to every reference plugin and
/// to each of our binaries that exists. Removed on drop.
#[derive(Debug)]
pub struct CniPath {
    dir: TempDir,
}

impl CniPath {
    pub fn new() -> CniPath {
        let dir = TempDir::new("cnipath");
        if let Ok(rd) = std::fs::read_dir(ref_dir()) {
            for e in rd.flatten() {
                let _ = std::os::unix::fs::symlink(e.path(), dir.path().join(e.file_name()));
            }
        }
        for name in OUR_PLUGINS {
            let src = our_dir().join(name);
            if src.is_file() {
                crate::fresh::assert_fresh(&src);
                let dst = dir.path().join(name);
                let _ = std::fs::remove_file(&dst);
                if let Err(e) = std::os::unix::fs::symlink(&src, &dst) {
                    panic!("cannot link {} -> {}: {e}", dst.display(), src.display());
                }
            }
        }
        CniPath { dir }
    }

    /// The directory, usable as `CNI_PATH`.
    pub fn path_str(&self) -> &str {
        self.dir.path_str()
    }

    /// Path of the plugin `name` inside this CNI_PATH.
    pub fn bin(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

impl Default for CniPath {
    fn default() -> Self {
        Self::new()
    }
}
