//! libnetwork's Container Network Model in Rust, the center every front-end
//! calls (the CNI plugins, daemons for Docker's remote API, tests):
//!
//! - a [`Controller`] registers [`NetworkDriver`]s and [`IpamDriver`]s by
//!   name (the bridge and host-local built in) and creates [`Network`]s and
//!   [`Sandbox`]es;
//! - a [`Network`] creates [`Endpoint`]s; an endpoint joins one sandbox
//!   ([`Endpoint::join`] returns a [`JoinInfo`]) which places its interface
//!   ([`Sandbox::add_interface`], [`Sandbox::set_gateway`]);
//! - networks, endpoints and sandboxes are owned values (ids plus shared
//!   driver handles) a caller can keep, store ([`NetworkRecord`],
//!   [`EndpointRecord`] are serde) and restore;
//! - everything is generic over the [`crate::system::System`], so the whole
//!   model runs on the fake kernel in unit tests.
//!
//! Two ways to place an interface: the driver prepares it in the host and
//! the sandbox moves it in (Docker, libnetwork's seed), or, when the sandbox
//! is known at endpoint creation ([`EndpointSpec::sandbox`]), the driver
//! creates it directly inside (the CNI fast path).
//!
//! ```no_run
//! use cnm_core::model::{Controller, EndpointSpec, IpamSpec, NetworkOptions, NetworkSpec, PoolRequest};
//! use serde_json::json;
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let controller = Controller::new();
//! let network = controller.new_network(NetworkSpec {
//!     name: "network1".into(),
//!     driver: "bridge".into(),
//!     options: NetworkOptions::from_json(json!({"bridge": "cnm0", "isGateway": true}))?,
//!     ipam: Some(IpamSpec {
//!         driver: "host-local".into(),
//!         pools: vec![PoolRequest { pool: Some("10.50.0.0/24".parse()?), ..Default::default() }],
//!     }),
//!     ..Default::default()
//! })?;
//! let sandbox = controller.new_sandbox("/run/netns/4d23e")?;
//! let mut endpoint = network.create_endpoint("Endpoint1", EndpointSpec::default())?;
//! let info = endpoint.join(&sandbox)?;
//! for iface in &info.interfaces {
//!     sandbox.add_interface(iface)?;
//! }
//! if let Some(gw) = info.gateway {
//!     sandbox.set_gateway(gw)?;
//! }
//! endpoint.leave(&sandbox)?;
//! endpoint.delete()?;
//! sandbox.destroy()?;
//! # Ok(()) }
//! ```

mod controller;
mod driver;
mod endpoint;
mod endpoint_data;
mod error;
mod ipam_driver;
mod join_info;
mod mac;
mod network;
mod network_data;
mod records;
mod sandbox;
mod scope;

pub use controller::{
    Controller, IpamSpec, NetworkSpec, BRIDGE_DRIVER_NAMES, HOST_LOCAL_IPAM_NAMES,
};
pub use driver::NetworkDriver;
pub use endpoint::Endpoint;
pub use endpoint_data::{
    CreateEndpoint, CreatedEndpoint, EndpointInterface, EndpointLink, EndpointOperInfo,
    InterfaceAddress, SandboxPlacement, StaticRoute,
};
pub use error::{DriverError, ErrorKind, ModelError};
pub use ipam_driver::{
    Address, AddressRelease, AddressRequest, AddressSpaces, IpamDriver, OwnerKey, Pool, PoolRequest,
};
pub use join_info::{
    CheckRequest, EndpointRef, ExternalConnectivity, GcRequest, JoinInfo, JoinInterface,
    JoinRequest, Placement, PortBinding,
};
pub use mac::{MacAddr, MacParseError};
pub use network::{EndpointSpec, Network};
pub use network_data::{CreateNetwork, IpamData, NetworkOptions};
pub use records::{EndpointRecord, IpamRecord, NetworkRecord, PoolRecord, ReservedAddress};
pub use sandbox::{Sandbox, SandboxInterface};
pub use scope::{Capabilities, DataScope};

#[cfg(test)]
mod tests;
