//! The key of a network namespace's state directory: `<inode>-<cookie>`.
//!
//! The inode of `/proc/thread-self/ns/net` is reused by the kernel once a namespace dies, so it
//! alone would let a new namespace inherit a dead one's state. The namespace cookie
//! (`SO_NETNS_COOKIE` on a socket created in the namespace, Linux >= 5.14) is a 64-bit counter
//! value never reused while the machine runs, and the state lives on tmpfs (`/run`), so
//! `<inode>-<cookie>` names one namespace for the machine's whole uptime. The inode in front
//! lets a namespace prove a directory dead cheaply: a directory `<my inode>-<other cookie>`
//! belongs to a namespace that held my inode before me, so it is gone (two live namespaces never
//! share an inode); such directories are removed when the namespace's own directory is created.
//! Without the cookie (older kernels) there is no key and the firewall keeps no state at all.

use std::fs;
use std::io::{self, ErrorKind};
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use netlink_sys::{protocols::NETLINK_ROUTE, Socket};

use crate::error::NftError;

const NETNS_LINK: &str = "/proc/thread-self/ns/net";
/// `SO_NETNS_COOKIE` (asm-generic and x86; Linux 5.14).
const SO_NETNS_COOKIE: libc::c_int = 71;
/// At most this many directory entries are looked at when cleaning up (bounded work).
const MAX_SCAN: usize = 4096;

/// Identity of the calling thread's network namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NetnsKey {
    /// Inode of the namespace (reusable after the namespace dies).
    pub ino: u64,
    /// Namespace cookie (never reused while the machine runs).
    pub cookie: u64,
}

impl NetnsKey {
    /// The key of the calling thread's network namespace; an error when the kernel has no
    /// namespace cookie (then no state must be kept).
    pub fn current() -> io::Result<NetnsKey> {
        let ino = fs::metadata(NETNS_LINK)?.ino();
        // Sockets belong to the namespace of the thread that creates them. NETLINK_ROUTE and
        // never bound: closing it cannot make nf_tables flush its destroy work (an RCU wait).
        let socket = Socket::new(NETLINK_ROUTE)?;
        let cookie = netns_cookie(&socket)?;
        Ok(NetnsKey { ino, cookie })
    }

    /// Directory name: `<inode>-<cookie>`.
    pub fn dir_name(&self) -> String {
        format!("{}-{}", self.ino, self.cookie)
    }
}

fn netns_cookie(socket: &Socket) -> io::Result<u64> {
    let mut cookie: u64 = 0;
    let mut len = std::mem::size_of::<u64>() as libc::socklen_t;
    // SAFETY: getsockopt(2) on a socket we own, writing at most `len` bytes into `cookie`,
    // which is a live u64 of exactly that size; `len` is a valid socklen_t.
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

/// Directories under `base` that belonged to namespaces which held inode `key.ino` before
/// (`<ino>-<other cookie>`), and the pre-cookie layout's `<ino>`: all provably stale.
pub fn stale_dirs(base: &Path, key: &NetnsKey) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(base) else {
        return Vec::new();
    };
    let ino = key.ino.to_string();
    let mine = key.dir_name();
    entries
        .take(MAX_SCAN)
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let stale = name == ino
                || name
                    .strip_prefix(&ino)
                    .and_then(|rest| rest.strip_prefix('-'))
                    .is_some_and(|c| !c.is_empty() && c.bytes().all(|b| b.is_ascii_digit()));
            (stale && name != mine).then(|| e.path())
        })
        .collect()
}

/// Remove the stale directories of `key`'s inode under `base` (best effort: a failure leaves
/// a directory nobody will ever read again).
pub fn remove_stale(base: &Path, key: &NetnsKey) {
    for dir in stale_dirs(base, key) {
        let _ = fs::remove_dir_all(dir);
    }
}

/// `<base>/<inode>-<cookie>` of the calling thread's namespace.
pub fn netns_dir(base: &Path) -> Result<(PathBuf, NetnsKey), NftError> {
    let key = NetnsKey::current().map_err(|source| NftError::State {
        path: PathBuf::from(NETNS_LINK),
        source,
    })?;
    Ok((base.join(key.dir_name()), key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_names_inode_and_cookie() {
        let k = match NetnsKey::current() {
            Err(e) if e.raw_os_error() == Some(libc::ENOPROTOOPT) => {
                eprintln!("skipped: the kernel has no SO_NETNS_COOKIE (Linux < 5.14)");
                return;
            }
            other => other.unwrap(),
        };
        let ino = fs::metadata(NETNS_LINK).unwrap().ino();
        assert_eq!(k.ino, ino);
        assert_ne!(k.cookie, 0);
        assert_eq!(k.dir_name(), format!("{ino}-{}", k.cookie));
        // Same thread, same namespace: same cookie.
        assert_eq!(NetnsKey::current().unwrap(), k);
    }

    #[test]
    fn stale_dirs_are_same_inode_other_cookie() {
        let tmp = tempfile::tempdir().unwrap();
        let base = tmp.path();
        let key = NetnsKey { ino: 42, cookie: 7 };
        for d in ["42-7", "42-8", "42", "420-8", "43-7", "42-x", "42-"] {
            fs::create_dir_all(base.join(d)).unwrap();
        }
        let mut got: Vec<String> = stale_dirs(base, &key)
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        got.sort();
        assert_eq!(got, ["42", "42-8"]);
        remove_stale(base, &key);
        assert!(base.join("42-7").is_dir() && base.join("420-8").is_dir());
        assert!(!base.join("42-8").exists() && !base.join("42").exists());
    }
}
