//! The name resolver's record store (issue 20): what containers are called on
//! which network, kept in files under `/run/cnm/dns/<netns key>/` (see
//! [`layout`]), and the lifecycle of the one resolver per network namespace
//! that answers from them (`cnm-resolver`, started on demand under the
//! store's lock, told to reload after every change, stopped when no network
//! needs it).
//!
//! Who calls what:
//! - front-ends (the CNI `dnsname` plugin, a netavark plugin, the Docker
//!   plugin), through the model's name service: [`Store::register`] at join,
//!   [`Store::unregister`] at leave/delete, [`Store::check`], [`Store::gc`];
//! - the overlay's node agent: [`Store::set_remote`] / [`Store::remove_remote`]
//!   with one file per other host, removed whole when its lease expires;
//! - the resolver: [`Store::snapshot`] and [`Store::fingerprint`], and the
//!   control protocol of [`control`].
//!
//! The store is the model's name service: [`service`] implements
//! `cnm_model::NameService` for [`Store`].
//!
//! No kernel access here beyond files, `flock(2)` and a process spawn: no
//! netlink, no nftables, no CNI types (the model's name service calls this).

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod control;
pub mod error;
pub mod launcher;
pub mod layout;
pub mod names;
pub mod records;
pub mod service;
pub mod store;

pub use error::{ErrorKind, RecordsError};
pub use launcher::Launcher;
pub use layout::{Layout, NetnsKey, DEFAULT_BASE};
pub use names::{normalize, validate_dns_name, NameError};
pub use records::{
    EndpointRecord, NetworkSettings, RemoteEntry, RemoteRecords, Upstream, FORMAT_VERSION,
};
pub use store::{GcReport, NetworkSnapshot, Registration, Snapshot, Store};
