//! The name service (issue 20): a network may have names ([`NetworkNames`]:
//! a domain, whether it forwards, where its resolver listens); an endpoint
//! that joins it registers its name and aliases ([`EndpointNames`]) with its
//! addresses, and leaving or deleting it unregisters them. The model only
//! defines the contract; the record store of `cnm-dns-records` (served by
//! `cnm-resolver`) implements it, and front-ends hand it to the model
//! ([`crate::Network::with_names`]) or, for a chained plugin that creates
//! no endpoint (CNI `dnsname`), call it directly.
//!
//! Every call is keyed by network name + [`OwnerKey`] (container id +
//! interface name), so a one-shot front-end can unregister what another
//! process registered. Errors are [`DriverError`]s (kind + message), mapped
//! once per front-end like a driver's.

use std::net::{IpAddr, SocketAddr};

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use super::dns::DnsSettings;
use super::error::DriverError;
use super::ipam_driver::OwnerKey;

/// A network's name settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkNames {
    /// Names answer with and without this domain (`dns.podman`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// No forwarding of other names from this network.
    #[serde(default)]
    pub internal: bool,
    /// Where the resolver listens: the network's gateway addresses.
    #[serde(default)]
    pub listen: Vec<IpAddr>,
    /// Resolvers to forward to instead of the host's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub upstreams: Vec<SocketAddr>,
    /// The network's subnets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subnets: Vec<IpNet>,
}

/// An endpoint's names.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointNames {
    /// The container's name (also the PTR answer).
    pub name: String,
    /// More names for the same addresses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
}

/// One registration: who, under which names, with which addresses.
#[derive(Debug, Clone, Copy)]
pub struct NameRegistration<'a> {
    /// The network's name.
    pub network: &'a str,
    /// The attachment.
    pub owner: &'a OwnerKey,
    /// Its names.
    pub names: &'a EndpointNames,
    /// Its addresses (no prefix length).
    pub addresses: &'a [IpAddr],
}

/// The contract a name service fulfils. Implementations are `Send + Sync`
/// and keep no per-call state: every call is keyed by network + owner.
pub trait NameService: Send + Sync {
    /// Registers (or replaces) `reg` on a network with `settings`; returns
    /// the DNS settings the endpoint's resolver configuration gets (name
    /// servers, search domain). When this returns, the names answer.
    fn register(
        &self,
        settings: &NetworkNames,
        reg: &NameRegistration<'_>,
    ) -> Result<DnsSettings, DriverError>;

    /// Removes the names of `owner` on `network` (none: nothing to do).
    /// When this returns, they no longer answer.
    fn unregister(&self, network: &str, owner: &OwnerKey) -> Result<(), DriverError>;

    /// Verifies `reg` is registered as given and served.
    fn check(&self, reg: &NameRegistration<'_>) -> Result<(), DriverError>;

    /// Removes the names of every attachment of `network` not in `keep`.
    fn gc(&self, network: &str, keep: &[OwnerKey]) -> Result<(), DriverError>;
}
