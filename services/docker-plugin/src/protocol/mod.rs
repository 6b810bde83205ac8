//! Docker's plugin protocol: the JSON messages of the remote network driver
//! (moby `libnetwork/docs/remote.md`, `drivers/remote/api`) and of the remote
//! IPAM driver (`docs/ipam.md`, `ipams/remote/api`), plus what every plugin
//! answers (`/Plugin.Activate`, error replies).
//!
//! Requests are parsed leniently (unknown fields are ignored, absent ones take
//! their default) because dockerd versions add fields; replies carry exactly
//! the fields of the protocol.

pub mod ipam;
pub mod network;

use serde::Serialize;

/// The media type dockerd asks for (`Accept`) and that replies carry.
pub const CONTENT_TYPE: &str = "application/vnd.docker.plugins.v1.2+json";

/// `/Plugin.Activate` reply.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ActivateReply {
    /// The plugin kinds served on this socket.
    pub implements: Vec<&'static str>,
}

/// What this plugin implements.
pub fn activate() -> ActivateReply {
    ActivateReply {
        implements: vec!["NetworkDriver", "IpamDriver"],
    }
}

/// An error reply. The network driver API reads `Err`, the IPAM API reads
/// `Error` (both in a 200 reply), and dockerd's plugin client reads `Err` from
/// a non-200 reply: every error carries both, so any reader finds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorReply {
    /// The message (network driver API, non-200 replies).
    #[serde(rename = "Err")]
    pub err: String,
    /// The same message (IPAM API).
    #[serde(rename = "Error")]
    pub error: String,
}

impl ErrorReply {
    /// An error reply with `msg` in both fields.
    pub fn new(msg: impl Into<String>) -> ErrorReply {
        let err = msg.into();
        ErrorReply {
            error: err.clone(),
            err,
        }
    }
}

/// The empty success reply `{}`.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Empty {}
