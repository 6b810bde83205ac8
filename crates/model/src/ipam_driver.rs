//! [`IpamDriver`]: the contract between the model and address management.
//!
//! Two levels, both keyed by an owner (container id + interface name, the
//! key host-local's store records):
//! - the endpoint's addresses at once: [`IpamDriver::allocate`] every pool
//!   of a network for one endpoint (host-local allocates its range sets
//!   under one lock), [`IpamDriver::release`], and the optional `check`,
//!   `gc` and `status`. `Network::create_endpoint` allocates through it, so
//!   every front-end gets addresses the same way;
//! - libnetwork's `ipamapi.Ipam` (address spaces, `request_pool`,
//!   `request_address`...), which Docker's IPAM protocol speaks.
//!
//! The network's binding ([`IpamNetwork`]) carries the driver's options:
//! opaque JSON the driver reads itself, as network options are.

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use super::dns::DnsSettings;
use super::endpoint_data::{InterfaceAddress, StaticRoute};
use super::error::DriverError;
use super::network_data::NetworkOptions;

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

/// A pool a network holds from its IPAM driver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolRecord {
    /// The IPAM driver's pool id.
    pub id: String,
    /// The pool.
    pub pool: IpNet,
}

/// A network as its IPAM driver sees it: its name, the binding's options
/// and the pools it holds.
#[derive(Debug, Clone, Copy)]
pub struct IpamNetwork<'a> {
    /// The network's name (host-local's store is named after it).
    pub name: &'a str,
    /// The IPAM options (for a CNI network, the whole CNI config: host-local
    /// reads `ipam`, `runtimeConfig` and `args` from it).
    pub options: &'a NetworkOptions,
    /// The pools the network holds (may be empty when the options say
    /// where addresses come from).
    pub pools: &'a [PoolRecord],
}

/// What one endpoint asks of [`IpamDriver::allocate`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AllocationRequest {
    /// Who the addresses are reserved for.
    pub owner: OwnerKey,
    /// Specific addresses wanted (each from the pool or range that holds
    /// it), in order of preference.
    pub requested: Vec<IpAddr>,
}

/// What [`IpamDriver::allocate`] hands out: the addresses (with their
/// gateways), and the routes and DNS settings IPAM configures (a CNI IPAM
/// result carries all three).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Allocation {
    /// One address per pool (or range set).
    pub addresses: Vec<InterfaceAddress>,
    /// Routes for the endpoint.
    #[serde(default)]
    pub routes: Vec<StaticRoute>,
    /// DNS settings for the endpoint.
    #[serde(default)]
    pub dns: DnsSettings,
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

    /// Allocate one endpoint's addresses: one in every pool of `net` (or
    /// range set its options name), at once. On failure nothing of this
    /// call stays reserved. The default requests an address per pool.
    fn allocate(
        &self,
        net: &IpamNetwork<'_>,
        req: &AllocationRequest,
    ) -> Result<Allocation, DriverError> {
        let mut out = Allocation::default();
        for pool in net.pools {
            let preferred = req
                .requested
                .iter()
                .copied()
                .find(|ip| pool.pool.contains(ip));
            let got = self.request_address(&AddressRequest {
                pool_id: pool.id.clone(),
                preferred,
                owner: req.owner.clone(),
                options: BTreeMap::new(),
            });
            match got {
                Ok(a) => out.addresses.push(InterfaceAddress {
                    address: a.address,
                    gateway: a.gateway,
                }),
                Err(e) => {
                    // Best effort: the error that stopped us is the one to report.
                    let _ = self.release(net, &req.owner);
                    return Err(e);
                }
            }
        }
        Ok(out)
    }

    /// Release every address `owner` holds in `net` (idempotent: nothing
    /// held is success). The default releases per pool.
    fn release(&self, net: &IpamNetwork<'_>, owner: &OwnerKey) -> Result<(), DriverError> {
        let mut first = None;
        for pool in net.pools {
            let r = self.release_address(&AddressRelease {
                pool_id: pool.id.clone(),
                address: None,
                owner: owner.clone(),
            });
            if let (Err(e), None) = (r, &first) {
                first = Some(e);
            }
        }
        first.map_or(Ok(()), Err)
    }

    /// Verify that `owner` still holds its addresses (CNI CHECK). Optional.
    fn check(&self, _net: &IpamNetwork<'_>, _owner: &OwnerKey) -> Result<(), DriverError> {
        Err(DriverError::not_supported("IPAM check"))
    }

    /// Release everything in `net` not held by one of `valid` (CNI GC).
    /// Optional.
    fn gc(&self, _net: &IpamNetwork<'_>, _valid: &[OwnerKey]) -> Result<(), DriverError> {
        Err(DriverError::not_supported("IPAM gc"))
    }

    /// Ok when the driver can allocate in `net` now (CNI STATUS). Optional.
    fn status(&self, _net: &IpamNetwork<'_>) -> Result<(), DriverError> {
        Err(DriverError::not_supported("IPAM status"))
    }
}
