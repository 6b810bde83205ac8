//! simplebridge config options take effect in the kernel: `mtu` on a new
//! bridge, the host veth and the container interface; `hairpinMode` on the
//! bridge port; `promiscMode` on the bridge; `vlan` (PVID untagged on the
//! port, or a clear error that leaves nothing behind when the kernel cannot
//! filter VLANs); the container MAC from runtimeConfig.mac > args.cni.mac >
//! CNI_ARGS MAC; and `isDefaultGateway: false` adds no default route.

use cni_conformance::inspect::{
    bridge_ports, bridge_vlans, brport_attr, links_of_kind, vlan_filtering_supported,
};
use cni_conformance::iproute::{link, routes};
use cni_conformance::{require_root, BridgeFixture, Impl, Main, Netns};
use serde_json::{json, Value};

fn fixture() -> BridgeFixture {
    BridgeFixture::new(Main::SimpleBridge, Impl::Ours)
}

fn host_veth(r: &Value) -> String {
    r["interfaces"][1]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn mtu_1400_on_bridge_host_veth_and_container() {
    require_root!();
    let f = fixture();
    let c = f.container("c");
    let mut conf = f.conf("1.1.0");
    conf["mtu"] = json!(1400);
    let r = f.add("ctr", &c, &conf);
    let hv = host_veth(&r);
    let b = link(&f.host, &f.bridge).expect("bridge missing");
    let h = link(&f.host, &hv).expect("host veth missing");
    let e = link(&c, "eth0").expect("eth0 missing");
    assert_eq!(
        (b.mtu, h.mtu, e.mtu),
        (1400, 1400, 1400),
        "{b:?} {h:?} {e:?}"
    );
    for i in 0..3 {
        assert_eq!(r["interfaces"][i]["mtu"], json!(1400), "interface {i}: {r}");
    }
    assert!(c.ping(&f.host_ip(1), 3), "cannot ping the gateway");
}

#[test]
fn hairpin_mode_sets_brport_hairpin() {
    require_root!();
    let f = fixture();
    let c = f.container("c");
    let mut conf = f.conf("1.0.0");
    conf["hairpinMode"] = json!(true);
    let r = f.add("ctr", &c, &conf);
    let h = link(&f.host, &host_veth(&r)).expect("host veth missing");
    assert_eq!(brport_attr(&h, "hairpin"), json!(true), "{h:?}");
    // Control: without hairpinMode the flag is off.
    let c2 = f.container("c2");
    let r2 = f.add("ctr2", &c2, &f.conf("1.0.0"));
    let h2 = link(&f.host, &host_veth(&r2)).expect("host veth missing");
    assert_eq!(brport_attr(&h2, "hairpin"), json!(false), "{h2:?}");
    let mut chk = conf.clone();
    chk["prevResult"] = r;
    f.run("CHECK", &f.env("ctr", &c, "eth0"), &chk).ok_empty();
}

#[test]
fn promisc_mode_sets_bridge_promisc() {
    require_root!();
    let f = fixture();
    let c = f.container("c");
    let mut conf = f.conf("1.0.0");
    conf["promiscMode"] = json!(true);
    f.add("ctr", &c, &conf);
    let b = link(&f.host, &f.bridge).expect("bridge missing");
    assert!(b.flags.iter().any(|x| x == "PROMISC"), "{b:?}");
    // Control: a bridge created without promiscMode is not promiscuous.
    let g = fixture();
    let c2 = g.container("c2");
    g.add("ctr", &c2, &g.conf("1.0.0"));
    let b2 = link(&g.host, &g.bridge).expect("bridge missing");
    assert!(!b2.flags.iter().any(|x| x == "PROMISC"), "{b2:?}");
}

#[test]
fn vlan_100_pvid_untagged_or_clear_error() {
    require_root!();
    let f = fixture();
    let c = f.container("c");
    let mut conf = f.conf("1.0.0");
    conf["vlan"] = json!(100);
    let out = f.run("ADD", &f.env("ctr", &c, "eth0"), &conf);
    if vlan_filtering_supported() {
        let r = out.ok();
        let hv = host_veth(&r);
        let v = bridge_vlans(&f.host, &hv);
        let entries: Vec<Value> = v
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["ifname"] == json!(hv))
            .flat_map(|p| p["vlans"].as_array().cloned().unwrap_or_default())
            .collect();
        let pvid = entries.iter().find(|e| e["vlan"] == json!(100));
        let flags = pvid.map(|e| e["flags"].clone()).unwrap_or(Value::Null);
        assert!(
            flags.as_array().is_some_and(
                |fl| fl.contains(&json!("PVID")) && fl.contains(&json!("Egress Untagged"))
            ),
            "port {hv} lacks VLAN 100 PVID untagged: {v}"
        );
        return;
    }
    let e = out.err(None);
    assert!(
        links_of_kind(&f.host, "veth").is_empty(),
        "veth left in the host ns after a failed VLAN ADD"
    );
    assert!(link(&c, "eth0").is_none(), "eth0 left in the container");
    assert!(
        f.reservations().is_empty(),
        "reservation left: {:?}",
        f.reservations()
    );
    let text = out.err_text().to_lowercase();
    assert!(
        text.contains("vlan") && text.contains(&f.bridge.to_lowercase()),
        "the error must say VLAN filtering is unsupported and name the bridge {}: {e}",
        f.bridge
    );
}

/// ADD with `conf` and CNI_ARGS `args` into a new container kept in `keep`;
/// returns the container MAC (kernel) after checking it equals the result's.
fn mac_of(f: &BridgeFixture, keep: &mut Vec<Netns>, id: &str, conf: &Value, args: &str) -> String {
    let c = f.container(id);
    let r = f
        .run("ADD", &f.env(id, &c, "eth0").with_args(args), conf)
        .ok();
    let e = link(&c, "eth0").expect("eth0 missing");
    assert_eq!(r["interfaces"][2]["mac"], json!(e.address), "{r}");
    keep.push(c);
    e.address
}

#[test]
fn mac_precedence_runtime_config_then_args_then_cni_args() {
    require_root!();
    let f = fixture();
    let (m_rt, m_args, m_env) = (
        "0a:58:0a:00:00:11",
        "0a:58:0a:00:00:22",
        "0a:58:0a:00:00:33",
    );
    let env_args = format!("IgnoreUnknown=1;MAC={m_env}");
    let base = f.conf("1.0.0");
    let mut keep = Vec::new();
    assert_eq!(
        mac_of(&f, &mut keep, "m1", &base, &env_args),
        m_env,
        "CNI_ARGS MAC"
    );
    let mut with_args = base.clone();
    with_args["args"] = json!({"cni": {"mac": m_args}});
    assert_eq!(
        mac_of(&f, &mut keep, "m2", &with_args, &env_args),
        m_args,
        "args.cni.mac"
    );
    let mut with_rt = with_args.clone();
    with_rt["runtimeConfig"] = json!({"mac": m_rt});
    assert_eq!(
        mac_of(&f, &mut keep, "m3", &with_rt, &env_args),
        m_rt,
        "runtimeConfig.mac"
    );
    // CNI_ARGS MAC without IgnoreUnknown: host-local (run in-process, as the
    // reference bridge delegates to host-local) rejects the unknown key with
    // code 4, exactly as the reference pair does; nothing is left behind.
    let c4 = f.container("m4");
    let out = f.run(
        "ADD",
        &f.env("m4", &c4, "eth0").with_args("MAC=0a:58:0a:00:00:44"),
        &base,
    );
    out.err(Some(4));
    assert!(
        link(&c4, "eth0").is_none(),
        "eth0 left after a rejected ADD"
    );
    assert_eq!(f.reservations().len(), 3, "{:?}", f.reservations());
    assert_eq!(bridge_ports(&f.host, &f.bridge).len(), 3);
}

#[test]
fn no_default_route_without_is_default_gateway() {
    require_root!();
    let f = fixture();
    let c = f.container("c");
    let mut conf = f.conf("1.0.0");
    conf["isDefaultGateway"] = json!(false);
    let r = f.add("ctr", &c, &conf);
    assert!(
        r["routes"]
            .as_array()
            .is_none_or(|rs| !rs.iter().any(|x| x["dst"] == "0.0.0.0/0")),
        "{r}"
    );
    assert!(!routes(&c, "-4").iter().any(|x| x.dst == "default"));
    assert!(
        c.ping(&f.host_ip(1), 3),
        "isGateway still puts the gateway on the bridge"
    );
}
