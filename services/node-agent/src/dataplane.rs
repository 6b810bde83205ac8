//! The kernel state the agent keeps for one network, as a narrow trait
//! ([`Dataplane`]; the Linux implementation is in `linux.rs`, a fake in the
//! tests), and the pure part: what the state should be given the other
//! hosts' records ([`desired`]) and the steps from what is to what should be
//! ([`plan`]). Per remote host: one route per block via its underlay address
//! (on-link, through the VXLAN device), one permanent neighbour (underlay
//! address -> its VTEP MAC) and one FDB entry (VTEP MAC -> underlay address).
//! IPv6 blocks over an IPv4 underlay: the kernel refuses an IPv6 route with
//! an IPv4 next hop (RTA_VIA: "IPv6 does not support RTA_VIA attribute"),
//! so their routes go via the IPv4-mapped address `::ffff:<underlay>`
//! (accepted as an on-link IPv6 gateway), with a second permanent
//! neighbour for that address and the same VTEP MAC
//! (docs/adr/0018-etcd-failover.md, "IPv6 across hosts").

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use ipnet::IpNet;

use crate::record::{parse_mac, HostRecord};

/// One network's devices on this host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalNet {
    pub name: String,
    /// The network's subnets (IPv4, and IPv6 for dual stack).
    pub subnets: Vec<IpNet>,
    pub vni: u32,
    pub bridge: String,
    pub vxlan: String,
    pub mtu: u32,
    pub underlay_ip: IpAddr,
    pub underlay_index: u32,
}

/// Routes, neighbours and FDB entries through one VXLAN device.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Programmed {
    /// Block -> next hop (the remote host's underlay address, or its
    /// IPv4-mapped IPv6 form for IPv6 blocks over an IPv4 underlay).
    pub routes: BTreeMap<IpNet, IpAddr>,
    /// Next hop -> VTEP MAC.
    pub neighs: BTreeMap<IpAddr, [u8; 6]>,
    /// (VTEP MAC, underlay address).
    pub fdb: BTreeSet<([u8; 6], IpAddr)>,
}

/// One change to the kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    SetFdb([u8; 6], IpAddr),
    SetNeigh(IpAddr, [u8; 6]),
    SetRoute(IpNet, IpAddr),
    DelRoute(IpNet, IpAddr),
    DelNeigh(IpAddr),
    DelFdb([u8; 6], IpAddr),
}

/// A kernel failure, naming the object.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DpError(pub String);

/// What the agent needs from the kernel for one network.
pub trait Dataplane {
    /// Create (or adopt) the bridge and the VXLAN device attached to it;
    /// returns the VTEP MAC.
    fn ensure_local(&mut self, net: &LocalNet) -> Result<[u8; 6], DpError>;
    /// Gateway addresses of exactly `blocks` on the bridge (others of the
    /// network's subnet are removed).
    fn ensure_gateways(&mut self, net: &LocalNet, blocks: &[IpNet]) -> Result<(), DpError>;
    /// What the VXLAN device carries now.
    fn programmed(&mut self, net: &LocalNet) -> Result<Programmed, DpError>;
    /// Apply one change.
    fn apply(&mut self, net: &LocalNet, op: &Op) -> Result<(), DpError>;
}

/// What the kernel of one network should hold, as the agent last decided:
/// shared with the kernel monitor, which heals from it without waiting on
/// the agent's loop (that may be in an etcd call).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub local: LocalNet,
    /// The VTEP MAC the host record carries (None: not set up yet).
    pub mac: Option<[u8; 6]>,
    /// The held blocks (their gateways go on the bridge).
    pub blocks: Vec<IpNet>,
    /// Routes, neighbours and FDB entries (None: the records were never read).
    pub want: Option<Programmed>,
}

/// The targets of every network, in the agent's order.
#[derive(Debug, Clone, Default)]
pub struct Targets(std::sync::Arc<std::sync::Mutex<Vec<Target>>>);

impl Targets {
    pub fn new(t: Vec<Target>) -> Targets {
        Targets(std::sync::Arc::new(std::sync::Mutex::new(t)))
    }

    /// Changes network `i`'s target.
    pub fn update(&self, i: usize, f: impl FnOnce(&mut Target)) {
        let mut g = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(t) = g.get_mut(i) {
            f(t);
        }
    }

    /// Network `i`'s target.
    pub fn get(&self, i: usize) -> Option<Target> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(i)
            .cloned()
    }
}

/// Restores network `t`'s kernel state after a change behind the agent's
/// back: devices (re-created, attached, up), gateways, then routes,
/// neighbours and FDB entries. Returns the VTEP MAC now (a re-created
/// device has a new one) and how many route/neighbour/FDB changes were made.
pub fn heal<D: Dataplane>(dp: &mut D, t: &Target) -> Result<([u8; 6], usize), DpError> {
    let mac = dp.ensure_local(&t.local)?;
    dp.ensure_gateways(&t.local, &t.blocks)?;
    let changes = match &t.want {
        Some(w) => reconcile(dp, &t.local, w)?,
        None => 0,
    };
    Ok((mac, changes))
}

/// What `net`'s VXLAN device should carry given the live hosts' records
/// (this host's own record and records without the network are skipped;
/// blocks outside the network's subnet are ignored).
pub fn desired(net: &LocalNet, me: &str, records: &[HostRecord]) -> Programmed {
    let mut p = Programmed::default();
    for r in records {
        if r.host == me || r.underlay == net.underlay_ip {
            continue;
        }
        let Some(n) = r.networks.get(&net.name) else {
            continue;
        };
        let Some(mac) = parse_mac(&n.vtep_mac) else {
            continue;
        };
        p.neighs.insert(r.underlay, mac);
        p.fdb.insert((mac, r.underlay));
        for b in &n.blocks {
            if !net.subnets.iter().any(|s| s.contains(b)) {
                continue;
            }
            let Some(hop) = next_hop(b, r.underlay) else {
                continue;
            };
            if hop != r.underlay {
                p.neighs.insert(hop, mac);
            }
            p.routes.insert(*b, hop);
        }
    }
    p
}

/// The gateway of a route to `block` through the VXLAN device towards the
/// host at `underlay`: the underlay address itself when the families
/// match; for an IPv6 block over an IPv4 underlay, its IPv4-mapped form;
/// None for an IPv4 block over an IPv6 underlay (not supported).
pub fn next_hop(block: &IpNet, underlay: IpAddr) -> Option<IpAddr> {
    match (block, underlay) {
        (IpNet::V4(_), IpAddr::V4(_)) | (IpNet::V6(_), IpAddr::V6(_)) => Some(underlay),
        (IpNet::V6(_), IpAddr::V4(a)) => Some(IpAddr::V6(a.to_ipv6_mapped())),
        (IpNet::V4(_), IpAddr::V6(_)) => None,
    }
}

/// The changes that turn `actual` into `want`: additions first (FDB, then
/// neighbours, then routes, so a route never points at an unresolved hop),
/// then removals in the reverse order.
pub fn plan(want: &Programmed, actual: &Programmed) -> Vec<Op> {
    let mut ops = Vec::new();
    for f in &want.fdb {
        if !actual.fdb.contains(f) {
            ops.push(Op::SetFdb(f.0, f.1));
        }
    }
    for (ip, mac) in &want.neighs {
        if actual.neighs.get(ip) != Some(mac) {
            ops.push(Op::SetNeigh(*ip, *mac));
        }
    }
    for (dst, gw) in &want.routes {
        if actual.routes.get(dst) != Some(gw) {
            ops.push(Op::SetRoute(*dst, *gw));
        }
    }
    for (dst, gw) in &actual.routes {
        if !want.routes.contains_key(dst) {
            ops.push(Op::DelRoute(*dst, *gw));
        }
    }
    for ip in actual.neighs.keys() {
        if !want.neighs.contains_key(ip) {
            ops.push(Op::DelNeigh(*ip));
        }
    }
    for f in &actual.fdb {
        if !want.fdb.contains(f) {
            ops.push(Op::DelFdb(f.0, f.1));
        }
    }
    ops
}

/// Brings `net`'s VXLAN device to `want`; returns how many changes were
/// made. Every change is tried; the first error is returned after all.
pub fn reconcile<D: Dataplane>(
    dp: &mut D,
    net: &LocalNet,
    want: &Programmed,
) -> Result<usize, DpError> {
    let actual = dp.programmed(net)?;
    let ops = plan(want, &actual);
    let mut first_err = None;
    for op in &ops {
        if let Err(e) = dp.apply(net, op) {
            first_err.get_or_insert(e);
        }
    }
    match first_err {
        Some(e) => Err(e),
        None => Ok(ops.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{format_mac, HostNetwork};

    use crate::fake::FakeDp;

    fn net() -> LocalNet {
        LocalNet {
            name: "ov1".into(),
            subnets: vec![
                "10.214.0.0/16".parse().unwrap(),
                "fd00:214::/48".parse().unwrap(),
            ],
            vni: 42,
            bridge: "cnmb42".into(),
            vxlan: "cnmx42".into(),
            mtu: 1450,
            underlay_ip: "10.213.0.11".parse().unwrap(),
            underlay_index: 2,
        }
    }

    fn rec(host: &str, ip: &str, mac: u8, blocks: &[&str]) -> HostRecord {
        HostRecord {
            host: host.into(),
            underlay: ip.parse().unwrap(),
            networks: [(
                "ov1".to_string(),
                HostNetwork {
                    vtep_mac: format_mac(&[2, 0, 0, 0, 0, mac]),
                    blocks: blocks.iter().map(|b| b.parse().unwrap()).collect(),
                },
            )]
            .into_iter()
            .collect(),
        }
    }

    #[test]
    fn one_neighbour_and_fdb_entry_per_host_and_a_route_per_block() {
        let records = vec![
            rec("h1", "10.213.0.11", 1, &["10.214.0.0/26"]),
            rec(
                "h2",
                "10.213.0.12",
                2,
                &["10.214.0.64/26", "10.214.0.128/26"],
            ),
            rec("h3", "10.213.0.13", 3, &["10.214.0.192/26", "10.99.0.0/26"]),
        ];
        let want = desired(&net(), "h1", &records);
        assert_eq!(want.neighs.len(), 2);
        assert_eq!(want.fdb.len(), 2);
        assert_eq!(
            want.routes.len(),
            3,
            "own blocks and foreign subnets skipped"
        );
        assert_eq!(
            want.routes[&"10.214.0.128/26".parse().unwrap()],
            "10.213.0.12".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn ipv6_blocks_over_an_ipv4_underlay_go_via_the_mapped_address() {
        let records = vec![rec(
            "h2",
            "10.213.0.12",
            2,
            &["10.214.0.64/26", "fd00:214:0:1::/64", "fd00:999::/64"],
        )];
        let want = desired(&net(), "h1", &records);
        let mapped: IpAddr = "::ffff:10.213.0.12".parse().unwrap();
        assert_eq!(want.routes[&"fd00:214:0:1::/64".parse().unwrap()], mapped);
        assert_eq!(want.routes.len(), 2, "the foreign IPv6 block is skipped");
        assert_eq!(want.neighs[&mapped], [2, 0, 0, 0, 0, 2]);
        assert_eq!(want.neighs.len(), 2);
        assert_eq!(want.fdb.len(), 1, "one FDB entry per host");
        assert_eq!(
            next_hop(&"10.0.0.0/24".parse().unwrap(), "fd00::1".parse().unwrap()),
            None
        );
    }

    #[test]
    fn reconcile_adds_missing_removes_stale_and_is_idempotent() {
        let mut dp = FakeDp::new(1);
        let n = net();
        let all = vec![
            rec("h2", "10.213.0.12", 2, &["10.214.0.64/26"]),
            rec("h3", "10.213.0.13", 3, &["10.214.0.192/26"]),
        ];
        assert_eq!(reconcile(&mut dp, &n, &desired(&n, "h1", &all)).unwrap(), 6);
        assert_eq!(reconcile(&mut dp, &n, &desired(&n, "h1", &all)).unwrap(), 0);
        // h3 gone, h2 got a new VTEP MAC and another block.
        let now = vec![rec(
            "h2",
            "10.213.0.12",
            9,
            &["10.214.0.64/26", "10.214.1.0/26"],
        )];
        let want = desired(&n, "h1", &now);
        let ops = plan(&want, &dp.state().programmed);
        assert!(ops.contains(&Op::DelRoute(
            "10.214.0.192/26".parse().unwrap(),
            "10.213.0.13".parse().unwrap()
        )));
        assert!(ops.contains(&Op::DelFdb(
            [2, 0, 0, 0, 0, 2],
            "10.213.0.12".parse().unwrap()
        )));
        // Additions come before removals.
        let first_del = ops
            .iter()
            .position(|o| matches!(o, Op::DelRoute(..) | Op::DelNeigh(_) | Op::DelFdb(..)));
        let last_set = ops
            .iter()
            .rposition(|o| matches!(o, Op::SetRoute(..) | Op::SetNeigh(..) | Op::SetFdb(..)));
        assert!(last_set < first_del, "{ops:?}");
        reconcile(&mut dp, &n, &want).unwrap();
        assert_eq!(dp.state().programmed, want);
        // Nothing left after every host is gone.
        reconcile(&mut dp, &n, &desired(&n, "h1", &[])).unwrap();
        assert_eq!(dp.state().programmed, Programmed::default());
    }
}
