//! host-local IPAM: the reference on-disk store, allocation, release and GC.
//!
//! A drop-in for the reference `host-local` plugin (same config, same store
//! format, same allocation order), usable as a library by simplebridge
//! (in-process) and by the `ipam-host-local` binary.

pub mod allocator;
pub mod boot;
pub mod config;
pub mod dns;
pub mod error;
pub mod fsio;
pub mod index;
mod indexed;
pub mod ipmath;
pub mod lock;
pub mod ops;
pub mod owner;
pub mod plugin;
pub mod range;
mod reclaim;
pub mod stamp;
pub mod store;
pub mod trust;

pub use boot::{BootInfo, BootSource, FixedBoot, SystemBoot};
pub use config::IpamConfig;
pub use error::IpamError;
pub use plugin::{HostLocal, HostLocalOn};
pub use range::{Range, RangeSet, RangeSpec};
pub use store::Store;
