//! The command line, parsed into a typed [`Invocation`]. Raw words are
//! checked here; nothing is sent to the runtime until parsing succeeded.

use crate::error::Error;
use crate::pod::{HostPort, PodSpec, Protocol};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

pub const USAGE: &str = "cri-client --socket PATH [--timeout SECS] COMMAND
commands:
  version                              the runtime's name and CRI version
  network-ready                        prints true/false (the runtime's NetworkReady condition)
  runtime-config --pod-cidr CIDR[,CIDR]   UpdateRuntimeConfig with the node's pod CIDR(s)
  run POD-FLAGS                        RunPodSandbox; prints the sandbox ID
  status ID                            PodSandboxStatus as JSON (state, ip, additionalIps, netns)
  list [--label K=V]...                ListPodSandbox: one line per pod: ID STATE NAMESPACE/NAME
  stop ID                              StopPodSandbox
  rm ID                                RemovePodSandbox
  run-many --count N --prefix P POD-FLAGS   N pods named P-1..P-N, one after the other;
                                       prints one line per pod: ID IP
  remove-all [--label K=V]...          stop and remove every (matching) pod; prints how many
POD-FLAGS: --name N --namespace NS --uid UID [--hostname H]
  [--port [HOSTIP:]HOSTPORT:CONTAINERPORT[/tcp|udp|sctp]]... [--dns-server IP]...
  [--dns-search DOMAIN]... [--dns-option OPT]... [--annotation K=V]... [--label K=V]...
  [--cgroup-parent PATH]   (run-many: --name and --uid are derived from the prefix)";

/// What to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Version,
    NetworkReady,
    RuntimeConfig {
        pod_cidr: String,
    },
    Run(PodSpec),
    Status {
        id: String,
    },
    List {
        labels: BTreeMap<String, String>,
    },
    Stop {
        id: String,
    },
    Remove {
        id: String,
    },
    RunMany {
        count: u32,
        prefix: String,
        template: PodSpec,
    },
    RemoveAll {
        labels: BTreeMap<String, String>,
    },
}

/// A whole command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    pub socket: PathBuf,
    pub timeout: Duration,
    pub command: Command,
}

fn usage(msg: impl Into<String>) -> Error {
    Error::Usage(msg.into())
}

/// Parses the words after the program name.
pub fn parse(words: &[String]) -> Result<Invocation, Error> {
    let mut socket = None;
    let mut timeout = Duration::from_secs(120);
    let mut i = 0;
    while i < words.len() && words[i].starts_with("--") {
        let value = words
            .get(i + 1)
            .ok_or_else(|| usage(format!("{} needs a value", words[i])))?;
        match words[i].as_str() {
            "--socket" => socket = Some(PathBuf::from(value)),
            "--timeout" => {
                let secs: u64 = value
                    .parse()
                    .ok()
                    .filter(|s| (1..=3600).contains(s))
                    .ok_or_else(|| usage(format!("--timeout {value}: want 1-3600 seconds")))?;
                timeout = Duration::from_secs(secs);
            }
            other => return Err(usage(format!("unknown option {other}"))),
        }
        i += 2;
    }
    let socket = socket.ok_or_else(|| usage("--socket PATH is required"))?;
    let (cmd, rest) = words[i..]
        .split_first()
        .ok_or_else(|| usage("no command given"))?;
    let command = match cmd.as_str() {
        "version" => no_args(rest, Command::Version)?,
        "network-ready" => no_args(rest, Command::NetworkReady)?,
        "runtime-config" => match rest {
            [flag, cidr] if flag == "--pod-cidr" && !cidr.is_empty() => Command::RuntimeConfig {
                pod_cidr: cidr.clone(),
            },
            _ => return Err(usage("runtime-config --pod-cidr CIDR[,CIDR]")),
        },
        "run" => Command::Run(pod_flags(rest, true)?.0),
        "status" => Command::Status { id: one_id(rest)? },
        "stop" => Command::Stop { id: one_id(rest)? },
        "rm" => Command::Remove { id: one_id(rest)? },
        "list" => Command::List {
            labels: label_flags(rest)?,
        },
        "remove-all" => Command::RemoveAll {
            labels: label_flags(rest)?,
        },
        "run-many" => {
            let (template, count, prefix) = pod_flags(rest, false)?;
            let count = count.ok_or_else(|| usage("run-many needs --count N"))?;
            let prefix = prefix.ok_or_else(|| usage("run-many needs --prefix P"))?;
            Command::RunMany {
                count,
                prefix,
                template,
            }
        }
        other => return Err(usage(format!("unknown command {other}"))),
    };
    Ok(Invocation {
        socket,
        timeout,
        command,
    })
}

fn no_args(rest: &[String], c: Command) -> Result<Command, Error> {
    if rest.is_empty() {
        Ok(c)
    } else {
        Err(usage(format!("unexpected arguments {rest:?}")))
    }
}

fn one_id(rest: &[String]) -> Result<String, Error> {
    match rest {
        [id] if !id.is_empty() && !id.starts_with('-') => Ok(id.clone()),
        _ => Err(usage("expected one sandbox ID")),
    }
}

fn key_value(flag: &str, v: &str) -> Result<(String, String), Error> {
    match v.split_once('=') {
        Some((k, val)) if !k.is_empty() => Ok((k.to_string(), val.to_string())),
        _ => Err(usage(format!("{flag} {v}: want KEY=VALUE"))),
    }
}

fn label_flags(rest: &[String]) -> Result<BTreeMap<String, String>, Error> {
    let mut labels = BTreeMap::new();
    let mut it = rest.iter();
    while let Some(flag) = it.next() {
        if flag != "--label" {
            return Err(usage(format!("unexpected argument {flag}")));
        }
        let v = it.next().ok_or_else(|| usage("--label needs K=V"))?;
        let (k, val) = key_value(flag, v)?;
        labels.insert(k, val);
    }
    Ok(labels)
}

/// `[HOSTIP:]HOSTPORT:CONTAINERPORT[/proto]`; IPv6 host addresses in brackets.
pub fn parse_port(v: &str) -> Result<HostPort, Error> {
    let bad = |why: &str| usage(format!("--port {v}: {why}"));
    let (spec, protocol) = match v.rsplit_once('/') {
        Some((s, "tcp")) => (s, Protocol::Tcp),
        Some((s, "udp")) => (s, Protocol::Udp),
        Some((s, "sctp")) => (s, Protocol::Sctp),
        Some(_) => return Err(bad("protocol must be tcp, udp or sctp")),
        None => (v, Protocol::Tcp),
    };
    let (host, ports) = if let Some(rest) = spec.strip_prefix('[') {
        let (ip, ports) = rest.split_once("]:").ok_or_else(|| bad("unclosed ["))?;
        (Some(ip), ports)
    } else {
        match spec.matches(':').count() {
            1 => (None, spec),
            2 => {
                let (ip, ports) = spec.split_once(':').ok_or_else(|| bad("malformed"))?;
                (Some(ip), ports)
            }
            _ => return Err(bad("want [HOSTIP:]HOSTPORT:CONTAINERPORT")),
        }
    };
    let host_ip = host
        .map(|h| h.parse::<IpAddr>().map_err(|_| bad("bad host address")))
        .transpose()?;
    let (hp, cp) = ports
        .split_once(':')
        .ok_or_else(|| bad("missing container port"))?;
    let port = |p: &str| {
        p.parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| bad("ports are 1-65535"))
    };
    Ok(HostPort {
        host_ip,
        host_port: port(hp)?,
        container_port: port(cp)?,
        protocol,
    })
}

/// POD-FLAGS; with `single`, --name/--namespace/--uid are required and
/// --count/--prefix refused; otherwise the reverse for name and uid.
fn pod_flags(
    rest: &[String],
    single: bool,
) -> Result<(PodSpec, Option<u32>, Option<String>), Error> {
    let mut spec = PodSpec::default();
    let (mut count, mut prefix) = (None, None);
    let mut it = rest.iter();
    while let Some(flag) = it.next() {
        let v = it
            .next()
            .ok_or_else(|| usage(format!("{flag} needs a value")))?;
        match flag.as_str() {
            "--name" if single => spec.name = v.clone(),
            "--uid" if single => spec.uid = v.clone(),
            "--namespace" => spec.namespace = v.clone(),
            "--hostname" => spec.hostname = Some(v.clone()),
            "--port" => spec.ports.push(parse_port(v)?),
            "--dns-server" => spec.dns.servers.push(
                v.parse()
                    .map_err(|_| usage(format!("--dns-server {v}: not an IP address")))?,
            ),
            "--dns-search" => spec.dns.searches.push(v.clone()),
            "--dns-option" => spec.dns.options.push(v.clone()),
            "--annotation" => {
                let (k, val) = key_value(flag, v)?;
                spec.annotations.insert(k, val);
            }
            "--label" => {
                let (k, val) = key_value(flag, v)?;
                spec.labels.insert(k, val);
            }
            "--cgroup-parent" => spec.cgroup_parent = Some(v.clone()),
            "--count" if !single => {
                count = Some(
                    v.parse::<u32>()
                        .ok()
                        .filter(|n| (1..=1000).contains(n))
                        .ok_or_else(|| usage(format!("--count {v}: want 1-1000")))?,
                )
            }
            "--prefix" if !single && !v.is_empty() => prefix = Some(v.clone()),
            other => return Err(usage(format!("unexpected argument {other}"))),
        }
    }
    let missing = if single {
        [
            ("--name", &spec.name),
            ("--namespace", &spec.namespace),
            ("--uid", &spec.uid),
        ]
        .into_iter()
        .find(|(_, v)| v.is_empty())
    } else {
        [("--namespace", &spec.namespace)]
            .into_iter()
            .find(|(_, v)| v.is_empty())
    };
    if let Some((flag, _)) = missing {
        return Err(usage(format!("{flag} is required")));
    }
    Ok((spec, count, prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn parses_a_pod() {
        let inv = parse(&words(
            "--socket /s run --name a --namespace ns --uid u --port 8080:80 \
             --port 10.0.0.1:53:5353/udp --dns-server 10.96.0.10 --annotation x=y=z",
        ))
        .unwrap();
        assert_eq!(inv.socket, PathBuf::from("/s"));
        let Command::Run(spec) = inv.command else {
            panic!("not run")
        };
        assert_eq!(spec.ports.len(), 2);
        assert_eq!(spec.ports[1].host_ip, Some("10.0.0.1".parse().unwrap()));
        assert_eq!(spec.ports[1].protocol, Protocol::Udp);
        assert_eq!(spec.annotations["x"], "y=z");
    }

    #[test]
    fn ipv6_host_port() {
        let p = parse_port("[fd00::1]:8080:80/tcp").unwrap();
        assert_eq!(p.host_ip, Some("fd00::1".parse().unwrap()));
        assert_eq!((p.host_port, p.container_port), (8080, 80));
    }

    #[test]
    fn rejects_bad_input() {
        for bad in [
            "run --name a --namespace ns",
            "--socket /s run --name a --namespace ns",
            "--socket /s run --name a --namespace ns --uid u --port 0:80",
            "--socket /s run --name a --namespace ns --uid u --port 80:80/icmp",
            "--socket /s run --name a --namespace ns --uid u --dns-server nope",
            "--socket /s run-many --count 0 --prefix p --namespace ns",
            "--socket /s run-many --prefix p --namespace ns",
            "--socket /s status",
            "--socket /s frobnicate",
            "--socket /s --timeout 0 version",
            "--socket /s list --label novalue",
        ] {
            assert!(parse(&words(bad)).is_err(), "accepted: {bad}");
        }
    }

    #[test]
    fn run_many_takes_count_and_prefix() {
        let inv = parse(&words(
            "--socket /s run-many --count 110 --prefix p --namespace ns --label t=1",
        ))
        .unwrap();
        let Command::RunMany {
            count,
            prefix,
            template,
        } = inv.command
        else {
            panic!("not run-many")
        };
        assert_eq!((count, prefix.as_str()), (110, "p"));
        assert_eq!(template.labels["t"], "1");
    }
}
