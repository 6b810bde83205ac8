//! Cluster-wide address blocks for the overlay.
//!
//! A network's subnet is cut into equal blocks ([`BlockPlan`]). A host claims
//! a free block with a compare-and-create in a key-value store ([`Kv`], etcd
//! in production): the write succeeds only if the block's key does not exist
//! yet, and the record names the host ([`claim`]). Addresses inside the
//! blocks a host holds are allocated locally, in the host-local store format
//! with its locking ([`local`]), so an ADD never waits on the store while a
//! held block has room. A block is released only explicitly or by a GC of
//! empty blocks of hosts whose lease is gone ([`claim::gc_blocks`]).

#![forbid(unsafe_code)]

pub mod claim;
pub mod error;
pub mod fake;
pub mod keys;
pub mod kv;
pub mod local;
pub mod network;
pub mod plan;
pub mod state;

pub use claim::{BlockRecord, Claimer};
pub use error::ClusterIpamError;
pub use kv::{Kv, KvError};
pub use network::NetworkSpec;
pub use plan::BlockPlan;
pub use state::HostState;
