//! Running a plugin exactly as a runtime does: cleared environment (PATH plus
//! the CNI variables), config on stdin, result or error on stdout, exit status.

use crate::proc::{run_bounded, DEFAULT_TIMEOUT};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The CNI parameters of one invocation. `None` leaves the variable unset.
#[derive(Clone, Debug, Default)]
pub struct Env {
    pub containerid: Option<String>,
    pub netns: Option<String>,
    pub ifname: Option<String>,
    pub args: Option<String>,
    pub path: Option<String>,
    /// Additional variables (e.g. CNI_NETNS_OVERRIDE), set after the others.
    pub extra: Vec<(String, String)>,
    /// Run the plugin inside this network namespace (`nsenter --net=<path>`),
    /// i.e. the throwaway "host" namespace of the test.
    pub exec_in: Option<PathBuf>,
}

impl Env {
    /// The usual ADD/DEL/CHECK parameters.
    pub fn attach(containerid: &str, netns: &str, ifname: &str, path: &str) -> Env {
        Env {
            containerid: Some(containerid.into()),
            netns: Some(netns.into()),
            ifname: Some(ifname.into()),
            path: Some(path.into()),
            ..Env::default()
        }
    }

    pub fn with_args(mut self, args: &str) -> Env {
        self.args = Some(args.into());
        self
    }

    pub fn in_ns(mut self, host: &Path) -> Env {
        self.exec_in = Some(host.to_path_buf());
        self
    }
}

/// What the plugin did.
#[derive(Clone, Debug)]
pub struct Output {
    /// Exit status (-1 on signal or timeout).
    pub code: i32,
    pub stdout: Vec<u8>,
    /// stdout parsed as JSON, if it is JSON.
    pub json: Option<Value>,
    pub stderr: String,
    pub timed_out: bool,
    /// Description of the call, for assertion messages.
    pub what: String,
}

impl Output {
    /// Assert success (exit 0) and return the JSON result (Null when stdout is empty).
    pub fn ok(&self) -> Value {
        assert!(
            self.code == 0 && !self.timed_out,
            "{}: expected success, got exit {} (timed out {})\nstdout: {}\nstderr: {}",
            self.what,
            self.code,
            self.timed_out,
            String::from_utf8_lossy(&self.stdout),
            self.stderr
        );
        self.json.clone().unwrap_or(Value::Null)
    }

    /// Assert success with nothing printed on stdout (DEL/CHECK/GC/STATUS).
    pub fn ok_empty(&self) {
        let _ = self.ok();
        assert!(
            String::from_utf8_lossy(&self.stdout).trim().is_empty(),
            "{}: expected empty stdout, got {}",
            self.what,
            String::from_utf8_lossy(&self.stdout)
        );
    }

    /// Assert a CNI error: exit status 1 and a JSON object on stdout with an
    /// integer `code` (== `code` when given) and a non-empty string `msg`.
    /// Returns the error object.
    pub fn err(&self, code: Option<u64>) -> Value {
        let stdout = String::from_utf8_lossy(&self.stdout);
        assert_eq!(
            self.code, 1,
            "{}: expected exit status 1, got {}\nstdout: {stdout}\nstderr: {}",
            self.what, self.code, self.stderr
        );
        let Some(v) = self.json.clone() else {
            panic!("{}: error stdout is not JSON: {stdout:?}", self.what);
        };
        let got = v.get("code").and_then(Value::as_u64);
        assert!(
            got.is_some(),
            "{}: error without integer code: {v}",
            self.what
        );
        if let Some(want) = code {
            assert_eq!(got, Some(want), "{}: wrong CNI error code: {v}", self.what);
        }
        let msg = v.get("msg").and_then(Value::as_str).unwrap_or_default();
        assert!(!msg.is_empty(), "{}: error without msg: {v}", self.what);
        v
    }

    /// Like `err`, and additionally requires `details` to be a string (our
    /// plugins always print code, msg and details).
    pub fn err_full(&self, code: u64) -> Value {
        let v = self.err(Some(code));
        assert!(
            v.get("details").map(Value::is_string).unwrap_or(false),
            "{}: error without string details: {v}",
            self.what
        );
        v
    }

    /// The error message (`msg` + `details`), empty if not an error object.
    pub fn err_text(&self) -> String {
        let Some(v) = &self.json else {
            return String::new();
        };
        format!(
            "{} {}",
            v.get("msg").and_then(Value::as_str).unwrap_or_default(),
            v.get("details").and_then(Value::as_str).unwrap_or_default()
        )
    }
}

/// Execute `bin` with `CNI_COMMAND=command` and the parameters in `env`, feeding
/// `stdin`. The environment is cleared except PATH. Bounded by 60 s.
pub fn run_plugin(bin: &Path, command: &str, env: &Env, stdin: &[u8]) -> Output {
    let mut cmd = match &env.exec_in {
        Some(ns) => {
            let mut c = Command::new("nsenter");
            c.arg(format!("--net={}", ns.display())).arg("--").arg(bin);
            c
        }
        None => Command::new(bin),
    };
    cmd.env_clear();
    let path = std::env::var("PATH")
        .unwrap_or_else(|_| "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into());
    cmd.env("PATH", path);
    cmd.env("CNI_COMMAND", command);
    let vars = [
        ("CNI_CONTAINERID", &env.containerid),
        ("CNI_NETNS", &env.netns),
        ("CNI_IFNAME", &env.ifname),
        ("CNI_ARGS", &env.args),
        ("CNI_PATH", &env.path),
    ];
    for (k, v) in vars {
        if let Some(v) = v {
            cmd.env(k, v);
        }
    }
    for (k, v) in &env.extra {
        cmd.env(k, v);
    }
    let raw = run_bounded(cmd, stdin, DEFAULT_TIMEOUT);
    let json = serde_json::from_slice::<Value>(&raw.stdout).ok();
    Output {
        code: raw.code,
        json,
        stderr: String::from_utf8_lossy(&raw.stderr).into_owned(),
        timed_out: raw.timed_out,
        what: format!(
            "{} {command} (id {:?}, ifname {:?})",
            bin.display(),
            env.containerid,
            env.ifname
        ),
        stdout: raw.stdout,
    }
}
