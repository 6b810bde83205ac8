//! simplebridge result shapes per cniVersion (0.3.1, 0.4.0, 1.0.0, 1.1.0):
//! `ips[].version` only up to 0.4.0, `interfaces[].mtu` only in 1.1.0;
//! interfaces in the order bridge, host veth, container (with sandbox);
//! `ips[].interface` == 2; `cniVersion` echoes the config.

use cni_conformance::{require_root, BridgeFixture, Impl, Main};
use serde_json::{json, Value};

fn shape(version: &str) {
    let f = BridgeFixture::new(Main::SimpleBridge, Impl::Ours);
    let c = f.container("c");
    let r = f.add("ctr", &c, &f.conf(version));
    assert_eq!(r["cniVersion"], json!(version), "{r}");
    let ifs = r["interfaces"].as_array().cloned().unwrap_or_default();
    assert_eq!(ifs.len(), 3, "{version}: {r}");
    assert_eq!(ifs[0]["name"], json!(f.bridge), "{version}: {r}");
    assert!(
        ifs[1]["name"]
            .as_str()
            .is_some_and(|n| n.starts_with("veth")),
        "{version}: {r}"
    );
    assert_eq!(ifs[2]["name"], json!("eth0"), "{version}: {r}");
    for (i, itf) in ifs.iter().enumerate() {
        let sandbox = itf.get("sandbox").and_then(Value::as_str).unwrap_or("");
        if i == 2 {
            assert_eq!(sandbox, c.path_str(), "{version}: {r}");
        } else {
            assert_eq!(
                sandbox, "",
                "{version}: host interface {i} has a sandbox: {r}"
            );
        }
        assert!(
            itf["mac"].as_str().is_some_and(|m| m.len() == 17),
            "{version}: {r}"
        );
        let has_mtu = itf.get("mtu").is_some();
        assert_eq!(
            has_mtu,
            version == "1.1.0",
            "{version}: interfaces[{i}].mtu only in 1.1.0: {r}"
        );
        if has_mtu {
            assert_eq!(itf["mtu"], json!(1500), "{r}");
        }
    }
    let ips = r["ips"].as_array().cloned().unwrap_or_default();
    assert_eq!(ips.len(), 1, "{version}: {r}");
    let ip = &ips[0];
    assert_eq!(ip["interface"], json!(2), "{version}: {r}");
    assert_eq!(ip["address"], json!(format!("{}/24", f.host_ip(2))));
    assert_eq!(ip["gateway"], json!(f.host_ip(1)));
    let legacy = matches!(version, "0.3.1" | "0.4.0");
    if legacy {
        assert_eq!(ip["version"], json!("4"), "{version}: {r}");
    } else {
        assert!(ip.get("version").is_none(), "{version}: {r}");
    }
    assert!(
        r["routes"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|x| x["dst"] == "0.0.0.0/0" && x["gw"] == json!(f.host_ip(1))),
        "{version}: {r}"
    );
    // CHECK (>= 0.4.0) with the result as prevResult, then DEL.
    let mut with_prev = f.conf(version);
    with_prev["prevResult"] = r.clone();
    if version != "0.3.1" {
        f.run("CHECK", &f.env("ctr", &c, "eth0"), &with_prev)
            .ok_empty();
    }
    f.run("DEL", &f.env("ctr", &c, "eth0"), &with_prev)
        .ok_empty();
    assert!(f.reservations().is_empty());
}

#[test]
fn result_0_3_1() {
    require_root!();
    shape("0.3.1");
}

#[test]
fn result_0_4_0() {
    require_root!();
    shape("0.4.0");
}

#[test]
fn result_1_0_0() {
    require_root!();
    shape("1.0.0");
}

#[test]
fn result_1_1_0() {
    require_root!();
    shape("1.1.0");
}
