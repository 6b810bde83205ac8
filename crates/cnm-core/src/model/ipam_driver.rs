//! [`IpamDriver`]: the contract between the model and address management,
//! after libnetwork's `ipamapi.Ipam`: address spaces, pools, addresses.
//!
//! Our host-local (`crate::host_local_ipam::HostLocalIpam`) implements it over
//! the reference on-disk store; an owner key (container id + interface name)
//! keeps that store's format for addresses requested through this API.

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use super::error::DriverError;

/// The default address spaces of an IPAM driver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddressSpaces {
    /// For local-scope networks.
    pub local: String,
    /// For global-scope networks.
    pub global: String,
}

/// `request_pool`'s arguments. Construct with `..Default::default()`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PoolRequest {
    /// The address space (empty: the driver's local default).
    pub address_space: String,
    /// The pool wanted (`None`: the driver picks one).
    pub pool: Option<IpNet>,
    /// Allocate only from this part of the pool.
    pub sub_pool: Option<IpNet>,
    /// Driver options (host-local: `name`, the store's folder; `dataDir`).
    pub options: BTreeMap<String, String>,
    /// An IPv6 pool when the driver picks one.
    pub v6: bool,
}

/// A pool granted by `request_pool`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pool {
    /// The id to use in later calls (self-describing for host-local, so it
    /// stays valid across restarts).
    pub id: String,
    /// The pool.
    pub pool: IpNet,
    /// The gateway the driver reserved, with the pool's prefix length.
    pub gateway: Option<IpNet>,
    /// Driver data about the pool.
    pub data: BTreeMap<String, String>,
}

/// Who owns an address: container id and interface name (host-local's
/// store records both, byte-compatible with the reference plugin).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct OwnerKey {
    /// The container (CNI_CONTAINERID; an endpoint id for daemons).
    pub container_id: String,
    /// The interface name in the sandbox.
    pub ifname: String,
}

/// `request_address`'s arguments. Construct with `..Default::default()`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AddressRequest {
    /// The pool.
    pub pool_id: String,
    /// A specific address (`None`: the next free one).
    pub preferred: Option<IpAddr>,
    /// The owner recorded with the reservation.
    pub owner: OwnerKey,
    /// Driver options.
    pub options: BTreeMap<String, String>,
}

/// An address granted by `request_address`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    /// The address with the pool's prefix length.
    pub address: IpNet,
    /// The pool's gateway, when known.
    pub gateway: Option<IpAddr>,
}

/// `release_address`'s arguments. Construct with `..Default::default()`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AddressRelease {
    /// The pool.
    pub pool_id: String,
    /// The address; `None`: every address of `owner` in the pool.
    pub address: Option<IpAddr>,
    /// The owner (host-local releases by owner, as the reference does).
    pub owner: OwnerKey,
}

/// An IPAM driver.
pub trait IpamDriver: Send + Sync {
    /// The driver's name ("host-local").
    fn name(&self) -> &str;

    /// The default local and global address spaces.
    fn default_address_spaces(&self) -> Result<AddressSpaces, DriverError>;

    /// Reserve a pool.
    fn request_pool(&self, req: &PoolRequest) -> Result<Pool, DriverError>;

    /// Release a pool (its addresses stay reserved until released).
    fn release_pool(&self, pool_id: &str) -> Result<(), DriverError>;

    /// Reserve an address in a pool.
    fn request_address(&self, req: &AddressRequest) -> Result<Address, DriverError>;

    /// Release an address; releasing an address that is not reserved is
    /// success (idempotent).
    fn release_address(&self, req: &AddressRelease) -> Result<(), DriverError>;
}
