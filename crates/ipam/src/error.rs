//! The errors of the IPAM library and their kinds in the model.

use std::path::PathBuf;

use cnm_model::{DriverError, ErrorKind};

/// Everything that can go wrong in host-local. Converted to the model's
/// [`DriverError`] at the IPAM driver boundary (`From<IpamError> for
/// DriverError`), which front-ends map to their codes (CNI: 7, 101, 5, 11, 50).
#[derive(Debug, thiserror::Error)]
pub enum IpamError {
    /// The network configuration is invalid (code 7). The message names the field.
    #[error("{0}")]
    Config(String),
    /// Allocation failed: exhausted range, requested address taken, duplicate... (code 101).
    #[error("{msg}")]
    Alloc { msg: String, details: String },
    /// A range set has no free address left (code 101): typed, so callers
    /// (the overlay's held blocks) tell exhaustion from other failures.
    #[error("{msg}")]
    Exhausted { msg: String, details: String },
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
    /// GC released what it could but some releases failed (code 5).
    #[error("host-local GC released {released} addresses but hit errors")]
    Gc {
        released: usize,
        errors: Vec<String>,
    },
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

impl From<IpamError> for DriverError {
    fn from(e: IpamError) -> DriverError {
        let (kind, msg, details) = match &e {
            IpamError::Config(m) => (ErrorKind::InvalidConfig, m.clone(), String::new()),
            IpamError::Alloc { msg, details } | IpamError::Exhausted { msg, details } => {
                (ErrorKind::Ipam, msg.clone(), details.clone())
            }
            IpamError::NotFound(_) => (ErrorKind::Ipam, e.to_string(), String::new()),
            IpamError::Io { .. } | IpamError::Unsafe { .. } => (
                ErrorKind::Io,
                "host-local store failure".to_string(),
                e.to_string(),
            ),
            IpamError::LockTimeout { .. } => (
                ErrorKind::TryAgainLater,
                "host-local store is busy".to_string(),
                e.to_string(),
            ),
            IpamError::Gc { errors, .. } => (ErrorKind::Io, e.to_string(), errors.join("; ")),
            IpamError::NotAvailable { msg, details } => {
                (ErrorKind::Unavailable, msg.clone(), details.clone())
            }
        };
        DriverError::new(kind, msg, details).with_source(e)
    }
}
