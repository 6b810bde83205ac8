//! Published ports as Docker sends them in `ProgramExternalConnectivity`:
//! `com.docker.network.portmap` is a list of libnetwork `PortBinding`s
//! (`{"Proto": 6, "IP": "", "Port": 80, "HostIP": "", "HostPort": 8080,
//! "HostPortEnd": 8080}`; Proto is the IP protocol number), validated here
//! into [`Published`] ports.

use std::net::IpAddr;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::error::PluginError;

/// The sandbox label with the port bindings.
pub const PORTMAP: &str = "com.docker.network.portmap";
/// The sandbox label with the exposed ports (informational: nothing to program).
pub const EXPOSED_PORTS: &str = "com.docker.network.endpoint.exposedports";

/// libnetwork's `types.PortBinding` on the wire.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct RawBinding {
    proto: i64,
    #[serde(rename = "IP")]
    ip: Option<String>,
    port: i64,
    #[serde(rename = "HostIP")]
    host_ip: Option<String>,
    host_port: i64,
    host_port_end: i64,
}

/// A validated published port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Published {
    /// "tcp", "udp" or "sctp".
    pub proto: &'static str,
    /// Container port.
    pub container_port: u16,
    /// Host address (None: all of the family / both families).
    pub host_ip: Option<IpAddr>,
    /// Host port.
    pub host_port: u16,
}

fn proto_name(n: i64) -> Option<&'static str> {
    match n {
        6 => Some("tcp"),
        17 => Some("udp"),
        132 => Some("sctp"),
        _ => None,
    }
}

fn port(n: i64, what: &str, i: usize) -> Result<u16, PluginError> {
    u16::try_from(n).ok().filter(|p| *p != 0).ok_or_else(|| {
        PluginError::invalid(format!(
            "{PORTMAP}[{i}]: {what} {n} is not a port (1-65535)"
        ))
    })
}

fn addr(s: &Option<String>, what: &str, i: usize) -> Result<Option<IpAddr>, PluginError> {
    match s.as_deref() {
        None | Some("") => Ok(None),
        Some(t) => t
            .parse::<IpAddr>()
            .map(|a| (!a.is_unspecified()).then_some(a))
            .map_err(|_| {
                PluginError::invalid(format!("{PORTMAP}[{i}]: {what} {t:?} is not an IP address"))
            }),
    }
}

/// The published ports of the options; `default_host_ip` applies to bindings without a host
/// address (the network's `host_binding_ipv4`). A host port range (`HostPortEnd` above
/// `HostPort`) publishes its first port, as Docker's own bridge does after its allocation;
/// host port 0 (Docker did not choose one: `-P` or `-p 80`) is refused, because this plugin
/// does not allocate host ports.
pub fn published(
    options: Option<&Map<String, Value>>,
    default_host_ip: Option<IpAddr>,
) -> Result<Vec<Published>, PluginError> {
    let Some(raw) = options.and_then(|o| o.get(PORTMAP)) else {
        return Ok(Vec::new());
    };
    if raw.is_null() {
        return Ok(Vec::new());
    }
    let list: Vec<RawBinding> = serde_json::from_value(raw.clone())
        .map_err(|e| PluginError::invalid(format!("{PORTMAP}: {e}")))?;
    let mut out = Vec::with_capacity(list.len());
    for (i, b) in list.iter().enumerate() {
        let proto = proto_name(b.proto).ok_or_else(|| {
            PluginError::invalid(format!(
                "{PORTMAP}[{i}]: protocol number {} is not tcp (6), udp (17) or sctp (132)",
                b.proto
            ))
        })?;
        let container_port = port(b.port, "container port", i)?;
        if b.host_port == 0 {
            return Err(PluginError::invalid(format!(
                "{PORTMAP}[{i}]: no host port for {container_port}/{proto}: publish with an explicit host port (-p HOST:{container_port})"
            )));
        }
        let host_port = port(b.host_port, "host port", i)?;
        if b.host_port_end != 0 && b.host_port_end < b.host_port {
            return Err(PluginError::invalid(format!(
                "{PORTMAP}[{i}]: host port range {}-{} is empty",
                b.host_port, b.host_port_end
            )));
        }
        let _ = addr(&b.ip, "container address", i)?;
        let host_ip = addr(&b.host_ip, "host address", i)?.or(default_host_ip);
        let p = Published {
            proto,
            container_port,
            host_ip,
            host_port,
        };
        if !out.contains(&p) {
            out.push(p);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn opts(v: Value) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert(PORTMAP.into(), v);
        m.insert(EXPOSED_PORTS.into(), json!([{"Proto": 6, "Port": 80}]));
        m
    }

    #[test]
    fn docker_bindings_parse() {
        let o = opts(json!([
            {"Proto": 6, "IP": "", "Port": 80, "HostIP": "", "HostPort": 8080, "HostPortEnd": 8080},
            {"Proto": 17, "IP": "", "Port": 53, "HostIP": "127.0.0.1", "HostPort": 5353, "HostPortEnd": 0},
            {"Proto": 6, "IP": "", "Port": 80, "HostIP": "::", "HostPort": 8080, "HostPortEnd": 8080}
        ]));
        let p = published(Some(&o), None).unwrap();
        assert_eq!(
            p.len(),
            2,
            "the :: duplicate of the all-address binding collapses: {p:?}"
        );
        assert_eq!(
            p[0],
            Published {
                proto: "tcp",
                container_port: 80,
                host_ip: None,
                host_port: 8080
            }
        );
        assert_eq!(p[1].host_ip, Some("127.0.0.1".parse().unwrap()));
        assert_eq!(p[1].proto, "udp");
        let d = published(Some(&o), Some("10.1.1.1".parse().unwrap())).unwrap();
        assert_eq!(d[0].host_ip, Some("10.1.1.1".parse().unwrap()));
        assert!(published(None, None).unwrap().is_empty());
        assert!(published(Some(&opts(Value::Null)), None)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn bad_bindings_are_refused() {
        for bad in [
            json!([{"Proto": 1, "Port": 80, "HostPort": 80}]),
            json!([{"Proto": 6, "Port": 0, "HostPort": 80}]),
            json!([{"Proto": 6, "Port": 80, "HostPort": 0}]),
            json!([{"Proto": 6, "Port": 80, "HostPort": 70000}]),
            json!([{"Proto": 6, "Port": 80, "HostPort": 90, "HostPortEnd": 85}]),
            json!([{"Proto": 6, "Port": 80, "HostPort": 90, "HostIP": "nope"}]),
            json!({"Proto": 6}),
            json!("x"),
        ] {
            assert!(published(Some(&opts(bad.clone())), None).is_err(), "{bad}");
        }
    }
}
