//! libnetwork's Container Network Model in Rust: a [`Controller`] registers
//! network drivers and creates [`Network`]s; a [`Sandbox`] is a container's
//! network namespace; an [`Endpoint`] joins one sandbox to one network.
//!
//! ```no_run
//! use cnm_core::model::{Controller, Sandbox};
//! use serde_json::json;
//! # fn main() -> Result<(), cnm_core::model::ModelError> {
//! let controller = Controller::new();
//! let driver = controller.new_network_driver("simplebridge", Default::default())?;
//! let network = controller.new_network(&driver, "network1", json!({
//!     "bridge": "cnm0", "isGateway": true,
//!     "ipam": {"type": "ipam-host-local", "subnet": "10.50.0.0/24"}
//! }))?;
//! let sandbox = Sandbox::new("/run/netns/4d23e")?;
//! let (endpoint, info) = network.create_endpoint("Endpoint1", sandbox.key())?;
//! for iface in &info.interfaces {
//!     sandbox.add_interface(iface)?;
//! }
//! if let Some(gw) = info.gateway {
//!     sandbox.set_gateway(gw)?;
//! }
//! endpoint.delete()?;
//! sandbox.destroy()?;
//! # Ok(()) }
//! ```

mod controller;
mod driver;
mod endpoint;
mod error;
mod network;
mod sandbox;

pub use controller::Controller;
pub use driver::{Driver, DriverOptions};
pub use endpoint::{Endpoint, InterfaceInfo, SandboxInfo};
pub use error::ModelError;
pub use network::Network;
pub use sandbox::Sandbox;
