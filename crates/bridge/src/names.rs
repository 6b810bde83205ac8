//! Deterministic names and MAC addresses, and link-name validation.
//!
//! The host veth name is derived from the container ID and ifname, so DEL
//! finds it without the container namespace; the bridge MAC is derived from
//! the bridge name, so it never follows the lowest port's MAC.

use cnm_model::MacAddr;
pub use cnm_names::fnv1a64;

/// Host-side veth name for an attachment: `veth` + 11 hex digits (15 bytes).
pub fn host_veth_name(container_id: &str, ifname: &str) -> String {
    let h = fnv1a64(&[container_id.as_bytes(), ifname.as_bytes()]);
    format!("veth{:011x}", h & 0x0fff_ffff_ffff)
}

/// Host-side veth name for a model endpoint id. The CNI adapter's ids are
/// `<container id>/<ifname>` (neither part can hold a `/`); they hash as
/// the two parts, so the names are those of [`host_veth_name`] and DEL, GC
/// and upgrades find the veths of earlier releases. Other ids hash whole.
pub fn host_veth_name_for_endpoint(endpoint_id: &str) -> String {
    match endpoint_id.rsplit_once('/') {
        Some((cid, ifname)) => host_veth_name(cid, ifname),
        None => {
            let h = fnv1a64(&[endpoint_id.as_bytes()]);
            format!("veth{:011x}", h & 0x0fff_ffff_ffff)
        }
    }
}

/// The container ID part of a CNI adapter's endpoint id
/// (`<container id>/<ifname>`); other ids are returned whole.
pub fn container_id_of_endpoint(endpoint_id: &str) -> &str {
    endpoint_id
        .rsplit_once('/')
        .map_or(endpoint_id, |(cid, _)| cid)
}

/// The temporary host name of an endpoint's sandbox-side veth end when the
/// caller places it (`vsb` + 12 hex digits, never matched by GC's pattern).
pub fn sandbox_peer_name_for_endpoint(endpoint_id: &str) -> String {
    let h = fnv1a64(&[b"sandbox-peer", endpoint_id.as_bytes()]);
    format!("vsb{:012x}", h & 0xffff_ffff_ffff)
}

/// A VLAN network's gateway interface: `<bridge>.<vlan>`.
pub fn vlan_gateway_name(bridge: &str, vlan: u16) -> String {
    format!("{bridge}.{vlan}")
}

/// The bridge-side end of a VLAN network's `<bridge>.<vlan>` gateway
/// interface: `vgw` + 12 hex digits, never matched by GC's `veth` pattern.
pub fn vlan_gateway_peer_name(bridge: &str, vlan: u16) -> String {
    let h = fnv1a64(&[b"vlan-gateway", bridge.as_bytes(), &vlan.to_be_bytes()]);
    format!("vgw{:012x}", h & 0xffff_ffff_ffff)
}

/// The alias our host veths carry, naming the network that owns them, so GC
/// of one network never touches another network's ports on a shared bridge.
pub fn owner_alias(network: &str) -> String {
    format!("cnm:{network}")
}

/// A locally administered unicast MAC derived from `seed`.
pub fn derived_mac(seed: &str) -> MacAddr {
    let h = fnv1a64(&[b"cnm-mac", seed.as_bytes()]).to_be_bytes();
    MacAddr([(h[0] & 0xfc) | 0x02, h[1], h[2], h[3], h[4], h[5]])
}

/// Interface names we create: the kernel's rules plus a portable character
/// set (they end up in nftables scripts); see `cnm_names`.
pub fn validate_link_name(name: &str) -> Result<(), cnm_names::IfnameError> {
    cnm_names::validate_ifname_strict(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn veth_name_is_stable_and_short() {
        let a = host_veth_name("abc", "eth0");
        assert_eq!(a, host_veth_name("abc", "eth0"));
        assert_ne!(a, host_veth_name("abc", "eth1"));
        assert_ne!(a, host_veth_name("abd", "eth0"));
        assert_eq!(a.len(), 15);
        assert!(a.starts_with("veth"));
        // Concatenation ambiguity is avoided by the separator.
        assert_ne!(host_veth_name("ab", "ceth0"), host_veth_name("abc", "eth0"));
    }

    #[test]
    fn derived_mac_is_local_unicast() {
        let m = derived_mac("cni0");
        assert_eq!(m.octets()[0] & 0x03, 0x02);
        assert_eq!(m, derived_mac("cni0"));
        assert_ne!(m, derived_mac("cni1"));
        // What the kernel and the CNI result print.
        assert_eq!(
            MacAddr([0xc2, 0x11, 0x22, 0x33, 0x44, 0x55]).to_string(),
            "c2:11:22:33:44:55"
        );
    }

    #[test]
    fn link_names() {
        assert!(validate_link_name("eth0").is_ok());
        assert!(validate_link_name("123456789012345").is_ok());
        assert!(validate_link_name("1234567890123456").is_err());
        assert!(validate_link_name("..").is_err());
        assert!(validate_link_name("a:b").is_err());
        assert!(validate_link_name("a b").is_err());
        assert!(validate_link_name("").is_err());
    }
}
