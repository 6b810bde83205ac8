//! [`HostLocal`]: the CNI verbs of host-local as a `cni_protocol::Plugin`, used
//! by the `ipam-host-local` binary and in-process by simplebridge.

use cni_protocol::{CniError, Plugin, Request};

use crate::boot::{BootSource, SystemBoot};
use crate::config::{data_dir_of, IpamConfig};
use crate::lock::lock_timeout_from_env;
use crate::ops;

/// The host-local IPAM plugin (reference-compatible config and store) in the
/// running boot: [`HostLocalOn`] with [`SystemBoot`].
#[derive(Debug, Clone, Copy, Default)]
pub struct HostLocal;

/// The host-local IPAM plugin with an injected [`BootSource`] (tests simulate
/// reboots with a [`crate::FixedBoot`]).
#[derive(Debug, Clone, Default)]
pub struct HostLocalOn<B: BootSource>(pub B);

/// `CNI_CONTAINERID` and `CNI_IFNAME` (skel guarantees them for ADD/DEL/CHECK).
fn attachment(req: &Request) -> Result<(&str, &str), CniError> {
    match (req.env.container_id.as_deref(), req.env.ifname.as_deref()) {
        (Some(id), Some(ifname)) => Ok((id, ifname)),
        _ => Err(CniError::invalid_env(
            "required env variables [CNI_CONTAINERID,CNI_IFNAME] missing",
            "host-local needs the container ID and interface name",
        )),
    }
}

impl<B: BootSource> Plugin for HostLocalOn<B> {
    fn add(&self, req: &Request) -> Result<cni_protocol::CniResult, CniError> {
        let (id, ifname) = attachment(req)?;
        let cfg = IpamConfig::from_netconf(&req.conf, &req.env)?;
        Ok(ops::add_with_boot(
            &cfg,
            id,
            ifname,
            lock_timeout_from_env(),
            &self.0,
        )?)
    }

    /// Needs only `name` and `ipam.dataDir`: a config whose ranges no longer
    /// parse still releases its addresses.
    fn del(&self, req: &Request) -> Result<(), CniError> {
        let (id, ifname) = attachment(req)?;
        let dir = data_dir_of(&req.conf.raw)?;
        ops::del(&dir, &req.conf.name, id, ifname, lock_timeout_from_env())?;
        Ok(())
    }

    fn check(&self, req: &Request) -> Result<(), CniError> {
        let (id, ifname) = attachment(req)?;
        let cfg = IpamConfig::from_netconf(&req.conf, &req.env)?;
        Ok(ops::check(
            &cfg.data_dir,
            &cfg.name,
            id,
            ifname,
            lock_timeout_from_env(),
        )?)
    }

    fn gc(&self, req: &Request) -> Result<(), CniError> {
        let Some(valid) = req.conf.valid_attachments.as_ref() else {
            return Err(CniError::invalid_config(
                "GC needs cni.dev/valid-attachments",
                "the request has neither cni.dev/valid-attachments nor cni.dev/attachments; nothing was released",
            ));
        };
        let valid: Vec<(String, String)> = valid
            .iter()
            .map(|a| (a.container_id.clone(), a.ifname.clone()))
            .collect();
        let dir = data_dir_of(&req.conf.raw)?;
        let report = ops::gc(&dir, &req.conf.name, &valid, lock_timeout_from_env())?;
        if report.errors.is_empty() {
            Ok(())
        } else {
            Err(CniError::io(
                format!(
                    "host-local GC released {} addresses but hit errors",
                    report.released.len()
                ),
                report.errors.join("; "),
            ))
        }
    }

    fn status(&self, req: &Request) -> Result<(), CniError> {
        let cfg = IpamConfig::from_netconf(&req.conf, &req.env)?;
        Ok(ops::status_with_boot(
            &cfg,
            lock_timeout_from_env(),
            &self.0,
        )?)
    }

    fn about(&self) -> String {
        format!(
            "ipam-host-local {} (cnm host-local IPAM)",
            env!("CARGO_PKG_VERSION")
        )
    }
}

impl Plugin for HostLocal {
    fn add(&self, req: &Request) -> Result<cni_protocol::CniResult, CniError> {
        HostLocalOn(SystemBoot).add(req)
    }
    fn del(&self, req: &Request) -> Result<(), CniError> {
        HostLocalOn(SystemBoot).del(req)
    }
    fn check(&self, req: &Request) -> Result<(), CniError> {
        HostLocalOn(SystemBoot).check(req)
    }
    fn gc(&self, req: &Request) -> Result<(), CniError> {
        HostLocalOn(SystemBoot).gc(req)
    }
    fn status(&self, req: &Request) -> Result<(), CniError> {
        HostLocalOn(SystemBoot).status(req)
    }
    fn about(&self) -> String {
        HostLocalOn(SystemBoot).about()
    }
}
