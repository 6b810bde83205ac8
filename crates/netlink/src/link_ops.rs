//! Creating, deleting and changing links: bridges, veth pairs, flags, MTU,
//! MAC, master and namespace.

use std::os::fd::{AsRawFd, BorrowedFd};

use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::link::{
    AfSpecInet, AfSpecUnspec, InetDevConf, InfoBridge, InfoData, InfoKind, InfoVeth, LinkAttribute,
    LinkFlags, LinkInfo as NlLinkInfo, LinkMessage,
};
use netlink_packet_route::RouteNetlinkMessage;

use crate::error::NetlinkError;
use crate::handle::{Ctx, Handle};
use crate::link::{check_ifname, link_message, LinkRef};

/// A veth pair to create. The first end stays in the socket's namespace; the
/// peer is created directly in `peer_netns` when given.
#[derive(Debug, Clone, Copy)]
pub struct VethSpec<'a> {
    /// Name of the end that stays in the socket's namespace.
    pub name: &'a str,
    /// Name of the peer end.
    pub peer_name: &'a str,
    /// MTU of both ends.
    pub mtu: Option<u32>,
    /// MAC of the first end.
    pub mac: Option<[u8; 6]>,
    /// MAC of the peer end.
    pub peer_mac: Option<[u8; 6]>,
    /// Namespace (fd of /proc/.../ns/net or /run/netns/...) for the peer end.
    pub peer_netns: Option<BorrowedFd<'a>>,
    /// IFLA_IFALIAS of the first end (e.g. the owner of a host veth), set
    /// right after creation (the kernel ignores it in the create request).
    pub alias: Option<&'a str>,
}

impl Handle {
    /// Create a bridge. Returns `Ok(false)` if a link with that name already
    /// exists (whatever its kind: check with [`Handle::link_by_name`]).
    /// `vlan_filtering = true` fails with EOPNOTSUPP on kernels built without
    /// CONFIG_BRIDGE_VLAN_FILTERING.
    pub fn create_bridge(
        &mut self,
        name: &str,
        mtu: Option<u32>,
        vlan_filtering: bool,
        mac: Option<[u8; 6]>,
    ) -> Result<bool, NetlinkError> {
        let ctx = Ctx::new("create bridge", LinkRef::Name(name).to_string());
        check_ifname(name, &ctx)?;
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::IfName(name.to_string()));
        if let Some(mtu) = mtu {
            msg.attributes.push(LinkAttribute::Mtu(mtu));
        }
        if let Some(mac) = mac {
            msg.attributes.push(LinkAttribute::Address(mac.to_vec()));
        }
        let mut info = vec![NlLinkInfo::Kind(InfoKind::Bridge)];
        // Only send IFLA_BR_VLAN_FILTERING when enabling it: kernels built
        // without CONFIG_BRIDGE_VLAN_FILTERING refuse the attribute even as 0.
        if vlan_filtering {
            info.push(NlLinkInfo::Data(InfoData::Bridge(vec![
                InfoBridge::VlanFiltering(true),
            ])));
        }
        msg.attributes.push(LinkAttribute::LinkInfo(info));
        match self.request(
            RouteNetlinkMessage::NewLink(msg),
            NLM_F_CREATE | NLM_F_EXCL,
            &ctx,
        ) {
            Ok(_) => Ok(true),
            Err(e) if e.is_exists() => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Create a veth pair. An existing name is an error (EEXIST).
    pub fn create_veth(&mut self, spec: &VethSpec<'_>) -> Result<(), NetlinkError> {
        let ctx = Ctx::new(
            "create veth",
            format!("link {:?} (peer {:?})", spec.name, spec.peer_name),
        );
        check_ifname(spec.name, &ctx)?;
        check_ifname(spec.peer_name, &ctx)?;
        let mut peer = LinkMessage::default();
        peer.attributes
            .push(LinkAttribute::IfName(spec.peer_name.to_string()));
        if let Some(mtu) = spec.mtu {
            peer.attributes.push(LinkAttribute::Mtu(mtu));
        }
        if let Some(mac) = spec.peer_mac {
            peer.attributes.push(LinkAttribute::Address(mac.to_vec()));
        }
        if let Some(fd) = spec.peer_netns {
            peer.attributes.push(LinkAttribute::NetNsFd(fd.as_raw_fd()));
        }
        let mut msg = LinkMessage::default();
        msg.attributes
            .push(LinkAttribute::IfName(spec.name.to_string()));
        if let Some(mtu) = spec.mtu {
            msg.attributes.push(LinkAttribute::Mtu(mtu));
        }
        if let Some(mac) = spec.mac {
            msg.attributes.push(LinkAttribute::Address(mac.to_vec()));
        }
        msg.attributes.push(LinkAttribute::LinkInfo(vec![
            NlLinkInfo::Kind(InfoKind::Veth),
            NlLinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer))),
        ]));
        self.request(
            RouteNetlinkMessage::NewLink(msg),
            NLM_F_CREATE | NLM_F_EXCL,
            &ctx,
        )?;
        if let Some(alias) = spec.alias {
            let index = self
                .link_by_name(spec.name)?
                .map(|l| l.index)
                .ok_or_else(|| ctx.invalid("vanished after creation"))?;
            self.set_alias(index, alias)?;
        }
        Ok(())
    }

    /// Delete a link by index or name. `Ok(false)` if it did not exist.
    /// Deleting one end of a veth pair deletes both.
    pub fn delete_link<'a>(&mut self, link: impl Into<LinkRef<'a>>) -> Result<bool, NetlinkError> {
        let link = link.into();
        let ctx = Ctx::new("delete", link.to_string());
        match link {
            LinkRef::Name(n) => check_ifname(n, &ctx)?,
            LinkRef::Index(0) => return Err(ctx.invalid("interface index 0")),
            LinkRef::Index(_) => {}
        }
        match self.request(RouteNetlinkMessage::DelLink(link_message(link)), 0, &ctx) {
            Ok(_) => Ok(true),
            Err(e) if e.errno() == Some(libc::ENODEV) => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn set_link(
        &mut self,
        op: &'static str,
        index: u32,
        edit: impl FnOnce(&mut LinkMessage),
    ) -> Result<(), NetlinkError> {
        self.on_link(op, index, |h, ctx| {
            let mut msg = link_message(LinkRef::Index(index));
            edit(&mut msg);
            h.request(RouteNetlinkMessage::SetLink(msg), 0, ctx)
                .map(|_| ())
        })
    }

    fn set_flag(
        &mut self,
        op: &'static str,
        index: u32,
        flag: LinkFlags,
        on: bool,
    ) -> Result<(), NetlinkError> {
        self.set_link(op, index, |m| {
            m.header.change_mask = flag;
            m.header.flags = if on { flag } else { LinkFlags::empty() };
        })
    }

    /// Bring a link up (IFF_UP).
    pub fn set_up(&mut self, index: u32) -> Result<(), NetlinkError> {
        self.set_flag("set up", index, LinkFlags::Up, true)
    }

    /// Bring a link down.
    pub fn set_down(&mut self, index: u32) -> Result<(), NetlinkError> {
        self.set_flag("set down", index, LinkFlags::Up, false)
    }

    /// Turn promiscuous mode on or off (IFF_PROMISC).
    pub fn set_promisc(&mut self, index: u32, on: bool) -> Result<(), NetlinkError> {
        self.set_flag("set promisc", index, LinkFlags::Promisc, on)
    }

    /// Set the MTU.
    /// Turn IPv4 `arp_notify` on for a link (IFLA_AF_SPEC/AF_INET devconf),
    /// the netlink equivalent of `net/ipv4/conf/<if>/arp_notify = 1`, with
    /// no thread in the link's namespace needed.
    pub fn set_arp_notify(&mut self, index: u32) -> Result<(), NetlinkError> {
        let mut conf = InetDevConf::default();
        conf.arp_notify = 1;
        self.set_link("set arp_notify", index, |m| {
            m.attributes
                .push(LinkAttribute::AfSpecUnspec(vec![AfSpecUnspec::Inet(vec![
                    AfSpecInet::DevConfRequest(conf),
                ])]))
        })
    }

    /// Set IFLA_IFALIAS (the kernel ignores it in a create request).
    pub fn set_alias(&mut self, index: u32, alias: &str) -> Result<(), NetlinkError> {
        self.set_link("set alias", index, |m| {
            m.attributes.push(LinkAttribute::IfAlias(alias.to_string()))
        })
    }

    pub fn set_mtu(&mut self, index: u32, mtu: u32) -> Result<(), NetlinkError> {
        self.set_link("set mtu", index, |m| {
            m.attributes.push(LinkAttribute::Mtu(mtu))
        })
    }

    /// Set the hardware address.
    pub fn set_mac(&mut self, index: u32, mac: [u8; 6]) -> Result<(), NetlinkError> {
        self.set_link("set mac", index, |m| {
            m.attributes.push(LinkAttribute::Address(mac.to_vec()))
        })
    }

    /// Enslave a link to a master (bridge).
    pub fn set_master(&mut self, index: u32, master: u32) -> Result<(), NetlinkError> {
        if master == 0 {
            return Err(Ctx::new("set master", LinkRef::Index(index).to_string())
                .invalid("master index 0 (use set_nomaster)"));
        }
        self.set_link("set master", index, |m| {
            m.attributes.push(LinkAttribute::Controller(master))
        })
    }

    /// Release a link from its master.
    pub fn set_nomaster(&mut self, index: u32) -> Result<(), NetlinkError> {
        self.set_link("set nomaster", index, |m| {
            m.attributes.push(LinkAttribute::Controller(0))
        })
    }

    /// Move a link into the network namespace `netns` (an open namespace fd).
    pub fn set_netns(&mut self, index: u32, netns: BorrowedFd<'_>) -> Result<(), NetlinkError> {
        self.set_link("move to netns", index, |m| {
            m.attributes.push(LinkAttribute::NetNsFd(netns.as_raw_fd()))
        })
    }

    /// Rename a link (it must be down).
    pub fn set_name(&mut self, index: u32, name: &str) -> Result<(), NetlinkError> {
        let ctx = Ctx::new("rename link", format!("index {index} to {name:?}"));
        check_ifname(name, &ctx)?;
        self.set_link("rename link", index, |m| {
            m.attributes.push(LinkAttribute::IfName(name.to_string()))
        })
    }
}
