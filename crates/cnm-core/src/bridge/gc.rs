//! GC and STATUS. GC forwards to IPAM, removes host veths of attachments not
//! in `cni.dev/valid-attachments`, and drops the network's masquerade rule
//! when no attachment is left. STATUS asks IPAM and the firewall.

use std::collections::HashSet;

use cni_protocol::{CniError, Request};

use super::config::BridgeConfig;
use super::del::join;
use super::names::host_veth_name;
use super::{kernel_error, System};

/// True for host veth names this plugin derives (`veth` + 11 hex digits);
/// the reference plugin's random names (`veth` + 8) are never touched.
pub(super) fn is_ours(name: &str) -> bool {
    name.len() == 15
        && name.starts_with("veth")
        && name[4..]
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

pub(super) fn gc(sys: &dyn System, req: &Request) -> Result<(), CniError> {
    let cfg = BridgeConfig::from_netconf(&req.conf, None)?;
    let valid = req.conf.valid_attachments.clone().unwrap_or_default();
    let mut errors = Vec::new();

    if let Some(ipam_type) = &cfg.ipam_type {
        if let Err(e) = sys.ipam(ipam_type).gc(req) {
            errors.push(e);
        }
    }

    let keep: HashSet<String> = valid
        .iter()
        .map(|a| host_veth_name(&a.container_id, &a.ifname))
        .collect();
    let mut kernel = sys.kernel(None, false).map_err(|e| e.into_cni())?;
    match kernel.bridge_ports(&cfg.bridge) {
        Ok(ports) => {
            for port in ports {
                if is_ours(&port.name) && !keep.contains(&port.name) {
                    if let Err(e) = kernel.delete_host_link(&port.name) {
                        errors.push(kernel_error("failed to delete stale host veth", &e));
                    }
                    if cfg.mac_spoof_check {
                        if let Err(e) = sys.firewall().remove_mac_spoof_check(&port.name) {
                            errors.push(kernel_error("failed to remove MAC spoof check", &e));
                        }
                    }
                }
            }
        }
        Err(e) => errors.push(kernel_error("failed to list bridge ports", &e)),
    }
    if valid.is_empty() {
        if let Err(e) = sys.firewall().remove_masquerade(&cfg.network) {
            errors.push(kernel_error("failed to remove IP masquerade", &e));
        }
    }
    join(errors)
}

pub(super) fn status(sys: &dyn System, req: &Request) -> Result<(), CniError> {
    let cfg = BridgeConfig::from_netconf(&req.conf, None)?;
    if let Some(ipam_type) = &cfg.ipam_type {
        sys.ipam(ipam_type).status(req)?;
    }
    if cfg.ip_masq || cfg.mac_spoof_check {
        sys.firewall()
            .available()
            .map_err(|e| CniError::not_available("nftables is not usable", e.to_string()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ours_only_matches_derived_names() {
        assert!(is_ours(&host_veth_name("c1", "eth0")));
        assert!(!is_ours("veth1a2b3c4d"));
        assert!(!is_ours("vethABCDEFABCDE"));
        assert!(!is_ours("eth0"));
    }
}
