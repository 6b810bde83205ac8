//! The plugin's errors. Every one becomes an `{"Err": ...}` reply naming what
//! failed; none is fatal to the daemon.

use thiserror::Error;

/// What can go wrong while serving a request or starting up.
#[derive(Debug, Error)]
pub enum PluginError {
    /// The request is well-formed JSON but asks for something invalid.
    #[error("invalid request: {0}")]
    Invalid(String),
    /// A network, endpoint or pool ID the plugin does not know.
    #[error("{what} {id} not found")]
    NotFound {
        /// "network", "endpoint", "pool".
        what: &'static str,
        /// The ID as given.
        id: String,
    },
    /// The request conflicts with existing state.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The state directory could not be read or written.
    #[error("state store: {0}")]
    Store(String),
    /// The model (driver, IPAM, kernel) refused or failed.
    #[error("{0}")]
    Model(String),
    /// nftables (port mappings, masquerade).
    #[error("firewall: {0}")]
    Firewall(#[from] cnm_nft::NftError),
    /// The socket could not be set up.
    #[error("socket: {0}")]
    Socket(String),
}

impl PluginError {
    /// An invalid-request error.
    pub fn invalid(msg: impl Into<String>) -> PluginError {
        PluginError::Invalid(msg.into())
    }

    /// A not-found error.
    pub fn not_found(what: &'static str, id: &str) -> PluginError {
        PluginError::NotFound {
            what,
            id: id.to_string(),
        }
    }
}
