//! Starting and stopping the resolver process.
//!
//! The store starts `cnm-resolver --store <root>` when the first network
//! needs it (always under the store's lock, so two starts never race). The
//! resolver loads the store, binds every listen address, writes its pid file
//! and control socket, and only then prints `ready` (or `error <message>`)
//! on its stdout, which the launcher reads with a deadline; then it detaches
//! (new session, stdout to /dev/null, stderr to `resolver.log`). A thread
//! reaps it if it ever exits while the starting process still runs (a
//! long-lived front-end); a one-shot plugin's child is reparented and reaped
//! by init. The resolver inherits no descriptor beyond stdin, stdout and
//! stderr: whatever the runtime left open in the plugin (a lock file held
//! with `flock(1)`, a pipe) would otherwise stay open, and locked, for as
//! long as the resolver runs.

use std::fs::{self, OpenOptions};
use std::io::{self, BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::error::RecordsError;
use crate::layout::{self, Layout};

/// The resolver's file name.
pub const RESOLVER_BINARY: &str = "cnm-resolver";
/// How long a start may take (load, bind, ready line).
pub const START_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest log kept from a previous run when a resolver starts.
pub const MAX_LOG_LEN: u64 = 1024 * 1024;

/// How to start the resolver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launcher {
    /// The `cnm-resolver` executable.
    pub program: PathBuf,
    /// Extra arguments (e.g. `--resolv-conf PATH`).
    pub args: Vec<String>,
}

impl Launcher {
    /// A launcher for `program`.
    pub fn new(program: impl Into<PathBuf>) -> Self {
        Launcher {
            program: program.into(),
            args: Vec::new(),
        }
    }

    /// The first `cnm-resolver` found in `dirs` (e.g. the running binary's
    /// directory, then CNI_PATH, then PATH).
    pub fn find(dirs: &[PathBuf]) -> Option<Launcher> {
        dirs.iter()
            .map(|d| d.join(RESOLVER_BINARY))
            .find(|p| p.is_file())
            .map(Launcher::new)
    }

    /// Starts the resolver for the store at `layout` and waits until it is
    /// ready (listening and answering its control socket).
    pub fn start(&self, layout: &Layout) -> Result<u32, RecordsError> {
        trim_log(&layout.log_file());
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(layout.log_file())
            .map_err(|e| RecordsError::io("open", layout.log_file(), e))?;
        let mut cmd = Command::new(&self.program);
        cmd.arg("--store")
            .arg(&layout.root)
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log);
        // SAFETY: the closure runs in the forked child between fork and
        // exec and makes only async-signal-safe system calls (close_range,
        // fcntl) on descriptor numbers; it allocates nothing and touches no
        // state of the parent.
        unsafe {
            cmd.pre_exec(inherit_only_stdio);
        }
        let mut child = cmd.spawn().map_err(|e| {
            RecordsError::Resolver(format!("cannot start {}: {e}", self.program.display()))
        })?;
        let pid = child.id();
        let stdout = child.stdout.take();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            if let Some(out) = stdout {
                let _ = BufReader::new(out.take(4096)).read_line(&mut line);
            }
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(START_TIMEOUT).ok();
        // Reap the child whenever it exits, without blocking this call.
        std::thread::spawn(move || {
            let _ = child.wait();
        });
        match line.as_deref().map(str::trim_end) {
            Some("ready") => Ok(pid),
            Some(l) if l.starts_with("error ") => Err(RecordsError::Resolver(format!(
                "{} did not start: {}",
                self.program.display(),
                &l["error ".len()..]
            ))),
            other => {
                kill_pid(pid);
                Err(RecordsError::Resolver(format!(
                    "{} did not report ready within {} s ({}); see {}",
                    self.program.display(),
                    START_TIMEOUT.as_secs(),
                    match other {
                        None => "no answer".to_string(),
                        Some("") => "it exited".to_string(),
                        Some(l) => format!("it said {l:?}"),
                    },
                    layout.log_file().display()
                )))
            }
        }
    }
}

/// Marks every descriptor above stderr close-on-exec (in the child, before
/// exec): `close_range(3, ~0, CLOSE_RANGE_CLOEXEC)` (Linux 5.11), else
/// `fcntl(FD_CLOEXEC)` on 3..1024. Marking rather than closing keeps the
/// standard library's own exec-error pipe working.
fn inherit_only_stdio() -> io::Result<()> {
    // SAFETY: close_range(2) takes plain integers and changes only
    // descriptor flags of this (child) process.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3 as libc::c_uint,
            libc::c_uint::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    if rc != 0 {
        for fd in 3..1024 {
            // SAFETY: fcntl(2) on a descriptor number; EBADF for one that is
            // not open is ignored.
            unsafe {
                libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
            }
        }
    }
    Ok(())
}

/// A log larger than [`MAX_LOG_LEN`] is emptied before a start (no log rotation
/// daemon for /run).
fn trim_log(path: &Path) {
    if fs::metadata(path).is_ok_and(|m| m.len() > MAX_LOG_LEN) {
        let _ = fs::write(path, b"");
    }
}

/// The pid file: which process is the resolver (the start time tells a
/// recycled pid apart).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PidFile {
    /// The resolver's pid.
    pub pid: u32,
    /// Its start time (field 22 of /proc/<pid>/stat, clock ticks since boot).
    pub start_time: u64,
}

impl PidFile {
    /// The pid file of the calling process.
    pub fn current() -> Option<PidFile> {
        let pid = std::process::id();
        start_time(pid).map(|start_time| PidFile { pid, start_time })
    }

    /// True when the process is alive (not a zombie) and is the same one.
    pub fn is_alive(&self) -> bool {
        start_time(self.pid) == Some(self.start_time) && !is_zombie(self.pid)
    }
}

/// Field 22 (starttime) of /proc/<pid>/stat.
pub fn start_time(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces: count after its ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

fn is_zombie(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            let rest = &s[s.rfind(')')? + 1..];
            rest.split_whitespace()
                .next()
                .map(|st| st == "Z" || st == "X")
        })
        .unwrap_or(true)
}

fn kill_pid(pid: u32) {
    if let Ok(p) = i32::try_from(pid) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(p),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}

/// Reads the pid file of the store.
pub fn read_pid_file(layout: &Layout) -> Option<PidFile> {
    layout::read_json::<PidFile>(&layout.pid_file())
        .ok()
        .flatten()
}

/// Waits until the process of `pid_file` is gone (at most `timeout`), then
/// kills it if it is still there; true when it was gone by itself.
pub fn wait_gone_or_kill(pid_file: &PidFile, timeout: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if !pid_file.is_alive() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    if pid_file.is_alive() {
        kill_pid(pid_file.pid);
        let start = Instant::now();
        while pid_file.is_alive() && start.elapsed() < Duration::from_secs(2) {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    false
}

/// Kills the resolver named by the pid file (verified by its start time).
pub fn kill(pid_file: &PidFile) {
    if pid_file.is_alive() {
        kill_pid(pid_file.pid);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_pid_file_is_alive_and_a_recycled_pid_is_not() {
        let me = PidFile::current().unwrap();
        assert!(me.is_alive());
        let other = PidFile {
            start_time: me.start_time + 1,
            ..me
        };
        assert!(!other.is_alive());
        assert!(!PidFile {
            pid: u32::MAX - 1,
            start_time: 1
        }
        .is_alive());
    }

    #[test]
    fn the_resolver_inherits_no_descriptor_of_its_starter() {
        let d = tempfile::tempdir().unwrap();
        let layout = Layout::new(d.path());
        // A descriptor without close-on-exec, as flock(1) leaves its lock.
        let held = std::fs::File::open(d.path()).unwrap();
        use std::os::fd::AsRawFd;
        // SAFETY: dup(2) of a descriptor this test owns; the copy is closed below.
        let fd = unsafe { libc::dup(held.as_raw_fd()) };
        assert!(fd > 2);
        let script = d.path().join("fake-resolver");
        fs::write(
            &script,
            format!(
                "#!/bin/sh\nif [ -e /proc/$$/fd/{fd} ]; then echo 'error fd {fd} inherited'; else echo ready; fi\n"
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
        let started = Launcher::new(&script).start(&layout);
        // SAFETY: closing the copy made above.
        unsafe {
            libc::close(fd);
        }
        started.unwrap();
    }

    #[test]
    fn a_program_that_does_not_report_ready_is_an_error() {
        let d = tempfile::tempdir().unwrap();
        let layout = Layout::new(d.path());
        let script = d.path().join("fake-resolver");
        fs::write(
            &script,
            "#!/bin/sh\necho 'error bind 10.0.0.1:53: Address in use'\n",
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
        let e = Launcher::new(&script).start(&layout).unwrap_err();
        assert!(e.to_string().contains("Address in use"), "{e}");
        fs::write(&script, "#!/bin/sh\nexit 3\n").unwrap();
        let e = Launcher::new(&script).start(&layout).unwrap_err();
        assert!(e.to_string().contains("it exited"), "{e}");
        let e = Launcher::new(d.path().join("missing"))
            .start(&layout)
            .unwrap_err();
        assert!(e.to_string().contains("cannot start"), "{e}");
    }
}
