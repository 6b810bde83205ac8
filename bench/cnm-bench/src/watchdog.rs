//! Bounds every child: one background thread SIGKILLs any registered child that
//! outlives its deadline, so a hung plugin cannot hang the benchmark.

use std::sync::{Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

/// How long one invocation may take before it is killed.
pub const CHILD_TIMEOUT: Duration = Duration::from_secs(60);

static WATCHED: Mutex<Vec<(libc::pid_t, Instant)>> = Mutex::new(Vec::new());
static STARTED: OnceLock<()> = OnceLock::new();

/// Watch `pid` until [`unwatch`]; starts the watchdog thread on first use.
pub fn watch(pid: libc::pid_t) {
    STARTED.get_or_init(|| {
        // If the thread cannot start, children are merely unbounded.
        let _ = thread::Builder::new()
            .name("watchdog".to_owned())
            .spawn(patrol);
    });
    if let Ok(mut w) = WATCHED.lock() {
        w.push((pid, Instant::now() + CHILD_TIMEOUT));
    }
}

/// Stop watching `pid` (call before reaping it).
pub fn unwatch(pid: libc::pid_t) {
    if let Ok(mut w) = WATCHED.lock() {
        w.retain(|&(p, _)| p != pid);
    }
}

fn patrol() {
    loop {
        thread::sleep(Duration::from_millis(200));
        let now = Instant::now();
        if let Ok(mut w) = WATCHED.lock() {
            w.retain(|&(pid, deadline)| {
                if now < deadline {
                    return true;
                }
                eprintln!("cnm-bench: child {pid} exceeded {CHILD_TIMEOUT:?}, killing it");
                // SAFETY: plain kill(2) on a pid we spawned and have not reaped yet
                // (it is removed from this list before it is reaped).
                unsafe { libc::kill(pid, libc::SIGKILL) };
                false
            });
        }
    }
}
