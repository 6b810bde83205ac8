//! What drivers and sandboxes need from the machine, as narrow traits:
//! [`Namespaces`] (kernel access in the host and a sandbox; sandboxes made
//! and removed), [`Firewalls`], [`ReferenceState`] (the reference plugin's
//! rules) and [`FaultPoints`]; [`System`] is all four. [`LinuxSystem`] is
//! the real one: the kernel over netlink, nftables, iptables.

use netns::{NetNs, NetnsError};

use cnm_model::SandboxError;

use crate::firewall::NftFirewall;
use crate::linux::LinuxKernel;
use crate::reference::{IptablesReferenceRules, NoReferenceRules, ReferenceRules};
use crate::seam::{Firewall, Kernel};
use crate::types::KernelError;

/// Kernel access per namespace, and sandboxes (network namespaces bound at
/// a path).
pub trait Namespaces: Send + Sync {
    /// Kernel access to the host and, when `netns` is given, to that sandbox.
    fn kernel(
        &self,
        netns: Option<&str>,
        allow_own: bool,
    ) -> Result<Box<dyn Kernel + '_>, SandboxError>;
    /// Check that `netns` names a usable sandbox without opening a kernel
    /// socket in it (cheap; the default opens a kernel handle).
    fn check_sandbox(&self, netns: &str, allow_own: bool) -> Result<(), SandboxError> {
        self.kernel(Some(netns), allow_own).map(drop)
    }
    /// Create a new network namespace bound at `key`, loopback up.
    fn create_sandbox(&self, key: &str) -> Result<(), SandboxError>;
    /// Remove the namespace bound at `key` (idempotent).
    fn remove_sandbox(&self, key: &str) -> Result<(), SandboxError>;
}

/// The firewall (masquerade, MAC spoof check).
pub trait Firewalls: Send + Sync {
    /// A firewall handle for one operation.
    fn firewall(&self) -> Box<dyn Firewall + '_>;
}

/// The reference plugin's iptables state (attachments it made before its
/// binary was swapped for ours).
pub trait ReferenceState: Send + Sync {
    /// The rules; none by default.
    fn reference_rules(&self) -> Box<dyn ReferenceRules + '_> {
        Box::new(NoReferenceRules)
    }
}

/// Named steps of ADD; test builds may crash at one on purpose.
pub trait FaultPoints: Send + Sync {
    /// A named step of ADD has completed. The default does nothing.
    fn fault_point(&self, _step: &str) {}
}

/// Everything a driver needs from the machine.
pub trait System: Namespaces + Firewalls + ReferenceState + FaultPoints {}

impl<T: Namespaces + Firewalls + ReferenceState + FaultPoints> System for T {}

/// The Linux system. Built by `main()`.
#[derive(Debug, Clone, Default)]
pub struct LinuxSystem {
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
        other => SandboxError::kernel(KernelError::caused_by(
            "open network namespace",
            path,
            other,
        )),
    }
}

impl Namespaces for LinuxSystem {
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
    fn check_sandbox(&self, path: &str, allow_own: bool) -> Result<(), SandboxError> {
        let ns = NetNs::open(path).map_err(|e| classify(path, e))?;
        ns.check_not_own(allow_own).map_err(|e| classify(path, e))
    }
    fn create_sandbox(&self, key: &str) -> Result<(), SandboxError> {
        netns::create_at(std::path::Path::new(key)).map_err(|e| {
            SandboxError::kernel(KernelError::caused_by("create namespace", key, e))
        })?;
        let lo_up = LinuxKernel::with_sandbox(NetNs::open(key).map_err(|e| classify(key, e))?)
            .and_then(|mut k| k.sandbox_loopback_up());
        if let Err(e) = lo_up {
            // Do not leak the namespace this call created.
            let _ = netns::remove_at(std::path::Path::new(key));
            return Err(e.into());
        }
        Ok(())
    }
    fn remove_sandbox(&self, key: &str) -> Result<(), SandboxError> {
        let path = std::path::Path::new(key);
        if !path.exists() {
            return Ok(());
        }
        netns::remove_at(path)
            .map_err(|e| SandboxError::kernel(KernelError::caused_by("remove namespace", key, e)))
    }
}

impl Firewalls for LinuxSystem {
    fn firewall(&self) -> Box<dyn Firewall + '_> {
        Box::new(NftFirewall {
            nft: cnm_nft::Firewall::new(),
        })
    }
}

impl ReferenceState for LinuxSystem {
    fn reference_rules(&self) -> Box<dyn ReferenceRules + '_> {
        Box::new(IptablesReferenceRules::default())
    }
}

impl FaultPoints for LinuxSystem {
    #[cfg(feature = "fault-injection")]
    fn fault_point(&self, step: &str) {
        if self.crash_after.as_deref() == Some(step) {
            // Die as a crash would: no unwinding, no cleanup.
            let _ =
                nix::sys::signal::kill(nix::unistd::Pid::this(), nix::sys::signal::Signal::SIGKILL);
        }
    }
}
