//! IPv6 on the container interface, decided from the endpoint's addresses:
//! off for an IPv4-only endpoint (as libnetwork does), unless the config's
//! `ipv6LinkLocal` keeps the kernel's default link-local address.

use ipnet::IpNet;

use super::config::BridgeConfig;
use crate::kernel::ContainerIpv6;

/// An endpoint with an IPv6 address gets IPv6 on; one with only IPv4
/// addresses gets it off (no link-local address, so no DAD, router
/// solicitation or MLD report flooded over the bridge when it comes up);
/// an endpoint without addresses (layer-2 mode) keeps the kernel's default,
/// since whoever configures it later decides.
pub(super) fn container_ipv6(cfg: &BridgeConfig, addrs: &[IpNet]) -> ContainerIpv6 {
    let v4 = addrs.iter().any(|a| a.addr().is_ipv4());
    let v6 = addrs.iter().any(|a| a.addr().is_ipv6());
    if v6 {
        ContainerIpv6::On {
            dad: cfg.enable_dad,
        }
    } else if v4 && !cfg.ipv6_link_local {
        ContainerIpv6::Off
    } else {
        ContainerIpv6::Default
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(extra: serde_json::Value) -> BridgeConfig {
        let mut v = serde_json::json!({"cniVersion": "1.0.0", "name": "n", "type": "simplebridge",
            "ipam": {"type": "ipam-host-local"}});
        if let (Some(o), Some(e)) = (v.as_object_mut(), extra.as_object()) {
            o.extend(e.clone());
        }
        let options = v.as_object().cloned().expect("object");
        BridgeConfig::from_options("n", &options).expect("config")
    }

    fn nets(v: &[&str]) -> Vec<IpNet> {
        v.iter().map(|s| s.parse().expect("cidr")).collect()
    }

    #[test]
    fn ipv4_only_is_off_unless_link_local_is_kept() {
        let v4 = nets(&["10.1.0.2/24"]);
        assert_eq!(
            container_ipv6(&cfg(serde_json::json!({})), &v4),
            ContainerIpv6::Off
        );
        assert_eq!(
            container_ipv6(&cfg(serde_json::json!({"ipv6LinkLocal": true})), &v4),
            ContainerIpv6::Default
        );
    }

    #[test]
    fn ipv6_addresses_keep_ipv6_on() {
        let c = cfg(serde_json::json!({}));
        let dual = nets(&["10.1.0.2/24", "fd00::2/64"]);
        assert_eq!(container_ipv6(&c, &dual), ContainerIpv6::On { dad: false });
        let c = cfg(serde_json::json!({"enabledad": true}));
        assert_eq!(
            container_ipv6(&c, &nets(&["fd00::2/64"])),
            ContainerIpv6::On { dad: true }
        );
        assert_eq!(container_ipv6(&c, &[]), ContainerIpv6::Default);
    }

    #[test]
    fn option_must_be_a_bool() {
        let v = serde_json::json!({"cniVersion": "1.0.0", "name": "n", "type": "simplebridge",
            "ipv6LinkLocal": "yes"});
        let options = v.as_object().cloned().expect("object");
        assert!(BridgeConfig::from_options("n", &options).is_err());
    }
}
