//! Creating a VXLAN device (the overlay's VTEP): a VNI, a local underlay
//! address and device, a UDP port, learning off.

use std::net::IpAddr;

use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::link::{
    InfoData, InfoKind, InfoVxlan, LinkAttribute, LinkInfo as NlLinkInfo, LinkMessage,
};
use netlink_packet_route::RouteNetlinkMessage;

use crate::error::NetlinkError;
use crate::handle::{Ctx, Handle};
use crate::link::{check_ifname, LinkRef};

/// A VXLAN device to create.
#[derive(Debug, Clone, Copy)]
pub struct VxlanSpec<'a> {
    pub name: &'a str,
    /// The VXLAN network identifier (24 bits).
    pub vni: u32,
    /// The local (underlay) address the tunnel's packets leave from.
    pub local: IpAddr,
    /// The underlay link's index.
    pub underlay: u32,
    /// UDP destination port (4789 is IANA's).
    pub port: u16,
    /// MTU of the device.
    pub mtu: Option<u32>,
}

impl Handle {
    /// Create a VXLAN device with learning off. `Ok(false)` when a link with
    /// that name exists already (check its kind with [`Handle::link_by_name`]).
    pub fn create_vxlan(&mut self, spec: &VxlanSpec<'_>) -> Result<bool, NetlinkError> {
        let ctx = Ctx::new("create vxlan", LinkRef::Name(spec.name).to_string());
        check_ifname(spec.name, &ctx)?;
        if spec.vni == 0 || spec.vni >= 1 << 24 {
            return Err(ctx.invalid(format!("vni {} is out of range (1..=16777215)", spec.vni)));
        }
        let mut data = vec![
            InfoVxlan::Id(spec.vni),
            InfoVxlan::Link(spec.underlay),
            InfoVxlan::Port(spec.port),
            InfoVxlan::Learning(false),
        ];
        match spec.local {
            IpAddr::V4(a) => data.push(InfoVxlan::Local(a)),
            IpAddr::V6(a) => data.push(InfoVxlan::Local6(a)),
        }
        let mut msg = LinkMessage::default();
        msg.attributes
            .push(LinkAttribute::IfName(spec.name.to_string()));
        if let Some(mtu) = spec.mtu {
            msg.attributes.push(LinkAttribute::Mtu(mtu));
        }
        msg.attributes.push(LinkAttribute::LinkInfo(vec![
            NlLinkInfo::Kind(InfoKind::Vxlan),
            NlLinkInfo::Data(InfoData::Vxlan(data)),
        ]));
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
}
