//! The full CNI path in-process: `cni_protocol::run(&plugin, env, stdin)`
//! over the model's host-local IPAM driver, as the binary runs it.

mod common;

use std::collections::HashMap;

use cni_protocol::{run, Outcome};
use common::{names, TempDir};
use serde_json::{json, Value};

fn call(cmd: &str, id: &str, ifname: &str, args: Option<&str>, conf: &Value) -> (Outcome, Value) {
    let mut env: HashMap<&str, String> = HashMap::new();
    env.insert("CNI_COMMAND", cmd.into());
    env.insert("CNI_CONTAINERID", id.into());
    env.insert("CNI_NETNS", "/var/run/netns/x".into());
    env.insert("CNI_IFNAME", ifname.into());
    env.insert("CNI_PATH", "/usr/lib/cni".into());
    if let Some(a) = args {
        env.insert("CNI_ARGS", a.into());
    }
    let bytes = conf.to_string().into_bytes();
    let plugin = ipam_host_local::plugin(std::time::Duration::from_secs(30));
    let out = run(&plugin, |k| env.get(k).cloned(), &mut bytes.as_slice());
    let v = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out, v)
}

fn conf(dir: &TempDir, version: &str, ipam: Value) -> Value {
    let mut ipam = ipam;
    ipam["type"] = json!("ipam-host-local");
    ipam["dataDir"] = json!(dir.path().to_str().unwrap());
    json!({"cniVersion": version, "name": "runnet", "type": "simplebridge", "ipam": ipam})
}

#[test]
fn add_prints_ipam_result_in_config_version() {
    let d = TempDir::new("run-add");
    let resolv = d.path().join("resolv.conf");
    std::fs::write(
        &resolv,
        "nameserver 10.0.0.53\nsearch svc.local\noptions ndots:2\ndomain x.local\n",
    )
    .unwrap();
    let c = conf(
        &d,
        "1.0.0",
        json!({"ranges": [[{"subnet": "10.3.0.0/24"}], [{"subnet": "2001:db8:3::/64"}]],
        "routes": [{"dst": "0.0.0.0/0"}], "resolvConf": resolv.to_str().unwrap()}),
    );
    let (out, v) = call("ADD", "a", "eth0", None, &c);
    assert_eq!(out.exit_code, 0, "{}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(
        v,
        json!({"cniVersion": "1.0.0",
            "ips": [{"address": "10.3.0.2/24", "gateway": "10.3.0.1"}, {"address": "2001:db8:3::2/64", "gateway": "2001:db8:3::1"}],
            "routes": [{"dst": "0.0.0.0/0"}],
            "dns": {"nameservers": ["10.0.0.53"], "domain": "x.local", "search": ["svc.local"], "options": ["ndots:2"]}})
    );
    // 0.4.0: ips carry a version
    let c4 = conf(&d, "0.4.0", json!({"subnet": "10.4.0.0/24"}));
    let (_, v) = call("ADD", "b", "eth0", None, &c4);
    assert_eq!(v["ips"][0]["version"], "4");
    assert_eq!(v["cniVersion"], "0.4.0");
    // 0.2.0: ip4
    let c2 = conf(&d, "0.2.0", json!({"subnet": "10.2.0.0/24"}));
    let (_, v) = call("ADD", "c", "eth0", None, &c2);
    assert_eq!(v["ip4"]["ip"], "10.2.0.2/24");
}

#[test]
fn cni_args_ip_and_ignore_unknown() {
    let d = TempDir::new("run-args");
    let c = conf(&d, "1.0.0", json!({"subnet": "10.9.0.0/24"}));
    let (out, v) = call("ADD", "a", "eth0", Some("IP=10.9.0.77"), &c);
    assert_eq!(out.exit_code, 0);
    assert_eq!(v["ips"][0]["address"], "10.9.0.77/24");
    let (out, v) = call("ADD", "b", "eth0", Some("K8S_POD_NAME=p;IP=10.9.0.78"), &c);
    assert_eq!(out.exit_code, 1);
    assert_eq!(v["code"], 4);
    assert!(v["msg"].as_str().unwrap().contains("K8S_POD_NAME"), "{v}");
    let (out, v) = call(
        "ADD",
        "b",
        "eth0",
        Some("IgnoreUnknown=1;K8S_POD_NAME=p;IP=10.9.0.78"),
        &c,
    );
    assert_eq!(out.exit_code, 0);
    assert_eq!(v["ips"][0]["address"], "10.9.0.78/24");
    let (_, v) = call("ADD", "c", "eth0", Some("IP=10.9.0"), &c);
    assert_eq!(v["code"], 4);
    let (_, v) = call("ADD", "c", "eth0", Some("IP=10.9.0.78"), &c);
    assert_eq!(v["code"], 101);
    assert_eq!(
        v["msg"],
        "failed to allocate for range 0: requested IP address 10.9.0.78 is not available in range set 10.9.0.1-10.9.0.254"
    );
}

#[test]
fn config_errors_are_code_7() {
    let d = TempDir::new("run-cfg");
    let (_, v) = call(
        "ADD",
        "a",
        "eth0",
        None,
        &json!({"cniVersion": "1.0.0", "name": "n", "type": "x"}),
    );
    assert_eq!(
        (v["code"].clone(), v["msg"].clone()),
        (json!(7), json!("IPAM config missing 'ipam' key"))
    );
    let (_, v) = call(
        "ADD",
        "a",
        "eth0",
        None,
        &conf(&d, "1.0.0", json!({"subnet": "10.0.0.1/24"})),
    );
    assert_eq!(v["code"], 7);
    assert!(
        v["msg"]
            .as_str()
            .unwrap()
            .starts_with("invalid range set 0: Network has host bits set"),
        "{v}"
    );
}

#[test]
fn del_check_gc_status() {
    let d = TempDir::new("run-del");
    let c = conf(&d, "1.1.0", json!({"subnet": "10.8.0.0/30"}));
    assert_eq!(call("ADD", "a", "eth0", None, &c).0.exit_code, 0);
    assert_eq!(call("CHECK", "a", "eth0", None, &c).0.exit_code, 0);
    let (_, v) = call("CHECK", "zz", "eth0", None, &c);
    assert_eq!(
        (v["code"].clone(), v["msg"].clone()),
        (
            json!(101),
            json!("host-local: Failed to find address added by container zz")
        )
    );
    // STATUS: the only address is taken -> 50
    let (out, v) = call("STATUS", "", "", None, &c);
    assert_eq!((out.exit_code, v["code"].clone()), (1, json!(50)));
    // DEL with a config whose ranges no longer parse still releases
    let broken = conf(&d, "1.1.0", json!({"subnet": "garbage"}));
    assert_eq!(call("DEL", "a", "eth0", None, &broken).0.exit_code, 0);
    assert_eq!(
        names(&d.path().join("runnet")),
        ["last_reserved_ip.0", "lock"]
    );
    assert_eq!(
        call("DEL", "a", "eth0", None, &c).0.exit_code,
        0,
        "idempotent"
    );
    assert_eq!(call("STATUS", "", "", None, &c).0.exit_code, 0);
    // GC
    assert_eq!(call("ADD", "keep", "eth0", None, &c).0.exit_code, 0);
    let mut g = c.clone();
    g["cni.dev/valid-attachments"] = json!([]);
    g["cni.dev/attachments"] = json!([{"containerID": "keep", "ifname": "eth0"}]);
    // valid-attachments wins: empty list -> everything goes
    let mut g2 = c.clone();
    g2["cni.dev/attachments"] = json!([{"containerID": "keep", "ifname": "eth0"}]);
    assert_eq!(call("GC", "", "", None, &g2).0.exit_code, 0);
    assert_eq!(
        names(&d.path().join("runnet")).len(),
        3,
        "fallback key kept the attachment"
    );
    assert_eq!(call("GC", "", "", None, &g).0.exit_code, 0);
    assert_eq!(
        names(&d.path().join("runnet")),
        ["last_reserved_ip.0", "lock"]
    );
    // GC without any attachment list refuses to guess
    assert_eq!(call("GC", "", "", None, &c).1["code"], 7);
}

const A: &str = "aaaaaaaa-0000-4000-8000-00000000000a";
const B: &str = "bbbbbbbb-0000-4000-8000-00000000000b";

fn boot(id: &str) -> cnm_ipam::FixedBoot {
    cnm_ipam::FixedBoot::new(
        id,
        std::time::SystemTime::now() - std::time::Duration::from_secs(3600),
    )
}

#[test]
fn plugin_with_injected_boot() {
    use cni_protocol::{run, Plugin};
    let d = TempDir::new("reboot-plugin");
    let conf = json!({"cniVersion": "1.1.0", "name": "pnet", "type": "host-local",
        "ipam": {"type": "host-local", "subnet": "10.9.7.0/29", "rangeEnd": "10.9.7.3",
                 "dataDir": d.path().to_str().unwrap()}});
    let bytes = conf.to_string().into_bytes();
    let call = |p: &dyn Plugin, id: &str| {
        let env = |k: &str| match k {
            "CNI_COMMAND" => Some("ADD".to_string()),
            "CNI_CONTAINERID" => Some(id.to_string()),
            "CNI_NETNS" => Some("/proc/self/ns/net".to_string()),
            "CNI_IFNAME" => Some("eth0".to_string()),
            "CNI_PATH" => Some("/nonexistent".to_string()),
            _ => None,
        };
        run(p, env, &mut bytes.as_slice()).exit_code
    };
    let t = std::time::Duration::from_secs(10);
    let (a, b) = (
        ipam_host_local::plugin_in(boot(A), t),
        ipam_host_local::plugin_in(boot(B), t),
    );
    assert_eq!(call(&a, "c0"), 0);
    assert_eq!(call(&a, "c1"), 0);
    assert_eq!(call(&a, "c2"), 1, "the range holds two");
    assert_eq!(call(&b, "c2"), 0, "boot B reclaims");
}
