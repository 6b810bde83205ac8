//! Allocation under the store lock: one address per range set, requested
//! addresses first, round-robin otherwise (reference `IPAllocator.Get`), with a
//! single directory scan for the whole ADD and rollback of this ADD's reservations.
//! New reservations are stamped with the boot ID; reservations of earlier boots
//! are reclaimed only when needed (see docs/ipam-reboots.md).

use std::collections::HashSet;
use std::net::IpAddr;

use cni_protocol::IpConfig;
use ipnet::IpNet;

use crate::boot::BootInfo;
use crate::error::IpamError;
use crate::range::RangeSet;
use crate::store::Locked;

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
    /// The result entry: `address` = ip/prefix of the subnet, `gateway`, no interface.
    pub fn to_ip_config(&self) -> IpConfig {
        IpConfig {
            // The prefix comes from a validated subnet of the same family.
            address: IpNet::new(self.ip, self.prefix_len).unwrap_or_else(|_| IpNet::from(self.ip)),
            gateway: Some(self.gateway),
            interface: None,
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

    let entries = store.reservations()?;
    let mut taken: HashSet<IpAddr> = entries.iter().map(|(ip, _)| *ip).collect();

    // Duplicate check (sets without a requested address), one read pass.
    let needs_dup: Vec<usize> = (0..sets.len()).filter(|i| wanted[*i].is_none()).collect();
    let owned = if needs_dup.is_empty() {
        Vec::new()
    } else {
        let m = store.find(container_id, ifname, |ip| {
            needs_dup.iter().any(|i| sets[*i].contains(ip))
        })?;
        m.exact
            .into_iter()
            .chain(m.legacy)
            .map(|(ip, _)| ip)
            .collect()
    };
    // The same attachment added again after a reboot: its old reservation is
    // released and its address preferred, instead of a duplicate error.
    let mut owned_now = Vec::with_capacity(owned.len());
    for ip in owned {
        if store.reclaim_if_earlier(ip, boot)? {
            taken.remove(&ip);
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
                        taken.remove(ip);
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
                for a in &done {
                    let _ = store.remove(&a.ip.to_string());
                }
                return Err(match e {
                    IpamError::Alloc { msg, details } => IpamError::Alloc {
                        msg: format!("failed to allocate for range {i}: {msg}"),
                        details,
                    },
                    other => other,
                });
            }
        }
    }
    Ok(done)
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
    IpamError::Alloc {
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
    taken: &mut HashSet<IpAddr>,
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
        if taken.contains(&ip) && store.reclaim_if_earlier(ip, ctx.boot)? {
            taken.remove(&ip);
        }
        if taken.contains(&ip) || !ctx.reserve(ip)? {
            return Err(IpamError::alloc(format!(
                "requested IP address {ip} is not available in range set {set}"
            )));
        }
        store.set_last_reserved(idx, ip)?;
        taken.insert(ip);
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
    let used = taken.iter().filter(|ip| set.is_allocatable(**ip)).count() as u128;
    if used < capacity {
        for (ri, ip) in set.iter_from(store.last_reserved(idx)) {
            if taken.contains(&ip) {
                continue;
            }
            if ctx.reserve(ip)? {
                store.set_last_reserved(idx, ip)?;
                taken.insert(ip);
                let r = &set.0[ri];
                return Ok(Some(Allocated {
                    set: idx,
                    ip,
                    prefix_len: r.subnet.prefix_len(),
                    gateway: r.gateway,
                }));
            }
            taken.insert(ip);
        }
    }
    Ok(None)
}
