//! The records: a network's name settings, one local endpoint's names, and
//! the records another host published for a network. They are plain serde
//! values, written as JSON files (`layout`); the store validates them before
//! writing ([`NetworkSettings::validate`], [`EndpointRecord::validate`],
//! [`RemoteRecords::validate`]) and the resolver reads them back tolerantly
//! (a file that does not parse or validate is skipped, never fatal).

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::error::RecordsError;
use crate::names::validate_dns_name;

/// The format version written into every file.
pub const FORMAT_VERSION: u32 = 1;
/// Most names (name + aliases) one endpoint may register.
pub const MAX_NAMES: usize = 64;
/// Most addresses one endpoint may register.
pub const MAX_ADDRESSES: usize = 16;
/// Most entries one remote host's file may hold.
pub const MAX_REMOTE_ENTRIES: usize = 65536;

fn v1() -> u32 {
    FORMAT_VERSION
}

/// A resolver to forward to: an address and a port (53 unless given).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Upstream(pub SocketAddr);

impl FromStr for Upstream {
    type Err = String;
    /// `10.0.0.1`, `fd00::1`, `10.0.0.1:5353` or `[fd00::1]:5353`.
    fn from_str(s: &str) -> Result<Self, String> {
        if let Ok(ip) = s.parse::<IpAddr>() {
            return Ok(Upstream(SocketAddr::new(ip, 53)));
        }
        s.parse::<SocketAddr>()
            .map(Upstream)
            .map_err(|_| format!("upstream {s:?} is neither an IP address nor IP:port"))
    }
}

impl fmt::Display for Upstream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.port() == 53 {
            write!(f, "{}", self.0.ip())
        } else {
            write!(f, "{}", self.0)
        }
    }
}

impl Serialize for Upstream {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Upstream {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A network's name settings (`networks/<network>/settings.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NetworkSettings {
    /// File format version ([`FORMAT_VERSION`]).
    #[serde(default = "v1")]
    pub version: u32,
    /// The network's name (CNI / Podman / Docker network name).
    pub network: String,
    /// Names are answered with and without this domain (`dns.podman`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// No forwarding: only the network's own names are answered.
    #[serde(default)]
    pub internal: bool,
    /// Where the resolver listens (UDP and TCP port 53): the network's
    /// gateway addresses in the host namespace. Empty: the network's names
    /// are kept but nobody can ask (e.g. a bridge without a gateway address).
    #[serde(default)]
    pub listen: Vec<IpAddr>,
    /// Resolvers to forward to instead of the host's (`/etc/resolv.conf`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub upstreams: Vec<Upstream>,
    /// The network's subnets: a client address in one of them that no
    /// endpoint record names (yet) still sees this network's names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subnets: Vec<IpNet>,
}

impl NetworkSettings {
    /// Settings with defaults: no domain, not internal, nothing to listen on.
    pub fn new(network: impl Into<String>) -> Self {
        NetworkSettings {
            version: FORMAT_VERSION,
            network: network.into(),
            domain: None,
            internal: false,
            listen: Vec::new(),
            upstreams: Vec::new(),
            subnets: Vec::new(),
        }
    }

    /// Network name valid, domain a valid name, no duplicate listen address,
    /// no unspecified or multicast listen address.
    pub fn validate(&self) -> Result<(), RecordsError> {
        cnm_names::validate_network_name(&self.network)
            .map_err(|e| RecordsError::invalid("network", e.to_string()))?;
        if let Some(d) = &self.domain {
            validate_dns_name(d).map_err(|e| RecordsError::invalid("domain", e.to_string()))?;
        }
        for (i, a) in self.listen.iter().enumerate() {
            if a.is_unspecified() || a.is_multicast() {
                return Err(RecordsError::invalid(
                    "listen",
                    format!("{a} is not a unicast address"),
                ));
            }
            if self.listen[..i].contains(a) {
                return Err(RecordsError::invalid(
                    "listen",
                    format!("{a} is listed twice"),
                ));
            }
        }
        Ok(())
    }

    /// `self` with `other`'s listen addresses and subnets added (a network's
    /// settings are the union of what its endpoints were attached with);
    /// domain, internal and upstreams are `other`'s.
    pub fn merged_with(&self, other: &NetworkSettings) -> NetworkSettings {
        let mut out = other.clone();
        for a in &self.listen {
            if !out.listen.contains(a) {
                out.listen.push(*a);
            }
        }
        for s in &self.subnets {
            if !out.subnets.contains(s) {
                out.subnets.push(*s);
            }
        }
        out
    }
}

/// One local endpoint's names (`networks/<network>/endpoints/<key>.json`):
/// keyed by network + container id + interface name, so a record can never
/// be taken for another attachment's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EndpointRecord {
    /// File format version ([`FORMAT_VERSION`]).
    #[serde(default = "v1")]
    pub version: u32,
    /// The network.
    pub network: String,
    /// The container (CNI_CONTAINERID, netavark's container_id, Docker's endpoint's container).
    pub container_id: String,
    /// The container's interface on this network.
    pub ifname: String,
    /// The container's name: answered for A/AAAA, and the PTR answer.
    pub name: String,
    /// More names for the same addresses (`--network-alias`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// The endpoint's addresses (no prefix length).
    pub addresses: Vec<IpAddr>,
}

fn validate_names(field: &str, name: &str, aliases: &[String]) -> Result<(), RecordsError> {
    validate_dns_name(name).map_err(|e| RecordsError::invalid(field, e.to_string()))?;
    for a in aliases {
        validate_dns_name(a).map_err(|e| RecordsError::invalid("aliases", e.to_string()))?;
    }
    if aliases.len() + 1 > MAX_NAMES {
        return Err(RecordsError::invalid(
            "aliases",
            format!("{} names, at most {MAX_NAMES}", aliases.len() + 1),
        ));
    }
    Ok(())
}

fn validate_addresses(addresses: &[IpAddr]) -> Result<(), RecordsError> {
    if addresses.is_empty() {
        return Err(RecordsError::invalid(
            "addresses",
            "no address to answer with",
        ));
    }
    if addresses.len() > MAX_ADDRESSES {
        return Err(RecordsError::invalid(
            "addresses",
            format!("{} addresses, at most {MAX_ADDRESSES}", addresses.len()),
        ));
    }
    if let Some(a) = addresses
        .iter()
        .find(|a| a.is_unspecified() || a.is_multicast())
    {
        return Err(RecordsError::invalid(
            "addresses",
            format!("{a} is not a unicast address"),
        ));
    }
    Ok(())
}

impl EndpointRecord {
    /// Every field checked: network name, container id (CNI's rules),
    /// interface name (the kernel's), name and aliases
    /// ([`validate_dns_name`]), 1..=16 unicast addresses.
    pub fn validate(&self) -> Result<(), RecordsError> {
        cnm_names::validate_network_name(&self.network)
            .map_err(|e| RecordsError::invalid("network", e.to_string()))?;
        validate_container_id(&self.container_id)?;
        cnm_names::validate_ifname(&self.ifname)
            .map_err(|e| RecordsError::invalid("ifname", e.to_string()))?;
        validate_names("name", &self.name, &self.aliases)?;
        validate_addresses(&self.addresses)
    }
}

/// Longest container id accepted (it is part of a file name).
pub const MAX_CONTAINER_ID_LEN: usize = 200;

/// A container id as CNI defines it: letters, digits, `_`, `.`, `-`,
/// starting with a letter or digit; at most [`MAX_CONTAINER_ID_LEN`] bytes.
pub fn validate_container_id(id: &str) -> Result<(), RecordsError> {
    if cnm_names::is_cni_identifier(id) && id.len() <= MAX_CONTAINER_ID_LEN {
        Ok(())
    } else {
        Err(RecordsError::invalid(
            "containerId",
            format!("{id:?} must be letters, digits, '_', '.', '-', starting with a letter or digit, at most {MAX_CONTAINER_ID_LEN} bytes"),
        ))
    }
}

/// One name entry published by another host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RemoteEntry {
    /// The container on that host.
    pub container_id: String,
    /// Its interface on the network.
    pub ifname: String,
    /// Its name.
    pub name: String,
    /// Its aliases.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// Its addresses.
    pub addresses: Vec<IpAddr>,
}

/// Everything one other host published for a network
/// (`remote/<network>/<host>.json`), replaced and removed as a whole: the
/// node agent writes it when the host's records change and removes it when
/// the host's lease expires.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RemoteRecords {
    /// File format version ([`FORMAT_VERSION`]).
    #[serde(default = "v1")]
    pub version: u32,
    /// The network.
    pub network: String,
    /// The host that published them (the node agent's host name or id).
    pub host: String,
    /// The entries.
    pub entries: Vec<RemoteEntry>,
}

impl RemoteRecords {
    /// Network and host names valid, every entry valid.
    pub fn validate(&self) -> Result<(), RecordsError> {
        cnm_names::validate_network_name(&self.network)
            .map_err(|e| RecordsError::invalid("network", e.to_string()))?;
        validate_host(&self.host)?;
        if self.entries.len() > MAX_REMOTE_ENTRIES {
            return Err(RecordsError::invalid(
                "entries",
                format!(
                    "{} entries, at most {MAX_REMOTE_ENTRIES}",
                    self.entries.len()
                ),
            ));
        }
        for e in &self.entries {
            validate_container_id(&e.container_id)?;
            cnm_names::validate_ifname(&e.ifname)
                .map_err(|err| RecordsError::invalid("ifname", err.to_string()))?;
            validate_names("name", &e.name, &e.aliases)?;
            validate_addresses(&e.addresses)?;
        }
        Ok(())
    }
}

/// A source host's name: CNI identifier rules (it becomes a file name).
pub fn validate_host(host: &str) -> Result<(), RecordsError> {
    if cnm_names::is_cni_identifier(host) && host.len() <= 253 {
        Ok(())
    } else {
        Err(RecordsError::invalid(
            "host",
            format!(
                "{host:?} must be letters, digits, '_', '.', '-', starting with a letter or digit"
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep() -> EndpointRecord {
        EndpointRecord {
            version: FORMAT_VERSION,
            network: "podman1".into(),
            container_id: "abc123".into(),
            ifname: "eth0".into(),
            name: "web".into(),
            aliases: vec!["www".into()],
            addresses: vec!["10.88.0.2".parse().unwrap(), "fd00::2".parse().unwrap()],
        }
    }

    #[test]
    fn endpoint_validation() {
        assert!(ep().validate().is_ok());
        let mut e = ep();
        e.aliases.push("bad name".into());
        let err = e.validate().unwrap_err();
        assert!(err.to_string().contains("aliases"), "{err}");
        let mut e = ep();
        e.addresses.clear();
        assert!(e.validate().is_err());
        let mut e = ep();
        e.addresses = vec!["0.0.0.0".parse().unwrap()];
        assert!(e.validate().is_err());
        let mut e = ep();
        e.container_id = "../x".into();
        assert!(e.validate().is_err());
        let mut e = ep();
        e.ifname = "a/b".into();
        assert!(e.validate().is_err());
        let mut e = ep();
        e.aliases = (0..MAX_NAMES).map(|i| format!("a{i}")).collect();
        assert!(e.validate().is_err());
    }

    #[test]
    fn json_shape_is_stable() {
        let j = serde_json::to_value(ep()).unwrap();
        assert_eq!(
            j,
            serde_json::json!({"version": 1, "network": "podman1", "containerId": "abc123",
                "ifname": "eth0", "name": "web", "aliases": ["www"],
                "addresses": ["10.88.0.2", "fd00::2"]})
        );
        let back: EndpointRecord = serde_json::from_value(j).unwrap();
        assert_eq!(back, ep());
        // Unknown keys are refused: a file of another format is never misread.
        assert!(serde_json::from_str::<EndpointRecord>(
            r#"{"network":"n","containerId":"c","ifname":"e","name":"x","addresses":[],"extra":1}"#
        )
        .is_err());
    }

    #[test]
    fn upstreams_parse_with_and_without_port() {
        let u: Upstream = "10.0.0.1".parse().unwrap();
        assert_eq!(u.0, "10.0.0.1:53".parse().unwrap());
        assert_eq!(u.to_string(), "10.0.0.1");
        let u: Upstream = "[fd00::1]:5353".parse().unwrap();
        assert_eq!(u.to_string(), "[fd00::1]:5353");
        assert!("nope".parse::<Upstream>().is_err());
        let mut s = NetworkSettings::new("n");
        s.upstreams = vec!["10.0.0.1".parse().unwrap()];
        let j = serde_json::to_string(&s).unwrap();
        assert!(j.contains(r#""upstreams":["10.0.0.1"]"#), "{j}");
    }

    #[test]
    fn settings_validation_and_merge() {
        let mut s = NetworkSettings::new("n1");
        s.domain = Some("dns.podman".into());
        s.listen = vec!["10.88.0.1".parse().unwrap()];
        assert!(s.validate().is_ok());
        let mut bad = s.clone();
        bad.listen.push("10.88.0.1".parse().unwrap());
        assert!(bad.validate().is_err());
        let mut bad = s.clone();
        bad.domain = Some("a..b".into());
        assert!(bad.validate().is_err());
        let mut other = NetworkSettings::new("n1");
        other.domain = Some("dns.podman".into());
        other.listen = vec!["fd00::1".parse().unwrap()];
        let m = s.merged_with(&other);
        assert_eq!(m.listen.len(), 2);
        assert_eq!(m.domain.as_deref(), Some("dns.podman"));
    }

    #[test]
    fn remote_validation() {
        let r = RemoteRecords {
            version: 1,
            network: "ov".into(),
            host: "host-3".into(),
            entries: vec![RemoteEntry {
                container_id: "c1".into(),
                ifname: "eth0".into(),
                name: "db".into(),
                aliases: vec![],
                addresses: vec!["10.10.3.2".parse().unwrap()],
            }],
        };
        assert!(r.validate().is_ok());
        let mut bad = r.clone();
        bad.host = "../etc".into();
        assert!(bad.validate().is_err());
        let mut bad = r;
        bad.entries[0].name = "".into();
        assert!(bad.validate().is_err());
    }
}
