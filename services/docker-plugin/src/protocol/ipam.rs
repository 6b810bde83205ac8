//! IpamDriver messages (ipam.md).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `IpamDriver.GetCapabilities` reply.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CapabilitiesReply {
    /// The MAC address is not needed to allocate.
    #[serde(rename = "RequiresMACAddress")]
    pub requires_mac_address: bool,
    /// Pools and addresses are kept by the plugin: no replay after a restart.
    pub requires_request_replay: bool,
}

/// `IpamDriver.GetDefaultAddressSpaces` reply.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AddressSpacesReply {
    /// For local-scope networks.
    pub local_default_address_space: String,
    /// For global-scope networks.
    pub global_default_address_space: String,
}

/// `IpamDriver.RequestPool`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RequestPoolRequest {
    /// Address space (mandatory).
    pub address_space: String,
    /// CIDR, or empty for one of the plugin's choice.
    pub pool: String,
    /// CIDR inside `Pool` to allocate from, optional.
    pub sub_pool: String,
    /// Driver options (`--ipam-opt`).
    pub options: Option<Map<String, Value>>,
    /// Want an IPv6 pool when `Pool` is empty.
    #[serde(rename = "V6")]
    pub v6: bool,
}

/// `IpamDriver.RequestPool` reply.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RequestPoolReply {
    /// The pool's identifier.
    #[serde(rename = "PoolID")]
    pub pool_id: String,
    /// The pool, CIDR.
    pub pool: String,
    /// Metadata.
    pub data: Map<String, Value>,
}

/// `IpamDriver.ReleasePool`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ReleasePoolRequest {
    /// The pool's identifier.
    #[serde(rename = "PoolID")]
    pub pool_id: String,
}

/// `IpamDriver.RequestAddress`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RequestAddressRequest {
    /// The pool's identifier.
    #[serde(rename = "PoolID")]
    pub pool_id: String,
    /// Preferred address (no prefix), empty for any.
    pub address: String,
    /// Options (`RequestAddressType: com.docker.network.gateway` for the gateway).
    pub options: Option<Map<String, Value>>,
}

/// `IpamDriver.RequestAddress` reply.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RequestAddressReply {
    /// The address with the pool's prefix length (CIDR).
    pub address: String,
    /// Metadata.
    pub data: Map<String, Value>,
}

/// `IpamDriver.ReleaseAddress`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ReleaseAddressRequest {
    /// The pool's identifier.
    #[serde(rename = "PoolID")]
    pub pool_id: String,
    /// The address (no prefix).
    pub address: String,
}
