//! [`NetNs`]: an open, verified handle on a network namespace file.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::MetadataExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::verify::verify_netns;
use crate::NetnsError;

/// The calling thread's network namespace.
pub const THREAD_SELF_NETNS: &str = "/proc/thread-self/ns/net";
/// The calling process's (main thread's) network namespace.
pub const PROCESS_NETNS: &str = "/proc/self/ns/net";

/// An open network namespace (e.g. `/var/run/netns/NAME` or `/proc/PID/ns/net`).
///
/// Holding the file keeps the namespace alive even if its bind mount is removed.
#[derive(Debug)]
pub struct NetNs {
    file: File,
    path: PathBuf,
    dev: u64,
    ino: u64,
}

impl NetNs {
    /// Open `path` read-only (close-on-exec) and verify that it is a network namespace:
    /// the file must live on nsfs (or procfs on old kernels) and be of type CLONE_NEWNET.
    ///
    /// Errors: [`NetnsError::NotFound`] when it does not exist, [`NetnsError::NotNetns`]
    /// for a plain file or a placeholder whose bind mount is gone,
    /// [`NetnsError::WrongNsType`] for another kind of namespace.
    pub fn open(path: impl AsRef<Path>) -> Result<NetNs, NetnsError> {
        let path = path.as_ref();
        // std adds O_CLOEXEC. O_NONBLOCK and O_NOCTTY: a FIFO or a terminal
        // given as CNI_NETNS must not block or become our controlling tty;
        // it is then refused by the nsfs check below.
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
            .open(path)
            .map_err(|source| {
                if source.kind() == io::ErrorKind::NotFound {
                    NetnsError::NotFound {
                        path: path.to_owned(),
                    }
                } else {
                    NetnsError::Io {
                        op: "open",
                        path: path.to_owned(),
                        source,
                    }
                }
            })?;
        verify_netns(&file, path)?;
        let meta = file.metadata().map_err(|source| NetnsError::Io {
            op: "fstat",
            path: path.to_owned(),
            source,
        })?;
        Ok(NetNs {
            file,
            path: path.to_owned(),
            dev: meta.dev(),
            ino: meta.ino(),
        })
    }

    /// The calling thread's current network namespace (`/proc/thread-self/ns/net`).
    pub fn current() -> Result<NetNs, NetnsError> {
        NetNs::open(THREAD_SELF_NETNS)
    }

    /// Whether both handles designate the same namespace (same st_dev and st_ino).
    pub fn is_same(&self, other: &NetNs) -> bool {
        self.dev == other.dev && self.ino == other.ino
    }

    /// The namespace file descriptor (for setns, or netlink IFLA_NET_NS_FD).
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }

    /// The path the namespace was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The namespace inode number (the N in `net:[N]`).
    pub fn inode(&self) -> u64 {
        self.ino
    }

    /// Refuse the calling process's own network namespace (compared with
    /// `/proc/self/ns/net`): [`NetnsError::IsOwnNamespace`] unless `override_`
    /// (e.g. CNI_NETNS_OVERRIDE) is set.
    pub fn check_not_own(&self, override_: bool) -> Result<(), NetnsError> {
        if override_ {
            return Ok(());
        }
        let own = NetNs::open(PROCESS_NETNS)?;
        if self.is_same(&own) {
            return Err(NetnsError::IsOwnNamespace {
                path: self.path.clone(),
            });
        }
        Ok(())
    }
}

impl AsFd for NetNs {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn current_and_process_namespace_are_the_same_for_a_test_thread() {
        let cur = NetNs::current().unwrap();
        let own = NetNs::open(PROCESS_NETNS).unwrap();
        assert!(cur.is_same(&own));
        assert_eq!(cur.path(), Path::new(THREAD_SELF_NETNS));
        let link = std::fs::read_link(PROCESS_NETNS).unwrap();
        assert_eq!(link.to_string_lossy(), format!("net:[{}]", own.inode()));
    }

    #[test]
    fn own_namespace_refused_unless_overridden() {
        let own = NetNs::open(PROCESS_NETNS).unwrap();
        match own.check_not_own(false) {
            Err(NetnsError::IsOwnNamespace { path }) => {
                assert_eq!(path, Path::new(PROCESS_NETNS))
            }
            other => panic!("expected IsOwnNamespace, got {other:?}"),
        }
        own.check_not_own(true).unwrap();
    }

    #[test]
    fn missing_path_is_not_found() {
        let p = "/proc/self/ns/definitely-missing-netns";
        match NetNs::open(p) {
            Err(e @ NetnsError::NotFound { .. }) => {
                assert!(e.to_string().contains(p), "{e}")
            }
            other => panic!("expected NotFound, got {other:?}"),
        }
    }

    #[test]
    fn plain_file_is_not_netns() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("plain");
        std::fs::write(&p, b"").unwrap();
        let r = NetNs::open(&p);
        match r {
            Err(e @ NetnsError::NotNetns { .. }) => {
                let msg = e.to_string();
                assert!(msg.contains(&*p.to_string_lossy()), "{msg}");
                assert!(msg.contains("magic 0x"), "{msg}");
            }
            other => panic!("expected NotNetns, got {other:?}"),
        }
    }
}
