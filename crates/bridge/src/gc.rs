//! GC and STATUS. GC forwards to IPAM, removes this network's host veths of
//! attachments not in `cni.dev/valid-attachments`, and drops the network's
//! masquerade rule when no attachment is left. STATUS asks IPAM and the
//! firewall.

use std::collections::HashSet;

use cnm_kernel::LinkState;
use cnm_model::{DriverError, ErrorKind};

use super::config::{BridgeConfig, TeardownConfig};
use super::del::join;
use super::names::{container_id_of_endpoint, host_veth_name_for_endpoint, owner_alias};
use cnm_kernel::System;

use super::error::kernel_error;

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

/// GC of network `cfg` keeping the endpoints `valid` (ids).
pub(super) fn gc(
    sys: &dyn System,
    cfg: &TeardownConfig,
    valid: &[String],
) -> Result<(), DriverError> {
    let mut errors = Vec::new();
    let keep: HashSet<String> = valid
        .iter()
        .map(|eid| host_veth_name_for_endpoint(eid))
        .collect();
    let mut kernel = sys.kernel(None, false)?;
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
    let valid_ids: HashSet<&str> = valid
        .iter()
        .map(|eid| container_id_of_endpoint(eid))
        .collect();
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

pub(super) fn status(sys: &dyn System, cfg: &BridgeConfig) -> Result<(), DriverError> {
    if cfg.ip_masq || cfg.mac_spoof_check {
        sys.firewall().available().map_err(|e| {
            DriverError::caused_by(ErrorKind::Unavailable, "nftables is not usable", e)
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::names::{host_veth_name, vlan_gateway_peer_name};

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
