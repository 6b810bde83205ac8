//! [`NetNs::run_in`]: run a closure on a short-lived thread inside a network namespace.
//!
//! What a thread that has entered a namespace with setns(CLONE_NEWNET) sees:
//! * sockets it creates (netlink, inet) belong to the target namespace, and keep
//!   belonging to it when handed to other threads;
//! * `/proc/sys/net/...` follows the netns of the task that *opens* the file, per
//!   thread: opening and writing `/proc/sys/net/ipv6/conf/<if>/...` inside `run_in`
//!   changes the target namespace (tested in `tests/root.rs`). A file opened before
//!   entering keeps pointing at the namespace it was opened in;
//! * `/proc/thread-self/net/*` is the target namespace, but `/proc/net` and
//!   `/proc/self/net` follow the process's main thread, i.e. the *old* namespace;
//! * `/sys/class/net` is the namespace of whoever mounted sysfs, not the thread's:
//!   do not use sysfs inside `run_in` (use netlink or `/proc/sys/net`).

use std::panic;
use std::thread;

use nix::sched::{setns, CloneFlags};

use crate::{NetNs, NetnsError};

impl NetNs {
    /// Run `f` inside this network namespace and return its value.
    ///
    /// `f` runs on a fresh scoped thread that first calls setns(CLONE_NEWNET); the
    /// thread ends when `f` returns, so no thread of the process is ever left in the
    /// wrong namespace and the calling thread is untouched. A panic in `f` is
    /// propagated to the caller.
    pub fn run_in<T: Send, F: FnOnce() -> T + Send>(&self, f: F) -> Result<T, NetnsError> {
        let joined = thread::scope(|s| {
            let handle = thread::Builder::new()
                .name("netns-run-in".to_owned())
                .spawn_scoped(s, || -> Result<T, NetnsError> {
                    setns(self.fd(), CloneFlags::CLONE_NEWNET).map_err(|e| NetnsError::Setns {
                        path: self.path().to_owned(),
                        source: e.into(),
                    })?;
                    Ok(f())
                })
                .map_err(|source| NetnsError::Spawn {
                    path: self.path().to_owned(),
                    source,
                })?;
            Ok::<_, NetnsError>(handle.join())
        })?;
        match joined {
            Ok(result) => result,
            Err(payload) => panic::resume_unwind(payload),
        }
    }
}
