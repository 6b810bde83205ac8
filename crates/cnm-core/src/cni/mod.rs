//! The CNI front-end: turns CNI requests (environment + config, already
//! parsed and version-checked by `cni_protocol::run`) into calls on the
//! model, and the model's answers into CNI results and errors. Everything
//! CNI-specific lives here: CNI_ARGS, `runtimeConfig`, `prevResult`, the
//! attachment identity, IPAM by CNI delegation, the reply's shape.
//!
//! | CNI | model |
//! |---|---|
//! | ADD | network from config, IPAM ADD, `create_endpoint` in the sandbox (fast path), `join` |
//! | DEL | IPAM DEL, `leave`, `delete` (idempotent) |
//! | CHECK | IPAM CHECK, endpoint from `prevResult`, `check` |
//! | GC | IPAM GC, `Network::gc` with the valid attachments |
//! | STATUS | IPAM STATUS, `Network::status` |

mod adapter;
mod errors;
mod ids;
mod reply;
mod request;

pub use adapter::CniAdapter;
pub use errors::{cni_error, driver_error};
pub use ids::endpoint_id;
pub(crate) use reply::cni_route;

#[cfg(test)]
mod tests;
