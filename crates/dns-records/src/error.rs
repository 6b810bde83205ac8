//! The store's errors: a kind a front-end maps to its own codes (CNI code,
//! netavark `{"error"}`, Docker `{"Err"}`), and a message naming the field,
//! file or resolver step that failed.

use std::io;
use std::path::PathBuf;

/// What kind of failure, for front-ends to map once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A record or setting given by the caller is invalid (CNI: 7).
    InvalidInput,
    /// A file of the store could not be read or written (CNI: 11).
    Io,
    /// The store's lock was not obtained in time (CNI: 11, try again).
    Busy,
    /// The resolver could not be started, reached or made to listen (CNI: 11).
    Resolver,
    /// The state is not what it should be (CHECK; CNI: 11).
    Mismatch,
}

/// An error of the record store.
#[derive(Debug, thiserror::Error)]
pub enum RecordsError {
    /// A field of a record is invalid.
    #[error("invalid {field}: {msg}")]
    Invalid {
        /// The field (`aliases`, `domain`, ...).
        field: String,
        /// Why.
        msg: String,
    },
    /// A file operation failed.
    #[error("{what} {}: {source}", path.display())]
    Io {
        /// What was being done (`write`, `read`, `remove`...).
        what: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The lock was held by someone else for too long.
    #[error("the record store {} is locked by another process (waited {waited_ms} ms)", path.display())]
    Busy {
        /// The store's directory.
        path: PathBuf,
        /// How long we waited.
        waited_ms: u64,
    },
    /// The resolver failed.
    #[error("name resolver: {0}")]
    Resolver(String),
    /// CHECK found a difference.
    #[error("{0}")]
    Mismatch(String),
}

impl RecordsError {
    /// An invalid field.
    pub fn invalid(field: &str, msg: impl Into<String>) -> Self {
        RecordsError::Invalid {
            field: field.to_string(),
            msg: msg.into(),
        }
    }

    /// A file operation error.
    pub fn io(what: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        RecordsError::Io {
            what,
            path: path.into(),
            source,
        }
    }

    /// The kind, for front-ends.
    pub fn kind(&self) -> ErrorKind {
        match self {
            RecordsError::Invalid { .. } => ErrorKind::InvalidInput,
            RecordsError::Io { .. } => ErrorKind::Io,
            RecordsError::Busy { .. } => ErrorKind::Busy,
            RecordsError::Resolver(_) => ErrorKind::Resolver,
            RecordsError::Mismatch(_) => ErrorKind::Mismatch,
        }
    }
}
