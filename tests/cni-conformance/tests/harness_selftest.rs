//! Self-tests of the harness: the plugin environment is exactly PATH plus the
//! CNI variables, waits are bounded, namespaces are removed on drop and on
//! panic, generated names fit the kernel's limits, the `ip -j` parsers read a
//! namespace (via the reference loopback plugin).

use cni_conformance::iproute::{addrs, link};
use cni_conformance::proc::run_bounded;
use cni_conformance::{bridge_name, require_root, run_plugin, Env, Netns};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

#[test]
fn plugin_env_is_cleared() {
    let env = Env {
        containerid: Some("c1".into()),
        ifname: Some("eth0".into()),
        extra: vec![("CNI_NETNS_OVERRIDE".into(), "1".into())],
        ..Env::default()
    };
    let out = run_plugin(Path::new("/usr/bin/env"), "ADD", &env, b"");
    let mut keys: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split('=').next().map(str::to_owned))
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "CNI_COMMAND",
            "CNI_CONTAINERID",
            "CNI_IFNAME",
            "CNI_NETNS_OVERRIDE",
            "PATH"
        ]
    );
}

#[test]
fn stdin_reaches_plugin_and_status_is_reported() {
    let out = run_plugin(Path::new("/bin/sh"), "ADD", &Env::default(), b"exit 3\n");
    assert_eq!(out.code, 3);
}

#[test]
fn waits_are_bounded() {
    let start = Instant::now();
    let mut cmd = Command::new("sleep");
    cmd.arg("30");
    let out = run_bounded(cmd, b"", Duration::from_millis(200));
    assert!(out.timed_out && out.code == -1);
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[test]
fn bridge_names_fit_ifnamsiz() {
    for _ in 0..100 {
        let n = bridge_name();
        assert!(!n.is_empty() && n.len() <= 15, "{n}");
    }
    assert_ne!(bridge_name(), bridge_name());
}

#[test]
fn netns_removed_on_drop_and_panic() {
    require_root!();
    let ns = Netns::new("t");
    let path = ns.path().to_path_buf();
    assert!(path.exists());
    let lo = link(&ns, "lo").expect("lo missing");
    assert!(lo.is_up(), "lo must be up in a fresh test namespace");
    drop(ns);
    assert!(!path.exists(), "{} left behind", path.display());

    let seen = std::sync::Mutex::new(String::new());
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let ns = Netns::new("p");
        if let Ok(mut s) = seen.lock() {
            *s = ns.path_str().to_owned();
        }
        panic!("boom");
    }));
    assert!(r.is_err());
    let p = seen.lock().map(|s| s.clone()).unwrap_or_default();
    assert!(
        !p.is_empty() && !Path::new(&p).exists(),
        "namespace {p} survived a panic"
    );
}

#[test]
fn ip_parsers_read_reference_loopback() {
    require_root!();
    if !cni_conformance::ref_available("loopback") {
        eprintln!("skipped: reference loopback plugin not installed");
        return;
    }
    let ns = Netns::new("lo");
    ns.ip(&["link", "set", "lo", "down"]);
    let path = cni_conformance::CniPath::new();
    let env = Env::attach("c1", ns.path_str(), "lo", path.path_str());
    let conf = br#"{"cniVersion":"1.0.0","name":"lo-net","type":"loopback"}"#;
    let r = run_plugin(&path.bin("loopback"), "ADD", &env, conf).ok();
    assert_eq!(r["interfaces"][0]["name"], "lo", "{r}");
    assert!(link(&ns, "lo").is_some_and(|l| l.is_up()));
    assert!(addrs(&ns, "lo").iter().any(|a| a.cidr() == "127.0.0.1/8"));
    assert!(ns.ping("127.0.0.1", 2));
}
