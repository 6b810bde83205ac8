//! Errors of the library API.

use cni_protocol::CniError;

/// What went wrong in a controller, network, sandbox or endpoint call.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// A driver (in-process or exec'd) returned a CNI error.
    #[error("{op} failed: {source}")]
    Driver {
        op: String,
        #[source]
        source: CniError,
    },
    /// A sandbox operation failed.
    #[error("sandbox {path}: {reason}")]
    Sandbox { path: String, reason: String },
    /// Bad input to the API.
    #[error("invalid {what}: {reason}")]
    Invalid { what: String, reason: String },
}

impl ModelError {
    pub(crate) fn driver(op: impl Into<String>, source: CniError) -> Self {
        ModelError::Driver {
            op: op.into(),
            source,
        }
    }
    pub(crate) fn invalid(what: impl Into<String>, reason: impl ToString) -> Self {
        ModelError::Invalid {
            what: what.into(),
            reason: reason.to_string(),
        }
    }
    pub(crate) fn sandbox(path: impl Into<String>, reason: impl ToString) -> Self {
        ModelError::Sandbox {
            path: path.into(),
            reason: reason.to_string(),
        }
    }
}
