//! The errors of the CLI runtime: every one names the file, network, plugin
//! or attachment it is about; plugin failures keep the plugin's CNI error.

use std::path::PathBuf;

use cni_protocol::CniError;

/// What went wrong, with enough context to act on it.
#[derive(Debug, thiserror::Error)]
pub enum CnmError {
    /// Bad command line or environment (CNI_ARGS, CAP_ARGS, CNI_PATH...).
    #[error("{0}")]
    Usage(String),
    /// A configuration file could not be read or parsed.
    #[error("{}: {msg}", path.display())]
    Config { path: PathBuf, msg: String },
    /// No configuration with the requested network name.
    #[error("no network configuration named {name:?} in {}; found: {}", dir.display(), found_list(found))]
    NotFound {
        name: String,
        dir: PathBuf,
        /// `(network name, file)` of every configuration seen.
        found: Vec<(String, PathBuf)>,
    },
    /// A plugin (or its lookup in CNI_PATH) failed.
    #[error("plugin type={plugin:?} name={network:?} failed ({verb}): {} [CNI error code {}]", source, source.code)]
    Plugin {
        plugin: String,
        network: String,
        verb: &'static str,
        source: CniError,
    },
    /// A request could not be built or checked before any plugin ran.
    #[error("network {network:?}: {source} [CNI error code {}]", source.code)]
    Invalid { network: String, source: CniError },
    /// The result cache could not be written or read.
    #[error("result cache {}: {msg}", path.display())]
    Cache { path: PathBuf, msg: String },
    /// GC could not DEL an attachment whose netns is gone.
    #[error("failed to delete stale attachment {container_id} {ifname}: {source}")]
    StaleDel {
        container_id: String,
        ifname: String,
        source: Box<CnmError>,
    },
    /// GC found a cache entry whose container ID or interface name is not
    /// valid: it was left alone (no plugin called, no file touched).
    #[error("skipped cache entry of network {network:?} (containerId {container_id:?}, ifName {ifname:?}): {source} [CNI error code {}]", source.code)]
    SkippedCacheEntry {
        network: String,
        container_id: String,
        ifname: String,
        source: Box<CniError>,
    },
    /// Several independent failures (GC continues after errors).
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Multiple(Vec<CnmError>),
}

fn found_list(found: &[(String, PathBuf)]) -> String {
    if found.is_empty() {
        return "no configurations".to_string();
    }
    found
        .iter()
        .map(|(name, file)| format!("{name:?} ({})", file.display()))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_what_failed() {
        let e = CnmError::Plugin {
            plugin: "bridge".into(),
            network: "net1".into(),
            verb: "add",
            source: CniError::new(7, "bad config", "ipam.subnet missing"),
        };
        assert_eq!(
            e.to_string(),
            "plugin type=\"bridge\" name=\"net1\" failed (add): bad config: ipam.subnet missing [CNI error code 7]"
        );
        let e = CnmError::NotFound {
            name: "x".into(),
            dir: "/etc/cni/net.d".into(),
            found: vec![("a".into(), "/etc/cni/net.d/10-a.conflist".into())],
        };
        assert_eq!(
            e.to_string(),
            "no network configuration named \"x\" in /etc/cni/net.d; found: \"a\" (/etc/cni/net.d/10-a.conflist)"
        );
        let m = CnmError::Multiple(vec![
            CnmError::Usage("a".into()),
            CnmError::Usage("b".into()),
        ]);
        assert_eq!(m.to_string(), "a; b");
    }
}
