//! Running the nft binary: one process per batch, argv only (no shell), bounded wait (through
//! `cnm-exec`, the workspace's one exec-with-timeout: stdin fed from its own thread, so the
//! limit holds even when the child never reads).

use std::ffi::OsString;
use std::process::Command;
use std::time::Duration;

use cnm_exec::{Exec, ExecError};

use crate::error::NftError;

/// How to start nft: a program plus fixed leading arguments (e.g. `ip netns exec NS nft`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NftCommand {
    program: OsString,
    prefix: Vec<OsString>,
    timeout: Duration,
}

/// What nft printed.
#[derive(Debug)]
pub struct Output {
    /// Standard output (JSON for listings).
    pub stdout: String,
}

impl NftCommand {
    /// `program` followed by `prefix` arguments before nft's own flags.
    pub fn new(program: OsString, prefix: Vec<OsString>) -> NftCommand {
        NftCommand {
            program,
            prefix,
            timeout: Duration::from_secs(30),
        }
    }

    /// Change the wait limit (default 30 s).
    pub fn with_timeout(mut self, timeout: Duration) -> NftCommand {
        self.timeout = timeout;
        self
    }

    /// Human-readable program name for errors.
    pub fn program_display(&self) -> String {
        self.program.to_string_lossy().into_owned()
    }

    /// Run `nft <args>` feeding `stdin`; a non-zero exit becomes [`NftError::Failed`].
    pub fn run(&self, operation: &str, args: &[&str], stdin: &str) -> Result<Output, NftError> {
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.prefix).args(args);
        let done = cnm_exec::run(&mut cmd, stdin.as_bytes(), &Exec::bounded(self.timeout))
            .map_err(|e| match e {
                ExecError::Spawn { source, .. } => NftError::Spawn {
                    program: self.program_display(),
                    source,
                },
                ExecError::Timeout { .. } => NftError::Timeout {
                    operation: operation.to_string(),
                    secs: self.timeout.as_secs(),
                },
                ExecError::Wait { source, .. } | ExecError::Stdin { source, .. } => {
                    NftError::Pipe {
                        operation: operation.to_string(),
                        source,
                    }
                }
            })?;
        if !done.status.success() {
            return Err(NftError::Failed {
                operation: operation.to_string(),
                status: done.status.code().unwrap_or(-1),
                stderr: done.stderr_text(),
            });
        }
        Ok(Output {
            stdout: done.stdout_text(),
        })
    }

    /// Apply a script atomically (`nft -f -`).
    pub fn apply(&self, operation: &str, script: &str) -> Result<(), NftError> {
        self.run(operation, &["-f", "-"], script).map(|_| ())
    }

    /// Validate a script in the kernel without committing it (`nft -c -f -`).
    pub fn check_script(&self, operation: &str, script: &str) -> Result<(), NftError> {
        self.run(operation, &["-c", "-f", "-"], script).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_program_with_prefix_and_stdin() {
        let cmd = NftCommand::new("sh".into(), vec!["-c".into(), "cat; echo \"$0\"".into()]);
        let out = cmd.run("test", &["ARG"], "hello\n").unwrap();
        assert_eq!(out.stdout, "hello\nARG\n");
    }

    #[test]
    fn failure_carries_stderr_and_status() {
        let cmd = NftCommand::new(
            "sh".into(),
            vec!["-c".into(), "echo bad >&2; exit 3".into()],
        );
        match cmd.run("probe", &[], "") {
            Err(NftError::Failed {
                operation,
                status,
                stderr,
            }) => {
                assert_eq!(
                    (operation.as_str(), status, stderr.as_str()),
                    ("probe", 3, "bad")
                );
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn missing_program_is_spawn_error() {
        let cmd = NftCommand::new("/nonexistent/nft".into(), vec![]);
        assert!(matches!(cmd.apply("x", ""), Err(NftError::Spawn { .. })));
    }

    #[test]
    fn timeout_kills() {
        let cmd = NftCommand::new("sleep".into(), vec!["5".into()])
            .with_timeout(Duration::from_millis(100));
        assert!(matches!(
            cmd.run("sleepy", &[], ""),
            Err(NftError::Timeout { .. })
        ));
    }

    #[test]
    fn timeout_holds_when_stdin_is_never_read() {
        // 1 MiB is far more than a pipe buffers: a write on this thread would block.
        let big = "x".repeat(1 << 20);
        let cmd = NftCommand::new("sh".into(), vec!["-c".into(), "exec sleep 5".into()])
            .with_timeout(Duration::from_millis(200));
        let start = std::time::Instant::now();
        let r = cmd.run("deaf", &[], &big);
        assert!(matches!(r, Err(NftError::Timeout { .. })), "{r:?}");
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "{:?}",
            start.elapsed()
        );
    }

    #[test]
    fn large_stdin_is_fully_delivered() {
        let big = "y".repeat(1 << 20);
        let cmd = NftCommand::new("sh".into(), vec!["-c".into(), "wc -c".into()]);
        let out = cmd.run("count", &[], &big).unwrap();
        assert_eq!(out.stdout.trim(), (1 << 20).to_string());
    }
}
