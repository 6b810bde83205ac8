//! Unit tests of the plugin verbs through the CNI skeleton, without root: nft is either a
//! missing binary (proving it is never run) or a shell recorder that saves each batch.

use std::path::Path;

use cni_protocol::testutil::TempDir;
use cni_protocol::{code, run, Outcome};
use serde_json::{json, Value};

use super::*;

fn no_nft(dir: &Path) -> Portmap {
    Portmap {
        firewall: Firewall::with_program("/nonexistent/nft", Vec::new()).with_state_dir(None),
        proc_sys: dir.to_path_buf(),
        reference: false,
    }
}

/// nft replaced by `sh -c 'cat >> <dir>/batches'`: every batch is appended, exit 0.
fn recorder(dir: &Path) -> Portmap {
    let script = format!("cat >> {}/batches", dir.display());
    Portmap {
        firewall: Firewall::with_program("sh", vec!["-c".into(), script.into()])
            .with_state_dir(None),
        proc_sys: dir.to_path_buf(),
        reference: false,
    }
}

fn call(p: &Portmap, cmd: &str, conf: &Value) -> (Outcome, Value) {
    let env = move |k: &str| -> Option<String> {
        match k {
            "CNI_COMMAND" => Some(cmd.to_string()),
            "CNI_CONTAINERID" => Some("ctr1".into()),
            "CNI_NETNS" => Some("/var/run/netns/ctr1".into()),
            "CNI_IFNAME" => Some("eth0".into()),
            "CNI_PATH" => Some("/opt/cni/bin".into()),
            _ => None,
        }
    };
    let stdin = conf.to_string();
    let out = run(p, env, &mut stdin.as_bytes());
    let v = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out, v)
}

fn prev() -> Value {
    json!({"cniVersion": "1.0.0",
        "interfaces": [
            {"name": "cni0", "mac": "02:00:00:00:00:01"},
            {"name": "veth1", "mac": "02:00:00:00:00:02"},
            {"name": "eth0", "mac": "02:00:00:00:00:03", "sandbox": "/var/run/netns/ctr1"}],
        "ips": [{"address": "10.1.0.5/24", "gateway": "10.1.0.1", "interface": 2}],
        "dns": {"nameservers": ["10.1.0.1"]}})
}

fn conf(version: &str, mappings: Value, prev: Option<Value>) -> Value {
    let mut c = json!({"cniVersion": version, "name": "net1", "type": "portmap",
        "capabilities": {"portMappings": true},
        "runtimeConfig": {"portMappings": mappings}});
    if let Some(p) = prev {
        c["prevResult"] = p;
    }
    c
}

fn batches(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("batches")).unwrap_or_default()
}

#[test]
fn add_without_prev_result_is_an_error() {
    let d = TempDir::new();
    let m = json!([{"hostPort": 8080, "containerPort": 80}]);
    let (out, v) = call(&no_nft(d.path()), "ADD", &conf("1.0.0", m, None));
    assert_eq!(out.exit_code, 1);
    assert_eq!(v["code"], json!(code::INVALID_NETWORK_CONFIG));
    assert_eq!(v["msg"], json!(NOT_CHAINED));
    // Also with no mappings at all.
    let (out, v) = call(&no_nft(d.path()), "ADD", &conf("1.0.0", json!([]), None));
    assert_eq!((out.exit_code, v["msg"].clone()), (1, json!(NOT_CHAINED)));
}

#[test]
fn empty_mappings_pass_prev_result_through_without_nft() {
    let d = TempDir::new();
    for m in [json!([]), Value::Null] {
        let (out, v) = call(&no_nft(d.path()), "ADD", &conf("1.0.0", m, Some(prev())));
        assert_eq!(out.exit_code, 0, "{}", String::from_utf8_lossy(&out.stdout));
        assert_eq!(v, prev());
    }
    // No runtimeConfig at all.
    let mut c = conf("1.0.0", json!([]), Some(prev()));
    c.as_object_mut().unwrap().remove("runtimeConfig");
    let (out, v) = call(&no_nft(d.path()), "ADD", &c);
    assert_eq!((out.exit_code, v), (0, prev()));
    // CHECK with no mappings is fine too, and does not run nft.
    let (out, _) = call(
        &no_nft(d.path()),
        "CHECK",
        &conf("1.0.0", json!([]), Some(prev())),
    );
    assert_eq!(out.exit_code, 0);
}

#[test]
fn prev_result_is_printed_in_config_version() {
    let d = TempDir::new();
    let (out, v) = call(
        &no_nft(d.path()),
        "ADD",
        &conf("0.4.0", json!([]), Some(prev())),
    );
    assert_eq!(out.exit_code, 0);
    assert_eq!(v["cniVersion"], json!("0.4.0"));
    assert_eq!(v["ips"][0]["version"], json!("4"));
    assert_eq!(v["ips"][0]["address"], json!("10.1.0.5/24"));
}

#[test]
fn one_invalid_mapping_fails_everything() {
    let d = TempDir::new();
    let m = json!([{"hostPort": 8080, "containerPort": 80},
                   {"hostPort": 70000, "containerPort": 81}]);
    let (out, v) = call(&recorder(d.path()), "ADD", &conf("1.0.0", m, Some(prev())));
    assert_eq!(out.exit_code, 1);
    assert_eq!(v["code"], json!(code::INVALID_NETWORK_CONFIG));
    assert!(v["details"].as_str().unwrap().contains("70000"), "{v}");
    assert_eq!(batches(d.path()), "", "nft must not have been run");
    // A duplicate host port is refused by the planner, also before any batch.
    let dup = json!([{"hostPort": 8080, "containerPort": 80},
                     {"hostPort": 8080, "containerPort": 81}]);
    let (out, v) = call(
        &recorder(d.path()),
        "ADD",
        &conf("1.0.0", dup, Some(prev())),
    );
    assert_eq!((out.exit_code, v["code"].clone()), (1, json!(7)));
    assert_eq!(batches(d.path()), "");
}

#[test]
fn add_sends_one_owner_tagged_batch_and_sets_route_localnet() {
    let d = TempDir::new();
    let knob = d.path().join("net/ipv4/conf/cni0");
    std::fs::create_dir_all(&knob).unwrap();
    std::fs::write(knob.join("route_localnet"), "0").unwrap();
    let m = json!([{"hostPort": 8080, "containerPort": 80},
                   {"hostPort": 5353, "containerPort": 53, "protocol": "udp", "hostIP": "192.168.1.1"},
                   {"hostPort": 9000, "containerPort": 90, "hostIP": "2001:db8::1"}]);
    let (out, v) = call(&recorder(d.path()), "ADD", &conf("1.0.0", m, Some(prev())));
    assert_eq!(
        out.exit_code,
        0,
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(v, prev());
    let b = batches(d.path());
    assert!(b.contains(
        "create element inet cnm pm4any { tcp . 8080 comment \"net1,ctr1,eth0\" : 10.1.0.5 . 80 }"
    ), "{b}");
    assert!(b.contains(
        "create element inet cnm pm4 { 192.168.1.1 . udp . 5353 comment \"net1,ctr1,eth0\" : 10.1.0.5 . 53 }"
    ), "{b}");
    assert!(b.contains("pmsnat4 { 10.1.0.0/24 . 10.1.0.5"), "{b}");
    // The IPv6 host IP has no IPv6 container address: skipped like the reference does.
    assert!(!b.contains("9000"), "{b}");
    assert_eq!(b.matches("add table inet cnm").count(), 1, "one batch: {b}");
    assert_eq!(
        std::fs::read_to_string(knob.join("route_localnet")).unwrap(),
        "1"
    );
}

#[test]
fn snat_false_adds_no_snat_and_leaves_route_localnet() {
    let d = TempDir::new();
    let m = json!([{"hostPort": 8080, "containerPort": 80}]);
    let mut c = conf("1.0.0", m, Some(prev()));
    c["snat"] = json!(false);
    // No route_localnet file exists under the fake /proc/sys: writing it would fail.
    let (out, _) = call(&recorder(d.path()), "ADD", &c);
    assert_eq!(out.exit_code, 0, "{}", String::from_utf8_lossy(&out.stdout));
    let b = batches(d.path());
    assert!(b.contains("pm4any { tcp . 8080"), "{b}");
    assert!(!b.contains("element inet cnm pmsnat4"), "{b}");
}

#[test]
fn invalid_options_are_code_7() {
    let d = TempDir::new();
    let m = json!([{"hostPort": 8080, "containerPort": 80}]);
    let mut c = conf("1.0.0", m, Some(prev()));
    c["markMasqBit"] = json!(40);
    let (out, v) = call(&no_nft(d.path()), "ADD", &c);
    assert_eq!((out.exit_code, v["code"].clone()), (1, json!(7)));
    c["markMasqBit"] = json!(3);
    c["externalSetMarkChain"] = json!("KUBE-MARK-MASQ");
    let (_, v) = call(&no_nft(d.path()), "ADD", &c);
    assert_eq!(v["code"], json!(7));
}

/// nft replaced by a script that logs its arguments and answers as if table `inet cnm` did
/// not exist: DEL and GC then have nothing to remove.
fn absent_table(dir: &Path) -> Portmap {
    let script = format!(
        "echo \"$*\" >> {}/nft-args; echo 'Error: No such file or directory' >&2; exit 1",
        dir.display()
    );
    Portmap {
        firewall: Firewall::with_program("sh", vec!["-c".into(), script.into(), "nft".into()])
            .with_state_dir(None),
        proc_sys: dir.to_path_buf(),
        reference: false,
    }
}

#[test]
fn del_and_gc_do_not_validate_options() {
    let d = TempDir::new();
    let m = json!([{"hostPort": 8080, "containerPort": 80}]);
    for (key, bad) in [
        ("markMasqBit", json!(99)),
        ("backend", json!("ebpf")),
        ("conditionsV4", json!(["-d", "10.0.0.0/8"])),
    ] {
        let mut c = conf("1.1.0", m.clone(), Some(prev()));
        c[key] = bad;
        c["cni.dev/valid-attachments"] = json!([]);
        for cmd in ["DEL", "GC"] {
            let (out, v) = call(&absent_table(d.path()), cmd, &c);
            assert_eq!(out.exit_code, 0, "{cmd} with {key}: {v}");
        }
        // ADD still refuses the same config.
        let (out, _) = call(&absent_table(d.path()), "ADD", &c);
        assert_eq!(out.exit_code, 1, "ADD with {key}");
    }
    let args = std::fs::read_to_string(d.path().join("nft-args")).unwrap_or_default();
    assert_eq!(
        args.matches("-j list table inet cnm").count(),
        6,
        "DEL and GC looked up the mappings by owner: {args}"
    );
}

#[test]
fn conditions_are_refused_with_code_2_before_nft() {
    let d = TempDir::new();
    let m = json!([{"hostPort": 8080, "containerPort": 80}]);
    let mut c = conf("1.0.0", m, Some(prev()));
    c["conditionsV6"] = json!(["-s", "fd00::/8"]);
    for cmd in ["ADD", "CHECK"] {
        let (out, v) = call(&recorder(d.path()), cmd, &c);
        assert_eq!(out.exit_code, 1, "{cmd}");
        assert_eq!(v["code"], json!(code::UNSUPPORTED_FIELD), "{cmd}: {v}");
        let msg = v["msg"].as_str().unwrap();
        assert!(
            msg.contains("conditionsV6") && msg.contains(r#"["-s","fd00::/8"]"#),
            "{msg}"
        );
    }
    assert_eq!(batches(d.path()), "", "nft must not have been run");
    // An empty list is fine (snat off: the fake /proc/sys has no route_localnet knob).
    c["conditionsV6"] = json!([]);
    c["snat"] = json!(false);
    let (out, _) = call(&recorder(d.path()), "ADD", &c);
    assert_eq!(out.exit_code, 0, "{}", String::from_utf8_lossy(&out.stdout));
}

#[test]
fn gc_needs_valid_attachments_and_status_needs_nft() {
    let d = TempDir::new();
    let c = json!({"cniVersion": "1.1.0", "name": "net1", "type": "portmap"});
    let (out, v) = call(&no_nft(d.path()), "GC", &c);
    assert_eq!((out.exit_code, v["code"].clone()), (1, json!(7)));
    let (out, v) = call(&no_nft(d.path()), "STATUS", &c);
    assert_eq!(out.exit_code, 1);
    assert_eq!(v["code"], json!(code::PLUGIN_NOT_AVAILABLE));
    assert!(v["details"].as_str().unwrap().contains("/nonexistent/nft"));
}

#[test]
fn applicable_filters_by_family() {
    let pm = |ip: Option<&str>| PortMapping {
        host_port: 1,
        container_port: 2,
        protocol: cnm_nft::Protocol::Tcp,
        host_ip: ip.map(|s| s.parse().unwrap()),
    };
    let maps = [pm(None), pm(Some("10.0.0.1")), pm(Some("::1"))];
    let v4: Vec<IpNet> = vec!["10.1.0.5/24".parse().unwrap()];
    assert_eq!(applicable(&maps, &v4), [pm(None), pm(Some("10.0.0.1"))]);
    assert!(applicable(&maps, &[]).is_empty());
}
