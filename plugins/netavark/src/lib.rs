//! A netavark plugin (Podman 5's network stack) over the Container Network
//! Model: `podman network create -d cnm-netavark ...` networks are served by our
//! bridge driver (or, with `-o driver=overlay`, by the overlay driver),
//! through the same model the CNI plugins and the Docker plugin use.
//!
//! The plugin API (netavark's `plugin-API.md`, v2.1.0): `info`, `create`
//! (network JSON on stdin, the completed network on stdout), `setup
//! <netns>` and `teardown <netns>` (one network and one container's options
//! on stdin; setup prints the status block), errors as `{"error": "..."}`
//! with exit code 1.
//!
//! - [`types`]: the wire format; [`config`] and [`options`]: validation into
//!   typed config; [`ports`]: port mappings;
//! - [`create`](mod@create): completing a new network;
//! - [`backend`]: the only module that calls the model;
//! - [`registry`]: the plugin's own state (locks, live attachments);
//! - [`names`]: names on `dns_enabled` networks (the model's name service).

#![forbid(unsafe_code)]

pub mod backend;
pub mod config;
pub mod create;
pub mod error;
pub mod names;
pub mod options;
pub mod ports;
pub mod registry;
pub mod types;

use backend::Backend;
use config::{check_attachment, check_network, Stage};
pub use error::PluginError;
use types::{Info, Network, NetworkPluginExec, API_VERSION};

/// The plugin's subcommands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Version and API version.
    Info,
    /// Check and complete a network.
    Create,
    /// Attach a container (its network namespace path).
    Setup(String),
    /// Detach a container.
    Teardown(String),
}

/// What `info` prints.
pub fn info() -> Info {
    Info {
        version: env!("CARGO_PKG_VERSION").to_string(),
        api_version: API_VERSION.to_string(),
        drivers: vec!["bridge".into(), "overlay".into()],
    }
}

fn parse<T: serde::de::DeserializeOwned>(
    what: &'static str,
    input: &[u8],
) -> Result<T, PluginError> {
    serde_json::from_slice(input).map_err(|source| PluginError::Json { what, source })
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<Vec<u8>, PluginError> {
    serde_json::to_vec(v).map_err(|e| PluginError::invalid(format!("encoding the reply: {e}")))
}

/// `create`: the network on stdin, checked and completed.
pub fn run_create(input: &[u8]) -> Result<Vec<u8>, PluginError> {
    let network: Network = parse("network", input)?;
    let done = create::create(network, backend::overlay_info)?;
    to_json(&done)
}

/// The checked network and attachment of a setup or teardown input.
fn attachment(
    netns: &str,
    input: &[u8],
) -> Result<(config::NetworkConfig, config::Attachment), PluginError> {
    let exec: NetworkPluginExec = parse("setup/teardown", input)?;
    let net = check_network(&exec.network, Stage::Attach)?;
    let att = check_attachment(&exec, &net, netns)?;
    Ok((net, att))
}

/// `setup <netns>`: the status block.
pub fn run_setup(backend: &Backend, netns: &str, input: &[u8]) -> Result<Vec<u8>, PluginError> {
    let (net, att) = attachment(netns, input)?;
    let block = backend.setup(&net, &att)?;
    to_json(&block)
}

/// `teardown <netns>`: nothing on success.
pub fn run_teardown(backend: &Backend, netns: &str, input: &[u8]) -> Result<Vec<u8>, PluginError> {
    let (net, att) = attachment(netns, input)?;
    backend.teardown(&net, &att)?;
    Ok(Vec::new())
}

/// The JSON error object for `e`.
pub fn error_json(e: &PluginError) -> Vec<u8> {
    serde_json::to_vec(&types::JsonError {
        error: e.to_string(),
    })
    .unwrap_or_else(|_| b"{\"error\":\"unprintable error\"}".to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_says_the_api_version() {
        let v = serde_json::to_value(info()).expect("json");
        assert_eq!(v["api_version"], "1.0.0");
        assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
    }

    #[test]
    fn malformed_json_is_a_clear_error() {
        let e = run_create(b"{\"name\": ").expect_err("truncated");
        assert!(
            e.to_string().starts_with("invalid network JSON on stdin"),
            "{e}"
        );
        let e = run_create(b"{}").expect_err("empty object");
        assert!(e.to_string().contains("missing field"), "{e}");
        let v: serde_json::Value =
            serde_json::from_slice(&error_json(&e)).expect("error JSON parses");
        assert!(v["error"]
            .as_str()
            .is_some_and(|s| s.contains("missing field")));
    }
}
