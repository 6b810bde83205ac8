//! Join and leave: the sandbox an endpoint joins, and what the driver hands
//! back for it (libnetwork's `JoinInfo`): the interfaces to place, the
//! gateways and the static routes.

use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::endpoint_data::{InterfaceAddress, SandboxPlacement, StaticRoute};
use super::mac::MacAddr;

/// Where the driver left an interface for the sandbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "placement")]
pub enum Placement {
    /// Prepared in the host namespace under `src_name`: the sandbox (or
    /// Docker itself) moves it in, renames it, configures it and sets it up.
    Host {
        /// The interface's name in the host namespace.
        src_name: String,
    },
    /// Already inside the sandbox, configured (the fast path): nothing to do.
    InSandbox {
        /// The interface's name inside the sandbox.
        name: String,
    },
}

/// One interface for the sandbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinInterface {
    /// Where it is now.
    #[serde(flatten)]
    pub placement: Placement,
    /// The name to give it in the sandbox; `None`: the sandbox picks
    /// `<dst_prefix><n>` (Docker's `DstPrefix`).
    #[serde(default)]
    pub dst_name: Option<String>,
    /// The name prefix when `dst_name` is `None` (`eth`).
    pub dst_prefix: String,
    /// The addresses to configure.
    #[serde(default)]
    pub addresses: Vec<InterfaceAddress>,
    /// The MAC it carries.
    #[serde(default)]
    pub mac: Option<MacAddr>,
    /// Its MTU.
    #[serde(default)]
    pub mtu: Option<u32>,
    /// Run duplicate-address detection on its IPv6 addresses.
    #[serde(default)]
    pub dad: bool,
    /// Keep the IPv6 link-local address of an IPv4-only interface.
    #[serde(default)]
    pub ipv6_link_local: bool,
}

/// `NetworkDriver::join`'s arguments. Construct with `..Default::default()`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct JoinRequest {
    /// The network.
    pub network_id: String,
    /// The endpoint.
    pub endpoint_id: String,
    /// The sandbox key (namespace path).
    pub sandbox_key: String,
    /// Driver-specific join options.
    pub options: Map<String, Value>,
}

/// What the driver hands back at join (libnetwork's `JoinInfo`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct JoinInfo {
    /// The interfaces to place (one for the bridge).
    pub interfaces: Vec<JoinInterface>,
    /// The IPv4 default gateway, if the driver provides one.
    #[serde(default)]
    pub gateway: Option<IpAddr>,
    /// The IPv6 default gateway.
    #[serde(default)]
    pub gateway6: Option<IpAddr>,
    /// Further routes for the sandbox (with the default routes when the
    /// driver adds them, as the bridge does for `isDefaultGateway`).
    #[serde(default)]
    pub static_routes: Vec<StaticRoute>,
    /// True when the driver already installed the addresses, gateway and
    /// routes inside the sandbox (the fast path); the sandbox then only
    /// records them.
    #[serde(default)]
    pub configured_in_sandbox: bool,
}

impl JoinInfo {
    /// The subnets the interfaces are on.
    pub fn subnets(&self) -> Vec<IpNet> {
        self.interfaces
            .iter()
            .flat_map(|i| i.addresses.iter().map(|a| a.address.trunc()))
            .collect()
    }
}

/// `NetworkDriver::leave`'s and `delete_endpoint`'s arguments. Construct with
/// `..Default::default()`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct EndpointRef {
    /// The network.
    pub network_id: String,
    /// The endpoint.
    pub endpoint_id: String,
    /// The sandbox the endpoint is (or was) in, when known: a driver whose
    /// host side is already gone may delete the interface there instead.
    pub sandbox: Option<SandboxPlacement>,
}

/// `NetworkDriver::check`'s arguments: what the endpoint should look like.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CheckRequest {
    /// The endpoint and its sandbox.
    pub endpoint: EndpointRef,
    /// The MAC, addresses and routes it should have.
    pub expected: super::endpoint_data::EndpointInterface,
    /// The links it should consist of, as `create_endpoint` reported them.
    pub links: Vec<super::endpoint_data::EndpointLink>,
}

/// One published port (libnetwork's `PortBinding`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortBinding {
    /// "tcp", "udp" or "sctp".
    pub proto: String,
    /// The container's address (`None`: the endpoint's).
    #[serde(default)]
    pub container_ip: Option<IpAddr>,
    /// The container's port.
    pub container_port: u16,
    /// The host address to listen on (`None`: all).
    #[serde(default)]
    pub host_ip: Option<IpAddr>,
    /// First host port.
    pub host_port: u16,
    /// Last host port of a range (`None`: just `host_port`).
    #[serde(default)]
    pub host_port_end: Option<u16>,
}

/// `program_external_connectivity`'s arguments.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ExternalConnectivity {
    /// The endpoint.
    pub endpoint: EndpointRef,
    /// Ports to publish.
    pub port_bindings: Vec<PortBinding>,
    /// Masquerade traffic leaving the host from this endpoint.
    pub masquerade: bool,
}

/// `NetworkDriver::gc`'s arguments: the network (so a driver can collect
/// garbage for a network it was not asked to create in this process, with
/// options that may no longer validate) and the endpoints to keep.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct GcRequest {
    /// The network.
    pub network: super::network_data::CreateNetwork,
    /// The ids of the endpoints that are still valid.
    pub valid_endpoints: Vec<String>,
}
