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
    /// A call failed and undoing what it had done failed too: every
    /// failure is reported.
    #[error("{error}; rollback failed: {}", failures.join("; "))]
    RolledBack {
        /// The call's error.
        error: Box<PluginError>,
        /// What the undo could not undo.
        failures: Vec<String>,
    },
}

impl PluginError {
    /// An invalid-request error.
    pub fn invalid(msg: impl Into<String>) -> PluginError {
        PluginError::Invalid(msg.into())
    }

    /// `self`, with every failure of the undo steps that ran after it
    /// (`steps`: what each step undid, and how it ended).
    pub fn rolled_back(self, steps: Vec<(&str, Result<(), String>)>) -> PluginError {
        let failures: Vec<String> = steps
            .into_iter()
            .filter_map(|(what, r)| r.err().map(|e| format!("{what}: {e}")))
            .collect();
        if failures.is_empty() {
            self
        } else {
            PluginError::RolledBack {
                error: Box::new(self),
                failures,
            }
        }
    }

    /// A not-found error.
    pub fn not_found(what: &'static str, id: &str) -> PluginError {
        PluginError::NotFound {
            what,
            id: id.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rollback_keeps_every_failure() {
        let e = PluginError::Model("creating the endpoint: no".into());
        let quiet = PluginError::Model("x".into()).rolled_back(vec![("a", Ok(()))]);
        assert_eq!(quiet.to_string(), "x");
        let e = e.rolled_back(vec![
            ("deleting the endpoint", Err("busy".into())),
            ("removing the record", Ok(())),
            ("removing the record again", Err("read-only".into())),
        ]);
        assert_eq!(
            e.to_string(),
            "creating the endpoint: no; rollback failed: deleting the endpoint: busy; \
             removing the record again: read-only"
        );
    }
}
