//! Fault injection (issue 6, item 1): simplebridge built with the feature
//! `fault-injection` dies with SIGKILL after each ADD step in turn
//! (`CNM_FAULT_POINT`, ipMasq and isGateway on). After each crash:
//! - the store is readable: one well-formed reservation, no temp file, and the
//!   reference host-local can CHECK and DEL on the same dataDir;
//! - DEL as the runtime runs it (same binary, env and config) succeeds and
//!   leaves no reservation, no host veth, nothing in the container namespace;
//!   the network's masquerade chain stays (per network, like the bridge) and
//!   GC with an empty valid list removes it;
//! - a second ADD of the same container then succeeds (and DEL);
//! - alternatively, GC with an empty valid list and no DEL leaves nothing.

use cni_conformance::conf::bytes;
use cni_conformance::fault::{fault_points, fault_simplebridge, run_reporting_signal, FAULT_ENV};
use cni_conformance::robust::{derived_veths, links_but_lo, masq_chains};
use cni_conformance::store::{all_files, expected_content};
use cni_conformance::{reference, require_root, run_plugin, BridgeFixture, Env, Impl, Main};
use serde_json::{json, Value};

/// The crash points this suite knows; `points_match_product` keeps it in
/// sync with `cnm_kernel::FAULT_POINTS`.
const POINTS: &[&str] = &[
    "after-ipam",
    "after-veth",
    "after-port",
    "after-addresses",
    "after-routes",
    "after-host",
    "after-firewall",
];

const ID: &str = "crashctr";

fn fixture() -> (BridgeFixture, Value) {
    let f = BridgeFixture::new(Main::SimpleBridge, Impl::Ours);
    let mut conf = f.conf("1.1.0");
    conf["ipMasq"] = json!(true);
    conf["isGateway"] = json!(true);
    (f, conf)
}

/// ADD with the fault build, crashing after `point`: killed by SIGKILL, nothing on stdout.
fn crash_add(env: &Env, conf: &Value, point: &str) {
    let mut env = env.clone();
    env.extra.push((FAULT_ENV.into(), point.into()));
    let out = run_reporting_signal(&fault_simplebridge(), "ADD", &env, &bytes(conf));
    assert!(!out.timed_out, "{point}: ADD timed out");
    assert_eq!(
        (out.code, out.signal),
        (None, Some(libc::SIGKILL)),
        "{point}: ADD must die by SIGKILL; stdout {} stderr {}",
        String::from_utf8_lossy(&out.stdout),
        out.stderr
    );
    assert!(out.stdout.is_empty(), "{point}: killed ADD printed stdout");
}

/// The store after a crash: exactly one reservation for `(ID, eth0)` plus
/// bookkeeping, no temp files; the reference host-local reads it (CHECK).
fn store_readable(f: &BridgeFixture, point: &str) {
    let res = f.reservations();
    assert_eq!(res.len(), 1, "{point}: one reservation expected: {res:?}");
    assert_eq!(
        res[0].content,
        expected_content(ID, "eth0"),
        "{point}: reservation content"
    );
    let files = all_files(f.data.path(), &f.net);
    assert!(
        files
            .iter()
            .all(|n| n == "lock" || n.starts_with("last_reserved_ip.") || *n == res[0].ip),
        "{point}: unexpected files in the store: {files:?}"
    );
    ref_host_local(f, "CHECK", point).ok_empty();
}

/// Run the reference host-local on the fixture's dataDir and network.
fn ref_host_local(f: &BridgeFixture, command: &str, point: &str) -> cni_conformance::Output {
    let conf = json!({
        "cniVersion": "1.0.0",
        "name": f.net,
        "type": "host-local",
        "ipam": {
            "type": "host-local",
            "dataDir": f.data.path_str(),
            "ranges": [[{"subnet": f.v4.to_string()}]],
        }
    });
    let c = f.container("refchk");
    let env = Env::attach(ID, c.path_str(), "eth0", f.cni_path.path_str());
    let out = run_plugin(&reference("host-local"), command, &env, &bytes(&conf));
    assert!(
        !out.stderr.contains("panic"),
        "{point}: reference host-local {command}: {}",
        out.stderr
    );
    out
}

/// GC with `cni.dev/valid-attachments: []` (cniVersion 1.1.0) in the host ns.
fn gc_empty(f: &BridgeFixture, conf: &Value, point: &str) {
    let mut gc = conf.clone();
    gc["cniVersion"] = json!("1.1.0");
    gc["cni.dev/valid-attachments"] = json!([]);
    let env = Env {
        path: Some(f.cni_path.path_str().into()),
        ..Env::default()
    }
    .in_ns(f.host.path());
    let out = f.run("GC", &env, &gc);
    assert_eq!(
        out.code,
        0,
        "{point}: GC failed: {} {}",
        String::from_utf8_lossy(&out.stdout),
        out.stderr
    );
}

/// Nothing of the attachment is left (the bridge may stay).
fn nothing_left(f: &BridgeFixture, c: &cni_conformance::Netns, point: &str, after: &str) {
    assert!(
        f.reservations().is_empty(),
        "{point}: reservation left after {after}: {:?}",
        f.reservations()
    );
    let veths = derived_veths(&f.host);
    assert!(
        veths.is_empty(),
        "{point}: host veth left after {after}: {veths:?}"
    );
    let inside = links_but_lo(c);
    assert!(
        inside.is_empty(),
        "{point}: links left in the container ns after {after}: {inside:?}"
    );
}

fn no_masquerade(f: &BridgeFixture, point: &str, after: &str) {
    let chains = masq_chains(&f.host);
    assert!(
        chains.is_empty(),
        "{point}: masquerade chain left after {after}: {chains:?}"
    );
    let table = cni_conformance::robust::cnm_table(&f.host).unwrap_or_default();
    assert!(
        !table.contains(&f.v4.to_string()),
        "{point}: the subnet {} is still in table inet cnm after {after}:\n{table}",
        f.v4
    );
}

/// Crash, DEL (same binary, env and config), check, GC, check, ADD again, DEL.
fn crash_then_del(point: &str) {
    let (f, conf) = fixture();
    let c = f.container("c");
    let env = f.env(ID, &c, "eth0");
    crash_add(&env, &conf, point);
    store_readable(&f, point);
    // The crash happened where it was asked to: the veth exists from
    // after-veth on, the masquerade chain only after the firewall step.
    assert_eq!(
        derived_veths(&f.host).len(),
        usize::from(point != "after-ipam"),
        "{point}: host veths after the crash"
    );
    assert_eq!(
        masq_chains(&f.host).len(),
        usize::from(point == "after-firewall"),
        "{point}: masquerade chains after the crash"
    );

    let mut del_env = env.clone();
    del_env.extra.push((FAULT_ENV.into(), point.into()));
    let out = run_plugin(&fault_simplebridge(), "DEL", &del_env, &bytes(&conf));
    out.ok_empty();
    nothing_left(&f, &c, point, "DEL");
    ref_host_local(&f, "DEL", point).ok_empty();
    if point == "after-firewall" {
        assert_eq!(
            masq_chains(&f.host).len(),
            1,
            "{point}: the network's masquerade chain stays after a container DEL"
        );
    }
    gc_empty(&f, &conf, point);
    no_masquerade(&f, point, "GC");
    nothing_left(&f, &c, point, "GC");

    // host-local hands out addresses round robin: the next one after the crash's.
    let r = f.add(ID, &c, &conf);
    let addr = r["ips"][0]["address"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let ip = addr.split('/').next().unwrap_or_default();
    let res = f.reservations();
    assert_eq!(res.len(), 1, "{point}: second ADD reservation: {res:?}");
    assert_eq!(res[0].ip, ip, "{point}: second ADD result {r} vs store");
    assert!(
        f.v4.contains(
            &ip.parse::<std::net::Ipv4Addr>()
                .unwrap_or(std::net::Ipv4Addr::UNSPECIFIED)
        ),
        "{point}: second ADD address {addr} outside {}",
        f.v4
    );
    assert_eq!(
        masq_chains(&f.host).len(),
        1,
        "{point}: masquerade after re-ADD"
    );
    f.run("DEL", &env, &conf).ok_empty();
    nothing_left(&f, &c, point, "the second DEL");
}

/// Crash, then GC with an empty valid list (no DEL): nothing is left.
fn crash_then_gc(point: &str) {
    let (f, conf) = fixture();
    let c = f.container("c");
    crash_add(&f.env(ID, &c, "eth0"), &conf, point);
    store_readable(&f, point);
    gc_empty(&f, &conf, point);
    nothing_left(&f, &c, point, "GC without DEL");
    no_masquerade(&f, point, "GC without DEL");
    ref_host_local(&f, "DEL", point).ok_empty();
}

macro_rules! crash_tests {
    ($($name:ident => $point:literal),* $(,)?) => {
        mod del_after_crash {
            $(#[test]
            fn $name() {
                cni_conformance::require_root!();
                super::crash_then_del($point);
            })*
        }
        mod gc_after_crash {
            $(#[test]
            fn $name() {
                cni_conformance::require_root!();
                super::crash_then_gc($point);
            })*
        }
    };
}

crash_tests! {
    after_ipam => "after-ipam",
    after_veth => "after-veth",
    after_port => "after-port",
    after_addresses => "after-addresses",
    after_routes => "after-routes",
    after_host => "after-host",
    after_firewall => "after-firewall",
}

#[test]
fn points_match_product() {
    let product = fault_points();
    assert_eq!(
        product, POINTS,
        "cnm_kernel::FAULT_POINTS changed: add a test per new point"
    );
    eprintln!("crash points tested: {}", POINTS.len());
}

/// Without the variable the fault build behaves like the real one.
#[test]
fn fault_build_without_point_is_normal() {
    require_root!();
    let (f, conf) = fixture();
    let c = f.container("c");
    let env = f.env(ID, &c, "eth0");
    let out = run_plugin(&fault_simplebridge(), "ADD", &env, &bytes(&conf));
    out.ok();
    f.run("DEL", &env, &conf).ok_empty();
    nothing_left(&f, &c, "none", "DEL");
}

/// An ADD after the firewall was reset from outside (e.g. `nft flush
/// ruleset` by a firewall reload) puts the network's masquerade back.
#[test]
fn masquerade_restored_after_external_flush() {
    require_root!();
    let (f, conf) = fixture();
    let c1 = f.container("c1");
    f.add("ctr1", &c1, &conf);
    assert_eq!(masq_chains(&f.host).len(), 1);
    let out = cni_conformance::inspect::nft(&f.host, &["flush", "ruleset"]);
    assert_eq!(out.code, 0, "{}", String::from_utf8_lossy(&out.stderr));
    assert!(masq_chains(&f.host).is_empty());
    let c2 = f.container("c2");
    f.add("ctr2", &c2, &conf);
    assert_eq!(
        masq_chains(&f.host).len(),
        1,
        "ADD after a ruleset flush must restore the network's masquerade chain"
    );
    f.run("DEL", &f.env("ctr1", &c1, "eth0"), &conf).ok_empty();
    f.run("DEL", &f.env("ctr2", &c2, "eth0"), &conf).ok_empty();
    gc_empty(&f, &conf, "flush");
}
