//! [`System`]: what drivers and sandboxes need from the machine (kernel,
//! firewall, IPAM, namespaces), and [`LinuxSystem`], the real one: the
//! kernel over netlink, nftables, IPAM in-process or by exec.

use cni_protocol::CniError;
use netns::{NetNs, NetnsError};

use crate::bridge::kernel_error;
use crate::firewall::NftFirewall;
use crate::ipam::{self, Ipam};
use crate::kernel::linux::LinuxKernel;
use crate::kernel::{Firewall, Kernel, KernelError};

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

/// Access to the system drivers and sandboxes run on: kernel, firewall,
/// IPAM, namespaces. [`LinuxSystem`] is the real one; tests use
/// [`crate::kernel::fake::FakeSystem`]. Shared across threads.
pub trait System: Send + Sync {
    /// Kernel access to the host and, when `netns` is given, to that sandbox.
    fn kernel(
        &self,
        netns: Option<&str>,
        allow_own: bool,
    ) -> Result<Box<dyn Kernel + '_>, SandboxError>;
    /// The firewall.
    fn firewall(&self) -> Box<dyn Firewall + '_>;
    /// The CNI IPAM plugin for a type (in-process or exec'd).
    fn ipam(&self, ipam_type: &str) -> Box<dyn Ipam + '_>;
    /// Check that `netns` names a usable sandbox without opening a kernel
    /// socket in it (cheap; the default opens a kernel handle).
    fn check_sandbox(&self, netns: &str, allow_own: bool) -> Result<(), SandboxError> {
        self.kernel(Some(netns), allow_own).map(drop)
    }
    /// Create a new network namespace bound at `key`, loopback up.
    fn create_sandbox(&self, key: &str) -> Result<(), SandboxError>;
    /// Remove the namespace bound at `key` (idempotent).
    fn remove_sandbox(&self, key: &str) -> Result<(), SandboxError>;
    /// A named step of ADD has completed. Test builds may crash here on
    /// purpose (fault injection); the default does nothing.
    fn fault_point(&self, _step: &str) {}
}

/// The Linux system. Built by `main()` from the environment.
#[derive(Debug, Clone, Default)]
pub struct LinuxSystem {
    /// Exec every IPAM plugin, ours included (no in-process host-local).
    pub force_exec_ipam: bool,
    /// Fault injection (feature `fault-injection` only): die with SIGKILL
    /// right after this ADD step (see [`FAULT_POINTS`]).
    pub crash_after: Option<String>,
}

/// The ADD steps after which a test build can be made to crash, in order.
pub const FAULT_POINTS: &[&str] = &[
    "after-ipam",
    "after-veth",
    "after-port",
    "after-addresses",
    "after-routes",
    "after-host",
    "after-firewall",
];

fn classify(path: &str, e: NetnsError) -> SandboxError {
    match e {
        NetnsError::NotFound { .. } => SandboxError::Missing(path.to_string()),
        NetnsError::NotNetns { .. } | NetnsError::WrongNsType { .. } => {
            SandboxError::NotNetns(path.to_string(), e.to_string())
        }
        NetnsError::IsOwnNamespace { .. } => SandboxError::OwnNamespace(path.to_string()),
        other => SandboxError::Kernel(KernelError::caused_by(
            "open network namespace",
            path,
            other,
        )),
    }
}

impl System for LinuxSystem {
    fn kernel(
        &self,
        netns: Option<&str>,
        allow_own: bool,
    ) -> Result<Box<dyn Kernel + '_>, SandboxError> {
        let kernel = match netns {
            None => LinuxKernel::host_only()?,
            Some(path) => {
                let ns = NetNs::open(path).map_err(|e| classify(path, e))?;
                ns.check_not_own(allow_own).map_err(|e| classify(path, e))?;
                LinuxKernel::with_sandbox(ns)?
            }
        };
        Ok(Box::new(kernel))
    }
    fn firewall(&self) -> Box<dyn Firewall + '_> {
        Box::new(NftFirewall {
            nft: cnm_nft::Firewall::new(),
        })
    }
    fn ipam(&self, ipam_type: &str) -> Box<dyn Ipam + '_> {
        ipam::for_type(ipam_type, self.force_exec_ipam)
    }
    fn check_sandbox(&self, path: &str, allow_own: bool) -> Result<(), SandboxError> {
        let ns = NetNs::open(path).map_err(|e| classify(path, e))?;
        ns.check_not_own(allow_own).map_err(|e| classify(path, e))
    }
    fn create_sandbox(&self, key: &str) -> Result<(), SandboxError> {
        netns::create_at(std::path::Path::new(key)).map_err(|e| {
            SandboxError::Kernel(KernelError::caused_by("create namespace", key, e))
        })?;
        let lo_up = LinuxKernel::with_sandbox(NetNs::open(key).map_err(|e| classify(key, e))?)
            .and_then(|mut k| k.sandbox_loopback_up());
        if let Err(e) = lo_up {
            // Do not leak the namespace this call created.
            let _ = netns::remove_at(std::path::Path::new(key));
            return Err(SandboxError::Kernel(e));
        }
        Ok(())
    }
    fn remove_sandbox(&self, key: &str) -> Result<(), SandboxError> {
        let path = std::path::Path::new(key);
        if !path.exists() {
            return Ok(());
        }
        netns::remove_at(path)
            .map_err(|e| SandboxError::Kernel(KernelError::caused_by("remove namespace", key, e)))
    }
    #[cfg(feature = "fault-injection")]
    fn fault_point(&self, step: &str) {
        if self.crash_after.as_deref() == Some(step) {
            // Die as a crash would: no unwinding, no cleanup.
            let _ =
                nix::sys::signal::kill(nix::unistd::Pid::this(), nix::sys::signal::Signal::SIGKILL);
        }
    }
}
