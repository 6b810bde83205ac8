//! CNI `portmap` plugin (chained), a drop-in for the reference `portmap` built on the project's
//! nftables table `inet cnm` (`cnm_nft::Firewall`): every mapping is a map element tagged with
//! its owner (network, containerID, ifname), so one ADD or DEL is one atomic batch and DEL
//! removes exactly that attachment's mappings, whatever the config says at DEL time. ADD
//! records the owner's elements under `/run/cnm/nft/<netns inode>/`, so DEL normally runs
//! no nft process: one nfnetlink batch (see `cnm_nft::Firewall::remove_port_mappings`).
//!
//! Options: `snat` (default true) is applied; `markMasqBit` (0..=31) and
//! `externalSetMarkChain` are validated like the reference but unused (no packet mark is
//! needed); `masqAll` is accepted and ignored; a non-empty `conditionsV4`/`conditionsV6`
//! (iptables match arguments, which this plugin cannot apply) is refused with code 2 rather
//! than publishing ports more widely than configured; `backend` may be `iptables` or
//! `nftables`, nftables is always used. DEL and GC do not validate the options: mappings are
//! found by owner, so a config that became invalid can still be cleaned up.

#![forbid(unsafe_code)]

mod addrs;
mod config;
mod errors;
mod sysctl;

use std::collections::BTreeSet;
use std::path::PathBuf;

use cni_protocol::{CniError, CniResult, Plugin, Request};
use cnm_nft::{Firewall, Owner, PortMapping};
use ipnet::IpNet;

pub use addrs::{container_addrs, host_interface};
pub use config::{port_mappings, Options, DEFAULT_MARK_MASQ_BIT};
pub use errors::from_nft;
pub use sysctl::{enable_route_localnet, route_localnet_path};

/// The error of ADD/CHECK without `prevResult` (reference wording).
pub const NOT_CHAINED: &str = "must be called as chained plugin";

/// The plugin: a firewall handle and the `/proc/sys` root used for `route_localnet`.
#[derive(Debug, Clone)]
pub struct Portmap {
    /// Where the mappings go.
    pub firewall: Firewall,
    /// Root of the sysctl tree (`/proc/sys`; a directory in tests).
    pub proc_sys: PathBuf,
}

impl Default for Portmap {
    fn default() -> Self {
        Portmap {
            firewall: Firewall::new(),
            proc_sys: PathBuf::from("/proc/sys"),
        }
    }
}

/// The attachment owning the mappings: (network name, CNI_CONTAINERID, CNI_IFNAME).
pub fn owner_of(req: &Request) -> Result<Owner, CniError> {
    let missing = |var: &str| {
        CniError::invalid_env(
            format!("required env variables [{var}] missing"),
            format!("portmap needs {var} to tag its mappings"),
        )
    };
    Ok(Owner {
        network: req.conf.name.clone(),
        container_id: req
            .env
            .container_id
            .clone()
            .ok_or_else(|| missing("CNI_CONTAINERID"))?,
        ifname: req
            .env
            .ifname
            .clone()
            .ok_or_else(|| missing("CNI_IFNAME"))?,
    })
}

/// Mappings that can apply to these container addresses: a `hostIP` of a family the container
/// has no address of is skipped (as the reference does).
pub fn applicable(mappings: &[PortMapping], addrs: &[IpNet]) -> Vec<PortMapping> {
    let has4 = addrs.iter().any(|a| matches!(a, IpNet::V4(_)));
    let has6 = addrs.iter().any(|a| matches!(a, IpNet::V6(_)));
    mappings
        .iter()
        .filter(|m| match m.host_ip {
            None => has4 || has6,
            Some(ip) if ip.is_ipv4() => has4,
            Some(_) => has6,
        })
        .copied()
        .collect()
}

/// Everything ADD and CHECK derive from the request.
struct Plan {
    prev: CniResult,
    owner: Owner,
    addrs: Vec<IpNet>,
    mappings: Vec<PortMapping>,
    snat: bool,
}

fn plan(req: &Request) -> Result<Plan, CniError> {
    let opts = Options::from_conf(&req.conf)?;
    let mappings = port_mappings(&req.conf)?;
    let prev = req.conf.prev_result.clone().ok_or_else(|| {
        CniError::invalid_config(
            NOT_CHAINED,
            "portmap needs the previous plugin's result (prevResult) in its configuration",
        )
    })?;
    let owner = owner_of(req)?;
    let ifname = owner.ifname.clone();
    let addrs = container_addrs(&prev, &ifname);
    let mappings = applicable(&mappings, &addrs);
    Ok(Plan {
        prev,
        owner,
        addrs,
        mappings,
        snat: opts.snat,
    })
}

impl Plugin for Portmap {
    fn add(&self, req: &Request) -> Result<CniResult, CniError> {
        let p = plan(req)?;
        if p.mappings.is_empty() {
            return Ok(p.prev);
        }
        self.firewall
            .add_port_mappings(&p.owner, &p.addrs, &p.mappings, p.snat)
            .map_err(|e| from_nft("failed to add port mappings", e))?;
        let uses_v4 = p.addrs.iter().any(|a| matches!(a, IpNet::V4(_)));
        if p.snat && uses_v4 {
            if let Some(iface) = host_interface(&p.prev) {
                if let Err(e) = enable_route_localnet(&self.proc_sys, iface) {
                    // Leave nothing behind: the whole ADD fails.
                    let _ = self.firewall.remove_port_mappings(&p.owner);
                    return Err(e);
                }
            }
        }
        Ok(p.prev)
    }

    fn del(&self, req: &Request) -> Result<(), CniError> {
        // Neither the options nor the mappings are needed (elements are found by owner), so an
        // invalid option never blocks the cleanup.
        let owner = owner_of(req)?;
        self.firewall
            .remove_port_mappings(&owner)
            .map_err(|e| from_nft("failed to remove port mappings", e))
    }

    fn check(&self, req: &Request) -> Result<(), CniError> {
        let p = plan(req)?;
        if p.mappings.is_empty() {
            return Ok(());
        }
        self.firewall
            .check_port_mappings(&p.owner, &p.addrs, &p.mappings, p.snat)
            .map_err(|e| from_nft("port mappings are not in place", e))
    }

    fn gc(&self, req: &Request) -> Result<(), CniError> {
        // As DEL: options are not validated, stale mappings are found by owner.
        let Some(valid) = req.conf.valid_attachments.as_ref() else {
            return Err(CniError::invalid_config(
                "GC needs cni.dev/valid-attachments",
                "the request has neither cni.dev/valid-attachments nor cni.dev/attachments; nothing was removed",
            ));
        };
        let valid: BTreeSet<(&str, &str)> = valid
            .iter()
            .map(|a| (a.container_id.as_str(), a.ifname.as_str()))
            .collect();
        let owners = self
            .firewall
            .list_owners()
            .map_err(|e| from_nft("failed to list port mappings", e))?;
        let mut errors = Vec::new();
        for o in owners.iter().filter(|o| {
            o.network == req.conf.name
                && !valid.contains(&(o.container_id.as_str(), o.ifname.as_str()))
        }) {
            if let Err(e) = self.firewall.remove_port_mappings(o) {
                errors.push(e.to_string());
            }
        }
        // Records of owners whose elements are gone (removed above, or by someone else).
        if let Err(e) = self
            .firewall
            .prune_port_mapping_state(&req.conf.name, &owners)
        {
            errors.push(e.to_string());
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(CniError::kernel(
                "portmap GC could not remove every stale mapping",
                errors.join("; "),
            ))
        }
    }

    fn status(&self, req: &Request) -> Result<(), CniError> {
        Options::from_conf(&req.conf)?;
        self.firewall
            .available()
            .map_err(|e| CniError::not_available("nftables is not usable", e.to_string()))
    }

    fn about(&self) -> String {
        format!("portmap (cnm) {}", env!("CARGO_PKG_VERSION"))
    }
}

#[cfg(test)]
mod tests;
