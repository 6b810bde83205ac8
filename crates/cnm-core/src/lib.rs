//! The Container Network Model (libnetwork's controller, network driver,
//! network, sandbox and endpoint) over CNI, usable as a plain Rust library.
//!
//! - [`model`]: the controller, networks, endpoints, sandboxes and the
//!   driver contracts every front-end calls;
//! - [`bridge`]: the bridge driver (`simplebridge`) behind the model;
//! - [`overlay`]: the overlay driver (`simpleoverlay`, networks across hosts);
//! - [`cni`]: the CNI front-end (requests to model calls, results back);
//! - [`host_local_ipam`]: host-local as a model IPAM driver;
//! - [`ipam`]: IPAM by delegation (our host-local in-process, others by exec);
//! - [`kernel`]: the narrow kernel and firewall interfaces, real and fake;
//! - [`system`]: the Linux implementation of everything the drivers need;
//! - the protocol layer and the sub-crates are re-exported below.

#![forbid(unsafe_code)]

pub mod bridge;
pub mod cni;
pub mod firewall;
pub mod host_local_ipam;
pub mod ipam;
pub mod ipam_dropin;
pub mod kernel;
pub mod model;
pub mod overlay;
pub mod system;

pub use cni_protocol as protocol;
pub use cnm_ipam as host_local;
pub use cnm_netlink as netlink;
pub use cnm_nft as nft;
pub use netns;
