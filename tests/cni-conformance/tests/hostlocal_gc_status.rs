//! GC and STATUS of our ipam-host-local (cniVersion 1.1.0; the Debian
//! reference has neither): GC releases reservations not listed in
//! cni.dev/valid-attachments (or the older cni.dev/attachments) and keeps
//! `lock` and `last_reserved_ip.*`; STATUS is 0 with addresses left and 50 when
//! a range set is exhausted; both need 1.1.0 (code 1 below).

use cni_conformance::store::{all_files, expected_content};
use cni_conformance::{require_root, Env, Impl, IpamFixture};
use serde_json::json;

fn gc_env(f: &IpamFixture) -> Env {
    Env {
        path: Some(f.cni_path.path_str().into()),
        ..Env::default()
    }
}

#[test]
fn gc_releases_stale_keeps_bookkeeping() {
    require_root!();
    let f = IpamFixture::new(Impl::Ours);
    let conf = f.conf_v("1.1.0", f.default_ranges());
    for id in ["a", "b", "c"] {
        f.add_ok(id, &conf);
    }
    f.run_env("ADD", &f.env("a", "eth1"), &conf).ok();
    let mut gc = conf.clone();
    gc["cni.dev/valid-attachments"] =
        json!([{"containerID": "a", "ifname": "eth0"}, {"containerID": "c", "ifname": "eth0"}]);
    f.run_env("GC", &gc_env(&f), &gc).ok_empty();
    let res = f.reservations();
    let kept: Vec<_> = res.iter().map(|r| r.content.clone()).collect();
    assert_eq!(
        kept,
        vec![expected_content("a", "eth0"), expected_content("c", "eth0")],
        "{res:?}"
    );
    let files = all_files(f.data.path(), &f.net);
    assert!(
        files.contains(&"lock".to_string()) && files.contains(&"last_reserved_ip.0".to_string()),
        "{files:?}"
    );
    // An empty list releases everything.
    let mut gc = conf.clone();
    gc["cni.dev/valid-attachments"] = json!([]);
    f.run_env("GC", &gc_env(&f), &gc).ok_empty();
    assert!(f.reservations().is_empty());
    assert!(all_files(f.data.path(), &f.net).contains(&"last_reserved_ip.0".to_string()));
}

#[test]
fn gc_accepts_legacy_attachments_key() {
    require_root!();
    let f = IpamFixture::new(Impl::Ours);
    let conf = f.conf_v("1.1.0", f.default_ranges());
    f.add_ok("a", &conf);
    f.add_ok("b", &conf);
    let mut gc = conf.clone();
    gc["cni.dev/attachments"] = json!([{"containerID": "b", "ifname": "eth0"}]);
    f.run_env("GC", &gc_env(&f), &gc).ok_empty();
    let kept: Vec<_> = f.reservations().into_iter().map(|r| r.content).collect();
    assert_eq!(kept, vec![expected_content("b", "eth0")]);
}

#[test]
fn gc_and_status_need_1_1_0() {
    require_root!();
    let f = IpamFixture::new(Impl::Ours);
    let conf = f.conf_v("1.0.0", f.default_ranges());
    f.add_ok("a", &conf);
    let mut gc = conf.clone();
    gc["cni.dev/valid-attachments"] = json!([]);
    f.run_env("GC", &gc_env(&f), &gc).err_full(1);
    f.run_env("STATUS", &gc_env(&f), &conf).err_full(1);
    assert_eq!(f.reservations().len(), 1, "a rejected GC must not release");
}

#[test]
fn status_available_then_exhausted() {
    require_root!();
    let f = IpamFixture::new(Impl::Ours);
    // /30: exactly one allocatable address (.2; .1 is the gateway).
    let conf = f.conf_v(
        "1.1.0",
        json!([[{"subnet": format!("{}/30", f.v4.network())}]]),
    );
    f.run_env("STATUS", &gc_env(&f), &conf).ok_empty();
    f.add_ok("a", &conf);
    f.run_env("STATUS", &gc_env(&f), &conf).err_full(50);
    f.run("DEL", "a", &conf).ok_empty();
    f.run_env("STATUS", &gc_env(&f), &conf).ok_empty();
}
