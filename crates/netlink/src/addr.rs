//! IP addresses on links: add (with IFA_F_NODAD and the IPv4 broadcast),
//! delete, and list per link.

use std::net::IpAddr;

use ipnet::IpNet;
use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::address::{
    AddressAttribute, AddressFlags, AddressHeaderFlags, AddressMessage,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};

use crate::error::NetlinkError;
use crate::handle::{Ctx, Handle};

/// IFA_F_NODAD
pub const IFA_F_NODAD: u32 = 0x02;
/// IFA_F_OPTIMISTIC
pub const IFA_F_OPTIMISTIC: u32 = 0x04;
/// IFA_F_DADFAILED
pub const IFA_F_DADFAILED: u32 = 0x08;
/// IFA_F_TENTATIVE
pub const IFA_F_TENTATIVE: u32 = 0x40;
/// IFA_F_PERMANENT
pub const IFA_F_PERMANENT: u32 = 0x80;

/// An address on a link as reported by the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddrInfo {
    /// Address with prefix length.
    pub addr: IpNet,
    /// IFA_F_* flags (the 32-bit IFA_FLAGS when present).
    pub flags: u32,
    /// Address scope (0 universe, 253 link, 254 host).
    pub scope: u8,
}

impl AddrInfo {
    /// Duplicate address detection has not finished yet (IPv6).
    pub fn is_tentative(&self) -> bool {
        self.flags & IFA_F_TENTATIVE != 0
    }

    /// Duplicate address detection found a conflict (IPv6).
    pub fn is_dadfailed(&self) -> bool {
        self.flags & IFA_F_DADFAILED != 0
    }
}

fn family_of(addr: &IpNet) -> AddressFamily {
    match addr {
        IpNet::V4(_) => AddressFamily::Inet,
        IpNet::V6(_) => AddressFamily::Inet6,
    }
}

/// The address message for add/delete of `addr` on `index`.
pub(crate) fn address_message(index: u32, addr: &IpNet, nodad: bool) -> AddressMessage {
    let mut msg = AddressMessage::default();
    msg.header.family = family_of(addr);
    msg.header.prefix_len = addr.prefix_len();
    msg.header.index = index;
    match addr {
        IpNet::V4(v4) => {
            msg.attributes
                .push(AddressAttribute::Local(IpAddr::V4(v4.addr())));
            msg.attributes
                .push(AddressAttribute::Address(IpAddr::V4(v4.addr())));
            if v4.prefix_len() < 31 {
                msg.attributes
                    .push(AddressAttribute::Broadcast(v4.broadcast()));
            }
        }
        IpNet::V6(v6) => {
            msg.attributes
                .push(AddressAttribute::Address(IpAddr::V6(v6.addr())));
            if nodad {
                msg.header.flags = AddressHeaderFlags::Nodad;
                msg.attributes
                    .push(AddressAttribute::Flags(AddressFlags::Nodad));
            }
        }
    }
    msg
}

/// Turn a kernel address message into an [`AddrInfo`].
pub(crate) fn addr_info(msg: &AddressMessage) -> Option<AddrInfo> {
    let mut local = None;
    let mut address = None;
    let mut flags = u32::from(msg.header.flags.bits());
    for attr in &msg.attributes {
        match attr {
            AddressAttribute::Local(a) => local = Some(*a),
            AddressAttribute::Address(a) => address = Some(*a),
            AddressAttribute::Flags(f) => flags = f.bits(),
            _ => {}
        }
    }
    // IFA_LOCAL is the interface's own address; IFA_ADDRESS is the peer on
    // point-to-point links (and the only one for IPv6 without a peer).
    let ip = local.or(address)?;
    let addr = IpNet::new(ip, msg.header.prefix_len).ok()?;
    Some(AddrInfo {
        addr,
        flags,
        scope: u8::from(msg.header.scope),
    })
}

impl Handle {
    /// Add `addr` to link `index`. `nodad` sets IFA_F_NODAD (IPv6 only; IPv4
    /// has no DAD). For IPv4 the broadcast address is set as `ip addr add
    /// ... brd +` does. Returns `Ok(false)` if the address already exists.
    pub fn add_addr(&mut self, index: u32, addr: IpNet, nodad: bool) -> Result<bool, NetlinkError> {
        let about = format!("{addr} on ");
        let res = self.on_link_about("add address", index, &about, |h, ctx| {
            let msg = address_message(index, &addr, nodad);
            h.request(
                RouteNetlinkMessage::NewAddress(msg),
                NLM_F_CREATE | NLM_F_EXCL,
                ctx,
            )
        });
        match res {
            Ok(_) => Ok(true),
            Err(e) if e.is_exists() => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Remove `addr` from link `index`. Returns `Ok(false)` if it was not there.
    pub fn del_addr(&mut self, index: u32, addr: IpNet) -> Result<bool, NetlinkError> {
        let about = format!("{addr} on ");
        let res = self.on_link_about("delete address", index, &about, |h, ctx| {
            let msg = address_message(index, &addr, false);
            h.request(RouteNetlinkMessage::DelAddress(msg), 0, ctx)
        });
        match res {
            Ok(_) => Ok(true),
            Err(e) if e.errno() == Some(libc::EADDRNOTAVAIL) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// All addresses (IPv4 and IPv6) of link `index`.
    pub fn addrs(&mut self, index: u32) -> Result<Vec<AddrInfo>, NetlinkError> {
        let ctx = Ctx::new("list addresses of", format!("link {index}"));
        let mut msg = AddressMessage::default();
        msg.header.index = index; // server-side filter with strict checking
        let replies = self.dump(RouteNetlinkMessage::GetAddress(msg), &ctx)?;
        Ok(replies
            .iter()
            .filter_map(|r| match r {
                RouteNetlinkMessage::NewAddress(m) if m.header.index == index => addr_info(m),
                _ => None,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v4_message_has_local_address_and_broadcast() {
        let net: IpNet = "10.1.2.3/24".parse().unwrap();
        let m = address_message(4, &net, true);
        assert_eq!(m.header.family, AddressFamily::Inet);
        assert_eq!(m.header.prefix_len, 24);
        assert_eq!(m.header.index, 4);
        assert!(m
            .attributes
            .contains(&AddressAttribute::Broadcast("10.1.2.255".parse().unwrap())));
        assert!(m
            .attributes
            .contains(&AddressAttribute::Local("10.1.2.3".parse().unwrap())));
        // no NODAD for IPv4
        assert!(!m
            .attributes
            .iter()
            .any(|a| matches!(a, AddressAttribute::Flags(_))));
        let p2p = address_message(4, &"10.1.2.3/31".parse().unwrap(), false);
        assert!(!p2p
            .attributes
            .iter()
            .any(|a| matches!(a, AddressAttribute::Broadcast(_))));
    }

    #[test]
    fn v6_message_nodad() {
        let net: IpNet = "fd00::5/64".parse().unwrap();
        let m = address_message(4, &net, true);
        assert_eq!(m.header.family, AddressFamily::Inet6);
        assert!(m
            .attributes
            .contains(&AddressAttribute::Flags(AddressFlags::Nodad)));
        let m = address_message(4, &net, false);
        assert!(!m
            .attributes
            .iter()
            .any(|a| matches!(a, AddressAttribute::Flags(_))));
    }

    #[test]
    fn addr_info_prefers_local_and_flags_attr() {
        let mut m = AddressMessage::default();
        m.header.prefix_len = 32;
        m.header.flags = AddressHeaderFlags::Permanent;
        m.attributes = vec![
            AddressAttribute::Address("10.0.0.2".parse().unwrap()),
            AddressAttribute::Local("10.0.0.1".parse().unwrap()),
        ];
        let a = addr_info(&m).unwrap();
        assert_eq!(a.addr, "10.0.0.1/32".parse::<IpNet>().unwrap());
        assert_eq!(a.flags, IFA_F_PERMANENT);
        m.attributes.push(AddressAttribute::Flags(
            AddressFlags::Tentative | AddressFlags::Nodad,
        ));
        let a = addr_info(&m).unwrap();
        assert!(a.is_tentative() && !a.is_dadfailed());
        assert_eq!(a.flags, IFA_F_TENTATIVE | IFA_F_NODAD);
    }
}
