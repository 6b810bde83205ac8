//! The library walkthrough (`crates/cnm-core/examples/seed.rs`, libnetwork's
//! seed example) runs and prints what a user expects at every step.

use std::path::PathBuf;
use std::process::Command;

fn seed_binary() -> PathBuf {
    let dir = std::env::var_os("CNM_PLUGIN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/debug"));
    dir.join("examples/seed")
}

#[test]
fn seed_walkthrough_runs_and_cleans_up() {
    if unsafe { libc::geteuid() } != 0 {
        println!("skipped: needs root");
        return;
    }
    let bin = seed_binary();
    assert!(
        bin.exists(),
        "{} missing: run `cargo build --workspace --examples`",
        bin.display()
    );
    let out = Command::new(&bin).output().expect("run seed example");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "seed failed: {stdout}\n{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines.first().copied(),
        Some("driver: simplebridge (embedded: true)"),
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
    assert!(lines.contains(&"check: ok"), "{stdout}");
    assert!(lines.contains(&"endpoint deleted"), "{stdout}");
    assert_eq!(lines.last().copied(), Some("sandbox destroyed"), "{stdout}");
    assert!(
        !PathBuf::from(sandbox).exists(),
        "sandbox {sandbox} left behind"
    );
}
