//! Allocation under the store lock: one address per range set, requested
//! addresses first, round-robin otherwise (reference `IPAllocator.Get`: free
//! addresses are found by trying to create their file, no directory listing),
//! and rollback of this ADD's reservations. The duplicate check reads the
//! attachment index ([`crate::index`]); only an untrusted index costs a full scan.
//! New reservations are stamped with the boot ID; reservations of earlier boots
//! are reclaimed only when needed (see docs/ipam-reboots.md).

use std::collections::HashSet;
use std::net::IpAddr;

use cnm_model::InterfaceAddress;
use ipnet::IpNet;

use crate::boot::BootInfo;
use crate::error::IpamError;
use crate::range::RangeSet;
use crate::store::{Locked, Matches};

/// One address handed out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allocated {
    /// Index of the range set it came from.
    pub set: usize,
    pub ip: IpAddr,
    /// Prefix length of the range's subnet.
    pub prefix_len: u8,
    pub gateway: IpAddr,
}

impl Allocated {
    /// The endpoint's address: ip/prefix of the subnet, and the gateway.
    pub fn to_interface_address(&self) -> InterfaceAddress {
        InterfaceAddress {
            // The prefix comes from a validated subnet of the same family.
            address: IpNet::new(self.ip, self.prefix_len).unwrap_or_else(|_| IpNet::from(self.ip)),
            gateway: Some(self.gateway),
        }
    }
}

/// Allocates one address per set for `(container_id, ifname)` in boot `boot`.
/// On any error the reservations made by this call are removed again
/// (reservations of earlier boots reclaimed on the way stay released).
pub fn allocate(
    store: &Locked<'_>,
    sets: &[RangeSet],
    requested: &[IpAddr],
    container_id: &str,
    ifname: &str,
    boot: &BootInfo,
) -> Result<Vec<Allocated>, IpamError> {
    // Requested addresses: deduplicated; each goes to the first set containing it.
    let mut pending: Vec<IpAddr> = Vec::new();
    for ip in requested {
        if !pending.contains(ip) {
            pending.push(*ip);
        }
    }
    let mut wanted: Vec<Option<IpAddr>> = vec![None; sets.len()];
    for (i, set) in sets.iter().enumerate() {
        if let Some(pos) = pending.iter().position(|ip| set.contains(*ip)) {
            wanted[i] = Some(pending.remove(pos));
        }
    }
    if !pending.is_empty() {
        let list: Vec<String> = pending.iter().map(ToString::to_string).collect();
        return Err(IpamError::Alloc {
            msg: format!("failed to allocate all requested IPs: {}", list.join(" ")),
            details: "the requested addresses are in no configured range".into(),
        });
    }

    let all_sets: Vec<usize> = (0..sets.len()).collect();
    let view = store.index_view(true, &all_sets);
    let needs_dup: Vec<usize> = (0..sets.len()).filter(|i| wanted[*i].is_none()).collect();

    // What this attachment already holds: from the index when it is trusted,
    // else from a full scan, which also rebuilds the index.
    let (exact, legacy, mut complete, previous) = match view.lookup(container_id, ifname) {
        Some(ips) => (
            store.verified(&ips, container_id, ifname),
            Vec::new(),
            true,
            view.trusted.clone().unwrap_or_default(),
        ),
        None => {
            let scanned = store.read_owners(store.reservations()?);
            let m = Matches::of(&scanned, container_id, ifname);
            let complete = view
                .idx
                .as_ref()
                .is_some_and(|i| store.reindex(i, &scanned));
            let ips = |v: Vec<(IpAddr, String)>| v.into_iter().map(|(ip, _)| ip).collect();
            (ips(m.exact), ips(m.legacy), complete, store.cursor_sets())
        }
    };
    // A crash from here on must leave the index untrusted.
    if let Some(idx) = &view.idx {
        complete &= store.distrust_index(idx);
    }

    let result = allocate_sets(
        store,
        sets,
        wanted,
        &needs_dup,
        (&exact, &legacy),
        container_id,
        ifname,
        boot,
    );
    let Some(idx) = &view.idx else {
        return result.map(|(done, _)| done).map_err(|(e, _)| e);
    };
    let (recorded, out) = match result {
        Ok((done, kept)) => {
            let mut ips = kept;
            ips.extend(done.iter().map(|a| a.ip));
            (idx.record(container_id, ifname, &ips), Ok(done))
        }
        Err((e, clean)) => (clean, Err(e)),
    };
    if complete && recorded {
        store.trust_index(idx, &previous, &all_sets);
    }
    out
}

/// Addresses that already hold a reservation, learned without listing the
/// store: addresses found taken while probing, and the full listing once
/// probing has failed [`PROBES_BEFORE_LISTING`] times in a row.
struct Taken {
    ips: HashSet<IpAddr>,
    listed: bool,
}

/// Round robin normally finds a free address at once; after this many taken
/// ones the directory is listed once to skip the rest cheaply.
const PROBES_BEFORE_LISTING: usize = 16;

impl Taken {
    fn list(&mut self, store: &Locked<'_>) -> Result<(), IpamError> {
        if !self.listed {
            self.ips
                .extend(store.reservations()?.into_iter().map(|(ip, _)| ip));
            self.listed = true;
        }
        Ok(())
    }
}

/// An allocation failure, and whether this ADD's reservations were all removed.
type Failure = (IpamError, bool);

/// The allocation proper. `held` is what the attachment already holds: exact
/// matches and legacy (ID-only) files. On success, also returns the exact
/// addresses it still holds (not reclaimed).
#[allow(clippy::too_many_arguments)]
fn allocate_sets(
    store: &Locked<'_>,
    sets: &[RangeSet],
    mut wanted: Vec<Option<IpAddr>>,
    needs_dup: &[usize],
    held: (&[IpAddr], &[IpAddr]),
    container_id: &str,
    ifname: &str,
    boot: &BootInfo,
) -> Result<(Vec<Allocated>, Vec<IpAddr>), Failure> {
    let fail = |e: IpamError| (e, true);
    let (exact, legacy) = held;
    let dup_sets = |ip: &IpAddr| needs_dup.iter().any(|i| sets[*i].contains(*ip));
    let owned: Vec<IpAddr> = exact
        .iter()
        .chain(legacy)
        .copied()
        .filter(dup_sets)
        .collect();
    let mut kept: Vec<IpAddr> = exact.to_vec();
    let mut taken = Taken {
        ips: HashSet::new(),
        listed: false,
    };
    // The same attachment added again after a reboot: its old reservation is
    // released and its address preferred, instead of a duplicate error.
    let mut owned_now = Vec::with_capacity(owned.len());
    for ip in owned {
        if store.reclaim_if_earlier(ip, boot).map_err(fail)? {
            kept.retain(|k| *k != ip);
            if let Some(i) = needs_dup
                .iter()
                .copied()
                .find(|i| sets[*i].is_allocatable(ip))
            {
                wanted[i].get_or_insert(ip);
            }
        } else {
            owned_now.push(ip);
        }
    }

    let ctx = Ctx {
        store,
        container_id,
        ifname,
        boot,
    };
    let mut reclaimed = false;
    let mut done: Vec<Allocated> = Vec::with_capacity(sets.len());
    for (i, set) in sets.iter().enumerate() {
        let mut res = allocate_one(&ctx, i, set, wanted[i], &owned_now, &mut taken);
        if matches!(res, Ok(None)) && !reclaimed {
            // Exhausted: reclaim every reservation of earlier boots, once per ADD.
            reclaimed = true;
            match store.reclaim_earlier_boots(boot) {
                Ok(freed) if !freed.is_empty() => {
                    for ip in &freed {
                        taken.ips.remove(ip);
                    }
                    res = allocate_one(&ctx, i, set, wanted[i], &owned_now, &mut taken);
                }
                Ok(_) => {}
                Err(e) => res = Err(e),
            }
        }
        let res = res.and_then(|a| a.ok_or_else(|| exhausted(set)));
        match res {
            Ok(a) => done.push(a),
            Err(e) => {
                let mut clean = true;
                for a in &done {
                    clean &= store.remove(&a.ip.to_string()).is_ok();
                }
                let e = match e {
                    IpamError::Alloc { msg, details } => IpamError::Alloc {
                        msg: format!("failed to allocate for range {i}: {msg}"),
                        details,
                    },
                    IpamError::Exhausted { msg, details } => IpamError::Exhausted {
                        msg: format!("failed to allocate for range {i}: {msg}"),
                        details,
                    },
                    other => other,
                };
                return Err((e, clean));
            }
        }
    }
    Ok((done, kept))
}

/// What every per-set allocation needs.
struct Ctx<'a, 'b> {
    store: &'a Locked<'b>,
    container_id: &'a str,
    ifname: &'a str,
    boot: &'a BootInfo,
}

impl Ctx<'_, '_> {
    fn reserve(&self, ip: IpAddr) -> Result<bool, IpamError> {
        self.store
            .reserve_stamped(ip, self.container_id, self.ifname, self.boot.id.as_deref())
    }
}

/// The error for an exhausted range set.
fn exhausted(set: &RangeSet) -> IpamError {
    let capacity = set.capacity();
    IpamError::Exhausted {
        msg: format!("no IP addresses available in range set: {set}"),
        details: format!(
            "{capacity} address{}, all reserved",
            if capacity == 1 { "" } else { "es" }
        ),
    }
}

/// One address from `set`; `Ok(None)` when the set is exhausted.
fn allocate_one(
    ctx: &Ctx<'_, '_>,
    idx: usize,
    set: &RangeSet,
    wanted: Option<IpAddr>,
    owned: &[IpAddr],
    taken: &mut Taken,
) -> Result<Option<Allocated>, IpamError> {
    let store = ctx.store;
    if let Some(ip) = wanted {
        let Some(r) = set.range_for(ip) else {
            return Err(IpamError::alloc(format!("{ip} not in range set {set}")));
        };
        if ip == r.gateway {
            return Err(IpamError::alloc(format!(
                "requested ip {ip} is subnet's gateway"
            )));
        }
        if r.is_reserved(ip) {
            return Err(IpamError::alloc(format!(
                "requested ip {ip} is the network or broadcast address of {}",
                r.subnet
            )));
        }
        // Taken (maybe by an earlier boot, then reclaimed and tried again)?
        let reserved =
            ctx.reserve(ip)? || (store.reclaim_if_earlier(ip, ctx.boot)? && ctx.reserve(ip)?);
        if !reserved {
            return Err(IpamError::alloc(format!(
                "requested IP address {ip} is not available in range set {set}"
            )));
        }
        store.set_last_reserved(idx, ip)?;
        taken.ips.insert(ip);
        return Ok(Some(Allocated {
            set: idx,
            ip,
            prefix_len: r.subnet.prefix_len(),
            gateway: r.gateway,
        }));
    }

    if let Some(ip) = owned.iter().find(|ip| set.contains(**ip)) {
        return Err(IpamError::alloc(format!(
            "{ip} has been allocated to {}, duplicate allocation is not allowed",
            ctx.container_id
        )));
    }

    let capacity = set.capacity();
    let used = |taken: &Taken| {
        taken
            .ips
            .iter()
            .filter(|ip| set.is_allocatable(**ip))
            .count() as u128
    };
    if taken.listed && used(taken) >= capacity {
        return Ok(None);
    }
    let mut misses = 0;
    for (ri, ip) in set.iter_from(store.last_reserved(idx)) {
        if taken.ips.contains(&ip) {
            continue;
        }
        if ctx.reserve(ip)? {
            store.set_last_reserved(idx, ip)?;
            taken.ips.insert(ip);
            let r = &set.0[ri];
            return Ok(Some(Allocated {
                set: idx,
                ip,
                prefix_len: r.subnet.prefix_len(),
                gateway: r.gateway,
            }));
        }
        taken.ips.insert(ip);
        misses += 1;
        if misses == PROBES_BEFORE_LISTING && !taken.listed {
            taken.list(store)?;
            if used(taken) >= capacity {
                break;
            }
        }
    }
    Ok(None)
}
