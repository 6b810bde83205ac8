//! Model errors as CNI errors, mapped once, here: a driver error's kind
//! decides the code, except when its source says more (a CNI IPAM plugin's
//! own reply keeps its code; a sandbox that cannot be used says which
//! CNI_NETNS problem it is). And the way back for the exec'd plugins: a
//! CNI error as a driver error of the matching kind, the CNI error kept as
//! the source.

use cni_protocol::{code, CniError};
use cnm_model::{DriverError, ErrorKind, ModelError, SandboxError};

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
        // An interface that exists already is the kernel's refusal (EEXIST).
        ErrorKind::Kernel | ErrorKind::AlreadyExists => code::KERNEL,
        ErrorKind::NotSupported | ErrorKind::Internal => code::INTERNAL,
    }
}

/// A sandbox that cannot be used, as an ADD, CHECK or DEL reports it.
pub fn sandbox_to_cni(e: &SandboxError) -> CniError {
    match e {
        SandboxError::Missing(_) | SandboxError::NotNetns(..) => {
            CniError::invalid_env("invalid CNI_NETNS", e.to_string())
        }
        SandboxError::OwnNamespace(_) => CniError::new(
            code::INVALID_NETNS,
            "CNI_NETNS is the plugin's own network namespace",
            format!("{e}; set CNI_NETNS_OVERRIDE=1 to allow it"),
        ),
        SandboxError::Invalid(_) => CniError::invalid_env("invalid sandbox request", e.to_string()),
        SandboxError::Kernel(k) => CniError::kernel("open network namespace", k.to_string()),
    }
}

/// A driver error as a CNI error.
pub fn driver_to_cni(e: &DriverError) -> CniError {
    // A delegated plugin's reply: its code, its words.
    if let Some(c) = e.find_source::<CniError>() {
        return CniError::new(c.code, e.msg.clone(), e.details.clone());
    }
    if let Some(s) = e.find_source::<SandboxError>() {
        let mut c = sandbox_to_cni(s);
        // Joined with other errors (a teardown): every error's text stays.
        if e.details != s.to_string() {
            c.details = e.details.clone();
        }
        return c;
    }
    CniError::new(code_of(e.kind), e.msg.clone(), e.details.clone())
}

/// One error for many: the first one's code and message, every error's
/// text in the details.
pub fn join(mut errors: Vec<CniError>) -> Result<(), CniError> {
    match errors.len() {
        0 => Ok(()),
        1 => Err(errors.remove(0)),
        _ => {
            let all: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
            let first = errors.remove(0);
            Err(CniError::new(first.code, first.msg, all.join("; ")))
        }
    }
}

/// A model error as a CNI error.
pub fn cni_error(e: &ModelError) -> CniError {
    match e {
        ModelError::Driver { source, .. } | ModelError::Ipam { source, .. } => {
            driver_to_cni(source)
        }
        ModelError::Sandbox { source, .. } => sandbox_to_cni(source),
        ModelError::UnknownDriver { .. } | ModelError::DriverExists { .. } => {
            CniError::invalid_config(e.to_string(), "")
        }
        ModelError::Invalid { what, reason } => {
            CniError::invalid_config(format!("invalid {what}"), reason.clone())
        }
        ModelError::List(list) => match join(list.errors().iter().map(cni_error).collect()) {
            Err(c) => c,
            Ok(()) => CniError::internal("teardown failed", e.to_string()),
        },
    }
}

/// The kind of a CNI error's code.
pub fn kind_of(c: u32) -> ErrorKind {
    match c {
        code::INVALID_NETWORK_CONFIG | code::UNSUPPORTED_FIELD => ErrorKind::InvalidConfig,
        code::INVALID_ENV | code::INVALID_NETNS => ErrorKind::InvalidSandbox,
        code::UNKNOWN_CONTAINER => ErrorKind::NotFound,
        code::IO_FAILURE => ErrorKind::Io,
        code::DECODING_FAILURE => ErrorKind::Decoding,
        code::TRY_AGAIN_LATER => ErrorKind::TryAgainLater,
        code::PLUGIN_NOT_AVAILABLE => ErrorKind::Unavailable,
        code::INCOMPATIBLE_VERSION => ErrorKind::Incompatible,
        code::IPAM => ErrorKind::Ipam,
        code::KERNEL => ErrorKind::Kernel,
        _ => ErrorKind::Internal,
    }
}

/// A CNI error (a delegated plugin's reply) as a driver error: the kind
/// tells other front-ends, the error itself is kept as the source so the
/// CNI front-end replies with its code.
pub fn driver_error(e: CniError) -> DriverError {
    DriverError::new(kind_of(e.code), e.msg.clone(), e.details.clone()).with_source(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_delegated_code_survives_the_round_trip() {
        for c in [3, 4, 7, 11, 18, 50, 101, 102, 999] {
            let back = driver_to_cni(&driver_error(CniError::new(c, "m", "d")));
            assert_eq!(back, CniError::new(c, "m", "d"));
        }
    }

    #[test]
    fn sandbox_errors_say_which_cni_netns_problem() {
        let own = SandboxError::OwnNamespace("/proc/self/ns/net".into());
        let c = driver_to_cni(&DriverError::from(own.clone()));
        assert_eq!(c.code, code::INVALID_NETNS);
        assert!(c.details.contains("CNI_NETNS_OVERRIDE=1"), "{c:?}");
        let c = driver_to_cni(&DriverError::from(SandboxError::Missing("/x".into())));
        assert_eq!(
            (c.code, c.msg.as_str()),
            (code::INVALID_ENV, "invalid CNI_NETNS")
        );
        // Joined with others: the code of the first, every text kept.
        let mut joined = DriverError::from(own);
        joined.details = "a; b".into();
        let c = driver_to_cni(&joined);
        assert_eq!((c.code, c.details.as_str()), (code::INVALID_NETNS, "a; b"));
    }

    #[test]
    fn kinds_map_to_todays_codes() {
        assert_eq!(code_of(ErrorKind::AlreadyExists), code::KERNEL);
        assert_eq!(code_of(ErrorKind::TryAgainLater), code::TRY_AGAIN_LATER);
        assert_eq!(code_of(ErrorKind::Ipam), code::IPAM);
        assert_eq!(code_of(ErrorKind::Io), code::IO_FAILURE);
        assert_eq!(code_of(ErrorKind::Unavailable), code::PLUGIN_NOT_AVAILABLE);
        assert_eq!(
            code_of(ErrorKind::InvalidConfig),
            code::INVALID_NETWORK_CONFIG
        );
    }
}
