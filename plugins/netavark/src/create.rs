//! `create`: check a new network's config and complete what Podman leaves
//! to the driver, returning the network Podman stores. Name, id and driver
//! never change (Podman refuses a plugin that changes them).
//!
//! Filled in: the bridge's name (`cnm-<11 characters of the id>`, or the
//! `com.docker.network.bridge.name` option), a gateway for every subnet of
//! a network that is not internal (its first address), `ipv6_enabled` from
//! the subnets, the IPAM driver (`host-local`: Podman's allocator; for the
//! overlay [`PLUGIN_IPAM`]: the plugin allocates from the node agent's
//! blocks). `dns_enabled` is kept (names are served by cnm-resolver on the
//! gateways, see `names.rs`; a network that is internal and serves names
//! gets gateways too), except on a network without addresses (ipam driver
//! `none`), where Podman turns it off as well.
//! For the overlay, the bridge and the cluster subnet come from the node
//! agent's state on this host.

use std::path::Path;

use crate::backend::OverlayInfo;
use crate::config::{check_network, IpamMode, Stage, PLUGIN_IPAM};
use crate::error::PluginError;
use crate::options::{DriverKind, NetworkOptions};
use crate::types::{Network, Subnet};

/// Check and complete a new network. `overlay` reads the node agent's state
/// of an overlay network (name, state directory).
pub fn create(
    mut n: Network,
    overlay: impl Fn(&str, Option<&Path>) -> Result<OverlayInfo, PluginError>,
) -> Result<Network, PluginError> {
    if n.network_interface.as_deref() == Some("") {
        n.network_interface = None;
    }
    // Docker's spellings become ours (as netavark's own create does).
    if let Some(opts) = n.options.as_mut() {
        if let Some(name) = opts.remove("com.docker.network.bridge.name") {
            if n.network_interface.as_ref().is_some_and(|i| *i != name) {
                return Err(PluginError::invalid(format!(
                    "network_interface {:?} and option com.docker.network.bridge.name {name:?} disagree",
                    n.network_interface.as_deref().unwrap_or_default()
                )));
            }
            n.network_interface = Some(name);
        }
        if let Some(mtu) = opts.remove("com.docker.network.driver.mtu") {
            if opts.contains_key("mtu") {
                return Err(PluginError::invalid(
                    "options mtu and com.docker.network.driver.mtu are both set: give one",
                ));
            }
            opts.insert("mtu".into(), mtu);
        }
    }
    let options = NetworkOptions::parse(n.options.as_ref())?;
    let ipam_driver = n
        .ipam_options
        .as_ref()
        .and_then(|o| o.get("driver"))
        .cloned()
        .unwrap_or_default();

    if options.driver == DriverKind::Overlay {
        if n.internal {
            return Err(PluginError::unsupported(
                "an internal overlay network: the overlay's containers always get the node \
                 agent's gateway and masquerade; use the bridge driver for internal networks",
            ));
        }
        if !matches!(ipam_driver.as_str(), "" | "host-local" | PLUGIN_IPAM) {
            return Err(PluginError::unsupported(format!(
                "ipam driver {ipam_driver}: an overlay network's addresses come from the node \
                 agent's blocks (leave --ipam-driver out)"
            )));
        }
        let info = overlay(&n.name, options.overlay_state_dir.as_deref())?;
        if let Some(i) = &n.network_interface {
            if *i != info.bridge {
                return Err(PluginError::invalid(format!(
                    "network_interface {i:?}: the overlay's bridge on this host is {:?} \
                     (chosen by the node agent)",
                    info.bridge
                )));
            }
        }
        n.network_interface = Some(info.bridge.clone());
        match n.subnets.as_deref() {
            None | Some([]) => {
                n.subnets = Some(vec![Subnet {
                    gateway: None,
                    lease_range: None,
                    subnet: info.subnet,
                }])
            }
            Some([s]) if s.subnet == info.subnet && s.lease_range.is_none() => {}
            Some(_) => {
                return Err(PluginError::invalid(format!(
                    "subnets: overlay network {:?} has the cluster subnet {} (leave --subnet out)",
                    n.name, info.subnet
                )))
            }
        }
        n.ipam_options
            .get_or_insert_with(Default::default)
            .insert("driver".into(), PLUGIN_IPAM.into());
    }

    let cfg = check_network(&n, Stage::Create)?;

    // Complete.
    if options.driver == DriverKind::Bridge {
        n.network_interface = cfg.bridge.clone();
        if cfg.ipam == IpamMode::Podman {
            n.ipam_options
                .get_or_insert_with(Default::default)
                .insert("driver".into(), "host-local".into());
        }
    }
    if let Some(subnets) = n.subnets.as_mut() {
        for (s, c) in subnets.iter_mut().zip(&cfg.subnets) {
            s.gateway = c.gateway;
        }
    }
    n.ipv6_enabled = cfg.subnets.iter().any(|s| s.subnet.addr().is_ipv6());
    if cfg.ipam == IpamMode::None {
        n.dns_enabled = false;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ID: &str = "2f259bab93aaaaa2542ba43ef33eb990d0999ee1b9924b557b7be53c0b7a1bb9";

    fn net(v: serde_json::Value) -> Network {
        let mut base = json!({
            "name": "net1", "id": ID, "driver": "cnm",
            "internal": false, "ipv6_enabled": false, "dns_enabled": true,
            "options": {}, "ipam_options": {}, "labels": {},
            "subnets": [{"subnet": "10.89.0.0/24"}]
        });
        if let (Some(b), Some(o)) = (base.as_object_mut(), v.as_object()) {
            for (k, v) in o {
                b.insert(k.clone(), v.clone());
            }
        }
        serde_json::from_value(base).expect("network")
    }

    fn no_overlay(_: &str, _: Option<&Path>) -> Result<OverlayInfo, PluginError> {
        Err(PluginError::invalid("no overlay here"))
    }

    fn fill(v: serde_json::Value) -> Result<serde_json::Value, PluginError> {
        create(net(v), no_overlay).map(|n| serde_json::to_value(n).expect("json"))
    }

    #[test]
    fn fills_what_podman_leaves_to_the_driver() {
        let out = fill(json!({})).expect("create");
        assert_eq!(out["network_interface"], "cnm-2f259bab93a");
        assert_eq!(out["subnets"][0]["gateway"], "10.89.0.1");
        assert_eq!(out["ipam_options"]["driver"], "host-local");
        assert_eq!(out["dns_enabled"], true, "names are served");
        assert_eq!(out["ipv6_enabled"], false);
        // Name, id, driver unchanged; other fields kept.
        assert_eq!(out["name"], "net1");
        assert_eq!(out["id"], ID);
        assert_eq!(out["driver"], "cnm");
        assert_eq!(out["labels"], json!({}));
    }

    #[test]
    fn dual_stack_internal_and_docker_names() {
        let out = fill(json!({
            "subnets": [{"subnet": "10.89.1.0/24", "gateway": "10.89.1.254"},
                        {"subnet": "fd00:89::/64"}],
            "options": {"com.docker.network.bridge.name": "br-test",
                        "com.docker.network.driver.mtu": "1400"}
        }))
        .expect("create");
        assert_eq!(out["ipv6_enabled"], true);
        assert_eq!(out["subnets"][0]["gateway"], "10.89.1.254");
        assert_eq!(out["subnets"][1]["gateway"], "fd00:89::1");
        assert_eq!(out["network_interface"], "br-test");
        assert_eq!(out["options"], json!({"mtu": "1400"}));
        let out = fill(json!({"internal": true, "dns_enabled": false})).expect("internal");
        assert!(out["subnets"][0].get("gateway").is_none(), "{out}");
        // Internal with names: the resolver needs the gateway to listen on.
        let out = fill(json!({"internal": true})).expect("internal with DNS");
        assert_eq!(out["subnets"][0]["gateway"], "10.89.0.1");
        assert_eq!(out["dns_enabled"], true);
        let out = fill(json!({"network_dns_servers": ["10.0.0.53"]})).expect("forwarders");
        assert_eq!(out["network_dns_servers"], json!(["10.0.0.53"]));
        let out =
            fill(json!({"ipam_options": {"driver": "none"}, "subnets": []})).expect("no ipam");
        assert_eq!(out["ipam_options"]["driver"], "none");
        assert_eq!(
            out["dns_enabled"], false,
            "no addresses, no names (as Podman)"
        );
    }

    #[test]
    fn invalid_networks_are_refused() {
        for (v, want) in [
            (json!({"subnets": []}), "needs a subnet"),
            (
                json!({"subnets": [{"subnet": "10.89.0.1/24"}]}),
                "host bits set",
            ),
            (
                json!({"subnets": [{"subnet": "10.89.0.0/31"}]}),
                "too small",
            ),
            (
                json!({"subnets": [{"subnet": "10.89.0.0/24", "gateway": "10.90.0.1"}]}),
                "not a host address",
            ),
            (
                json!({"subnets": [{"subnet": "10.89.0.0/24", "gateway": "10.89.0.255"}]}),
                "not a host address",
            ),
            (
                json!({"subnets": [{"subnet": "10.89.0.0/24"}, {"subnet": "10.89.0.128/25"}]}),
                "overlap",
            ),
            (
                json!({"subnets": [{"subnet": "10.89.0.0/24",
                    "lease_range": {"start_ip": "10.89.0.50", "end_ip": "10.89.0.10"}}]}),
                "after end_ip",
            ),
            (
                json!({"subnets": [{"subnet": "10.89.0.0/24",
                    "lease_range": {"start_ip": "10.89.1.5"}}]}),
                "not a host address",
            ),
            (json!({"ipv6_enabled": true}), "needs an IPv6 subnet"),
            (
                json!({"ipam_options": {"driver": "dhcp"}}),
                "dhcp is not supported",
            ),
            (
                json!({"ipam_options": {"driver": "magic"}}),
                "unknown ipam driver",
            ),
            (
                json!({"ipam_options": {"driver": "none"}}),
                "subnets are given",
            ),
            (
                json!({"ipam_options": {"colour": "red"}}),
                "unknown ipam option",
            ),
            (
                json!({"options": {"vrf": "x"}}),
                "option vrf: not supported",
            ),
            (json!({"options": {"foo": "bar"}}), "unknown option \"foo\""),
            (
                json!({"network_interface": "much-too-long-name"}),
                "longer than 15",
            ),
            (json!({"name": "bad name"}), "network name"),
            (json!({"id": ""}), "network id"),
            (
                json!({"routes": [{"destination": "10.1.0.0/16", "route_type": "blackhole"}]}),
                "blackhole is not supported",
            ),
            (
                json!({"routes": [{"destination": "10.1.0.0/16", "gateway": "fd00::1"}]}),
                "other address family",
            ),
            (
                json!({"network_dns_servers": ["1.1.1.1"], "dns_enabled": false}),
                "network_dns_servers",
            ),
            (json!({"options": {"driver": "overlay"}}), "no overlay here"),
        ] {
            let e = fill(v.clone()).expect_err(want);
            assert!(e.to_string().contains(want), "{v}: {e}");
        }
    }

    #[test]
    fn overlay_takes_the_agents_bridge_and_subnet() {
        let agent = |name: &str, dir: Option<&Path>| {
            assert_eq!(name, "net1");
            assert_eq!(dir, Some(Path::new("/run/test-overlay")));
            Ok(OverlayInfo {
                subnet: "10.214.0.0/16".parse().expect("net"),
                bridge: "cnmb4214".into(),
            })
        };
        let n = net(json!({"subnets": [],
            "options": {"driver": "overlay", "overlay_state_dir": "/run/test-overlay"}}));
        let out = serde_json::to_value(create(n, agent).expect("create")).expect("json");
        assert_eq!(out["network_interface"], "cnmb4214");
        assert_eq!(out["subnets"][0]["subnet"], "10.214.0.0/16");
        assert_eq!(out["ipam_options"]["driver"], PLUGIN_IPAM);
        for (v, want) in [
            (json!({"internal": true}), "internal overlay"),
            (
                json!({"subnets": [{"subnet": "10.9.0.0/24"}]}),
                "cluster subnet",
            ),
            (
                json!({"network_interface": "br0"}),
                "chosen by the node agent",
            ),
            (
                json!({"ipam_options": {"driver": "none"}}),
                "ipam driver none",
            ),
        ] {
            let mut v = v;
            v["options"] = json!({"driver": "overlay", "overlay_state_dir": "/run/test-overlay"});
            if v.get("subnets").is_none() {
                v["subnets"] = json!([]);
            }
            let e = create(net(v.clone()), agent).expect_err(want);
            assert!(e.to_string().contains(want), "{v}: {e}");
        }
    }
}
