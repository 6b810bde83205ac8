//! The attachment index: `<dataDir>/.cnm-index/<network>/<key>` lists the
//! addresses an attachment `(containerID, ifname)` holds, so ADD, DEL and CHECK
//! read a handful of files instead of every reservation. It lives outside the
//! network directory, whose file list stays exactly the reference's; `.cnm-index`
//! can never be a network name (names start with a letter or digit).
//!
//! The index is a cache: reservation files stay the truth. Every address it
//! lists is checked against its reservation file before use, an entry that
//! cannot be read counts as missing, and any failure to use it (symlinked or
//! unwritable directory, ...) makes the caller fall back to a full scan.
//! Directories are 0700, files 0600, nothing is followed through a symlink,
//! and files are replaced atomically (temp file + rename).

use std::fs::File;
use std::io::{Read, Write};
use std::net::IpAddr;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicU64, Ordering};

use nix::dir::{Dir, Type};
use nix::errno::Errno;
use nix::fcntl::{renameat, OFlag};
use nix::sys::stat::{mkdirat, Mode};
use nix::unistd::{unlinkat, UnlinkatFlags};

use crate::fsio::{count_open, openat};
use crate::store::Locked;

/// Name of the index root inside the data directory.
pub const INDEX_DIR: &str = ".cnm-index";
/// First line of an entry file.
const ENTRY_MAGIC: &str = "cnm-index 1";
/// Prefix of temp files in an index directory.
const TMP_PREFIX: &str = ".tmp-";
/// Index files are small; longer ones are not ours.
const MAX_LEN: u64 = 64 * 1024;

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// FNV-1a 64 of `containerID` (trimmed, as in reservation files), NUL, `ifname`.
pub fn key(container_id: &str, ifname: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let bytes = container_id
        .trim()
        .as_bytes()
        .iter()
        .chain(b"\0")
        .chain(ifname.as_bytes());
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// Whether `name` is an entry file name (16 lowercase hex digits).
pub fn is_key(name: &str) -> bool {
    name.len() == 16
        && name
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

pub(crate) fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// One index entry: an attachment and the addresses it was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Trimmed container ID.
    pub container_id: String,
    pub ifname: String,
    pub ips: Vec<IpAddr>,
}

impl Entry {
    /// Whether this entry is the one of `(container_id, ifname)`.
    pub fn is_for(&self, container_id: &str, ifname: &str) -> bool {
        self.container_id == container_id.trim() && self.ifname == ifname
    }

    /// File content: magic line, `owner <hex id> <hex ifname>`, one address a line.
    pub fn encode(&self) -> String {
        let mut s = format!(
            "{ENTRY_MAGIC}\nowner {} {}\n",
            hex(self.container_id.as_bytes()),
            hex(self.ifname.as_bytes())
        );
        for ip in &self.ips {
            s.push_str(&ip.to_string());
            s.push('\n');
        }
        s
    }

    /// Parses [`Entry::encode`]'s output; anything else is `None`.
    pub fn parse(content: &[u8]) -> Option<Entry> {
        let text = std::str::from_utf8(content).ok()?;
        let mut lines = text.lines();
        if lines.next()? != ENTRY_MAGIC {
            return None;
        }
        let mut owner = lines.next()?.split(' ');
        if owner.next()? != "owner" {
            return None;
        }
        let container_id = String::from_utf8(unhex(owner.next()?)?).ok()?;
        let ifname = String::from_utf8(unhex(owner.next()?)?).ok()?;
        if owner.next().is_some() {
            return None;
        }
        let ips = lines
            .map(|l| l.parse::<IpAddr>().ok())
            .collect::<Option<Vec<_>>>()?;
        Some(Entry {
            container_id,
            ifname,
            ips,
        })
    }
}

/// What the index says about one attachment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Slot {
    /// No entry file.
    Missing,
    /// The attachment's entry (addresses not yet checked against the store).
    Mine(Vec<IpAddr>),
    /// The file exists but is unreadable, unparsable or names another
    /// attachment (hash collision): the index cannot answer.
    Unusable,
}

/// An open `<dataDir>/.cnm-index/<network>` directory.
pub struct IndexDir {
    fd: OwnedFd,
}

/// Opens `name` under `parent`; with `create`, makes it (0700) when missing
/// (opened first: the common case costs no failing mkdir).
fn open_dir(parent: &OwnedFd, name: &str, create: bool) -> Option<OwnedFd> {
    let open = || {
        openat(
            parent,
            name,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
    };
    match open() {
        Err(Errno::ENOENT) if create => {
            match mkdirat(parent, name, Mode::from_bits_truncate(0o700)) {
                Ok(()) | Err(Errno::EEXIST) => {}
                Err(_) => return None,
            }
            open().ok()
        }
        other => other.ok(),
    }
}

impl Locked<'_> {
    /// The index directory of this network; with `create`, missing directories
    /// are made (0700). `None` when it does not exist (and `create` is false) or
    /// cannot be used safely (e.g. a symlink): callers then scan the store.
    pub fn index_dir(&self, create: bool) -> Option<IndexDir> {
        let root = open_dir(self.data_dir(), INDEX_DIR, create)?;
        let fd = open_dir(&root, self.network(), create)?;
        Some(IndexDir { fd })
    }
}

impl IndexDir {
    /// Reads a small file; `Ok(None)` when it does not exist.
    pub(crate) fn read(&self, name: &str) -> Result<Option<Vec<u8>>, Errno> {
        let fd = match openat(
            &self.fd,
            name,
            OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC | OFlag::O_NONBLOCK,
            Mode::empty(),
        ) {
            Ok(fd) => fd,
            Err(Errno::ENOENT) => return Ok(None),
            Err(e) => return Err(e),
        };
        let file = File::from(fd);
        if !file.metadata().is_ok_and(|m| m.is_file()) {
            return Err(Errno::EINVAL);
        }
        let mut buf = Vec::new();
        file.take(MAX_LEN)
            .read_to_end(&mut buf)
            .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))?;
        Ok(Some(buf))
    }

    /// Atomically replaces `name` with `content` (mode 0600).
    pub(crate) fn write(&self, name: &str, content: &[u8]) -> Result<(), Errno> {
        let tmp = format!(
            "{TMP_PREFIX}{}-{}",
            std::process::id(),
            TMP_COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let fd = openat(
            &self.fd,
            tmp.as_str(),
            OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(0o600),
        )?;
        let mut f = File::from(fd);
        let res = f
            .write_all(content)
            .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))
            .and_then(|()| renameat(&self.fd, tmp.as_str(), &self.fd, name));
        if res.is_err() {
            let _ = self.remove(&tmp);
        }
        res
    }

    /// Unlinks `name`; a missing file is success.
    pub(crate) fn remove(&self, name: &str) -> Result<(), Errno> {
        match unlinkat(&self.fd, name, UnlinkatFlags::NoRemoveDir) {
            Ok(()) | Err(Errno::ENOENT) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// The entry of `(container_id, ifname)`.
    pub fn lookup(&self, container_id: &str, ifname: &str) -> Slot {
        match self.read(&key(container_id, ifname)) {
            Ok(None) => Slot::Missing,
            Ok(Some(c)) => match Entry::parse(&c) {
                Some(e) if e.is_for(container_id, ifname) => Slot::Mine(e.ips),
                _ => Slot::Unusable,
            },
            Err(_) => Slot::Unusable,
        }
    }

    /// Records that `(container_id, ifname)` holds `ips` (removes the entry when
    /// empty). `false` when the index could not record it: the slot belongs to
    /// another attachment or the write failed.
    pub fn record(&self, container_id: &str, ifname: &str, ips: &[IpAddr]) -> bool {
        let name = key(container_id, ifname);
        match self.read(&name) {
            Ok(None) => {}
            Ok(Some(c)) => match Entry::parse(&c) {
                Some(e) if !e.is_for(container_id, ifname) && !e.ips.is_empty() => return false,
                _ => {}
            },
            Err(_) => return false,
        }
        if ips.is_empty() {
            return self.remove(&name).is_ok();
        }
        let entry = Entry {
            container_id: container_id.trim().to_string(),
            ifname: ifname.to_string(),
            ips: ips.to_vec(),
        };
        self.write(&name, entry.encode().as_bytes()).is_ok()
    }

    /// Removes the entry of `(container_id, ifname)` unless the slot belongs
    /// to another attachment. `false` when something could not be removed.
    pub fn forget(&self, container_id: &str, ifname: &str) -> bool {
        match self.lookup(container_id, ifname) {
            Slot::Missing => true,
            Slot::Mine(_) => self.remove(&key(container_id, ifname)).is_ok(),
            Slot::Unusable => match self.read(&key(container_id, ifname)) {
                // An unparsable file is garbage; another attachment's stays.
                Ok(Some(c)) if Entry::parse(&c).is_none() => {
                    self.remove(&key(container_id, ifname)).is_ok()
                }
                _ => false,
            },
        }
    }

    /// Every regular file name of the directory.
    pub(crate) fn names(&self) -> Result<Vec<String>, Errno> {
        count_open();
        let mut d = Dir::openat(
            &self.fd,
            ".",
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )?;
        let mut out = Vec::new();
        for e in d.iter() {
            let e = e?;
            if matches!(e.file_type(), Some(Type::Directory)) {
                continue;
            }
            if let Ok(n) = e.file_name().to_str() {
                if n != "." && n != ".." {
                    out.push(n.to_string());
                }
            }
        }
        Ok(out)
    }

    /// Whether `name` is a leftover temp file (safe to remove under the lock).
    pub(crate) fn is_temp(name: &str) -> bool {
        name.starts_with(TMP_PREFIX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_round_trip_and_rejects() {
        let e = Entry {
            container_id: "abc def".into(),
            ifname: "eth0".into(),
            ips: vec!["10.0.0.2".parse().unwrap(), "fd00::2".parse().unwrap()],
        };
        let enc = e.encode();
        assert_eq!(Entry::parse(enc.as_bytes()), Some(e.clone()));
        assert!(e.is_for(" abc def ", "eth0"));
        assert!(!e.is_for("abc def", "eth1"));
        assert_eq!(Entry::parse(b"cnm-index 1\nowner 61 6\n"), None);
        assert_eq!(Entry::parse(b"cnm-index 2\nowner 61 62\n"), None);
        assert_eq!(Entry::parse(b"cnm-index 1\nowner 61 62\nnot-an-ip\n"), None);
        assert_eq!(Entry::parse(b"cnm-index 1\nowner 61 62 63\n"), None);
    }

    #[test]
    fn keys() {
        assert_eq!(key("a", "eth0"), key(" a ", "eth0"));
        assert_ne!(key("a", "eth0"), key("a", "eth1"));
        assert_ne!(key("ab", "c"), key("a", "bc"));
        assert!(is_key(&key("a", "eth0")));
        assert!(!is_key("state"));
        // FNV-1a 64 of the empty string is the offset basis; of "\0": known value.
        assert_eq!(key("", ""), "af63bd4c8601b7df");
    }
}
