//! Several requests in one `sendmsg`: rtnetlink handles the messages of one
//! datagram in order, each with its own sequence number and ack, so a chain
//! of dependent changes (create, configure, address, up) costs one round
//! trip instead of one per request.
//!
//! The kernel does not stop at a failed message: the later ones of the
//! datagram are still applied. Callers pipeline only requests whose partial
//! application their own undo covers (e.g. all on one link they created).

use netlink_packet_core::{NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REQUEST};
use netlink_packet_route::address::AddressMessage;
use netlink_packet_route::link::{
    AfSpecInet, AfSpecInet6, AfSpecUnspec, In6AddrGenMode, InetDevConf, LinkAttribute, LinkFlags,
};
use netlink_packet_route::RouteNetlinkMessage;

use crate::error::NetlinkError;
use crate::handle::{Ctx, Handle};
use crate::link::{check_ifname, link_message, LinkInfo, LinkRef};
use crate::route::RouteSpec;

/// NLM_F_ECHO: the kernel sends the resulting object back to the requester
/// (honoured by RTM_NEWLINK since Linux 6.2; older kernels only ack).
const NLM_F_ECHO: u16 = 0x08;

/// One request of a pipeline.
pub struct Request {
    msg: RouteNetlinkMessage,
    flags: u16,
    ctx: Ctx,
    /// EEXIST counts as success (an address or route already present).
    exists_ok: bool,
    /// A dump: ends with NLMSG_DONE instead of an ack.
    dump: bool,
}

/// What a pipelined request brought back besides its ack.
#[derive(Debug, Clone, Default)]
pub struct Reply {
    /// The link the kernel echoed (RTM_NEWLINK with [`Request::echo`]).
    pub link: Option<LinkInfo>,
    /// The addresses of a [`Request::addrs`] dump (`None` for other
    /// requests, or when the dump was interrupted by a concurrent change).
    pub addrs: Option<Vec<crate::AddrInfo>>,
}

impl Request {
    fn new(msg: RouteNetlinkMessage, flags: u16, ctx: Ctx) -> Request {
        Request {
            msg,
            flags,
            ctx,
            exists_ok: false,
            dump: false,
        }
    }

    /// RTM_GETADDR dump of link `index` (see [`Handle::addrs`]), e.g. a
    /// bridge's addresses fetched with the veth that joins it.
    pub fn addrs(index: u32) -> Request {
        let mut msg = AddressMessage::default();
        msg.header.index = index; // server-side filter with strict checking
        Request {
            dump: true,
            ..Request::new(
                RouteNetlinkMessage::GetAddress(msg),
                NLM_F_DUMP,
                Ctx::new("list addresses of", format!("link {index}")),
            )
        }
    }

    /// Ask the kernel to echo the created link back (see [`Reply::link`]).
    pub fn echo(mut self) -> Request {
        self.flags |= NLM_F_ECHO;
        self
    }

    /// RTM_NEWLINK of a veth pair; the first end optionally enslaved to
    /// `master` (IFLA_MASTER) and set up in the same request.
    pub fn create_veth(
        spec: &crate::VethSpec<'_>,
        master: Option<u32>,
        up: bool,
    ) -> Result<Request, NetlinkError> {
        let ctx = Ctx::new(
            "create veth",
            format!("link {:?} (peer {:?})", spec.name, spec.peer_name),
        );
        check_ifname(spec.name, &ctx)?;
        check_ifname(spec.peer_name, &ctx)?;
        if master == Some(0) {
            return Err(ctx.invalid("master index 0"));
        }
        let mut msg = crate::link_ops::veth_message(spec);
        if let Some(m) = master {
            msg.attributes.push(LinkAttribute::Controller(m));
        }
        if up {
            msg.header.flags = LinkFlags::Up;
            msg.header.change_mask = LinkFlags::Up;
        }
        Ok(Request::new(
            RouteNetlinkMessage::NewLink(msg),
            NLM_F_CREATE | NLM_F_EXCL,
            ctx,
        ))
    }

    /// RTM_SETLINK by name (the index is not needed, so this can follow the
    /// link's creation in the same datagram): alias, and/or no IPv6
    /// link-local address (IFLA_INET6_ADDR_GEN_MODE none) when
    /// `no_ipv6_link_local`.
    pub fn configure_by_name(
        name: &str,
        alias: Option<&str>,
        no_ipv6_link_local: bool,
    ) -> Result<Request, NetlinkError> {
        let ctx = Ctx::new("configure", LinkRef::Name(name).to_string());
        check_ifname(name, &ctx)?;
        let mut msg = link_message(LinkRef::Name(name));
        if let Some(a) = alias {
            msg.attributes.push(LinkAttribute::IfAlias(a.to_string()));
        }
        if no_ipv6_link_local {
            msg.attributes.push(addr_gen_none());
        }
        Ok(Request::new(RouteNetlinkMessage::SetLink(msg), 0, ctx))
    }

    /// RTM_SETLINK of per-link IP settings, before the link is up:
    /// IPv4 `arp_notify` (gratuitous ARP on up) and/or no IPv6 link-local
    /// address. Both go in one IFLA_AF_SPEC.
    pub fn link_conf(index: u32, arp_notify: bool, no_ipv6_link_local: bool) -> Request {
        let mut msg = link_message(LinkRef::Index(index));
        let mut spec = Vec::new();
        if arp_notify {
            let mut conf = InetDevConf::default();
            conf.arp_notify = 1;
            spec.push(AfSpecUnspec::Inet(vec![AfSpecInet::DevConfRequest(conf)]));
        }
        if no_ipv6_link_local {
            spec.push(AfSpecUnspec::Inet6(vec![AfSpecInet6::AddrGenMode(
                In6AddrGenMode::None,
            )]));
        }
        msg.attributes.push(LinkAttribute::AfSpecUnspec(spec));
        Request::new(
            RouteNetlinkMessage::SetLink(msg),
            0,
            Ctx::new("configure", LinkRef::Index(index).to_string()),
        )
    }

    /// RTM_SETLINK IFF_UP.
    pub fn set_up(index: u32) -> Request {
        let mut msg = link_message(LinkRef::Index(index));
        msg.header.flags = LinkFlags::Up;
        msg.header.change_mask = LinkFlags::Up;
        Request::new(
            RouteNetlinkMessage::SetLink(msg),
            0,
            Ctx::new("set up", LinkRef::Index(index).to_string()),
        )
    }

    /// RTM_NEWADDR (see [`Handle::add_addr`]); an existing address is fine.
    pub fn add_addr(index: u32, addr: ipnet::IpNet, nodad: bool) -> Request {
        let msg: AddressMessage = crate::addr::address_message(index, &addr, nodad);
        Request {
            exists_ok: true,
            ..Request::new(
                RouteNetlinkMessage::NewAddress(msg),
                NLM_F_CREATE | NLM_F_EXCL,
                Ctx::new(
                    "add address",
                    format!("{addr} on {}", LinkRef::Index(index)),
                ),
            )
        }
    }

    /// RTM_NEWROUTE (see [`Handle::add_route`]); an identical route is fine.
    pub fn add_route(spec: &RouteSpec) -> Result<Request, NetlinkError> {
        let ctx = Ctx::new("add", spec.describe());
        let msg = crate::route::route_message(spec, false, &ctx)?;
        Ok(Request {
            exists_ok: true,
            ..Request::new(
                RouteNetlinkMessage::NewRoute(msg),
                NLM_F_CREATE | NLM_F_EXCL,
                ctx,
            )
        })
    }
}

/// IFLA_AF_SPEC { AF_INET6 { IFLA_INET6_ADDR_GEN_MODE = none } }.
fn addr_gen_none() -> LinkAttribute {
    LinkAttribute::AfSpecUnspec(vec![AfSpecUnspec::Inet6(vec![AfSpecInet6::AddrGenMode(
        In6AddrGenMode::None,
    )])])
}

impl Handle {
    /// Send `reqs` in one datagram and wait for every ack. Returns one
    /// [`Reply`] per request, or the error of the first request that failed
    /// (all acks are read either way, so the socket stays in step).
    pub fn pipeline(&mut self, reqs: Vec<Request>) -> Result<Vec<Reply>, NetlinkError> {
        if reqs.is_empty() {
            return Ok(Vec::new());
        }
        let mut bytes = Vec::new();
        let mut first_seq = None;
        for r in &reqs {
            let ack = if r.dump { 0 } else { NLM_F_ACK };
            let mut one = crate::handle::encode(r.msg.clone(), NLM_F_REQUEST | ack | r.flags);
            let seq = self.next_seq();
            first_seq.get_or_insert(seq);
            if let Some(field) = one.get_mut(8..12) {
                field.copy_from_slice(&seq.to_ne_bytes());
            }
            one.resize(one.len().next_multiple_of(4), 0);
            bytes.extend_from_slice(&one);
        }
        let first = first_seq.unwrap_or(1);
        let ctxs: Vec<&Ctx> = reqs.iter().map(|r| &r.ctx).collect();
        self.send_raw(&bytes, ctxs[0])?;
        let outcomes = self.collect_many(first, &ctxs)?;
        let mut replies = Vec::with_capacity(reqs.len());
        let mut first_err = None;
        for (r, out) in reqs.iter().zip(outcomes) {
            match out {
                Ok((msgs, interrupted)) => replies.push(Reply {
                    link: msgs.iter().find_map(|m| match m {
                        RouteNetlinkMessage::NewLink(l) => Some(LinkInfo::from_message(l)),
                        _ => None,
                    }),
                    addrs: (r.dump && !interrupted).then(|| {
                        msgs.iter()
                            .filter_map(|m| match m {
                                RouteNetlinkMessage::NewAddress(a) => crate::addr::addr_info(a),
                                _ => None,
                            })
                            .collect()
                    }),
                }),
                Err(e) if r.exists_ok && e.is_exists() => replies.push(Reply::default()),
                Err(e) => {
                    first_err.get_or_insert(e);
                    replies.push(Reply::default());
                }
            }
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(replies),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use netlink_packet_route::link::{AfSpecInet6, LinkAttribute};

    #[test]
    fn link_conf_carries_both_families() {
        let r = Request::link_conf(7, true, true);
        let RouteNetlinkMessage::SetLink(m) = &r.msg else {
            panic!("not a SETLINK");
        };
        assert_eq!(m.header.index, 7);
        let LinkAttribute::AfSpecUnspec(spec) = &m.attributes[0] else {
            panic!("no IFLA_AF_SPEC");
        };
        assert_eq!(spec.len(), 2);
        assert!(matches!(&spec[1], AfSpecUnspec::Inet6(v)
            if v == &vec![AfSpecInet6::AddrGenMode(In6AddrGenMode::None)]));
        let r = Request::link_conf(7, true, false);
        let RouteNetlinkMessage::SetLink(m) = &r.msg else {
            panic!("not a SETLINK");
        };
        assert!(matches!(&m.attributes[0], LinkAttribute::AfSpecUnspec(s) if s.len() == 1));
    }

    #[test]
    fn veth_request_with_master_and_up() {
        let spec = crate::VethSpec {
            name: "vh",
            peer_name: "eth0",
            mtu: None,
            mac: None,
            peer_mac: None,
            peer_netns: None,
            alias: None,
        };
        let r = Request::create_veth(&spec, Some(3), true).unwrap().echo();
        assert_eq!(r.flags & NLM_F_ECHO, NLM_F_ECHO);
        let RouteNetlinkMessage::NewLink(m) = &r.msg else {
            panic!("not a NEWLINK");
        };
        assert!(m.header.flags.contains(LinkFlags::Up));
        assert!(m
            .attributes
            .iter()
            .any(|a| matches!(a, LinkAttribute::Controller(3))));
        assert!(Request::create_veth(&spec, Some(0), false).is_err());
        assert!(Request::configure_by_name("bad/name", None, true).is_err());
    }
}
