//! `cnm`: a cnitool-compatible CLI over a libcni-style runtime. It loads a
//! network list from NETCONFPATH, runs its plugin chain (ADD, CHECK, DEL,
//! GC, STATUS) and keeps libcni's result cache, in libcni's file format.
//!
//! Everything that reads the process environment, arguments or exits lives
//! in `main.rs`; this library takes explicit inputs so it can be tested.

#![forbid(unsafe_code)]

pub mod cache;
pub mod chain;
pub mod config;
pub mod error;
pub mod exec;

use std::path::{Component, Path, PathBuf};

use cni_protocol::CniResult;
use serde::Serialize;
use serde_json::{Map, Value};

pub use cache::{Cache, CacheEntry, CACHE_KIND, DEFAULT_CACHE_DIR};
pub use chain::{plugin_request, runtime_config, Runtime};
pub use config::{load_network, NetworkList, PluginConf};
pub use error::CnmError;
pub use exec::RuntimeConf;

/// cnitool's default NETCONFPATH.
pub const DEFAULT_NET_DIR: &str = "/etc/cni/net.d";

/// The command line help.
pub const USAGE: &str = "\
cnm: add, check, remove, gc or status network interfaces from a network namespace
  cnm add    <net> <netns>
  cnm check  <net> <netns>
  cnm del    <net> <netns>
  cnm gc     <net> [<netns>]
  cnm status <net> [<netns>]
Environment (as cnitool):
  NETCONFPATH      configuration directory (default /etc/cni/net.d)
  CNI_PATH         ':'-separated plugin directories (required)
  CNI_IFNAME       interface name in the container (default eth0)
  CNI_ARGS         K=V;K=V pairs passed to plugins
  CAP_ARGS         JSON object of capability args, e.g. {\"portMappings\":[...]}
  CNI_CONTAINERID  container ID (default: cnitool-<first 20 hex of sha512(netns path)>)
  CNI_CACHE_DIR    result cache directory (default /var/lib/cni)
gc DELs every cached attachment of <net> whose netns no longer exists, then
(cniVersion >= 1.1.0) sends GC to every plugin with the remaining ones as valid.";

/// The verbs of the CLI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Add,
    Check,
    Del,
    Gc,
    Status,
}

/// A parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    pub verb: Verb,
    pub network: String,
    /// Required for add/check/del; accepted and ignored for gc/status.
    pub netns: Option<String>,
}

/// Parses the arguments after the program name.
pub fn parse_cli(args: &[String]) -> Result<Invocation, CnmError> {
    let usage = |why: &str| CnmError::Usage(format!("{why}\n{USAGE}"));
    let verb = match args.first().map(String::as_str) {
        Some("add") => Verb::Add,
        Some("check") => Verb::Check,
        Some("del") => Verb::Del,
        Some("gc") => Verb::Gc,
        Some("status") => Verb::Status,
        Some(other) => return Err(usage(&format!("unknown command {other:?}"))),
        None => return Err(usage("missing command")),
    };
    let network = args
        .get(1)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| usage("missing network name"))?
        .clone();
    let netns = args.get(2).cloned();
    let needs_netns = matches!(verb, Verb::Add | Verb::Check | Verb::Del);
    if needs_netns && netns.as_deref().is_none_or(str::is_empty) {
        return Err(usage("missing netns path"));
    }
    if args.len() > 3 {
        return Err(usage(&format!("unexpected argument {:?}", args[3])));
    }
    Ok(Invocation {
        verb,
        network,
        netns,
    })
}

/// Settings read from the environment.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub conf_dir: PathBuf,
    pub cni_path: Vec<PathBuf>,
    pub ifname: String,
    pub cni_args: Vec<(String, String)>,
    pub capability_args: Map<String, Value>,
    pub cache_dir: PathBuf,
    /// CNI_CONTAINERID: overrides the ID derived from the netns path.
    pub container_id: Option<String>,
}

/// cnitool's CNI_ARGS parsing: `K=V;K=V`, every pair with a non-empty key
/// and value and exactly one `=`.
pub fn parse_cni_args(s: &str) -> Result<Vec<(String, String)>, CnmError> {
    cni_protocol::args::split_pairs(s, cni_protocol::args::ArgsSyntax::Cnitool).map_err(
        |cni_protocol::args::BadPair(pair)| {
            CnmError::Usage(format!(
                "invalid CNI_ARGS pair {pair:?}: expected KEY=VALUE"
            ))
        },
    )
}

impl Settings {
    /// Reads the variables through `get` (e.g. `|k| std::env::var(k).ok()`).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Settings, CnmError> {
        let var = |k: &str| get(k).filter(|v| !v.is_empty());
        let cni_path: Vec<PathBuf> = var("CNI_PATH")
            .unwrap_or_default()
            .split(':')
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
            .collect();
        if cni_path.is_empty() {
            return Err(CnmError::Usage(
                "CNI_PATH is not set: give the ':'-separated directories holding the plugin binaries (e.g. CNI_PATH=/usr/lib/cni)".into(),
            ));
        }
        let capability_args = match var("CAP_ARGS") {
            None => Map::new(),
            Some(text) => match serde_json::from_str::<Value>(&text) {
                Ok(Value::Object(m)) => m,
                Ok(_) => {
                    return Err(CnmError::Usage(
                        "CAP_ARGS must be a JSON object, e.g. {\"portMappings\":[...]}".into(),
                    ))
                }
                Err(e) => return Err(CnmError::Usage(format!("CAP_ARGS is not valid JSON: {e}"))),
            },
        };
        Ok(Settings {
            conf_dir: var("NETCONFPATH")
                .unwrap_or_else(|| DEFAULT_NET_DIR.into())
                .into(),
            cni_path,
            ifname: var("CNI_IFNAME").unwrap_or_else(|| "eth0".into()),
            cni_args: parse_cni_args(&var("CNI_ARGS").unwrap_or_default())?,
            capability_args,
            cache_dir: var("CNI_CACHE_DIR")
                .unwrap_or_else(|| DEFAULT_CACHE_DIR.into())
                .into(),
            container_id: var("CNI_CONTAINERID"),
        })
    }
}

/// Go's `filepath.Abs`: joined to `cwd` when relative, then cleaned
/// lexically (no symlink resolution).
pub fn absolute_path(path: &str, cwd: &Path) -> String {
    let joined = if Path::new(path).is_absolute() {
        PathBuf::from(path)
    } else {
        cwd.join(path)
    };
    let mut parts: Vec<String> = Vec::new();
    for c in joined.components() {
        match c {
            Component::Normal(s) => parts.push(s.to_string_lossy().into_owned()),
            Component::ParentDir => {
                parts.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    format!("/{}", parts.join("/"))
}

/// cnitool's container ID: `cnitool-` + the first 10 bytes of
/// sha512(netns path) in hex.
pub fn container_id_for(netns: &str) -> String {
    use sha2::{Digest, Sha512};
    let digest = Sha512::digest(netns.as_bytes());
    let hex: String = digest[..10].iter().map(|b| format!("{b:02x}")).collect();
    format!("cnitool-{hex}")
}

/// The result as cnitool prints it: its own version, 4-space indented.
pub fn format_result(result: &CniResult) -> Result<String, CnmError> {
    let v = result
        .to_json(&result.cni_version)
        .map_err(|e| CnmError::Usage(format!("cannot print the result: {e}")))?;
    let mut out = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
    v.serialize(&mut ser)
        .map_err(|e| CnmError::Usage(format!("cannot print the result: {e}")))?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// Runs one invocation; returns what to print on stdout (the ADD result).
pub fn run(inv: &Invocation, settings: &Settings, cwd: &Path) -> Result<Option<String>, CnmError> {
    let list = load_network(&settings.conf_dir, &inv.network)?;
    let runtime = Runtime::new(settings.cni_path.clone(), &settings.cache_dir);
    let rt = || {
        let netns = absolute_path(inv.netns.as_deref().unwrap_or_default(), cwd);
        RuntimeConf {
            container_id: settings
                .container_id
                .clone()
                .unwrap_or_else(|| container_id_for(&netns)),
            netns,
            ifname: settings.ifname.clone(),
            args: settings.cni_args.clone(),
            capability_args: settings.capability_args.clone(),
        }
    };
    match inv.verb {
        Verb::Add => runtime
            .add(&list, &rt())
            .and_then(|r| format_result(&r))
            .map(Some),
        Verb::Check => runtime.check(&list, &rt()).map(|()| None),
        Verb::Del => runtime.del(&list, &rt()).map(|()| None),
        Verb::Gc => {
            let valid = runtime.live_attachments(&list);
            runtime.gc(&list, Some(&valid)).map(|()| None)
        }
        Verb::Status => runtime.status(&list).map(|()| None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn cli_parsing() {
        let i = parse_cli(&args(&["add", "net", "/run/netns/x"])).unwrap();
        assert_eq!(
            (i.verb, i.network.as_str(), i.netns.as_deref()),
            (Verb::Add, "net", Some("/run/netns/x"))
        );
        assert_eq!(parse_cli(&args(&["gc", "net"])).unwrap().verb, Verb::Gc);
        assert_eq!(
            parse_cli(&args(&["status", "net", "/ignored"]))
                .unwrap()
                .netns
                .as_deref(),
            Some("/ignored")
        );
        for bad in [
            &["add", "net"][..],
            &["del"],
            &[],
            &["frob", "n", "x"],
            &["add", "n", "x", "y"],
            &["check", "n", ""],
        ] {
            let e = parse_cli(&args(bad)).unwrap_err();
            assert!(e.to_string().contains("cnm add"), "usage shown for {bad:?}");
        }
    }

    #[test]
    fn settings_from_env() {
        let env: HashMap<&str, &str> = [
            ("CNI_PATH", "/a::/b"),
            ("CNI_ARGS", "IgnoreUnknown=1;IP=10.0.0.5/24"),
            ("CAP_ARGS", r#"{"mac":"c2:11:22:33:44:55"}"#),
            ("CNI_IFNAME", ""),
        ]
        .into();
        let s = Settings::from_lookup(|k| env.get(k).map(|v| v.to_string())).unwrap();
        assert_eq!(s.cni_path, [PathBuf::from("/a"), PathBuf::from("/b")]);
        assert_eq!(s.ifname, "eth0");
        assert_eq!(s.conf_dir, PathBuf::from("/etc/cni/net.d"));
        assert_eq!(s.cache_dir, PathBuf::from("/var/lib/cni"));
        assert_eq!(s.cni_args[1], ("IP".to_string(), "10.0.0.5/24".to_string()));
        assert_eq!(s.capability_args["mac"], "c2:11:22:33:44:55");
        assert_eq!(s.container_id, None);

        assert!(Settings::from_lookup(|_| None)
            .unwrap_err()
            .to_string()
            .contains("CNI_PATH"));
        for (k, v, want) in [
            ("CAP_ARGS", "[1]", "JSON object"),
            ("CAP_ARGS", "{", "not valid JSON"),
            ("CNI_ARGS", "A=1;", "invalid CNI_ARGS pair"),
            ("CNI_ARGS", "A=", "invalid CNI_ARGS pair"),
            ("CNI_ARGS", "A=b=c", "invalid CNI_ARGS pair"),
        ] {
            let e = Settings::from_lookup(|key| match key {
                "CNI_PATH" => Some("/x".into()),
                _ if key == k => Some(v.into()),
                _ => None,
            })
            .unwrap_err();
            assert!(e.to_string().contains(want), "{k}={v}: {e}");
        }
    }

    #[test]
    fn container_id_like_cnitool() {
        // sha512("/run/netns/test") computed independently (coreutils sha512sum).
        assert_eq!(
            container_id_for("/run/netns/test"),
            "cnitool-8ae22670664f2caaa6b3"
        );
        assert_eq!(container_id_for("/run/netns/test").len(), 28);
    }

    #[test]
    fn absolute_like_go() {
        let cwd = Path::new("/home/u");
        assert_eq!(absolute_path("/run/netns/a", cwd), "/run/netns/a");
        assert_eq!(absolute_path("ns/../x/./y", cwd), "/home/u/x/y");
        assert_eq!(absolute_path("//a//b/", cwd), "/a/b");
        assert_eq!(absolute_path("../../../..", cwd), "/");
    }
}
