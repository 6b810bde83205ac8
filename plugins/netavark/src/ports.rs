//! Port mappings as Podman sends them (first port, `range`, protocols
//! joined by commas, `host_ip` empty for all addresses) checked and expanded
//! into one [`PortSpec`] per protocol and port, the shape the driver's
//! port publishing takes.

use std::collections::BTreeSet;
use std::net::IpAddr;

use crate::error::PluginError;
use crate::types::PortMapping;

/// A transport protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Proto {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
    /// SCTP.
    Sctp,
}

impl Proto {
    /// The name Podman and nftables use.
    pub fn name(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
            Proto::Sctp => "sctp",
        }
    }
}

/// One published port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PortSpec {
    /// The protocol.
    pub proto: Proto,
    /// Host address (`None`: every address of every family the container has).
    pub host_ip: Option<IpAddr>,
    /// Port on the host.
    pub host_port: u16,
    /// Port in the container.
    pub container_port: u16,
}

/// The most ports one container may publish (a guard against a range that
/// would make a huge firewall transaction by mistake).
pub const MAX_PORTS: usize = 65536;

/// Check and expand Podman's port mappings. Refused: a zero port (Podman
/// picks free host ports before it calls netavark), a range running past
/// 65535, an unknown protocol, a host address that is not an IP address,
/// and the same host address, protocol and port twice.
pub fn expand(mappings: &[PortMapping]) -> Result<Vec<PortSpec>, PluginError> {
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for m in mappings {
        let what = format!(
            "port mapping {}:{}->{}/{} (range {})",
            if m.host_ip.is_empty() {
                "*"
            } else {
                &m.host_ip
            },
            m.host_port,
            m.container_port,
            m.protocol,
            m.range
        );
        if m.host_port == 0 || m.container_port == 0 {
            return Err(PluginError::invalid(format!(
                "{what}: host and container ports must be 1-65535"
            )));
        }
        // netavark reads range 0 (Go's zero value) as 1.
        let range = m.range.max(1);
        let last = |first: u16| u32::from(first) + u32::from(range) - 1;
        if last(m.host_port) > 65535 || last(m.container_port) > 65535 {
            return Err(PluginError::invalid(format!(
                "{what}: the range runs past port 65535"
            )));
        }
        let host_ip = match m.host_ip.as_str() {
            "" => None,
            text => Some(text.parse::<IpAddr>().map_err(|_| {
                PluginError::invalid(format!("{what}: host_ip {text:?} is not an IP address"))
            })?),
        };
        let mut protos = Vec::new();
        for p in m.protocol.split(',') {
            let proto = match p.trim() {
                "tcp" | "" => Proto::Tcp,
                "udp" => Proto::Udp,
                "sctp" => Proto::Sctp,
                other => {
                    return Err(PluginError::invalid(format!(
                        "{what}: unknown protocol {other:?} (tcp, udp or sctp)"
                    )))
                }
            };
            if !protos.contains(&proto) {
                protos.push(proto);
            }
        }
        for proto in protos {
            for i in 0..range {
                let spec = PortSpec {
                    proto,
                    host_ip,
                    host_port: m.host_port + i,
                    container_port: m.container_port + i,
                };
                if !seen.insert((proto, host_ip, spec.host_port)) {
                    return Err(PluginError::invalid(format!(
                        "{what}: host port {}/{} is mapped twice",
                        spec.host_port,
                        proto.name()
                    )));
                }
                out.push(spec);
                if out.len() > MAX_PORTS {
                    return Err(PluginError::invalid(format!(
                        "more than {MAX_PORTS} published ports"
                    )));
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pm(host_ip: &str, host: u16, ctr: u16, proto: &str, range: u16) -> PortMapping {
        PortMapping {
            container_port: ctr,
            host_ip: host_ip.into(),
            host_port: host,
            protocol: proto.into(),
            range,
        }
    }

    #[test]
    fn ranges_and_protocols_expand() {
        let specs = expand(&[
            pm("", 8080, 80, "tcp,udp", 3),
            pm("127.0.0.1", 9000, 90, "sctp", 0),
        ])
        .expect("valid");
        assert_eq!(specs.len(), 7);
        assert_eq!(
            specs[2],
            PortSpec {
                proto: Proto::Tcp,
                host_ip: None,
                host_port: 8082,
                container_port: 82
            }
        );
        assert_eq!(specs[3].proto, Proto::Udp);
        assert_eq!(specs[6].host_ip, Some("127.0.0.1".parse().expect("ip")));
        assert_eq!(specs[6].host_port, 9000);
    }

    #[test]
    fn bad_mappings_are_refused() {
        for (m, want) in [
            (pm("", 0, 80, "tcp", 1), "must be 1-65535"),
            (pm("", 80, 0, "tcp", 1), "must be 1-65535"),
            (pm("", 65535, 80, "tcp", 2), "past port 65535"),
            (pm("", 80, 65535, "tcp", 2), "past port 65535"),
            (pm("", 80, 80, "icmp", 1), "unknown protocol \"icmp\""),
            (pm("localhost", 80, 80, "tcp", 1), "not an IP address"),
        ] {
            let e = expand(&[m]).expect_err(want);
            assert!(e.to_string().contains(want), "{e}");
        }
        let e = expand(&[pm("", 80, 80, "tcp", 2), pm("", 81, 90, "tcp", 1)]).expect_err("dup");
        assert!(e.to_string().contains("mapped twice"), "{e}");
        // The same port on two host addresses, or two protocols, is fine.
        expand(&[
            pm("10.0.0.1", 80, 80, "tcp", 1),
            pm("10.0.0.2", 80, 80, "tcp", 1),
        ])
        .expect("two addresses");
        expand(&[pm("", 80, 80, "tcp", 1), pm("", 80, 80, "udp", 1)]).expect("two protocols");
    }
}
