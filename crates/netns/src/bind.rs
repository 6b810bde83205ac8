//! Creating and removing persistent network namespaces bound to a file, like
//! `ip netns add/del` (under `/run/netns`) or at an arbitrary path.

use std::io;
use std::os::unix::fs::DirBuilderExt;
use std::panic;
use std::path::{Path, PathBuf};
use std::thread;

use nix::errno::Errno;
use nix::fcntl::{open, OFlag};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{unshare, CloneFlags};
use nix::sys::stat::Mode;
use nix::sys::statfs::{statfs, NSFS_MAGIC, PROC_SUPER_MAGIC};
use nix::unistd::unlink;

use crate::{validate_name, NetnsError};

/// Directory holding named namespaces, as used by iproute2.
pub const NETNS_RUN_DIR: &str = "/run/netns";

/// Upper bound on stacked namespace mounts removed from one path.
const MAX_STACKED_MOUNTS: usize = 8;

/// `/run/netns/<name>` after validating `name`.
pub fn named_path(name: &str) -> Result<PathBuf, NetnsError> {
    validate_name(name)?;
    Ok(Path::new(NETNS_RUN_DIR).join(name))
}

/// Create a new network namespace named `name`, like `ip netns add NAME`:
/// makes sure `/run/netns` exists and is a shared mount point, then binds a fresh
/// namespace at `/run/netns/NAME` (which must not exist yet). Returns that path.
pub fn create_named(name: &str) -> Result<PathBuf, NetnsError> {
    let path = named_path(name)?;
    ensure_run_dir()?;
    create_at(&path)?;
    Ok(path)
}

/// Remove the named namespace like `ip netns del NAME`; a missing one is Ok.
pub fn remove_named(name: &str) -> Result<(), NetnsError> {
    remove_at(named_path(name)?)
}

/// Bind a fresh network namespace at `path`, which must not exist (its parent must).
///
/// An empty placeholder file is created, then a short-lived thread unshares
/// CLONE_NEWNET and bind-mounts its `/proc/thread-self/ns/net` onto it. On failure
/// the placeholder is removed again. No thread of the process changes namespace.
pub fn create_at(path: impl AsRef<Path>) -> Result<(), NetnsError> {
    let path = path.as_ref();
    let flags = OFlag::O_RDONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_CLOEXEC;
    match open(path, flags, Mode::empty()) {
        Ok(fd) => drop(fd),
        Err(Errno::EEXIST) => {
            return Err(NetnsError::AlreadyExists {
                path: path.to_owned(),
            })
        }
        Err(Errno::ENOENT) => {
            return Err(NetnsError::NotFound {
                path: path.parent().unwrap_or(path).to_owned(),
            })
        }
        Err(e) => return Err(NetnsError::errno("create", path, e)),
    }
    let bound = thread::scope(|s| {
        let handle = thread::Builder::new()
            .name("netns-create".to_owned())
            .spawn_scoped(s, || bind_new_netns(path))
            .map_err(|source| NetnsError::Spawn {
                path: path.to_owned(),
                source,
            })?;
        match handle.join() {
            Ok(r) => r,
            Err(payload) => panic::resume_unwind(payload),
        }
    });
    if bound.is_err() {
        // Best effort: the placeholder is useless without the mount, and the original
        // error is the one worth reporting.
        let _ = unlink(path);
    }
    bound
}

/// On the current (throwaway) thread: enter a new netns and bind it at `path`.
fn bind_new_netns(path: &Path) -> Result<(), NetnsError> {
    unshare(CloneFlags::CLONE_NEWNET).map_err(|e| NetnsError::Unshare {
        path: path.to_owned(),
        source: e.into(),
    })?;
    mount(
        Some(crate::THREAD_SELF_NETNS),
        path,
        Some("none"),
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .map_err(|e| NetnsError::Mount {
        what: "bind of the new network namespace",
        path: path.to_owned(),
        source: e.into(),
    })
}

/// Unbind and delete a namespace file created by [`create_at`]; a missing path is Ok.
///
/// Only a namespace bind mount or an empty placeholder file is touched: anything
/// else (a directory, a symlink, a non-empty file, another mount) is refused with
/// [`NetnsError::NotRemovable`].
pub fn remove_at(path: impl AsRef<Path>) -> Result<(), NetnsError> {
    let path = path.as_ref();
    let mut unmounted = 0;
    loop {
        let meta = match std::fs::symlink_metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(source) => {
                return Err(NetnsError::Io {
                    op: "stat",
                    path: path.to_owned(),
                    source,
                })
            }
        };
        if !meta.file_type().is_file() {
            return Err(NetnsError::NotRemovable {
                path: path.to_owned(),
                reason: "not a regular file (namespace files and placeholders are)",
            });
        }
        let magic = statfs(path)
            .map_err(|e| NetnsError::errno("statfs", path, e))?
            .filesystem_type();
        let is_ns_mount = magic == NSFS_MAGIC || magic == PROC_SUPER_MAGIC;
        if !is_ns_mount {
            if meta.len() != 0 {
                return Err(NetnsError::NotRemovable {
                    path: path.to_owned(),
                    reason: "not a namespace bind mount nor an empty placeholder",
                });
            }
            return match unlink(path) {
                Ok(()) | Err(Errno::ENOENT) => Ok(()),
                Err(e) => Err(NetnsError::errno("unlink", path, e)),
            };
        }
        if unmounted >= MAX_STACKED_MOUNTS {
            return Err(NetnsError::NotRemovable {
                path: path.to_owned(),
                reason: "still a namespace mount after repeated unmounts",
            });
        }
        match umount2(path, MntFlags::MNT_DETACH) {
            Ok(()) => unmounted += 1,
            // Gone meanwhile: the next stat reports it.
            Err(Errno::ENOENT) => {}
            Err(e) => {
                return Err(NetnsError::Umount {
                    path: path.to_owned(),
                    source: e.into(),
                })
            }
        }
    }
}

/// Like iproute2: create `/run/netns` (0755) and make it a shared mount point,
/// bind-mounting it onto itself first if it is not a mount point yet.
fn ensure_run_dir() -> Result<(), NetnsError> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(NETNS_RUN_DIR)
        .map_err(|source| NetnsError::Io {
            op: "mkdir",
            path: PathBuf::from(NETNS_RUN_DIR),
            source,
        })?;
    let mut bound_to_itself = false;
    loop {
        let shared = mount(
            None::<&str>,
            NETNS_RUN_DIR,
            Some("none"),
            MsFlags::MS_SHARED | MsFlags::MS_REC,
            None::<&str>,
        );
        match shared {
            Ok(()) => return Ok(()),
            // Not a mount point yet.
            Err(Errno::EINVAL) if !bound_to_itself => {
                mount(
                    Some(NETNS_RUN_DIR),
                    NETNS_RUN_DIR,
                    Some("none"),
                    MsFlags::MS_BIND | MsFlags::MS_REC,
                    None::<&str>,
                )
                .map_err(|e| NetnsError::Mount {
                    what: "bind of the directory onto itself",
                    path: PathBuf::from(NETNS_RUN_DIR),
                    source: e.into(),
                })?;
                bound_to_itself = true;
            }
            Err(e) => {
                return Err(NetnsError::Mount {
                    what: "make-shared",
                    path: PathBuf::from(NETNS_RUN_DIR),
                    source: e.into(),
                })
            }
        }
    }
}
