//! ADD into a sandbox whose CNI_IFNAME already exists (issue 12 moved that
//! check from a look-up before IPAM to the veth creation's EEXIST): the
//! second ADD fails with a clear error, releases its address, and leaves
//! the first endpoint (its host veth and address) untouched.

use cni_conformance::inspect::{bridge_ports, ping_w2};
use cni_conformance::{require_root, BridgeFixture, Impl, Main};

#[test]
fn add_into_existing_ifname_fails_and_leaves_the_first_endpoint() {
    require_root!();
    let f = BridgeFixture::new(Main::SimpleBridge, Impl::Ours);
    let conf = f.conf("1.0.0");
    let c = f.container("c");
    f.add("first", &c, &conf);
    let ports = bridge_ports(&f.host, &f.bridge);
    assert_eq!(ports.len(), 1);
    let out = f.run("ADD", &f.env("second", &c, "eth0"), &conf);
    let err = out.err(Some(100));
    assert!(
        err["msg"].as_str().unwrap_or("").contains("already exists"),
        "{err}"
    );
    // The first endpoint is intact and the second's address was released.
    let after = bridge_ports(&f.host, &f.bridge);
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].ifname, ports[0].ifname);
    assert_eq!(f.reservations().len(), 1);
    assert!(ping_w2(&c, &f.host_ip(1), 3), "first endpoint still works");
    f.run("DEL", &f.env("first", &c, "eth0"), &conf).ok_empty();
    assert!(f.reservations().is_empty());
    assert!(bridge_ports(&f.host, &f.bridge).is_empty());
}

/// A runtime repeating the ADD of a live attachment (same container ID and
/// ifname): refused, and the attachment keeps its address and veth (host-local
/// handed the same reservation back, so releasing it would free a live
/// address for the next container).
#[test]
fn repeated_add_of_a_live_attachment_keeps_its_address() {
    require_root!();
    let f = BridgeFixture::new(Main::SimpleBridge, Impl::Ours);
    let conf = f.conf("1.0.0");
    let c = f.container("c");
    f.add("first", &c, &conf);
    let ports = bridge_ports(&f.host, &f.bridge);
    let reserved = f.reservations();
    assert_eq!(reserved.len(), 1);
    let out = f.run("ADD", &f.env("first", &c, "eth0"), &conf);
    let err = out.err(Some(100));
    assert!(
        err["msg"].as_str().unwrap_or("").contains("already exists"),
        "{err}"
    );
    assert_eq!(f.reservations(), reserved, "the reservation must stay");
    let after = bridge_ports(&f.host, &f.bridge);
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].ifname, ports[0].ifname);
    assert!(ping_w2(&c, &f.host_ip(1), 3), "the endpoint still works");
    f.run("DEL", &f.env("first", &c, "eth0"), &conf).ok_empty();
    assert!(f.reservations().is_empty());
}
