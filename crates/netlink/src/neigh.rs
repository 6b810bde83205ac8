//! Permanent neighbour entries (IP -> MAC on a link) and VXLAN FDB entries
//! (MAC -> remote underlay address on a VXLAN device): add, delete, list.

use std::net::IpAddr;

use netlink_packet_core::{NLM_F_CREATE, NLM_F_REPLACE};
use netlink_packet_route::neighbour::{
    NeighbourAddress, NeighbourAttribute, NeighbourFlags, NeighbourMessage, NeighbourState,
};
use netlink_packet_route::route::RouteType;
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};

use crate::error::NetlinkError;
use crate::handle::{Ctx, Handle};

/// One neighbour or FDB entry: `ip` is the neighbour's address (neighbour
/// table) or the remote VTEP's underlay address (FDB's NDA_DST).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NeighEntry {
    pub ip: IpAddr,
    pub mac: [u8; 6],
    /// NUD_PERMANENT
    pub permanent: bool,
}

fn mac_str(m: &[u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn addr(ip: IpAddr) -> NeighbourAddress {
    match ip {
        IpAddr::V4(a) => NeighbourAddress::Inet(a),
        IpAddr::V6(a) => NeighbourAddress::Inet6(a),
    }
}

fn ip_of(a: &NeighbourAddress) -> Option<IpAddr> {
    match a {
        NeighbourAddress::Inet(v4) => Some(IpAddr::V4(*v4)),
        NeighbourAddress::Inet6(v6) => Some(IpAddr::V6(*v6)),
        // AF_BRIDGE entries carry NDA_DST undecoded: 4 or 16 bytes.
        NeighbourAddress::Other(b) => match b.len() {
            4 => <[u8; 4]>::try_from(b.as_slice()).ok().map(IpAddr::from),
            16 => <[u8; 16]>::try_from(b.as_slice()).ok().map(IpAddr::from),
            _ => None,
        },
        _ => None,
    }
}

fn base(family: AddressFamily, index: u32) -> NeighbourMessage {
    let mut msg = NeighbourMessage::default();
    msg.header.family = family;
    msg.header.ifindex = index;
    msg.header.kind = RouteType::Unicast;
    msg
}

fn entry_of(m: &NeighbourMessage) -> Option<(Option<IpAddr>, Option<[u8; 6]>)> {
    let mut ip = None;
    let mut mac = None;
    for a in &m.attributes {
        match a {
            NeighbourAttribute::Destination(d) => ip = ip_of(d),
            NeighbourAttribute::LinkLayerAddress(l) => mac = <[u8; 6]>::try_from(l.as_slice()).ok(),
            _ => {}
        }
    }
    Some((ip, mac))
}

impl Handle {
    /// Add or replace a permanent neighbour `ip -> mac` on link `index`.
    pub fn set_neigh(&mut self, index: u32, ip: IpAddr, mac: [u8; 6]) -> Result<(), NetlinkError> {
        let ctx = Ctx::new(
            "set neighbour",
            format!("{ip} lladdr {} dev {index}", mac_str(&mac)),
        );
        let family = if ip.is_ipv4() {
            AddressFamily::Inet
        } else {
            AddressFamily::Inet6
        };
        let mut msg = base(family, index);
        msg.header.state = NeighbourState::Permanent;
        msg.attributes
            .push(NeighbourAttribute::Destination(addr(ip)));
        msg.attributes
            .push(NeighbourAttribute::LinkLayerAddress(mac.to_vec()));
        self.request(
            RouteNetlinkMessage::NewNeighbour(msg),
            NLM_F_CREATE | NLM_F_REPLACE,
            &ctx,
        )?;
        Ok(())
    }

    /// Delete the neighbour `ip` on link `index`; `Ok(false)` when absent.
    pub fn del_neigh(&mut self, index: u32, ip: IpAddr) -> Result<bool, NetlinkError> {
        let ctx = Ctx::new("delete neighbour", format!("{ip} dev {index}"));
        let family = if ip.is_ipv4() {
            AddressFamily::Inet
        } else {
            AddressFamily::Inet6
        };
        let mut msg = base(family, index);
        msg.attributes
            .push(NeighbourAttribute::Destination(addr(ip)));
        match self.request(RouteNetlinkMessage::DelNeighbour(msg), 0, &ctx) {
            Ok(_) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Neighbours of link `index` (both families) that carry a MAC.
    pub fn neighs(&mut self, index: u32) -> Result<Vec<NeighEntry>, NetlinkError> {
        let ctx = Ctx::new("list neighbours", format!("dev {index}"));
        let mut out = Vec::new();
        for family in [AddressFamily::Inet, AddressFamily::Inet6] {
            // Strict dump checking wants a zero header; filter by link here.
            let mut msg = base(family, 0);
            msg.header.kind = RouteType::Unspec;
            for r in self.dump(RouteNetlinkMessage::GetNeighbour(msg), &ctx)? {
                let RouteNetlinkMessage::NewNeighbour(m) = r else {
                    continue;
                };
                if m.header.ifindex != index {
                    continue;
                }
                if let Some((Some(ip), Some(mac))) = entry_of(&m) {
                    out.push(NeighEntry {
                        ip,
                        mac,
                        permanent: m.header.state == NeighbourState::Permanent,
                    });
                }
            }
        }
        Ok(out)
    }

    /// Add or replace the FDB entry `mac -> dst` on the VXLAN device `index`
    /// (`bridge fdb replace <mac> dev <vxlan> self dst <dst> permanent`).
    pub fn set_fdb(&mut self, index: u32, mac: [u8; 6], dst: IpAddr) -> Result<(), NetlinkError> {
        let ctx = Ctx::new(
            "set fdb entry",
            format!("{} dst {dst} dev {index}", mac_str(&mac)),
        );
        let mut msg = base(AddressFamily::Bridge, index);
        msg.header.state = NeighbourState::Permanent;
        msg.header.flags = NeighbourFlags::Own;
        msg.attributes
            .push(NeighbourAttribute::LinkLayerAddress(mac.to_vec()));
        msg.attributes
            .push(NeighbourAttribute::Destination(addr(dst)));
        self.request(
            RouteNetlinkMessage::NewNeighbour(msg),
            NLM_F_CREATE | NLM_F_REPLACE,
            &ctx,
        )?;
        Ok(())
    }

    /// Delete the FDB entry `mac -> dst` of the VXLAN device `index`;
    /// `Ok(false)` when absent.
    pub fn del_fdb(&mut self, index: u32, mac: [u8; 6], dst: IpAddr) -> Result<bool, NetlinkError> {
        let ctx = Ctx::new(
            "delete fdb entry",
            format!("{} dst {dst} dev {index}", mac_str(&mac)),
        );
        let mut msg = base(AddressFamily::Bridge, index);
        msg.header.flags = NeighbourFlags::Own;
        msg.attributes
            .push(NeighbourAttribute::LinkLayerAddress(mac.to_vec()));
        msg.attributes
            .push(NeighbourAttribute::Destination(addr(dst)));
        match self.request(RouteNetlinkMessage::DelNeighbour(msg), 0, &ctx) {
            Ok(_) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// FDB entries of the VXLAN device `index` that name a remote (NDA_DST).
    pub fn fdb(&mut self, index: u32) -> Result<Vec<NeighEntry>, NetlinkError> {
        let ctx = Ctx::new("list fdb", format!("dev {index}"));
        let mut msg = base(AddressFamily::Bridge, 0);
        msg.header.kind = RouteType::Unspec;
        let mut out = Vec::new();
        for r in self.dump(RouteNetlinkMessage::GetNeighbour(msg), &ctx)? {
            let RouteNetlinkMessage::NewNeighbour(m) = r else {
                continue;
            };
            if m.header.ifindex != index {
                continue;
            }
            if let Some((Some(ip), Some(mac))) = entry_of(&m) {
                out.push(NeighEntry {
                    ip,
                    mac,
                    permanent: m.header.state == NeighbourState::Permanent,
                });
            }
        }
        Ok(out)
    }
}
