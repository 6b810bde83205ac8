//! The bridge driver (libnetwork's `bridge`/`simplebridge`) as a
//! [`crate::model::NetworkDriver`]: a Linux bridge on the host, one veth
//! pair per endpoint, routes and gateway in the sandbox, masquerade in
//! nftables. Its options are the fields of the reference bridge plugin.
//!
//! Each operation has its own module and reads top to bottom:
//! validate -> build the endpoint -> program the host -> report.

mod add;
mod check;
pub mod config;
mod del;
mod driver;
mod gc;
pub mod names;
mod txn;

use cni_protocol::CniError;

use crate::kernel::KernelError;

pub use crate::system::{SandboxError, System};

pub use config::BridgeConfig;
pub use driver::BridgeDriver;

/// The CNI error for a failed kernel operation (plugin-specific code 100).
pub fn kernel_error(msg: &str, e: &KernelError) -> CniError {
    CniError::kernel(msg, e.to_string())
}
