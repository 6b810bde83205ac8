//! Errors of the model: [`DriverError`] (what a network or IPAM driver
//! returns, with a kind every front-end can map to its own codes) and
//! [`ModelError`] (what a controller, network, endpoint or sandbox call
//! returns).

use std::error::Error as StdError;

use crate::kernel::KernelError;
use crate::system::SandboxError;

/// What kind of failure a driver reports. Front-ends map kinds to their own
/// error codes (the CNI adapter to CNI codes, a Docker front-end to HTTP
/// statuses); [`DriverError::code`] carries a code through unchanged when a
/// driver delegated to a program that already chose one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The driver does not implement this operation (an optional extension
    /// point such as external connectivity, check or gc).
    NotSupported,
    /// The network options or another driver config are invalid.
    InvalidConfig,
    /// An argument of the call is invalid (an id, a name, a sandbox key).
    InvalidArgument,
    /// The sandbox key does not name a usable network namespace.
    InvalidSandbox,
    /// The network, endpoint, pool or address is not known to the driver.
    NotFound,
    /// The object exists already.
    AlreadyExists,
    /// A kernel or firewall operation failed.
    Kernel,
    /// Address management failed (pool exhausted, address taken...).
    Ipam,
    /// A file or other I/O failed.
    Io,
    /// A reply could not be decoded.
    Decoding,
    /// The driver cannot serve requests now (STATUS).
    Unavailable,
    /// Transient: try again later.
    TryAgainLater,
    /// The versions of the caller and the driver do not match.
    Incompatible,
    /// A bug or an unexpected state.
    Internal,
}

/// An error returned by a [`super::NetworkDriver`] or [`super::IpamDriver`]:
/// a kind, a short message and details naming the object that failed.
#[derive(Debug, thiserror::Error)]
#[error("{msg}{}", if details.is_empty() { String::new() } else { format!(": {details}") })]
pub struct DriverError {
    /// What kind of failure.
    pub kind: ErrorKind,
    /// A short, stable message ("failed to create veth pair").
    pub msg: String,
    /// What failed and why (names of links, namespaces, files).
    pub details: String,
    /// A front-end code chosen by a delegated program (a CNI plugin's error
    /// code), passed through unchanged; `None` for errors made here.
    pub code: Option<u32>,
    /// The underlying error, when there is one.
    #[source]
    pub source: Option<Box<dyn StdError + Send + Sync>>,
}

impl DriverError {
    /// An error of `kind` with a message and details.
    pub fn new(kind: ErrorKind, msg: impl Into<String>, details: impl Into<String>) -> Self {
        DriverError {
            kind,
            msg: msg.into(),
            details: details.into(),
            code: None,
            source: None,
        }
    }

    /// "not supported" for an optional operation.
    pub fn not_supported(op: &str) -> Self {
        DriverError::new(
            ErrorKind::NotSupported,
            format!("{op} is not supported by this driver"),
            "",
        )
    }

    /// An invalid config.
    pub fn invalid_config(msg: impl Into<String>, details: impl Into<String>) -> Self {
        DriverError::new(ErrorKind::InvalidConfig, msg, details)
    }

    /// An invalid argument.
    pub fn invalid_argument(msg: impl Into<String>, details: impl Into<String>) -> Self {
        DriverError::new(ErrorKind::InvalidArgument, msg, details)
    }

    /// An unknown network, endpoint, pool or address.
    pub fn not_found(msg: impl Into<String>, details: impl Into<String>) -> Self {
        DriverError::new(ErrorKind::NotFound, msg, details)
    }

    /// A failed kernel operation, keeping the kernel error as the source.
    pub fn kernel(msg: impl Into<String>, source: KernelError) -> Self {
        DriverError {
            kind: ErrorKind::Kernel,
            msg: msg.into(),
            details: source.to_string(),
            code: None,
            source: Some(Box::new(source)),
        }
    }

    /// An address-management failure.
    pub fn ipam(msg: impl Into<String>, details: impl Into<String>) -> Self {
        DriverError::new(ErrorKind::Ipam, msg, details)
    }

    /// Attach a front-end code chosen by a delegated program.
    pub fn with_code(mut self, code: u32) -> Self {
        self.code = Some(code);
        self
    }

    /// Attach the underlying error.
    pub fn with_source(mut self, source: impl StdError + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// True for [`ErrorKind::NotSupported`].
    pub fn is_not_supported(&self) -> bool {
        self.kind == ErrorKind::NotSupported
    }
}

impl From<SandboxError> for DriverError {
    fn from(e: SandboxError) -> Self {
        let kind = match &e {
            SandboxError::Missing(_) | SandboxError::NotNetns(..) => ErrorKind::InvalidSandbox,
            SandboxError::OwnNamespace(_) => ErrorKind::InvalidSandbox,
            SandboxError::Kernel(_) => ErrorKind::Kernel,
        };
        let msg = match &e {
            SandboxError::Kernel(_) => "open network namespace".to_string(),
            _ => "invalid sandbox".to_string(),
        };
        DriverError {
            kind,
            msg,
            details: e.to_string(),
            code: None,
            source: Some(Box::new(e)),
        }
    }
}

/// What went wrong in a controller, network, endpoint or sandbox call.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// A driver failed; `op` says which call on which object.
    #[error("{op}: {source}")]
    Driver {
        /// The call and its object ("create endpoint \"c1/eth0\"").
        op: String,
        /// The driver's error.
        #[source]
        source: DriverError,
    },
    /// No driver is registered under this name.
    #[error("no {what} driver named {name:?} is registered")]
    UnknownDriver {
        /// "network" or "IPAM".
        what: &'static str,
        /// The name asked for.
        name: String,
    },
    /// A driver of this name is registered already.
    #[error("a {what} driver named {name:?} is registered already")]
    DriverExists {
        /// "network" or "IPAM".
        what: &'static str,
        /// The name.
        name: String,
    },
    /// A sandbox operation failed.
    #[error("sandbox {key}: {source}")]
    Sandbox {
        /// The sandbox key (namespace path).
        key: String,
        /// Why.
        #[source]
        source: SandboxError,
    },
    /// Bad input to the API.
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// What was invalid.
        what: String,
        /// Why.
        reason: String,
    },
}

impl ModelError {
    /// A driver error with the call it came from.
    pub fn driver(op: impl Into<String>, source: DriverError) -> Self {
        ModelError::Driver {
            op: op.into(),
            source,
        }
    }

    /// Bad input.
    pub fn invalid(what: impl Into<String>, reason: impl ToString) -> Self {
        ModelError::Invalid {
            what: what.into(),
            reason: reason.to_string(),
        }
    }

    /// A sandbox failure.
    pub fn sandbox(key: impl Into<String>, source: impl Into<SandboxError>) -> Self {
        ModelError::Sandbox {
            key: key.into(),
            source: source.into(),
        }
    }

    /// The driver error inside, if this is one.
    pub fn driver_error(&self) -> Option<&DriverError> {
        match self {
            ModelError::Driver { source, .. } => Some(source),
            _ => None,
        }
    }
}
