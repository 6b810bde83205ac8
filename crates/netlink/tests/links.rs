//! Root tests for links: bridges, veth pairs across namespaces, flags, master,
//! bridge port options, VLANs, namespaces moves and error messages.

mod common;

use cnm_netlink::{BridgeVlan, BrportInfo, Handle, OperState, VethSpec};
use common::{root_or_skip, TestNs};

const BR_MAC: [u8; 6] = [0x02, 0x42, 0xac, 0x11, 0x00, 0x01];
const VETH_MAC: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x0a];
const PEER_MAC: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x0b];

#[test]
fn bridge_veth_master_hairpin() {
    if !root_or_skip() {
        return;
    }
    let host = TestNs::new("host");
    let cont = TestNs::new("cont");
    let mut h = host.handle();
    let mut hc = cont.handle();

    // bridge: fixed mac, mtu; second create reports "exists"
    assert!(h
        .create_bridge("cnmbr0", Some(1400), false, Some(BR_MAC))
        .unwrap());
    assert!(!h
        .create_bridge("cnmbr0", Some(1400), false, Some(BR_MAC))
        .unwrap());
    let br = h.link_by_name("cnmbr0").unwrap().unwrap();
    assert_eq!(br.kind.as_deref(), Some("bridge"));
    assert_eq!(br.mac, Some(BR_MAC));
    assert_eq!(br.mtu, 1400);
    assert_eq!(br.vlan_filtering, Some(false));
    assert!(!br.up);
    assert_eq!(h.link_by_index(br.index).unwrap().unwrap().name, "cnmbr0");

    // veth with the peer created directly in the container namespace
    h.create_veth(&VethSpec {
        name: "veth0",
        peer_name: "eth0",
        mtu: Some(1400),
        mac: Some(VETH_MAC),
        peer_mac: Some(PEER_MAC),
        peer_netns: Some(cont.ns.fd()),
        alias: None,
    })
    .unwrap();
    let veth = h.link_by_name("veth0").unwrap().unwrap();
    assert_eq!(veth.kind.as_deref(), Some("veth"));
    assert_eq!(veth.mac, Some(VETH_MAC));
    assert_eq!(veth.mtu, 1400);
    assert!(veth.link_netnsid.is_some(), "peer lives in another netns");
    assert!(
        h.link_by_name("eth0").unwrap().is_none(),
        "peer not in host ns"
    );
    let peer = hc.link_by_name("eth0").unwrap().unwrap();
    assert_eq!(peer.mac, Some(PEER_MAC));
    assert_eq!(peer.mtu, 1400);
    assert_eq!(veth.link, Some(peer.index), "IFLA_LINK is the peer's index");

    // master + up
    h.set_master(veth.index, br.index).unwrap();
    h.set_up(veth.index).unwrap();
    h.set_up(br.index).unwrap();
    hc.set_up(peer.index).unwrap();
    let veth = h.link_by_index(veth.index).unwrap().unwrap();
    assert_eq!(veth.master, Some(br.index));
    assert!(veth.up);
    assert_eq!(
        h.link_by_index(br.index).unwrap().unwrap().mac,
        Some(BR_MAC),
        "bridge mac stays fixed"
    );
    let j = host.ip_json(&["-d", "link", "show", "veth0"]);
    assert_eq!(j[0]["master"], "cnmbr0");
    assert_eq!(j[0]["operstate"], "UP");

    // bridge port options
    assert_eq!(
        h.brport_info(veth.index).unwrap(),
        Some(BrportInfo {
            hairpin: false,
            isolated: false
        })
    );
    h.set_brport_hairpin(veth.index, true).unwrap();
    h.set_brport_isolated(veth.index, true).unwrap();
    assert_eq!(
        h.brport_info(veth.index).unwrap(),
        Some(BrportInfo {
            hairpin: true,
            isolated: true
        })
    );
    let j = host.ip_json(&["-d", "link", "show", "veth0"]);
    assert_eq!(j[0]["linkinfo"]["info_slave_data"]["hairpin"], true);
    assert_eq!(j[0]["linkinfo"]["info_slave_data"]["isolated"], true);
    h.set_brport_isolated(veth.index, false).unwrap();
    assert_eq!(
        h.brport_info(veth.index).unwrap().map(|b| b.isolated),
        Some(false)
    );
    assert_eq!(
        h.brport_info(br.index).unwrap(),
        None,
        "a bridge is no port"
    );

    // the AF_BRIDGE dump works on any kernel; without VLAN filtering support
    // it reports nothing, otherwise only the default pvid 1
    let vlans = h.bridge_vlans(veth.index).unwrap();
    assert!(vlans.iter().all(|v| v.vid == 1), "{vlans:?}");

    // promisc, mtu, mac, down, nomaster
    h.set_promisc(veth.index, true).unwrap();
    assert!(h.link_by_index(veth.index).unwrap().unwrap().promisc);
    h.set_promisc(veth.index, false).unwrap();
    assert!(!h.link_by_index(veth.index).unwrap().unwrap().promisc);
    h.set_mtu(veth.index, 1300).unwrap();
    h.set_mac(veth.index, [0x02, 0, 0, 0, 0, 0x0c]).unwrap();
    h.set_down(veth.index).unwrap();
    h.set_nomaster(veth.index).unwrap();
    let v = h.link_by_index(veth.index).unwrap().unwrap();
    assert_eq!(v.mtu, 1300);
    assert_eq!(v.mac, Some([0x02, 0, 0, 0, 0, 0x0c]));
    assert!(!v.up);
    assert_eq!(v.oper_state, OperState::Down);
    assert_eq!(v.master, None);
    assert_eq!(v.hairpin, None);

    // delete twice (by index, then by name), peer goes with it
    assert!(h.delete_link(veth.index).unwrap());
    assert!(!h.delete_link(veth.index).unwrap());
    assert!(!h.delete_link("veth0").unwrap());
    assert!(hc.link_by_name("eth0").unwrap().is_none());
    assert!(h.delete_link("cnmbr0").unwrap());
    assert!(!h.delete_link("cnmbr0").unwrap());
    assert!(h.link_by_name("cnmbr0").unwrap().is_none());
}

#[test]
fn move_to_netns_and_handle_new_in_thread() {
    if !root_or_skip() {
        return;
    }
    let a = TestNs::new("mva");
    let b = TestNs::new("mvb");
    let mut ha = a.handle();
    ha.create_veth(&VethSpec {
        name: "va",
        peer_name: "vb",
        mtu: None,
        mac: None,
        peer_mac: None,
        peer_netns: None,
        alias: None,
    })
    .unwrap();
    let vb = ha.link_by_name("vb").unwrap().unwrap();
    assert_eq!(vb.link_netnsid, None, "both ends in the same namespace");
    ha.set_netns(vb.index, b.ns.fd()).unwrap();
    assert!(ha.link_by_name("vb").unwrap().is_none());
    // Handle::new() inside a thread that entered b
    let found =
        b.ns.run_in(|| {
            let mut hb = Handle::new().unwrap();
            hb.link_by_name("vb").unwrap().map(|l| l.name)
        })
        .unwrap();
    assert_eq!(found.as_deref(), Some("vb"));
    let lo = b.handle().link_by_name("lo").unwrap().unwrap();
    assert_eq!(lo.index, 1);
    assert_eq!(lo.kind, None);
}

#[test]
fn errors_name_the_link_and_carry_ext_ack() {
    if !root_or_skip() {
        return;
    }
    let ns = TestNs::new("err");
    let mut h = ns.handle();
    assert!(h.link_by_name("nosuchlink").unwrap().is_none());
    assert!(h.link_by_index(99999).unwrap().is_none());

    let e = h.set_up(99999).unwrap_err();
    assert_eq!(e.errno(), Some(libc::ENODEV));
    assert!(e.to_string().starts_with("set up link 99999: "), "{e}");

    h.create_veth(&VethSpec {
        name: "e0",
        peer_name: "e1",
        mtu: None,
        mac: None,
        peer_mac: None,
        peer_netns: None,
        alias: None,
    })
    .unwrap();
    let e0 = h.link_by_name("e0").unwrap().unwrap();
    // kernel error on an existing link: relabelled with its name
    let e = h.set_master(e0.index, 99999).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.starts_with(&format!("set master link {} (e0): ", e0.index)),
        "{msg}"
    );

    // EEXIST for a veth is an error naming both ends
    let e = h
        .create_veth(&VethSpec {
            name: "e0",
            peer_name: "e2",
            mtu: None,
            mac: None,
            peer_mac: None,
            peer_netns: None,
            alias: None,
        })
        .unwrap_err();
    assert!(e.is_exists(), "{e}");
    assert!(e.to_string().contains("\"e0\""), "{e}");

    // extended ack from the kernel
    let e = h.set_mtu(e0.index, 10).unwrap_err();
    assert_eq!(e.errno(), Some(libc::EINVAL));
    match &e {
        cnm_netlink::NetlinkError::Kernel { ext_ack, .. } => {
            let m = ext_ack.as_deref().unwrap_or_default();
            assert!(m.contains("mtu") || m.contains("MTU"), "ext ack: {m:?}");
        }
        other => panic!("unexpected {other}"),
    }
    assert!(e.to_string().contains("(e0)"), "{e}");

    // bad names are rejected before talking to the kernel
    let e = h
        .create_bridge("this-name-is-too-long", None, false, None)
        .unwrap_err();
    assert!(e.to_string().contains("this-name-is-too-long"), "{e}");
}

#[test]
fn bridge_vlan_filtering() {
    if !root_or_skip() {
        return;
    }
    let ns = TestNs::new("vlan");
    let mut h = ns.handle();
    match h.create_bridge("cnmbr1", None, true, None) {
        Ok(created) => assert!(created),
        Err(e) if e.errno() == Some(libc::EOPNOTSUPP) => {
            println!("skipped: kernel without CONFIG_BRIDGE_VLAN_FILTERING ({e})");
            return;
        }
        Err(e) => panic!("{e}"),
    }
    let br = h.link_by_name("cnmbr1").unwrap().unwrap();
    assert_eq!(br.vlan_filtering, Some(true));
    h.create_veth(&VethSpec {
        name: "vp0",
        peer_name: "vp1",
        mtu: None,
        mac: None,
        peer_mac: None,
        peer_netns: None,
        alias: None,
    })
    .unwrap();
    let veth = h.link_by_name("vp0").unwrap().unwrap();
    h.set_master(veth.index, br.index).unwrap();

    // VLANs: default pvid 1, add tagged 100 and pvid/untagged 200
    let vlans = h.bridge_vlans(veth.index).unwrap();
    assert_eq!(
        vlans,
        vec![BridgeVlan {
            vid: 1,
            pvid: true,
            untagged: true
        }]
    );
    h.bridge_vlan_add(veth.index, 100, false, false).unwrap();
    h.bridge_vlan_add(veth.index, 200, true, true).unwrap();
    let vlans = h.bridge_vlans(veth.index).unwrap();
    assert_eq!(
        vlans,
        vec![
            BridgeVlan {
                vid: 1,
                pvid: false,
                untagged: true
            },
            BridgeVlan {
                vid: 100,
                pvid: false,
                untagged: false
            },
            BridgeVlan {
                vid: 200,
                pvid: true,
                untagged: true
            },
        ]
    );
    h.bridge_vlan_del(veth.index, 100).unwrap();
    assert!(!h
        .bridge_vlans(veth.index)
        .unwrap()
        .iter()
        .any(|v| v.vid == 100));
    h.bridge_vlan_add_self(br.index, 300, false, false).unwrap();
    assert!(h
        .bridge_vlans(br.index)
        .unwrap()
        .iter()
        .any(|v| v.vid == 300));
    h.bridge_vlan_del_self(br.index, 300).unwrap();
    assert!(!h
        .bridge_vlans(br.index)
        .unwrap()
        .iter()
        .any(|v| v.vid == 300));
    let e = h
        .bridge_vlan_add(veth.index, 4095, false, false)
        .unwrap_err();
    assert!(e.to_string().contains("4095"), "{e}");
}
