//! Fault injection support: the `simplebridge` built with the cargo feature
//! `fault-injection` into its own target dir (`target/fault`, so it never
//! replaces the real binary), the list of crash points read from the product
//! source, and a runner that reports the signal that ended the plugin.

use crate::bins::workspace_root;
use crate::exec::Env;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

/// Environment variable naming the ADD step after which the test build dies.
pub const FAULT_ENV: &str = "CNM_FAULT_POINT";

/// How long building the fault binary may take.
const BUILD_TIMEOUT: Duration = Duration::from_secs(900);

static FAULT_BIN: OnceLock<Result<PathBuf, String>> = OnceLock::new();

/// Path of the fault-injection simplebridge: `$CNM_FAULT_BIN`, or
/// `<workspace>/target/fault/debug/simplebridge`, built (once per test
/// process, bounded) with `cargo build -p simplebridge --features
/// fault-injection --target-dir <workspace>/target/fault`; cargo is a no-op
/// when scripts/test.sh already built it. Panics when it cannot be had.
pub fn fault_simplebridge() -> PathBuf {
    let res = FAULT_BIN.get_or_init(|| {
        if let Some(p) = std::env::var_os("CNM_FAULT_BIN").filter(|p| !p.is_empty()) {
            return Ok(PathBuf::from(p));
        }
        let root = workspace_root();
        let target = root.join("target/fault");
        let cargo = std::env::var("CARGO")
            .ok()
            .or_else(|| option_env!("CARGO").map(str::to_owned))
            .unwrap_or_else(|| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.current_dir(&root).args([
            "build",
            "-p",
            "simplebridge",
            "--features",
            "fault-injection",
            "--target-dir",
        ]);
        cmd.arg(&target);
        let out = crate::proc::run_bounded(cmd, b"", BUILD_TIMEOUT);
        let bin = target.join("debug/simplebridge");
        if out.code != 0 && bin.is_file() {
            // The workspace may be mid-edit; an earlier build still tests the steps.
            eprintln!(
                "warning: rebuilding the fault-injection simplebridge failed; using the existing {}",
                bin.display()
            );
            return Ok(bin);
        }
        if out.code != 0 {
            return Err(format!(
                "building the fault-injection simplebridge failed (exit {}, timed out {}): {}",
                out.code,
                out.timed_out,
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(bin)
    });
    match res {
        Ok(p) if p.is_file() => p.clone(),
        Ok(p) => panic!("fault-injection binary {} is missing", p.display()),
        Err(e) => panic!("{e}"),
    }
}

/// The crash points, read from `cnm_kernel::FAULT_POINTS` in the
/// product source (so a new step is tested without editing the suite).
pub fn fault_points() -> Vec<String> {
    let file = workspace_root().join("crates/kernel/src/system.rs");
    let text = std::fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
    let Some(start) = text.find("FAULT_POINTS") else {
        panic!("FAULT_POINTS not found in {}", file.display());
    };
    let rest = &text[start..];
    let Some(open) = rest.find("&[") else {
        panic!("FAULT_POINTS has no list in {}", file.display());
    };
    let Some(close) = rest[open..].find("];") else {
        panic!("FAULT_POINTS list not closed in {}", file.display());
    };
    rest[open + 2..open + close]
        .split('"')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

/// What a plugin run ended with, including the signal that killed it.
#[derive(Debug, Clone)]
pub struct Ended {
    pub code: Option<i32>,
    pub signal: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: String,
    pub timed_out: bool,
}

/// Like [`crate::run_plugin`] (cleared environment, PATH plus the CNI
/// variables, `nsenter` into `env.exec_in`), but reports the signal.
pub fn run_reporting_signal(bin: &Path, command: &str, env: &Env, stdin: &[u8]) -> Ended {
    let mut cmd = match &env.exec_in {
        Some(ns) => {
            let mut c = Command::new("nsenter");
            c.arg(format!("--net={}", ns.display())).arg("--").arg(bin);
            c
        }
        None => Command::new(bin),
    };
    cmd.env_clear();
    cmd.env(
        "PATH",
        std::env::var("PATH").unwrap_or_else(|_| "/usr/sbin:/usr/bin:/sbin:/bin".into()),
    );
    cmd.env("CNI_COMMAND", command);
    for (k, v) in [
        ("CNI_CONTAINERID", &env.containerid),
        ("CNI_NETNS", &env.netns),
        ("CNI_IFNAME", &env.ifname),
        ("CNI_ARGS", &env.args),
        ("CNI_PATH", &env.path),
    ] {
        if let Some(v) = v {
            cmd.env(k, v);
        }
    }
    for (k, v) in &env.extra {
        cmd.env(k, v);
    }
    let ran = crate::proc::run_with_signal(&mut cmd, stdin, crate::proc::DEFAULT_TIMEOUT);
    let (status, timed_out) = (ran.status, ran.timed_out);
    Ended {
        code: status.and_then(|s| s.code()),
        signal: status.and_then(|s| s.signal()),
        stdout: ran.stdout,
        stderr: String::from_utf8_lossy(&ran.stderr).into_owned(),
        timed_out,
    }
}
