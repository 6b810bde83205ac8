//! The host-local verbs on a parsed configuration, in the model's types
//! (no CNI type): ADD, DEL, CHECK, GC and STATUS. ADD and STATUS need to know the
//! running boot (a [`BootSource`]); the plain forms use [`SystemBoot`].

use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use cnm_model::Allocation;

use crate::allocator::{allocate, Allocated};
use crate::boot::{BootInfo, BootSource, SystemBoot};
use crate::config::IpamConfig;
use crate::dns::parse_resolv_conf;
use crate::error::IpamError;
use crate::owner::Owner;
use crate::stamp::Era;
use crate::store::{GcReport, Store};

/// ADD in the running boot ([`SystemBoot`]).
pub fn add(
    cfg: &IpamConfig,
    container_id: &str,
    ifname: &str,
    timeout: Duration,
) -> Result<Allocation, IpamError> {
    add_with_boot(cfg, container_id, ifname, timeout, &SystemBoot)
}

/// ADD: one address per range set, under one lock for all sets. New
/// reservations are stamped with `boot`'s ID; reservations of earlier boots are
/// reclaimed when a set is exhausted (see docs/ipam-reboots.md).
pub fn add_with_boot(
    cfg: &IpamConfig,
    container_id: &str,
    ifname: &str,
    timeout: Duration,
    boot: &dyn BootSource,
) -> Result<Allocation, IpamError> {
    let boot = BootInfo::from_source(boot);
    let dns = match &cfg.resolv_conf {
        Some(p) => parse_resolv_conf(p)?,
        None => Default::default(),
    };
    let store = Store::open(&cfg.data_dir, &cfg.name)?;
    let allocated: Vec<Allocated> = {
        let locked = store.lock(timeout)?;
        allocate(
            &locked,
            &cfg.ranges,
            &cfg.requested,
            container_id,
            ifname,
            &boot,
        )?
    };
    Ok(Allocation {
        addresses: allocated
            .iter()
            .map(Allocated::to_interface_address)
            .collect(),
        routes: cfg.routes.clone(),
        dns,
    })
}

/// DEL: releases every reservation of `(container_id, ifname)` (or, failing
/// that, legacy ones of `container_id`). Nothing to release is success.
pub fn del(
    data_dir: &Path,
    network: &str,
    container_id: &str,
    ifname: &str,
    timeout: Duration,
) -> Result<Vec<IpAddr>, IpamError> {
    let Some(store) = Store::open_existing(data_dir, network)? else {
        return Ok(Vec::new());
    };
    let locked = store.lock(timeout)?;
    let view = locked.index_view(false, &[]);
    if let (Some(idx), Some(ips)) = (&view.idx, view.lookup(container_id, ifname)) {
        // Trusted index: exactly the addresses still held by this attachment.
        let victims = locked
            .verified(&ips, container_id, ifname)
            .into_iter()
            .map(|ip| (ip, ip.to_string()))
            .collect();
        let released = locked.release(victims)?;
        // Record the directory as this DEL left it (or give up trusting it).
        let recorded = view.trusted.as_deref().unwrap_or_default();
        let unchanged = released.is_empty();
        if !(idx.forget(container_id, ifname)
            && (unchanged || locked.trust_index(idx, recorded, &[])))
        {
            locked.distrust_index(idx);
        }
        return Ok(released);
    }
    let released = locked.release_by_id(container_id, ifname)?;
    if let Some(idx) = &view.idx {
        if !idx.forget(container_id, ifname) {
            locked.distrust_index(idx);
        }
    }
    Ok(released)
}

/// CHECK: some reservation belongs to `(container_id, ifname)` (or legacy `container_id`).
pub fn check(
    data_dir: &Path,
    network: &str,
    container_id: &str,
    ifname: &str,
    timeout: Duration,
) -> Result<(), IpamError> {
    let not_found = || IpamError::NotFound(container_id.to_string());
    let store = Store::open_existing(data_dir, network)?.ok_or_else(not_found)?;
    let locked = store.lock(timeout)?;
    if let Some(ips) = locked.index_view(false, &[]).lookup(container_id, ifname) {
        return match locked.verified(&ips, container_id, ifname).is_empty() {
            true => Err(not_found()),
            false => Ok(()),
        };
    }
    let m = locked.find(container_id, ifname, |_| true)?;
    if m.exact.is_empty() && m.legacy.is_empty() {
        return Err(not_found());
    }
    Ok(())
}

/// GC: releases every reservation whose attachment is not in `valid`
/// (`(containerID, ifname)` pairs; a legacy file is kept if its container ID is valid).
/// Boots play no part: an attachment the runtime lists as valid is kept even if
/// it was reserved in an earlier boot.
pub fn gc(
    data_dir: &Path,
    network: &str,
    valid: &[(String, String)],
    timeout: Duration,
) -> Result<GcReport, IpamError> {
    let Some(store) = Store::open_existing(data_dir, network)? else {
        return Ok(GcReport::default());
    };
    let locked = store.lock(timeout)?;
    let (report, kept) = locked.gc_scan(|owner| match owner {
        Owner::Attachment {
            container_id,
            ifname,
        } => valid.iter().any(|(c, i)| c == container_id && i == ifname),
        Owner::Legacy { container_id } => valid.iter().any(|(c, _)| c == container_id),
    })?;
    // GC has read every reservation: rebuild the index, and trust it if complete.
    if let Some(idx) = locked.index_dir(false) {
        let previous = locked.cursor_sets();
        if locked.distrust_index(&idx) && locked.reindex(&idx, &kept) {
            locked.trust_index(&idx, &previous, &[]);
        }
    }
    Ok(report)
}

/// GC as one result: every release that failed makes it an error
/// ([`IpamError::Gc`]).
pub fn gc_all(
    data_dir: &Path,
    network: &str,
    valid: &[(String, String)],
    timeout: Duration,
) -> Result<(), IpamError> {
    let report = gc(data_dir, network, valid, timeout)?;
    if report.errors.is_empty() {
        Ok(())
    } else {
        Err(IpamError::Gc {
            released: report.released.len(),
            errors: report.errors,
        })
    }
}

/// STATUS in the running boot ([`SystemBoot`]).
pub fn status(cfg: &IpamConfig, timeout: Duration) -> Result<(), IpamError> {
    status_with_boot(cfg, timeout, &SystemBoot)
}

/// STATUS: the store is writable and every range set has a free address, or a
/// reservation of an earlier boot that ADD would reclaim (else code 50).
pub fn status_with_boot(
    cfg: &IpamConfig,
    timeout: Duration,
    boot: &dyn BootSource,
) -> Result<(), IpamError> {
    let boot = BootInfo::from_source(boot);
    let unavailable = |msg: String, details: String| IpamError::NotAvailable { msg, details };
    let store = Store::open(&cfg.data_dir, &cfg.name)
        .map_err(|e| unavailable("host-local store is not usable".into(), e.to_string()))?;
    let locked = store.lock(timeout)?;
    // The probe changes the directory's mtime: keep a trusted index trusted.
    let view = locked.index_view(false, &[]);
    let probed = locked.probe_writable();
    if let (Some(idx), Some(recorded)) = (&view.idx, &view.trusted) {
        if !locked.trust_index(idx, recorded, &[]) {
            locked.distrust_index(idx);
        }
    }
    probed.map_err(|e| unavailable("host-local store is not writable".into(), e.to_string()))?;
    let entries = locked.reservations()?;
    for (i, set) in cfg.ranges.iter().enumerate() {
        let used = entries
            .iter()
            .filter(|(ip, _)| set.is_allocatable(*ip))
            .count() as u128;
        let capacity = set.capacity();
        let reclaimable = || {
            entries.iter().any(|(ip, name)| {
                set.is_allocatable(*ip) && locked.era(name, &boot) == Era::EarlierBoot
            })
        };
        if used >= capacity && !reclaimable() {
            return Err(unavailable(
                format!("no IP addresses available in range set {i}: {set}"),
                format!("{capacity} addresses, all reserved"),
            ));
        }
    }
    Ok(())
}
