//! Bounded wait for the store's `flock` (the same lock `go-filemutex` takes in the reference).

use std::fs::{File, TryLockError};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::error::IpamError;

/// Default bound on the wait for the store lock.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(30);

/// Environment variable overriding the bound, in milliseconds (read by the
/// plugins' `main()`, used by tests).
pub const LOCK_TIMEOUT_ENV: &str = "CNM_IPAM_LOCK_TIMEOUT_MS";

/// The bound a `CNM_IPAM_LOCK_TIMEOUT_MS` value gives: its milliseconds
/// when it is a number, else 30 s.
pub fn lock_timeout_from(value: Option<&str>) -> Duration {
    value
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_millis)
        .unwrap_or(DEFAULT_LOCK_TIMEOUT)
}

/// Takes an exclusive `flock` on `file`, polling with exponential backoff
/// (0.5 ms doubling up to 20 ms) until `timeout` has passed.
pub fn lock_exclusive(file: &File, path: &Path, timeout: Duration) -> Result<(), IpamError> {
    let started = Instant::now();
    let mut pause = Duration::from_micros(500);
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(()),
            Err(TryLockError::Error(e)) => return Err(IpamError::io("locking", path, e)),
            Err(TryLockError::WouldBlock) => {}
        }
        let waited = started.elapsed();
        if waited >= timeout {
            return Err(IpamError::LockTimeout {
                path: path.to_path_buf(),
                waited_ms: waited.as_millis(),
            });
        }
        std::thread::sleep(pause.min(timeout - waited));
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}
