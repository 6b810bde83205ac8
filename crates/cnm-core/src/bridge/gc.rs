//! GC and STATUS. GC forwards to IPAM, removes this network's host veths of
//! attachments not in `cni.dev/valid-attachments`, and drops the network's
//! masquerade rule when no attachment is left. STATUS asks IPAM and the
//! firewall.

use std::collections::HashSet;

use cni_protocol::{CniError, Request};

use super::config::{BridgeConfig, TeardownConfig};
use super::del::join;
use super::names::{host_veth_name, owner_alias};
use super::{kernel_error, System};
use crate::kernel::LinkState;

/// True for host veth names this plugin derives (`veth` + 11 hex digits);
/// the reference plugin's random names (`veth` + 8) are never touched.
pub(super) fn is_ours(name: &str) -> bool {
    name.len() == 15
        && name.starts_with("veth")
        && name[4..]
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A port GC may remove: ours by name and owned by `network` (its alias),
/// so another network sharing the bridge keeps its ports.
pub(super) fn owned_by(port: &LinkState, network: &str) -> bool {
    is_ours(&port.name) && port.alias.as_deref() == Some(owner_alias(network).as_str())
}

pub(super) fn gc(sys: &dyn System, req: &Request) -> Result<(), CniError> {
    let cfg = TeardownConfig::from_netconf(&req.conf)?;
    // Without the list, "nothing is valid" would tear down every container.
    let valid = req.conf.valid_attachments.clone().ok_or_else(|| {
        CniError::invalid_config(
            "GC needs cni.dev/valid-attachments",
            "neither \"cni.dev/valid-attachments\" nor \"cni.dev/attachments\" is in the config",
        )
    })?;
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
    // This network's host veths: those on the bridge, and any left detached
    // by an ADD that crashed before attaching them (found by their alias).
    let mut candidates: Vec<LinkState> = Vec::new();
    for listed in [
        kernel.bridge_ports(&cfg.bridge),
        kernel.links_with_alias(&owner_alias(&cfg.network)),
    ] {
        match listed {
            Ok(links) => {
                for l in links {
                    if !candidates.iter().any(|c| c.name == l.name) {
                        candidates.push(l);
                    }
                }
            }
            Err(e) => errors.push(kernel_error("failed to list host links", &e)),
        }
    }
    for port in candidates {
        if !owned_by(&port, &cfg.network) || keep.contains(&port.name) {
            continue;
        }
        if let Err(e) = kernel.delete_host_link(&port.name) {
            errors.push(kernel_error("failed to delete stale host veth", &e));
        }
        if let Err(e) = sys.firewall().remove_mac_spoof_check(&port.name) {
            errors.push(kernel_error("failed to remove MAC spoof check", &e));
        }
    }
    // Masquerade chains the reference plugin made for containers now gone.
    let valid_ids: HashSet<&str> = valid.iter().map(|a| a.container_id.as_str()).collect();
    if let Err(e) = sys
        .reference_rules()
        .gc_masq(&cfg.network, &|id| valid_ids.contains(id))
    {
        errors.push(kernel_error(
            "failed to remove the reference plugin's masquerade",
            &e,
        ));
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
    use crate::bridge::names::vlan_gateway_peer_name;

    #[test]
    fn ours_only_matches_derived_names() {
        assert!(is_ours(&host_veth_name("c1", "eth0")));
        assert!(!is_ours("veth1a2b3c4d"));
        assert!(!is_ours("vethABCDEFABCDE"));
        assert!(!is_ours("eth0"));
        assert!(!is_ours(&vlan_gateway_peer_name("cni0", 100)));
    }

    #[test]
    fn owner_alias_decides() {
        let mut port = LinkState {
            name: host_veth_name("c1", "eth0"),
            alias: Some(owner_alias("net-a")),
            ..LinkState::default()
        };
        assert!(owned_by(&port, "net-a"));
        assert!(!owned_by(&port, "net-b"));
        port.alias = None;
        assert!(!owned_by(&port, "net-a"));
    }
}
