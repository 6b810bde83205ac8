//! Result shapes of host-local per requested cniVersion (ours and reference):
//! 0.1.0/0.2.0 `ip4`/`ip6`; 0.3.x/0.4.0 `ips[].version`; 1.0.0/1.1.0 without
//! `version`; IPAM results carry no `interfaces` and no `ips[].interface`;
//! `cniVersion` echoes the config; routes are copied from the config.

use cni_conformance::alloc::{host6, subnet_v6};
use cni_conformance::{for_both_impls, Impl, IpamFixture};
use serde_json::{json, Value};

fn conf_with_routes(f: &IpamFixture, version: &str, dual: bool) -> (Value, ipnet::Ipv6Net) {
    let v6 = subnet_v6();
    let ranges = if dual {
        json!([[{"subnet": f.v4.to_string()}], [{"subnet": v6.to_string()}]])
    } else {
        f.default_ranges()
    };
    let mut c = f.conf_v(version, ranges);
    c["ipam"]["routes"] = json!([{"dst": "0.0.0.0/0"}, {"dst": "192.0.2.0/24", "gw": f.host(1)}]);
    (c, v6)
}

fn legacy_shape(imp: Impl) {
    for version in ["0.1.0", "0.2.0"] {
        let f = IpamFixture::new(imp);
        let (conf, v6) = conf_with_routes(&f, version, true);
        let r = f.add_ok("a", &conf);
        assert_eq!(r["cniVersion"], json!(version), "{r}");
        assert!(
            r.get("ips").is_none() && r.get("interfaces").is_none(),
            "{r}"
        );
        assert_eq!(r["ip4"]["ip"], json!(format!("{}/24", f.host(2))), "{r}");
        assert_eq!(r["ip4"]["gateway"], json!(f.host(1)), "{r}");
        assert_eq!(r["ip6"]["ip"], json!(format!("{}/64", host6(v6, 2))), "{r}");
        let routes = r["ip4"]["routes"].as_array().cloned().unwrap_or_default();
        assert_eq!(routes.len(), 2, "v4 routes go into ip4.routes: {r}");
        assert_eq!(routes[1], json!({"dst": "192.0.2.0/24", "gw": f.host(1)}));
    }
}
for_both_impls!(result_0_1_and_0_2_ip4_ip6, legacy_shape);

fn v03_shape(imp: Impl) {
    for version in ["0.3.0", "0.3.1", "0.4.0"] {
        let f = IpamFixture::new(imp);
        let (conf, v6) = conf_with_routes(&f, version, true);
        let r = f.add_ok("a", &conf);
        assert_eq!(r["cniVersion"], json!(version), "{r}");
        assert!(
            r.get("interfaces").is_none(),
            "IPAM result has no interfaces: {r}"
        );
        let ips = r["ips"].as_array().cloned().unwrap_or_default();
        assert_eq!(ips.len(), 2, "{r}");
        assert_eq!(ips[0]["version"], json!("4"), "{r}");
        assert_eq!(ips[1]["version"], json!("6"), "{r}");
        assert_eq!(ips[0]["address"], json!(format!("{}/24", f.host(2))));
        assert_eq!(ips[1]["address"], json!(format!("{}/64", host6(v6, 2))));
        assert!(ips.iter().all(|i| i.get("interface").is_none()), "{r}");
        assert_eq!(
            r["routes"][1],
            json!({"dst": "192.0.2.0/24", "gw": f.host(1)})
        );
    }
}
for_both_impls!(result_0_3_and_0_4_ips_version, v03_shape);

fn v1_shape(imp: Impl) {
    let versions: &[&str] = if imp == Impl::Ours {
        &["1.0.0", "1.1.0"]
    } else {
        &["1.0.0"]
    };
    for version in versions {
        let f = IpamFixture::new(imp);
        let (conf, _) = conf_with_routes(&f, version, false);
        let r = f.add_ok("a", &conf);
        assert_eq!(r["cniVersion"], json!(version), "{r}");
        assert!(
            r.get("interfaces").is_none() && r.get("ip4").is_none(),
            "{r}"
        );
        assert_eq!(
            r["ips"],
            json!([{"address": format!("{}/24", f.host(2)), "gateway": f.host(1)}]),
            "no ips[].version, no interface index from 1.0.0 on"
        );
        assert_eq!(r["routes"][0], json!({"dst": "0.0.0.0/0"}));
    }
}
for_both_impls!(result_1_x_shape, v1_shape);

fn resolv_conf(imp: Impl) {
    let f = IpamFixture::new(imp);
    let path = f.data.path().join("resolv.conf");
    std::fs::write(&path, "# comment\nnameserver 192.0.2.53\nsearch a.example b.example\noptions ndots:2\ndomain example\n")
        .unwrap();
    let mut conf = f.conf(f.default_ranges());
    conf["ipam"]["resolvConf"] = json!(path.to_str().unwrap());
    let r = f.add_ok("a", &conf);
    assert_eq!(r["dns"]["nameservers"], json!(["192.0.2.53"]), "{r}");
    assert_eq!(r["dns"]["search"], json!(["a.example", "b.example"]), "{r}");
    assert_eq!(r["dns"]["options"], json!(["ndots:2"]), "{r}");
    assert_eq!(r["dns"]["domain"], json!("example"), "{r}");
}
for_both_impls!(result_dns_from_resolv_conf, resolv_conf);

/// 1.1.0 is ours only (Debian's reference stops at 1.0.0): it must reject it with code 1.
#[test]
fn reference_rejects_1_1_0() {
    cni_conformance::require_root!();
    let f = IpamFixture::new(Impl::Reference);
    f.run("ADD", "a", &f.conf_v("1.1.0", f.default_ranges()))
        .err(Some(1));
}
