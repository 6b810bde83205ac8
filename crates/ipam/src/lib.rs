//! host-local IPAM: the reference on-disk store, allocation, release and GC,
//! in the model's types (no CNI type: the CNI front-end converts).
//!
//! The public API is what users need: the model's IPAM driver
//! ([`HostLocalIpam`], with a [`BootSource`]), its config ([`IpamConfig`],
//! ranges), its operations ([`ops`]) and errors. The store, index,
//! allocator and stamp internals are public only with the `internals`
//! feature (the crate's own integration tests and the fuzz targets).
//!
//! A drop-in for the reference `host-local` plugin (same config, same store
//! format, same allocation order): `simplebridge` runs it in-process and the
//! `ipam-host-local` binary serves it through the CNI front-end.

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
internal_mods!(allocator, dns, fsio, index, ipmath, owner, stamp, store, trust);

pub mod boot;
pub mod config;
pub mod driver;
pub mod error;
mod indexed;
pub mod lock;
pub mod ops;
pub mod range;
mod reclaim;

pub use boot::{BootInfo, BootSource, FixedBoot, SystemBoot};
pub use config::{parse_requested_ip, requested_addresses, IpamConfig};
pub use driver::{HostLocalIpam, DEFAULT_DATA_DIR};
pub use error::IpamError;
pub use lock::{lock_timeout_from, DEFAULT_LOCK_TIMEOUT, LOCK_TIMEOUT_ENV};
pub use range::{Range, RangeSet, RangeSpec};
pub use store::validate_network_name;
#[cfg(feature = "internals")]
pub use store::Store;
