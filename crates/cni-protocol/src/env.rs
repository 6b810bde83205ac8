//! The `CNI_*` environment of a plugin call, validated like libcni's `skel`
//! (`pkg/skel/skel.go`, `pkg/utils/utils.go`).

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use crate::args::CniArgs;
use crate::error::CniError;

/// `CNI_COMMAND` values of spec 1.1.0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Command {
    Add,
    Del,
    Check,
    Version,
    Gc,
    Status,
}

impl Command {
    pub fn as_str(&self) -> &'static str {
        match self {
            Command::Add => "ADD",
            Command::Del => "DEL",
            Command::Check => "CHECK",
            Command::Version => "VERSION",
            Command::Gc => "GC",
            Command::Status => "STATUS",
        }
    }
}

impl FromStr for Command {
    type Err = CniError;

    /// Exact upper-case names; anything else is code 4 `unknown CNI_COMMAND: X`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "ADD" => Command::Add,
            "DEL" => Command::Del,
            "CHECK" => Command::Check,
            "VERSION" => Command::Version,
            "GC" => Command::Gc,
            "STATUS" => Command::Status,
            _ => {
                return Err(CniError::invalid_env(
                    format!("unknown CNI_COMMAND: {s}"),
                    "CNI_COMMAND must be one of ADD, DEL, CHECK, VERSION, GC, STATUS",
                ))
            }
        })
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The validated environment of one plugin call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CniEnv {
    pub command: Command,
    pub container_id: Option<String>,
    pub netns: Option<String>,
    pub ifname: Option<String>,
    pub args: CniArgs,
    pub path: Vec<PathBuf>,
    /// `CNI_NETNS_OVERRIDE` is `1` or `true` (case-insensitive).
    pub netns_override: bool,
}

/// Which variables each command requires (libcni HEAD `skel`, which also
/// requires `CNI_PATH` where the spec says it is optional).
fn required(cmd: Command) -> &'static [&'static str] {
    match cmd {
        Command::Add | Command::Check => {
            &["CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH"]
        }
        Command::Del => &["CNI_CONTAINERID", "CNI_IFNAME", "CNI_PATH"],
        Command::Gc | Command::Status => &["CNI_PATH"],
        Command::Version => &[],
    }
}

impl CniEnv {
    /// Reads and validates the environment through `get` (e.g.
    /// `|k| std::env::var(k).ok()`). An empty variable counts as missing.
    /// Errors (code 4): missing/unknown `CNI_COMMAND`, `required env
    /// variables [A,B] missing`, an invalid container ID or interface name,
    /// a malformed `CNI_ARGS`. VERSION validates nothing beyond the command.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<CniEnv, CniError> {
        let var = |k: &str| get(k).filter(|v| !v.is_empty());
        let command: Command = match var("CNI_COMMAND") {
            Some(c) => c.parse()?,
            None => {
                return Err(CniError::invalid_env(
                    "required env variables [CNI_COMMAND] missing",
                    "CNI_COMMAND is not set",
                ))
            }
        };
        let missing: Vec<&str> = required(command)
            .iter()
            .copied()
            .filter(|k| var(k).is_none())
            .collect();
        if !missing.is_empty() {
            return Err(CniError::invalid_env(
                format!("required env variables [{}] missing", missing.join(",")),
                format!("{command} needs {}", required(command).join(", ")),
            ));
        }
        let container_id = var("CNI_CONTAINERID");
        let ifname = var("CNI_IFNAME");
        let args_raw = var("CNI_ARGS").unwrap_or_default();
        let args = if command == Command::Version {
            CniArgs::parse(&args_raw).unwrap_or_default()
        } else {
            if let Some(id) = &container_id {
                validate_container_id(id)?;
            }
            if let Some(name) = &ifname {
                validate_ifname(name)?;
            }
            CniArgs::parse(&args_raw)?
        };
        let path = var("CNI_PATH")
            .map(|p| {
                p.split(':')
                    .filter(|d| !d.is_empty())
                    .map(PathBuf::from)
                    .collect()
            })
            .unwrap_or_default();
        let netns_override =
            var("CNI_NETNS_OVERRIDE").is_some_and(|v| v == "1" || v.eq_ignore_ascii_case("true"));
        Ok(CniEnv {
            command,
            container_id,
            netns: var("CNI_NETNS"),
            ifname,
            args,
            path,
            netns_override,
        })
    }

    /// `CNI_PATH` as a `:`-joined string (for delegation).
    pub fn path_string(&self) -> String {
        self.path
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(":")
    }
}

/// `^[a-zA-Z0-9][a-zA-Z0-9_.-]*$` (ASCII only).
fn id_chars_ok(s: &str) -> bool {
    cnm_names::is_cni_identifier(s)
}

/// CNI_CONTAINERID rule of spec 1.0+; code 4.
pub fn validate_container_id(id: &str) -> Result<(), CniError> {
    if id.is_empty() {
        return Err(CniError::invalid_env(
            "missing containerID",
            "CNI_CONTAINERID is empty",
        ));
    }
    if !id_chars_ok(id) {
        return Err(CniError::invalid_env(
            "invalid characters in containerID",
            format!("CNI_CONTAINERID {id:?} must match ^[a-zA-Z0-9][a-zA-Z0-9_.-]*$"),
        ));
    }
    Ok(())
}

/// Linux interface name rules (libcni `ValidateInterfaceName`, via
/// `cnm_names`); code 4.
pub fn validate_ifname(name: &str) -> Result<(), CniError> {
    use cnm_names::IfnameError as E;
    let bad = |msg: &str, why: String| Err(CniError::invalid_env(msg, why));
    match cnm_names::validate_ifname(name) {
        Ok(()) => Ok(()),
        Err(E::Empty) => bad("interface name is empty", "CNI_IFNAME is empty".into()),
        Err(E::TooLong(_)) => bad(
            "interface name is too long",
            format!(
                "CNI_IFNAME {name:?} is {} bytes; the limit is 15",
                name.len()
            ),
        ),
        Err(E::Dot(_)) => bad("interface name is . or ..", format!("CNI_IFNAME {name:?}")),
        Err(E::Forbidden(_) | E::NotPortable { .. }) => bad(
            "interface name contains / or : or whitespace characters",
            format!("CNI_IFNAME {name:?}"),
        ),
    }
}

/// Network `name` rule (same characters as the container ID); code 7.
pub fn validate_network_name(name: &str) -> Result<(), CniError> {
    if name.is_empty() {
        return Err(CniError::invalid_config(
            "missing network name",
            "the network configuration has no \"name\"",
        ));
    }
    if cnm_names::validate_network_name(name).is_err() {
        return Err(CniError::invalid_config(
            "invalid characters found in network name",
            format!("name {name:?} must match ^[a-zA-Z0-9][a-zA-Z0-9_.-]*$"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::code;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> Result<CniEnv, CniError> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        CniEnv::from_lookup(move |k| m.get(k).cloned())
    }

    const ADD: &[(&str, &str)] = &[
        ("CNI_COMMAND", "ADD"),
        ("CNI_CONTAINERID", "Abc_1.2-3"),
        ("CNI_NETNS", "/run/netns/x"),
        ("CNI_IFNAME", "eth0"),
        ("CNI_PATH", "/opt/cni/bin::/usr/lib/cni"),
    ];

    fn with(base: &[(&str, &str)], k: &str, v: Option<&str>) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = base
            .iter()
            .filter(|(bk, _)| *bk != k)
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        if let Some(v) = v {
            out.push((k.into(), v.into()));
        }
        out
    }

    fn env_owned(pairs: &[(String, String)]) -> Result<CniEnv, CniError> {
        let v: Vec<(&str, &str)> = pairs
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        env(&v)
    }

    #[test]
    fn command_parse_display() {
        for c in ["ADD", "DEL", "CHECK", "VERSION", "GC", "STATUS"] {
            assert_eq!(c.parse::<Command>().unwrap().to_string(), c);
        }
        let e = "add".parse::<Command>().unwrap_err();
        assert_eq!(e.code, code::INVALID_ENV);
        assert_eq!(e.msg, "unknown CNI_COMMAND: add");
    }

    #[test]
    fn full_add_env() {
        let e = env(ADD).unwrap();
        assert_eq!(e.command, Command::Add);
        assert_eq!(e.container_id.as_deref(), Some("Abc_1.2-3"));
        assert_eq!(e.netns.as_deref(), Some("/run/netns/x"));
        assert_eq!(e.ifname.as_deref(), Some("eth0"));
        assert_eq!(
            e.path,
            vec![PathBuf::from("/opt/cni/bin"), PathBuf::from("/usr/lib/cni")]
        );
        assert_eq!(e.path_string(), "/opt/cni/bin:/usr/lib/cni");
        assert!(e.args.is_empty());
        assert!(!e.netns_override);
    }

    #[test]
    fn missing_vars_named_in_order() {
        let e = env(&[("CNI_COMMAND", "ADD")]).unwrap_err();
        assert_eq!(e.code, code::INVALID_ENV);
        assert_eq!(
            e.msg,
            "required env variables [CNI_CONTAINERID,CNI_NETNS,CNI_IFNAME,CNI_PATH] missing"
        );
        let e = env(&[("CNI_COMMAND", "DEL"), ("CNI_NETNS", "")]).unwrap_err();
        assert_eq!(
            e.msg,
            "required env variables [CNI_CONTAINERID,CNI_IFNAME,CNI_PATH] missing"
        );
        let e = env(&[("CNI_COMMAND", "GC")]).unwrap_err();
        assert_eq!(e.msg, "required env variables [CNI_PATH] missing");
        let e = env(&[("CNI_COMMAND", "STATUS")]).unwrap_err();
        assert_eq!(e.msg, "required env variables [CNI_PATH] missing");
        // An empty value counts as missing.
        let e = env_owned(&with(ADD, "CNI_NETNS", Some(""))).unwrap_err();
        assert_eq!(e.msg, "required env variables [CNI_NETNS] missing");
        let e = env(&[]).unwrap_err();
        assert_eq!(e.code, code::INVALID_ENV);
        assert!(e.msg.contains("CNI_COMMAND"));
    }

    #[test]
    fn del_without_netns_and_gc_status_without_attachment() {
        let d = env_owned(
            &with(ADD, "CNI_NETNS", None)
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        if k == "CNI_COMMAND" {
                            "DEL".into()
                        } else {
                            v.clone()
                        },
                    )
                })
                .collect::<Vec<_>>(),
        )
        .unwrap();
        assert_eq!(d.command, Command::Del);
        assert_eq!(d.netns, None);
        let g = env(&[("CNI_COMMAND", "GC"), ("CNI_PATH", "/bin")]).unwrap();
        assert_eq!(
            (g.command, g.container_id, g.ifname),
            (Command::Gc, None, None)
        );
        let s = env(&[("CNI_COMMAND", "STATUS"), ("CNI_PATH", "/bin")]).unwrap();
        assert_eq!(s.command, Command::Status);
    }

    #[test]
    fn version_needs_nothing_and_ignores_junk() {
        let v = env(&[
            ("CNI_COMMAND", "VERSION"),
            ("CNI_NETNS", "dummy"),
            ("CNI_IFNAME", "dummy/with/slash"),
            ("CNI_ARGS", "garbage"),
        ])
        .unwrap();
        assert_eq!(v.command, Command::Version);
    }

    #[test]
    fn unknown_command() {
        let e = env(&[("CNI_COMMAND", "FROB")]).unwrap_err();
        assert_eq!((e.code, e.msg.as_str()), (4, "unknown CNI_COMMAND: FROB"));
    }

    #[test]
    fn container_id_rules() {
        for ok in [
            "a",
            "A",
            "0",
            "ABC-def_1.2",
            "9f86d081884c7d659a2feaa0c55ad015",
        ] {
            assert!(validate_container_id(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-a", "_a", ".a", "a b", "a/b", "a:b", "é", "a\n"] {
            assert_eq!(
                validate_container_id(bad).unwrap_err().code,
                code::INVALID_ENV,
                "{bad:?}"
            );
        }
        let e = env_owned(&with(ADD, "CNI_CONTAINERID", Some("bad id"))).unwrap_err();
        assert_eq!(
            (e.code, e.msg.as_str()),
            (4, "invalid characters in containerID")
        );
        assert!(e.details.contains("bad id"));
    }

    #[test]
    fn ifname_rules() {
        for ok in ["eth0", "a", "123456789012345", "veth-x_y.z", "ä"] {
            assert!(validate_ifname(ok).is_ok(), "{ok}");
        }
        for (bad, msg) in [
            ("", "interface name is empty"),
            ("1234567890123456", "interface name is too long"),
            ("ääääääää", "interface name is too long"), // 16 bytes, 8 chars
            (".", "interface name is . or .."),
            ("..", "interface name is . or .."),
            (
                "a/b",
                "interface name contains / or : or whitespace characters",
            ),
            (
                "a:b",
                "interface name contains / or : or whitespace characters",
            ),
            (
                "a b",
                "interface name contains / or : or whitespace characters",
            ),
            (
                "a\u{2003}b",
                "interface name contains / or : or whitespace characters",
            ),
        ] {
            let e = validate_ifname(bad).unwrap_err();
            assert_eq!(
                (e.code, e.msg.as_str()),
                (code::INVALID_ENV, msg),
                "{bad:?}"
            );
        }
        let e = env_owned(&with(ADD, "CNI_IFNAME", Some("eth0:1"))).unwrap_err();
        assert_eq!(e.code, code::INVALID_ENV);
        assert!(e.details.contains("eth0:1"));
    }

    #[test]
    fn network_name_rules() {
        assert!(validate_network_name("my-net_1.0").is_ok());
        let e = validate_network_name("").unwrap_err();
        assert_eq!(
            (e.code, e.msg.as_str()),
            (code::INVALID_NETWORK_CONFIG, "missing network name")
        );
        for bad in ["-net", "a/b", "a b", "../x", "net!"] {
            let e = validate_network_name(bad).unwrap_err();
            assert_eq!(e.code, code::INVALID_NETWORK_CONFIG, "{bad}");
            assert!(e.details.contains(bad));
        }
    }

    #[test]
    fn cni_args_and_override() {
        let e = env_owned(&with(
            ADD,
            "CNI_ARGS",
            Some("IgnoreUnknown=1;K8S_POD_NAME=p"),
        ))
        .unwrap();
        assert!(e.args.ignore_unknown());
        assert_eq!(e.args.get("K8S_POD_NAME"), Some("p"));
        let err = env_owned(&with(ADD, "CNI_ARGS", Some("novalue"))).unwrap_err();
        assert_eq!(err.code, code::INVALID_ENV);
        for (v, want) in [
            ("1", true),
            ("true", true),
            ("TrUe", true),
            ("0", false),
            ("yes", false),
        ] {
            let e = env_owned(&with(ADD, "CNI_NETNS_OVERRIDE", Some(v))).unwrap();
            assert_eq!(e.netns_override, want, "{v}");
        }
    }
}
