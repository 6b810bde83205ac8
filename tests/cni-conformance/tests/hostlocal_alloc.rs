//! host-local allocation behaviour, run against ours AND the reference plugin
//! (the reference is the oracle): sequential and round-robin allocation,
//! gateway/broadcast skipping, requested IPs, dual stack, store format,
//! exhaustion, DEL idempotence, CHECK, duplicate ADD; plus a differential test
//! replaying one script on both and comparing results and stores.

use cni_conformance::alloc::{host6, subnet_v6};
use cni_conformance::store::{all_files, expected_content, last_reserved};
use cni_conformance::{for_both_impls, normalize_result, require_root, Impl, IpamFixture};
use serde_json::{json, Value};

fn ip_of(v: &Value) -> String {
    IpamFixture::first_ip(v)
}

fn sequential(imp: Impl) {
    let f = IpamFixture::new(imp);
    let conf = f.conf(f.default_ranges());
    let got: Vec<String> = ["a", "b", "c"]
        .iter()
        .map(|id| ip_of(&f.add_ok(id, &conf)))
        .collect();
    // rangeStart defaults to network+1 = the gateway, which is skipped.
    assert_eq!(got, vec![f.host(2), f.host(3), f.host(4)]);
    let r = f.add_ok("d", &conf);
    assert_eq!(r["ips"][0]["gateway"], json!(f.host(1)));
    assert_eq!(r["ips"][0]["address"], json!(format!("{}/24", f.host(5))));
    assert_eq!(
        f.reserved_ips(),
        vec![f.host(2), f.host(3), f.host(4), f.host(5)]
    );
}
for_both_impls!(sequential_allocation, sequential);

fn round_robin(imp: Impl) {
    let f = IpamFixture::new(imp);
    let ranges =
        json!([[{"subnet": f.v4.to_string(), "rangeStart": f.host(10), "rangeEnd": f.host(12)}]]);
    let conf = f.conf(ranges);
    assert_eq!(ip_of(&f.add_ok("a", &conf)), f.host(10));
    assert_eq!(ip_of(&f.add_ok("b", &conf)), f.host(11));
    f.run("DEL", "a", &conf).ok_empty();
    // The next allocation continues after the last reserved IP, not at the freed one.
    assert_eq!(ip_of(&f.add_ok("c", &conf)), f.host(12));
    assert_eq!(
        last_reserved(f.data.path(), &f.net, 0).as_deref(),
        Some(f.host(12).as_str())
    );
    // Wrap around to the freed address.
    assert_eq!(ip_of(&f.add_ok("d", &conf)), f.host(10));
    f.run("DEL", "b", &conf).ok_empty();
    assert_eq!(ip_of(&f.add_ok("e", &conf)), f.host(11));
}
for_both_impls!(round_robin_after_release, round_robin);

fn gateway_broadcast_skipped(imp: Impl) {
    let f = IpamFixture::new(imp);
    // /29: .0 network, .7 broadcast; explicit gateway .3 inside the range.
    let sub = format!("{}/29", f.v4.network());
    let conf = f.conf(json!([[{"subnet": sub, "gateway": f.host(3)}]]));
    let mut got = Vec::new();
    for i in 0..5 {
        let r = f.add_ok(&format!("c{i}"), &conf);
        assert_eq!(r["ips"][0]["gateway"], json!(f.host(3)));
        got.push(ip_of(&r));
    }
    assert_eq!(
        got,
        vec![f.host(1), f.host(2), f.host(4), f.host(5), f.host(6)]
    );
    let out = f.run("ADD", "c5", &conf);
    out.err(None);
    assert!(
        out.err_text().contains("no IP addresses available"),
        "exhaustion message: {}",
        out.err_text()
    );
    assert_eq!(f.reservations().len(), 5, "failed ADD must not reserve");
}
for_both_impls!(gateway_and_broadcast_skipped, gateway_broadcast_skipped);

fn requested_cni_args(imp: Impl) {
    let f = IpamFixture::new(imp);
    let conf = f.conf(f.default_ranges());
    let want = f.host(42);
    let out = f.run_env(
        "ADD",
        &f.env("a", "eth0").with_args(&format!("IP={want}")),
        &conf,
    );
    assert_eq!(ip_of(&out.ok()), want);
    // IgnoreUnknown lets runtime keys through alongside IP.
    let want2 = f.host(43);
    let args = format!("IgnoreUnknown=1;K8S_POD_NAME=p;IP={want2}");
    let out = f.run_env("ADD", &f.env("b", "eth0").with_args(&args), &conf);
    assert_eq!(ip_of(&out.ok()), want2);
    assert_eq!(f.reserved_ips(), vec![want, want2]);
}
for_both_impls!(requested_ip_cni_args, requested_cni_args);

fn requested_args_cni_ips(imp: Impl) {
    let f = IpamFixture::new(imp);
    let mut conf = f.conf(f.default_ranges());
    let want = f.host(77);
    conf["args"] = json!({"cni": {"ips": [want]}});
    assert_eq!(ip_of(&f.add_ok("a", &conf)), want);
    // Requested and already taken: error, nothing new reserved.
    f.run("ADD", "b", &conf).err(None);
    assert_eq!(f.reserved_ips(), vec![want]);
}
for_both_impls!(requested_ip_args_cni_ips, requested_args_cni_ips);

fn requested_runtime_config(imp: Impl) {
    let f = IpamFixture::new(imp);
    let mut conf = f.conf(f.default_ranges());
    let want = f.host(99);
    conf["runtimeConfig"] = json!({"ips": [format!("{want}/24")]});
    assert_eq!(ip_of(&f.add_ok("a", &conf)), want);
    // The gateway cannot be requested; an address outside the subnet neither.
    conf["runtimeConfig"] = json!({"ips": [f.host(1)]});
    f.run("ADD", "b", &conf).err(None);
    conf["runtimeConfig"] = json!({"ips": ["192.0.2.200"]});
    f.run("ADD", "c", &conf).err(None);
    assert_eq!(f.reserved_ips(), vec![want]);
}
for_both_impls!(requested_ip_runtime_config, requested_runtime_config);

fn dual_stack(imp: Impl) {
    let f = IpamFixture::new(imp);
    let v6 = subnet_v6();
    let conf = f.conf(json!([[{"subnet": f.v4.to_string()}], [{"subnet": v6.to_string()}]]));
    let r = f.add_ok("a", &conf);
    let ips = r["ips"].as_array().cloned().unwrap_or_default();
    assert_eq!(ips.len(), 2, "one v4 + one v6: {r}");
    assert_eq!(ips[0]["address"], json!(format!("{}/24", f.host(2))));
    assert_eq!(ips[1]["address"], json!(format!("{}/64", host6(v6, 2))));
    assert_eq!(ips[1]["gateway"], json!(host6(v6, 1).to_string()));
    let mut want = vec![f.host(2), host6(v6, 2).to_string()];
    want.sort();
    assert_eq!(f.reserved_ips(), want);
    assert_eq!(
        last_reserved(f.data.path(), &f.net, 1).as_deref(),
        Some(host6(v6, 2).to_string().as_str())
    );
    f.run("DEL", "a", &conf).ok_empty();
    assert!(f.reserved_ips().is_empty());
}
for_both_impls!(dual_stack_one_v4_one_v6, dual_stack);

fn store_format(imp: Impl) {
    let f = IpamFixture::new(imp);
    let conf = f.conf(f.default_ranges());
    let out = f.run_env("ADD", &f.env("ctr-1.x_y", "net7"), &conf);
    out.ok();
    let res = f.reservations();
    assert_eq!(res.len(), 1);
    assert_eq!(res[0].ip, f.host(2));
    assert_eq!(res[0].content, expected_content("ctr-1.x_y", "net7"));
    assert_eq!(
        last_reserved(f.data.path(), &f.net, 0).as_deref(),
        Some(f.host(2).as_str()),
        "last_reserved_ip.0 holds the bare IP string"
    );
    let files = all_files(f.data.path(), &f.net);
    assert_eq!(
        files,
        vec![f.host(2), "last_reserved_ip.0".into(), "lock".into()]
    );
}
for_both_impls!(store_file_format_byte_exact, store_format);

fn exhaustion(imp: Impl) {
    let f = IpamFixture::new(imp);
    let sub = format!("{}/30", f.v4.network());
    let conf = f.conf(json!([[{"subnet": sub}]]));
    assert_eq!(ip_of(&f.add_ok("a", &conf)), f.host(2));
    let out = f.run("ADD", "b", &conf);
    // Ours: plugin-specific code 101 (IPAM failure); the reference uses 999.
    out.err(if imp == Impl::Ours { Some(101) } else { None });
    assert!(
        out.err_text().contains("no IP addresses available"),
        "{}",
        out.err_text()
    );
    assert_eq!(f.reserved_ips(), vec![f.host(2)]);
    // Too small subnets are rejected outright.
    let conf31 = f.conf(json!([[{"subnet": format!("{}/31", f.v4.network())}]]));
    f.run("ADD", "c", &conf31).err(None);
}
for_both_impls!(exhaustion_error, exhaustion);

fn del_idempotent(imp: Impl) {
    let f = IpamFixture::new(imp);
    let conf = f.conf(f.default_ranges());
    f.add_ok("a", &conf);
    f.add_ok("b", &conf);
    f.run("DEL", "a", &conf).ok_empty();
    f.run("DEL", "a", &conf).ok_empty();
    f.run("DEL", "never-added", &conf).ok_empty();
    // DEL without CNI_NETNS is allowed.
    let mut env = f.env("b", "eth0");
    env.netns = None;
    f.run_env("DEL", &env, &conf).ok_empty();
    assert!(f.reserved_ips().is_empty());
    // DEL releases only the matching (id, ifname).
    f.add_ok("c", &conf);
    f.run_env("DEL", &f.env("c", "eth1"), &conf).ok_empty();
    assert_eq!(f.reservations().len(), 1);
}
for_both_impls!(del_idempotent_and_exact, del_idempotent);

fn check(imp: Impl) {
    let f = IpamFixture::new(imp);
    let conf = f.conf(f.default_ranges());
    let res = f.add_ok("a", &conf);
    let mut with_prev = conf.clone();
    with_prev["prevResult"] = res;
    f.run("CHECK", "a", &with_prev).ok_empty();
    f.run("DEL", "a", &conf).ok_empty();
    f.run("CHECK", "a", &with_prev).err(None);
    // CHECK is not allowed below 0.4.0.
    let old = f.conf_v("0.3.1", f.default_ranges());
    f.add_ok("b", &old);
    f.run("CHECK", "b", &old).err(Some(1));
}
for_both_impls!(check_fails_when_reservation_missing, check);

fn duplicate(imp: Impl) {
    let f = IpamFixture::new(imp);
    let conf = f.conf(f.default_ranges());
    f.add_ok("a", &conf);
    f.run("ADD", "a", &conf).err(None);
    assert_eq!(f.reservations().len(), 1);
    // Another ifname of the same container is a different attachment.
    f.run_env("ADD", &f.env("a", "eth1"), &conf).ok();
    assert_eq!(f.reservations().len(), 2);
}
for_both_impls!(duplicate_add_rejected, duplicate);

/// Replays one script on both implementations with the same subnet and compares
/// every result and the final store.
#[test]
fn differential_script() {
    require_root!();
    let r = IpamFixture::new(Impl::Reference);
    let mut o = IpamFixture::new(Impl::Ours);
    o.v4 = r.v4;
    let ranges = json!([[{"subnet": r.v4.to_string(), "rangeStart": r.host(20), "rangeEnd": r.host(24),
        "gateway": r.host(22)}]]);
    let steps: &[(&str, &str)] = &[
        ("ADD", "a"),
        ("ADD", "b"),
        ("ADD", "c"),
        ("DEL", "b"),
        ("ADD", "d"),
        ("ADD", "e"),
        ("ADD", "f"),
        ("DEL", "a"),
        ("DEL", "zz"),
        ("ADD", "g"),
    ];
    for version in ["0.2.0", "0.3.1", "0.4.0", "1.0.0"] {
        let ro = IpamFixture::new(Impl::Reference);
        let mut oo = IpamFixture::new(Impl::Ours);
        oo.v4 = ro.v4;
        let ranges = json!([[{"subnet": ro.v4.to_string(), "rangeStart": ro.host(20), "rangeEnd": ro.host(24),
            "gateway": ro.host(22)}]]);
        let (rc, oc) = (
            ro.conf_v(version, ranges.clone()),
            oo.conf_v(version, ranges),
        );
        for (cmd, id) in steps {
            let a = ro.run(cmd, id, &rc);
            let b = oo.run(cmd, id, &oc);
            assert_eq!(
                a.code,
                b.code,
                "{version} {cmd} {id}: exit status differs\nref: {}\nours: {}",
                String::from_utf8_lossy(&a.stdout),
                String::from_utf8_lossy(&b.stdout)
            );
            if a.code == 0 {
                let na = a.json.as_ref().map(normalize_result);
                let nb = b.json.as_ref().map(normalize_result);
                assert_eq!(na, nb, "{version} {cmd} {id}: results differ");
            }
        }
        assert_eq!(
            ro.reservations(),
            oo.reservations(),
            "{version}: stores differ"
        );
    }
    let (rc, oc) = (r.conf(ranges.clone()), o.conf(ranges));
    assert_eq!(r.add_ok("x", &rc)["ips"], o.add_ok("x", &oc)["ips"]);
}

fn multi_range_set(imp: Impl) {
    let f = IpamFixture::new(imp);
    let other = cni_conformance::subnet_v4();
    let o = |n: u32| cni_conformance::alloc::host4(other, n).to_string();
    // One set, two ranges: allocation walks range 0 then range 1, then wraps.
    let conf = f.conf(json!([[
        {"subnet": f.v4.to_string(), "rangeStart": f.host(5), "rangeEnd": f.host(6)},
        {"subnet": other.to_string(), "rangeStart": o(2), "rangeEnd": o(3)}
    ]]));
    let got: Vec<String> = ["a", "b", "c", "d"]
        .iter()
        .map(|id| ip_of(&f.add_ok(id, &conf)))
        .collect();
    assert_eq!(got, vec![f.host(5), f.host(6), o(2), o(3)]);
    f.run("ADD", "e", &conf).err(None);
    f.run("DEL", "a", &conf).ok_empty();
    assert_eq!(ip_of(&f.add_ok("f", &conf)), f.host(5), "wraps to range 0");
}
for_both_impls!(multi_range_set_walks_and_wraps, multi_range_set);

fn ip_ranges_capability(imp: Impl) {
    let f = IpamFixture::new(imp);
    let extra = cni_conformance::subnet_v4();
    let mut conf = f.conf(f.default_ranges());
    // runtimeConfig.ipRanges is prepended before the configured sets.
    conf["runtimeConfig"] = json!({"ipRanges": [[{"subnet": extra.to_string()}]]});
    let r = f.add_ok("a", &conf);
    let ips: Vec<&str> = r["ips"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i["address"].as_str())
        .collect();
    assert_eq!(
        ips,
        vec![
            format!("{}/24", cni_conformance::alloc::host4(extra, 2)),
            format!("{}/24", f.host(2))
        ],
        "{r}"
    );
}
for_both_impls!(ip_ranges_capability_prepended, ip_ranges_capability);
