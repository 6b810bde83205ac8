//! Model errors as CNI errors: a code chosen by a delegated plugin passes
//! through; otherwise the error's kind decides the code.

use cni_protocol::{code, CniError};

use crate::model::{DriverError, ErrorKind, ModelError};

/// The CNI code for a driver error kind.
pub fn code_of(kind: ErrorKind) -> u32 {
    match kind {
        ErrorKind::InvalidConfig => code::INVALID_NETWORK_CONFIG,
        ErrorKind::InvalidArgument | ErrorKind::InvalidSandbox => code::INVALID_ENV,
        ErrorKind::NotFound => code::UNKNOWN_CONTAINER,
        ErrorKind::Io => code::IO_FAILURE,
        ErrorKind::Decoding => code::DECODING_FAILURE,
        ErrorKind::TryAgainLater => code::TRY_AGAIN_LATER,
        ErrorKind::Unavailable => code::PLUGIN_NOT_AVAILABLE,
        ErrorKind::Incompatible => code::INCOMPATIBLE_VERSION,
        ErrorKind::Ipam => code::IPAM,
        ErrorKind::Kernel => code::KERNEL,
        ErrorKind::AlreadyExists | ErrorKind::NotSupported | ErrorKind::Internal => code::INTERNAL,
    }
}

/// A driver error as a CNI error.
pub fn driver_to_cni(e: &DriverError) -> CniError {
    CniError::new(
        e.code.unwrap_or_else(|| code_of(e.kind)),
        e.msg.clone(),
        e.details.clone(),
    )
}

/// A model error as a CNI error.
pub fn cni_error(e: &ModelError) -> CniError {
    match e {
        ModelError::Driver { source, .. } => driver_to_cni(source),
        ModelError::Sandbox { source, .. } => source.clone().into_cni(),
        ModelError::UnknownDriver { .. } | ModelError::DriverExists { .. } => {
            CniError::invalid_config(e.to_string(), "")
        }
        ModelError::Invalid { what, reason } => {
            CniError::invalid_config(format!("invalid {what}"), reason.clone())
        }
    }
}

/// A CNI error (from a driver that speaks CNI errors inside, or a delegated
/// plugin) as a driver error: the code is kept so the CNI adapter replies
/// exactly as before; the kind tells other front-ends.
pub fn driver_error(e: CniError) -> DriverError {
    let kind = match e.code {
        code::INVALID_NETWORK_CONFIG | code::UNSUPPORTED_FIELD => ErrorKind::InvalidConfig,
        code::INVALID_ENV => ErrorKind::InvalidSandbox,
        code::INVALID_NETNS => ErrorKind::InvalidSandbox,
        code::UNKNOWN_CONTAINER => ErrorKind::NotFound,
        code::IO_FAILURE => ErrorKind::Io,
        code::DECODING_FAILURE => ErrorKind::Decoding,
        code::TRY_AGAIN_LATER => ErrorKind::TryAgainLater,
        code::PLUGIN_NOT_AVAILABLE => ErrorKind::Unavailable,
        code::INCOMPATIBLE_VERSION => ErrorKind::Incompatible,
        code::IPAM => ErrorKind::Ipam,
        code::KERNEL => ErrorKind::Kernel,
        _ => ErrorKind::Internal,
    };
    DriverError::new(kind, e.msg, e.details).with_code(e.code)
}
