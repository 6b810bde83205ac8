//! Where the files are, how they are named, written and locked.
//!
//! ```text
//! <base>/<netns inode>-<netns cookie>/      the store of one network namespace (0700)
//!   resolver.pid                            {"pid", "startTime"} of the running resolver
//!   resolver.sock                           its control socket (ping, reload, stop)
//!   resolver.log                            its log (removed on a clean stop)
//!   networks/<network>/settings.json        NetworkSettings
//!   networks/<network>/endpoints/<container id>@<ifname>.json   EndpointRecord
//!   remote/<network>/<host>.json            RemoteRecords of another host
//! ```
//!
//! The store is per network namespace because the resolver must run in the
//! namespace holding the gateway addresses it listens on: two runtimes (or
//! two tests) in two namespaces have two stores and two resolvers. The key is
//! the one of ADR 0006 (`<inode>-<cookie>`: the cookie is never reused, so a
//! new namespace never inherits a dead one's records; directories of dead
//! namespaces that held the same inode are removed when the store opens).
//!
//! Every file is written to a temporary name in the same directory and
//! renamed over the target, so a reader sees the old or the new content,
//! never a part. The lock is `flock(2)` on the store directory itself.

use std::fs::{self, File, OpenOptions};
use std::io::{self, ErrorKind, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::fcntl::{Flock, FlockArg};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::RecordsError;

/// Where stores live by default (one directory per network namespace).
pub const DEFAULT_BASE: &str = "/run/cnm/dns";
/// The resolver's pid file.
pub const PID_FILE: &str = "resolver.pid";
/// The resolver's control socket.
pub const CONTROL_SOCKET: &str = "resolver.sock";
/// The resolver's log.
pub const LOG_FILE: &str = "resolver.log";
/// Local networks.
pub const NETWORKS_DIR: &str = "networks";
/// Records fed from other hosts.
pub const REMOTE_DIR: &str = "remote";
/// A network's settings.
pub const SETTINGS_FILE: &str = "settings.json";
/// A network's local endpoints.
pub const ENDPOINTS_DIR: &str = "endpoints";
/// Largest record file read (a remote host's file with many entries).
pub const MAX_FILE_LEN: u64 = 16 * 1024 * 1024;
/// Most directory entries looked at in one listing (bounded work).
pub const MAX_ENTRIES: usize = 65536;

const NETNS_LINK: &str = "/proc/thread-self/ns/net";
/// `SO_NETNS_COOKIE` (asm-generic and x86; Linux 5.14).
const SO_NETNS_COOKIE: libc::c_int = 71;

/// The identity of a network namespace: its inode and, on Linux >= 5.14,
/// its cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NetnsKey {
    /// Inode of the namespace (reused by the kernel after it dies).
    pub ino: u64,
    /// Namespace cookie, never reused while the machine runs (None: old kernel).
    pub cookie: Option<u64>,
}

impl NetnsKey {
    /// The key of the calling thread's network namespace.
    pub fn current() -> io::Result<NetnsKey> {
        let ino = fs::metadata(NETNS_LINK)?.ino();
        // Any socket belongs to the namespace of the thread creating it; an
        // unbound unix datagram socket needs no address and no loopback.
        let socket = UnixDatagram::unbound()?;
        let cookie = match netns_cookie(&socket) {
            Ok(c) => Some(c),
            Err(e) if e.raw_os_error() == Some(libc::ENOPROTOOPT) => None,
            Err(e) => return Err(e),
        };
        Ok(NetnsKey { ino, cookie })
    }

    /// The store directory's name: `<inode>-<cookie>`, or `<inode>` without a cookie.
    pub fn dir_name(&self) -> String {
        match self.cookie {
            Some(c) => format!("{}-{c}", self.ino),
            None => self.ino.to_string(),
        }
    }
}

fn netns_cookie(socket: &UnixDatagram) -> io::Result<u64> {
    let mut cookie: u64 = 0;
    let mut len = std::mem::size_of::<u64>() as libc::socklen_t;
    // SAFETY: getsockopt(2) on a socket we own, writing at most `len` bytes
    // into `cookie`, a live u64 of exactly that size; `len` is a valid socklen_t.
    let rc = unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            SO_NETNS_COOKIE,
            (&mut cookie as *mut u64).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    if len as usize != std::mem::size_of::<u64>() || cookie == 0 {
        return Err(io::Error::new(
            ErrorKind::InvalidData,
            "SO_NETNS_COOKIE returned no cookie",
        ));
    }
    Ok(cookie)
}

/// Directories under `base` of namespaces that held `key`'s inode before
/// (`<ino>-<other cookie>`, and `<ino>` when `key` has a cookie): provably
/// dead, since two live namespaces never share an inode.
pub fn stale_dirs(base: &Path, key: &NetnsKey) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(base) else {
        return Vec::new();
    };
    let ino = key.ino.to_string();
    let mine = key.dir_name();
    entries
        .take(MAX_ENTRIES)
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let same_ino = name == ino
                || name
                    .strip_prefix(&ino)
                    .and_then(|rest| rest.strip_prefix('-'))
                    .is_some_and(|c| !c.is_empty() && c.bytes().all(|b| b.is_ascii_digit()));
            (same_ino && name != mine).then(|| e.path())
        })
        .collect()
}

/// Percent-encodes what is not `[A-Za-z0-9_.+-]` (so `@`, `%` and `/` never
/// appear raw).
fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'+' | b'-') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The file name of an endpoint's record: `<container id>@<ifname>.json`
/// (the interface name percent-encoded; a container id never holds `@`, so
/// the first `@` separates the two and no two attachments share a name).
pub fn endpoint_file_name(container_id: &str, ifname: &str) -> String {
    format!(
        "{}@{}.json",
        encode_component(container_id),
        encode_component(ifname)
    )
}

/// The paths of one store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// The store directory (`<base>/<netns key>`).
    pub root: PathBuf,
}

impl Layout {
    /// A layout rooted at `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Layout { root: root.into() }
    }

    /// `resolver.pid`.
    pub fn pid_file(&self) -> PathBuf {
        self.root.join(PID_FILE)
    }
    /// `resolver.sock`.
    pub fn control_socket(&self) -> PathBuf {
        self.root.join(CONTROL_SOCKET)
    }
    /// `resolver.log`.
    pub fn log_file(&self) -> PathBuf {
        self.root.join(LOG_FILE)
    }
    /// `networks/`.
    pub fn networks_dir(&self) -> PathBuf {
        self.root.join(NETWORKS_DIR)
    }
    /// `networks/<network>/`.
    pub fn network_dir(&self, network: &str) -> PathBuf {
        self.networks_dir().join(network)
    }
    /// `networks/<network>/settings.json`.
    pub fn settings_file(&self, network: &str) -> PathBuf {
        self.network_dir(network).join(SETTINGS_FILE)
    }
    /// `networks/<network>/endpoints/`.
    pub fn endpoints_dir(&self, network: &str) -> PathBuf {
        self.network_dir(network).join(ENDPOINTS_DIR)
    }
    /// `networks/<network>/endpoints/<container id>@<ifname>.json`.
    pub fn endpoint_file(&self, network: &str, container_id: &str, ifname: &str) -> PathBuf {
        self.endpoints_dir(network)
            .join(endpoint_file_name(container_id, ifname))
    }
    /// `remote/`.
    pub fn remote_dir(&self) -> PathBuf {
        self.root.join(REMOTE_DIR)
    }
    /// `remote/<network>/`.
    pub fn remote_network_dir(&self, network: &str) -> PathBuf {
        self.remote_dir().join(network)
    }
    /// `remote/<network>/<host>.json`.
    pub fn remote_file(&self, network: &str, host: &str) -> PathBuf {
        self.remote_network_dir(network)
            .join(format!("{host}.json"))
    }
}

/// Creates `dir` and its parents, mode 0700.
pub fn create_dir(dir: &Path) -> Result<(), RecordsError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| RecordsError::io("create directory", dir, e))
}

/// Writes `value` as JSON to `path` atomically (temporary file in the same
/// directory, then rename).
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), RecordsError> {
    let mut bytes = serde_json::to_vec_pretty(value)
        .map_err(|e| RecordsError::io("encode", path, io::Error::other(e)))?;
    bytes.push(b'\n');
    write_atomic(path, &bytes)
}

/// Writes `bytes` to `path` atomically.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), RecordsError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let written = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()
    })();
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(RecordsError::io("write", &tmp, e));
    }
    fs::rename(&tmp, path).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        RecordsError::io("rename into place", path, e)
    })
}

/// Reads a JSON file of at most [`MAX_FILE_LEN`] bytes; `Ok(None)` when it
/// does not exist.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<Option<T>, RecordsError> {
    let bytes = match read_bounded(path) {
        Ok(b) => b,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(RecordsError::io("read", path, e)),
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| RecordsError::io("parse", path, io::Error::new(ErrorKind::InvalidData, e)))
}

fn read_bounded(path: &Path) -> io::Result<Vec<u8>> {
    use std::io::Read;
    let f = File::open(path)?;
    let mut buf = Vec::new();
    f.take(MAX_FILE_LEN + 1).read_to_end(&mut buf)?;
    if buf.len() as u64 > MAX_FILE_LEN {
        return Err(io::Error::new(
            ErrorKind::InvalidData,
            format!("larger than {MAX_FILE_LEN} bytes"),
        ));
    }
    Ok(buf)
}

/// Removes a file; a missing file is not an error.
pub fn remove_file(path: &Path) -> Result<(), RecordsError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(RecordsError::io("remove", path, e)),
    }
}

/// Removes a directory if it is empty; true when it is gone.
pub fn remove_dir_if_empty(path: &Path) -> bool {
    match fs::remove_dir(path) {
        Ok(()) => true,
        Err(e) => e.kind() == ErrorKind::NotFound,
    }
}

/// Names of the regular `*.json` files in `dir` (not temporaries), sorted;
/// empty when `dir` does not exist.
pub fn json_files(dir: &Path) -> Result<Vec<String>, RecordsError> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(RecordsError::io("list", dir, e)),
    };
    let mut names: Vec<String> = entries
        .take(MAX_ENTRIES)
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.ends_with(".json") && !n.starts_with('.'))
        .collect();
    names.sort();
    Ok(names)
}

/// Names of the subdirectories of `dir`, sorted; empty when `dir` does not exist.
pub fn subdirs(dir: &Path) -> Result<Vec<String>, RecordsError> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(RecordsError::io("list", dir, e)),
    };
    let mut names: Vec<String> = entries
        .take(MAX_ENTRIES)
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    names.sort();
    Ok(names)
}

/// The store's lock: `flock(2)` held on the store directory. Dropping it
/// unlocks.
#[derive(Debug)]
pub struct StoreLock {
    _flock: Flock<File>,
}

/// How long [`lock`] waits for another process.
pub const LOCK_TIMEOUT: Duration = Duration::from_secs(20);

/// Creates the store directory if needed and locks it. If the directory is
/// removed (the last network left) while we wait, it is created anew and
/// locked again, so the lock always covers the directory at `root`.
pub fn lock(root: &Path, timeout: Duration) -> Result<StoreLock, RecordsError> {
    let start = Instant::now();
    loop {
        create_dir(root)?;
        let dir = File::open(root).map_err(|e| RecordsError::io("open", root, e))?;
        let mut dir = Some(dir);
        let flock = loop {
            let Some(d) = dir.take() else {
                return Err(RecordsError::Resolver("lock state lost".into()));
            };
            match Flock::lock(d, FlockArg::LockExclusiveNonblock) {
                Ok(l) => break l,
                Err((d, errno)) if errno == nix::errno::Errno::EWOULDBLOCK => {
                    if start.elapsed() >= timeout {
                        return Err(RecordsError::Busy {
                            path: root.to_path_buf(),
                            waited_ms: start.elapsed().as_millis() as u64,
                        });
                    }
                    dir = Some(d);
                    std::thread::sleep(Duration::from_millis(2));
                }
                Err((_, errno)) => {
                    return Err(RecordsError::io("lock", root, io::Error::from(errno)))
                }
            }
        };
        // Still the directory at `root`? (It is removed when the last
        // network leaves; a waiter then holds a lock on a dead directory.)
        let held = flock.metadata().map(|m| (m.dev(), m.ino()));
        let current = fs::metadata(root).map(|m| (m.dev(), m.ino()));
        match (held, current) {
            (Ok(h), Ok(c)) if h == c => return Ok(StoreLock { _flock: flock }),
            _ => continue,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_file_names_never_collide() {
        assert_eq!(endpoint_file_name("abc", "eth0"), "abc@eth0.json");
        assert_eq!(endpoint_file_name("a.b-c_d", "e@1"), "a.b-c_d@e%401.json");
        assert_ne!(
            endpoint_file_name("a", "b@c"),
            endpoint_file_name("a@b", "c")
        );
        assert_eq!(endpoint_file_name("x", "a%b"), "x@a%25b.json");
    }

    #[test]
    fn atomic_write_and_read_back() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x.json");
        write_json(&p, &serde_json::json!({"a": 1})).unwrap();
        let v: serde_json::Value = read_json(&p).unwrap().unwrap();
        assert_eq!(v["a"], 1);
        // No temporary left behind.
        assert_eq!(fs::read_dir(d.path()).unwrap().count(), 1);
        assert!(read_json::<serde_json::Value>(&d.path().join("none"))
            .unwrap()
            .is_none());
        fs::write(&p, b"{not json").unwrap();
        let e = read_json::<serde_json::Value>(&p).unwrap_err();
        assert!(e.to_string().contains("parse"), "{e}");
    }

    #[test]
    fn listing_skips_temporaries() {
        let d = tempfile::tempdir().unwrap();
        fs::write(d.path().join("a.json"), b"{}").unwrap();
        fs::write(d.path().join(".a.json.tmp-1"), b"{}").unwrap();
        fs::write(d.path().join("b.txt"), b"").unwrap();
        fs::create_dir(d.path().join("sub")).unwrap();
        assert_eq!(json_files(d.path()).unwrap(), ["a.json"]);
        assert_eq!(subdirs(d.path()).unwrap(), ["sub"]);
        assert!(json_files(&d.path().join("missing")).unwrap().is_empty());
    }

    #[test]
    fn lock_excludes_and_survives_directory_removal() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("store");
        let l = lock(&root, LOCK_TIMEOUT).unwrap();
        let e = lock(&root, Duration::from_millis(30)).unwrap_err();
        assert!(matches!(e, RecordsError::Busy { .. }), "{e}");
        // The holder removes the directory; a waiter then locks a new one.
        let waiter = {
            let root = root.clone();
            std::thread::spawn(move || {
                lock(&root, LOCK_TIMEOUT).map(|_| fs::metadata(&root).is_ok())
            })
        };
        std::thread::sleep(Duration::from_millis(20));
        fs::remove_dir(&root).unwrap();
        drop(l);
        assert!(waiter.join().unwrap().unwrap());
    }

    #[test]
    fn netns_key_and_stale_dirs() {
        let k = NetnsKey::current().unwrap();
        assert_eq!(k, NetnsKey::current().unwrap());
        let d = tempfile::tempdir().unwrap();
        let key = NetnsKey {
            ino: 42,
            cookie: Some(7),
        };
        for n in ["42-7", "42-8", "42", "420-8", "43-7", "42-x"] {
            fs::create_dir(d.path().join(n)).unwrap();
        }
        let mut got: Vec<String> = stale_dirs(d.path(), &key)
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        got.sort();
        assert_eq!(got, ["42", "42-8"]);
    }
}
