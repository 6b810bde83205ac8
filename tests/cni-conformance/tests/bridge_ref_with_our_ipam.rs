//! The reference `bridge` plugin (Debian: cniVersion up to 1.0.0) delegating to
//! our ipam-host-local (and, as a control, to the reference host-local) in a
//! throwaway "host" namespace: two container namespaces get their addresses,
//! ping each other, the bridge holds the gateway; CHECK passes; DEL (twice,
//! and with the netns gone) releases everything.

use cni_conformance::{for_both_impls, BridgeFixture, Impl, Main};

mod common;

fn ref_bridge(ipam: Impl) {
    if !cni_conformance::ref_available("bridge") {
        eprintln!("skipped: reference bridge plugin not installed");
        return;
    }
    common::two_containers_ping(&BridgeFixture::new(Main::RefBridge, ipam), "1.0.0");
}
for_both_impls!(bridge_two_containers_ping, ref_bridge);
