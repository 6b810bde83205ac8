//! The bridge network driver (libnetwork's `bridge`/`simplebridge`) as a
//! model [`cnm_model::NetworkDriver`]: a Linux bridge on the host, one veth
//! pair per endpoint, routes and gateway in the sandbox, masquerade in
//! nftables. Its options are the fields of the reference bridge plugin. It
//! speaks only the model's types (no front-end type, no front-end code in
//! its errors) and reaches the kernel only through `cnm-kernel`'s traits.
//!
//! Each operation has its own module and reads top to bottom:
//! validate -> build the endpoint -> program the host -> report.

#![forbid(unsafe_code)]

mod add;
mod check;
pub mod config;
mod del;
mod driver;
mod error;
mod gc;
mod ipv6;
pub mod legacy;
pub mod names;
mod txn;

pub use cnm_kernel::System;

pub use config::{BridgeConfig, TeardownConfig};
pub use driver::BridgeDriver;

/// The names front-ends register the bridge driver under.
pub const DRIVER_NAMES: &[&str] = &["bridge", "simplebridge"];
