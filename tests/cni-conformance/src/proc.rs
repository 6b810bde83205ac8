//! Bounded child processes: every wait in the suite has a deadline.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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

/// Run `cmd` with `stdin`, killing it after `timeout`. Panics if it cannot be spawned.
pub fn run_bounded(mut cmd: Command, stdin: &[u8], timeout: Duration) -> RawOutput {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => panic!("cannot spawn {cmd:?}: {e}"),
    };
    let input = stdin.to_vec();
    let mut sin = child.stdin.take();
    let writer = std::thread::spawn(move || {
        if let Some(s) = sin.as_mut() {
            // A plugin may exit without reading stdin (EPIPE): that is fine.
            let _ = s.write_all(&input);
        }
        drop(sin);
    });
    let mut sout = child.stdout.take();
    let out_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(s) = sout.as_mut() {
            let _ = s.read_to_end(&mut buf);
        }
        buf
    });
    let mut serr = child.stderr.take();
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(s) = serr.as_mut() {
            let _ = s.read_to_end(&mut buf);
        }
        buf
    });
    let deadline = Instant::now() + timeout;
    let mut timed_out = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break Some(st),
            Ok(None) if Instant::now() >= deadline => {
                timed_out = true;
                let _ = child.kill();
                break child.wait().ok();
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => panic!("wait for {cmd:?} failed: {e}"),
        }
    };
    let _ = writer.join();
    // Grandchildren holding the pipes open could block the readers: the
    // readers are only joined after the child has exited or been killed.
    let stdout = out_reader.join().unwrap_or_default();
    let stderr = err_reader.join().unwrap_or_default();
    RawOutput {
        code: status.and_then(|s| s.code()).unwrap_or(-1),
        stdout,
        stderr,
        timed_out,
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
