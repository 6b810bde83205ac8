//! Allocation under the store lock: one address per range set, requested
//! addresses first, round-robin otherwise (reference `IPAllocator.Get`), with a
//! single directory scan for the whole ADD and rollback of this ADD's reservations.

use std::collections::HashSet;
use std::net::IpAddr;

use cni_protocol::IpConfig;
use ipnet::IpNet;

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

/// Allocates one address per set for `(container_id, ifname)`. On any error the
/// reservations made by this call are removed again.
pub fn allocate(
    store: &Locked<'_>,
    sets: &[RangeSet],
    requested: &[IpAddr],
    container_id: &str,
    ifname: &str,
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

    let mut done: Vec<Allocated> = Vec::with_capacity(sets.len());
    for (i, set) in sets.iter().enumerate() {
        match allocate_one(
            store,
            i,
            set,
            wanted[i],
            &owned,
            &mut taken,
            container_id,
            ifname,
        ) {
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

#[allow(clippy::too_many_arguments)]
fn allocate_one(
    store: &Locked<'_>,
    idx: usize,
    set: &RangeSet,
    wanted: Option<IpAddr>,
    owned: &[IpAddr],
    taken: &mut HashSet<IpAddr>,
    container_id: &str,
    ifname: &str,
) -> Result<Allocated, IpamError> {
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
        if taken.contains(&ip) || !store.reserve(ip, container_id, ifname)? {
            return Err(IpamError::alloc(format!(
                "requested IP address {ip} is not available in range set {set}"
            )));
        }
        store.set_last_reserved(idx, ip)?;
        taken.insert(ip);
        return Ok(Allocated {
            set: idx,
            ip,
            prefix_len: r.subnet.prefix_len(),
            gateway: r.gateway,
        });
    }

    if let Some(ip) = owned.iter().find(|ip| set.contains(**ip)) {
        return Err(IpamError::alloc(format!(
            "{ip} has been allocated to {container_id}, duplicate allocation is not allowed"
        )));
    }

    let capacity = set.capacity();
    let used = taken.iter().filter(|ip| set.is_allocatable(**ip)).count() as u128;
    if used < capacity {
        for (ri, ip) in set.iter_from(store.last_reserved(idx)) {
            if taken.contains(&ip) {
                continue;
            }
            if store.reserve(ip, container_id, ifname)? {
                store.set_last_reserved(idx, ip)?;
                taken.insert(ip);
                let r = &set.0[ri];
                return Ok(Allocated {
                    set: idx,
                    ip,
                    prefix_len: r.subnet.prefix_len(),
                    gateway: r.gateway,
                });
            }
            taken.insert(ip);
        }
    }
    Err(IpamError::Alloc {
        msg: format!("no IP addresses available in range set: {set}"),
        details: format!(
            "{capacity} address{}, all reserved",
            if capacity == 1 { "" } else { "es" }
        ),
    })
}
