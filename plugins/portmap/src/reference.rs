//! Mappings the reference `portmap` made before its binary was swapped for
//! ours (docs/migration.md): its `CNI-DN-<hash>` chain and the entries in
//! `CNI-HOSTPORT-DNAT` tagged with the container ID (`cnm_refcompat`). DEL
//! and GC remove them, CHECK verifies their DNAT rules. One netlink probe per family and
//! no process when there are none.

use std::net::IpAddr;

use cni_protocol::CniError;
use cnm_nft::PortMapping;
use cnm_refcompat::{Kind, RefRules};
use ipnet::IpNet;

fn failed(msg: &str, e: cnm_refcompat::RefError) -> CniError {
    CniError::kernel(msg, e.to_string())
}

/// DEL: the reference's mappings of this container.
pub fn remove(network: &str, container_id: &str) -> Result<(), CniError> {
    RefRules::linux()
        .remove(Kind::Portmap, network, container_id)
        .map(|_| ())
        .map_err(|e| failed("failed to remove the reference portmap's rules", e))
}

/// GC: the reference's mappings of this network's containers `keep` rejects.
pub fn gc(network: &str, keep: &dyn Fn(&str) -> bool) -> Result<(), CniError> {
    RefRules::linux()
        .gc(Kind::Portmap, network, keep)
        .map(|_| ())
        .map_err(|e| failed("failed to remove the reference portmap's stale rules", e))
}

/// CHECK of an attachment the reference made: its DNAT chain of this
/// container has, for every mapping, a DNAT of that protocol and host port
/// to one of the container's addresses and the container port. Ok(false)
/// when the reference has no chain for it (then it is not the reference's).
pub fn check(
    network: &str,
    container_id: &str,
    addrs: &[IpNet],
    mappings: &[PortMapping],
) -> Result<bool, CniError> {
    let rules = RefRules::linux()
        .dnat_rules(network, container_id)
        .map_err(|e| failed("cannot read the reference portmap's rules", e))?;
    if rules.is_empty() {
        return Ok(false);
    }
    for m in mappings {
        let targets: Vec<String> = addrs
            .iter()
            .map(|a| match a.addr() {
                IpAddr::V4(ip) => format!("{ip}:{}", m.container_port),
                IpAddr::V6(ip) => format!("[{ip}]:{}", m.container_port),
            })
            .collect();
        let found = rules.iter().any(|r| {
            r.protocol == m.protocol.name() && r.host_port == m.host_port && targets.contains(&r.to)
        });
        if !found {
            return Err(CniError::kernel(
                "port mappings are not in place",
                format!(
                    "the reference portmap's chain {} has no DNAT of {}/{} to {}",
                    cnm_refcompat::names::dnat_chain(network, container_id),
                    m.protocol.name(),
                    m.host_port,
                    targets.join(" or ")
                ),
            ));
        }
    }
    Ok(true)
}
