//! netavark's plugin API on the wire, as netavark 2.1.0 and Podman 5 send
//! and read it (`src/network/types.rs` and `plugin-API.md` of
//! containers/netavark v2.1.0): the network config (`create` in and out,
//! `setup`/`teardown` inside [`NetworkPluginExec`]), the per-container
//! options, port mappings, the status block and the error object.
//!
//! These are raw shapes only: a field netavark requires is required here
//! (a missing one is a parse error naming it), a field it makes optional is
//! an `Option` (JSON `null` or absent). Nothing is validated here; see
//! `config.rs`. Fields a newer netavark or Podman may add are kept in
//! `extra` and written back unchanged by `create`, as netavark's own plugin
//! interface would drop them silently.

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The API version this plugin implements (`info`).
pub const API_VERSION: &str = "1.0.0";

/// A network (netavark's `types::Network`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Network {
    /// Creation time (RFC 3339); kept as Podman wrote it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<Value>,
    /// Whether the network serves container names.
    pub dns_enabled: bool,
    /// The driver: the plugin's file name in the plugin directory.
    pub driver: String,
    /// 64 hex digits, chosen by Podman.
    pub id: String,
    /// No route out of the network, no masquerade.
    pub internal: bool,
    /// The network has an IPv6 subnet.
    pub ipv6_enabled: bool,
    /// The network's name.
    pub name: String,
    /// The bridge's name on the host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_interface: Option<String>,
    /// Driver options (`podman network create -o key=value`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<BTreeMap<String, String>>,
    /// IPAM options (`driver`: host-local, dhcp, none, or the plugin's own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipam_options: Option<BTreeMap<String, String>>,
    /// The subnets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnets: Option<Vec<Subnet>>,
    /// Static routes for the containers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routes: Option<Vec<Route>>,
    /// DNS servers of the network (for its name server).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_dns_servers: Option<Vec<IpAddr>>,
    /// Labels (`podman network create --label`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    /// Fields this plugin does not know (written back unchanged).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One subnet of a network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subnet {
    /// The gateway address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<IpAddr>,
    /// Where addresses are leased from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_range: Option<LeaseRange>,
    /// The subnet, e.g. `10.88.0.0/16`.
    pub subnet: IpNet,
}

/// The part of a subnet addresses are leased from (both ends inclusive).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeaseRange {
    /// Last address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_ip: Option<String>,
    /// First address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_ip: Option<String>,
}

/// A static route of a network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Route {
    /// Next hop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<IpAddr>,
    /// Destination.
    pub destination: IpNet,
    /// Metric.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<u32>,
    /// unicast (default), blackhole, unreachable, prohibit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route_type: Option<String>,
}

/// What `setup` and `teardown` read on stdin (netavark's `NetworkPluginExec`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetworkPluginExec {
    /// The container's id.
    pub container_id: String,
    /// The container's name.
    pub container_name: String,
    /// Published ports.
    #[serde(default)]
    pub port_mappings: Option<Vec<PortMapping>>,
    /// The network.
    pub network: Network,
    /// This container's options on this network.
    pub network_options: PerNetworkOptions,
}

/// A container's options on one network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PerNetworkOptions {
    /// Names for the container's name server.
    #[serde(default)]
    pub aliases: Option<Vec<String>>,
    /// The interface's name in the container.
    pub interface_name: String,
    /// Addresses chosen by Podman's allocator.
    #[serde(default)]
    pub static_ips: Option<Vec<IpAddr>>,
    /// The interface's MAC.
    #[serde(default)]
    pub static_mac: Option<String>,
    /// Driver options for this container.
    #[serde(default)]
    pub options: Option<BTreeMap<String, String>>,
}

/// One published port range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PortMapping {
    /// First port in the container.
    pub container_port: u16,
    /// Host address to listen on; empty: every address.
    pub host_ip: String,
    /// First port on the host.
    pub host_port: u16,
    /// `tcp`, `udp`, `sctp`, or several joined by commas.
    pub protocol: String,
    /// How many consecutive ports (1: just the one).
    pub range: u16,
}

/// What `setup` prints: the container's interfaces on the network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusBlock {
    /// Search domains for the container's resolv.conf.
    pub dns_search_domains: Option<Vec<String>>,
    /// Name servers for the container's resolv.conf.
    pub dns_server_ips: Option<Vec<IpAddr>>,
    /// Interface name -> what it got.
    pub interfaces: Option<BTreeMap<String, NetInterface>>,
}

/// One interface in the status block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetInterface {
    /// `aa:bb:cc:dd:ee:ff`.
    pub mac_address: String,
    /// Its addresses with their gateways.
    pub subnets: Option<Vec<NetAddress>>,
}

/// An address of an interface: the address with its subnet's prefix
/// length, and the subnet's gateway.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetAddress {
    /// The gateway (none on an internal network without one).
    pub gateway: Option<IpAddr>,
    /// The address, e.g. `10.88.0.50/16`.
    pub ipnet: IpNet,
}

/// What `info` prints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Info {
    /// The plugin's version.
    pub version: String,
    /// [`API_VERSION`].
    pub api_version: String,
    /// The drivers a network can select with `-o driver=...`.
    pub drivers: Vec<String>,
}

/// The error object netavark and Podman show to users.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JsonError {
    /// The message.
    pub error: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The setup input of plugin-API.md (netavark v2.1.0), verbatim.
    const API_DOC_SETUP: &str = r#"{
        "container_id": "752947ff91f961eb3cb47ffe9315016979f3ffbec09e4d96a4fae3fb03391697",
        "container_name": "testctr",
        "port_mappings": [
            {"container_port": 80, "host_ip": "127.0.0.1", "host_port": 8080, "protocol": "tcp", "range": 1}
        ],
        "network": {
            "dns_enabled": false, "driver": "bridge",
            "id": "2f259bab93aaaaa2542ba43ef33eb990d0999ee1b9924b557b7be53c0b7a1bb9",
            "internal": false, "ipv6_enabled": false, "name": "podman",
            "network_interface": "podman0", "options": null,
            "ipam_options": {"driver": "host-local"},
            "subnets": [{"gateway": "10.88.0.1", "lease_range": null, "subnet": "10.88.0.0/16"}],
            "network_dns_servers": null
        },
        "network_options": {
            "aliases": ["752947ff91f9"], "interface_name": "eth0",
            "static_ips": ["10.88.0.50"], "static_mac": "aa:bb:cc:dd:aa:00"
        }
    }"#;

    #[test]
    fn the_documented_setup_input_parses() {
        let exec: NetworkPluginExec = serde_json::from_str(API_DOC_SETUP).expect("parse");
        assert_eq!(exec.network.name, "podman");
        assert_eq!(exec.network.subnets.as_ref().map(Vec::len), Some(1));
        assert_eq!(exec.network_options.interface_name, "eth0");
        assert_eq!(
            exec.network_options.static_ips,
            Some(vec!["10.88.0.50".parse().expect("ip")])
        );
        assert_eq!(
            exec.port_mappings.as_deref().map(|p| p[0].host_port),
            Some(8080)
        );
        assert!(exec.network.extra.is_empty(), "{:?}", exec.network.extra);
    }

    #[test]
    fn required_fields_are_required() {
        let mut v: Value = serde_json::from_str(API_DOC_SETUP).expect("parse");
        if let Some(o) = v["network_options"].as_object_mut() {
            o.remove("interface_name");
        }
        let e = serde_json::from_value::<NetworkPluginExec>(v).expect_err("no interface_name");
        assert!(e.to_string().contains("interface_name"), "{e}");
    }

    #[test]
    fn unknown_network_fields_round_trip() {
        let text = r#"{"name":"n","id":"x","driver":"cnm","internal":false,
            "ipv6_enabled":false,"dns_enabled":false,"future_field":{"a":1}}"#;
        let n: Network = serde_json::from_str(text).expect("parse");
        let out = serde_json::to_value(&n).expect("json");
        assert_eq!(out["future_field"]["a"], 1);
        assert!(out.get("subnets").is_none(), "None is omitted: {out}");
    }

    #[test]
    fn status_block_shape() {
        let block = StatusBlock {
            dns_search_domains: Some(vec![]),
            dns_server_ips: Some(vec![]),
            interfaces: Some(
                [(
                    "eth0".to_string(),
                    NetInterface {
                        mac_address: "aa:bb:cc:dd:aa:00".into(),
                        subnets: Some(vec![NetAddress {
                            gateway: Some("10.88.0.1".parse().expect("ip")),
                            ipnet: "10.88.0.50/16".parse().expect("net"),
                        }]),
                    },
                )]
                .into(),
            ),
        };
        let v = serde_json::to_value(&block).expect("json");
        assert_eq!(
            v,
            serde_json::json!({
                "dns_search_domains": [], "dns_server_ips": [],
                "interfaces": {"eth0": {"mac_address": "aa:bb:cc:dd:aa:00",
                    "subnets": [{"gateway": "10.88.0.1", "ipnet": "10.88.0.50/16"}]}}
            })
        );
    }
}
