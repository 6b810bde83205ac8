//! IPv6 on the container interface, decided from the endpoint's addresses
//! by the kernel seam's rule ([`ContainerIpv6::for_addresses`], shared with
//! the sandbox's slow path) with the network's `enabledad` and
//! `ipv6LinkLocal`.

use ipnet::IpNet;

use super::config::BridgeConfig;
use cnm_kernel::ContainerIpv6;

/// IPv6 of an endpoint with addresses `addrs` on network `cfg`.
pub(super) fn container_ipv6(cfg: &BridgeConfig, addrs: &[IpNet]) -> ContainerIpv6 {
    ContainerIpv6::for_addresses(addrs, cfg.enable_dad, cfg.ipv6_link_local)
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
