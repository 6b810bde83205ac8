//! Running one plugin binary (libcni `invoke`): found in CNI_PATH, the
//! process environment plus `CNI_COMMAND`, `CNI_CONTAINERID`, `CNI_NETNS`,
//! `CNI_IFNAME`, `CNI_ARGS`, `CNI_PATH`; the request config on stdin; stdout
//! parsed as a result or a CNI error. Built on `cni_protocol::delegate::exec`.

use std::path::PathBuf;

use cni_protocol::{delegate, CniArgs, CniEnv, CniError, CniResult, Command};
use serde_json::{Map, Value};

/// The attachment parameters of one call (libcni `RuntimeConf`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuntimeConf {
    pub container_id: String,
    pub netns: String,
    pub ifname: String,
    /// CNI_ARGS pairs, in order.
    pub args: Vec<(String, String)>,
    /// Capability args (CAP_ARGS), filtered per plugin into `runtimeConfig`.
    pub capability_args: Map<String, Value>,
}

impl RuntimeConf {
    /// The `K=V;K=V` form of the args.
    pub fn args_string(&self) -> String {
        self.args
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(";")
    }
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

/// Runs `plugin_type` for `command` with `conf` on stdin and returns its
/// stdout. `rt` is `None` for GC and STATUS (no attachment variables).
/// The plugin's stderr is forwarded to ours; its CNI error is kept as is.
pub fn exec_plugin(
    plugin_type: &str,
    command: Command,
    conf: &[u8],
    rt: Option<&RuntimeConf>,
    path: &[PathBuf],
) -> Result<Vec<u8>, CniError> {
    let args = match rt {
        Some(rt) => CniArgs::parse(&rt.args_string())?,
        None => CniArgs::default(),
    };
    let env = CniEnv {
        command,
        container_id: rt.and_then(|r| non_empty(&r.container_id)),
        netns: rt.and_then(|r| non_empty(&r.netns)),
        ifname: rt.and_then(|r| non_empty(&r.ifname)),
        args,
        path: path.to_vec(),
        netns_override: false,
    };
    delegate::exec(plugin_type, command, conf, &env)
}

/// Parses an ADD's stdout; a result without `cniVersion` is read as
/// `version_hint` (the list's version), as libcni's `fixupResultVersion`.
pub fn parse_add_result(stdout: &[u8], version_hint: &str) -> Result<CniResult, CniError> {
    let value: Value = serde_json::from_slice(stdout).map_err(|e| {
        CniError::decoding(
            "failed to decode the plugin's result",
            format!(
                "ADD printed {} bytes that are not a JSON result: {e}",
                stdout.len()
            ),
        )
    })?;
    CniResult::from_json(&value, version_hint)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cni_protocol::testutil::TempDir;

    #[test]
    fn env_and_stdin_reach_the_plugin() {
        let t = TempDir::new();
        let d = t.path().display();
        t.script(
            "rec",
            &format!(
                "#!/bin/sh\necho \"$CNI_COMMAND|$CNI_CONTAINERID|$CNI_NETNS|$CNI_IFNAME|$CNI_ARGS|$CNI_PATH\" > {d}/env\ncat > {d}/stdin\necho '{{}}'\n"
            ),
        );
        let rt = RuntimeConf {
            container_id: "c1".into(),
            netns: "/run/netns/x".into(),
            ifname: "eth1".into(),
            args: vec![("A".into(), "1".into()), ("B".into(), "2".into())],
            capability_args: Map::new(),
        };
        let path = vec![PathBuf::from("/nope"), t.path().to_path_buf()];
        exec_plugin("rec", Command::Add, b"{\"x\":1}", Some(&rt), &path).unwrap();
        let env = std::fs::read_to_string(t.path().join("env")).unwrap();
        assert_eq!(
            env.trim(),
            format!("ADD|c1|/run/netns/x|eth1|A=1;B=2|/nope:{d}")
        );
        assert_eq!(std::fs::read(t.path().join("stdin")).unwrap(), b"{\"x\":1}");
        exec_plugin("rec", Command::Gc, b"{}", None, &path).unwrap();
        let env = std::fs::read_to_string(t.path().join("env")).unwrap();
        assert_eq!(env.trim(), format!("GC|||||/nope:{d}"));
    }

    #[test]
    fn missing_binary_names_plugin_and_dirs() {
        let e = exec_plugin(
            "nosuch",
            Command::Del,
            b"{}",
            None,
            &[PathBuf::from("/a"), PathBuf::from("/b")],
        )
        .unwrap_err();
        let s = e.to_string();
        assert!(
            s.contains("nosuch") && s.contains("/a") && s.contains("/b"),
            "{s}"
        );
    }

    #[test]
    fn results_with_and_without_version() {
        let r = parse_add_result(br#"{"ips":[{"address":"10.0.0.2/24"}]}"#, "1.0.0").unwrap();
        assert_eq!(r.cni_version, "1.0.0");
        let r = parse_add_result(
            br#"{"cniVersion":"0.4.0","ips":[{"version":"4","address":"10.0.0.2/24"}]}"#,
            "1.0.0",
        )
        .unwrap();
        assert_eq!(r.cni_version, "0.4.0");
        assert_eq!(parse_add_result(b"", "1.0.0").unwrap_err().code, 6);
    }
}
