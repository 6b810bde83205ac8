//! [`Dataplane`] over netlink in the agent's own network namespace: the
//! bridge, the VXLAN device attached to it (learning off, UDP 4789), the
//! block gateways on the bridge, and the routes, neighbours and FDB
//! entries through the VXLAN device; and the kernel monitor, which tells
//! the agent when something of its networks changed behind its back.

use std::net::IpAddr;

use cnm_cluster_ipam::plan::gateway_of;
use std::collections::BTreeMap;
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

use cnm_netlink::{
    Group, Handle, IpFamily, Monitor, NetlinkError, Notification, RouteSpec, VxlanSpec, TABLE_MAIN,
};
use ipnet::IpNet;

use crate::cluster::Event;
use crate::dataplane::{heal, Dataplane, DpError, LocalNet, Op, Programmed, Targets};
use crate::{info, warn};

/// Kernel notifications arriving within this window are healed together.
const COALESCE: Duration = Duration::from_millis(15);

/// The IANA VXLAN port.
pub const VXLAN_PORT: u16 = 4789;

/// The kernel of the namespace the agent runs in.
pub struct LinuxDataplane {
    h: Handle,
}

fn e(err: NetlinkError) -> DpError {
    DpError(err.to_string())
}

fn sysctl(path: &str, value: &str) -> Result<(), DpError> {
    let p = format!("/proc/sys/{path}");
    match std::fs::read_to_string(&p) {
        Ok(v) if v.trim() == value => return Ok(()),
        _ => {}
    }
    std::fs::write(&p, value).map_err(|err| DpError(format!("writing {p}: {err}")))
}

/// The bridge's MAC: locally administered, `02:<vni low byte>:<the last
/// four bytes of the underlay address>`.
pub fn bridge_mac(net: &LocalNet) -> [u8; 6] {
    let ip = match net.underlay_ip {
        IpAddr::V4(a) => a.octets(),
        IpAddr::V6(a) => {
            let o = a.octets();
            [o[12], o[13], o[14], o[15]]
        }
    };
    [0x02, (net.vni & 0xff) as u8, ip[0], ip[1], ip[2], ip[3]]
}

impl LinuxDataplane {
    pub fn new() -> Result<Self, DpError> {
        Ok(LinuxDataplane {
            h: Handle::new().map_err(e)?,
        })
    }

    /// The link holding `ip` and its MTU.
    pub fn underlay(&mut self, ip: IpAddr) -> Result<(u32, u32), DpError> {
        for l in self.h.links().map_err(e)? {
            if self
                .h
                .addrs(l.index)
                .map_err(e)?
                .iter()
                .any(|a| a.addr.addr() == ip)
            {
                return Ok((l.index, l.mtu));
            }
        }
        Err(DpError(format!(
            "no link in this network namespace holds the underlay address {ip}"
        )))
    }

    fn index(&mut self, name: &str) -> Result<u32, DpError> {
        self.h
            .link_by_name(name)
            .map_err(e)?
            .map(|l| l.index)
            .ok_or_else(|| DpError(format!("link {name:?} is missing")))
    }
}

impl Dataplane for LinuxDataplane {
    fn ensure_local(&mut self, net: &LocalNet) -> Result<[u8; 6], DpError> {
        // A fixed bridge MAC: a bridge without one takes the lowest MAC of
        // its ports, so every container joining with a lower one would
        // change the gateway's MAC under the other containers' ARP caches
        // (a lost packet each); fixed and derived from the underlay address
        // and VNI, it also survives the bridge being re-created.
        let br_mac = bridge_mac(net);
        self.h
            .create_bridge(&net.bridge, Some(net.mtu), false, Some(br_mac))
            .map_err(e)?;
        let br = self
            .h
            .link_by_name(&net.bridge)
            .map_err(e)?
            .ok_or_else(|| DpError(format!("bridge {:?} vanished", net.bridge)))?;
        if br.kind.as_deref() != Some("bridge") {
            return Err(DpError(format!(
                "link {:?} exists and is not a bridge ({:?})",
                net.bridge, br.kind
            )));
        }
        self.h
            .create_vxlan(&VxlanSpec {
                name: &net.vxlan,
                vni: net.vni,
                local: net.underlay_ip,
                underlay: net.underlay_index,
                port: VXLAN_PORT,
                mtu: Some(net.mtu),
            })
            .map_err(e)?;
        let vx = self
            .h
            .link_by_name(&net.vxlan)
            .map_err(e)?
            .ok_or_else(|| DpError(format!("vxlan {:?} vanished", net.vxlan)))?;
        if vx.kind.as_deref() != Some("vxlan") {
            return Err(DpError(format!(
                "link {:?} exists and is not a vxlan device ({:?})",
                net.vxlan, vx.kind
            )));
        }
        if vx.mtu != net.mtu {
            self.h.set_mtu(vx.index, net.mtu).map_err(e)?;
        }
        if br.mtu != net.mtu {
            self.h.set_mtu(br.index, net.mtu).map_err(e)?;
        }
        if br.mac != Some(br_mac) {
            self.h.set_mac(br.index, br_mac).map_err(e)?;
        }
        if vx.master != Some(br.index) {
            self.h.set_master(vx.index, br.index).map_err(e)?;
        }
        self.h.set_up(vx.index).map_err(e)?;
        self.h.set_up(br.index).map_err(e)?;
        // Traffic from other hosts arrives on the bridge (through the VXLAN
        // port) while the route back leaves through the VXLAN device: strict
        // reverse-path filtering would drop it.
        sysctl(&format!("net/ipv4/conf/{}/rp_filter", net.bridge), "2")?;
        sysctl("net/ipv4/ip_forward", "1")?;
        if net.subnets.iter().any(|s| matches!(s, IpNet::V6(_))) {
            // IPv6 may be off by default on new links (a host setting):
            // the bridge holds the IPv6 gateways, the VXLAN device carries
            // the IPv6 routes.
            for dev in [&net.bridge, &net.vxlan] {
                sysctl(&format!("net/ipv6/conf/{dev}/disable_ipv6"), "0")?;
                sysctl(&format!("net/ipv6/conf/{dev}/accept_dad"), "0")?;
            }
            sysctl("net/ipv6/conf/all/forwarding", "1")?;
        }
        vx.mac
            .ok_or_else(|| DpError(format!("vxlan {:?} has no MAC", net.vxlan)))
    }

    fn ensure_gateways(&mut self, net: &LocalNet, blocks: &[IpNet]) -> Result<(), DpError> {
        let br = self.index(&net.bridge)?;
        let want: Vec<IpNet> = blocks
            .iter()
            .filter_map(|b| IpNet::new(gateway_of(b), b.prefix_len()).ok())
            .collect();
        for a in self.h.addrs(br).map_err(e)? {
            let ours = net.subnets.iter().any(|s| s.contains(&a.addr.addr()));
            if ours && !want.contains(&a.addr) {
                self.h.del_addr(br, a.addr).map_err(e)?;
            }
        }
        for g in want {
            self.h.add_addr(br, g, true).map_err(e)?;
        }
        Ok(())
    }

    fn programmed(&mut self, net: &LocalNet) -> Result<Programmed, DpError> {
        let vx = self.index(&net.vxlan)?;
        let mut p = Programmed::default();
        for fam in [IpFamily::V4, IpFamily::V6] {
            for r in self.h.routes(fam, Some(TABLE_MAIN)).map_err(e)? {
                if r.oif == Some(vx) {
                    if let Some(gw) = r.gw {
                        p.routes.insert(r.dst, gw);
                    }
                }
            }
        }
        for n in self.h.neighs(vx).map_err(e)? {
            if n.permanent {
                p.neighs.insert(n.ip, n.mac);
            }
        }
        for f in self.h.fdb(vx).map_err(e)? {
            p.fdb.insert((f.mac, f.ip));
        }
        Ok(p)
    }

    fn apply(&mut self, net: &LocalNet, op: &Op) -> Result<(), DpError> {
        let vx = self.index(&net.vxlan)?;
        match *op {
            Op::SetFdb(mac, ip) => self.h.set_fdb(vx, mac, ip).map_err(e),
            Op::SetNeigh(ip, mac) => self.h.set_neigh(vx, ip, mac).map_err(e),
            Op::SetRoute(dst, gw) => {
                let mut r = RouteSpec::new(dst);
                r.gw = Some(gw);
                r.oif = Some(vx);
                self.h.replace_route_onlink(&r).map_err(e)
            }
            Op::DelRoute(dst, gw) => {
                let mut r = RouteSpec::new(dst);
                r.gw = Some(gw);
                r.oif = Some(vx);
                self.h.del_route(&r).map(|_| ()).map_err(e)
            }
            Op::DelNeigh(ip) => self.h.del_neigh(vx, ip).map(|_| ()).map_err(e),
            Op::DelFdb(mac, ip) => self.h.del_fdb(vx, mac, ip).map(|_| ()).map_err(e),
        }
    }
}

/// The devices of the watched networks by index: (network, is the VXLAN device).
type Devices = BTreeMap<u32, (usize, bool)>;

/// Which network a notification is about (Some(None): all of them, the
/// kernel dropped notifications). Links count by name or index; routes
/// through either device; addresses on them; neighbour and FDB entries
/// only on the VXLAN device (the bridge learns container neighbours all
/// the time).
fn concerns(
    n: &Notification,
    names: &[(String, String, String)],
    devs: &Devices,
) -> Option<Option<usize>> {
    match n {
        Notification::Overrun => Some(None),
        Notification::Link { index, name, .. } => name
            .as_deref()
            .and_then(|nm| names.iter().position(|(_, br, vx)| br == nm || vx == nm))
            .or_else(|| devs.get(index).map(|d| d.0))
            .map(Some),
        Notification::Route { oif: Some(o), .. } => devs.get(o).map(|d| Some(d.0)),
        Notification::Addr { index, .. } => devs.get(index).map(|d| Some(d.0)),
        Notification::Neigh { index, .. } => devs.get(index).filter(|d| d.1).map(|d| Some(d.0)),
        _ => None,
    }
}

fn devices(h: &mut Handle, names: &[(String, String, String)]) -> Devices {
    let mut devs = Devices::new();
    for (i, (_, br, vx)) in names.iter().enumerate() {
        for (dev, is_vx) in [(br, false), (vx, true)] {
            if let Ok(Some(l)) = h.link_by_name(dev) {
                devs.insert(l.index, (i, is_vx));
            }
        }
    }
    devs
}

/// Starts a thread that watches the kernel of this namespace and heals the
/// networks (network name, bridge, VXLAN device) whose devices, gateways,
/// routes, neighbours or FDB entries changed, from `targets` (what the
/// agent last decided), with a netlink socket of its own: a heal never
/// waits for the agent's loop, which may be in an etcd call. The loop is
/// told ([`Event::Kernel`]) when a device came back with another MAC (to
/// publish it) or a heal failed (to retry).
pub fn spawn_monitor(
    nets: Vec<(String, String, String)>,
    targets: Targets,
    tx: Sender<Event>,
) -> Result<(), DpError> {
    let mut mon = Monitor::new(&[
        Group::Link,
        Group::Neigh,
        Group::Ipv4Addr,
        Group::Ipv4Route,
        Group::Ipv6Addr,
        Group::Ipv6Route,
    ])
    .map_err(e)?;
    let mut h = Handle::new().map_err(e)?;
    let mut dp = LinuxDataplane::new()?;
    std::thread::Builder::new()
        .name("kernel-monitor".into())
        .spawn(move || {
            let mut devs = devices(&mut h, &nets);
            loop {
                let mut hit: Vec<Option<usize>> = Vec::new();
                let mut wait: Option<Duration> = None;
                let mut until = None;
                // The first notification, then whatever follows within the
                // coalescing window (a deletion comes as several).
                loop {
                    let batch = match mon.recv(wait) {
                        Ok(b) => b,
                        Err(err) => {
                            warn!("kernel monitor: {err}; stopped (the periodic check remains)");
                            return;
                        }
                    };
                    for n in &batch {
                        if matches!(n, Notification::Link { .. }) {
                            devs = devices(&mut h, &nets);
                        }
                        if let Some(r) = concerns(n, &nets, &devs) {
                            if !hit.contains(&r) {
                                hit.push(r);
                            }
                        }
                    }
                    if hit.is_empty() {
                        continue;
                    }
                    let end = *until.get_or_insert_with(|| Instant::now() + COALESCE);
                    let left = end.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        break;
                    }
                    wait = Some(left);
                }
                let all: Vec<usize> = if hit.contains(&None) {
                    (0..nets.len()).collect()
                } else {
                    hit.iter().flatten().copied().collect()
                };
                for i in all {
                    let Some(t) = targets.get(i) else { continue };
                    let Some(known) = t.mac else { continue };
                    let name = t.local.name.clone();
                    let tell = match heal(&mut dp, &t) {
                        Ok((mac, changes)) => {
                            if changes > 0 {
                                let (hosts, routes) = t
                                    .want
                                    .as_ref()
                                    .map_or((0, 0), |w| (w.fdb.len(), w.routes.len()));
                                info!(
                                    "network {name:?}: {changes} kernel change(s); {hosts} remote host(s), {routes} route(s) (restored)"
                                );
                            }
                            mac != known
                        }
                        Err(err) => {
                            warn!("network {name:?}: healing: {err}");
                            true
                        }
                    };
                    if tell && tx.send(Event::Kernel(Some(name))).is_err() {
                        return;
                    }
                }
            }
        })
        .map_err(|err| DpError(format!("starting the kernel monitor: {err}")))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use cnm_netlink::Change;

    #[test]
    fn notifications_are_matched_to_their_network() {
        let names = vec![
            ("a".to_string(), "cnmb1".to_string(), "cnmx1".to_string()),
            ("b".to_string(), "cnmb2".to_string(), "cnmx2".to_string()),
        ];
        // index 10/11: network a's bridge/vxlan; 20/21: network b's.
        let devs: Devices = [
            (10, (0, false)),
            (11, (0, true)),
            (20, (1, false)),
            (21, (1, true)),
        ]
        .into_iter()
        .collect();
        let link = |index, name: &str| Notification::Link {
            change: Change::Del,
            index,
            name: Some(name.into()),
            mac: None,
            master: None,
            up: false,
        };
        // A deleted device is known by its name (its index is gone).
        assert_eq!(concerns(&link(99, "cnmx2"), &names, &devs), Some(Some(1)));
        assert_eq!(concerns(&link(5, "eth0"), &names, &devs), None);
        let route = |oif| Notification::Route {
            change: Change::Del,
            dst: None,
            table: 254,
            oif: Some(oif),
        };
        assert_eq!(concerns(&route(11), &names, &devs), Some(Some(0)));
        assert_eq!(concerns(&route(3), &names, &devs), None);
        let neigh = |index, fdb| Notification::Neigh {
            change: Change::Del,
            index,
            fdb,
            ip: None,
            mac: None,
        };
        assert_eq!(concerns(&neigh(21, true), &names, &devs), Some(Some(1)));
        assert_eq!(
            concerns(&neigh(20, false), &names, &devs),
            None,
            "the bridge's neighbours come and go with the containers"
        );
        let addr = Notification::Addr {
            change: Change::Del,
            index: 10,
            addr: None,
        };
        assert_eq!(concerns(&addr, &names, &devs), Some(Some(0)));
        assert_eq!(concerns(&Notification::Overrun, &names, &devs), Some(None));
    }

    #[test]
    fn the_bridge_mac_is_local_and_derived_from_vni_and_underlay() {
        let net = LocalNet {
            name: "ov1".into(),
            subnets: vec!["10.214.0.0/16".parse().unwrap()],
            vni: 4214,
            bridge: "cnmb4214".into(),
            vxlan: "cnmx4214".into(),
            mtu: 1450,
            underlay_ip: "10.213.0.12".parse().unwrap(),
            underlay_index: 2,
        };
        assert_eq!(
            bridge_mac(&net),
            [0x02, (4214 & 0xff) as u8, 10, 213, 0, 12]
        );
    }
}
