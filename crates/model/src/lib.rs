//! libnetwork's Container Network Model in Rust, the center every front-end
//! calls (the CNI plugins, the Docker plugin, tests), and the only way in:
//!
//! - a [`Controller`] registers [`NetworkDriver`]s and [`IpamDriver`]s by
//!   name (front-ends register the built-in ones they serve; the model
//!   registers none) and creates [`Network`]s and [`Sandbox`]es;
//! - a [`Network`] allocates every endpoint's addresses through its IPAM
//!   driver and creates [`Endpoint`]s; an endpoint joins one sandbox
//!   ([`Endpoint::join`] returns a [`JoinInfo`]) which places its interface
//!   ([`Sandbox::add_interface`], [`Sandbox::set_gateway`]);
//! - networks, endpoints and sandboxes are owned values (ids plus shared
//!   driver handles) a caller can keep, store ([`NetworkRecord`],
//!   [`EndpointRecord`] are serde) and restore;
//! - the machine is reached only through [`SandboxOps`] (and the drivers'
//!   own kernel seam): this crate depends on no CNI, netlink or nftables
//!   crate (checked by `tests/architecture`), so every front-end and driver
//!   meets the same model, and the whole of it runs on fakes in tests;
//! - errors are typed: [`DriverError`] (a kind, no front-end code),
//!   [`ModelError`], and [`ErrorList`] for teardowns that run every step.
//!
//! Two ways to place an interface: the driver prepares it in the host and
//! the sandbox moves it in (Docker, libnetwork's seed), or, when the sandbox
//! is known at endpoint creation ([`EndpointSpec::sandbox`]), the driver
//! creates it directly inside (the CNI fast path).
//!
//! ```no_run
//! use cnm_model::{Controller, EndpointSpec, IpamSpec, NetworkOptions, NetworkSpec, PoolRequest};
//! use serde_json::json;
//! // `controller`: built by a front-end on the kernel seam, with the bridge
//! // and host-local registered (see cnm-bridge's `seed` example).
//! fn seed(controller: &Controller) -> Result<(), Box<dyn std::error::Error>> {
//!     let network = controller.new_network(NetworkSpec {
//!         name: "network1".into(),
//!         driver: "bridge".into(),
//!         options: NetworkOptions::from_json(json!({"bridge": "cnm0", "isGateway": true}))?,
//!         ipam: Some(IpamSpec {
//!             driver: "host-local".into(),
//!             pools: vec![PoolRequest { pool: Some("10.50.0.0/24".parse()?), ..Default::default() }],
//!             options: None,
//!         }),
//!         ..Default::default()
//!     })?;
//!     let sandbox = controller.new_sandbox("/run/netns/4d23e")?;
//!     let mut endpoint = network.create_endpoint("Endpoint1", EndpointSpec::default())?;
//!     let info = endpoint.join(&sandbox)?;
//!     for iface in &info.interfaces {
//!         sandbox.add_interface(iface)?;
//!     }
//!     if let Some(gw) = info.gateway {
//!         sandbox.set_gateway(gw)?;
//!     }
//!     endpoint.leave(&sandbox)?;
//!     endpoint.delete()?;
//!     sandbox.destroy()?;
//!     Ok(())
//! }
//! ```

#![forbid(unsafe_code)]

mod controller;
mod dns;
mod driver;
mod endpoint;
mod endpoint_data;
mod error;
mod ipam_driver;
mod join_info;
mod mac;
mod names;
mod network;
mod network_core;
mod network_data;
mod records;
mod sandbox;
mod sandbox_ops;
mod scope;

pub use controller::{Controller, IpamSpec, NetworkSpec};
pub use dns::DnsSettings;
pub use driver::NetworkDriver;
pub use endpoint::Endpoint;
pub use endpoint_data::{
    CreateEndpoint, CreatedEndpoint, EndpointInterface, EndpointLink, EndpointOperInfo,
    InterfaceAddress, SandboxPlacement, StaticRoute,
};
pub use error::{DriverError, ErrorKind, ErrorList, ModelError, SandboxError};
pub use ipam_driver::{
    Address, AddressRelease, AddressRequest, AddressSpaces, Allocation, AllocationRequest,
    IpamDriver, IpamNetwork, OwnerKey, Pool, PoolRecord, PoolRequest,
};
pub use join_info::{
    CheckRequest, EndpointRef, ExternalConnectivity, GcRequest, JoinInfo, JoinInterface,
    JoinRequest, Placement, PortBinding,
};
pub use mac::{MacAddr, MacParseError};
pub use names::{EndpointNames, NameRegistration, NameService, NetworkNames};
pub use network::{EndpointSpec, Network};
pub use network_data::{CreateNetwork, IpamData, NetworkOptions};
pub use records::{EndpointRecord, IpamRecord, NetworkRecord, ReservedAddress};
pub use sandbox::{Sandbox, SandboxInterface};
pub use sandbox_ops::{DstName, PlaceInterface, SandboxOps};
pub use scope::{Capabilities, DataScope};
