//! Stress (issue 6, item 3), bounded: 200 containers (each its own netns) on
//! one simplebridge network (a /22), 8 worker threads doing ADD and DEL in a
//! random order (xorshift, fixed seeds) until an operation budget or a time
//! budget runs out. Asserts: no address ever held by two live containers, no
//! error but code 11, the store equals the live map when the workers join,
//! and after a DEL of everything an empty store and no veth in the host ns.

use cni_conformance::robust::{derived_veths, XorShift};
use cni_conformance::store::{all_files, is_bookkeeping};
use cni_conformance::{require_root, BridgeFixture, Impl, Main, Netns};
use ipnet::Ipv4Net;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const CONTAINERS: usize = 200;
const WORKERS: usize = 8;
/// Random operations per worker at most.
const OPS_PER_WORKER: usize = 100;
/// The random phase stops here; the final DELs and checks follow.
const BUDGET: Duration = Duration::from_secs(30);

#[derive(Default)]
struct Shared {
    /// Live address -> container index.
    live: HashMap<String, usize>,
    ops: usize,
    try_again: usize,
    errors: Vec<String>,
}

fn ip_of(result: &Value) -> String {
    result["ips"][0]["address"]
        .as_str()
        .and_then(|a| a.split('/').next())
        .unwrap_or_default()
        .to_owned()
}

/// One invocation; returns the result on success, None on code 11, records
/// any other failure.
fn call(
    f: &BridgeFixture,
    shared: &Mutex<Shared>,
    cmd: &str,
    i: usize,
    ns: &Netns,
    conf: &Value,
) -> Option<Value> {
    let out = f.run(cmd, &f.env(&format!("stress{i}"), ns, "eth0"), conf);
    let mut s = shared.lock().unwrap_or_else(|e| e.into_inner());
    s.ops += 1;
    if out.code == 0 {
        return Some(out.json.clone().unwrap_or(Value::Null));
    }
    let code = out
        .json
        .as_ref()
        .and_then(|v| v["code"].as_u64())
        .unwrap_or(0);
    if code == 11 && out.code == 1 {
        s.try_again += 1;
    } else {
        s.errors.push(format!(
            "{cmd} stress{i}: exit {} {} {}",
            out.code,
            String::from_utf8_lossy(&out.stdout),
            out.stderr
        ));
    }
    None
}

/// ADD container `i`; on success checks and records its address.
fn add(
    f: &BridgeFixture,
    shared: &Mutex<Shared>,
    i: usize,
    ns: &Netns,
    conf: &Value,
) -> Option<String> {
    let r = call(f, shared, "ADD", i, ns, conf)?;
    let ip = ip_of(&r);
    let mut s = shared.lock().unwrap_or_else(|e| e.into_inner());
    if ip.is_empty() {
        s.errors.push(format!("ADD stress{i}: no address in {r}"));
        return None;
    }
    if let Some(other) = s.live.insert(ip.clone(), i) {
        s.errors.push(format!(
            "{ip} given to stress{i} while stress{other} holds it"
        ));
    }
    Some(ip)
}

/// DEL container `i` holding `ip`: the address leaves the live map first
/// (it may be handed out again as soon as DEL releases it); retried on code 11.
fn del(f: &BridgeFixture, shared: &Mutex<Shared>, i: usize, ns: &Netns, conf: &Value, ip: &str) {
    shared
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .live
        .remove(ip);
    for _ in 0..5 {
        if call(f, shared, "DEL", i, ns, conf).is_some() {
            return;
        }
        if !shared
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .errors
            .is_empty()
        {
            return;
        }
    }
}

#[test]
fn two_hundred_containers_eight_workers() {
    require_root!();
    let started = Instant::now();
    let f = Arc::new(BridgeFixture::new(Main::SimpleBridge, Impl::Ours));
    // A /22 of its own (the host ns is private to this test): 1021 addresses.
    let b = 100 + (std::process::id() % 100) as u8;
    let net = Ipv4Net::new(std::net::Ipv4Addr::new(10, b, 4, 0), 22).unwrap_or_default();
    let mut conf = f.conf("1.1.0");
    conf["ipam"]["ranges"] = json!([[{"subnet": net.to_string()}]]);
    conf["ipMasq"] = json!(true);
    let conf = Arc::new(conf);
    let ns: Arc<Vec<Netns>> = Arc::new(
        (0..CONTAINERS)
            .map(|i| Netns::new(&format!("s{i}")))
            .collect(),
    );
    let shared = Arc::new(Mutex::new(Shared::default()));
    let deadline = started + BUDGET;

    let handles: Vec<_> = (0..WORKERS)
        .map(|w| {
            let (f, ns, conf, shared) = (
                Arc::clone(&f),
                Arc::clone(&ns),
                Arc::clone(&conf),
                Arc::clone(&shared),
            );
            std::thread::spawn(move || {
                // Worker w owns containers w, w+8, w+16, ...
                let mine: Vec<usize> = (w..CONTAINERS).step_by(WORKERS).collect();
                let mut held: Vec<Option<String>> = vec![None; mine.len()];
                let mut rng = XorShift::new(0x5eed_0000 + w as u64);
                for _ in 0..OPS_PER_WORKER {
                    if Instant::now() >= deadline {
                        break;
                    }
                    let k = rng.below(mine.len());
                    let i = mine[k];
                    match held[k].take() {
                        None => held[k] = add(&f, &shared, i, &ns[i], &conf),
                        Some(ip) => del(&f, &shared, i, &ns[i], &conf, &ip),
                    }
                }
                mine.into_iter().zip(held).collect::<Vec<_>>()
            })
        })
        .collect();
    let mut remaining = Vec::new();
    for h in handles {
        match h.join() {
            Ok(v) => remaining.extend(v),
            Err(_) => panic!("a stress worker panicked"),
        }
    }

    // No lost or extra reservation: the store is exactly the live map.
    let live: Vec<(usize, String)> = remaining
        .iter()
        .filter_map(|(i, ip)| ip.clone().map(|ip| (*i, ip)))
        .collect();
    {
        let s = shared.lock().unwrap_or_else(|e| e.into_inner());
        assert!(s.errors.is_empty(), "errors:\n{}", s.errors.join("\n"));
        let mut want: Vec<String> = s.live.keys().cloned().collect();
        want.sort();
        let mut got: Vec<String> = f.reservations().into_iter().map(|r| r.ip).collect();
        got.sort();
        assert_eq!(
            got, want,
            "store vs live addresses after the workers joined"
        );
        let mut held: Vec<String> = live.iter().map(|(_, ip)| ip.clone()).collect();
        held.sort();
        assert_eq!(held, want, "live map vs what the workers hold");
        for r in f.reservations() {
            let owner = s.live.get(&r.ip).copied().unwrap_or(usize::MAX);
            assert_eq!(
                r.content,
                format!("stress{owner}\r\neth0").into_bytes(),
                "{} is reserved for the wrong container",
                r.ip
            );
        }
        assert_eq!(
            derived_veths(&f.host).len(),
            want.len(),
            "one host veth per live container"
        );
    }

    // DEL everything still attached.
    for (i, ip) in &live {
        del(&f, &shared, *i, &ns[*i], &conf, ip);
    }
    let s = shared.lock().unwrap_or_else(|e| e.into_inner());
    assert!(s.errors.is_empty(), "errors:\n{}", s.errors.join("\n"));
    let left: Vec<String> = all_files(f.data.path(), &f.net)
        .into_iter()
        .filter(|n| !is_bookkeeping(n))
        .collect();
    assert!(
        left.is_empty(),
        "store not empty after DEL of all: {left:?}"
    );
    let veths = derived_veths(&f.host);
    assert!(veths.is_empty(), "veths left in the host ns: {veths:?}");
    let elapsed = started.elapsed();
    eprintln!(
        "stress: {} operations ({} code 11) by {WORKERS} workers on {CONTAINERS} containers in {:.1} s",
        s.ops,
        s.try_again,
        elapsed.as_secs_f64()
    );
    assert!(s.ops >= CONTAINERS, "too few operations: {}", s.ops);
    assert!(
        elapsed < Duration::from_secs(60),
        "stress took {elapsed:?} (bound: 60 s)"
    );
}
