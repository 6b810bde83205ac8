//! What portmap reads from `prevResult`: the container addresses (reference `parseConfig`
//! rules) and the host-side interface of the container network (for `route_localnet`).

use cni_protocol::CniResult;
use ipnet::IpNet;

/// The first IPv4 and the first IPv6 address of the attachment, with prefixes, as the
/// reference selects them: an address whose `interface` index points at an interface that is
/// not `ifname` or has no sandbox is skipped; addresses without an index (or with an index out
/// of range) are taken.
pub fn container_addrs(prev: &CniResult, ifname: &str) -> Vec<IpNet> {
    let mut v4: Option<IpNet> = None;
    let mut v6: Option<IpNet> = None;
    for ip in &prev.ips {
        let slot = match ip.address {
            IpNet::V4(_) => &mut v4,
            IpNet::V6(_) => &mut v6,
        };
        if slot.is_some() {
            continue;
        }
        if let Some(iface) = ip.interface.and_then(|i| prev.interfaces.get(i)) {
            let sandboxed = iface.sandbox.as_deref().is_some_and(|s| !s.is_empty());
            if iface.name != ifname || !sandboxed {
                continue;
            }
        }
        *slot = Some(ip.address);
    }
    v4.into_iter().chain(v6).collect()
}

/// The host-side interface of the network: the first interface without a sandbox (the bridge
/// in a bridge plugin's result). None when the result lists none.
pub fn host_interface(prev: &CniResult) -> Option<&str> {
    prev.interfaces
        .iter()
        .find(|i| i.sandbox.as_deref().is_none_or(str::is_empty))
        .map(|i| i.name.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn result(v: serde_json::Value) -> CniResult {
        CniResult::from_json(&v, "1.0.0").unwrap()
    }

    fn bridge_result() -> CniResult {
        result(json!({"cniVersion": "1.0.0",
            "interfaces": [
                {"name": "cni0", "mac": "02:00:00:00:00:01"},
                {"name": "veth1", "mac": "02:00:00:00:00:02"},
                {"name": "eth0", "mac": "02:00:00:00:00:03", "sandbox": "/var/run/netns/c"}],
            "ips": [
                {"address": "192.168.9.9/24", "interface": 0},
                {"address": "10.1.0.5/24", "gateway": "10.1.0.1", "interface": 2},
                {"address": "10.1.0.6/24", "interface": 2},
                {"address": "fd00::5/64", "interface": 2}]}))
    }

    #[test]
    fn picks_sandbox_addresses_of_ifname() {
        let r = bridge_result();
        let got = container_addrs(&r, "eth0");
        let want: Vec<IpNet> = vec![
            "10.1.0.5/24".parse().unwrap(),
            "fd00::5/64".parse().unwrap(),
        ];
        assert_eq!(got, want);
        // Another ifname: every indexed address is skipped.
        assert!(container_addrs(&r, "net1").is_empty());
        assert_eq!(host_interface(&r), Some("cni0"));
    }

    #[test]
    fn without_interfaces_all_addresses_count() {
        let r = result(json!({"cniVersion": "1.0.0",
            "ips": [{"address": "10.2.0.7/16"}, {"address": "10.2.0.8/16"}, {"address": "2001:db8::7/64", "interface": 4}]}));
        let want: Vec<IpNet> = vec![
            "10.2.0.7/16".parse().unwrap(),
            "2001:db8::7/64".parse().unwrap(),
        ];
        assert_eq!(container_addrs(&r, "eth0"), want);
        assert_eq!(host_interface(&r), None);
    }

    #[test]
    fn empty_sandbox_is_host_side() {
        let r = result(json!({"cniVersion": "1.0.0",
            "interfaces": [{"name": "eth0", "sandbox": ""}],
            "ips": [{"address": "10.3.0.2/24", "interface": 0}]}));
        assert!(container_addrs(&r, "eth0").is_empty());
        assert_eq!(host_interface(&r), Some("eth0"));
    }
}
