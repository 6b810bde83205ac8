//! The plugin's errors. Every one becomes netavark's `{"error": "..."}` on
//! stdout and exit code 1 (main); the message says which field, address,
//! option or step failed. A setup that fails after creating something also
//! says whether undoing it failed; a teardown reports every error it met.

use std::fmt;

/// What went wrong.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    /// The command line (subcommand, namespace argument).
    #[error("{0}")]
    Usage(String),
    /// Standard input is not the JSON netavark sends.
    #[error("invalid {what} JSON on stdin: {source}")]
    Json {
        /// What was being read ("network", "setup").
        what: &'static str,
        /// serde's message (field, line and column).
        source: serde_json::Error,
    },
    /// A field or option of the network or the container is invalid.
    #[error("{0}")]
    Invalid(String),
    /// Something the plugin does not do, refused by name.
    #[error("{0}")]
    Unsupported(String),
    /// An address asked for is taken, or none is free.
    #[error("{0}")]
    Address(String),
    /// A call on the model (network, endpoint, sandbox, IPAM) failed.
    #[error("{op}: {msg}")]
    Model {
        /// What the plugin was doing.
        op: String,
        /// The model's message.
        msg: String,
    },
    /// The plugin's own state (locks, the attachment registry).
    #[error("{op} {path}: {source}")]
    State {
        /// What was being done.
        op: &'static str,
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A failure, plus what went wrong while undoing it.
    #[error("{error}; undoing it also failed: {}", Joined(.rollback))]
    RolledBack {
        /// The first failure.
        error: Box<PluginError>,
        /// Failures while undoing.
        rollback: Vec<PluginError>,
    },
    /// Several failures (teardown continues after each).
    #[error("{}", Joined(.0))]
    List(Vec<PluginError>),
}

struct Joined<'a>(&'a [PluginError]);

impl fmt::Display for Joined<'_> {
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

impl PluginError {
    /// An invalid field or option.
    pub fn invalid(msg: impl Into<String>) -> Self {
        PluginError::Invalid(msg.into())
    }

    /// Something refused by name.
    pub fn unsupported(msg: impl Into<String>) -> Self {
        PluginError::Unsupported(msg.into())
    }

    /// A failed model call.
    pub fn model(op: impl Into<String>, e: impl fmt::Display) -> Self {
        PluginError::Model {
            op: op.into(),
            msg: e.to_string(),
        }
    }

    /// `self`, with the failures of undoing it (if any).
    pub fn with_rollback(self, rollback: Vec<PluginError>) -> Self {
        if rollback.is_empty() {
            self
        } else {
            PluginError::RolledBack {
                error: Box::new(self),
                rollback,
            }
        }
    }

    /// Ok for no errors, the error for one, a list for more.
    pub fn from_list(mut errors: Vec<PluginError>) -> Result<(), PluginError> {
        match errors.len() {
            0 => Ok(()),
            1 => Err(errors.remove(0)),
            _ => Err(PluginError::List(errors)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_and_rollbacks_read_as_one_message() {
        let e = PluginError::from_list(vec![
            PluginError::invalid("a"),
            PluginError::model("delete endpoint", "b"),
        ])
        .expect_err("two errors");
        assert_eq!(e.to_string(), "a; delete endpoint: b");
        assert!(PluginError::from_list(Vec::new()).is_ok());
        let e = PluginError::invalid("x").with_rollback(vec![PluginError::invalid("y")]);
        assert_eq!(e.to_string(), "x; undoing it also failed: y");
        let e = PluginError::invalid("x").with_rollback(Vec::new());
        assert_eq!(e.to_string(), "x");
    }
}
