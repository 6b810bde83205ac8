//! The persistable records of networks and endpoints: what a daemon stores
//! to rebuild [`super::Network`] and [`super::Endpoint`] values after a
//! restart (with `Controller::restore_network` and
//! `Network::restore_endpoint`). Plain serde data.

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use super::dns::DnsSettings;
use super::endpoint_data::{EndpointInterface, EndpointLink, SandboxPlacement};
use super::ipam_driver::{OwnerKey, PoolRecord};
use super::join_info::JoinInfo;
use super::network_data::{IpamData, NetworkOptions};

/// A network's IPAM binding: which IPAM driver, its options and the pools
/// the network holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IpamRecord {
    /// The IPAM driver's registered name.
    pub driver: String,
    /// The pools requested at network creation (IPv4 and IPv6).
    pub pools: Vec<PoolRecord>,
    /// The IPAM driver's options; `None`: the network's own options (a CNI
    /// network: IPAM reads the same config the network driver does).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<NetworkOptions>,
}

/// Everything that defines a network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetworkRecord {
    /// The network's id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// The registered name of its network driver.
    pub driver: String,
    /// The driver options.
    pub options: NetworkOptions,
    /// IPv4 pool data given to the driver.
    #[serde(default)]
    pub ipv4: Vec<IpamData>,
    /// IPv6 pool data given to the driver.
    #[serde(default)]
    pub ipv6: Vec<IpamData>,
    /// Where endpoint addresses come from, when the model allocates them.
    #[serde(default)]
    pub ipam: Option<IpamRecord>,
}

/// An address the model reserved for an endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReservedAddress {
    /// The pool it came from.
    pub pool_id: String,
    /// The address.
    pub address: IpNet,
}

/// Everything that defines an endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct EndpointRecord {
    /// Its network's id.
    pub network_id: String,
    /// Its id.
    pub id: String,
    /// Addresses and MAC as the driver made them.
    pub interface: EndpointInterface,
    /// The links, as the driver reported them.
    #[serde(default)]
    pub links: Vec<EndpointLink>,
    /// The sandbox it was created in (fast path) or joined.
    #[serde(default)]
    pub sandbox: Option<SandboxPlacement>,
    /// What the driver returned at join.
    #[serde(default)]
    pub join: Option<JoinInfo>,
    /// The IPAM owner the addresses were reserved under.
    #[serde(default)]
    pub owner: Option<OwnerKey>,
    /// Addresses the model reserved (released at delete).
    #[serde(default)]
    pub reserved: Vec<ReservedAddress>,
    /// DNS settings from IPAM.
    #[serde(default, skip_serializing_if = "DnsSettings::is_empty")]
    pub dns: DnsSettings,
}
