//! Errors of the model: [`DriverError`] (what a network or IPAM driver
//! returns: a kind every front-end maps to its own codes, a message, details
//! and the underlying error), [`SandboxError`] (a sandbox that cannot be
//! used), [`ModelError`] (what a controller, network, endpoint or sandbox
//! call returns) and [`ErrorList`] (every error of a teardown, as netavark's
//! `NetavarkErrorList`).

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;

/// What kind of failure a driver reports. Front-ends map kinds to their own
/// error codes (the CNI front-end to CNI codes, the Docker front-end to its
/// `{"Err"}` replies); a front-end that needs more (a code chosen by a
/// program the driver ran) reads it from [`DriverError::source`].
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
    /// The object exists already (an endpoint's interface is live).
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

/// An error returned by a [`crate::NetworkDriver`] or [`crate::IpamDriver`]:
/// a kind, a short message, details naming the object that failed, and the
/// underlying error when there is one. No front-end code is in it.
#[derive(Debug, thiserror::Error)]
#[error("{msg}{}", if details.is_empty() { String::new() } else { format!(": {details}") })]
pub struct DriverError {
    /// What kind of failure.
    pub kind: ErrorKind,
    /// A short, stable message ("failed to create veth pair").
    pub msg: String,
    /// What failed and why (names of links, namespaces, files).
    pub details: String,
    /// The underlying error (a kernel error, a sandbox error, the error a
    /// delegated program replied with).
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
            source: None,
        }
    }

    /// An error of `kind` caused by `source`: the details are the source's
    /// message, and the source is kept.
    pub fn caused_by(
        kind: ErrorKind,
        msg: impl Into<String>,
        source: impl StdError + Send + Sync + 'static,
    ) -> Self {
        DriverError {
            kind,
            msg: msg.into(),
            details: source.to_string(),
            source: Some(Box::new(source)),
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

    /// An address-management failure.
    pub fn ipam(msg: impl Into<String>, details: impl Into<String>) -> Self {
        DriverError::new(ErrorKind::Ipam, msg, details)
    }

    /// Attach the underlying error.
    pub fn with_source(mut self, source: impl StdError + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// Add what an undo after this failure could not undo to the details
    /// (`<details>; rollback failed: <a>; <b>`).
    pub fn with_rollback_failures(mut self, failures: &[String]) -> Self {
        if !failures.is_empty() {
            self.details = format!("{}; rollback failed: {}", self.details, failures.join("; "));
        }
        self
    }

    /// True for [`ErrorKind::NotSupported`].
    pub fn is_not_supported(&self) -> bool {
        self.kind == ErrorKind::NotSupported
    }

    /// The first error of type `T` in the source chain (a front-end reading
    /// back the reply of a program a driver ran, or a [`SandboxError`]).
    pub fn find_source<T: StdError + 'static>(&self) -> Option<&T> {
        let mut next: Option<&(dyn StdError + 'static)> = match &self.source {
            Some(s) => Some(s.as_ref()),
            None => None,
        };
        while let Some(e) = next {
            if let Some(t) = e.downcast_ref::<T>() {
                return Some(t);
            }
            next = e.source();
        }
        None
    }
}

/// Why a sandbox (a network namespace at a path) cannot be used.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SandboxError {
    /// Nothing is at the path.
    #[error("network namespace {0:?} does not exist")]
    Missing(String),
    /// The path is not a network namespace.
    #[error("{0:?} is not a network namespace: {1}")]
    NotNetns(String, String),
    /// The path is the caller's own namespace (refused unless allowed).
    #[error("{0:?} is the plugin's own network namespace")]
    OwnNamespace(String),
    /// A request the sandbox cannot serve (no free interface name...).
    #[error("{0}")]
    Invalid(String),
    /// The kernel refused an operation (its error, from the kernel seam).
    #[error(transparent)]
    Kernel(Arc<dyn StdError + Send + Sync>),
}

impl PartialEq for SandboxError {
    /// Equal when they say the same (a kernel error is compared by message).
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (SandboxError::Missing(a), SandboxError::Missing(b)) => a == b,
            (SandboxError::NotNetns(a, x), SandboxError::NotNetns(b, y)) => a == b && x == y,
            (SandboxError::OwnNamespace(a), SandboxError::OwnNamespace(b)) => a == b,
            (SandboxError::Invalid(a), SandboxError::Invalid(b)) => a == b,
            (SandboxError::Kernel(a), SandboxError::Kernel(b)) => a.to_string() == b.to_string(),
            _ => false,
        }
    }
}

impl Eq for SandboxError {}

impl SandboxError {
    /// A kernel failure, keeping the kernel's error.
    pub fn kernel(e: impl StdError + Send + Sync + 'static) -> Self {
        SandboxError::Kernel(Arc::new(e))
    }
}

impl From<SandboxError> for DriverError {
    fn from(e: SandboxError) -> Self {
        let (kind, msg) = match &e {
            SandboxError::Missing(_)
            | SandboxError::NotNetns(..)
            | SandboxError::OwnNamespace(_) => (ErrorKind::InvalidSandbox, "invalid sandbox"),
            SandboxError::Invalid(_) => (ErrorKind::InvalidArgument, "invalid sandbox request"),
            SandboxError::Kernel(_) => (ErrorKind::Kernel, "open network namespace"),
        };
        DriverError::caused_by(kind, msg, e)
    }
}

/// What went wrong in a controller, network, endpoint or sandbox call.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// A network driver failed; `op` says which call on which object.
    #[error("{op}: {source}")]
    Driver {
        /// The call and its object ("create endpoint \"c1/eth0\"").
        op: String,
        /// The driver's error.
        #[source]
        source: DriverError,
    },
    /// An IPAM driver failed (allocation, release, check, gc, status).
    #[error("{op}: {source}")]
    Ipam {
        /// The call and its object ("allocate addresses for endpoint ...").
        op: String,
        /// The IPAM driver's error.
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
    /// Several steps of a teardown failed (each one ran).
    #[error(transparent)]
    List(ErrorList),
}

impl ModelError {
    /// A network driver error with the call it came from.
    pub fn driver(op: impl Into<String>, source: DriverError) -> Self {
        ModelError::Driver {
            op: op.into(),
            source,
        }
    }

    /// An IPAM driver error with the call it came from.
    pub fn ipam(op: impl Into<String>, source: DriverError) -> Self {
        ModelError::Ipam {
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

    /// The driver error inside (of a network or an IPAM driver), if this is
    /// one; for a list, the first one's.
    pub fn driver_error(&self) -> Option<&DriverError> {
        match self {
            ModelError::Driver { source, .. } | ModelError::Ipam { source, .. } => Some(source),
            ModelError::List(list) => list.0.first().and_then(ModelError::driver_error),
            _ => None,
        }
    }
}

/// Every error of a teardown that ran all its steps (netavark's
/// `NetavarkErrorList`): the first one decides the kind a front-end
/// reports, every one is in the text.
#[derive(Debug, Default)]
pub struct ErrorList(pub Vec<ModelError>);

impl ErrorList {
    /// No error yet.
    pub fn new() -> Self {
        ErrorList(Vec::new())
    }

    /// Record the error of a step, if it failed.
    pub fn check(&mut self, r: Result<(), ModelError>) {
        match r {
            Ok(()) => {}
            // A nested list is flattened: one list, in the order things ran.
            Err(ModelError::List(inner)) => self.0.extend(inner.0),
            Err(e) => self.0.push(e),
        }
    }

    /// Record an error.
    pub fn push(&mut self, e: ModelError) {
        self.check(Err(e));
    }

    /// True when nothing failed.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The errors, in the order the steps ran.
    pub fn errors(&self) -> &[ModelError] {
        &self.0
    }

    /// Ok when empty, the error itself when there is one, the list otherwise.
    pub fn into_result(mut self) -> Result<(), ModelError> {
        match self.0.len() {
            0 => Ok(()),
            1 => Err(self.0.remove(0)),
            _ => Err(ModelError::List(self)),
        }
    }
}

impl fmt::Display for ErrorList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl StdError for ErrorList {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.0.first().map(|e| e as &(dyn StdError + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_keeps_every_error_in_order_and_flattens() {
        let mut list = ErrorList::new();
        list.check(Ok(()));
        assert!(list.is_empty());
        assert!(ErrorList::new().into_result().is_ok());
        list.push(ModelError::invalid("a", "one"));
        let one = ErrorList(vec![ModelError::invalid("x", "only")]);
        assert_eq!(
            one.into_result().map_err(|e| e.to_string()),
            Err("invalid x: only".to_string())
        );
        list.check(Err(ModelError::List(ErrorList(vec![
            ModelError::invalid("b", "two"),
            ModelError::invalid("c", "three"),
        ]))));
        assert_eq!(list.errors().len(), 3);
        let e = list.into_result().expect_err("three errors");
        assert_eq!(
            e.to_string(),
            "invalid a: one; invalid b: two; invalid c: three"
        );
        assert!(matches!(e, ModelError::List(_)));
    }

    #[test]
    fn sources_are_found_down_the_chain() {
        #[derive(Debug, thiserror::Error)]
        #[error("inner")]
        struct Inner;
        let sb = SandboxError::kernel(Inner);
        let d = DriverError::from(sb.clone());
        assert_eq!(d.kind, ErrorKind::Kernel);
        assert_eq!(d.find_source::<SandboxError>(), Some(&sb));
        let plain = DriverError::new(ErrorKind::Io, "m", "d");
        assert!(plain.find_source::<SandboxError>().is_none());
        assert_eq!(plain.to_string(), "m: d");
        let rolled = plain.with_rollback_failures(&["x".into(), "y".into()]);
        assert_eq!(rolled.details, "d; rollback failed: x; y");
    }
}
