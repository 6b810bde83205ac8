//! simplebridge CHECK: passes right after ADD, and fails (a CNI error) once
//! the state it verifies is broken: an address removed in the container, the
//! host veth detached from the bridge, the masquerade chain flushed, the
//! `inet cnm` table deleted (all inside the test's throwaway namespaces).

use cni_conformance::inspect::nft;
use cni_conformance::iproute::link;
use cni_conformance::{require_root, BridgeFixture, Impl, Main, Netns};
use serde_json::{json, Value};

/// ADD `(id, eth0)` into a fresh container; returns it, the CHECK config
/// (conf + prevResult) and the result.
fn added(f: &BridgeFixture, id: &str, conf: &Value) -> (Netns, Value, Value) {
    let c = f.container(id);
    let r = f.add(id, &c, conf);
    let mut chk = conf.clone();
    chk["prevResult"] = r.clone();
    f.run("CHECK", &f.env(id, &c, "eth0"), &chk).ok_empty();
    (c, chk, r)
}

fn check_fails(f: &BridgeFixture, id: &str, c: &Netns, chk: &Value, what: &str) {
    let out = f.run("CHECK", &f.env(id, c, "eth0"), chk);
    assert_eq!(out.code, 1, "CHECK must fail after {what}: {}", out.stderr);
    out.err(None);
}

/// The single `masq-*` chain of table `inet cnm` in the host ns.
fn masq_chain(f: &BridgeFixture) -> String {
    let out = nft(&f.host, &["-j", "list", "table", "inet", "cnm"]);
    assert_eq!(out.code, 0, "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    let chains: Vec<String> = v["nftables"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|o| o["chain"]["name"].as_str())
        .filter(|n| n.starts_with("masq-"))
        .map(str::to_owned)
        .collect();
    assert_eq!(chains.len(), 1, "one masquerade chain expected: {v}");
    chains[0].clone()
}

fn rule_count(f: &BridgeFixture, chain: &str) -> usize {
    let out = nft(&f.host, &["-j", "list", "chain", "inet", "cnm", chain]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    v["nftables"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|o| o.get("rule").is_some())
        .count()
}

#[test]
fn check_fails_after_container_address_removed() {
    require_root!();
    let f = BridgeFixture::new(Main::SimpleBridge, Impl::Ours);
    let (c, chk, r) = added(&f, "ctr", &f.conf("1.0.0"));
    let addr = r["ips"][0]["address"].as_str().unwrap_or_default();
    c.ip(&["addr", "del", addr, "dev", "eth0"]);
    check_fails(&f, "ctr", &c, &chk, "the container address was removed");
}

#[test]
fn check_fails_after_host_veth_detached() {
    require_root!();
    let f = BridgeFixture::new(Main::SimpleBridge, Impl::Ours);
    let (c, chk, r) = added(&f, "ctr", &f.conf("1.0.0"));
    let hv = r["interfaces"][1]["name"].as_str().unwrap_or_default();
    f.host.ip(&["link", "set", "dev", hv, "nomaster"]);
    assert!(link(&f.host, hv).is_some_and(|l| l.master.is_none()));
    check_fails(&f, "ctr", &c, &chk, "the host veth was detached");
}

#[test]
fn check_fails_after_masquerade_chain_flushed() {
    require_root!();
    let f = BridgeFixture::new(Main::SimpleBridge, Impl::Ours);
    let mut conf = f.conf("1.0.0");
    conf["ipMasq"] = json!(true);
    let (c, chk, _) = added(&f, "ctr", &conf);
    let chain = masq_chain(&f);
    assert!(rule_count(&f, &chain) > 0, "chain {chain} has no rule");
    let out = nft(&f.host, &["flush", "chain", "inet", "cnm", &chain]);
    assert_eq!(out.code, 0, "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(rule_count(&f, &chain), 0);
    check_fails(&f, "ctr", &c, &chk, "the masquerade chain was flushed");
}

#[test]
fn check_fails_after_cnm_table_deleted() {
    require_root!();
    let f = BridgeFixture::new(Main::SimpleBridge, Impl::Ours);
    let mut conf = f.conf("1.0.0");
    conf["ipMasq"] = json!(true);
    let (c, chk, _) = added(&f, "ctr", &conf);
    let out = nft(&f.host, &["delete", "table", "inet", "cnm"]);
    assert_eq!(out.code, 0, "{}", String::from_utf8_lossy(&out.stderr));
    check_fails(&f, "ctr", &c, &chk, "table inet cnm was deleted");
    // DEL still succeeds without the table.
    f.run("DEL", &f.env("ctr", &c, "eth0"), &chk).ok_empty();
    assert!(f.reservations().is_empty());
}
