//! The shipped examples `<workspace>/conf-examples/*.conflist`: the first
//! plugin of each (simplebridge), with its bridge name, network name,
//! subnets and dataDir rewritten to this test's unique ones, works: ADD, ping
//! every gateway, CHECK, DEL, store empty. Fails when no example exists.

use cni_conformance::alloc::subnet_v6;
use cni_conformance::bins::workspace_root;
use cni_conformance::inspect::ping_w2;
use cni_conformance::{require_root, BridgeFixture, Impl, Main};
use ipnet::IpNet;
use serde_json::{json, Value};
use std::net::IpAddr;

/// Map `addr` from `old` into `new` keeping its offset in the subnet.
fn remap(addr: &str, old: &IpNet, new: &IpNet) -> String {
    let a: IpAddr = addr
        .parse()
        .unwrap_or_else(|e| panic!("bad address {addr}: {e}"));
    let out = match (a, old, new) {
        (IpAddr::V4(a), IpNet::V4(o), IpNet::V4(n)) => {
            let off = u32::from(a) - u32::from(o.network());
            let hosts = u32::MAX >> n.prefix_len();
            assert!(off <= hosts, "{addr}: offset {off} does not fit {n}");
            IpAddr::V4((u32::from(n.network()) + off).into())
        }
        (IpAddr::V6(a), IpNet::V6(o), IpNet::V6(n)) => {
            let off = u128::from(a) - u128::from(o.network());
            let hosts = u128::MAX >> n.prefix_len();
            assert!(off <= hosts, "{addr}: offset {off} does not fit {n}");
            IpAddr::V6((u128::from(n.network()) + off).into())
        }
        _ => panic!("{addr} is not of the family of {old}"),
    };
    out.to_string()
}

/// plugins[0] of `list`, made unique for fixture `f`. Returns the config and
/// the new subnets.
fn rewrite(f: &BridgeFixture, list: &Value) -> (Value, Vec<IpNet>) {
    let mut conf = list["plugins"][0].clone();
    assert_eq!(conf["type"], json!("simplebridge"), "first plugin: {conf}");
    conf["cniVersion"] = list["cniVersion"].clone();
    conf["name"] = json!(f.net);
    conf["bridge"] = json!(f.bridge);
    conf["ipam"]["dataDir"] = json!(f.data.path_str());
    let mut subnets = Vec::new();
    let mut v4_used = false;
    if let Some(sets) = conf["ipam"]["ranges"].as_array_mut() {
        for set in sets
            .iter_mut()
            .flat_map(|s| s.as_array_mut().into_iter().flatten())
        {
            let old: IpNet = set["subnet"]
                .as_str()
                .and_then(|s| s.parse().ok())
                .unwrap_or_else(|| panic!("range without a subnet: {set}"));
            let new: IpNet = match old {
                IpNet::V4(_) => {
                    assert!(!v4_used, "one IPv4 range per example is supported here");
                    v4_used = true;
                    IpNet::V4(f.v4)
                }
                IpNet::V6(_) => IpNet::V6(subnet_v6()),
            };
            set["subnet"] = json!(new.to_string());
            for key in ["rangeStart", "rangeEnd", "gateway"] {
                if let Some(a) = set[key].as_str().map(str::to_owned) {
                    set[key] = json!(remap(&a, &old, &new));
                }
            }
            subnets.push(new);
        }
    }
    assert!(!subnets.is_empty(), "example without ipam.ranges: {conf}");
    (conf, subnets)
}

#[test]
fn conf_examples_first_plugin_works() {
    require_root!();
    let dir = workspace_root().join("conf-examples");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "conflist"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no *.conflist in {}", dir.display());
    for file in &files {
        let text = std::fs::read(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let list: Value = serde_json::from_slice(&text)
            .unwrap_or_else(|e| panic!("{} is not JSON: {e}", file.display()));
        let f = BridgeFixture::new(Main::SimpleBridge, Impl::Ours);
        let (conf, subnets) = rewrite(&f, &list);
        let c = f.container("c");
        let what = file.display();
        let r = f.add("ctr", &c, &conf);
        let ips = r["ips"].as_array().cloned().unwrap_or_default();
        assert_eq!(ips.len(), subnets.len(), "{what}: {r}");
        for ip in &ips {
            let addr: IpNet = ip["address"]
                .as_str()
                .and_then(|a| a.parse().ok())
                .unwrap_or_else(|| panic!("{what}: {r}"));
            assert!(
                subnets.contains(&addr.trunc()),
                "{what}: {addr} outside {subnets:?}"
            );
            let gw = ip["gateway"]
                .as_str()
                .unwrap_or_else(|| panic!("{what}: no gateway: {r}"));
            assert!(ping_w2(&c, gw, 3), "{what}: cannot ping gateway {gw}");
        }
        let mut chk = conf.clone();
        chk["prevResult"] = r;
        f.run("CHECK", &f.env("ctr", &c, "eth0"), &chk).ok_empty();
        f.run("DEL", &f.env("ctr", &c, "eth0"), &chk).ok_empty();
        assert!(
            f.reservations().is_empty(),
            "{what}: store not empty after DEL"
        );
    }
}
