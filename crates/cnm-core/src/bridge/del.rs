//! DEL: best effort and idempotent. IPAM is released first; then the
//! container interface (when the sandbox still exists) and the host veth,
//! found by its derived name; every error is collected, none stops the rest.

use cni_protocol::{CniError, Request};

use super::config::TeardownConfig;
use super::names::host_veth_name;
use super::{attachment, kernel_error, SandboxError, System};

pub(super) fn del(sys: &dyn System, req: &Request) -> Result<(), CniError> {
    let (cid, ifname) = attachment(req)?;
    // Only what teardown needs, read leniently.
    let cfg = TeardownConfig::from_netconf(&req.conf)?;

    let mut errors: Vec<CniError> = Vec::new();
    let netns = req.env.netns.as_deref().filter(|p| !p.is_empty());
    // A sandbox that is gone (or a stale bind mount) is fine: release what
    // the host holds. The host's own namespace is never touched as a
    // sandbox, but its attachment's host-side resources are still released.
    let mut refused: Option<CniError> = None;
    let opened = match netns {
        Some(path) => match sys.kernel(Some(path), req.env.netns_override) {
            Ok(k) => Ok(k),
            Err(e @ SandboxError::OwnNamespace(_)) => {
                refused = Some(e.into_cni());
                sys.kernel(None, false)
            }
            Err(SandboxError::Missing(_)) | Err(SandboxError::NotNetns(..)) => {
                sys.kernel(None, false)
            }
            Err(e @ SandboxError::Kernel(_)) => {
                errors.push(e.into_cni());
                sys.kernel(None, false)
            }
        },
        None => sys.kernel(None, false),
    };
    let mut kernel = opened.map_err(|e| e.into_cni())?;

    if let Some(ipam_type) = &cfg.ipam_type {
        if let Err(e) = sys.ipam(ipam_type).del(req) {
            errors.push(e);
        }
    }
    if netns.is_some() && refused.is_none() {
        if let Err(e) = kernel.delete_container_link(ifname) {
            errors.push(kernel_error("failed to delete container interface", &e));
        }
    }
    let host_name = host_veth_name(cid, ifname);
    if let Err(e) = kernel.delete_host_link(&host_name) {
        errors.push(kernel_error("failed to delete host veth", &e));
    }
    if cfg.mac_spoof_check {
        if let Err(e) = sys.firewall().remove_mac_spoof_check(&host_name) {
            errors.push(kernel_error("failed to remove MAC spoof check", &e));
        }
    }
    // Masquerade is per network and stays while the network exists (like the
    // bridge); GC with no valid attachment removes it.
    if let Some(e) = refused {
        errors.insert(0, e);
    }
    join(errors)
}

/// One error for many: the first one's code, every message in the details.
pub(super) fn join(mut errors: Vec<CniError>) -> Result<(), CniError> {
    match errors.len() {
        0 => Ok(()),
        1 => Err(errors.remove(0)),
        _ => {
            let first = errors[0].clone();
            let all: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
            Err(CniError::new(first.code, first.msg, all.join("; ")))
        }
    }
}
