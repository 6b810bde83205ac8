//! A foreign CNI IPAM plugin executed as the network's IPAM driver: its
//! result becomes the endpoint's addresses, its error code reaches the
//! runtime unchanged (read back from the driver error's source), DEL
//! executes its DEL, and a failed ADD is followed by its DEL.

use cni_protocol::testutil::TempDir;
use cni_protocol::{code, CniEnv, NetConf, Plugin, Request};
use cnm_kernel::fake::FakeSystem;
use serde_json::{json, Value};

use super::plugin_on;

const NETNS: &str = "/run/netns/test-exec";

fn request(cmd: &str, cid: &str, path: &str, conf: &Value) -> Request {
    let bytes = serde_json::to_vec(conf).expect("json");
    let env = CniEnv::from_lookup(|k| {
        match k {
            "CNI_COMMAND" => Some(cmd),
            "CNI_CONTAINERID" => Some(cid),
            "CNI_NETNS" => Some(NETNS),
            "CNI_IFNAME" => Some("eth0"),
            "CNI_PATH" => Some(path),
            _ => None,
        }
        .map(String::from)
    })
    .expect("env");
    Request {
        env,
        conf: NetConf::parse(&bytes).expect("conf"),
        stdin: bytes,
    }
}

fn conf(ipam_type: &str) -> Value {
    json!({
        "cniVersion": "1.0.0", "name": "execnet", "type": "simplebridge",
        "bridge": "br-exec", "isGateway": true,
        "ipam": {"type": ipam_type}
    })
}

/// A plugin that logs each command to `log`, answers ADD with an address
/// and a route, or fails ADD with code 55 when the container id is `bad`.
fn ipam_script(dir: &TempDir) -> std::path::PathBuf {
    let log = dir.path().join("log");
    dir.script(
        "myipam",
        &format!(
            r#"#!/bin/sh
echo "$CNI_COMMAND $CNI_CONTAINERID" >> {log}
cat > /dev/null
if [ "$CNI_COMMAND" = ADD ]; then
  if [ "$CNI_CONTAINERID" = bad ]; then
    echo '{{"cniVersion":"1.0.0","code":55,"msg":"no lease","details":"the server said no"}}'
    exit 1
  fi
  echo '{{"cniVersion":"1.0.0","ips":[{{"address":"10.77.0.9/24","gateway":"10.77.0.1"}}],"routes":[{{"dst":"10.88.0.0/16"}}],"dns":{{"nameservers":["10.77.0.53"]}}}}'
fi
exit 0
"#,
            log = log.display()
        ),
    );
    log
}

#[test]
fn a_foreign_ipam_plugin_allocates_through_the_model() {
    let dir = TempDir::new();
    let log = ipam_script(&dir);
    let path = dir.path().display().to_string();
    let p = plugin_on(FakeSystem::new(NETNS), Vec::new());
    let r = p
        .add(&request("ADD", "c1", &path, &conf("myipam")))
        .expect("add");
    assert_eq!(r.ips.len(), 1);
    assert_eq!(r.ips[0].address.to_string(), "10.77.0.9/24");
    assert_eq!(r.ips[0].interface, Some(2));
    assert!(
        r.routes.iter().any(|x| x.dst.to_string() == "10.88.0.0/16"),
        "{:?}",
        r.routes
    );
    assert_eq!(r.dns.nameservers, ["10.77.0.53"]);
    let eth0 = p
        .system
        .state
        .borrow()
        .container
        .as_ref()
        .and_then(|c| c.get("eth0").map(|l| l.addrs.clone()))
        .expect("eth0");
    assert_eq!(eth0[0].to_string(), "10.77.0.9/24");
    p.del(&request("DEL", "c1", &path, &conf("myipam")))
        .expect("del");
    let calls = std::fs::read_to_string(&log).expect("log");
    assert_eq!(calls, "ADD c1\nDEL c1\n");
}

#[test]
fn a_foreign_plugins_error_code_reaches_the_runtime_and_its_add_is_undone() {
    let dir = TempDir::new();
    let log = ipam_script(&dir);
    let path = dir.path().display().to_string();
    let p = plugin_on(FakeSystem::new(NETNS), Vec::new());
    let e = p
        .add(&request("ADD", "bad", &path, &conf("myipam")))
        .expect_err("the plugin fails");
    assert_eq!(
        (e.code, e.msg.as_str(), e.details.as_str()),
        (55, "no lease", "the server said no")
    );
    // The spec's DEL of the delegate after its failed ADD; nothing created.
    let calls = std::fs::read_to_string(&log).expect("log");
    assert_eq!(calls, "ADD bad\nDEL bad\n");
    assert!(p
        .system
        .state
        .borrow()
        .host
        .keys()
        .all(|k| !k.starts_with("veth")));
    // A plugin that is not in CNI_PATH: the delegation's own code 7.
    let e = p
        .add(&request("ADD", "c2", &path, &conf("nosuch")))
        .expect_err("missing plugin");
    assert_eq!(e.code, code::INVALID_NETWORK_CONFIG, "{e:?}");
}
