//! The library walkthroughs run and print what a user expects at every step:
//! `crates/bridge/examples/seed.rs` (libnetwork's seed example: the
//! sandbox places the interface the driver prepared) and
//! `examples/two_sandboxes.rs` (two sandboxes on one network ping each
//! other).

use std::path::PathBuf;
use std::process::Command;

/// An example binary of cnm-bridge (always the debug build of this source).
fn example(name: &str) -> PathBuf {
    cni_conformance::fresh::build_examples();
    let bin = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/debug/examples")
        .join(name);
    assert!(
        bin.exists(),
        "{} missing: run `cargo build --workspace --examples`",
        bin.display()
    );
    bin
}

#[test]
fn seed_walkthrough_runs_and_cleans_up() {
    cni_conformance::require_root!();
    let bin = example("seed");
    let out = Command::new(&bin).output().expect("run seed example");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "seed failed: {stdout}\n{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines.first().copied(),
        Some("driver: bridge (Local scope)"),
        "{stdout}"
    );
    assert!(lines.contains(&"network: network1"), "{stdout}");
    let sandbox = lines
        .iter()
        .find_map(|l| l.strip_prefix("sandbox: "))
        .expect("sandbox line");
    let iface = lines
        .iter()
        .find(|l| l.starts_with("interface: eth0 mac "))
        .expect("interface line");
    assert!(iface.ends_with("addresses 10.250.7.2/24"), "{iface}");
    assert!(lines.contains(&"gateway: 10.250.7.1"), "{stdout}");
    assert!(lines.contains(&"endpoint deleted"), "{stdout}");
    assert!(lines.contains(&"network deleted"), "{stdout}");
    assert_eq!(lines.last().copied(), Some("sandbox destroyed"), "{stdout}");
    assert!(
        !PathBuf::from(sandbox).exists(),
        "sandbox {sandbox} left behind"
    );
}

#[test]
fn two_sandboxes_on_one_network_ping_each_other() {
    cni_conformance::require_root!();
    let bin = example("two_sandboxes");
    let out = Command::new(&bin)
        .output()
        .expect("run two_sandboxes example");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "two_sandboxes failed: {stdout}\n{stderr}"
    );
    let lines: Vec<&str> = stdout.lines().collect();
    let sandboxes: Vec<&str> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("sandbox "))
        .collect();
    assert_eq!(sandboxes.len(), 2, "{stdout}");
    assert!(sandboxes[0].ends_with("eth0 10.250.8.2/24"), "{stdout}");
    assert!(sandboxes[1].ends_with("eth0 10.250.8.3/24"), "{stdout}");
    assert!(lines.contains(&"ping a -> b (10.250.8.3): ok"), "{stdout}");
    assert!(lines.contains(&"ping b -> a (10.250.8.2): ok"), "{stdout}");
    assert_eq!(lines.last().copied(), Some("cleaned up"), "{stdout}");
    for s in sandboxes {
        let path = s.split_whitespace().nth(1).expect("sandbox path");
        assert!(!PathBuf::from(path).exists(), "sandbox {path} left behind");
    }
}
