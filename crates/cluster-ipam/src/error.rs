//! The errors of cluster IPAM.

use crate::kv::KvError;

/// Everything that can go wrong in cluster IPAM.
#[derive(Debug, thiserror::Error)]
pub enum ClusterIpamError {
    /// A network definition is invalid (bad subnet, VNI, block size...).
    #[error("invalid network {network:?}: {msg}")]
    Config { network: String, msg: String },
    /// Every block of the network is held by some host.
    #[error("network {network:?}: no free block left in {subnet} (all {blocks} blocks of /{prefix} are claimed)")]
    Exhausted {
        network: String,
        subnet: String,
        blocks: u128,
        prefix: u8,
    },
    /// The key-value store failed or is unreachable.
    #[error(transparent)]
    Kv(#[from] KvError),
    /// A record in the store is not what this program writes.
    #[error("malformed record at {key}: {msg}")]
    Malformed { key: String, msg: String },
    /// Every block this host holds for the network is full (or it holds
    /// none yet): the agent claims another one; try again later.
    #[error("no free address in the {blocks} block(s) of network {network:?} this host holds")]
    BlocksFull { network: String, blocks: usize },
    /// A local (host-local store or state file) operation failed.
    #[error(transparent)]
    Ipam(#[from] cnm_ipam::IpamError),
    /// The local state file could not be read or written.
    #[error("{op} {path}: {source}")]
    State {
        op: &'static str,
        path: String,
        source: std::io::Error,
    },
    /// The local state file is not valid.
    #[error("invalid state file {path}: {msg}")]
    BadState { path: String, msg: String },
    /// A block cannot be released (held by another host, or still in use).
    #[error("block {block} of network {network:?}: {msg}")]
    Release {
        network: String,
        block: String,
        msg: String,
    },
}
