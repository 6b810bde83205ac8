//! The workspace's one way to run a child process and wait for it with a bound: the nft batches
//! (`cnm-nft`), the reference plugins' iptables tools (`cnm-refcompat`), delegated CNI plugins
//! (`cni-protocol`) and the conformance harness all go through [`run`].
//!
//! What it does, in order: spawn the prepared [`Command`] (retrying a spawn that fails with
//! `ETXTBSY`, "text file busy", when asked to, as libcni does for a plugin binary being
//! replaced), feed the whole standard input from a separate thread (so a child that never reads
//! cannot stall the deadline, and a large input never deadlocks against a full output pipe),
//! collect standard output (and standard error when captured), and wait for the exit, killing
//! the child once the time limit has passed. The wait and the kill are `process_control`'s: it
//! waits with `waitid(WNOWAIT)` on a thread, so the child is never reaped before the kill and
//! its pid can never be another process's by then.

#![forbid(unsafe_code)]

use std::io::{self, ErrorKind, Write};
use std::process::{Command, ExitStatus, Stdio};
use std::thread;
use std::time::Duration;

use process_control::{ChildExt, Control};

/// What happens to the child's standard error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stderr {
    /// Collected into [`Finished::stderr`].
    Capture,
    /// Written straight to ours (a delegated CNI plugin's logs, as libcni does).
    Inherit,
}

/// How to run one child.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exec {
    /// Kill the child after this long; `None` waits as long as it runs.
    pub timeout: Option<Duration>,
    /// Standard error captured or inherited.
    pub stderr: Stderr,
    /// How often a spawn failing with `ETXTBSY` is retried.
    pub busy_retries: u32,
    /// The wait before each such retry.
    pub busy_delay: Duration,
}

impl Exec {
    /// Bounded by `timeout`, standard error captured, no spawn retry.
    pub fn bounded(timeout: Duration) -> Exec {
        Exec {
            timeout: Some(timeout),
            stderr: Stderr::Capture,
            busy_retries: 0,
            busy_delay: Duration::ZERO,
        }
    }

    /// No time limit, standard error captured, no spawn retry.
    pub fn unbounded() -> Exec {
        Exec {
            timeout: None,
            ..Exec::bounded(Duration::ZERO)
        }
    }

    /// Standard error inherited instead of captured.
    pub fn inherit_stderr(mut self) -> Exec {
        self.stderr = Stderr::Inherit;
        self
    }

    /// Retry a spawn failing with `ETXTBSY` up to `retries` times, `delay` apart.
    pub fn retry_busy(mut self, retries: u32, delay: Duration) -> Exec {
        self.busy_retries = retries;
        self.busy_delay = delay;
        self
    }
}

/// What a child that exited produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    /// Its exit status (`std::os::unix::process::ExitStatusExt::signal` tells a signal).
    pub status: ExitStatus,
    /// Everything it wrote to standard output.
    pub stdout: Vec<u8>,
    /// Everything it wrote to standard error (empty when inherited).
    pub stderr: Vec<u8>,
}

impl Finished {
    /// Standard output as text (invalid UTF-8 replaced).
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// Standard error as text, trimmed (invalid UTF-8 replaced).
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).trim().to_string()
    }
}

/// Why no [`Finished`] came back. Each names the program.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// The program could not be started.
    #[error("cannot start {program}: {source}")]
    Spawn {
        /// The program as given to the command.
        program: String,
        /// The OS error.
        source: io::Error,
    },
    /// It ran past the limit and was killed.
    #[error("{program} did not finish within {limit:?} and was killed")]
    Timeout {
        /// The program.
        program: String,
        /// The limit.
        limit: Duration,
    },
    /// Waiting for it or reading its output failed.
    #[error("waiting for {program}: {source}")]
    Wait {
        /// The program.
        program: String,
        /// The OS error.
        source: io::Error,
    },
    /// Its standard input could not be written (other than it exiting without reading it).
    #[error("writing the standard input of {program}: {source}")]
    Stdin {
        /// The program.
        program: String,
        /// The OS error.
        source: io::Error,
    },
}

/// Run `cmd` (its arguments, environment and working directory as prepared by the caller; its
/// standard streams are set here) with `stdin` as its whole input.
pub fn run(cmd: &mut Command, stdin: &[u8], how: &Exec) -> Result<Finished, ExecError> {
    let program = cmd.get_program().to_string_lossy().into_owned();
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped());
    match how.stderr {
        Stderr::Capture => cmd.stderr(Stdio::piped()),
        Stderr::Inherit => cmd.stderr(Stdio::inherit()),
    };
    let mut attempt = 0;
    let mut child = loop {
        match cmd.spawn() {
            Ok(c) => break c,
            Err(e) if e.kind() == ErrorKind::ExecutableFileBusy && attempt < how.busy_retries => {
                attempt += 1;
                thread::sleep(how.busy_delay);
            }
            Err(source) => return Err(ExecError::Spawn { program, source }),
        }
    };
    // Fed from its own thread: it ends when everything is written or the pipe closes (the
    // child exited or was killed). A child exiting without reading (EPIPE) is not an error.
    let writer = child.stdin.take().map(|mut pipe| {
        let data = stdin.to_vec();
        thread::spawn(move || match pipe.write_all(&data) {
            Err(e) if e.kind() != ErrorKind::BrokenPipe => Err(e),
            _ => Ok(()),
        })
    });
    let control = child.controlled_with_output();
    let waited = match how.timeout {
        Some(limit) => control.time_limit(limit).terminate_for_timeout().wait(),
        None => control.wait(),
    };
    let written = writer.map(|w| w.join());
    let output = match waited {
        Ok(Some(output)) => output,
        Ok(None) => {
            return Err(ExecError::Timeout {
                program,
                limit: how.timeout.unwrap_or_default(),
            })
        }
        Err(source) => return Err(ExecError::Wait { program, source }),
    };
    match written {
        Some(Ok(Err(source))) => return Err(ExecError::Stdin { program, source }),
        Some(Err(_)) => {
            return Err(ExecError::Stdin {
                program,
                source: io::Error::other("the writer thread panicked"),
            })
        }
        _ => {}
    }
    Ok(Finished {
        status: output.status.into_std_lossy(),
        stdout: output.stdout,
        stderr: output.stderr,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;
    use std::time::Instant;

    fn sh(script: &str) -> Command {
        let mut c = Command::new("sh");
        c.args(["-c", script]);
        c
    }

    #[test]
    fn input_output_and_status() {
        let f = run(
            &mut sh("cat; echo err >&2; exit 3"),
            b"hello\n",
            &Exec::unbounded(),
        )
        .unwrap();
        assert_eq!(f.stdout, b"hello\n");
        assert_eq!(f.stderr_text(), "err");
        assert_eq!(f.status.code(), Some(3));
    }

    #[test]
    fn missing_program_is_a_spawn_error() {
        let e = run(
            &mut Command::new("/nonexistent/prog"),
            b"",
            &Exec::bounded(Duration::from_secs(1)),
        )
        .unwrap_err();
        assert!(matches!(e, ExecError::Spawn { .. }), "{e}");
        assert!(e.to_string().contains("/nonexistent/prog"), "{e}");
    }

    #[test]
    fn timeout_kills() {
        let start = Instant::now();
        let e = run(
            Command::new("sleep").arg("5"),
            b"",
            &Exec::bounded(Duration::from_millis(100)),
        )
        .unwrap_err();
        assert!(matches!(e, ExecError::Timeout { .. }), "{e}");
        assert!(start.elapsed() < Duration::from_secs(3));
    }

    #[test]
    fn timeout_holds_when_stdin_is_never_read() {
        // 1 MiB is far more than a pipe buffers: a write on this thread would block.
        let big = vec![b'x'; 1 << 20];
        let start = Instant::now();
        let e = run(
            &mut sh("exec sleep 5"),
            &big,
            &Exec::bounded(Duration::from_millis(200)),
        )
        .unwrap_err();
        assert!(matches!(e, ExecError::Timeout { .. }), "{e}");
        assert!(start.elapsed() < Duration::from_secs(3));
    }

    #[test]
    fn large_input_and_output_do_not_deadlock() {
        let big = vec![b'y'; 1 << 20];
        let f = run(&mut Command::new("cat"), &big, &Exec::unbounded()).unwrap();
        assert_eq!(f.stdout.len(), 1 << 20);
    }

    #[test]
    fn exit_without_reading_input_is_fine() {
        let big = vec![b'z'; 1 << 20];
        let f = run(&mut sh("exit 0"), &big, &Exec::unbounded()).unwrap();
        assert!(f.status.success());
    }

    #[test]
    fn signal_is_reported() {
        let f = run(&mut sh("kill -TERM $$"), b"", &Exec::unbounded()).unwrap();
        assert_eq!(f.status.signal(), Some(15));
    }

    #[test]
    fn inherited_stderr_is_not_captured() {
        let f = run(
            &mut sh("echo to-our-stderr >&2"),
            b"",
            &Exec::unbounded().inherit_stderr(),
        )
        .unwrap();
        assert!(f.stderr.is_empty());
    }
}
