//! Delegation to another plugin binary found in `CNI_PATH` (spec §4,
//! libcni `pkg/invoke`): same environment with `CNI_COMMAND` overridden, the
//! whole configuration on stdin, its stderr inherited (the child writes its
//! logs to our stderr directly, as libcni does), its CNI error kept. Run through `cnm-exec`,
//! the workspace's one exec, with no time limit (the runtime bounds the chain, as with libcni).

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use cnm_exec::{Exec, ExecError};

use crate::env::{CniEnv, Command};
use crate::error::{code, CniError};
use crate::result::CniResult;

/// How often a spawn failing with ETXTBSY ("text file busy") is retried
/// (libcni `invoke`: tries again after 1 s, 5 times).
const BUSY_RETRIES: u32 = 5;

/// The wait before each ETXTBSY retry.
const BUSY_DELAY: Duration = Duration::from_secs(1);

/// Finds the plugin binary `name` in the `CNI_PATH` directories, in order.
/// An empty name, a name with a path separator, or no match: code 7.
pub fn find_in_path(name: &str, path: &[PathBuf]) -> Result<PathBuf, CniError> {
    if name.is_empty() {
        return Err(CniError::invalid_config(
            "no plugin name provided",
            "the plugin type to delegate to is empty",
        ));
    }
    if name.contains(['/', '\\']) || name == "." || name == ".." {
        return Err(CniError::invalid_config(
            "invalid plugin name",
            format!("plugin name {name:?} must be a file name without a path separator"),
        ));
    }
    if path.is_empty() {
        return Err(CniError::invalid_config(
            format!("failed to find plugin {name:?}"),
            "CNI_PATH is empty: no directory to search",
        ));
    }
    for dir in path {
        let candidate = dir.join(name);
        if std::fs::metadata(&candidate).is_ok_and(|m| m.is_file()) {
            return Ok(candidate);
        }
    }
    let dirs: Vec<String> = path.iter().map(|d| d.display().to_string()).collect();
    Err(CniError::invalid_config(
        format!("failed to find plugin {name:?} in path"),
        format!("searched [{}]", dirs.join(" ")),
    ))
}

/// A delegated plugin and the environment of the current call.
#[derive(Debug, Clone, Copy)]
pub struct Delegate<'a> {
    pub plugin: &'a str,
    pub env: &'a CniEnv,
}

impl Delegate<'_> {
    pub fn add(&self, conf_bytes: &[u8], cni_version: &str) -> Result<CniResult, CniError> {
        delegate_add(self.plugin, conf_bytes, self.env, cni_version)
    }
    pub fn del(&self, conf_bytes: &[u8]) -> Result<(), CniError> {
        delegate_del(self.plugin, conf_bytes, self.env)
    }
    pub fn check(&self, conf_bytes: &[u8]) -> Result<(), CniError> {
        delegate_check(self.plugin, conf_bytes, self.env)
    }
    pub fn gc(&self, conf_bytes: &[u8]) -> Result<(), CniError> {
        delegate_gc(self.plugin, conf_bytes, self.env)
    }
    pub fn status(&self, conf_bytes: &[u8]) -> Result<(), CniError> {
        delegate_status(self.plugin, conf_bytes, self.env)
    }
}

/// ADD on `plugin`; its result is parsed with `cni_version` as the hint for
/// a missing `cniVersion`.
pub fn delegate_add(
    plugin: &str,
    conf_bytes: &[u8],
    env: &CniEnv,
    cni_version: &str,
) -> Result<CniResult, CniError> {
    let stdout = exec(plugin, Command::Add, conf_bytes, env)?;
    let value: serde_json::Value = serde_json::from_slice(&stdout).map_err(|e| {
        CniError::decoding(
            format!("failed to decode the result of plugin {plugin:?}"),
            format!(
                "ADD printed {} bytes that are not a JSON result: {e}",
                stdout.len()
            ),
        )
    })?;
    CniResult::from_json(&value, cni_version).map_err(|e| {
        CniError::new(
            e.code,
            format!("invalid result from plugin {plugin:?}: {}", e.msg),
            e.details,
        )
    })
}

pub fn delegate_del(plugin: &str, conf_bytes: &[u8], env: &CniEnv) -> Result<(), CniError> {
    exec(plugin, Command::Del, conf_bytes, env).map(drop)
}

pub fn delegate_check(plugin: &str, conf_bytes: &[u8], env: &CniEnv) -> Result<(), CniError> {
    exec(plugin, Command::Check, conf_bytes, env).map(drop)
}

pub fn delegate_gc(plugin: &str, conf_bytes: &[u8], env: &CniEnv) -> Result<(), CniError> {
    exec(plugin, Command::Gc, conf_bytes, env).map(drop)
}

pub fn delegate_status(plugin: &str, conf_bytes: &[u8], env: &CniEnv) -> Result<(), CniError> {
    exec(plugin, Command::Status, conf_bytes, env).map(drop)
}

/// Runs `plugin` for `command` and returns its stdout on success.
pub fn exec(
    plugin: &str,
    command: Command,
    conf_bytes: &[u8],
    env: &CniEnv,
) -> Result<Vec<u8>, CniError> {
    let bin = find_in_path(plugin, &env.path)?;
    let output = run_binary(&bin, command, conf_bytes, env)?;
    if output.status.success() {
        return Ok(output.stdout);
    }
    if let Ok(err) = serde_json::from_slice::<CniError>(&output.stdout) {
        return Err(err);
    }
    // Its stderr already went to ours; the error quotes the stdout tail.
    let text = String::from_utf8_lossy(&output.stdout);
    let text = text.trim();
    let tail: String = text
        .chars()
        .rev()
        .take(512)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    Err(CniError::new(
        code::DELEGATE,
        format!("plugin {plugin:?} {command} failed"),
        format!("{}: {}; output: {tail:?}", bin.display(), output.status),
    ))
}

/// The child's environment: ours, with the CNI variables taken from `env`.
fn configure(cmd: &mut std::process::Command, command: Command, env: &CniEnv) {
    cmd.env("CNI_COMMAND", command.as_str());
    let vars = [
        ("CNI_CONTAINERID", env.container_id.clone()),
        ("CNI_NETNS", env.netns.clone()),
        ("CNI_IFNAME", env.ifname.clone()),
        (
            "CNI_ARGS",
            Some(env.args.to_env_string()).filter(|s| !s.is_empty()),
        ),
        (
            "CNI_PATH",
            Some(env.path_string()).filter(|s| !s.is_empty()),
        ),
        (
            "CNI_NETNS_OVERRIDE",
            env.netns_override.then(|| "1".to_string()),
        ),
    ];
    for (k, v) in vars {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
}

fn run_binary(
    bin: &Path,
    command: Command,
    conf_bytes: &[u8],
    env: &CniEnv,
) -> Result<Output, CniError> {
    let mut cmd = std::process::Command::new(bin);
    configure(&mut cmd, command, env);
    // No time limit: as libcni, the runtime bounds the whole chain.
    let how = Exec::unbounded()
        .inherit_stderr()
        .retry_busy(BUSY_RETRIES, BUSY_DELAY);
    match cnm_exec::run(&mut cmd, conf_bytes, &how) {
        Ok(done) => Ok(Output {
            status: done.status,
            stdout: done.stdout,
            stderr: done.stderr,
        }),
        Err(ExecError::Spawn { source, .. }) => Err(CniError::new(
            code::DELEGATE,
            format!("failed to execute plugin {}", bin.display()),
            format!("{command}: {source}"),
        )),
        Err(ExecError::Stdin { source, .. }) => Err(CniError::io(
            format!(
                "failed to write the configuration to plugin {}",
                bin.display()
            ),
            format!("{command}: {source}"),
        )),
        Err(e) => Err(CniError::io(
            format!("failed to collect the output of plugin {}", bin.display()),
            format!("{command}: {e}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;
    use crate::CniArgs;
    use std::io::Write;

    const ADD_RESULT: &str = r#"{"cniVersion":"0.4.0","ips":[{"version":"4","address":"10.0.0.2/24","gateway":"10.0.0.1"}]}"#;

    /// A fake IPAM plugin: records env and stdin per command, then answers.
    fn fake(dir: &Path) -> String {
        let d = dir.display();
        format!(
            r#"#!/bin/sh
echo "$CNI_COMMAND|$CNI_CONTAINERID|$CNI_NETNS|$CNI_IFNAME|$CNI_ARGS|$CNI_PATH|$CNI_NETNS_OVERRIDE" > "{d}/env.$CNI_COMMAND"
cat > "{d}/stdin.$CNI_COMMAND"
echo "fake-ipam: $CNI_COMMAND" >&2
case "$CNI_COMMAND" in
  ADD) printf '%s' '{ADD_RESULT}' ;;
  DEL) ;;
  CHECK) printf '%s' '{{"cniVersion":"1.0.0","code":11,"msg":"busy","details":"try later"}}'; exit 1 ;;
  GC) echo "not json"; exit 3 ;;
  STATUS) exit 0 ;;
esac
"#
        )
    }

    fn env_for(dir: &Path) -> CniEnv {
        CniEnv {
            command: Command::Add,
            container_id: Some("ctr1".into()),
            netns: Some("/run/netns/t".into()),
            ifname: Some("eth0".into()),
            args: CniArgs::parse("IgnoreUnknown=1;K=V").unwrap(),
            path: vec![PathBuf::from("/nonexistent-dir"), dir.to_path_buf()],
            netns_override: false,
        }
    }

    #[test]
    fn find_in_path_rules() {
        let t = TempDir::new();
        let a = t.path().join("a");
        let b = t.path().join("b");
        std::fs::create_dir_all(a.join("plug")).unwrap(); // a directory is skipped
        std::fs::create_dir_all(&b).unwrap();
        std::fs::write(b.join("plug"), "x").unwrap();
        let path = vec![a.clone(), b.clone()];
        assert_eq!(find_in_path("plug", &path).unwrap(), b.join("plug"));
        for bad in ["", "../plug", "b/plug", "a\\b", ".."] {
            assert_eq!(
                find_in_path(bad, &path).unwrap_err().code,
                code::INVALID_NETWORK_CONFIG,
                "{bad}"
            );
        }
        let e = find_in_path("missing", &path).unwrap_err();
        assert_eq!(e.code, code::INVALID_NETWORK_CONFIG);
        assert!(
            e.details.contains(&a.display().to_string())
                && e.details.contains(&b.display().to_string())
        );
        assert!(find_in_path("plug", &[]).is_err());
    }

    #[test]
    fn delegation_end_to_end() {
        let t = TempDir::new();
        t.script("fake-ipam", &fake(t.path()));
        let env = env_for(t.path());
        let conf = br#"{"cniVersion":"0.4.0","name":"n","type":"simplebridge","ipam":{"type":"fake-ipam"},"custom":1}"#;

        let r = delegate_add("fake-ipam", conf, &env, "0.4.0").unwrap();
        assert_eq!(r.cni_version, "0.4.0");
        assert_eq!(r.ips[0].address.to_string(), "10.0.0.2/24");
        assert_eq!(std::fs::read(t.path().join("stdin.ADD")).unwrap(), conf);
        let seen = std::fs::read_to_string(t.path().join("env.ADD")).unwrap();
        assert_eq!(
            seen.trim(),
            format!(
                "ADD|ctr1|/run/netns/t|eth0|IgnoreUnknown=1;K=V|/nonexistent-dir:{}|",
                t.path().display()
            )
        );

        let d = Delegate {
            plugin: "fake-ipam",
            env: &env,
        };
        d.del(conf).unwrap();
        let seen = std::fs::read_to_string(t.path().join("env.DEL")).unwrap();
        assert!(seen.starts_with("DEL|ctr1|"), "{seen}");
        assert_eq!(std::fs::read(t.path().join("stdin.DEL")).unwrap(), conf);

        // A CNI error from the delegate is kept as is.
        let e = d.check(conf).unwrap_err();
        assert_eq!(e, CniError::new(11, "busy", "try later"));

        // A failure without a CNI error: code 102 with the exit status and output.
        let e = d.gc(conf).unwrap_err();
        assert_eq!(e.code, code::DELEGATE);
        assert!(e.msg.contains("GC failed"), "{e}");
        assert!(
            e.details.contains("exit status: 3") && e.details.contains("not json"),
            "{e}"
        );

        d.status(conf).unwrap();
        assert!(t.path().join("env.STATUS").exists());
    }

    #[test]
    fn delegation_env_without_optional_vars() {
        let t = TempDir::new();
        t.script("fake-ipam", &fake(t.path()));
        let mut env = env_for(t.path());
        env.container_id = None;
        env.netns = None;
        env.ifname = None;
        env.args = CniArgs::default();
        env.netns_override = true;
        delegate_status("fake-ipam", b"{}", &env).unwrap();
        let seen = std::fs::read_to_string(t.path().join("env.STATUS")).unwrap();
        assert_eq!(
            seen.trim(),
            format!("STATUS|||||/nonexistent-dir:{}|1", t.path().display())
        );
    }

    #[test]
    fn bad_results_and_missing_binaries() {
        let t = TempDir::new();
        t.script("junk", "#!/bin/sh\ncat >/dev/null\necho '{not json'\n");
        t.script(
            "nover",
            "#!/bin/sh\necho '{\"ips\":[{\"address\":\"10.0.0.9/8\"}]}'\n",
        );
        t.script("noread", "#!/bin/sh\nexit 0\n");
        std::fs::write(t.path().join("noexec"), "#!/bin/sh\n").unwrap();
        let env = env_for(t.path());
        let e = delegate_add("junk", b"{}", &env, "1.0.0").unwrap_err();
        assert_eq!(e.code, code::DECODING_FAILURE);
        assert!(e.msg.contains("junk"));
        // A missing cniVersion in the result uses the hint.
        let r = delegate_add("nover", b"{}", &env, "1.0.0").unwrap();
        assert_eq!(r.cni_version, "1.0.0");
        // Under 0.3.1 a missing ips[].version is derived from the address.
        let r = delegate_add("nover", b"{}", &env, "0.3.1").unwrap();
        assert_eq!(r.cni_version, "0.3.1");
        assert_eq!(r.to_json("0.3.1").unwrap()["ips"][0]["version"], "4");
        // A plugin that never reads stdin: a large config must not hang or fail.
        let big = vec![b' '; 4 << 20];
        delegate_del("noread", &big, &env).unwrap();
        let e = delegate_del("noexec", b"{}", &env).unwrap_err();
        assert_eq!(e.code, code::DELEGATE);
        assert!(e.msg.contains("noexec"), "{e}");
        let e = delegate_del("absent", b"{}", &env).unwrap_err();
        assert_eq!(e.code, code::INVALID_NETWORK_CONFIG);
    }

    /// The identity of a file descriptor as the kernel names it
    /// (`pipe:[123]`, `/dev/pts/0`...).
    fn fd_target(path: &str) -> String {
        std::fs::read_link(path).unwrap().display().to_string()
    }

    #[test]
    fn delegate_stderr_is_our_stderr() {
        let t = TempDir::new();
        let out = t.path().join("fd2");
        t.script(
            "who",
            &format!(
                "#!/bin/sh\ncat >/dev/null\nreadlink /proc/$$/fd/2 > {}\necho 'who: log line' >&2\n",
                out.display()
            ),
        );
        let env = env_for(t.path());
        delegate_del("who", b"{}", &env).unwrap();
        let child = std::fs::read_to_string(&out).unwrap();
        let ours = fd_target(&format!("/proc/{}/fd/2", std::process::id()));
        assert_eq!(child.trim(), ours, "the child inherits our stderr");
    }

    #[test]
    fn failure_without_cni_error_quotes_stdout_only() {
        let t = TempDir::new();
        t.script(
            "quiet",
            "#!/bin/sh\ncat >/dev/null\necho 'secret-stderr' >&2\nexit 4\n",
        );
        let env = env_for(t.path());
        let e = delegate_del("quiet", b"{}", &env).unwrap_err();
        assert_eq!(e.code, code::DELEGATE);
        assert!(e.details.contains("exit status: 4"), "{e}");
        assert!(!e.details.contains("secret-stderr"), "{e}");
    }

    #[test]
    fn text_file_busy_is_retried_for_seconds() {
        // The binary stays open for writing (ETXTBSY on exec) for 2.5 s:
        // longer than a sub-second retry budget, shorter than libcni's 5 x 1 s.
        let t = TempDir::new();
        let bin = t.path().join("busy");
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&bin)
            .unwrap();
        f.write_all(b"#!/bin/sh\ncat >/dev/null\nexit 0\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
        let holder = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(2500));
            drop(f);
        });
        let env = env_for(t.path());
        let start = std::time::Instant::now();
        let r = delegate_del("busy", b"{}", &env);
        holder.join().unwrap();
        r.unwrap();
        let took = start.elapsed();
        assert!(
            took >= Duration::from_secs(2),
            "retried while busy: {took:?}"
        );
        assert!(took < Duration::from_secs(6), "bounded: {took:?}");
    }
}
