//! The plugin through `cni_protocol::run`, as a runtime calls it, on a
//! record store in a temporary directory (no resolver is started: the
//! store's `launcher` is None) and fixed bridge addresses.

use std::collections::HashMap;
use std::net::IpAddr;

use cni_protocol::{code, run, Outcome};
use cnm_dns_records::Store;
use serde_json::{json, Value};

use super::*;
use crate::addrs::HostAddrs;

struct FakeHost(HashMap<String, Vec<IpAddr>>);

impl HostAddrs for FakeHost {
    fn addresses(&self, name: &str) -> Vec<IpAddr> {
        self.0.get(name).cloned().unwrap_or_default()
    }
}

fn plugin(dir: &std::path::Path) -> DnsName<FakeHost> {
    plugin_with(dir, true)
}

fn store(dir: &std::path::Path) -> Store {
    Store::at(dir.join("store"), None)
}

fn plugin_with(dir: &std::path::Path, resolver_found: bool) -> DnsName<FakeHost> {
    let host = FakeHost(HashMap::from([(
        "cni-podman1".to_string(),
        vec![
            "10.89.0.1".parse().unwrap(),
            "fe80::1".parse().unwrap(),
            "192.0.2.1".parse().unwrap(),
        ],
    )]));
    DnsName::new(
        Names::new(std::sync::Arc::new(store(dir)), resolver_found),
        host,
    )
}

fn prev() -> Value {
    json!({
        "cniVersion": "0.4.0",
        "interfaces": [
            {"name": "cni-podman1", "mac": "aa:bb:cc:dd:ee:01"},
            {"name": "veth1234", "mac": "aa:bb:cc:dd:ee:02"},
            {"name": "eth0", "mac": "aa:bb:cc:dd:ee:03", "sandbox": "/run/netns/x"}
        ],
        "ips": [{"version": "4", "interface": 2, "address": "10.89.0.5/24", "gateway": "10.89.0.1"}],
        "routes": [{"dst": "0.0.0.0/0"}],
        "dns": {"nameservers": ["192.0.2.53"]}
    })
}

fn conf(extra: Value) -> Value {
    let mut c = json!({
        "cniVersion": "0.4.0",
        "name": "podman1",
        "type": "dnsname",
        "domainName": "dns.podman",
        "capabilities": {"aliases": true},
        "prevResult": prev(),
    });
    if let (Some(m), Value::Object(e)) = (c.as_object_mut(), extra) {
        for (k, v) in e {
            if v.is_null() {
                m.remove(&k);
            } else {
                m.insert(k, v);
            }
        }
    }
    c
}

fn call(p: &DnsName<FakeHost>, cmd: &str, conf: &Value, args: &str) -> Outcome {
    let stdin = serde_json::to_vec(conf).unwrap();
    let env: HashMap<&str, String> = HashMap::from([
        ("CNI_COMMAND", cmd.to_string()),
        ("CNI_CONTAINERID", "ctr1".to_string()),
        ("CNI_NETNS", "/run/netns/x".to_string()),
        ("CNI_IFNAME", "eth0".to_string()),
        ("CNI_PATH", "/opt/cni/bin".to_string()),
        ("CNI_ARGS", args.to_string()),
    ]);
    run(p, |k| env.get(k).cloned(), &mut stdin.as_slice())
}

const PODMAN_ARGS: &str = "IgnoreUnknown=1;K8S_POD_NAME=web";

fn out(o: &Outcome) -> Value {
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn add_registers_and_passes_the_result_through() {
    let d = tempfile::tempdir().unwrap();
    let p = plugin(d.path());
    let c = conf(
        json!({"runtimeConfig": {"aliases": {"podman1": ["www", "Web2"], "other": ["nope"]}}}),
    );
    let o = call(&p, "ADD", &c, PODMAN_ARGS);
    assert_eq!(o.exit_code, 0, "{}", String::from_utf8_lossy(&o.stdout));
    let r = out(&o);
    assert_eq!(r["cniVersion"], "0.4.0");
    assert_eq!(r["interfaces"], prev()["interfaces"]);
    assert_eq!(r["ips"], prev()["ips"]);
    assert_eq!(r["dns"]["nameservers"], json!(["10.89.0.1", "192.0.2.53"]));
    assert_eq!(r["dns"]["search"], json!(["dns.podman"]));
    let eps = store(d.path()).endpoints("podman1").unwrap();
    assert_eq!(eps.len(), 1);
    assert_eq!(eps[0].name, "web");
    assert_eq!(eps[0].aliases, vec!["www", "Web2"]);
    assert_eq!(
        eps[0].addresses,
        vec!["10.89.0.5".parse::<IpAddr>().unwrap()]
    );
    assert_eq!(
        (eps[0].container_id.as_str(), eps[0].ifname.as_str()),
        ("ctr1", "eth0")
    );
    let s = store(d.path()).settings("podman1").unwrap().unwrap();
    // Only the bridge address in the container's subnet: not the link-local, not 192.0.2.1.
    assert_eq!(s.listen, vec!["10.89.0.1".parse::<IpAddr>().unwrap()]);
    assert_eq!(s.subnets, vec!["10.89.0.0/24".parse().unwrap()]);
    assert_eq!(s.domain.as_deref(), Some("dns.podman"));
    assert!(!s.internal);
}

#[test]
fn del_is_idempotent_and_needs_no_prev_result() {
    let d = tempfile::tempdir().unwrap();
    let p = plugin(d.path());
    assert_eq!(call(&p, "ADD", &conf(json!({})), PODMAN_ARGS).exit_code, 0);
    // DEL with a broken prevResult and no domainName still removes the record.
    let del_conf = conf(json!({"prevResult": {"ips": "garbage"}, "domainName": null}));
    let o = call(&p, "DEL", &del_conf, "");
    assert_eq!(o.exit_code, 0, "{}", String::from_utf8_lossy(&o.stdout));
    assert!(store(d.path()).endpoints("podman1").unwrap().is_empty());
    assert!(
        !d.path().join("store").exists(),
        "the last DEL leaves no file"
    );
    let o = call(&p, "DEL", &del_conf, "");
    assert_eq!(o.exit_code, 0);
}

#[test]
fn check_compares_with_what_add_wrote() {
    let d = tempfile::tempdir().unwrap();
    let p = plugin(d.path());
    let c = conf(json!({"runtimeConfig": {"aliases": {"podman1": ["www"]}}}));
    assert_eq!(call(&p, "ADD", &c, PODMAN_ARGS).exit_code, 0);
    // The record is right, but no resolver runs (launcher None): CHECK says so.
    let o = call(&p, "CHECK", &c, PODMAN_ARGS);
    assert_eq!(o.exit_code, 1);
    assert!(
        out(&o)["details"].as_str().unwrap().contains("not running"),
        "{}",
        out(&o)
    );
    // Another alias than registered: the record differs.
    let c2 = conf(json!({"runtimeConfig": {"aliases": {"podman1": ["other"]}}}));
    let o = call(&p, "CHECK", &c2, PODMAN_ARGS);
    assert!(
        out(&o)["details"].as_str().unwrap().contains("differs"),
        "{}",
        out(&o)
    );
    let o = call(&p, "CHECK", &conf(json!({"prevResult": null})), PODMAN_ARGS);
    assert_eq!(out(&o)["msg"], "Required prevResult missing");
}

#[test]
fn bad_input_is_a_clear_error_and_writes_nothing() {
    let d = tempfile::tempdir().unwrap();
    let p = plugin(d.path());
    let cases: Vec<(Value, &str, u32, &str)> = vec![
        (
            conf(json!({"domainName": null})),
            PODMAN_ARGS,
            code::INVALID_NETWORK_CONFIG,
            "missing domainName",
        ),
        (
            conf(json!({"domainName": "bad..domain"})),
            PODMAN_ARGS,
            code::INVALID_NETWORK_CONFIG,
            "invalid domainName",
        ),
        (
            conf(json!({"prevResult": null})),
            PODMAN_ARGS,
            code::INVALID_NETWORK_CONFIG,
            NOT_CHAINED,
        ),
        (
            conf(json!({"prevResult": {"cniVersion": "0.4.0", "ips": "x"}})),
            PODMAN_ARGS,
            code::DECODING_FAILURE,
            "failed to decode prevResult",
        ),
        (
            conf(json!({"runtimeConfig": {"aliases": {"podman1": ["bad alias"]}}})),
            PODMAN_ARGS,
            code::INVALID_NETWORK_CONFIG,
            "invalid alias",
        ),
        (
            conf(json!({"runtimeConfig": {"aliases": {"podman1": ["-rf"]}}})),
            PODMAN_ARGS,
            code::INVALID_NETWORK_CONFIG,
            "invalid alias",
        ),
        (
            conf(json!({"runtimeConfig": {"aliases": ["x"]}})),
            PODMAN_ARGS,
            code::INVALID_NETWORK_CONFIG,
            "invalid runtimeConfig.aliases",
        ),
        (
            conf(json!({"upstreams": ["nope"]})),
            PODMAN_ARGS,
            code::INVALID_NETWORK_CONFIG,
            "invalid upstreams",
        ),
        (
            conf(json!({})),
            "",
            code::INVALID_ENV,
            "missing container name",
        ),
        (
            conf(json!({})),
            "K8S_POD_NAME=a b",
            code::INVALID_ENV,
            "invalid container name",
        ),
        (
            conf(json!({})),
            "K8S_POD_NAME=web;FOO=1",
            code::INVALID_ENV,
            "ARGS: unknown args [\"FOO\"]",
        ),
        (
            conf(json!({"prevResult": {"cniVersion": "0.4.0", "interfaces": [], "ips": []}})),
            PODMAN_ARGS,
            code::INVALID_NETWORK_CONFIG,
            "no ip address was found in the network",
        ),
    ];
    for (c, args, want_code, want_msg) in cases {
        let o = call(&p, "ADD", &c, args);
        assert_eq!(o.exit_code, 1, "{c}");
        let e = out(&o);
        assert_eq!(e["code"], want_code, "{e}");
        assert_eq!(e["msg"], want_msg, "{e}");
        assert!(
            !d.path().join("store").exists(),
            "{want_msg}: something was written"
        );
    }
}

#[test]
fn gc_drops_what_is_not_valid() {
    let d = tempfile::tempdir().unwrap();
    let p = plugin(d.path());
    assert_eq!(call(&p, "ADD", &conf(json!({})), PODMAN_ARGS).exit_code, 0);
    let mut g = conf(json!({"cniVersion": "1.1.0", "prevResult": null}));
    let o = call(&p, "GC", &g, "");
    assert_eq!(out(&o)["msg"], "GC needs cni.dev/valid-attachments");
    g["cni.dev/valid-attachments"] = json!([{"containerID": "ctr1", "ifname": "eth0"}]);
    assert_eq!(call(&p, "GC", &g, "").exit_code, 0);
    assert_eq!(store(d.path()).endpoints("podman1").unwrap().len(), 1);
    g["cni.dev/valid-attachments"] = json!([{"containerID": "other", "ifname": "eth0"}]);
    assert_eq!(call(&p, "GC", &g, "").exit_code, 0);
    assert!(store(d.path()).endpoints("podman1").unwrap().is_empty());
}

#[test]
fn status_needs_the_resolver_binary() {
    let d = tempfile::tempdir().unwrap();
    let p = plugin(d.path());
    let s = conf(json!({"cniVersion": "1.1.0", "prevResult": null}));
    assert_eq!(call(&p, "STATUS", &s, "").exit_code, 0);
    let p = plugin_with(d.path(), false);
    let o = call(&p, "STATUS", &s, "");
    assert_eq!(out(&o)["code"], code::PLUGIN_NOT_AVAILABLE);
    // ADD refuses to register names nobody would serve.
    let o = call(&p, "ADD", &conf(json!({})), PODMAN_ARGS);
    assert_eq!(out(&o)["code"], code::PLUGIN_NOT_AVAILABLE);
    assert!(!d.path().join("store").exists());
}
