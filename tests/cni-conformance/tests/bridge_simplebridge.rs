//! Our simplebridge driven like the reference bridge: the same two-container
//! scenario (results, kernel state, ping, CHECK, DEL) at 1.0.0 and 1.1.0, with
//! our ipam-host-local and with the reference host-local as delegate.
//! Further simplebridge cases go in more `bridge_*.rs` files using
//! `BridgeFixture::new(Main::SimpleBridge, ..)`.

use cni_conformance::{require_root, BridgeFixture, Impl, Main};

mod common;

#[test]
fn simplebridge_our_ipam_1_0_0() {
    require_root!();
    common::two_containers_ping(&BridgeFixture::new(Main::SimpleBridge, Impl::Ours), "1.0.0");
}

#[test]
fn simplebridge_our_ipam_1_1_0() {
    require_root!();
    common::two_containers_ping(&BridgeFixture::new(Main::SimpleBridge, Impl::Ours), "1.1.0");
}

#[test]
fn simplebridge_reference_host_local() {
    require_root!();
    common::two_containers_ping(
        &BridgeFixture::new(Main::SimpleBridge, Impl::Reference),
        "1.0.0",
    );
}
