//! CNI errors: the `{cniVersion, code, msg, details}` object a plugin prints on failure.

use serde::{Deserialize, Serialize};

/// Well-known CNI error codes (spec 1.1.0 §Error; 0-99 are reserved by the spec).
pub mod code {
    pub const UNKNOWN: u32 = 0;
    pub const INCOMPATIBLE_VERSION: u32 = 1;
    pub const UNSUPPORTED_FIELD: u32 = 2;
    pub const UNKNOWN_CONTAINER: u32 = 3;
    pub const INVALID_ENV: u32 = 4;
    pub const IO_FAILURE: u32 = 5;
    pub const DECODING_FAILURE: u32 = 6;
    pub const INVALID_NETWORK_CONFIG: u32 = 7;
    pub const INVALID_NETNS: u32 = 8;
    pub const TRY_AGAIN_LATER: u32 = 11;
    pub const PLUGIN_NOT_AVAILABLE: u32 = 50;
    pub const LIMITED_CONNECTIVITY: u32 = 51;
    /// Plugin-specific: a kernel (netlink, sysctl, nftables) operation failed.
    pub const KERNEL: u32 = 100;
    /// Plugin-specific: IPAM failure (exhausted range, requested address taken...).
    pub const IPAM: u32 = 101;
    /// Plugin-specific: a delegated plugin failed without a CNI error of its own.
    pub const DELEGATE: u32 = 102;
    /// Plugin-specific: anything else.
    pub const INTERNAL: u32 = 999;
}

/// A CNI error as defined by the spec. `msg` is short, `details` says which
/// link, namespace, file or field failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{msg}{}", if details.is_empty() { String::new() } else { format!(": {details}") })]
pub struct CniError {
    pub code: u32,
    pub msg: String,
    #[serde(default)]
    pub details: String,
}

impl CniError {
    pub fn new(code: u32, msg: impl Into<String>, details: impl Into<String>) -> Self {
        CniError {
            code,
            msg: msg.into(),
            details: details.into(),
        }
    }
    pub fn incompatible_version(msg: impl Into<String>, details: impl Into<String>) -> Self {
        Self::new(code::INCOMPATIBLE_VERSION, msg, details)
    }
    pub fn unsupported_field(msg: impl Into<String>, details: impl Into<String>) -> Self {
        Self::new(code::UNSUPPORTED_FIELD, msg, details)
    }
    pub fn invalid_env(msg: impl Into<String>, details: impl Into<String>) -> Self {
        Self::new(code::INVALID_ENV, msg, details)
    }
    pub fn io(msg: impl Into<String>, details: impl Into<String>) -> Self {
        Self::new(code::IO_FAILURE, msg, details)
    }
    pub fn decoding(msg: impl Into<String>, details: impl Into<String>) -> Self {
        Self::new(code::DECODING_FAILURE, msg, details)
    }
    pub fn invalid_config(msg: impl Into<String>, details: impl Into<String>) -> Self {
        Self::new(code::INVALID_NETWORK_CONFIG, msg, details)
    }
    pub fn try_again(msg: impl Into<String>, details: impl Into<String>) -> Self {
        Self::new(code::TRY_AGAIN_LATER, msg, details)
    }
    pub fn not_available(msg: impl Into<String>, details: impl Into<String>) -> Self {
        Self::new(code::PLUGIN_NOT_AVAILABLE, msg, details)
    }
    pub fn kernel(msg: impl Into<String>, details: impl Into<String>) -> Self {
        Self::new(code::KERNEL, msg, details)
    }
    pub fn ipam(msg: impl Into<String>, details: impl Into<String>) -> Self {
        Self::new(code::IPAM, msg, details)
    }
    pub fn internal(msg: impl Into<String>, details: impl Into<String>) -> Self {
        Self::new(code::INTERNAL, msg, details)
    }

    /// The JSON object printed on stdout, `cniVersion` first.
    pub fn to_json(&self, cni_version: &str) -> serde_json::Value {
        serde_json::json!({
            "cniVersion": cni_version,
            "code": self.code,
            "msg": self.msg,
            "details": self.details,
        })
    }
}
