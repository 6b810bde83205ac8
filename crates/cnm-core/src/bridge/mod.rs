//! The bridge driver (libnetwork's `simplebridge`), as a CNI plugin: a Linux
//! bridge on the host, one veth pair per endpoint, addresses from IPAM,
//! routes and gateway in the sandbox, masquerade in nftables.
//!
//! Each verb has its own module and reads top to bottom:
//! parse -> validate -> allocate -> build the endpoint -> program the host -> reply.

mod add;
mod check;
pub mod config;
mod del;
mod gc;
mod ipv6;
pub mod names;
mod txn;

use cni_protocol::{CniError, CniResult, Plugin, Request};

use crate::ipam::Ipam;
use crate::kernel::{Firewall, Kernel, KernelError};

pub use config::BridgeConfig;

/// Why a sandbox could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SandboxError {
    #[error("network namespace {0:?} does not exist")]
    Missing(String),
    #[error("{0:?} is not a network namespace: {1}")]
    NotNetns(String, String),
    #[error("{0:?} is the plugin's own network namespace")]
    OwnNamespace(String),
    #[error(transparent)]
    Kernel(#[from] KernelError),
}

impl SandboxError {
    /// The CNI error for an ADD or CHECK that needs the sandbox.
    pub fn into_cni(self) -> CniError {
        match &self {
            SandboxError::Missing(_) | SandboxError::NotNetns(..) => {
                CniError::invalid_env("invalid CNI_NETNS", self.to_string())
            }
            SandboxError::OwnNamespace(_) => CniError::new(
                cni_protocol::code::INVALID_NETNS,
                "CNI_NETNS is the plugin's own network namespace",
                format!("{self}; set CNI_NETNS_OVERRIDE=1 to allow it"),
            ),
            SandboxError::Kernel(e) => kernel_error("open network namespace", e),
        }
    }
}

/// Access to the system the driver runs on: kernel, firewall, IPAM. The
/// Linux implementation is [`crate::system::LinuxSystem`]; tests use fakes.
pub trait System {
    /// Kernel access to the host and, when `netns` is given, to that sandbox.
    fn kernel(
        &self,
        netns: Option<&str>,
        allow_own: bool,
    ) -> Result<Box<dyn Kernel + '_>, SandboxError>;
    /// The firewall.
    fn firewall(&self) -> Box<dyn Firewall + '_>;
    /// The IPAM driver for a type.
    fn ipam(&self, ipam_type: &str) -> Box<dyn Ipam + '_>;
    /// A named step of ADD has completed. Test builds may crash here on
    /// purpose (fault injection); the default does nothing.
    fn fault_point(&self, _step: &str) {}
}

/// The CNI error for a failed kernel operation (plugin-specific code 100).
pub fn kernel_error(msg: &str, e: &KernelError) -> CniError {
    CniError::kernel(msg, e.to_string())
}

/// The bridge plugin over a [`System`].
pub struct BridgePlugin<S: System> {
    pub system: S,
}

impl<S: System> Plugin for BridgePlugin<S> {
    fn add(&self, req: &Request) -> Result<CniResult, CniError> {
        add::add(&self.system, req)
    }
    fn del(&self, req: &Request) -> Result<(), CniError> {
        del::del(&self.system, req)
    }
    fn check(&self, req: &Request) -> Result<(), CniError> {
        check::check(&self.system, req)
    }
    fn gc(&self, req: &Request) -> Result<(), CniError> {
        gc::gc(&self.system, req)
    }
    fn status(&self, req: &Request) -> Result<(), CniError> {
        gc::status(&self.system, req)
    }
    fn about(&self) -> String {
        format!("simplebridge {}", env!("CARGO_PKG_VERSION"))
    }
}

/// The attachment's identity from the environment (validated by skel).
pub(crate) fn attachment(req: &Request) -> Result<(&str, &str), CniError> {
    let cid = req.env.container_id.as_deref().ok_or_else(|| {
        CniError::invalid_env("required env variables [CNI_CONTAINERID] missing", "")
    })?;
    let ifname =
        req.env.ifname.as_deref().ok_or_else(|| {
            CniError::invalid_env("required env variables [CNI_IFNAME] missing", "")
        })?;
    Ok((cid, ifname))
}

#[cfg(test)]
mod tests;
