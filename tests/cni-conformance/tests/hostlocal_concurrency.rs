//! 64 concurrent ADDs (threads each exec'ing our ipam-host-local with its own
//! container ID, one dataDir) return 64 distinct addresses and no error; 64
//! concurrent DELs then empty the store. The reference is run the same way as
//! a control.

use cni_conformance::{for_both_impls, Impl, IpamFixture};
use std::collections::BTreeSet;
use std::sync::Arc;

const N: usize = 64;

fn concurrent(imp: Impl) {
    let f = Arc::new(IpamFixture::new(imp));
    let conf = Arc::new(f.conf(f.default_ranges()));
    let handles: Vec<_> = (0..N)
        .map(|i| {
            let (f, conf) = (Arc::clone(&f), Arc::clone(&conf));
            std::thread::spawn(move || {
                let out = f.run("ADD", &format!("ctr{i}"), &conf);
                (
                    i,
                    out.code,
                    IpamFixture::first_ip(&out.json.clone().unwrap_or_default()),
                    out.stderr,
                    out.stdout,
                )
            })
        })
        .collect();
    let mut ips = BTreeSet::new();
    let mut errors = Vec::new();
    for h in handles {
        let (i, code, ip, stderr, stdout) = h.join().expect("thread panicked");
        if code != 0 || ip.is_empty() {
            errors.push(format!(
                "ctr{i}: exit {code} {} {stderr}",
                String::from_utf8_lossy(&stdout)
            ));
        } else {
            ips.insert(ip);
        }
    }
    assert!(
        errors.is_empty(),
        "{} ADDs failed:\n{}",
        errors.len(),
        errors.join("\n")
    );
    assert_eq!(ips.len(), N, "addresses not distinct");
    let res = f.reservations();
    assert_eq!(res.len(), N);
    for r in &res {
        assert!(ips.contains(&r.ip));
    }
    let dels: Vec<_> = (0..N)
        .map(|i| {
            let (f, conf) = (Arc::clone(&f), Arc::clone(&conf));
            std::thread::spawn(move || f.run("DEL", &format!("ctr{i}"), &conf).code)
        })
        .collect();
    for d in dels {
        assert_eq!(d.join().expect("thread panicked"), 0);
    }
    assert!(f.reservations().is_empty());
}
for_both_impls!(adds_64_concurrent, concurrent);
