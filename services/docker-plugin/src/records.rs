//! What the plugin keeps per Docker network, endpoint and IPAM pool (JSON
//! under the state dir, see [`crate::store`]): enough to answer every later
//! call after a restart, since Docker does not replay its creates.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

use cnm_model::{CreateEndpoint, CreateNetwork, CreatedEndpoint, JoinInfo, PortBinding};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// A Docker network on our driver.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetworkRecord {
    /// What the driver was (and after a restart is again) given.
    pub create: CreateNetwork,
    /// `com.docker.network.internal`: no gateway, no masquerade, no published ports.
    #[serde(default)]
    pub internal: bool,
    /// Masquerade traffic leaving the host (option `ipMasq`, default on).
    #[serde(default)]
    pub masquerade: bool,
    /// Default host address of published ports.
    #[serde(default)]
    pub host_binding_ipv4: Option<Ipv4Addr>,
}

/// A Docker endpoint on our driver.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EndpointRecord {
    /// What the driver was given.
    pub create: CreateEndpoint,
    /// What the driver made; `None` while the create is in progress (a record without it is
    /// the trace of a killed create, cleaned up by the next create or delete).
    #[serde(default)]
    pub created: Option<CreatedEndpoint>,
    /// The reply Docker got (replayed for a retried create).
    #[serde(default)]
    pub reply: Option<crate::protocol::network::EndpointInterface>,
    /// The sandbox it joined and what the driver returned.
    #[serde(default)]
    pub join: Option<(String, JoinInfo)>,
    /// Published ports.
    #[serde(default)]
    pub ports: Vec<PortBinding>,
}

/// An IPAM pool handed to Docker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolRecord {
    /// The model's pool id (what Docker uses as PoolID).
    pub id: String,
    /// The pool.
    pub pool: IpNet,
    /// The gateway the IPAM driver reserved with the pool (given to Docker in `Data`).
    #[serde(default)]
    pub gateway: Option<IpNet>,
    /// How many RequestPool calls hold it.
    pub refs: u32,
    /// Addresses handed out, with the owner key under which they were reserved.
    #[serde(default)]
    pub addresses: BTreeMap<IpAddr, String>,
}
