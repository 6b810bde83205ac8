//! 16 concurrent simplebridge ADDs (threads, one container each) into a
//! bridge that does not exist yet: all succeed with distinct addresses, one
//! bridge exists afterwards with 16 ports, and 16 concurrent DELs succeed.

use cni_conformance::inspect::{bridge_ports, links_of_kind};
use cni_conformance::{require_root, BridgeFixture, Impl, Main, Netns};
use std::collections::BTreeSet;
use std::sync::Arc;

const N: usize = 16;

#[test]
fn sixteen_concurrent_adds_into_new_bridge() {
    require_root!();
    let f = Arc::new(BridgeFixture::new(Main::SimpleBridge, Impl::Ours));
    assert!(cni_conformance::iproute::link(&f.host, &f.bridge).is_none());
    let ctrs: Arc<Vec<Netns>> = Arc::new((0..N).map(|i| f.container(&format!("c{i}"))).collect());
    let conf = Arc::new(f.conf("1.0.0"));
    let run_all = |command: &'static str| {
        let handles: Vec<_> = (0..N)
            .map(|i| {
                let (f, ctrs, conf) = (Arc::clone(&f), Arc::clone(&ctrs), Arc::clone(&conf));
                std::thread::spawn(move || {
                    let out = f.run(command, &f.env(&format!("ctr{i}"), &ctrs[i], "eth0"), &conf);
                    (i, out)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread panicked"))
            .collect::<Vec<_>>()
    };
    let adds = run_all("ADD");
    let failed: Vec<String> = adds
        .iter()
        .filter(|(_, o)| o.code != 0)
        .map(|(i, o)| {
            format!(
                "ctr{i}: exit {} {} {}",
                o.code,
                String::from_utf8_lossy(&o.stdout),
                o.stderr
            )
        })
        .collect();
    assert!(
        failed.is_empty(),
        "{} ADDs failed:\n{}",
        failed.len(),
        failed.join("\n")
    );
    let ips: BTreeSet<String> = adds
        .iter()
        .filter_map(|(_, o)| {
            o.json.as_ref()?["ips"][0]["address"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(ips.len(), N, "addresses not distinct: {ips:?}");
    assert_eq!(
        links_of_kind(&f.host, "bridge").len(),
        1,
        "exactly one bridge"
    );
    assert_eq!(
        bridge_ports(&f.host, &f.bridge).len(),
        N,
        "ports on {}",
        f.bridge
    );
    assert_eq!(f.reservations().len(), N);
    let gw = f.host_ip(1);
    assert!(ctrs[0].ping(&gw, 3) && ctrs[N - 1].ping(&gw, 3));

    let dels = run_all("DEL");
    for (i, o) in &dels {
        assert_eq!(
            o.code,
            0,
            "DEL ctr{i}: {} {}",
            String::from_utf8_lossy(&o.stdout),
            o.stderr
        );
    }
    assert!(bridge_ports(&f.host, &f.bridge).is_empty());
    assert!(links_of_kind(&f.host, "veth").is_empty());
    assert!(f.reservations().is_empty());
}
