//! The plugin skeleton (libcni `pkg/skel`): environment, stdin, version
//! checks, dispatch to a [`Plugin`], and the exact stdout/stderr/exit status
//! to produce. It never exits the process; the binary does.

use std::io::{Read, Write};

use serde_json::{json, Value};

use crate::config::NetConf;
use crate::env::{CniEnv, Command};
use crate::error::CniError;
use crate::result::CniResult;
use crate::version::{is_supported, version_at_least, CURRENT_VERSION, SUPPORTED_VERSIONS};

/// The largest configuration read from stdin (16 MiB).
pub const MAX_STDIN: u64 = 16 * 1024 * 1024;

/// The `msg` of the code-5 error for a stdin above [`MAX_STDIN`].
const TOO_LARGE: &str = "configuration too large";

/// One call: the validated environment, the parsed config and the exact
/// stdin bytes (pass these on when delegating).
#[derive(Debug, Clone)]
pub struct Request {
    pub env: CniEnv,
    pub conf: NetConf,
    pub stdin: Vec<u8>,
}

/// The verbs a plugin implements. VERSION is answered by [`run`].
pub trait Plugin {
    fn add(&self, req: &Request) -> Result<CniResult, CniError>;
    fn del(&self, req: &Request) -> Result<(), CniError>;
    fn check(&self, req: &Request) -> Result<(), CniError>;
    fn gc(&self, req: &Request) -> Result<(), CniError>;
    fn status(&self, req: &Request) -> Result<(), CniError>;
    /// e.g. `"simplebridge 0.1.0"`; printed when CNI_COMMAND is empty.
    fn about(&self) -> String;
}

/// What the binary must write and the status it must exit with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub exit_code: i32,
}

/// Reads at most [`MAX_STDIN`] bytes: a read error or a bigger input is
/// code 5.
pub fn read_stdin(r: &mut dyn Read) -> Result<Vec<u8>, CniError> {
    let mut buf = Vec::new();
    r.take(MAX_STDIN + 1)
        .read_to_end(&mut buf)
        .map_err(|e| CniError::io("failed to read the configuration from stdin", e.to_string()))?;
    if buf.len() as u64 > MAX_STDIN {
        return Err(CniError::io(
            TOO_LARGE,
            format!("stdin holds more than {MAX_STDIN} bytes"),
        ));
    }
    Ok(buf)
}

/// The `cniVersion` to put in an error when the config could not be
/// parsed: the config's own if readable and supported, else 1.1.0.
fn error_version(stdin: &[u8]) -> String {
    serde_json::from_slice::<Value>(stdin)
        .ok()
        .and_then(|v| {
            v.get("cniVersion")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .filter(|v| is_supported(v))
        .unwrap_or_else(|| CURRENT_VERSION.to_string())
}

fn pretty(v: &Value) -> Vec<u8> {
    let mut out = serde_json::to_vec_pretty(v).unwrap_or_default();
    out.push(b'\n');
    out
}

fn fail(plugin: &dyn Plugin, what: &str, err: &CniError, version: &str) -> Outcome {
    let mut stderr = Vec::new();
    let _ = writeln!(
        stderr,
        "{}: {what} failed (code {}): {err}",
        plugin.about(),
        err.code
    );
    Outcome {
        stdout: pretty(&err.to_json(version)),
        stderr,
        exit_code: 1,
    }
}

/// VERSION: `{"cniVersion": <stdin's if supported, else 1.1.0>, "supportedVersions": [...]}`.
fn version_reply(plugin: &dyn Plugin, stdin: &mut dyn Read) -> Outcome {
    let data = match read_stdin(stdin) {
        Ok(d) => d,
        Err(e) if e.msg == TOO_LARGE => Vec::new(),
        Err(e) => return fail(plugin, "VERSION", &e, CURRENT_VERSION),
    };
    let reply = json!({
        "cniVersion": error_version(&data),
        "supportedVersions": SUPPORTED_VERSIONS,
    });
    Outcome {
        stdout: pretty(&reply),
        ..Outcome::default()
    }
}

/// The minimum config version for a verb, as libcni's skel enforces.
fn min_version(cmd: Command) -> Option<&'static str> {
    match cmd {
        Command::Check => Some("0.4.0"),
        Command::Gc | Command::Status => Some("1.1.0"),
        _ => None,
    }
}

/// Runs one plugin call. `get_env` reads variables (e.g.
/// `|k| std::env::var(k).ok()`); `stdin` is read up to [`MAX_STDIN`].
pub fn run(
    plugin: &dyn Plugin,
    get_env: impl Fn(&str) -> Option<String>,
    stdin: &mut dyn Read,
) -> Outcome {
    if get_env("CNI_COMMAND").is_none_or(|c| c.is_empty()) {
        let mut stderr = Vec::new();
        let _ = writeln!(stderr, "{}", plugin.about());
        let _ = writeln!(
            stderr,
            "CNI protocol versions supported: {}",
            SUPPORTED_VERSIONS.join(", ")
        );
        return Outcome {
            stderr,
            ..Outcome::default()
        };
    }
    let env = match CniEnv::from_lookup(&get_env) {
        Ok(env) => env,
        Err(e) => {
            let data = read_stdin(stdin).unwrap_or_default();
            return fail(plugin, "environment check", &e, &error_version(&data));
        }
    };
    let cmd = env.command;
    if cmd == Command::Version {
        return version_reply(plugin, stdin);
    }
    let what = cmd.as_str();
    let data = match read_stdin(stdin) {
        Ok(d) => d,
        Err(e) => return fail(plugin, what, &e, CURRENT_VERSION),
    };
    let conf = match NetConf::parse_for(&data, cmd) {
        Ok(c) => c,
        Err(e) => return fail(plugin, what, &e, &error_version(&data)),
    };
    let version = conf.cni_version.clone();
    if let Some(min) = min_version(cmd) {
        if !version_at_least(&version, min) {
            let e = CniError::incompatible_version(
                format!("config version does not allow {what}"),
                format!("config is {version:?}; {what} needs cniVersion {min} or later"),
            );
            return fail(plugin, what, &e, &version);
        }
    }
    let req = Request {
        env,
        conf,
        stdin: data,
    };
    let res = match cmd {
        Command::Add => plugin.add(&req).and_then(|r| r.to_json(&version)).map(Some),
        Command::Del => plugin.del(&req).map(|()| None),
        Command::Check => plugin.check(&req).map(|()| None),
        Command::Gc => plugin.gc(&req).map(|()| None),
        Command::Status => plugin.status(&req).map(|()| None),
        // Answered above, before stdin was parsed as a config.
        Command::Version => Ok(None),
    };
    match res {
        Ok(Some(result)) => Outcome {
            stdout: pretty(&result),
            ..Outcome::default()
        },
        Ok(None) => Outcome::default(),
        Err(e) => fail(plugin, what, &e, &version),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::code;
    use crate::result::{Interface, IpConfig, Route};
    use std::cell::RefCell;
    use std::collections::HashMap;

    /// A fake plugin: records the verbs it saw, returns a fixed result or error.
    struct Fake {
        fail: Option<CniError>,
        seen: RefCell<Vec<(Command, String, Vec<u8>)>>,
    }

    impl Fake {
        fn ok() -> Fake {
            Fake {
                fail: None,
                seen: RefCell::new(Vec::new()),
            }
        }
        fn failing(e: CniError) -> Fake {
            Fake {
                fail: Some(e),
                seen: RefCell::new(Vec::new()),
            }
        }
        fn record(&self, req: &Request) -> Result<(), CniError> {
            self.seen.borrow_mut().push((
                req.env.command,
                req.conf.name.clone(),
                req.stdin.clone(),
            ));
            match &self.fail {
                Some(e) => Err(e.clone()),
                None => Ok(()),
            }
        }
    }

    impl Plugin for Fake {
        fn add(&self, req: &Request) -> Result<CniResult, CniError> {
            self.record(req)?;
            Ok(CniResult {
                cni_version: "1.1.0".into(),
                interfaces: vec![Interface {
                    name: "eth0".into(),
                    mac: Some("02:00:00:00:00:01".into()),
                    mtu: Some(1500),
                    sandbox: req.env.netns.clone(),
                    ..Default::default()
                }],
                ips: vec![IpConfig {
                    address: "10.22.0.5/16".parse().unwrap(),
                    gateway: Some("10.22.0.1".parse().unwrap()),
                    interface: Some(0),
                }],
                routes: vec![Route {
                    dst: "0.0.0.0/0".parse().unwrap(),
                    gw: None,
                    mtu: None,
                    advmss: None,
                    priority: Some(5),
                    table: None,
                    scope: None,
                }],
                dns: Default::default(),
            })
        }
        fn del(&self, req: &Request) -> Result<(), CniError> {
            self.record(req)
        }
        fn check(&self, req: &Request) -> Result<(), CniError> {
            self.record(req)
        }
        fn gc(&self, req: &Request) -> Result<(), CniError> {
            self.record(req)
        }
        fn status(&self, req: &Request) -> Result<(), CniError> {
            self.record(req)
        }
        fn about(&self) -> String {
            "fake 0.0.1".into()
        }
    }

    fn vars(cmd: &str) -> HashMap<String, String> {
        [
            ("CNI_COMMAND", cmd),
            ("CNI_CONTAINERID", "c1"),
            ("CNI_NETNS", "/run/netns/c1"),
            ("CNI_IFNAME", "eth0"),
            ("CNI_PATH", "/opt/cni/bin"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    fn go(p: &dyn Plugin, env: &HashMap<String, String>, stdin: &[u8]) -> Outcome {
        let mut input = stdin;
        run(p, |k| env.get(k).cloned(), &mut input)
    }

    fn stdout_json(o: &Outcome) -> Value {
        serde_json::from_slice(&o.stdout).unwrap()
    }

    fn conf(ver: &str) -> Vec<u8> {
        format!(r#"{{"cniVersion":"{ver}","name":"net1","type":"fake","extra":{{"k":1}}}}"#)
            .into_bytes()
    }

    #[test]
    fn version_command() {
        let p = Fake::ok();
        for (stdin, want) in [
            (&b""[..], "1.1.0"),
            (br#"{"cniVersion":"0.3.1"}"#, "0.3.1"),
            (br#"{"cniVersion":"9.9.9"}"#, "1.1.0"),
            (br#"not json"#, "1.1.0"),
        ] {
            let o = go(&p, &vars("VERSION"), stdin);
            assert_eq!(o.exit_code, 0);
            assert_eq!(
                stdout_json(&o),
                json!({"cniVersion": want,
                    "supportedVersions": ["0.1.0","0.2.0","0.3.0","0.3.1","0.4.0","1.0.0","1.1.0"]})
            );
        }
        // The libcni probe: only CNI_COMMAND plus dummies.
        let env: HashMap<String, String> = [("CNI_COMMAND", "VERSION"), ("CNI_NETNS", "dummy")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(go(&p, &env, b"").exit_code, 0);
        assert!(p.seen.borrow().is_empty());
    }

    #[test]
    fn empty_command_prints_about() {
        let o = go(&Fake::ok(), &HashMap::new(), b"");
        assert_eq!(o.exit_code, 0);
        assert!(o.stdout.is_empty());
        let err = String::from_utf8(o.stderr).unwrap();
        assert_eq!(
            err,
            "fake 0.0.1\nCNI protocol versions supported: 0.1.0, 0.2.0, 0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0\n"
        );
    }

    #[test]
    fn add_prints_result_in_config_version() {
        let p = Fake::ok();
        let o = go(&p, &vars("ADD"), &conf("0.3.1"));
        assert_eq!(o.exit_code, 0, "{}", String::from_utf8_lossy(&o.stderr));
        assert!(o.stderr.is_empty());
        assert_eq!(
            stdout_json(&o),
            json!({"cniVersion":"0.3.1",
                "interfaces":[{"name":"eth0","mac":"02:00:00:00:00:01","sandbox":"/run/netns/c1"}],
                "ips":[{"version":"4","interface":0,"address":"10.22.0.5/16","gateway":"10.22.0.1"}],
                "routes":[{"dst":"0.0.0.0/0"}]})
        );
        let o = go(&p, &vars("ADD"), &conf("1.1.0"));
        assert_eq!(o.exit_code, 0);
        assert_eq!(
            stdout_json(&o),
            json!({"cniVersion":"1.1.0",
                "interfaces":[{"name":"eth0","mac":"02:00:00:00:00:01","mtu":1500,"sandbox":"/run/netns/c1"}],
                "ips":[{"interface":0,"address":"10.22.0.5/16","gateway":"10.22.0.1"}],
                "routes":[{"dst":"0.0.0.0/0","priority":5}]})
        );
        let o = go(&p, &vars("ADD"), &conf("0.2.0"));
        assert_eq!(
            stdout_json(&o),
            json!({"cniVersion":"0.2.0","ip4":{"ip":"10.22.0.5/16","gateway":"10.22.0.1","routes":[{"dst":"0.0.0.0/0"}]}})
        );
        // The plugin got the exact stdin bytes and the parsed name.
        let seen = p.seen.borrow();
        assert_eq!(seen[0], (Command::Add, "net1".to_string(), conf("0.3.1")));
    }

    #[test]
    fn plugin_error_is_printed_with_exit_1() {
        let p = Fake::failing(CniError::new(
            code::IPAM,
            "no addresses left",
            "range 10.22.0.0/16 is full",
        ));
        let o = go(&p, &vars("ADD"), &conf("1.0.0"));
        assert_eq!(o.exit_code, 1);
        assert_eq!(
            stdout_json(&o),
            json!({"cniVersion":"1.0.0","code":101,"msg":"no addresses left","details":"range 10.22.0.0/16 is full"})
        );
        let err = String::from_utf8(o.stderr).unwrap();
        assert!(
            err.contains("ADD failed") && err.contains("no addresses left"),
            "{err}"
        );
        for cmd in ["DEL", "CHECK"] {
            let o = go(&p, &vars(cmd), &conf("1.0.0"));
            assert_eq!(
                (o.exit_code, stdout_json(&o)["code"].clone()),
                (1, json!(101)),
                "{cmd}"
            );
        }
    }

    #[test]
    fn del_check_gc_status_success_print_nothing() {
        let p = Fake::ok();
        for cmd in ["DEL", "CHECK", "GC", "STATUS"] {
            let o = go(&p, &vars(cmd), &conf("1.1.0"));
            assert_eq!(
                o.exit_code,
                0,
                "{cmd}: {}",
                String::from_utf8_lossy(&o.stdout)
            );
            assert!(o.stdout.is_empty() && o.stderr.is_empty(), "{cmd}");
        }
        let cmds: Vec<Command> = p.seen.borrow().iter().map(|s| s.0).collect();
        assert_eq!(
            cmds,
            vec![Command::Del, Command::Check, Command::Gc, Command::Status]
        );
    }

    #[test]
    fn malformed_prev_result_fails_check_but_not_del_or_gc() {
        let bytes = |ver: &str| {
            format!(
                r#"{{"cniVersion":"{ver}","name":"net1","type":"fake","prevResult":{{"ips":[{{"version":"6","address":"10.0.0.2/24"}}]}}}}"#
            )
            .into_bytes()
        };
        let p = Fake::ok();
        for cmd in ["DEL", "GC"] {
            let o = go(&p, &vars(cmd), &bytes("1.1.0"));
            assert_eq!(
                o.exit_code,
                0,
                "{cmd}: {}",
                String::from_utf8_lossy(&o.stdout)
            );
        }
        // 0.4.0 prevResult rules (ips[].version present and mismatched).
        let o = go(&p, &vars("DEL"), &bytes("0.4.0"));
        assert_eq!(o.exit_code, 0, "{}", String::from_utf8_lossy(&o.stdout));
        assert_eq!(p.seen.borrow().len(), 3, "DEL and GC reached the plugin");
        for cmd in ["CHECK", "ADD"] {
            let o = go(&p, &vars(cmd), &bytes("0.4.0"));
            assert_eq!(o.exit_code, 1, "{cmd}");
            let j = stdout_json(&o);
            assert_eq!(j["code"], 6, "{cmd}: {j}");
            assert_eq!(j["msg"], "failed to decode prevResult");
        }
        assert_eq!(p.seen.borrow().len(), 3, "CHECK and ADD did not");
    }

    #[test]
    fn del_sees_the_prev_result_decode_error() {
        struct Seen(RefCell<Option<(bool, Option<CniError>)>>);
        impl Plugin for Seen {
            fn add(&self, _: &Request) -> Result<CniResult, CniError> {
                Ok(CniResult::default())
            }
            fn del(&self, r: &Request) -> Result<(), CniError> {
                *self.0.borrow_mut() = Some((
                    r.conf.prev_result.is_some(),
                    r.conf.prev_result_error.clone(),
                ));
                Ok(())
            }
            fn check(&self, _: &Request) -> Result<(), CniError> {
                Ok(())
            }
            fn gc(&self, _: &Request) -> Result<(), CniError> {
                Ok(())
            }
            fn status(&self, _: &Request) -> Result<(), CniError> {
                Ok(())
            }
            fn about(&self) -> String {
                "seen".into()
            }
        }
        let p = Seen(RefCell::new(None));
        let conf = br#"{"cniVersion":"1.0.0","name":"n","prevResult":{"ips":"x"}}"#;
        assert_eq!(go(&p, &vars("DEL"), conf).exit_code, 0);
        let (has_prev, err) = p.0.borrow_mut().take().unwrap();
        assert!(!has_prev);
        assert_eq!(err.unwrap().code, code::DECODING_FAILURE);
    }

    #[test]
    fn verb_version_gates() {
        let p = Fake::ok();
        for (cmd, ver) in [
            ("CHECK", "0.3.1"),
            ("CHECK", "0.1.0"),
            ("GC", "1.0.0"),
            ("STATUS", "0.4.0"),
        ] {
            let o = go(&p, &vars(cmd), &conf(ver));
            assert_eq!(o.exit_code, 1);
            let j = stdout_json(&o);
            assert_eq!(j["code"], 1, "{cmd} {ver}");
            assert_eq!(j["msg"], format!("config version does not allow {cmd}"));
            assert_eq!(j["cniVersion"], ver);
        }
        assert!(go(&p, &vars("CHECK"), &conf("0.4.0")).exit_code == 0);
        assert!(
            p.seen.borrow().len() == 1,
            "gated verbs must not reach the plugin"
        );
    }

    #[test]
    fn error_codes_end_to_end() {
        let p = Fake::ok();
        let mut missing = vars("ADD");
        missing.remove("CNI_NETNS");
        missing.remove("CNI_IFNAME");
        let mut bad_id = vars("DEL");
        bad_id.insert("CNI_CONTAINERID".into(), "-x".into());
        type Case = (
            HashMap<String, String>,
            Vec<u8>,
            u32,
            &'static str,
            &'static str,
        );
        let cases: Vec<Case> = vec![
            (
                missing,
                conf("1.0.0"),
                4,
                "required env variables [CNI_NETNS,CNI_IFNAME] missing",
                "1.0.0",
            ),
            (
                bad_id,
                conf("1.0.0"),
                4,
                "invalid characters in containerID",
                "1.0.0",
            ),
            (
                vars("FROB"),
                conf("0.4.0"),
                4,
                "unknown CNI_COMMAND: FROB",
                "0.4.0",
            ),
            (
                vars("ADD"),
                b"".to_vec(),
                6,
                "failed to decode network configuration",
                "1.1.0",
            ),
            (
                vars("ADD"),
                b"[1]".to_vec(),
                6,
                "failed to decode network configuration",
                "1.1.0",
            ),
            (
                vars("ADD"),
                b"{\"cniVersion\":\"1.0.0\",\"na".to_vec(),
                6,
                "failed to decode network configuration",
                "1.1.0",
            ),
            (
                vars("ADD"),
                br#"{"cniVersion":"0.4.0"}"#.to_vec(),
                7,
                "missing network name",
                "0.4.0",
            ),
            (
                vars("ADD"),
                br#"{"cniVersion":"0.4.0","name":"a b"}"#.to_vec(),
                7,
                "invalid characters found in network name",
                "0.4.0",
            ),
            (
                vars("ADD"),
                br#"{"cniVersion":"0.9.0","name":"n"}"#.to_vec(),
                1,
                "incompatible CNI versions",
                "1.1.0",
            ),
        ];
        for (env, stdin, code, msg, ver) in cases {
            let o = go(&p, &env, &stdin);
            assert_eq!(o.exit_code, 1, "{msg}");
            let j = stdout_json(&o);
            assert_eq!(j["code"], code, "{msg}: {j}");
            assert_eq!(j["msg"], msg);
            assert_eq!(j["cniVersion"], ver, "{msg}");
            assert!(j["details"].is_string());
            assert!(!o.stderr.is_empty());
        }
        assert!(p.seen.borrow().is_empty());
    }

    #[test]
    fn conversion_failure_is_an_error() {
        struct NoIp;
        impl Plugin for NoIp {
            fn add(&self, _: &Request) -> Result<CniResult, CniError> {
                Ok(CniResult::default())
            }
            fn del(&self, _: &Request) -> Result<(), CniError> {
                Ok(())
            }
            fn check(&self, _: &Request) -> Result<(), CniError> {
                Ok(())
            }
            fn gc(&self, _: &Request) -> Result<(), CniError> {
                Ok(())
            }
            fn status(&self, _: &Request) -> Result<(), CniError> {
                Ok(())
            }
            fn about(&self) -> String {
                "noip".into()
            }
        }
        let o = go(&NoIp, &vars("ADD"), &conf("0.2.0"));
        assert_eq!(o.exit_code, 1);
        assert_eq!(
            stdout_json(&o)["msg"],
            "cannot convert: no valid IP addresses"
        );
        let o = go(&NoIp, &vars("ADD"), &conf("1.0.0"));
        assert_eq!(
            (o.exit_code, stdout_json(&o)),
            (0, json!({"cniVersion":"1.0.0"}))
        );
    }

    /// A reader that yields `n` bytes of spaces, then EOF, without allocating them.
    struct Spaces(u64);
    impl Read for Spaces {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = (buf.len() as u64).min(self.0) as usize;
            buf[..n].fill(b' ');
            self.0 -= n as u64;
            Ok(n)
        }
    }

    struct Broken;
    impl Read for Broken {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("pipe exploded"))
        }
    }

    #[test]
    fn stdin_limits_and_io_errors() {
        let p = Fake::ok();
        let env = vars("ADD");
        let o = run(&p, |k| env.get(k).cloned(), &mut Spaces(MAX_STDIN + 10));
        assert_eq!(o.exit_code, 1);
        let j = stdout_json(&o);
        assert_eq!(
            (j["code"].clone(), j["msg"].clone()),
            (json!(5), json!("configuration too large"))
        );
        let o = run(&p, |k| env.get(k).cloned(), &mut Broken);
        let j = stdout_json(&o);
        assert_eq!(j["code"], 5);
        assert!(j["details"].as_str().unwrap().contains("pipe exploded"));
        // Exactly the limit is accepted (and then fails as empty JSON: 6).
        let o = run(&p, |k| env.get(k).cloned(), &mut Spaces(MAX_STDIN));
        assert_eq!(stdout_json(&o)["code"], 6);
        // VERSION does not care about a huge stdin.
        let env = vars("VERSION");
        let o = run(&p, |k| env.get(k).cloned(), &mut Spaces(MAX_STDIN + 1));
        assert_eq!(
            (o.exit_code, stdout_json(&o)["cniVersion"].clone()),
            (0, json!("1.1.0"))
        );
    }

    #[test]
    fn unknown_keys_reach_the_plugin() {
        struct Keys(RefCell<Option<Value>>);
        impl Plugin for Keys {
            fn add(&self, r: &Request) -> Result<CniResult, CniError> {
                *self.0.borrow_mut() = r.conf.get("extra").cloned();
                Err(CniError::internal("stop", ""))
            }
            fn del(&self, _: &Request) -> Result<(), CniError> {
                Ok(())
            }
            fn check(&self, _: &Request) -> Result<(), CniError> {
                Ok(())
            }
            fn gc(&self, _: &Request) -> Result<(), CniError> {
                Ok(())
            }
            fn status(&self, _: &Request) -> Result<(), CniError> {
                Ok(())
            }
            fn about(&self) -> String {
                "keys".into()
            }
        }
        let k = Keys(RefCell::new(None));
        let o = go(&k, &vars("ADD"), &conf("1.0.0"));
        assert_eq!(o.exit_code, 1);
        assert_eq!(*k.0.borrow(), Some(json!({"k": 1})));
    }
}
