//! [`LinuxSystem`]: the real kernel, nftables and IPAM behind the drivers.

use netns::{NetNs, NetnsError};

use crate::bridge::{SandboxError, System};
use crate::firewall::NftFirewall;
use crate::ipam::{self, Ipam};
use crate::kernel::linux::LinuxKernel;
use crate::kernel::{Firewall, Kernel, KernelError};

/// The Linux system. Built by `main()` from the environment.
#[derive(Debug, Clone, Default)]
pub struct LinuxSystem {
    /// Exec every IPAM plugin, ours included (no in-process host-local).
    pub force_exec_ipam: bool,
    /// CNI_PATH: where `host-local` is looked up to tell whether it is ours
    /// (drop-in install, see `ipam_dropin`).
    pub cni_path: Vec<std::path::PathBuf>,
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
        other => SandboxError::Kernel(KernelError::new("open network namespace", path, other)),
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
    fn reference_rules(&self) -> Box<dyn crate::bridge::legacy::ReferenceRules + '_> {
        Box::new(crate::bridge::legacy::IptablesReferenceRules::default())
    }
    fn ipam(&self, ipam_type: &str) -> Box<dyn Ipam + '_> {
        if !self.force_exec_ipam && crate::ipam_dropin::is_ours(ipam_type, &self.cni_path) {
            return Box::new(ipam::InProcess);
        }
        ipam::for_type(ipam_type, self.force_exec_ipam)
    }
    #[cfg(feature = "fault-injection")]
    fn fault_point(&self, step: &str) {
        if self.crash_after.as_deref() == Some(step) {
            // SAFETY: kill(2) on our own pid with SIGKILL; no memory involved.
            unsafe {
                libc::kill(libc::getpid(), libc::SIGKILL);
            }
        }
    }
}
