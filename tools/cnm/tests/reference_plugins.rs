//! `cnm` driving the reference plugins installed in /usr/lib/cni (bridge +
//! host-local, cniVersion 1.0.0), as a user would drive `cnitool`. Root;
//! everything happens in throwaway namespaces.

mod common;

use common::{ok, World};
use serde_json::json;

const REF_PATH: &str = "/usr/lib/cni";

fn ready() -> bool {
    if !common::is_root() {
        return false;
    }
    if !std::path::Path::new(REF_PATH).join("bridge").exists() {
        println!("skipped: reference plugins not installed in {REF_PATH}");
        return false;
    }
    true
}

fn bridge_conf(
    world: &World,
    net: &str,
    subnet: &str,
    extra_plugins: serde_json::Value,
) -> serde_json::Value {
    let mut plugins = vec![json!({
        "type": "bridge",
        "bridge": "cnmt0",
        "isGateway": true,
        "ipam": {
            "type": "host-local",
            "ranges": [[{"subnet": subnet}]],
            "routes": [{"dst": "0.0.0.0/0"}],
            "dataDir": world.ipam_dir(),
        }
    })];
    plugins.extend(extra_plugins.as_array().cloned().unwrap_or_default());
    json!({"cniVersion": "1.0.0", "name": net, "plugins": plugins})
}

#[test]
fn lifecycle_with_reference_bridge_and_host_local() {
    if !ready() {
        return;
    }
    let world = World::new(REF_PATH);
    let conf = bridge_conf(&world, "cnmref", "10.201.0.0/24", json!([]));
    let bytes = world.write_conf("10-cnmref.conflist", &conf);
    common::lifecycle(&world, "cnmref", &bytes, "1.0.0");
}

#[test]
fn chain_with_capabilities_args_and_single_conf() {
    if !ready() {
        return;
    }
    let world = World::new(REF_PATH);
    // A chain: bridge, then tuning with the `mac` capability from CAP_ARGS.
    let conf = bridge_conf(
        &world,
        "cnmchain",
        "10.202.0.0/24",
        json!([{"type": "tuning", "capabilities": {"mac": true}}]),
    );
    world.write_conf("10-cnmchain.conflist", &conf);
    let c = common::Netns::new("ctr");
    let mac = "c2:11:22:33:44:55";
    let cap = json!({"mac": mac, "portMappings": []}).to_string();
    let out = world.cnm(
        &["add", "cnmchain", &c.path()],
        &[
            ("CAP_ARGS", &cap),
            ("CNI_IFNAME", "net1"),
            ("CNI_ARGS", "IgnoreUnknown=1;FOO=bar"),
        ],
    );
    let stdout = ok(&out, "add with CAP_ARGS");
    let result: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    // tuning reports the new MAC on the container interface.
    let ifaces = result["interfaces"].as_array().unwrap();
    assert!(
        ifaces
            .iter()
            .any(|i| i["name"] == "net1" && i["mac"] == mac),
        "{stdout}"
    );
    let link = std::process::Command::new("ip")
        .args(["-n", &c.name, "-j", "link", "show", "dev", "net1"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&link.stdout).contains(mac));
    let cache = world.cache_file("cnmchain", &c.path(), "net1");
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&cache).unwrap()).unwrap();
    assert_eq!(
        v["cniArgs"],
        json!([["IgnoreUnknown", "1"], ["FOO", "bar"]])
    );
    assert_eq!(v["capabilityArgs"], json!({"mac": mac, "portMappings": []}));
    ok(
        &world.cnm(
            &["check", "cnmchain", &c.path()],
            &[("CNI_IFNAME", "net1"), ("CAP_ARGS", &cap)],
        ),
        "check chain",
    );
    ok(
        &world.cnm(
            &["del", "cnmchain", &c.path()],
            &[("CNI_IFNAME", "net1"), ("CAP_ARGS", &cap)],
        ),
        "del chain",
    );
    assert!(!cache.exists() && !c.has_link("net1"));

    // A single-plugin .conf is loaded as a list of one.
    let single = json!({"cniVersion": "0.4.0", "name": "cnmsingle", "type": "bridge", "bridge": "cnmt1",
        "ipam": {"type": "host-local", "subnet": "10.203.0.0/24", "dataDir": world.ipam_dir()}});
    world.write_conf("20-single.conf", &single);
    let c2 = common::Netns::new("ctr");
    let stdout = ok(
        &world.cnm(&["add", "cnmsingle", &c2.path()], &[]),
        "add single conf",
    );
    let ip = common::first_ip(&stdout);
    assert!(ip.starts_with("10.203.0."), "{stdout}");
    assert!(c2.addrs("eth0").contains(&ip));
    ok(
        &world.cnm(&["check", "cnmsingle", &c2.path()], &[]),
        "check single",
    );
    ok(
        &world.cnm(&["del", "cnmsingle", &c2.path()], &[]),
        "del single",
    );
    assert!(!c2.has_link("eth0"));
}

#[test]
fn plugin_errors_are_reported() {
    if !ready() {
        return;
    }
    let world = World::new(REF_PATH);
    // host-local rejects a range without subnet: the CNI error reaches stderr.
    let conf = json!({"cniVersion": "1.0.0", "name": "cnmbad", "plugins": [
        {"type": "bridge", "bridge": "cnmt2", "ipam": {"type": "host-local", "ranges": [[{}]], "dataDir": world.ipam_dir()}}]});
    world.write_conf("10-bad.conflist", &conf);
    let c = common::Netns::new("ctr");
    let out = world.cnm(&["add", "cnmbad", &c.path()], &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("type=\"bridge\"") && err.contains("(add)") && err.contains("CNI error code"),
        "{err}"
    );
    assert!(
        !world.cache_file("cnmbad", &c.path(), "eth0").exists(),
        "no cache after a failed ADD"
    );

    // A version the Debian plugins do not support (1.1.0): their code 1 is shown.
    let conf = json!({"cniVersion": "1.1.0", "name": "cnmnew", "plugins": [{"type": "bridge", "bridge": "cnmt3"}]});
    world.write_conf("20-new.conflist", &conf);
    let out = world.cnm(&["add", "cnmnew", &c.path()], &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("CNI error code 1"), "{err}");
}
