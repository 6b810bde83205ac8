//! The reference host-local on-disk store: `<dataDir>/<network>/<ip>` files holding
//! `<containerID>\r\n<ifname>`, `last_reserved_ip.<set>` and a `lock` file (flock).
//!
//! Every file operation is relative to a directory descriptor opened with
//! `O_NOFOLLOW`, so a symlinked data or network directory is refused and no
//! entry is followed through a symlink. Reservations are written to a temp file
//! and hard-linked to their final name, so no half-written reservation is ever visible.

use std::fs::File;
use std::io::{Read, Write};
use std::net::IpAddr;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use nix::dir::{Dir, Type};
use nix::errno::Errno;
use nix::fcntl::{renameat, AtFlags, OFlag};
use nix::sys::stat::{fstatat, mkdirat, Mode, SFlag};
use nix::unistd::{linkat, unlinkat, UnlinkatFlags};

use crate::error::IpamError;
use crate::fsio::{count_open, openat};
use crate::lock::lock_exclusive;
use crate::owner::{Match, Owner};
use crate::stamp;

/// Default state root, as in the reference.
pub const DEFAULT_DATA_DIR: &str = "/var/lib/cni/networks";
/// Prefix of the per-range-set round-robin cursor files.
pub const LAST_IP_PREFIX: &str = "last_reserved_ip.";
/// Name of the lock file inside the network directory.
pub const LOCK_FILE: &str = "lock";
/// Prefix of our temp files (never a valid IP, ignored by every scan).
const TMP_PREFIX: &str = ".cnm-tmp-";
/// Reservation files are tiny; anything longer is not ours.
const MAX_FILE_LEN: u64 = 4096;
/// Stores with at least this many reservations are read by several threads.
const PARALLEL_READ_MIN: usize = 256;

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Checks that `name` is safe as a single path component (CNI network-name rules).
pub fn validate_network_name(name: &str) -> Result<(), IpamError> {
    if cnm_names::validate_network_name(name).is_err() {
        return Err(IpamError::Config(format!(
            "invalid network name {name:?}: must match ^[a-zA-Z0-9][a-zA-Z0-9_.-]*$"
        )));
    }
    Ok(())
}

/// The content of a `last_reserved_ip.<set>` file: an address, surrounding
/// whitespace allowed; anything else is `None` (round robin restarts).
pub fn parse_last_reserved(content: &[u8]) -> Option<IpAddr> {
    crate::ipmath::parse_ip(std::str::from_utf8(content).ok()?)
}

fn errno_io(e: Errno) -> std::io::Error {
    std::io::Error::from_raw_os_error(e as i32)
}

/// An open store: the network directory and its lock file.
pub struct Store {
    data: OwnedFd,
    dir: OwnedFd,
    network: String,
    path: PathBuf,
    lock: File,
}

impl Store {
    /// Opens `<data_dir>/<network>`, creating missing directories with mode 0700.
    /// The directories are opened first and made only when missing, so the
    /// common case (they exist) costs no failing mkdir.
    pub fn open(data_dir: &Path, network: &str) -> Result<Store, IpamError> {
        validate_network_name(network)?;
        let data = match open_dir_nofollow(None, data_dir) {
            Err(IpamError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(data_dir)
                    .map_err(|e| IpamError::io("creating data directory", data_dir, e))?;
                open_dir_nofollow(None, data_dir)?
            }
            other => other?,
        };
        let path = data_dir.join(network);
        let dir = match open_dir_nofollow(Some(&data), &path) {
            Err(IpamError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                match mkdirat(&data, network, Mode::from_bits_truncate(0o700)) {
                    Ok(()) | Err(Errno::EEXIST) => {}
                    Err(e) => {
                        return Err(IpamError::io(
                            "creating network directory",
                            &path,
                            errno_io(e),
                        ))
                    }
                }
                open_dir_nofollow(Some(&data), &path)?
            }
            other => other?,
        };
        Self::with_dir(data, dir, network, path)
    }

    /// Opens an existing store without creating anything; `Ok(None)` when the
    /// data or network directory does not exist (nothing was ever reserved).
    pub fn open_existing(data_dir: &Path, network: &str) -> Result<Option<Store>, IpamError> {
        validate_network_name(network)?;
        let path = data_dir.join(network);
        let data = match open_dir_nofollow(None, data_dir) {
            Ok(d) => d,
            Err(IpamError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                return Ok(None)
            }
            Err(e) => return Err(e),
        };
        let dir = match open_dir_nofollow(Some(&data), &path) {
            Ok(d) => d,
            Err(IpamError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                return Ok(None)
            }
            Err(e) => return Err(e),
        };
        Self::with_dir(data, dir, network, path).map(Some)
    }

    fn with_dir(
        data: OwnedFd,
        dir: OwnedFd,
        network: &str,
        path: PathBuf,
    ) -> Result<Store, IpamError> {
        let lock_path = path.join(LOCK_FILE);
        let fd = openat(
            &dir,
            LOCK_FILE,
            OFlag::O_RDWR | OFlag::O_CREAT | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(0o600),
        )
        .map_err(|e| IpamError::io("opening lock file", &lock_path, errno_io(e)))?;
        Ok(Store {
            data,
            dir,
            network: network.to_string(),
            path,
            lock: File::from(fd),
        })
    }

    /// The network directory.
    #[cfg_attr(not(feature = "internals"), allow(dead_code))]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Takes the exclusive store lock, waiting at most `timeout` (then code 11).
    pub fn lock(&self, timeout: Duration) -> Result<Locked<'_>, IpamError> {
        lock_exclusive(&self.lock, &self.path.join(LOCK_FILE), timeout)?;
        Ok(Locked {
            store: self,
            cursors: Default::default(),
        })
    }
}

/// Opens `path` as a directory without following a final symlink. `parent` is the
/// descriptor of its parent (then only the last component of `path` is used).
fn open_dir_nofollow(parent: Option<&OwnedFd>, path: &Path) -> Result<OwnedFd, IpamError> {
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let res = match parent {
        Some(p) => {
            let name = path.file_name().unwrap_or(path.as_os_str());
            openat(p, name, flags, Mode::empty())
        }
        None => {
            count_open();
            nix::fcntl::open(path, flags, Mode::empty())
        }
    };
    res.map_err(|e| match e {
        Errno::ELOOP | Errno::ENOTDIR => {
            let is_link = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
            IpamError::Unsafe {
                path: path.to_path_buf(),
                why: if is_link {
                    "it is a symlink (not followed for safety)".into()
                } else {
                    "it is not a directory".into()
                },
            }
        }
        e => IpamError::io("opening directory", path, errno_io(e)),
    })
}

/// The store while its lock is held; the lock is released on drop.
pub struct Locked<'a> {
    store: &'a Store,
    /// Fingerprints of `last_reserved_ip.<set>` read or written under this
    /// lock: nobody else writes them while we hold it, so each is read once
    /// (for the index's trust check) and not re-read after our own write.
    pub(crate) cursors: std::sync::Mutex<std::collections::HashMap<usize, Cursor>>,
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        // Closing the descriptor would release it too; an unlock error leaves
        // nothing to recover here.
        let _ = self.store.lock.unlock();
    }
}

/// Result of one pass over the reservations for a `(containerID, ifname)`.
#[derive(Debug, Default)]
pub struct Matches {
    /// Files holding `<id>\r\n<ifname>`.
    pub exact: Vec<(IpAddr, String)>,
    /// Legacy files holding only `<id>`.
    pub legacy: Vec<(IpAddr, String)>,
}

/// One reservation file read during a full scan.
#[derive(Debug, Clone)]
pub struct Scanned {
    pub ip: IpAddr,
    pub name: String,
    /// `None`: vanished, empty, unreadable or not UTF-8.
    pub owner: Option<Owner>,
}

impl Matches {
    /// The files of `scanned` held by `(container_id, ifname)` (or legacy `container_id`).
    pub fn of(scanned: &[Scanned], container_id: &str, ifname: &str) -> Matches {
        let mut m = Matches::default();
        for f in scanned {
            match f.owner.as_ref().map(|o| o.matches(container_id, ifname)) {
                Some(Match::Exact) => m.exact.push((f.ip, f.name.clone())),
                Some(Match::Legacy) => m.legacy.push((f.ip, f.name.clone())),
                _ => {}
            }
        }
        m
    }
}

/// What a `last_reserved_ip.<set>` looks like (the index's trust logic
/// records and compares it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cursor {
    Absent,
    Present {
        ino: u64,
        mtime: (i64, i64),
        content: Vec<u8>,
    },
    /// Not a regular file, unreadable: never matches anything.
    Unreadable,
}

/// What a GC pass did.
#[derive(Debug, Default)]
pub struct GcReport {
    pub released: Vec<IpAddr>,
    pub errors: Vec<String>,
}

impl Locked<'_> {
    pub(crate) fn dir(&self) -> &OwnedFd {
        &self.store.dir
    }

    /// The data directory (parent of the network directory).
    pub(crate) fn data_dir(&self) -> &OwnedFd {
        &self.store.data
    }

    /// The network name (a validated single path component).
    pub(crate) fn network(&self) -> &str {
        &self.store.network
    }

    pub(crate) fn file_path(&self, name: &str) -> PathBuf {
        self.store.path.join(name)
    }

    /// Every reservation file: `(address, file name)`. Only names that parse as an
    /// IP address and are regular files (not symlinks) count. Reads no file content.
    pub fn reservations(&self) -> Result<Vec<(IpAddr, String)>, IpamError> {
        let mut out = Vec::new();
        self.for_each_entry(|name| {
            if let Ok(ip) = name.parse::<IpAddr>() {
                out.push((ip, name.to_string()));
            }
        })?;
        Ok(out)
    }

    /// Calls `f` with the name of every regular file of the directory.
    pub(crate) fn for_each_name(&self, f: impl FnMut(&str)) -> Result<(), IpamError> {
        self.for_each_entry(f)
    }

    /// Calls `f` with the name of every regular file of the directory.
    fn for_each_entry(&self, mut f: impl FnMut(&str)) -> Result<(), IpamError> {
        count_open();
        let mut d = Dir::openat(
            self.dir(),
            ".",
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| IpamError::io("listing", &self.store.path, errno_io(e)))?;
        for entry in d.iter() {
            let entry =
                entry.map_err(|e| IpamError::io("listing", &self.store.path, errno_io(e)))?;
            let Ok(name) = entry.file_name().to_str() else {
                continue;
            };
            let regular = match entry.file_type() {
                Some(Type::File) => true,
                Some(_) => false,
                None => fstatat(self.dir(), name, AtFlags::AT_SYMLINK_NOFOLLOW).is_ok_and(|st| {
                    SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFREG
                }),
            };
            if regular {
                f(name);
            }
        }
        Ok(())
    }

    /// Reads a small file of the directory without following symlinks;
    /// `Ok(None)` when it does not exist.
    pub(crate) fn read_small(&self, name: &str) -> Result<Option<Vec<u8>>, IpamError> {
        let fd = match openat(
            self.dir(),
            name,
            OFlag::O_RDONLY
                | OFlag::O_NOFOLLOW
                | OFlag::O_CLOEXEC
                | OFlag::O_NONBLOCK
                | OFlag::O_NOCTTY,
            Mode::empty(),
        ) {
            Ok(fd) => fd,
            Err(Errno::ENOENT) => return Ok(None),
            Err(e) => return Err(IpamError::io("opening", self.file_path(name), errno_io(e))),
        };
        // One read(2) covers every reservation file; a short read of a regular
        // file means end of file, so only longer files take a second call.
        let mut file = File::from(fd);
        let mut buf = vec![0u8; 256];
        let n = file
            .read(&mut buf)
            .map_err(|e| IpamError::io("reading", self.file_path(name), e))?;
        buf.truncate(n);
        if n == 256 {
            file.take(MAX_FILE_LEN)
                .read_to_end(&mut buf)
                .map_err(|e| IpamError::io("reading", self.file_path(name), e))?;
        }
        Ok(Some(buf))
    }

    /// The owner recorded in reservation file `name` (None: missing, empty or unreadable).
    pub fn owner(&self, name: &str) -> Option<Owner> {
        self.read_small(name)
            .ok()
            .flatten()
            .and_then(|c| Owner::parse(&c))
    }

    /// One pass: the reservations of `(container_id, ifname)` among those whose
    /// address satisfies `filter` (only those files are read).
    pub fn find(
        &self,
        container_id: &str,
        ifname: &str,
        filter: impl Fn(IpAddr) -> bool,
    ) -> Result<Matches, IpamError> {
        let candidates: Vec<(IpAddr, String)> = self
            .reservations()?
            .into_iter()
            .filter(|(ip, _)| filter(*ip))
            .collect();
        Ok(Matches::of(
            &self.read_owners(candidates),
            container_id,
            ifname,
        ))
    }

    /// Reads the owner of every given reservation file. Reading is one
    /// open/read/close per file; big stores are read by a few threads at once.
    pub fn read_owners(&self, files: Vec<(IpAddr, String)>) -> Vec<Scanned> {
        let read = |chunk: &[(IpAddr, String)]| -> Vec<Scanned> {
            chunk
                .iter()
                .map(|(ip, name)| Scanned {
                    ip: *ip,
                    name: name.clone(),
                    owner: self.owner(name),
                })
                .collect()
        };
        // Small stores (the common case) never ask for the CPU count, which
        // reads cgroup files.
        if files.len() < PARALLEL_READ_MIN {
            return read(&files);
        }
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
        if threads < 2 {
            return read(&files);
        }
        let chunk = files.len().div_ceil(threads);
        std::thread::scope(|s| {
            let handles: Vec<_> = files
                .chunks(chunk)
                .map(|c| (c, s.spawn(move || read(c))))
                .collect();
            handles
                .into_iter()
                // A reader that died is redone here rather than losing its files.
                .flat_map(|(c, h)| h.join().unwrap_or_else(|_| read(c)))
                .collect()
        })
    }

    /// DEL: removes every reservation of `(container_id, ifname)`; when there is
    /// none, the legacy files of `container_id` (reference semantics). One pass.
    pub fn release_by_id(
        &self,
        container_id: &str,
        ifname: &str,
    ) -> Result<Vec<IpAddr>, IpamError> {
        let m = self.find(container_id, ifname, |_| true)?;
        self.release(if m.exact.is_empty() {
            m.legacy
        } else {
            m.exact
        })
    }

    /// Unlinks the given reservation files; every failure is reported.
    pub(crate) fn release(&self, victims: Vec<(IpAddr, String)>) -> Result<Vec<IpAddr>, IpamError> {
        let mut released = Vec::with_capacity(victims.len());
        let mut errors = Vec::new();
        for (ip, name) in victims {
            match self.remove(&name) {
                Ok(_) => released.push(ip),
                Err(e) => errors.push(e.to_string()),
            }
        }
        if errors.is_empty() {
            Ok(released)
        } else {
            Err(IpamError::io(
                "releasing",
                &self.store.path,
                std::io::Error::other(errors.join("; ")),
            ))
        }
    }

    /// Unlinks `name`; `Ok(false)` when it was already gone.
    pub fn remove(&self, name: &str) -> Result<bool, IpamError> {
        match unlinkat(self.dir(), name, UnlinkatFlags::NoRemoveDir) {
            Ok(()) => Ok(true),
            Err(Errno::ENOENT) => Ok(false),
            Err(e) => Err(IpamError::io("removing", self.file_path(name), errno_io(e))),
        }
    }

    /// Creates a temp file holding `content` (mode 0600), stamped with `boot_id`
    /// when given (see [`crate::stamp`]), and returns its name.
    fn write_temp(&self, content: &[u8], boot_id: Option<&str>) -> Result<String, IpamError> {
        self.write_temp_file(content, boot_id).map(|(name, _)| name)
    }

    /// [`Locked::write_temp`], keeping the file open.
    fn write_temp_file(
        &self,
        content: &[u8],
        boot_id: Option<&str>,
    ) -> Result<(String, File), IpamError> {
        let pid = std::process::id();
        let mut tries = 0;
        let (name, fd) = loop {
            let n = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
            let name = format!("{TMP_PREFIX}{pid}-{n}");
            match openat(
                self.dir(),
                name.as_str(),
                OFlag::O_WRONLY
                    | OFlag::O_CREAT
                    | OFlag::O_EXCL
                    | OFlag::O_NOFOLLOW
                    | OFlag::O_CLOEXEC,
                Mode::from_bits_truncate(0o600),
            ) {
                Ok(fd) => break (name, fd),
                Err(Errno::EEXIST) if tries < 64 => tries += 1,
                Err(e) => {
                    return Err(IpamError::io(
                        "creating temp file in",
                        &self.store.path,
                        errno_io(e),
                    ))
                }
            }
        };
        let mut f = File::from(fd);
        if let Err(e) = f.write_all(content) {
            let _ = self.remove(&name);
            return Err(IpamError::io("writing", self.file_path(&name), e));
        }
        if let Some(id) = boot_id {
            // Best effort: an unstamped reservation is only never reclaimed.
            let _ = stamp::write(f.as_fd(), id);
        }
        Ok((name, f))
    }

    /// Claims `ip` for `(container_id, ifname)` without a boot stamp.
    /// `Ok(false)` if it is taken.
    #[cfg_attr(not(feature = "internals"), allow(dead_code))]
    pub fn reserve(&self, ip: IpAddr, container_id: &str, ifname: &str) -> Result<bool, IpamError> {
        self.reserve_stamped(ip, container_id, ifname, None)
    }

    /// Claims `ip` for `(container_id, ifname)`, stamped with `boot_id` when given.
    /// `Ok(false)` if it is taken. The file appears atomically with its full
    /// content and stamp (temp file + link()).
    pub fn reserve_stamped(
        &self,
        ip: IpAddr,
        container_id: &str,
        ifname: &str,
        boot_id: Option<&str>,
    ) -> Result<bool, IpamError> {
        let name = ip.to_string();
        let content = Owner::encode(container_id, ifname);
        let tmp = self.write_temp(content.as_bytes(), boot_id)?;
        let linked = linkat(
            self.dir(),
            tmp.as_str(),
            self.dir(),
            name.as_str(),
            AtFlags::empty(),
        );
        let _ = self.remove(&tmp);
        match linked {
            Ok(()) => Ok(true),
            Err(Errno::EEXIST) => Ok(false),
            // Filesystems without hard links: fall back to the reference's O_EXCL create.
            Err(Errno::EPERM | Errno::EOPNOTSUPP | Errno::ENOSYS) => {
                self.reserve_excl(&name, &content, boot_id)
            }
            Err(e) => Err(IpamError::io(
                "reserving",
                self.file_path(&name),
                errno_io(e),
            )),
        }
    }

    fn reserve_excl(
        &self,
        name: &str,
        content: &str,
        boot_id: Option<&str>,
    ) -> Result<bool, IpamError> {
        let fd = match openat(
            self.dir(),
            name,
            OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(0o600),
        ) {
            Ok(fd) => fd,
            Err(Errno::EEXIST) => return Ok(false),
            Err(e) => {
                return Err(IpamError::io(
                    "reserving",
                    self.file_path(name),
                    errno_io(e),
                ))
            }
        };
        let mut f = File::from(fd);
        if let Err(e) = f.write_all(content.as_bytes()) {
            let _ = self.remove(name);
            return Err(IpamError::io("writing", self.file_path(name), e));
        }
        if let Some(id) = boot_id {
            // Best effort: the reservation stands even if the stamp cannot be set.
            let _ = stamp::write(f.as_fd(), id);
        }
        Ok(true)
    }

    /// The cursor cache (a poisoned lock only means a panicked reader).
    pub(crate) fn cursors_mut(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<usize, Cursor>> {
        self.cursors
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The round-robin cursor of range set `set` (None: absent or unparsable).
    pub fn last_reserved(&self, set: usize) -> Option<IpAddr> {
        match self.cursors_mut().get(&set) {
            Some(Cursor::Present { content, .. }) => {
                return parse_last_reserved(content)
            }
            Some(Cursor::Absent) => return None,
            _ => {}
        }
        let bytes = self
            .read_small(&format!("{LAST_IP_PREFIX}{set}"))
            .ok()
            .flatten()?;
        parse_last_reserved(&bytes)
    }

    /// Atomically replaces the cursor of range set `set` with `ip`.
    pub fn set_last_reserved(&self, set: usize, ip: IpAddr) -> Result<(), IpamError> {
        let name = format!("{LAST_IP_PREFIX}{set}");
        let content = ip.to_string().into_bytes();
        self.cursors_mut().remove(&set);
        let (tmp, file) = self.write_temp_file(&content, None)?;
        // The fingerprint of what we wrote (a rename keeps inode and mtime).
        let written = file.metadata().ok().map(|m| {
            use std::os::unix::fs::MetadataExt;
            Cursor::Present {
                ino: m.ino(),
                mtime: (m.mtime(), m.mtime_nsec()),
                content,
            }
        });
        drop(file);
        renameat(self.dir(), tmp.as_str(), self.dir(), name.as_str()).map_err(|e| {
            let _ = self.remove(&tmp);
            IpamError::io("writing", self.file_path(&name), errno_io(e))
        })?;
        if let Some(c) = written {
            self.cursors_mut().insert(set, c);
        }
        Ok(())
    }

    /// GC: removes every reservation whose owner `keep` rejects, plus stale temp
    /// files. Files that cannot be read or parsed, `lock`, `last_reserved_ip.*`
    /// and other names are never touched. Continues after errors.
    #[cfg_attr(not(feature = "internals"), allow(dead_code))]
    pub fn gc(&self, keep: impl Fn(&Owner) -> bool) -> Result<GcReport, IpamError> {
        self.gc_scan(keep).map(|(report, _)| report)
    }

    /// [`Locked::gc`], also returning the reservations kept (with a known owner).
    pub(crate) fn gc_scan(
        &self,
        keep: impl Fn(&Owner) -> bool,
    ) -> Result<(GcReport, Vec<Scanned>), IpamError> {
        let mut report = GcReport::default();
        let mut kept = Vec::new();
        let mut names = Vec::new();
        self.for_each_entry(|n| names.push(n.to_string()))?;
        for name in names {
            if name.starts_with(TMP_PREFIX) {
                if let Err(e) = self.remove(&name) {
                    report.errors.push(e.to_string());
                }
                continue;
            }
            let Ok(ip) = name.parse::<IpAddr>() else {
                continue;
            };
            let owner = match self.read_small(&name) {
                Ok(Some(c)) => Owner::parse(&c),
                Ok(None) => continue,
                Err(e) => {
                    report.errors.push(e.to_string());
                    continue;
                }
            };
            if let Some(o) = owner {
                if !keep(&o) {
                    match self.remove(&name) {
                        Ok(_) => report.released.push(ip),
                        Err(e) => report.errors.push(e.to_string()),
                    }
                } else {
                    kept.push(Scanned {
                        ip,
                        name,
                        owner: Some(o),
                    });
                }
            }
        }
        Ok((report, kept))
    }

    /// STATUS: proves the directory is writable by creating and removing a temp file.
    pub fn probe_writable(&self) -> Result<(), IpamError> {
        let tmp = self.write_temp(b"", None)?;
        self.remove(&tmp).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_reserved_content() {
        assert_eq!(
            parse_last_reserved(b"10.0.0.7\n"),
            Some("10.0.0.7".parse().unwrap())
        );
        assert_eq!(
            parse_last_reserved(b" 2001:db8::1 "),
            Some("2001:db8::1".parse().unwrap())
        );
        assert_eq!(parse_last_reserved(b""), None);
        assert_eq!(parse_last_reserved(b"10.0.0.7/24"), None);
        assert_eq!(parse_last_reserved(&[0xff]), None);
    }
}
