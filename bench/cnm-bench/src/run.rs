//! Spawning one child (plugin or `ip`), feeding stdin, collecting stdout and
//! reaping it with wait4(2) for its rusage. Timing covers spawn to reap.
//!
//! The child inherits the network namespace of the calling (main) thread, so
//! the harness enters the throwaway host namespace before calling these.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::watchdog;

/// What to run.
pub struct Spec<'a> {
    pub program: &'a Path,
    pub args: &'a [&'a str],
    pub env: &'a [(String, String)],
    pub stdin: &'a [u8],
}

/// A started child.
pub struct Running {
    what: PathBuf,
    child: Child,
    pub start: Instant,
}

/// How one child ended.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub wall: Duration,
    pub end: Instant,
    /// Exit code, or -signal when killed by a signal.
    pub code: i32,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// ru_maxrss of the child's whole tree (KiB), from wait4.
    pub maxrss_kb: u64,
    /// CPU time (user + system) of the child's whole tree, from wait4: less
    /// sensitive than wall time to other load on the machine.
    pub cpu: Duration,
}

impl Outcome {
    pub fn ok(&self) -> bool {
        self.code == 0
    }

    /// "exit N: stdout / stderr", for error messages.
    pub fn describe(&self) -> String {
        format!(
            "exit {}: {} {}",
            self.code,
            String::from_utf8_lossy(&self.stdout).trim(),
            String::from_utf8_lossy(&self.stderr).trim()
        )
    }
}

/// Spawn the child and hand it its stdin (closed afterwards).
pub fn start(spec: &Spec) -> Result<Running, String> {
    let mut cmd = Command::new(spec.program);
    cmd.args(spec.args)
        .env_clear()
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("spawning {}: {e}", spec.program.display()))?;
    watchdog::watch(child.id() as libc::pid_t);
    if let Some(mut stdin) = child.stdin.take() {
        // The plugin may exit without reading (e.g. on a bad environment); a
        // broken pipe then shows up as its exit status instead.
        let _ = stdin.write_all(spec.stdin);
    }
    Ok(Running {
        what: spec.program.to_owned(),
        child,
        start,
    })
}

/// Read the child's output to EOF, reap it with wait4 and stop the clock.
pub fn finish(mut r: Running) -> Result<Outcome, String> {
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    if let Some(mut out) = r.child.stdout.take() {
        out.read_to_end(&mut stdout)
            .map_err(|e| format!("reading stdout of {}: {e}", r.what.display()))?;
    }
    if let Some(mut err) = r.child.stderr.take() {
        err.read_to_end(&mut stderr)
            .map_err(|e| format!("reading stderr of {}: {e}", r.what.display()))?;
    }
    let pid = r.child.id() as libc::pid_t;
    watchdog::unwatch(pid);
    let mut status: libc::c_int = 0;
    // SAFETY: rusage is plain old data, zero is a valid value; wait4 writes it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: pid is our unreaped child (std's Child never waited on it);
        // status and usage point to live locals.
        let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if rc == pid {
            break;
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            return Err(format!("wait4 of {} (pid {pid}): {err}", r.what.display()));
        }
    }
    let end = Instant::now();
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else if libc::WIFSIGNALED(status) {
        -libc::WTERMSIG(status)
    } else {
        -1000
    };
    Ok(Outcome {
        wall: end - r.start,
        end,
        code,
        stdout,
        stderr,
        maxrss_kb: u64::try_from(usage.ru_maxrss).unwrap_or(0),
        cpu: tv(usage.ru_utime) + tv(usage.ru_stime),
    })
}

fn tv(t: libc::timeval) -> Duration {
    Duration::from_secs(u64::try_from(t.tv_sec).unwrap_or(0))
        + Duration::from_micros(u64::try_from(t.tv_usec).unwrap_or(0))
}

/// Start and finish one child.
pub fn run(spec: &Spec) -> Result<Outcome, String> {
    finish(start(spec)?)
}

/// Run and require exit 0.
pub fn run_ok(spec: &Spec, what: &str) -> Result<Outcome, String> {
    let o = run(spec)?;
    if o.ok() {
        Ok(o)
    } else {
        Err(format!("{what} failed ({})", o.describe()))
    }
}
