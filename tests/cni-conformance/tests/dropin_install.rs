//! The drop-in install (`scripts/install.sh`, `make install MODE=dropin`)
//! into a temporary root whose /opt/cni/bin holds the reference plugins:
//! `bridge` and `host-local` become links to ours, `portmap` is ours, the
//! replaced binaries are kept and `uninstall` restores them byte for byte;
//! installing the native mode afterwards gives the reference names back.
//! Run as `bridge` with IPAM `host-local`, our host-local runs in-process
//! when it is what is installed under that name, and is executed otherwise.

use cni_conformance::dropin::Node;
use cni_conformance::exec::{run_plugin, Env};
use cni_conformance::proc::{run_bounded, DEFAULT_TIMEOUT};
use cni_conformance::{our_dir, ref_available, ref_dir, require_root, Netns, TempDir};
use serde_json::json;
use std::path::Path;
use std::process::Command;

fn bytes(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

fn refs_missing() -> bool {
    let missing = ["bridge", "host-local", "portmap", "loopback"]
        .iter()
        .any(|p| !ref_available(p));
    if missing {
        eprintln!("skipped: reference plugins not installed");
    }
    missing
}

#[test]
fn dropin_install_keeps_the_reference_and_uninstall_restores_it() {
    if refs_missing() {
        return;
    }
    let node = Node::with_reference_plugins();
    let bin = node.bin_dir();
    let reference = |name: &str| bytes(&ref_dir().join(name));
    node.run_script("install", "dropin");

    assert!(
        same_file(&bin.join("bridge"), &bin.join("simplebridge")),
        "bridge is not ours"
    );
    assert!(
        same_file(&bin.join("host-local"), &bin.join("ipam-host-local")),
        "host-local is not ours"
    );
    for ours in ["simplebridge", "ipam-host-local", "portmap"] {
        assert_eq!(
            bytes(&bin.join(ours)),
            bytes(&our_dir().join(ours)),
            "{ours}"
        );
    }
    for replaced in ["bridge", "host-local", "portmap"] {
        assert_eq!(
            bytes(&bin.join(".cnm-backup").join(replaced)),
            reference(replaced),
            "backup of {replaced}"
        );
    }
    assert_eq!(
        bytes(&bin.join("loopback")),
        reference("loopback"),
        "loopback untouched"
    );
    assert!(node.cnm().is_file(), "cnm CLI not installed");

    // The installed `bridge` is ours: it speaks cniVersion 1.1.0.
    let v = run_plugin(
        &bin.join("bridge"),
        "VERSION",
        &Env::default(),
        br#"{"cniVersion":"1.0.0"}"#,
    )
    .ok();
    assert!(
        v["supportedVersions"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|x| x == "1.1.0"),
        "{v}"
    );

    // Installing again keeps the reference in the backups, not ours.
    node.run_script("install", "dropin");
    for replaced in ["bridge", "host-local", "portmap"] {
        assert_eq!(
            bytes(&bin.join(".cnm-backup").join(replaced)),
            reference(replaced)
        );
    }

    node.run_script("uninstall", "dropin");
    for name in ["bridge", "host-local", "portmap", "loopback"] {
        let p = bin.join(name);
        assert!(!p.is_symlink(), "{name} is still a link");
        assert_eq!(bytes(&p), reference(name), "{name} not restored");
    }
    for gone in [
        "simplebridge",
        "ipam-host-local",
        ".cnm-backup",
        ".cnm-installed",
    ] {
        assert!(!bin.join(gone).exists(), "{gone} left after uninstall");
    }
    assert!(!node.cnm().exists(), "cnm CLI left after uninstall");
}

#[test]
fn native_install_after_dropin_gives_the_reference_names_back() {
    if refs_missing() {
        return;
    }
    let node = Node::with_reference_plugins();
    let bin = node.bin_dir();
    node.run_script("install", "dropin");
    node.run_script("install", "native");
    for name in ["bridge", "host-local"] {
        assert_eq!(
            bytes(&bin.join(name)),
            bytes(&ref_dir().join(name)),
            "{name}"
        );
    }
    assert_eq!(
        bytes(&bin.join("portmap")),
        bytes(&our_dir().join("portmap"))
    );
    assert!(bin.join("simplebridge").is_file() && bin.join("ipam-host-local").is_file());
    node.run_script("uninstall", "native");
    assert_eq!(
        bytes(&bin.join("portmap")),
        bytes(&ref_dir().join("portmap"))
    );
    assert!(!bin.join("simplebridge").exists());

    let bad = node.script("install", "sideways");
    assert_ne!(bad.code, 0, "an unknown MODE must be refused");
}

/// ADD through `<dir>/bridge` with IPAM type host-local under strace;
/// returns whether a `host-local` binary was executed.
fn host_local_executed(dir: &Path, tag: &str) -> bool {
    let host = Netns::new(&format!("{tag}h"));
    let ctr = Netns::new(&format!("{tag}c"));
    let data = TempDir::new("data");
    let trace = TempDir::new("trace");
    let log = trace.path().join("execve");
    let subnet = cni_conformance::subnet_v4();
    let conf = json!({
        "cniVersion": "1.0.0", "name": cni_conformance::net_name(), "type": "bridge",
        "bridge": cni_conformance::bridge_name(), "isGateway": true,
        "ipam": {"type": "host-local", "dataDir": data.path_str(), "ranges": [[{"subnet": subnet.to_string()}]]}
    });
    let run = |command: &str, log: Option<&Path>| {
        let mut cmd = Command::new("nsenter");
        cmd.arg(format!("--net={}", host.path_str())).arg("--");
        if let Some(log) = log {
            cmd.args(["strace", "-f", "-qq", "-e", "trace=execve", "-o"])
                .arg(log);
        }
        cmd.arg(dir.join("bridge"));
        cmd.env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("CNI_COMMAND", command)
            .env("CNI_CONTAINERID", "inproc")
            .env("CNI_NETNS", ctr.path_str())
            .env("CNI_IFNAME", "eth0")
            .env("CNI_PATH", dir);
        let out = run_bounded(cmd, conf.to_string().as_bytes(), DEFAULT_TIMEOUT);
        assert_eq!(
            out.code,
            0,
            "{command} via {}: {}{}",
            dir.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    };
    let added = run("ADD", Some(&log));
    let result: serde_json::Value = serde_json::from_slice(&added.stdout).unwrap_or_default();
    let addr: Option<ipnet::Ipv4Net> = result["ips"][0]["address"]
        .as_str()
        .and_then(|a| a.parse().ok());
    assert!(
        addr.is_some_and(|a| subnet.contains(&a.addr())),
        "no address of {subnet}: {result}"
    );
    run("DEL", None);
    let text = std::fs::read_to_string(&log).unwrap_or_else(|e| panic!("strace log: {e}"));
    assert!(text.contains("execve("), "strace saw nothing: {text}");
    text.lines()
        .any(|l| l.contains("execve(") && l.contains("/host-local\""))
}

#[test]
fn bridge_runs_our_host_local_in_process_only_when_it_is_installed() {
    require_root!();
    if refs_missing() {
        return;
    }
    let node = Node::with_reference_plugins();
    node.run_script("install", "dropin");
    assert!(
        !host_local_executed(&node.bin_dir(), "ipip"),
        "our host-local under the reference's name was executed, not run in-process"
    );
    // Our bridge beside the reference host-local: that one must run.
    let mixed = Node::with_reference_plugins();
    let b = mixed.bin_dir();
    std::fs::remove_file(b.join("bridge")).expect("rm bridge");
    std::fs::copy(our_dir().join("simplebridge"), b.join("bridge")).expect("copy");
    std::fs::copy(our_dir().join("ipam-host-local"), b.join("ipam-host-local")).expect("copy");
    assert!(
        host_local_executed(&b, "ipex"),
        "the reference host-local was not executed"
    );
}
