//! The Container Network Model (libnetwork's controller, network driver,
//! network, sandbox and endpoint) over CNI, usable as a plain Rust library.
//!
//! - [`bridge`]: the bridge driver (`simplebridge`) as a CNI plugin;
//! - [`ipam`]: IPAM by delegation (our host-local in-process, others by exec);
//! - [`kernel`]: the narrow kernel and firewall interfaces, real and fake;
//! - [`system`]: the Linux implementation of everything the drivers need;
//! - the protocol layer and the sub-crates are re-exported below.

pub mod bridge;
pub mod firewall;
pub mod ipam;
pub mod ipam_dropin;
pub mod kernel;
pub mod model;
pub mod system;

pub use cni_protocol as cni;
pub use cnm_ipam as host_local;
pub use cnm_netlink as netlink;
pub use cnm_nft as nft;
pub use netns;
