//! Kernel notifications: a NETLINK_ROUTE socket subscribed to multicast
//! groups (RTNLGRP_*), decoded into small [`Notification`]s: which link,
//! address, route, neighbour or FDB entry was added, changed or removed.
//! A daemon that keeps kernel state (the overlay agent) uses it to restore
//! what was removed or changed behind its back without polling.

use std::net::IpAddr;
use std::os::fd::AsFd;
use std::time::Duration;

use ipnet::IpNet;
use netlink_packet_core::{NetlinkBuffer, NetlinkMessage, NetlinkPayload};
use netlink_packet_route::address::AddressMessage;
use netlink_packet_route::link::{LinkAttribute, LinkMessage};
use netlink_packet_route::neighbour::{NeighbourAttribute, NeighbourMessage};
use netlink_packet_route::route::{RouteAddress, RouteAttribute, RouteMessage};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{protocols::NETLINK_ROUTE, Socket};

use crate::error::NetlinkError;

const NLMSG_HDRLEN: usize = 16;
/// Receive buffer per datagram.
const RECV_BUF: usize = 64 * 1024;
/// Socket receive queue asked for (the kernel doubles it): a burst of
/// notifications (a link going away takes its routes and neighbours with
/// it) must fit, or the reader learns of an overrun (ENOBUFS).
const RCVBUF: usize = 4 * 1024 * 1024;

/// A multicast group of NETLINK_ROUTE (`RTNLGRP_*` of `linux/rtnetlink.h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    /// RTNLGRP_LINK: links created, changed, deleted.
    Link,
    /// RTNLGRP_NEIGH: neighbour and FDB (AF_BRIDGE) entries.
    Neigh,
    /// RTNLGRP_IPV4_IFADDR
    Ipv4Addr,
    /// RTNLGRP_IPV4_ROUTE
    Ipv4Route,
    /// RTNLGRP_IPV6_IFADDR
    Ipv6Addr,
    /// RTNLGRP_IPV6_ROUTE
    Ipv6Route,
}

impl Group {
    /// The group's number.
    pub fn number(self) -> u32 {
        match self {
            Group::Link => 1,
            Group::Neigh => 3,
            Group::Ipv4Addr => 5,
            Group::Ipv4Route => 7,
            Group::Ipv6Addr => 9,
            Group::Ipv6Route => 11,
        }
    }
}

/// Whether an object appeared/changed or went away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// RTM_NEW*: added or changed.
    New,
    /// RTM_DEL*: removed.
    Del,
}

/// One decoded notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notification {
    /// A link (its index, and name and MAC when the message carries them).
    Link {
        change: Change,
        index: u32,
        name: Option<String>,
        mac: Option<[u8; 6]>,
        master: Option<u32>,
        up: bool,
    },
    /// An address on link `index`.
    Addr {
        change: Change,
        index: u32,
        addr: Option<IpAddr>,
    },
    /// A route (its destination, table and output link when present).
    Route {
        change: Change,
        dst: Option<IpNet>,
        table: u32,
        oif: Option<u32>,
    },
    /// A neighbour entry (`fdb` for AF_BRIDGE: a forwarding database entry).
    Neigh {
        change: Change,
        index: u32,
        fdb: bool,
        ip: Option<IpAddr>,
        mac: Option<[u8; 6]>,
    },
    /// The kernel dropped notifications (the receive queue overflowed,
    /// ENOBUFS): the reader must re-read the whole state.
    Overrun,
}

/// A socket receiving notifications of the namespace it was opened in.
pub struct Monitor {
    sock: Socket,
    buf: Vec<u8>,
}

impl std::fmt::Debug for Monitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Monitor").finish_non_exhaustive()
    }
}

fn route_addr(a: &RouteAddress) -> Option<IpAddr> {
    match a {
        RouteAddress::Inet(v4) => Some(IpAddr::V4(*v4)),
        RouteAddress::Inet6(v6) => Some(IpAddr::V6(*v6)),
        _ => None,
    }
}

fn link(change: Change, m: &LinkMessage) -> Notification {
    let mut name = None;
    let mut mac = None;
    let mut master = None;
    for a in &m.attributes {
        match a {
            LinkAttribute::IfName(n) => name = Some(n.clone()),
            LinkAttribute::Address(b) => mac = <[u8; 6]>::try_from(b.as_slice()).ok(),
            LinkAttribute::Controller(i) => master = Some(*i),
            _ => {}
        }
    }
    Notification::Link {
        change,
        index: m.header.index,
        name,
        mac,
        master,
        up: m
            .header
            .flags
            .contains(netlink_packet_route::link::LinkFlags::Up),
    }
}

fn addr(change: Change, m: &AddressMessage) -> Notification {
    use netlink_packet_route::address::AddressAttribute;
    let addr = m.attributes.iter().find_map(|a| match a {
        AddressAttribute::Address(ip) => Some(*ip),
        _ => None,
    });
    Notification::Addr {
        change,
        index: m.header.index,
        addr,
    }
}

fn route(change: Change, m: &RouteMessage) -> Notification {
    let mut dst = None;
    let mut table = u32::from(m.header.table);
    let mut oif = None;
    for a in &m.attributes {
        match a {
            RouteAttribute::Destination(d) => dst = route_addr(d),
            RouteAttribute::Table(t) => table = *t,
            RouteAttribute::Oif(i) => oif = Some(*i),
            _ => {}
        }
    }
    let dst = match (dst, m.header.address_family) {
        (Some(ip), _) => IpNet::new(ip, m.header.destination_prefix_length).ok(),
        (None, AddressFamily::Inet) => "0.0.0.0/0".parse().ok(),
        (None, AddressFamily::Inet6) => "::/0".parse().ok(),
        _ => None,
    };
    Notification::Route {
        change,
        dst,
        table,
        oif,
    }
}

fn neigh(change: Change, m: &NeighbourMessage) -> Notification {
    use netlink_packet_route::neighbour::NeighbourAddress;
    let mut ip = None;
    let mut mac = None;
    for a in &m.attributes {
        match a {
            NeighbourAttribute::Destination(d) => {
                ip = match d {
                    NeighbourAddress::Inet(v4) => Some(IpAddr::V4(*v4)),
                    NeighbourAddress::Inet6(v6) => Some(IpAddr::V6(*v6)),
                    NeighbourAddress::Other(b) => match b.len() {
                        4 => <[u8; 4]>::try_from(b.as_slice()).ok().map(IpAddr::from),
                        16 => <[u8; 16]>::try_from(b.as_slice()).ok().map(IpAddr::from),
                        _ => None,
                    },
                    _ => None,
                }
            }
            NeighbourAttribute::LinkLayerAddress(l) => mac = <[u8; 6]>::try_from(l.as_slice()).ok(),
            _ => {}
        }
    }
    Notification::Neigh {
        change,
        index: m.header.ifindex,
        fdb: m.header.family == AddressFamily::Bridge,
        ip,
        mac,
    }
}

/// Decodes one notification message; None for messages of no interest.
pub fn decode(msg: &RouteNetlinkMessage) -> Option<Notification> {
    use RouteNetlinkMessage as M;
    Some(match msg {
        M::NewLink(m) => link(Change::New, m),
        M::DelLink(m) => link(Change::Del, m),
        M::NewAddress(m) => addr(Change::New, m),
        M::DelAddress(m) => addr(Change::Del, m),
        M::NewRoute(m) => route(Change::New, m),
        M::DelRoute(m) => route(Change::Del, m),
        M::NewNeighbour(m) => neigh(Change::New, m),
        M::DelNeighbour(m) => neigh(Change::Del, m),
        _ => return None,
    })
}

impl Monitor {
    /// Subscribes to `groups` in the calling thread's network namespace.
    pub fn new(groups: &[Group]) -> Result<Monitor, NetlinkError> {
        let sock = Socket::new(NETLINK_ROUTE)
            .map_err(|e| NetlinkError::socket("create NETLINK_ROUTE socket", e))?;
        Monitor::setup(sock, groups)
    }

    /// Subscribes to `groups` of the namespace `ns` (the socket is created
    /// on a short-lived thread inside it; the caller never changes namespace).
    pub fn new_in(ns: &netns::NetNs, groups: &[Group]) -> Result<Monitor, NetlinkError> {
        let sock = ns.run_in(|| Socket::new(NETLINK_ROUTE))?.map_err(|e| {
            NetlinkError::socket(
                format!(
                    "create NETLINK_ROUTE socket in network namespace {}",
                    ns.path().display()
                ),
                e,
            )
        })?;
        Monitor::setup(sock, groups)
    }

    fn setup(mut sock: Socket, groups: &[Group]) -> Result<Monitor, NetlinkError> {
        sock.bind_auto()
            .map_err(|e| NetlinkError::socket("bind", e))?;
        // A larger queue is best effort: an overrun is reported either way.
        let _ = sock.set_rx_buf_sz(RCVBUF);
        for g in groups {
            sock.add_membership(g.number()).map_err(|e| {
                NetlinkError::socket(format!("join multicast group {}", g.number()), e)
            })?;
        }
        Ok(Monitor {
            sock,
            buf: Vec::with_capacity(RECV_BUF),
        })
    }

    /// Waits up to `timeout` (None: forever) for one datagram and decodes
    /// its notifications; an empty list when the time ran out.
    pub fn recv(&mut self, timeout: Option<Duration>) -> Result<Vec<Notification>, NetlinkError> {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        let wait = match timeout {
            None => PollTimeout::NONE,
            Some(d) => PollTimeout::try_from(d).unwrap_or(PollTimeout::MAX),
        };
        loop {
            let mut fds = [PollFd::new(self.sock.as_fd(), PollFlags::POLLIN)];
            match poll(&mut fds, wait) {
                Ok(0) => return Ok(Vec::new()),
                Ok(_) => break,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => {
                    return Err(NetlinkError::socket(
                        "wait for notifications",
                        std::io::Error::from(e),
                    ))
                }
            }
        }
        self.buf.clear();
        loop {
            match self.sock.recv(&mut self.buf, 0) {
                Ok(_) => break,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                    return Ok(vec![Notification::Overrun])
                }
                Err(e) => return Err(NetlinkError::socket("receive notifications", e)),
            }
        }
        Ok(parse_datagram(&self.buf))
    }
}

/// The notifications of one datagram (undecodable messages are skipped).
pub fn parse_datagram(buf: &[u8]) -> Vec<Notification> {
    let mut out = Vec::new();
    let mut off = 0;
    while off + NLMSG_HDRLEN <= buf.len() {
        let rest = &buf[off..];
        let Ok(nb) = NetlinkBuffer::new_checked(rest) else {
            break;
        };
        let len = nb.length() as usize;
        if len < NLMSG_HDRLEN || len > rest.len() {
            break;
        }
        off += (len + 3) & !3;
        if let Ok(msg) = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&rest[..len]) {
            match msg.payload {
                NetlinkPayload::InnerMessage(inner) => out.extend(decode(&inner)),
                NetlinkPayload::Overrun(_) => out.push(Notification::Overrun),
                _ => {}
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handle::encode;
    use netlink_packet_route::route::RouteHeader;

    #[test]
    fn decodes_a_route_deletion_from_its_bytes() {
        let mut m = RouteMessage::default();
        m.header = RouteHeader {
            address_family: AddressFamily::Inet6,
            destination_prefix_length: 64,
            table: 254,
            ..RouteHeader::default()
        };
        m.attributes
            .push(RouteAttribute::Destination(RouteAddress::Inet6(
                "fd00:1::".parse().unwrap(),
            )));
        m.attributes.push(RouteAttribute::Oif(7));
        let mut bytes = encode(RouteNetlinkMessage::DelRoute(m), 0);
        // Two messages in one datagram.
        bytes.extend(encode(
            RouteNetlinkMessage::DelLink(LinkMessage::default()),
            0,
        ));
        let got = parse_datagram(&bytes);
        assert_eq!(
            got[0],
            Notification::Route {
                change: Change::Del,
                dst: Some("fd00:1::/64".parse().unwrap()),
                table: 254,
                oif: Some(7)
            }
        );
        assert!(matches!(
            got[1],
            Notification::Link {
                change: Change::Del,
                index: 0,
                ..
            }
        ));
        assert_eq!(parse_datagram(&bytes[..10]), Vec::new());
    }
}
