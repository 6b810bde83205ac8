//! `cnm-docker-plugin`: Docker's remote network driver and remote IPAM
//! driver (moby libnetwork `docs/remote.md`, `docs/ipam.md`) as a front-end
//! over the model's bridge driver and host-local IPAM.
//!
//! - [`protocol`]: the JSON messages;
//! - [`router`]: HTTP path -> call;
//! - [`network`], [`ipam`]: the calls, over the model's drivers (`cnm_model`);
//! - [`options`], [`ports`], [`publish`]: Docker's network options and published ports;
//! - [`store`], [`records`]: what outlives a restart;
//! - [`http`]: the unix-socket HTTP server;
//! - [`cli`]: the command line.

#![forbid(unsafe_code)]

pub mod cli;
pub mod error;
pub mod http;
pub mod ipam;
pub mod network;
pub mod options;
pub mod plugin;
pub mod ports;
pub mod protocol;
pub mod publish;
pub mod records;
pub mod router;
pub mod store;

pub use error::PluginError;
pub use plugin::Plugin;

#[cfg(test)]
mod tests;
