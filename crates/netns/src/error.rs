//! The error type of the netns crate: every variant names the path (or name) it concerns.

use std::io;
use std::path::PathBuf;

/// Errors returned by namespace operations.
#[derive(Debug, thiserror::Error)]
pub enum NetnsError {
    /// The namespace file (or the parent directory of a file to create) does not exist.
    #[error("network namespace {}: no such file", .path.display())]
    NotFound {
        /// The missing path.
        path: PathBuf,
    },
    /// The file is not on nsfs/procfs, so it cannot be a namespace
    /// (for example a plain file, or a stale placeholder whose bind mount is gone).
    #[error("{} is not a network namespace (filesystem magic {magic:#x})", .path.display())]
    NotNetns {
        /// The offending path.
        path: PathBuf,
        /// The `f_type` reported by fstatfs.
        magic: u64,
    },
    /// The file is a namespace, but not a network namespace (e.g. a mount namespace).
    #[error("{} is a {kind} namespace, not a network namespace", .path.display())]
    WrongNsType {
        /// The offending path.
        path: PathBuf,
        /// What kind of namespace it is (e.g. "mnt", or the raw CLONE_* value).
        kind: String,
    },
    /// The namespace is the calling process's own network namespace.
    #[error("network namespace {} is the caller's own network namespace", .path.display())]
    IsOwnNamespace {
        /// The path that designates the own namespace.
        path: PathBuf,
    },
    /// A namespace file to create already exists.
    #[error("network namespace file {} already exists", .path.display())]
    AlreadyExists {
        /// The existing path.
        path: PathBuf,
    },
    /// A named namespace's name is unusable as a file name.
    #[error("invalid network namespace name {name:?}: {reason}")]
    InvalidName {
        /// The rejected name.
        name: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// A sysctl key is not a per-network-namespace key or is malformed.
    #[error("invalid network sysctl key {key:?}: {reason}")]
    InvalidSysctlKey {
        /// The rejected key.
        key: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// A file at the path is not something this crate would remove.
    #[error("refusing to remove {}: {reason}", .path.display())]
    NotRemovable {
        /// The path left untouched.
        path: PathBuf,
        /// Why it was left untouched.
        reason: &'static str,
    },
    /// A file-system operation on the path failed.
    #[error("{op} {}: {source}", .path.display())]
    Io {
        /// The operation that failed (e.g. "open", "fstatfs", "unlink").
        op: &'static str,
        /// The path concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// setns(CLONE_NEWNET) into the namespace failed.
    #[error("setns into network namespace {}: {source}", .path.display())]
    Setns {
        /// The namespace path.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// unshare(CLONE_NEWNET) failed while creating a namespace for the path.
    #[error("unshare(CLONE_NEWNET) for {}: {source}", .path.display())]
    Unshare {
        /// The file the new namespace was meant to be bound at.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A mount operation on the path failed.
    #[error("mount {what} on {}: {source}", .path.display())]
    Mount {
        /// What was being mounted (e.g. "bind of the new netns", "make-shared").
        what: &'static str,
        /// The mount target.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// Unmounting the namespace bind mount failed.
    #[error("umount {}: {source}", .path.display())]
    Umount {
        /// The mount target.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A helper thread could not be started.
    #[error("spawn thread for network namespace {}: {source}", .path.display())]
    Spawn {
        /// The namespace path the thread was for.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
}

impl NetnsError {
    /// Build an [`NetnsError::Io`] from an errno.
    pub(crate) fn errno(op: &'static str, path: impl Into<PathBuf>, e: nix::Error) -> Self {
        NetnsError::Io {
            op,
            path: path.into(),
            source: io::Error::from(e),
        }
    }
}
