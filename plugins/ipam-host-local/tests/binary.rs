//! Drives the built `ipam-host-local` binary as a runtime does, next to the
//! reference `/usr/lib/cni/host-local` when it is installed.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{json, Value};

const OURS: &str = env!("CARGO_BIN_EXE_ipam-host-local");
const REF: &str = "/usr/lib/cni/host-local";

/// A temp dir (`tempfile`) removed on drop; `.0` is its path.
struct TempDir(PathBuf, #[allow(dead_code)] tempfile::TempDir);
impl TempDir {
    fn new() -> TempDir {
        let d = tempfile::Builder::new()
            .prefix("cnm-hl-bin-")
            .tempdir()
            .unwrap();
        TempDir(d.path().to_path_buf(), d)
    }
}

/// Runs `bin`; returns (exit code, stdout parsed as JSON or Null, stderr).
fn exec(bin: &str, cmd: &str, id: &str, ifname: &str, stdin: &[u8]) -> (i32, Value, String) {
    let mut child = Command::new(bin)
        .env_clear()
        .env("CNI_COMMAND", cmd)
        .env("CNI_CONTAINERID", id)
        .env("CNI_NETNS", "/var/run/netns/x")
        .env("CNI_IFNAME", ifname)
        .env("CNI_PATH", "/usr/lib/cni")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn conf(dir: &Path) -> Value {
    json!({"cniVersion": "1.0.0", "name": "binnet", "type": "bridge",
        "ipam": {"type": "host-local", "dataDir": dir.to_str().unwrap(),
            "ranges": [[{"subnet": "10.11.0.0/24"}], [{"subnet": "2001:db8:11::/64"}]]}})
}

fn store_names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir.join("binnet"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn version_and_errors() {
    let (code, v, _) = exec(OURS, "VERSION", "", "", br#"{"cniVersion":"1.0.0"}"#);
    assert_eq!(code, 0);
    assert!(v["supportedVersions"]
        .as_array()
        .unwrap()
        .contains(&json!("1.1.0")));
    let (code, v, stderr) = exec(
        OURS,
        "ADD",
        "a",
        "eth0",
        br#"{"cniVersion":"1.0.0","name":"n","type":"x"}"#,
    );
    assert_eq!(code, 1);
    assert_eq!(v["code"], 7);
    assert!(stderr.contains("ipam-host-local"), "{stderr}");
}

#[test]
fn binary_add_del_against_reference() {
    let d = TempDir::new();
    let c = conf(&d.0).to_string().into_bytes();
    let (code, v, e) = exec(OURS, "ADD", "a", "eth0", &c);
    assert_eq!(code, 0, "{v} {e}");
    assert_eq!(v["ips"][0]["address"], "10.11.0.2/24");
    assert_eq!(v["ips"][1]["address"], "2001:db8:11::2/64");
    assert_eq!(exec(OURS, "CHECK", "a", "eth0", &c).0, 0);
    if !Path::new(REF).exists() {
        println!("skipped reference half: {REF} not installed");
        assert_eq!(exec(OURS, "DEL", "a", "eth0", &c).0, 0);
        return;
    }
    // reference DEL releases our reservation
    assert_eq!(exec(REF, "DEL", "a", "eth0", &c).0, 0);
    assert_eq!(
        store_names(&d.0),
        ["last_reserved_ip.0", "last_reserved_ip.1", "lock"]
    );
    // reference ADD, our CHECK and DEL
    let (code, v, _) = exec(REF, "ADD", "b", "eth0", &c);
    assert_eq!(code, 0);
    assert_eq!(v["ips"][0]["address"], "10.11.0.3/24");
    assert_eq!(exec(OURS, "CHECK", "b", "eth0", &c).0, 0);
    let (code, v, _) = exec(OURS, "ADD", "b", "eth0", &c);
    assert_eq!(
        (code, v["code"].clone()),
        (1, json!(101)),
        "duplicate of the reference's reservation"
    );
    assert_eq!(exec(OURS, "DEL", "b", "eth0", &c).0, 0);
    assert_eq!(
        store_names(&d.0),
        ["last_reserved_ip.0", "last_reserved_ip.1", "lock"]
    );
    // and our next address continues the reference's round robin
    let (_, v, _) = exec(OURS, "ADD", "c", "eth0", &c);
    assert_eq!(v["ips"][0]["address"], "10.11.0.4/24");
}
