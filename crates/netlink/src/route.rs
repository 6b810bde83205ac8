//! Routes: add, delete and list unicast routes described by [`RouteSpec`].

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;
use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteFlags, RouteHeader, RouteMessage, RouteMetric,
    RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};

use crate::error::NetlinkError;
use crate::handle::{Ctx, Handle};

/// RT_TABLE_MAIN
pub const TABLE_MAIN: u32 = 254;
/// RT_TABLE_LOCAL
pub const TABLE_LOCAL: u32 = 255;
/// RT_SCOPE_UNIVERSE
pub const SCOPE_UNIVERSE: u8 = 0;
/// RT_SCOPE_LINK
pub const SCOPE_LINK: u8 = 253;
/// RT_SCOPE_HOST
pub const SCOPE_HOST: u8 = 254;
const RT_TABLE_COMPAT: u8 = 252;

/// IP address family selector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpFamily {
    /// IPv4
    V4,
    /// IPv6
    V6,
}

/// A unicast route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteSpec {
    /// Destination (0.0.0.0/0 or ::/0 for the default route).
    pub dst: IpNet,
    /// Gateway; must be of the same family as `dst`.
    pub gw: Option<IpAddr>,
    /// Output interface index.
    pub oif: Option<u32>,
    /// Metric (RTA_PRIORITY).
    pub priority: Option<u32>,
    /// Routing table; None means main on add/delete.
    pub table: Option<u32>,
    /// Scope; None on add means link scope without a gateway, universe with one.
    pub scope: Option<u8>,
    /// RTAX_MTU metric.
    pub mtu: Option<u32>,
    /// RTAX_ADVMSS metric.
    pub advmss: Option<u32>,
}

impl RouteSpec {
    /// A route to `dst` with everything else unset.
    pub fn new(dst: IpNet) -> RouteSpec {
        RouteSpec {
            dst,
            gw: None,
            oif: None,
            priority: None,
            table: None,
            scope: None,
            mtu: None,
            advmss: None,
        }
    }

    pub(crate) fn describe(&self) -> String {
        let mut s = format!("route {}", self.dst);
        if let Some(gw) = self.gw {
            s.push_str(&format!(" via {gw}"));
        }
        if let Some(oif) = self.oif {
            s.push_str(&format!(" dev {oif}"));
        }
        if let Some(t) = self.table {
            s.push_str(&format!(" table {t}"));
        }
        s
    }
}

fn family(ip: &IpNet) -> AddressFamily {
    match ip {
        IpNet::V4(_) => AddressFamily::Inet,
        IpNet::V6(_) => AddressFamily::Inet6,
    }
}

/// Build the RTM_NEWROUTE / RTM_DELROUTE message for `spec`.
pub(crate) fn route_message(
    spec: &RouteSpec,
    delete: bool,
    ctx: &Ctx,
) -> Result<RouteMessage, NetlinkError> {
    if let Some(gw) = spec.gw {
        if gw.is_ipv4() != matches!(spec.dst, IpNet::V4(_)) {
            return Err(ctx.invalid("gateway and destination are of different IP families"));
        }
    }
    let table = spec.table.unwrap_or(TABLE_MAIN);
    let mut msg = RouteMessage::default();
    msg.header.address_family = family(&spec.dst);
    msg.header.destination_prefix_length = spec.dst.prefix_len();
    msg.header.table = u8::try_from(table).unwrap_or(RT_TABLE_COMPAT);
    if delete {
        msg.header.protocol = RouteProtocol::Unspec;
        msg.header.scope = spec.scope.map_or(RouteScope::NoWhere, RouteScope::from);
        msg.header.kind = RouteType::Unspec;
    } else {
        msg.header.protocol = RouteProtocol::Boot;
        let default_scope = if spec.gw.is_some() {
            SCOPE_UNIVERSE
        } else {
            SCOPE_LINK
        };
        msg.header.scope = RouteScope::from(spec.scope.unwrap_or(default_scope));
        msg.header.kind = RouteType::Unicast;
    }
    let attrs = &mut msg.attributes;
    attrs.push(RouteAttribute::Table(table));
    if spec.dst.prefix_len() > 0 {
        attrs.push(RouteAttribute::Destination(RouteAddress::from(
            spec.dst.network(),
        )));
    }
    if let Some(gw) = spec.gw {
        attrs.push(RouteAttribute::Gateway(RouteAddress::from(gw)));
    }
    if let Some(oif) = spec.oif {
        attrs.push(RouteAttribute::Oif(oif));
    }
    if let Some(p) = spec.priority {
        attrs.push(RouteAttribute::Priority(p));
    }
    let mut metrics = Vec::new();
    if let Some(mtu) = spec.mtu {
        metrics.push(RouteMetric::Mtu(mtu));
    }
    if let Some(advmss) = spec.advmss {
        metrics.push(RouteMetric::Advmss(advmss));
    }
    if !metrics.is_empty() && !delete {
        attrs.push(RouteAttribute::Metrics(metrics));
    }
    Ok(msg)
}

fn route_addr(a: &RouteAddress) -> Option<IpAddr> {
    match a {
        RouteAddress::Inet(v4) => Some(IpAddr::V4(*v4)),
        RouteAddress::Inet6(v6) => Some(IpAddr::V6(*v6)),
        _ => None,
    }
}

/// Turn a dumped route into a [`RouteSpec`]; None for non-unicast routes.
fn route_spec(msg: &RouteMessage) -> Option<RouteSpec> {
    let h: &RouteHeader = &msg.header;
    if h.kind != RouteType::Unicast {
        return None;
    }
    let unspecified = match h.address_family {
        AddressFamily::Inet => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        AddressFamily::Inet6 => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        _ => return None,
    };
    let mut dst = unspecified;
    let mut spec = RouteSpec::new(IpNet::new(unspecified, 0).ok()?);
    spec.table = Some(u32::from(h.table));
    spec.scope = Some(u8::from(h.scope));
    for attr in &msg.attributes {
        match attr {
            RouteAttribute::Destination(a) => dst = route_addr(a)?,
            RouteAttribute::Gateway(a) => spec.gw = route_addr(a),
            RouteAttribute::Oif(i) => spec.oif = Some(*i),
            RouteAttribute::Priority(p) => spec.priority = Some(*p),
            RouteAttribute::Table(t) => spec.table = Some(*t),
            RouteAttribute::Metrics(ms) => {
                for m in ms {
                    match m {
                        RouteMetric::Mtu(v) => spec.mtu = Some(*v),
                        RouteMetric::Advmss(v) => spec.advmss = Some(*v),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    spec.dst = IpNet::new(dst, h.destination_prefix_length).ok()?;
    Some(spec)
}

impl Handle {
    /// Add a route. Returns `Ok(false)` if an identical route already exists.
    pub fn add_route(&mut self, spec: &RouteSpec) -> Result<bool, NetlinkError> {
        let ctx = Ctx::new("add", spec.describe());
        let msg = route_message(spec, false, &ctx)?;
        match self.request(
            RouteNetlinkMessage::NewRoute(msg),
            NLM_F_CREATE | NLM_F_EXCL,
            &ctx,
        ) {
            Ok(_) => Ok(true),
            Err(e) if e.is_exists() => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Add a route whose gateway is on-link by decree (`onlink`: the
    /// gateway need not be in a connected subnet), replacing an existing
    /// route to the same destination. Used for routes through a VXLAN device.
    pub fn replace_route_onlink(&mut self, spec: &RouteSpec) -> Result<(), NetlinkError> {
        let ctx = Ctx::new("replace", format!("{} onlink", spec.describe()));
        let mut msg = route_message(spec, false, &ctx)?;
        msg.header.flags |= RouteFlags::Onlink;
        self.request(
            RouteNetlinkMessage::NewRoute(msg),
            NLM_F_CREATE | NLM_F_REPLACE,
            &ctx,
        )?;
        Ok(())
    }

    /// Delete a route (matching dst, table and the given gateway/oif/priority).
    /// Returns `Ok(false)` if no such route exists.
    pub fn del_route(&mut self, spec: &RouteSpec) -> Result<bool, NetlinkError> {
        let ctx = Ctx::new("delete", spec.describe());
        let msg = route_message(spec, true, &ctx)?;
        match self.request(RouteNetlinkMessage::DelRoute(msg), 0, &ctx) {
            Ok(_) => Ok(true),
            Err(e) if e.errno() == Some(libc::ESRCH) || e.errno() == Some(libc::ENOENT) => {
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    /// Unicast routes of one family, from table `table` (all tables if None).
    /// Multipath routes are returned without gateway/oif.
    pub fn routes(
        &mut self,
        family: IpFamily,
        table: Option<u32>,
    ) -> Result<Vec<RouteSpec>, NetlinkError> {
        let (af, label) = match family {
            IpFamily::V4 => (AddressFamily::Inet, "IPv4 routes"),
            IpFamily::V6 => (AddressFamily::Inet6, "IPv6 routes"),
        };
        let ctx = Ctx::new("list", label);
        let mut msg = RouteMessage::default();
        msg.header.address_family = af;
        let replies = self.dump(RouteNetlinkMessage::GetRoute(msg), &ctx)?;
        Ok(replies
            .iter()
            .filter_map(|r| match r {
                RouteNetlinkMessage::NewRoute(m) => route_spec(m),
                _ => None,
            })
            .filter(|r| table.is_none() || r.table == table)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> Ctx {
        Ctx::new("add", "route")
    }

    #[test]
    fn default_route_has_no_dst_and_universe_scope() {
        let mut spec = RouteSpec::new("0.0.0.0/0".parse().unwrap());
        spec.gw = Some("10.0.0.1".parse().unwrap());
        let m = route_message(&spec, false, &ctx()).unwrap();
        assert_eq!(m.header.destination_prefix_length, 0);
        assert_eq!(m.header.scope, RouteScope::Universe);
        assert_eq!(m.header.table, 254);
        assert!(!m
            .attributes
            .iter()
            .any(|a| matches!(a, RouteAttribute::Destination(_))));
        let back = route_spec(&m).unwrap();
        assert_eq!(back.dst, spec.dst);
        assert_eq!(back.gw, spec.gw);
        assert_eq!(back.table, Some(TABLE_MAIN));
    }

    #[test]
    fn link_scope_without_gateway_and_metrics_roundtrip() {
        let mut spec = RouteSpec::new("fd00:1::/64".parse().unwrap());
        spec.oif = Some(3);
        spec.priority = Some(100);
        spec.mtu = Some(1400);
        spec.advmss = Some(1300);
        spec.table = Some(1000);
        let m = route_message(&spec, false, &ctx()).unwrap();
        assert_eq!(m.header.scope, RouteScope::Link);
        assert_eq!(m.header.table, RT_TABLE_COMPAT);
        let back = route_spec(&m).unwrap();
        assert_eq!(back.dst, spec.dst);
        assert_eq!(
            (back.oif, back.priority, back.table),
            (Some(3), Some(100), Some(1000))
        );
        assert_eq!((back.mtu, back.advmss), (Some(1400), Some(1300)));
        assert_eq!(back.scope, Some(SCOPE_LINK));
    }

    #[test]
    fn delete_is_wildcard_and_family_mismatch_rejected() {
        let mut spec = RouteSpec::new("10.0.0.0/8".parse().unwrap());
        let m = route_message(&spec, true, &ctx()).unwrap();
        assert_eq!(m.header.scope, RouteScope::NoWhere);
        assert_eq!(m.header.protocol, RouteProtocol::Unspec);
        assert!(route_spec(&m).is_none(), "non-unicast type is not listed");
        spec.gw = Some("fd00::1".parse().unwrap());
        let e = route_message(&spec, false, &ctx()).unwrap_err();
        assert!(e.to_string().contains("different IP families"), "{e}");
        assert_eq!(spec.describe(), "route 10.0.0.0/8 via fd00::1");
    }
}
