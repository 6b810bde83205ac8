//! The overlay network driver: networks spanning hosts (data scope global).
//!
//! On each host the node agent (`cnmd`) keeps one bridge and one VXLAN
//! device per network, claims address blocks in etcd, programs routes to the
//! other hosts' blocks, and writes the network's state file
//! (`<stateDir>/<network>.json`). The driver never talks to etcd: it reads
//! that file, joins containers to the network's bridge exactly as the
//! bridge driver does (it delegates to it, with the bridge, MTU and gateway
//! taken from the state), and masquerades traffic leaving the cluster
//! subnet. Its IPAM driver ([`HeldBlocksIpam`]) allocates from the blocks
//! the host holds, in the host-local store, through cluster-ipam's typed
//! allocator; the state file is read once per request (the driver's
//! `create_network` hands what it read to the IPAM driver).

#![forbid(unsafe_code)]

mod config;
mod driver;
mod ipam;
mod states;
#[cfg(test)]
mod tests;

pub use config::{OverlayConfig, DEFAULT_STATE_DIR};
pub use driver::{OverlayDriver, OVERLAY};
pub use ipam::{HeldBlocksIpam, HELD_BLOCKS_IPAM};
