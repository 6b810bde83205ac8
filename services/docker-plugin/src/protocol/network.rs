//! NetworkDriver messages (remote.md). Field names are Go's exported names.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `NetworkDriver.GetCapabilities` reply.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CapabilitiesReply {
    /// `local` or `global`.
    pub scope: &'static str,
    /// `local` or `global`.
    pub connectivity_scope: &'static str,
}

/// One entry of `IPv4Data` / `IPv6Data`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct IpamData {
    /// The IPAM address space.
    pub address_space: String,
    /// The pool, CIDR.
    pub pool: String,
    /// The gateway, CIDR (address/prefix of the pool).
    pub gateway: String,
    /// Reserved addresses (identifier -> CIDR).
    pub aux_addresses: Option<Map<String, Value>>,
}

/// `NetworkDriver.CreateNetwork` (also `AllocateNetwork`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CreateNetworkRequest {
    /// Docker's network ID.
    #[serde(rename = "NetworkID")]
    pub network_id: String,
    /// Options: `com.docker.network.generic` holds `-o key=value`,
    /// `com.docker.network.enable_ipv6`, `com.docker.network.internal`, ...
    pub options: Option<Map<String, Value>>,
    /// IPv4 pools.
    #[serde(rename = "IPv4Data")]
    pub ipv4_data: Option<Vec<IpamData>>,
    /// IPv6 pools.
    #[serde(rename = "IPv6Data")]
    pub ipv6_data: Option<Vec<IpamData>>,
}

/// Requests naming only a network (`DeleteNetwork`, `FreeNetwork`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NetworkRequest {
    /// Docker's network ID.
    #[serde(rename = "NetworkID")]
    pub network_id: String,
}

/// The endpoint interface of `CreateEndpoint` (request and reply).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct EndpointInterface {
    /// IPv4 address, CIDR.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub address: String,
    /// IPv6 address, CIDR.
    #[serde(rename = "AddressIPv6", skip_serializing_if = "String::is_empty")]
    pub address_ipv6: String,
    /// MAC address `aa:bb:cc:dd:ee:ff`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub mac_address: String,
}

impl EndpointInterface {
    /// No field set.
    pub fn is_empty(&self) -> bool {
        self.address.is_empty() && self.address_ipv6.is_empty() && self.mac_address.is_empty()
    }
}

/// `NetworkDriver.CreateEndpoint`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CreateEndpointRequest {
    /// Docker's network ID.
    #[serde(rename = "NetworkID")]
    pub network_id: String,
    /// Docker's endpoint ID.
    #[serde(rename = "EndpointID")]
    pub endpoint_id: String,
    /// What Docker (its IPAM) already chose.
    pub interface: Option<EndpointInterface>,
    /// Endpoint options.
    pub options: Option<Map<String, Value>>,
}

/// `NetworkDriver.CreateEndpoint` reply: only the fields the driver chose.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateEndpointReply {
    /// None when Docker supplied everything.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interface: Option<EndpointInterface>,
}

/// Requests naming an endpoint (`DeleteEndpoint`, `EndpointOperInfo`, `Leave`,
/// `RevokeExternalConnectivity`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct EndpointRequest {
    /// Docker's network ID.
    #[serde(rename = "NetworkID")]
    pub network_id: String,
    /// Docker's endpoint ID.
    #[serde(rename = "EndpointID")]
    pub endpoint_id: String,
}

/// `NetworkDriver.EndpointOperInfo` reply.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct OperInfoReply {
    /// Free-form information.
    pub value: Map<String, Value>,
}

/// `NetworkDriver.Join`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct JoinRequest {
    /// Docker's network ID.
    #[serde(rename = "NetworkID")]
    pub network_id: String,
    /// Docker's endpoint ID.
    #[serde(rename = "EndpointID")]
    pub endpoint_id: String,
    /// The sandbox (network namespace path).
    pub sandbox_key: String,
    /// Join options.
    pub options: Option<Map<String, Value>>,
}

/// The interface Docker moves into the sandbox.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InterfaceName {
    /// Its name in the driver's (host) namespace.
    pub src_name: String,
    /// Docker appends an index (`eth` -> `eth0`).
    pub dst_prefix: String,
}

/// One static route of a join.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct StaticRoute {
    /// CIDR.
    pub destination: String,
    /// 0: via `NextHop`; 1: connected.
    pub route_type: u8,
    /// Next hop (RouteType 0).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub next_hop: String,
}

/// `NetworkDriver.Join` reply.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct JoinReply {
    /// The interface to move.
    pub interface_name: InterfaceName,
    /// IPv4 gateway (address only), empty for none.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub gateway: String,
    /// IPv6 gateway (address only), empty for none.
    #[serde(rename = "GatewayIPv6", skip_serializing_if = "String::is_empty")]
    pub gateway_ipv6: String,
    /// Extra routes.
    pub static_routes: Vec<StaticRoute>,
    /// True on internal networks: no default gateway through this network.
    pub disable_gateway_service: bool,
}

/// `NetworkDriver.ProgramExternalConnectivity`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ExternalConnectivityRequest {
    /// Docker's network ID.
    #[serde(rename = "NetworkID")]
    pub network_id: String,
    /// Docker's endpoint ID.
    #[serde(rename = "EndpointID")]
    pub endpoint_id: String,
    /// The sandbox labels: `com.docker.network.portmap`,
    /// `com.docker.network.endpoint.exposedports`, ...
    pub options: Option<Map<String, Value>>,
}

/// `NetworkDriver.DiscoverNew` / `DiscoverDelete`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DiscoveryRequest {
    /// 1: node discovery.
    pub discovery_type: i64,
    /// Type-specific data.
    pub discovery_data: Value,
}

/// `NetworkDriver.AllocateNetwork` reply.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AllocateNetworkReply {
    /// Options for the other nodes (none: a local driver).
    pub options: Map<String, Value>,
}
