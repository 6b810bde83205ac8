//! The overlay driver: networks spanning hosts (data scope global).
//!
//! On each host the node agent (`cnmd`) keeps one bridge and one VXLAN
//! device per network, claims address blocks in etcd, programs routes to the
//! other hosts' blocks, and writes the network's state file
//! (`<stateDir>/<network>.json`). The driver never talks to etcd: it reads
//! that file, joins containers to the network's bridge exactly as the
//! bridge driver does (it delegates to it, with the bridge, MTU and gateway
//! taken from the state), and masquerades traffic leaving the cluster
//! subnet. The CNI front-end ([`OverlayPlugin`]) allocates from the blocks
//! the host holds, in the host-local store.

mod cni;
mod config;
mod driver;
#[cfg(test)]
mod tests;

pub use cni::OverlayPlugin;
pub use config::{OverlayConfig, DEFAULT_STATE_DIR};
pub use driver::OverlayDriver;
