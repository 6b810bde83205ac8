//! simplebridge features end to end, through the built binary inside throwaway
//! host and container namespaces: `macspoofchk` (frames with a forged source
//! MAC are dropped by table `bridge cnm`, whose per-port state follows ADD and
//! DEL and GC), `portIsolation` (isolated ports reach the gateway but not each
//! other), GC (stale host veths, reservations and the masquerade chain go;
//! without a valid-attachments list nothing is touched), STATUS (code 50 on an
//! exhausted pool), `vlanTrunk` (tagged trunk + native VLAN 1, or a clear error
//! leaving nothing behind when the kernel cannot filter VLANs), and a DEL whose
//! config ADD would refuse still tearing down.

use cni_conformance::inspect::{
    bridge_vlans, brport_attr, links_of_kind, nft, vlan_filtering_supported,
};
use cni_conformance::iproute::link;
use cni_conformance::robust::{derived_veths, masq_chains};
use cni_conformance::store::expected_content;
use cni_conformance::{require_root, BridgeFixture, Env, Impl, Main};
use serde_json::{json, Value};

fn fixture() -> BridgeFixture {
    BridgeFixture::new(Main::SimpleBridge, Impl::Ours)
}

/// The host veth name of an ADD result (`interfaces[1]`).
fn host_veth(r: &Value) -> String {
    r["interfaces"][1]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// The container MAC of an ADD result (`interfaces[2].mac`).
fn mac_of(r: &Value) -> String {
    r["interfaces"][2]["mac"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// The first IPv4 address (without prefix) of an ADD result.
fn ip_of(r: &Value) -> String {
    r["ips"][0]["address"]
        .as_str()
        .and_then(|a| a.split('/').next())
        .unwrap_or_default()
        .to_owned()
}

/// Parameters of GC/STATUS: only CNI_PATH, run inside the host namespace.
fn net_env(f: &BridgeFixture) -> Env {
    Env {
        path: Some(f.cni_path.path_str().into()),
        ..Env::default()
    }
    .in_ns(f.host.path())
}

/// What table `bridge cnm` (read with `nft -j` in the host namespace) holds
/// for MAC spoof checks. Empty when the table does not exist.
#[derive(Debug, Default)]
struct SpoofState {
    /// `(port, chain)` elements of the verdict map `spoof`.
    elems: Vec<(String, String)>,
    /// Chain names of the table.
    chains: Vec<String>,
    /// `(chain, comment, checked MAC)` of every rule with a comment.
    rules: Vec<(String, String, String)>,
}

impl SpoofState {
    fn read(f: &BridgeFixture) -> SpoofState {
        let out = nft(&f.host, &["-j", "list", "table", "bridge", "cnm"]);
        if out.code != 0 {
            return SpoofState::default();
        }
        let v: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("nft -j output is not JSON ({e}): {:?}", out.stdout));
        let mut st = SpoofState::default();
        for item in v["nftables"].as_array().into_iter().flatten() {
            if item["map"]["name"] == "spoof" {
                for el in item["map"]["elem"].as_array().into_iter().flatten() {
                    let port = el[0].as_str().unwrap_or_default().to_owned();
                    let chain = el[1]["jump"]["target"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned();
                    st.elems.push((port, chain));
                }
            }
            if let Some(name) = item["chain"]["name"].as_str() {
                st.chains.push(name.to_owned());
            }
            if let Some(comment) = item["rule"]["comment"].as_str() {
                let mac = item["rule"]["expr"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find_map(|e| e["match"]["right"].as_str())
                    .unwrap_or_default()
                    .to_owned();
                let chain = item["rule"]["chain"].as_str().unwrap_or_default();
                st.rules.push((chain.to_owned(), comment.to_owned(), mac));
            }
        }
        st
    }

    /// The chain `port` jumps to, if the map has an element for it.
    fn chain_of(&self, port: &str) -> Option<String> {
        self.elems
            .iter()
            .find(|(p, _)| p == port)
            .map(|(_, c)| c.clone())
    }

    /// Asserts `port` is checked against `mac`: a map element, its chain, and
    /// a drop rule in that chain commented with the port. Returns the chain.
    fn assert_checked(&self, port: &str, mac: &str) -> String {
        let chain = self
            .chain_of(port)
            .unwrap_or_else(|| panic!("no spoof map element for {port}: {self:?}"));
        assert!(
            self.chains.contains(&chain),
            "chain {chain} missing: {self:?}"
        );
        assert!(
            self.rules.iter().any(|(c, comment, m)| c == &chain
                && comment == &format!("cnm-spoof:{port}")
                && m.eq_ignore_ascii_case(mac)),
            "no rule in {chain} checking {port} against {mac}: {self:?}"
        );
        chain
    }

    /// Asserts nothing of `port` (element, chain `chain`, commented rule) is left.
    fn assert_gone(&self, port: &str, chain: &str) {
        assert!(
            self.chain_of(port).is_none(),
            "map element for {port} left: {self:?}"
        );
        assert!(
            !self.chains.iter().any(|c| c == chain),
            "chain {chain} left: {self:?}"
        );
        assert!(
            !self
                .rules
                .iter()
                .any(|(_, comment, _)| comment.ends_with(port)),
            "rule for {port} left: {self:?}"
        );
    }
}

#[test]
fn macspoofchk_drops_forged_source_mac() {
    require_root!();
    let f = fixture();
    let (a, b) = (f.container("a"), f.container("b"));
    let mut conf = f.conf("1.1.0");
    conf["macspoofchk"] = json!(true);
    let ra = f.add("ctr-a", &a, &conf);
    let rb = f.add("ctr-b", &b, &conf);
    let (ipa, ipb, gw) = (ip_of(&ra), ip_of(&rb), f.host_ip(1));
    let (hva, hvb) = (host_veth(&ra), host_veth(&rb));
    assert!(
        a.ping(&ipb, 5),
        "a cannot ping b ({ipb}) before the MAC change"
    );
    assert!(
        b.ping(&ipa, 5),
        "b cannot ping a ({ipa}) before the MAC change"
    );

    let st = SpoofState::read(&f);
    let chain_a = st.assert_checked(&hva, &mac_of(&ra));
    let chain_b = st.assert_checked(&hvb, &mac_of(&rb));
    assert_ne!(chain_a, chain_b, "one chain per port: {st:?}");

    // Forge a's source MAC: its frames are dropped at the bridge port.
    a.ip(&["link", "set", "eth0", "address", "02:de:ad:be:ef:01"]);
    assert!(!a.ping(&ipb, 2), "a pings b with a forged source MAC");
    assert!(b.ping(&gw, 5), "b cannot ping the gateway ({gw})");

    // CHECK for b still passes.
    let mut chk = conf.clone();
    chk["prevResult"] = rb.clone();
    f.run("CHECK", &f.env("ctr-b", &b, "eth0"), &chk).ok_empty();

    // DEL a: its spoof state is gone, b's stays.
    let mut del = conf.clone();
    del["prevResult"] = ra;
    f.run("DEL", &f.env("ctr-a", &a, "eth0"), &del).ok_empty();
    assert!(link(&f.host, &hva).is_none(), "host veth {hva} left");
    let st = SpoofState::read(&f);
    st.assert_gone(&hva, &chain_a);
    assert_eq!(st.assert_checked(&hvb, &mac_of(&rb)), chain_b, "{st:?}");
    f.run("CHECK", &f.env("ctr-b", &b, "eth0"), &chk).ok_empty();
    assert!(b.ping(&gw, 5), "b cannot ping the gateway after a's DEL");
}

#[test]
fn port_isolation_blocks_peers_not_gateway() {
    require_root!();
    let f = fixture();
    let (a, b) = (f.container("a"), f.container("b"));
    let mut conf = f.conf("1.0.0");
    conf["portIsolation"] = json!(true);
    let ra = f.add("ctr-a", &a, &conf);
    let rb = f.add("ctr-b", &b, &conf);
    let (ipa, ipb, gw) = (ip_of(&ra), ip_of(&rb), f.host_ip(1));
    for r in [&ra, &rb] {
        let h = link(&f.host, &host_veth(r)).expect("host veth missing");
        assert_eq!(brport_attr(&h, "isolated"), json!(true), "{h:?}");
    }
    assert!(a.ping(&gw, 5), "a cannot ping the gateway ({gw})");
    assert!(b.ping(&gw, 5), "b cannot ping the gateway ({gw})");
    assert!(!a.ping(&ipb, 2), "isolated a pings b ({ipb})");
    assert!(!b.ping(&ipa, 2), "isolated b pings a ({ipa})");

    // Control: without portIsolation the flag is off and peers talk.
    let g = fixture();
    let (c, d) = (g.container("c"), g.container("d"));
    let rc = g.add("ctr-c", &c, &g.conf("1.0.0"));
    let rd = g.add("ctr-d", &d, &g.conf("1.0.0"));
    let h = link(&g.host, &host_veth(&rc)).expect("host veth missing");
    assert_eq!(brport_attr(&h, "isolated"), json!(false), "{h:?}");
    assert!(c.ping(&ip_of(&rd), 5), "non-isolated peers cannot talk");
}

#[test]
fn gc_removes_stale_attachments_and_masquerade() {
    require_root!();
    let f = fixture();
    let (c1, c2) = (f.container("c1"), f.container("c2"));
    let mut conf = f.conf("1.1.0");
    conf["ipMasq"] = json!(true);
    conf["macspoofchk"] = json!(true);
    let r1 = f.add("c1", &c1, &conf);
    let r2 = f.add("c2", &c2, &conf);
    let (hv1, hv2, gw) = (host_veth(&r1), host_veth(&r2), f.host_ip(1));
    assert_eq!(f.reservations().len(), 2);
    assert_eq!(
        masq_chains(&f.host).len(),
        1,
        "no masquerade chain after ADD"
    );
    let st = SpoofState::read(&f);
    let chain1 = st.assert_checked(&hv1, &mac_of(&r1));
    let chain2 = st.assert_checked(&hv2, &mac_of(&r2));

    let mut gc = conf.clone();
    gc["cni.dev/valid-attachments"] = json!([{"containerID": "c1", "ifname": "eth0"}]);
    f.run("GC", &net_env(&f), &gc).ok_empty();
    let kept: Vec<_> = f.reservations().into_iter().map(|r| r.content).collect();
    assert_eq!(kept, vec![expected_content("c1", "eth0")]);
    assert!(link(&f.host, &hv2).is_none(), "stale host veth {hv2} left");
    assert!(
        link(&f.host, &hv1).is_some(),
        "valid host veth {hv1} removed"
    );
    assert!(link(&c1, "eth0").is_some(), "c1's eth0 removed");
    let st = SpoofState::read(&f);
    st.assert_gone(&hv2, &chain2);
    st.assert_checked(&hv1, &mac_of(&r1));
    assert!(c1.ping(&gw, 5), "c1 cannot ping the gateway after GC");
    assert_eq!(
        masq_chains(&f.host).len(),
        1,
        "masquerade chain removed while c1 is valid"
    );

    let mut gc = conf.clone();
    gc["cni.dev/valid-attachments"] = json!([]);
    f.run("GC", &net_env(&f), &gc).ok_empty();
    assert!(f.reservations().is_empty(), "{:?}", f.reservations());
    assert!(
        derived_veths(&f.host).is_empty(),
        "{:?}",
        derived_veths(&f.host)
    );
    assert!(link(&c1, "eth0").is_none(), "c1's eth0 survives its veth");
    SpoofState::read(&f).assert_gone(&hv1, &chain1);
    assert!(
        masq_chains(&f.host).is_empty(),
        "masquerade chain left: {:?}",
        masq_chains(&f.host)
    );

    // No valid-attachments key at all: refused (code 7), nothing removed.
    let c3 = f.container("c3");
    let r3 = f.add("c3", &c3, &conf);
    let hv3 = host_veth(&r3);
    f.run("GC", &net_env(&f), &conf).err_full(7);
    assert_eq!(f.reservations().len(), 1, "{:?}", f.reservations());
    assert!(link(&f.host, &hv3).is_some(), "host veth {hv3} removed");
    assert_eq!(masq_chains(&f.host).len(), 1, "masquerade chain removed");
    assert!(c3.ping(&gw, 5), "c3 cannot ping the gateway");
}

#[test]
fn status_reports_exhausted_pool() {
    require_root!();
    let f = fixture();
    let mut conf = f.conf("1.1.0");
    // /30: one allocatable address (.2; .1 is the gateway).
    conf["ipam"]["ranges"] = json!([[{"subnet": format!("{}/30", f.v4.network())}]]);
    f.run("STATUS", &net_env(&f), &conf).ok_empty();
    let c = f.container("c");
    f.add("ctr", &c, &conf);
    f.run("STATUS", &net_env(&f), &conf).err_full(50);
    // A second ADD fails for the same reason and leaves nothing.
    let c2 = f.container("c2");
    f.run("ADD", &f.env("ctr2", &c2, "eth0"), &conf).err(None);
    assert!(link(&c2, "eth0").is_none(), "eth0 left after a failed ADD");
    assert_eq!(derived_veths(&f.host).len(), 1);
    f.run("DEL", &f.env("ctr", &c, "eth0"), &conf).ok_empty();
    f.run("STATUS", &net_env(&f), &conf).ok_empty();
}

#[test]
fn vlan_trunk_tagged_with_native_or_clear_error() {
    require_root!();
    let f = fixture();
    let c = f.container("c");
    let mut conf = f.conf("1.0.0");
    conf["vlanTrunk"] = json!([{"id": 10}]);
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
        let flags = |vid: u64| -> Vec<Value> {
            entries
                .iter()
                .find(|e| e["vlan"] == json!(vid))
                .map(|e| e["flags"].as_array().cloned().unwrap_or_default())
                .unwrap_or_else(|| panic!("port {hv} lacks VLAN {vid}: {v}"))
        };
        let f10 = flags(10);
        assert!(
            !f10.contains(&json!("PVID")) && !f10.contains(&json!("Egress Untagged")),
            "VLAN 10 must be tagged: {v}"
        );
        let f1 = flags(1);
        assert!(
            f1.contains(&json!("PVID")) && f1.contains(&json!("Egress Untagged")),
            "native VLAN 1 must be PVID untagged: {v}"
        );
        return;
    }
    let e = out.err(None);
    let text = out.err_text().to_lowercase();
    assert!(
        text.contains("vlan filtering"),
        "the error must name VLAN filtering: {e}"
    );
    assert!(
        links_of_kind(&f.host, "veth").is_empty(),
        "veth left in the host ns after a failed trunk ADD"
    );
    assert!(link(&c, "eth0").is_none(), "eth0 left in the container");
    assert!(
        f.reservations().is_empty(),
        "reservation left: {:?}",
        f.reservations()
    );
    assert!(
        link(&f.host, &f.bridge).is_none(),
        "bridge {} created by a refused ADD is left",
        f.bridge
    );
}

#[test]
fn del_with_config_add_would_refuse_still_tears_down() {
    require_root!();
    let f = fixture();
    let c = f.container("c");
    let conf = f.conf("1.0.0");
    let r = f.add("ctr", &c, &conf);
    let hv = host_veth(&r);
    assert_eq!(f.reservations().len(), 1);

    let mut bad = conf.clone();
    bad["mtu"] = json!(5);
    bad["hairpinMode"] = json!(true);
    bad["promiscMode"] = json!(true);
    // ADD refuses this config (control), leaving nothing new.
    let c2 = f.container("c2");
    f.run("ADD", &f.env("ctr2", &c2, "eth0"), &bad).err(Some(7));
    assert!(link(&c2, "eth0").is_none(), "eth0 left after a refused ADD");
    assert_eq!(f.reservations().len(), 1);

    f.run("DEL", &f.env("ctr", &c, "eth0"), &bad).ok_empty();
    assert!(f.reservations().is_empty(), "{:?}", f.reservations());
    assert!(link(&f.host, &hv).is_none(), "host veth {hv} left");
    assert!(link(&c, "eth0").is_none(), "eth0 left in the container");
}

/// A DEL whose config no longer has `macspoofchk` still removes the spoof
/// check an earlier ADD installed (nothing outlives the attachment).
#[test]
fn del_removes_spoof_check_even_without_the_flag() {
    require_root!();
    let f = fixture();
    let a = f.container("a");
    let mut conf = f.conf("1.1.0");
    conf["macspoofchk"] = json!(true);
    let ra = f.add("ctr-a", &a, &conf);
    let hva = host_veth(&ra);
    let chain_a = SpoofState::read(&f).assert_checked(&hva, &mac_of(&ra));

    let mut del = f.conf("1.1.0");
    del["prevResult"] = ra;
    f.run("DEL", &f.env("ctr-a", &a, "eth0"), &del).ok_empty();
    assert!(link(&f.host, &hva).is_none(), "host veth {hva} left");
    SpoofState::read(&f).assert_gone(&hva, &chain_a);
}
