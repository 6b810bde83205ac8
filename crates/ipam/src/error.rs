//! The errors of the IPAM library and their CNI codes.

use std::path::PathBuf;

use cni_protocol::{code, CniError};

/// Everything that can go wrong in host-local. Converted to a [`CniError`] at the
/// plugin boundary (`From<IpamError> for CniError`).
#[derive(Debug, thiserror::Error)]
pub enum IpamError {
    /// The network configuration is invalid (code 7). The message names the field.
    #[error("{0}")]
    Config(String),
    /// A CNI error produced by the protocol layer (e.g. bad CNI_ARGS), passed through.
    #[error("{0}")]
    Cni(CniError),
    /// Allocation failed: exhausted range, requested address taken, duplicate... (code 101).
    #[error("{msg}")]
    Alloc { msg: String, details: String },
    /// CHECK found no reservation for the container (code 101).
    #[error("host-local: Failed to find address added by container {0}")]
    NotFound(String),
    /// A store file or directory could not be used (code 5).
    #[error("{op} {}: {source}", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    /// A store path is a symlink (or not a directory): refused (code 5).
    #[error("refusing {}: {why}", path.display())]
    Unsafe { path: PathBuf, why: String },
    /// The store lock was not obtained in time (code 11).
    #[error("timed out after {waited_ms} ms waiting for the lock {}", path.display())]
    LockTimeout { path: PathBuf, waited_ms: u128 },
    /// STATUS: the plugin cannot serve ADD (code 50).
    #[error("{msg}")]
    NotAvailable { msg: String, details: String },
}

impl IpamError {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        IpamError::Io {
            op,
            path: path.into(),
            source,
        }
    }
    pub(crate) fn alloc(msg: impl Into<String>) -> Self {
        IpamError::Alloc {
            msg: msg.into(),
            details: String::new(),
        }
    }
}

impl From<CniError> for IpamError {
    fn from(e: CniError) -> Self {
        IpamError::Cni(e)
    }
}

impl From<IpamError> for CniError {
    fn from(e: IpamError) -> CniError {
        match e {
            IpamError::Config(m) => CniError::invalid_config(m, ""),
            IpamError::Cni(c) => c,
            IpamError::Alloc { msg, details } => CniError::ipam(msg, details),
            e @ IpamError::NotFound(_) => CniError::ipam(e.to_string(), ""),
            e @ (IpamError::Io { .. } | IpamError::Unsafe { .. }) => {
                CniError::new(code::IO_FAILURE, "host-local store failure", e.to_string())
            }
            e @ IpamError::LockTimeout { .. } => {
                CniError::try_again("host-local store is busy", e.to_string())
            }
            IpamError::NotAvailable { msg, details } => CniError::not_available(msg, details),
        }
    }
}
