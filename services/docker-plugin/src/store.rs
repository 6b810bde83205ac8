//! The plugin's state on disk: one JSON file per record, written atomically
//! (temp file in the same directory, fsync, rename, fsync of the directory),
//! so a kill at any point leaves either the old or the new record, never a
//! torn one. Leftover temp files of a killed writer are removed at open.
//!
//! Endpoint records describe kernel state that a reboot loses anyway (veths,
//! port mappings) and that Docker deletes by ID after one: their renames are
//! not followed by a directory fsync (the file itself still is fsync'd, so a
//! record is complete or absent even after a power loss). Network and pool
//! records outlive reboots in Docker's view and get the full sequence. This
//! saves one journal commit per endpoint write (about 3 ms here).
//!
//! Layout under the state dir: `networks/<network id>.json`,
//! `endpoints/<endpoint id>.json`, `pools/<pool key>.json`. Docker's IDs are
//! 64 hex digits; every key is validated before it becomes a file name.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::PluginError;

/// Record kinds, one directory each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Networks by Docker network ID.
    Network,
    /// Endpoints by Docker endpoint ID.
    Endpoint,
    /// IPAM pools by pool key.
    Pool,
}

impl Kind {
    /// Whether a write must survive a power loss (see the module comment).
    fn durable(self) -> bool {
        !matches!(self, Kind::Endpoint)
    }

    fn dir(self) -> &'static str {
        match self {
            Kind::Network => "networks",
            Kind::Endpoint => "endpoints",
            Kind::Pool => "pools",
        }
    }
}

/// The state directory.
#[derive(Debug)]
pub struct Store {
    root: PathBuf,
    seq: AtomicU64,
}

const TMP_PREFIX: &str = ".tmp-";

/// A record key is safe as a file name: 1-128 of `[A-Za-z0-9_.-]`, not starting with a dot.
pub fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 128
        && !key.starts_with('.')
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

impl Store {
    /// Open (create, mode 0700) the state dir and its record directories; remove temp files a
    /// killed writer left.
    pub fn open(root: &Path) -> Result<Store, PluginError> {
        let io = |what: &str, p: &Path, e: io::Error| {
            PluginError::Store(format!("{what} {}: {e}", p.display()))
        };
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(root)
            .map_err(|e| io("creating", root, e))?;
        for k in [Kind::Network, Kind::Endpoint, Kind::Pool] {
            let d = root.join(k.dir());
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&d)
                .map_err(|e| io("creating", &d, e))?;
            for entry in fs::read_dir(&d).map_err(|e| io("reading", &d, e))? {
                let entry = entry.map_err(|e| io("reading", &d, e))?;
                if entry.file_name().to_string_lossy().starts_with(TMP_PREFIX) {
                    let _ = fs::remove_file(entry.path());
                }
            }
        }
        Ok(Store {
            root: root.to_path_buf(),
            seq: AtomicU64::new(0),
        })
    }

    /// The state dir.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, kind: Kind, key: &str) -> Result<PathBuf, PluginError> {
        if !valid_key(key) {
            return Err(PluginError::invalid(format!("invalid identifier {key:?}")));
        }
        Ok(self.root.join(kind.dir()).join(format!("{key}.json")))
    }

    /// Write a record atomically.
    pub fn put<T: Serialize>(&self, kind: Kind, key: &str, value: &T) -> Result<(), PluginError> {
        let path = self.path(kind, key)?;
        let dir = self.root.join(kind.dir());
        let bytes = serde_json::to_vec_pretty(value)
            .map_err(|e| PluginError::Store(format!("encoding {}: {e}", path.display())))?;
        let n = self.seq.fetch_add(1, Ordering::Relaxed);
        let tmp = dir.join(format!("{TMP_PREFIX}{}-{n}-{key}", std::process::id()));
        let fail = |what: &str, e: io::Error| {
            PluginError::Store(format!("{what} {}: {e}", path.display()))
        };
        let result = (|| {
            let mut f = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
            fs::rename(&tmp, &path)?;
            if kind.durable() {
                File::open(&dir)?.sync_all()?;
            }
            Ok(())
        })();
        if let Err(e) = result {
            let _ = fs::remove_file(&tmp);
            return Err(fail("writing", e));
        }
        Ok(())
    }

    /// Read a record; None when absent.
    pub fn get<T: DeserializeOwned>(
        &self,
        kind: Kind,
        key: &str,
    ) -> Result<Option<T>, PluginError> {
        let path = self.path(kind, key)?;
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| PluginError::Store(format!("decoding {}: {e}", path.display()))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(PluginError::Store(format!(
                "reading {}: {e}",
                path.display()
            ))),
        }
    }

    /// Remove a record (Ok when already gone); the directory is synced for durable kinds.
    pub fn remove(&self, kind: Kind, key: &str) -> Result<(), PluginError> {
        let path = self.path(kind, key)?;
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => {
                return Err(PluginError::Store(format!(
                    "removing {}: {e}",
                    path.display()
                )))
            }
        }
        if !kind.durable() {
            return Ok(());
        }
        let dir = self.root.join(kind.dir());
        File::open(&dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| PluginError::Store(format!("syncing {}: {e}", dir.display())))
    }

    /// Every record of a kind, sorted by key. Unreadable records are errors.
    pub fn list<T: DeserializeOwned>(&self, kind: Kind) -> Result<Vec<(String, T)>, PluginError> {
        let dir = self.root.join(kind.dir());
        let mut keys = Vec::new();
        for entry in fs::read_dir(&dir)
            .map_err(|e| PluginError::Store(format!("reading {}: {e}", dir.display())))?
        {
            let entry =
                entry.map_err(|e| PluginError::Store(format!("reading {}: {e}", dir.display())))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(key) = name.strip_suffix(".json") {
                if valid_key(key) {
                    keys.push(key.to_string());
                }
            }
        }
        keys.sort();
        let mut out = Vec::with_capacity(keys.len());
        for k in keys {
            if let Some(v) = self.get(kind, &k)? {
                out.push((k, v));
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct R {
        a: u32,
    }

    #[test]
    fn put_get_list_remove() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        assert_eq!(s.get::<R>(Kind::Network, "n1").unwrap(), None);
        s.put(Kind::Network, "n1", &R { a: 1 }).unwrap();
        s.put(Kind::Network, "n1", &R { a: 2 }).unwrap();
        s.put(Kind::Network, "n0", &R { a: 0 }).unwrap();
        assert_eq!(s.get::<R>(Kind::Network, "n1").unwrap(), Some(R { a: 2 }));
        let all: Vec<(String, R)> = s.list(Kind::Network).unwrap();
        assert_eq!(
            all,
            vec![("n0".into(), R { a: 0 }), ("n1".into(), R { a: 2 })]
        );
        s.remove(Kind::Network, "n1").unwrap();
        s.remove(Kind::Network, "n1").unwrap();
        assert_eq!(s.list::<R>(Kind::Network).unwrap().len(), 1);
        assert!(s.list::<R>(Kind::Endpoint).unwrap().is_empty());
    }

    #[test]
    fn keys_cannot_escape_and_temp_files_are_swept() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        for bad in ["", "../x", "a/b", ".hidden", &"x".repeat(129)] {
            assert!(s.put(Kind::Pool, bad, &R { a: 1 }).is_err(), "{bad:?}");
        }
        let stale = dir.path().join("pools").join(".tmp-1-0-p");
        fs::write(&stale, b"{").unwrap();
        drop(s);
        let s = Store::open(dir.path()).unwrap();
        assert!(!stale.exists());
        assert!(s.list::<R>(Kind::Pool).unwrap().is_empty());
    }

    #[test]
    fn torn_record_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        fs::write(dir.path().join("endpoints").join("e.json"), b"{\"a\":").unwrap();
        assert!(s.get::<R>(Kind::Endpoint, "e").is_err());
    }
}
