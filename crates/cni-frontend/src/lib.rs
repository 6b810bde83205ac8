//! The CNI front-end of the model: turns CNI requests (environment +
//! config, already parsed and version-checked by `cni_protocol::run`) into
//! calls on the model, and the model's answers into CNI results and errors,
//! once each way. Everything CNI-specific lives here: CNI_ARGS,
//! `runtimeConfig`, `prevResult`, the attachment identity, the reply's
//! shape, the kind -> CNI code map, foreign IPAM plugins executed as IPAM
//! drivers, and the registration of the built-in drivers each plugin serves.
//!
//! | CNI | model |
//! |---|---|
//! | ADD | network from config (its IPAM bound), `create_endpoint` in the sandbox (IPAM allocates; fast path), `join` |
//! | DEL | `Endpoint::teardown`: IPAM release, `leave`, `delete` (idempotent, every error) |
//! | CHECK | endpoint from `prevResult`, `check` (IPAM, then the driver) |
//! | GC | `Network::gc` with the valid attachments (IPAM, then the driver) |
//! | STATUS | `Network::status` (IPAM, then the driver) |

#![forbid(unsafe_code)]

mod adapter;
mod errors;
mod ids;
mod ipam;
mod ipam_dropin;
mod ipam_plugin;
mod plugins;
mod reply;
mod request;

pub use adapter::CniAdapter;
pub use errors::{cni_error, code_of, driver_error, driver_to_cni, sandbox_to_cni};
pub use ids::endpoint_id;
pub use ipam::{ExecIpam, FaultIpam, IpamPolicy, IN_PROCESS_TYPES};
pub use ipam_dropin::{is_ours, DROP_IN_TYPES};
pub use ipam_plugin::IpamPlugin;
pub use plugins::{register_bridge, simplebridge, simpleoverlay, Settings, HOST_LOCAL_NAMES};

#[cfg(test)]
mod tests;
