//! Root tests driving the built `portmap` binary inside a throwaway host namespace: a container
//! serving HTTP is reached through the published host port from the host (bridge address and
//! 127.0.0.1) and from another container (hairpin); DEL removes exactly one owner's mappings;
//! a request with one invalid mapping adds nothing; GC and STATUS.

mod common;

use common::{conf, is_root, Topo, BRIDGE};
use serde_json::json;

const OURS: &str = env!("CARGO_BIN_EXE_portmap");

macro_rules! need_root {
    () => {
        if !is_root() {
            return;
        }
    };
}

#[test]
fn publish_hairpin_localhost_and_del() {
    need_root!();
    let mut t = Topo::new();
    t.serve_c1();
    let (c1, c2) = (t.c1.clone(), t.c2.clone());
    let host = t.host.clone();
    assert!(
        !t.reachable(&host, "10.66.0.1:8080"),
        "nothing published yet"
    );

    let m1 = json!([{"hostPort": 8080, "containerPort": 80}]);
    let add1 = conf("1.0.0", m1.clone(), Some(t.prev_result(&c1)));
    let (code, out, err) = t.plugin(OURS, "ADD", &c1, &add1);
    assert_eq!(code, 0, "ADD: {out} {err}");
    assert_eq!(out, t.prev_result(&c1), "prevResult passed through");
    let (code, out, err) = t.plugin(OURS, "CHECK", &c1, &add1);
    assert_eq!(code, 0, "CHECK: {out} {err}");

    assert!(t.reachable(&host, "10.66.0.1:8080"), "host -> bridge addr");
    assert!(t.reachable(&c2, "10.66.0.1:8080"), "hairpin from c2");
    let knob = format!("/proc/sys/net/ipv4/conf/{BRIDGE}/route_localnet");
    assert_eq!(
        common::sh(&["ip", "netns", "exec", &host, "cat", &knob]).trim(),
        "1"
    );
    assert!(t.reachable(&host, "127.0.0.1:8080"), "localhost");

    // A second owner: c2 publishes 8081 (and cannot take 8080).
    let add2 = conf(
        "1.0.0",
        json!([{"hostPort": 8081, "containerPort": 80, "protocol": "udp"}]),
        Some(t.prev_result(&c2)),
    );
    let (code, out, err) = t.plugin(OURS, "ADD", &c2, &add2);
    assert_eq!(code, 0, "ADD c2: {out} {err}");
    let clash = conf("1.0.0", m1.clone(), Some(t.prev_result(&c2)));
    let (code, out, _) = t.plugin(OURS, "ADD", &c2, &clash);
    assert_eq!((code, out["code"].clone()), (1, json!(7)), "{out}");
    assert!(
        t.reachable(&host, "10.66.0.1:8080"),
        "clash changed nothing"
    );

    // DEL c1: its elements are gone, c2's are untouched; DEL again is fine.
    let (code, out, err) = t.plugin(OURS, "DEL", &c1, &add1);
    assert_eq!(code, 0, "DEL: {out} {err}");
    let table = t.nft(&["list", "table", "inet", "cnm"]);
    assert!(!table.contains(&format!("id-{c1},")), "{table}");
    assert!(!table.contains("8080"), "{table}");
    assert!(table.contains(&format!("pmnet,id-{c2},eth0")), "{table}");
    assert!(table.contains("8081"), "{table}");
    let (code, _, _) = t.plugin(OURS, "CHECK", &c2, &add2);
    assert_eq!(code, 0);
    let (code, _, _) = t.plugin(OURS, "CHECK", &c1, &add1);
    assert_eq!(code, 1, "CHECK after DEL must fail");
    assert!(
        !t.reachable(&host, "10.66.0.1:8080"),
        "unpublished after DEL"
    );
    let (code, out, _) = t.plugin(OURS, "DEL", &c1, &add1);
    assert_eq!(code, 0, "second DEL: {out}");
    let (code, out, _) = t.plugin(OURS, "DEL", &c1, &conf("1.0.0", json!([]), None));
    assert_eq!(code, 0, "DEL without prevResult and mappings: {out}");

    // GC with no valid attachment of this network removes c2's mappings.
    let gc = json!({"cniVersion": "1.1.0", "name": "pmnet", "type": "portmap",
        "cni.dev/valid-attachments": []});
    let (code, out, err) = t.plugin(OURS, "GC", &c2, &gc);
    assert_eq!(code, 0, "GC: {out} {err}");
    let table = t.nft(&["list", "table", "inet", "cnm"]);
    assert!(!table.contains("8081"), "{table}");
}

#[test]
fn gc_keeps_valid_and_other_networks() {
    need_root!();
    let t = Topo::new();
    let (c1, c2) = (t.c1.clone(), t.c2.clone());
    let a = conf(
        "1.0.0",
        json!([{"hostPort": 7001, "containerPort": 80}]),
        Some(t.prev_result(&c1)),
    );
    let mut b = conf(
        "1.0.0",
        json!([{"hostPort": 7002, "containerPort": 80}]),
        Some(t.prev_result(&c2)),
    );
    b["name"] = json!("othernet");
    assert_eq!(t.plugin(OURS, "ADD", &c1, &a).0, 0);
    assert_eq!(t.plugin(OURS, "ADD", &c2, &b).0, 0);
    let gc = json!({"cniVersion": "1.1.0", "name": "pmnet", "type": "portmap",
        "cni.dev/valid-attachments": [{"containerID": format!("id-{c1}"), "ifname": "eth0"}]});
    let (code, out, _) = t.plugin(OURS, "GC", &c1, &gc);
    assert_eq!(code, 0, "{out}");
    let table = t.nft(&["list", "table", "inet", "cnm"]);
    assert!(table.contains("7001") && table.contains("7002"), "{table}");
    let gc = json!({"cniVersion": "1.1.0", "name": "pmnet", "type": "portmap",
        "cni.dev/valid-attachments": []});
    assert_eq!(t.plugin(OURS, "GC", &c1, &gc).0, 0);
    let table = t.nft(&["list", "table", "inet", "cnm"]);
    assert!(!table.contains("7001") && table.contains("7002"), "{table}");
}

#[test]
fn invalid_mapping_adds_nothing() {
    need_root!();
    let mut t = Topo::new();
    t.serve_c1();
    let c1 = t.c1.clone();
    let host = t.host.clone();
    let m = json!([{"hostPort": 8082, "containerPort": 80},
                   {"hostPort": 70000, "containerPort": 80}]);
    let (code, out, _) = t.plugin(
        OURS,
        "ADD",
        &c1,
        &conf("1.0.0", m, Some(t.prev_result(&c1))),
    );
    assert_eq!(code, 1);
    assert_eq!(out["code"], json!(7), "{out}");
    assert!(!t.nft(&["list", "ruleset"]).contains("8082"));
    assert!(!t.reachable(&host, "10.66.0.1:8082"));
    // Without prevResult: the chained-plugin error.
    let m = json!([{"hostPort": 8082, "containerPort": 80}]);
    let (code, out, _) = t.plugin(OURS, "ADD", &c1, &conf("1.0.0", m, None));
    assert_eq!(
        (code, out["msg"].clone()),
        (1, json!("must be called as chained plugin"))
    );
}

#[test]
fn status_and_version() {
    need_root!();
    let t = Topo::new();
    let c = json!({"cniVersion": "1.1.0", "name": "pmnet", "type": "portmap"});
    let (code, out, err) = t.plugin(OURS, "STATUS", &t.c1, &c);
    assert_eq!(code, 0, "STATUS: {out} {err}");
    let (code, out, _) = t.plugin(OURS, "VERSION", &t.c1, &json!({"cniVersion": "1.0.0"}));
    assert_eq!(code, 0);
    assert!(out["supportedVersions"]
        .as_array()
        .unwrap()
        .contains(&json!("1.1.0")));
}

#[test]
fn ipv6_publish_and_hairpin() {
    need_root!();
    let mut t = Topo::new();
    t.add_ipv6();
    t.serve_c1();
    let (c1, c2, host) = (t.c1.clone(), t.c2.clone(), t.host.clone());
    let add = conf(
        "1.0.0",
        json!([{"hostPort": 8080, "containerPort": 80}]),
        Some(t.prev_result_dual(&c1)),
    );
    let (code, out, err) = t.plugin(OURS, "ADD", &c1, &add);
    assert_eq!(code, 0, "ADD: {out} {err}");
    assert_eq!(out, t.prev_result_dual(&c1));
    assert!(
        t.reachable(&host, "[fd66::1]:8080"),
        "host -> [fd66::1]:8080"
    );
    assert!(t.reachable(&c2, "[fd66::1]:8080"), "IPv6 hairpin from c2");
    assert!(t.reachable(&host, "10.66.0.1:8080"), "IPv4 still published");
    let (code, _, _) = t.plugin(OURS, "CHECK", &c1, &add);
    assert_eq!(code, 0);
    // An IPv6-only hostIP mapping.
    let only6 = conf(
        "1.0.0",
        json!([{"hostPort": 8090, "containerPort": 80, "hostIP": "fd66::1"}]),
        Some(t.prev_result_dual(&c2)),
    );
    assert_eq!(t.plugin(OURS, "ADD", &c2, &only6).0, 0);
    let table = t.nft(&["list", "map", "inet", "cnm", "pm6"]);
    assert!(table.contains("fd66::1 . tcp . 8090"), "{table}");
    let (code, _, _) = t.plugin(OURS, "DEL", &c1, &add);
    assert_eq!(code, 0);
    assert!(
        !t.reachable(&host, "[fd66::1]:8080"),
        "unpublished after DEL"
    );
    assert!(t
        .nft(&["list", "map", "inet", "cnm", "pm6"])
        .contains("8090"));
}
