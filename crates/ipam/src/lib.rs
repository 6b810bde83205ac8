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

/// Modules public only with the `internals` feature (the crate's own
/// integration tests and fuzzing); private otherwise.
macro_rules! internal_mods {
    ($($m:ident),* $(,)?) => {$(
        #[cfg(feature = "internals")]
        pub mod $m;
        #[cfg(not(feature = "internals"))]
        mod $m;
    )*};
}
internal_mods!(allocator, dns, fsio, index, ipmath, lock, owner, stamp, store, trust);

pub mod boot;
pub mod config;
pub mod error;
mod indexed;
pub mod ops;
pub mod plugin;
pub mod range;
mod reclaim;

pub use boot::{BootInfo, BootSource, FixedBoot, SystemBoot};
pub use config::IpamConfig;
pub use error::IpamError;
pub use plugin::{HostLocal, HostLocalOn};
pub use range::{Range, RangeSet, RangeSpec};
pub use store::validate_network_name;
#[cfg(feature = "internals")]
pub use store::Store;
