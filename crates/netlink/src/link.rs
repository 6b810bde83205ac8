//! Link lookups: [`LinkInfo`] and the single-link RTM_GETLINK queries (by name
//! or by index, never a dump).

use netlink_packet_route::link::{
    InfoBridge, InfoBridgePort, InfoData, InfoPortData, LinkAttribute, LinkExtentMask, LinkFlags,
    LinkInfo as NlLinkInfo, LinkMessage, State,
};
use netlink_packet_route::RouteNetlinkMessage;

use crate::error::NetlinkError;
use crate::handle::{Ctx, Handle};

/// Longest interface name the kernel accepts (IFNAMSIZ - 1).
pub const MAX_IFNAME_LEN: usize = cnm_names::MAX_IFNAME_LEN;

/// A link, named either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkRef<'a> {
    /// By interface index.
    Index(u32),
    /// By interface name.
    Name(&'a str),
}

impl From<u32> for LinkRef<'_> {
    fn from(index: u32) -> Self {
        LinkRef::Index(index)
    }
}

impl<'a> From<&'a str> for LinkRef<'a> {
    fn from(name: &'a str) -> Self {
        LinkRef::Name(name)
    }
}

impl std::fmt::Display for LinkRef<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LinkRef::Index(i) => write!(f, "link {i}"),
            LinkRef::Name(n) => write!(f, "link {n:?}"),
        }
    }
}

/// RFC 2863 operational state (IFLA_OPERSTATE).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperState {
    /// IF_OPER_UNKNOWN
    Unknown,
    /// IF_OPER_NOTPRESENT
    NotPresent,
    /// IF_OPER_DOWN
    Down,
    /// IF_OPER_LOWERLAYERDOWN
    LowerLayerDown,
    /// IF_OPER_TESTING
    Testing,
    /// IF_OPER_DORMANT
    Dormant,
    /// IF_OPER_UP
    Up,
    /// Anything else.
    Other(u8),
}

impl From<State> for OperState {
    fn from(s: State) -> Self {
        match s {
            State::Unknown => OperState::Unknown,
            State::NotPresent => OperState::NotPresent,
            State::Down => OperState::Down,
            State::LowerLayerDown => OperState::LowerLayerDown,
            State::Testing => OperState::Testing,
            State::Dormant => OperState::Dormant,
            State::Up => OperState::Up,
            other => OperState::Other(u8::from(other)),
        }
    }
}

/// What the kernel reports about one link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkInfo {
    /// Interface index.
    pub index: u32,
    /// Interface name.
    pub name: String,
    /// IFLA_INFO_KIND ("bridge", "veth", ...); None for physical devices and lo.
    pub kind: Option<String>,
    /// Hardware address when it is 6 bytes long (Ethernet-like links, lo).
    pub mac: Option<[u8; 6]>,
    /// MTU.
    pub mtu: u32,
    /// Administratively up (IFF_UP).
    pub up: bool,
    /// Operational state.
    pub oper_state: OperState,
    /// Index of the master (bridge) device, if enslaved.
    pub master: Option<u32>,
    /// Promiscuous mode requested by user space (IFF_PROMISC).
    pub promisc: bool,
    /// IFLA_LINK: for a veth, the peer's index (in the peer's namespace).
    pub link: Option<u32>,
    /// IFLA_LINK_NETNSID: the namespace id of `link` when it lives in another namespace.
    pub link_netnsid: Option<i32>,
    /// For bridges: IFLA_BR_VLAN_FILTERING.
    pub vlan_filtering: Option<bool>,
    /// For bridge ports: hairpin mode (IFLA_BRPORT_MODE).
    pub hairpin: Option<bool>,
    /// For bridge ports: port isolation (IFLA_BRPORT_ISOLATED).
    pub isolated: Option<bool>,
    /// IFLA_IFALIAS, when set.
    pub alias: Option<String>,
}

impl LinkInfo {
    pub(crate) fn from_message(msg: &LinkMessage) -> LinkInfo {
        let mut info = LinkInfo {
            index: msg.header.index,
            name: String::new(),
            kind: None,
            mac: None,
            mtu: 0,
            up: msg.header.flags.contains(LinkFlags::Up),
            oper_state: OperState::Unknown,
            master: None,
            promisc: msg.header.flags.contains(LinkFlags::Promisc),
            link: None,
            link_netnsid: None,
            vlan_filtering: None,
            hairpin: None,
            isolated: None,
            alias: None,
        };
        for attr in &msg.attributes {
            match attr {
                LinkAttribute::IfName(n) => info.name = n.clone(),
                LinkAttribute::IfAlias(a) if !a.is_empty() => info.alias = Some(a.clone()),
                LinkAttribute::Address(a) => info.mac = <[u8; 6]>::try_from(a.as_slice()).ok(),
                LinkAttribute::Mtu(m) => info.mtu = *m,
                LinkAttribute::OperState(s) => info.oper_state = (*s).into(),
                LinkAttribute::Controller(m) if *m != 0 => info.master = Some(*m),
                LinkAttribute::Link(l) if *l != 0 => info.link = Some(*l),
                LinkAttribute::LinkNetNsId(id) => info.link_netnsid = Some(*id),
                LinkAttribute::LinkInfo(infos) => info.apply_link_info(infos),
                _ => {}
            }
        }
        info
    }

    fn apply_link_info(&mut self, infos: &[NlLinkInfo]) {
        for li in infos {
            match li {
                NlLinkInfo::Kind(k) => self.kind = Some(k.to_string()),
                NlLinkInfo::Data(InfoData::Bridge(opts)) => {
                    for o in opts {
                        if let InfoBridge::VlanFiltering(v) = o {
                            self.vlan_filtering = Some(*v);
                        }
                    }
                }
                NlLinkInfo::PortData(InfoPortData::BridgePort(opts)) => {
                    for o in opts {
                        match o {
                            InfoBridgePort::HairpinMode(v) => self.hairpin = Some(*v),
                            InfoBridgePort::Isolated(v) => self.isolated = Some(*v),
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
    }
}

pub(crate) fn check_ifname(name: &str, ctx: &Ctx) -> Result<(), NetlinkError> {
    cnm_names::validate_ifname(name).map_err(|e| ctx.invalid(e.to_string()))
}

/// Build an empty link message addressing `link`.
pub(crate) fn link_message(link: LinkRef<'_>) -> LinkMessage {
    let mut msg = LinkMessage::default();
    match link {
        LinkRef::Index(i) => msg.header.index = i,
        LinkRef::Name(n) => msg.attributes.push(LinkAttribute::IfName(n.to_string())),
    }
    msg
}

impl Handle {
    /// Look up one link by name (RTM_GETLINK with IFLA_IFNAME). `Ok(None)` if absent.
    pub fn link_by_name(&mut self, name: &str) -> Result<Option<LinkInfo>, NetlinkError> {
        let ctx = Ctx::new("get", LinkRef::Name(name).to_string());
        check_ifname(name, &ctx)?;
        self.get_link(LinkRef::Name(name), &ctx)
    }

    /// Look up one link by index. `Ok(None)` if absent.
    pub fn link_by_index(&mut self, index: u32) -> Result<Option<LinkInfo>, NetlinkError> {
        let ctx = Ctx::new("get", LinkRef::Index(index).to_string());
        if index == 0 {
            return Err(ctx.invalid("interface index 0"));
        }
        self.get_link(LinkRef::Index(index), &ctx)
    }

    /// Every link of the namespace (one RTM_GETLINK dump). Use a lookup by
    /// name or index whenever one will do; this is for GC-style sweeps.
    pub fn links(&mut self) -> Result<Vec<LinkInfo>, NetlinkError> {
        let ctx = Ctx::new("list", "links".to_string());
        let mut msg = LinkMessage::default();
        msg.attributes
            .push(LinkAttribute::ExtMask(vec![LinkExtentMask::SkipStats]));
        let replies = self.dump(RouteNetlinkMessage::GetLink(msg), &ctx)?;
        Ok(replies
            .iter()
            .filter_map(|r| match r {
                RouteNetlinkMessage::NewLink(m) => Some(LinkInfo::from_message(m)),
                _ => None,
            })
            .collect())
    }

    /// Links enslaved to `master` (a bridge's ports): one RTM_GETLINK dump
    /// that the kernel filters by IFLA_MASTER (strict checking is on).
    pub fn links_by_master(&mut self, master: u32) -> Result<Vec<LinkInfo>, NetlinkError> {
        let ctx = Ctx::new("list ports of", LinkRef::Index(master).to_string());
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::Controller(master));
        msg.attributes
            .push(LinkAttribute::ExtMask(vec![LinkExtentMask::SkipStats]));
        let replies = self.dump(RouteNetlinkMessage::GetLink(msg), &ctx)?;
        Ok(replies
            .iter()
            .filter_map(|r| match r {
                RouteNetlinkMessage::NewLink(m) => Some(LinkInfo::from_message(m)),
                _ => None,
            })
            .filter(|l| l.master == Some(master))
            .collect())
    }

    fn get_link(&mut self, link: LinkRef<'_>, ctx: &Ctx) -> Result<Option<LinkInfo>, NetlinkError> {
        let mut msg = link_message(link);
        msg.attributes
            .push(LinkAttribute::ExtMask(vec![LinkExtentMask::SkipStats]));
        match self.request(RouteNetlinkMessage::GetLink(msg), 0, ctx) {
            Ok(replies) => Ok(replies.iter().find_map(|r| match r {
                RouteNetlinkMessage::NewLink(m) => Some(LinkInfo::from_message(m)),
                _ => None,
            })),
            Err(e) if e.errno() == Some(libc::ENODEV) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// A label for error messages: `link 7 (veth1)` when the name is known.
    pub(crate) fn link_label(&mut self, index: u32) -> String {
        match self.link_by_index(index) {
            Ok(Some(l)) => format!("link {index} ({})", l.name),
            _ => format!("link {index}"),
        }
    }

    /// Run `f` with a context naming link `index`; on a kernel error other than
    /// "no such device", the error is re-labelled with the link's name.
    pub(crate) fn on_link<T>(
        &mut self,
        op: &'static str,
        index: u32,
        f: impl FnOnce(&mut Handle, &Ctx) -> Result<T, NetlinkError>,
    ) -> Result<T, NetlinkError> {
        self.on_link_about(op, index, "", f)
    }

    /// Like [`Handle::on_link`], with the target prefixed by `about`
    /// (e.g. "10.0.0.2/24 on ").
    pub(crate) fn on_link_about<T>(
        &mut self,
        op: &'static str,
        index: u32,
        about: &str,
        f: impl FnOnce(&mut Handle, &Ctx) -> Result<T, NetlinkError>,
    ) -> Result<T, NetlinkError> {
        let ctx = Ctx::new(op, format!("{about}{}", LinkRef::Index(index)));
        if index == 0 {
            return Err(ctx.invalid("interface index 0"));
        }
        match f(self, &ctx) {
            Err(e) if e.errno().is_some() && e.errno() != Some(libc::ENODEV) => {
                let label = self.link_label(index);
                Err(e.with_target(format!("{about}{label}")))
            }
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use netlink_packet_route::link::{InfoKind, InfoPortKind};

    #[test]
    fn parses_link_message() {
        let mut m = LinkMessage::default();
        m.header.index = 9;
        m.header.flags = LinkFlags::Up | LinkFlags::Promisc;
        m.attributes = vec![
            LinkAttribute::IfName("veth0".into()),
            LinkAttribute::Address(vec![2, 0, 0, 0, 0, 1]),
            LinkAttribute::Mtu(1400),
            LinkAttribute::OperState(State::Up),
            LinkAttribute::Controller(3),
            LinkAttribute::Link(4),
            LinkAttribute::LinkNetNsId(0),
            LinkAttribute::LinkInfo(vec![
                NlLinkInfo::Kind(InfoKind::Veth),
                NlLinkInfo::PortKind(InfoPortKind::Bridge),
                NlLinkInfo::PortData(InfoPortData::BridgePort(vec![
                    InfoBridgePort::HairpinMode(true),
                    InfoBridgePort::Isolated(false),
                ])),
            ]),
        ];
        let l = LinkInfo::from_message(&m);
        assert_eq!(l.index, 9);
        assert_eq!(l.name, "veth0");
        assert_eq!(l.kind.as_deref(), Some("veth"));
        assert_eq!(l.mac, Some([2, 0, 0, 0, 0, 1]));
        assert_eq!(l.mtu, 1400);
        assert!(l.up && l.promisc);
        assert_eq!(l.oper_state, OperState::Up);
        assert_eq!(l.master, Some(3));
        assert_eq!(l.link, Some(4));
        assert_eq!(l.link_netnsid, Some(0));
        assert_eq!(l.hairpin, Some(true));
        assert_eq!(l.isolated, Some(false));
        assert_eq!(l.vlan_filtering, None);
    }

    #[test]
    fn master_zero_is_none_and_bridge_vlan_filtering() {
        let mut m = LinkMessage::default();
        m.attributes = vec![
            LinkAttribute::Controller(0),
            LinkAttribute::LinkInfo(vec![
                NlLinkInfo::Kind(InfoKind::Bridge),
                NlLinkInfo::Data(InfoData::Bridge(vec![InfoBridge::VlanFiltering(true)])),
            ]),
        ];
        let l = LinkInfo::from_message(&m);
        assert_eq!(l.master, None);
        assert!(!l.up);
        assert_eq!(l.kind.as_deref(), Some("bridge"));
        assert_eq!(l.vlan_filtering, Some(true));
    }

    #[test]
    fn ifname_validation() {
        let ctx = Ctx::new("create", "link");
        assert!(check_ifname("eth0", &ctx).is_ok());
        assert!(check_ifname("123456789012345", &ctx).is_ok());
        assert!(check_ifname("1234567890123456", &ctx).is_err());
        assert!(check_ifname("", &ctx).is_err());
        assert!(check_ifname("a/b", &ctx).is_err());
        assert!(check_ifname("a b", &ctx).is_err());
        let e = check_ifname("..", &Ctx::new("create veth", "link \"..\"")).unwrap_err();
        assert!(e
            .to_string()
            .starts_with("create veth link \"..\": invalid argument"));
    }

    #[test]
    fn link_ref_display() {
        assert_eq!(LinkRef::from(5).to_string(), "link 5");
        assert_eq!(LinkRef::from("br0").to_string(), "link \"br0\"");
    }
}
