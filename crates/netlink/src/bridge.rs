//! Bridge port settings (hairpin, isolation) and bridge VLAN membership,
//! all spoken with family AF_BRIDGE.

use netlink_packet_core::DefaultNla;
use netlink_packet_route::link::{
    AfSpecBridge, BridgeFlag, BridgeVlanInfo, BridgeVlanInfoFlags, LinkAttribute, LinkExtentMask,
    LinkMessage, LinkProtoInfoBridge,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};

use crate::error::NetlinkError;
use crate::handle::{Ctx, Handle};

const IFLA_BRPORT_MODE: u16 = 4;
const IFLA_BRPORT_ISOLATED: u16 = 33;
/// Highest valid VLAN id (4095 is reserved).
pub const MAX_VID: u16 = 4094;

/// One VLAN of a bridge port (or of the bridge itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct BridgeVlan {
    /// VLAN id, 1..=4094.
    pub vid: u16,
    /// Untagged ingress frames are assigned to this VLAN.
    pub pvid: bool,
    /// Frames egress untagged.
    pub untagged: bool,
}

/// Hairpin and isolation of a bridge port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BrportInfo {
    /// IFLA_BRPORT_MODE (hairpin / reflective relay).
    pub hairpin: bool,
    /// IFLA_BRPORT_ISOLATED.
    pub isolated: bool,
}

fn bridge_message(index: u32) -> LinkMessage {
    let mut msg = LinkMessage::default();
    msg.header.interface_family = AddressFamily::Bridge;
    msg.header.index = index;
    msg
}

fn check_vid(vid: u16, ctx: &Ctx) -> Result<(), NetlinkError> {
    if vid == 0 || vid > MAX_VID {
        return Err(ctx.invalid(format!("VLAN id {vid} outside 1..={MAX_VID}")));
    }
    Ok(())
}

/// RTM_SETLINK (add) or RTM_DELLINK (delete) for one VLAN, family AF_BRIDGE,
/// IFLA_AF_SPEC { [IFLA_BRIDGE_FLAGS = SELF,] IFLA_BRIDGE_VLAN_INFO }.
fn vlan_request(
    index: u32,
    vlan: BridgeVlan,
    on_bridge_itself: bool,
    add: bool,
) -> RouteNetlinkMessage {
    let mut flags = BridgeVlanInfoFlags::empty();
    if vlan.pvid {
        flags |= BridgeVlanInfoFlags::Pvid;
    }
    if vlan.untagged {
        flags |= BridgeVlanInfoFlags::Untagged;
    }
    let mut spec = Vec::new();
    if on_bridge_itself {
        spec.push(AfSpecBridge::Flags(BridgeFlag::LowerDev));
    }
    spec.push(AfSpecBridge::VlanInfo(BridgeVlanInfo {
        flags,
        vid: vlan.vid,
    }));
    let mut msg = bridge_message(index);
    msg.attributes.push(LinkAttribute::AfSpecBridge(spec));
    if add {
        RouteNetlinkMessage::SetLink(msg)
    } else {
        RouteNetlinkMessage::DelLink(msg)
    }
}

/// Collect the VLANs of `index` from AF_BRIDGE link messages, expanding ranges.
fn vlans_of(index: u32, msgs: &[RouteNetlinkMessage]) -> Vec<BridgeVlan> {
    let mut out = Vec::new();
    let mut range_start: Option<u16> = None;
    let link_msgs = msgs.iter().filter_map(|m| match m {
        RouteNetlinkMessage::NewLink(l) if l.header.index == index => Some(l),
        _ => None,
    });
    for msg in link_msgs {
        for attr in &msg.attributes {
            let LinkAttribute::AfSpecBridge(specs) = attr else {
                continue;
            };
            for spec in specs {
                let AfSpecBridge::VlanInfo(info) = spec else {
                    continue;
                };
                let entry = |vid| BridgeVlan {
                    vid,
                    pvid: info.flags.contains(BridgeVlanInfoFlags::Pvid),
                    untagged: info.flags.contains(BridgeVlanInfoFlags::Untagged),
                };
                if info.flags.contains(BridgeVlanInfoFlags::RangeBegin) {
                    range_start = Some(info.vid);
                } else if info.flags.contains(BridgeVlanInfoFlags::RangeEnd) {
                    let start = range_start.take().unwrap_or(info.vid);
                    out.extend((start..=info.vid).map(entry));
                } else {
                    out.push(entry(info.vid));
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

impl Handle {
    fn set_brport_flag(
        &mut self,
        op: &'static str,
        index: u32,
        kind: u16,
        on: bool,
    ) -> Result<(), NetlinkError> {
        self.on_link(op, index, |h, ctx| {
            let mut msg = bridge_message(index);
            msg.attributes.push(LinkAttribute::ProtoInfoBridge(vec![
                LinkProtoInfoBridge::Other(DefaultNla::new(kind, vec![u8::from(on)])),
            ]));
            h.request(RouteNetlinkMessage::SetLink(msg), 0, ctx)
                .map(|_| ())
        })
    }

    /// Turn hairpin mode of a bridge port on or off.
    pub fn set_brport_hairpin(&mut self, index: u32, on: bool) -> Result<(), NetlinkError> {
        self.set_brport_flag("set bridge port hairpin", index, IFLA_BRPORT_MODE, on)
    }

    /// Turn isolation of a bridge port on or off.
    pub fn set_brport_isolated(&mut self, index: u32, on: bool) -> Result<(), NetlinkError> {
        self.set_brport_flag("set bridge port isolated", index, IFLA_BRPORT_ISOLATED, on)
    }

    /// Hairpin/isolation of a bridge port; `Ok(None)` if the link does not
    /// exist or is not a bridge port.
    pub fn brport_info(&mut self, index: u32) -> Result<Option<BrportInfo>, NetlinkError> {
        Ok(self.link_by_index(index)?.and_then(|l| {
            Some(BrportInfo {
                hairpin: l.hairpin?,
                isolated: l.isolated.unwrap_or(false),
            })
        }))
    }

    fn bridge_vlan_change(
        &mut self,
        op: &'static str,
        index: u32,
        vlan: BridgeVlan,
        on_bridge_itself: bool,
        add: bool,
    ) -> Result<(), NetlinkError> {
        self.on_link(op, index, |h, ctx| {
            check_vid(vlan.vid, ctx)?;
            h.request(vlan_request(index, vlan, on_bridge_itself, add), 0, ctx)
                .map(|_| ())
        })
    }

    /// Add (or update the flags of) a VLAN on a bridge port.
    pub fn bridge_vlan_add(
        &mut self,
        index: u32,
        vid: u16,
        pvid: bool,
        untagged: bool,
    ) -> Result<(), NetlinkError> {
        let vlan = BridgeVlan {
            vid,
            pvid,
            untagged,
        };
        self.bridge_vlan_change("add bridge vlan", index, vlan, false, true)
    }

    /// Add a VLAN on the bridge device itself (`bridge vlan add ... self`).
    pub fn bridge_vlan_add_self(
        &mut self,
        bridge_index: u32,
        vid: u16,
        pvid: bool,
        untagged: bool,
    ) -> Result<(), NetlinkError> {
        let vlan = BridgeVlan {
            vid,
            pvid,
            untagged,
        };
        self.bridge_vlan_change("add bridge vlan (self)", bridge_index, vlan, true, true)
    }

    /// Remove a VLAN from a bridge port.
    pub fn bridge_vlan_del(&mut self, index: u32, vid: u16) -> Result<(), NetlinkError> {
        let vlan = BridgeVlan {
            vid,
            pvid: false,
            untagged: false,
        };
        self.bridge_vlan_change("delete bridge vlan", index, vlan, false, false)
    }

    /// Remove a VLAN from the bridge device itself.
    pub fn bridge_vlan_del_self(
        &mut self,
        bridge_index: u32,
        vid: u16,
    ) -> Result<(), NetlinkError> {
        let vlan = BridgeVlan {
            vid,
            pvid: false,
            untagged: false,
        };
        self.bridge_vlan_change("delete bridge vlan (self)", bridge_index, vlan, true, false)
    }

    /// The VLANs of a bridge port or bridge (AF_BRIDGE dump with
    /// RTEXT_FILTER_BRVLAN, filtered to `index`). Empty when the bridge does
    /// not filter VLANs or the link is not part of a bridge.
    pub fn bridge_vlans(&mut self, index: u32) -> Result<Vec<BridgeVlan>, NetlinkError> {
        let ctx = Ctx::new("list bridge vlans of", format!("link {index}"));
        let mut msg = bridge_message(0);
        msg.attributes
            .push(LinkAttribute::ExtMask(vec![LinkExtentMask::Brvlan]));
        let replies = self.dump(RouteNetlinkMessage::GetLink(msg), &ctx)?;
        Ok(vlans_of(index, &replies))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vlan_msg(index: u32, infos: &[(u16, BridgeVlanInfoFlags)]) -> RouteNetlinkMessage {
        let mut m = bridge_message(index);
        m.attributes.push(LinkAttribute::AfSpecBridge(
            infos
                .iter()
                .map(|(vid, flags)| {
                    AfSpecBridge::VlanInfo(BridgeVlanInfo {
                        flags: *flags,
                        vid: *vid,
                    })
                })
                .collect(),
        ));
        RouteNetlinkMessage::NewLink(m)
    }

    #[test]
    fn filters_by_index_and_expands_ranges() {
        let pu = BridgeVlanInfoFlags::Pvid | BridgeVlanInfoFlags::Untagged;
        let msgs = vec![
            vlan_msg(3, &[(7, BridgeVlanInfoFlags::empty())]),
            vlan_msg(
                5,
                &[
                    (1, pu),
                    (10, BridgeVlanInfoFlags::RangeBegin),
                    (12, BridgeVlanInfoFlags::RangeEnd),
                    (100, BridgeVlanInfoFlags::Untagged),
                ],
            ),
        ];
        let got = vlans_of(5, &msgs);
        let want = vec![
            BridgeVlan {
                vid: 1,
                pvid: true,
                untagged: true,
            },
            BridgeVlan {
                vid: 10,
                pvid: false,
                untagged: false,
            },
            BridgeVlan {
                vid: 11,
                pvid: false,
                untagged: false,
            },
            BridgeVlan {
                vid: 12,
                pvid: false,
                untagged: false,
            },
            BridgeVlan {
                vid: 100,
                pvid: false,
                untagged: true,
            },
        ];
        assert_eq!(got, want);
        assert!(vlans_of(9, &msgs).is_empty());
    }

    fn emit(msg: &RouteNetlinkMessage) -> (u16, Vec<u8>) {
        use netlink_packet_core::NetlinkSerializable;
        let mut buf = vec![0u8; NetlinkSerializable::buffer_len(msg)];
        NetlinkSerializable::serialize(msg, &mut buf);
        (msg.message_type(), buf)
    }

    #[test]
    fn vlan_request_wire_format() {
        let vlan = BridgeVlan {
            vid: 100,
            pvid: true,
            untagged: true,
        };
        let (ty, b) = emit(&vlan_request(7, vlan, false, true));
        assert_eq!(ty, libc::RTM_SETLINK);
        // ifinfomsg: family AF_BRIDGE, pad, type, index 7, flags, change
        assert_eq!(b[0], libc::AF_BRIDGE as u8);
        assert_eq!(&b[4..8], &7i32.to_ne_bytes());
        // IFLA_AF_SPEC (26), len 4 + 8
        assert_eq!(&b[16..20], &[12, 0, 26, 0]);
        // IFLA_BRIDGE_VLAN_INFO (2): flags PVID|UNTAGGED = 6, vid 100
        assert_eq!(&b[20..24], &[8, 0, 2, 0]);
        assert_eq!(&b[24..28], &[6, 0, 100, 0]);
        assert_eq!(b.len(), 28);

        let (ty, b) = emit(&vlan_request(
            3,
            BridgeVlan {
                vid: 5,
                pvid: false,
                untagged: false,
            },
            true,
            false,
        ));
        assert_eq!(ty, libc::RTM_DELLINK);
        // IFLA_BRIDGE_FLAGS (0) = BRIDGE_FLAGS_SELF (2), then the vlan info
        assert_eq!(&b[16..20], &[20, 0, 26, 0]);
        assert_eq!(&b[20..26], &[6, 0, 0, 0, 2, 0]);
        assert_eq!(&b[28..36], &[8, 0, 2, 0, 0, 0, 5, 0]);
    }

    #[test]
    fn vid_bounds() {
        let ctx = Ctx::new("add bridge vlan", "link 3");
        assert!(check_vid(1, &ctx).is_ok());
        assert!(check_vid(4094, &ctx).is_ok());
        assert!(check_vid(0, &ctx).is_err());
        let e = check_vid(4095, &ctx).unwrap_err();
        assert_eq!(
            e.to_string(),
            "add bridge vlan link 3: invalid argument: VLAN id 4095 outside 1..=4094"
        );
    }
}
