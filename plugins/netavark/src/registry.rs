//! The plugin's own state, one directory per network under the state
//! directory (default `/run/cnm/netavark`: container networking does not
//! outlive a reboot, so neither does this):
//!
//! ```text
//! <state>/networks/<network id>.lock        flock; exists while the network is in use
//! <state>/networks/<network id>/
//!     attachments/<container id>@<ifname>   one JSON record per live attachment
//!     ipam/ , .cnm-index/                   host-local's store for the network
//! ```
//!
//! The lock is held only around the short decisions that involve other
//! attachments: registering before an endpoint is created, and, at
//! teardown, unregistering and deleting the network when it was the last
//! one (so a concurrent setup never loses its bridge: it registers first,
//! and a teardown deletes the network only when nothing is registered).
//! Endpoints are created and deleted outside the lock, in parallel.
//!
//! Records are written atomically (temporary file + rename). The lock file
//! is removed with the network's directory, by the holder, while it still
//! holds the lock; a waiter that then gets the lock on the removed file
//! notices (the path no longer names its file) and tries again.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

use crate::error::PluginError;

/// The default state directory.
pub const DEFAULT_STATE_DIR: &str = "/run/cnm/netavark";
/// How long to wait for a network's lock.
pub const LOCK_TIMEOUT: Duration = Duration::from_secs(30);

/// One live attachment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// Podman's container id.
    pub container_id: String,
    /// The interface in the container.
    pub ifname: String,
    /// The namespace it was set up in.
    pub netns: String,
    /// Whether this attachment published the container's ports (a
    /// container on several networks publishes them on the first one).
    pub ports: bool,
}

/// The state directory.
#[derive(Debug, Clone)]
pub struct Registry {
    root: PathBuf,
}

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> PluginError + 'a {
    move |source| PluginError::State {
        op,
        path: path.display().to_string(),
        source,
    }
}

/// A network's lock, held until dropped (or [`NetworkLock::remove`]d).
#[derive(Debug)]
pub struct NetworkLock {
    _lock: Flock<File>,
    path: PathBuf,
}

impl NetworkLock {
    /// Remove the lock file while holding it (the network is gone).
    pub fn remove(self) -> Result<(), PluginError> {
        match fs::remove_file(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err("removing", &self.path)(e)),
        }
    }
}

impl Registry {
    /// The registry at `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Registry { root: root.into() }
    }

    /// The state directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn networks(&self) -> PathBuf {
        self.root.join("networks")
    }

    /// The network's directory (also host-local's data directory).
    pub fn network_dir(&self, network_id: &str) -> PathBuf {
        self.networks().join(network_id)
    }

    fn attachments(&self, network_id: &str) -> PathBuf {
        self.network_dir(network_id).join("attachments")
    }

    fn record_path(&self, network_id: &str, cid: &str, ifname: &str) -> PathBuf {
        // Container ids never hold '@', so the name is unambiguous.
        self.attachments(network_id).join(format!("{cid}@{ifname}"))
    }

    /// Take the network's lock (waiting up to [`LOCK_TIMEOUT`]).
    pub fn lock(&self, network_id: &str) -> Result<NetworkLock, PluginError> {
        let dir = self.networks();
        fs::create_dir_all(&dir).map_err(io_err("creating", &dir))?;
        let path = dir.join(format!("{network_id}.lock"));
        let deadline = Instant::now() + LOCK_TIMEOUT;
        loop {
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o600)
                .open(&path)
                .map_err(io_err("opening", &path))?;
            let lock = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
                Ok(l) => l,
                Err((_, nix::errno::Errno::EWOULDBLOCK)) => {
                    if Instant::now() >= deadline {
                        return Err(PluginError::State {
                            op: "waiting 30 s for",
                            path: path.display().to_string(),
                            source: std::io::Error::from(std::io::ErrorKind::TimedOut),
                        });
                    }
                    std::thread::sleep(Duration::from_millis(2));
                    continue;
                }
                Err((_, errno)) => {
                    return Err(io_err("locking", &path)(std::io::Error::from(errno)));
                }
            };
            // The holder may have removed the file before we got it.
            let ours = lock.metadata().map_err(io_err("reading", &path))?;
            match fs::metadata(&path) {
                Ok(now) if now.ino() == ours.ino() && now.dev() == ours.dev() => {
                    return Ok(NetworkLock { _lock: lock, path })
                }
                Ok(_) => continue,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io_err("reading", &path)(e)),
            }
        }
    }

    /// The record of an attachment, if registered.
    pub fn get(
        &self,
        network_id: &str,
        cid: &str,
        ifname: &str,
    ) -> Result<Option<Record>, PluginError> {
        let path = self.record_path(network_id, cid, ifname);
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
                io_err("parsing", &path)(std::io::Error::new(std::io::ErrorKind::InvalidData, e))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err("reading", &path)(e)),
        }
    }

    /// Write an attachment's record (atomically).
    pub fn put(&self, network_id: &str, rec: &Record) -> Result<(), PluginError> {
        let dir = self.attachments(network_id);
        fs::create_dir_all(&dir).map_err(io_err("creating", &dir))?;
        let path = self.record_path(network_id, &rec.container_id, &rec.ifname);
        let tmp = dir.join(format!(
            ".{}@{}.{}",
            rec.container_id,
            rec.ifname,
            std::process::id()
        ));
        let bytes = serde_json::to_vec(rec).map_err(|e| {
            io_err("encoding", &path)(std::io::Error::new(std::io::ErrorKind::InvalidData, e))
        })?;
        let write = || -> std::io::Result<()> {
            let mut f = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)?;
            f.write_all(&bytes)?;
            // No fsync: the state lives in /run and does not outlive a
            // power loss; the rename keeps a crash from leaving half a record.
            fs::rename(&tmp, &path)
        };
        write().map_err(|e| {
            let _ = fs::remove_file(&tmp);
            io_err("writing", &path)(e)
        })
    }

    /// Remove an attachment's record (absent: fine).
    pub fn remove(&self, network_id: &str, cid: &str, ifname: &str) -> Result<(), PluginError> {
        let path = self.record_path(network_id, cid, ifname);
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err("removing", &path)(e)),
        }
    }

    /// True when the network has no registered attachment.
    pub fn is_empty(&self, network_id: &str) -> Result<bool, PluginError> {
        let dir = self.attachments(network_id);
        match fs::read_dir(&dir) {
            Ok(mut entries) => Ok(!entries.any(|e| {
                e.map(|e| !e.file_name().to_string_lossy().starts_with('.'))
                    .unwrap_or(true)
            })),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(true),
            Err(e) => Err(io_err("listing", &dir)(e)),
        }
    }

    /// Remove the network's directory (its last attachment is gone).
    pub fn remove_network(&self, network_id: &str) -> Result<(), PluginError> {
        let dir = self.network_dir(network_id);
        match fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err("removing", &dir)(e)),
        }
    }

    /// True when the container published its ports through an attachment
    /// to another network than `network_id`.
    pub fn ports_published_elsewhere(
        &self,
        network_id: &str,
        cid: &str,
    ) -> Result<bool, PluginError> {
        let nets = self.networks();
        let entries = match fs::read_dir(&nets) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(io_err("listing", &nets)(e)),
        };
        let prefix = format!("{cid}@");
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(net) = name.to_str() else { continue };
            if net == network_id || net.ends_with(".lock") {
                continue;
            }
            let Ok(atts) = fs::read_dir(self.attachments(net)) else {
                continue;
            };
            for a in atts.flatten() {
                let fname = a.file_name();
                let Some(f) = fname.to_str() else { continue };
                if !f.starts_with(&prefix) {
                    continue;
                }
                let ifname = &f[prefix.len()..];
                if let Ok(Some(rec)) = self.get(net, cid, ifname) {
                    if rec.ports {
                        return Ok(true);
                    }
                }
            }
        }
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(cid: &str, ifname: &str, ports: bool) -> Record {
        Record {
            container_id: cid.into(),
            ifname: ifname.into(),
            netns: "/run/netns/x".into(),
            ports,
        }
    }

    #[test]
    fn records_lifecycle() {
        let dir = tempfile::tempdir().expect("tempdir");
        let reg = Registry::new(dir.path());
        assert!(reg.is_empty("n1").expect("empty"));
        let lock = reg.lock("n1").expect("lock");
        reg.put("n1", &rec("c1", "eth0", true)).expect("put");
        assert_eq!(
            reg.get("n1", "c1", "eth0").expect("get"),
            Some(rec("c1", "eth0", true))
        );
        assert!(!reg.is_empty("n1").expect("not empty"));
        assert!(reg.ports_published_elsewhere("n2", "c1").expect("scan"));
        assert!(!reg.ports_published_elsewhere("n1", "c1").expect("own"));
        assert!(!reg.ports_published_elsewhere("n2", "c2").expect("other"));
        reg.remove("n1", "c1", "eth0").expect("remove");
        reg.remove("n1", "c1", "eth0").expect("remove twice");
        assert!(reg.is_empty("n1").expect("empty again"));
        reg.remove_network("n1").expect("rm");
        lock.remove().expect("rm lock");
        let left: Vec<_> = fs::read_dir(dir.path().join("networks"))
            .expect("ls")
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }

    #[test]
    fn a_removed_lock_is_not_trusted_by_a_waiter() {
        let dir = tempfile::tempdir().expect("tempdir");
        let reg = Registry::new(dir.path());
        let first = reg.lock("n1").expect("lock");
        let reg2 = reg.clone();
        let waiter = std::thread::spawn(move || {
            let l = reg2.lock("n1").expect("second lock");
            // The file it holds is the one at the path now.
            let path = reg2.root().join("networks").join("n1.lock");
            assert!(path.exists());
            drop(l);
        });
        std::thread::sleep(Duration::from_millis(50));
        first.remove().expect("remove while held");
        waiter.join().expect("waiter");
    }
}
