//! `openat(2)` for the whole crate, with a process-wide count of the calls so
//! tests and benches can show how many files an operation opens (the index
//! makes ADD, DEL and CHECK independent of the number of reservations).

use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use nix::NixPath;

static OPEN_CALLS: AtomicU64 = AtomicU64::new(0);

/// How many `openat` calls this crate has made in this process (successful or not).
#[cfg_attr(not(feature = "internals"), allow(dead_code))]
pub fn open_calls() -> u64 {
    OPEN_CALLS.load(Ordering::Relaxed)
}

/// `openat(2)` relative to `dir`, counted in [`open_calls`].
pub(crate) fn openat<P: ?Sized + NixPath>(
    dir: impl AsFd,
    path: &P,
    flags: OFlag,
    mode: Mode,
) -> Result<OwnedFd, Errno> {
    OPEN_CALLS.fetch_add(1, Ordering::Relaxed);
    nix::fcntl::openat(dir, path, flags, mode)
}

/// Counts an open made through another API (absolute `open`, `Dir::openat`).
pub(crate) fn count_open() {
    OPEN_CALLS.fetch_add(1, Ordering::Relaxed);
}
