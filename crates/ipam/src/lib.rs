//! host-local IPAM: the reference on-disk store, allocation, release and GC.
//!
//! The public API is what users need: the plugin ([`HostLocal`],
//! [`HostLocalOn`] with a [`BootSource`]), its config ([`IpamConfig`],
//! ranges), its operations ([`ops`]) and errors. The store, index,
//! allocator and stamp internals are public only with the `internals`
//! feature (the crate's own integration tests and the fuzz targets).
//!
//! A drop-in for the reference `host-local` plugin (same config, same store
//! format, same allocation order), usable as a library by simplebridge
//! (in-process) and by the `ipam-host-local` binary.

#[cfg(feature = "internals")]
pub mod allocator;
#[cfg(not(feature = "internals"))]
mod allocator;
pub mod boot;
pub mod config;
#[cfg(feature = "internals")]
pub mod dns;
#[cfg(not(feature = "internals"))]
mod dns;
pub mod error;
#[cfg(feature = "internals")]
pub mod fsio;
#[cfg(not(feature = "internals"))]
mod fsio;
#[cfg(feature = "internals")]
pub mod index;
#[cfg(not(feature = "internals"))]
mod index;
mod indexed;
#[cfg(feature = "internals")]
pub mod ipmath;
#[cfg(not(feature = "internals"))]
mod ipmath;
#[cfg(feature = "internals")]
pub mod lock;
#[cfg(not(feature = "internals"))]
mod lock;
pub mod ops;
#[cfg(feature = "internals")]
pub mod owner;
#[cfg(not(feature = "internals"))]
mod owner;
pub mod plugin;
pub mod range;
mod reclaim;
#[cfg(feature = "internals")]
pub mod stamp;
#[cfg(not(feature = "internals"))]
mod stamp;
#[cfg(feature = "internals")]
pub mod store;
#[cfg(not(feature = "internals"))]
mod store;
#[cfg(feature = "internals")]
pub mod trust;
#[cfg(not(feature = "internals"))]
mod trust;

pub use boot::{BootInfo, BootSource, FixedBoot, SystemBoot};
pub use config::IpamConfig;
pub use error::IpamError;
pub use plugin::{HostLocal, HostLocalOn};
pub use range::{Range, RangeSet, RangeSpec};
pub use store::validate_network_name;
#[cfg(feature = "internals")]
pub use store::Store;
