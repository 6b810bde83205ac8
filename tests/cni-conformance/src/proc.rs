//! Bounded child processes: every wait in the suite has a deadline.

use std::process::Command;
use std::time::Duration;

use cnm_exec::{Exec, ExecError};

/// Default deadline for one plugin or tool invocation.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// What a bounded child produced. `code` is -1 when killed by a signal or timed out.
#[derive(Debug, Clone)]
pub struct RawOutput {
    pub code: i32,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub timed_out: bool,
}

/// Run `cmd` with `stdin`, killing it after `timeout` (through `cnm-exec`, the workspace's one
/// exec-with-timeout). Panics if it cannot be spawned.
pub fn run_bounded(mut cmd: Command, stdin: &[u8], timeout: Duration) -> RawOutput {
    let ended = run_with_signal(&mut cmd, stdin, timeout);
    RawOutput {
        code: ended.status.and_then(|s| s.code()).unwrap_or(-1),
        stdout: ended.stdout,
        stderr: ended.stderr,
        timed_out: ended.timed_out,
    }
}

/// What [`run_with_signal`] saw: the status (None after a timeout) and the output.
#[derive(Debug, Clone)]
pub struct Bounded {
    pub status: Option<std::process::ExitStatus>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub timed_out: bool,
}

/// [`run_bounded`] keeping the whole exit status (a signal shows in it).
pub fn run_with_signal(cmd: &mut Command, stdin: &[u8], timeout: Duration) -> Bounded {
    match cnm_exec::run(cmd, stdin, &Exec::bounded(timeout)) {
        Ok(done) => Bounded {
            status: Some(done.status),
            stdout: done.stdout,
            stderr: done.stderr,
            timed_out: false,
        },
        Err(ExecError::Timeout { .. }) => Bounded {
            status: None,
            stdout: Vec::new(),
            stderr: Vec::new(),
            timed_out: true,
        },
        Err(e) => panic!("cannot run {cmd:?}: {e}"),
    }
}

/// Run a tool (e.g. `ip`) with a deadline; panics with its stderr unless it exits 0.
pub fn tool(args: &[&str]) -> Vec<u8> {
    let out = tool_status(args);
    if out.code != 0 {
        panic!(
            "`{}` failed (exit {}, timed out {}): {}",
            args.join(" "),
            out.code,
            out.timed_out,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    out.stdout
}

/// Run a tool with a deadline of 30 s and return its raw output whatever the status.
pub fn tool_status(args: &[&str]) -> RawOutput {
    let Some((prog, rest)) = args.split_first() else {
        panic!("tool: empty command");
    };
    let mut cmd = Command::new(prog);
    cmd.args(rest);
    run_bounded(cmd, b"", Duration::from_secs(30))
}
