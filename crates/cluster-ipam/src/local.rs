//! Allocation inside the blocks this host holds: the host-local store
//! (`<dataDir>/<network>/`, same format and lock as `ipam-host-local`) with
//! one range per block, the block's first address as its gateway. Never
//! talks to the key-value store, so it works while etcd is unreachable.
//! Typed: the overlay's held-blocks IPAM driver is built on it, and every
//! held block being full is [`ClusterIpamError::BlocksFull`].

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use cnm_ipam::{BootSource, IpamConfig, IpamError, RangeSet, RangeSpec};
use cnm_model::Allocation;
use ipnet::IpNet;

use crate::error::ClusterIpamError;
use crate::plan::{gateway_of, BlockPlan};
use crate::state::HostState;

/// The host-local configuration that allocates from `state`'s blocks
/// (`requested`: specific addresses wanted, in order).
pub fn ipam_config(
    state: &HostState,
    cni_version: &str,
    requested: &[IpAddr],
) -> Result<IpamConfig, ClusterIpamError> {
    let specs: Vec<RangeSpec> = state
        .blocks
        .iter()
        .map(|b| RangeSpec {
            subnet: Some(b.to_string()),
            range_start: None,
            range_end: None,
            gateway: Some(gateway_of(b).to_string()),
        })
        .collect();
    // One range set per address family: a dual-stack container gets one
    // address of each.
    let mut ranges = Vec::new();
    for v4 in [true, false] {
        let fam: Vec<RangeSpec> = specs
            .iter()
            .zip(&state.blocks)
            .filter(|(_, b)| matches!(b, IpNet::V4(_)) == v4)
            .map(|(s, _)| s.clone())
            .collect();
        if !fam.is_empty() {
            ranges.push(
                RangeSet::from_specs(&fam).map_err(|m| ClusterIpamError::BadState {
                    path: state.network.name.clone(),
                    msg: m.to_string(),
                })?,
            );
        }
    }
    Ok(IpamConfig {
        name: state.network.name.clone(),
        cni_version: cni_version.to_string(),
        ranges,
        routes: Vec::new(),
        data_dir: state.data_dir.clone(),
        resolv_conf: None,
        requested: requested.to_vec(),
    })
}

/// The error of an ADD that found every held block full.
pub fn blocks_full(state: &HostState) -> ClusterIpamError {
    ClusterIpamError::BlocksFull {
        network: state.network.name.clone(),
        blocks: state.blocks.len(),
    }
}

/// Allocates one address for `(container_id, ifname)` in the held blocks
/// (the owner's own reservation when it has one; one of `requested` when
/// given, which must then be in a held block). Every held block full (or
/// none held) is [`ClusterIpamError::BlocksFull`].
pub fn allocate(
    state: &HostState,
    cni_version: &str,
    requested: &[IpAddr],
    owner: (&str, &str),
    timeout: Duration,
    boot: &dyn BootSource,
) -> Result<Allocation, ClusterIpamError> {
    let (container_id, ifname) = owner;
    if state.blocks.is_empty() {
        return Err(blocks_full(state));
    }
    let cfg = ipam_config(state, cni_version, requested)?;
    match cnm_ipam::ops::add_with_boot(&cfg, container_id, ifname, timeout, boot) {
        Ok(a) => Ok(a),
        Err(IpamError::Exhausted { .. }) => Err(blocks_full(state)),
        Err(e) => Err(e.into()),
    }
}

/// Releases `(container_id, ifname)`'s addresses (DEL; needs no etcd).
pub fn release(
    data_dir: &Path,
    network: &str,
    container_id: &str,
    ifname: &str,
    timeout: Duration,
) -> Result<(), ClusterIpamError> {
    cnm_ipam::ops::del(data_dir, network, container_id, ifname, timeout)?;
    Ok(())
}

/// Addresses in use per block of `plan` (blocks without any are absent):
/// the reservation files of the host-local store (`<dataDir>/<network>/<ip>`,
/// the reference format), counted without taking the store's lock (a
/// snapshot is enough to decide when to claim ahead or to report usage).
pub fn usage(
    data_dir: &Path,
    network: &str,
    plan: &BlockPlan,
) -> Result<BTreeMap<IpNet, u64>, ClusterIpamError> {
    cnm_ipam::validate_network_name(network)?;
    let dir = data_dir.join(network);
    let mut out = BTreeMap::new();
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(source) => {
            return Err(ClusterIpamError::State {
                op: "listing",
                path: dir.display().to_string(),
                source,
            })
        }
    };
    for entry in entries.flatten() {
        let Some(ip) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<std::net::IpAddr>().ok())
        else {
            continue;
        };
        if !entry.file_type().is_ok_and(|t| t.is_file()) {
            continue;
        }
        if let Some(b) = plan.block_of(ip) {
            *out.entry(b).or_insert(0) += 1;
        }
    }
    Ok(out)
}

/// Free addresses left in `blocks` given `usage`.
pub fn free_in(plan: &BlockPlan, blocks: &[IpNet], usage: &BTreeMap<IpNet, u64>) -> u128 {
    blocks
        .iter()
        .map(|b| {
            let used = u128::from(usage.get(b).copied().unwrap_or(0));
            plan.usable_per_block().saturating_sub(used)
        })
        .sum()
}
