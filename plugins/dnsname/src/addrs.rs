//! Addresses from the previous result and from the host: the container's
//! addresses (what its name answers) and the network's gateway addresses on
//! the bridge (where the resolver listens and what the container gets as its
//! nameserver).

use std::net::IpAddr;

use cni_protocol::CniResult;
use ipnet::IpNet;

/// The host's interface addresses (a seam so tests need no kernel).
pub trait HostAddrs {
    /// The addresses of interface `name` in the calling thread's namespace.
    fn addresses(&self, name: &str) -> Vec<IpAddr>;
}

/// `getifaddrs(3)`.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemAddrs;

impl HostAddrs for SystemAddrs {
    fn addresses(&self, name: &str) -> Vec<IpAddr> {
        let Ok(addrs) = nix::ifaddrs::getifaddrs() else {
            return Vec::new();
        };
        addrs
            .filter(|a| a.interface_name == name)
            .filter_map(|a| {
                let sa = a.address?;
                if let Some(v4) = sa.as_sockaddr_in() {
                    Some(IpAddr::V4(v4.ip()))
                } else {
                    sa.as_sockaddr_in6().map(|v6| IpAddr::V6(v6.ip()))
                }
            })
            .collect()
    }
}

/// The container's addresses: the only one, or those on interfaces with a
/// sandbox (dnsname's `getIPs`). Each with its prefix.
pub fn container_addrs(prev: &CniResult) -> Vec<IpNet> {
    if prev.ips.len() == 1 {
        return vec![prev.ips[0].address];
    }
    prev.ips
        .iter()
        .filter(|ip| {
            ip.interface
                .and_then(|i| prev.interfaces.get(i))
                .is_some_and(|iface| iface.sandbox.as_deref().is_some_and(|s| !s.is_empty()))
        })
        .map(|ip| ip.address)
        .collect()
}

/// The host-side interface the network's gateway is on: the first
/// interface without a sandbox (the bridge, which bridge plugins list
/// first).
pub fn host_interface(prev: &CniResult) -> Option<&str> {
    prev.interfaces
        .iter()
        .find(|i| i.sandbox.as_deref().unwrap_or("").is_empty())
        .map(|i| i.name.as_str())
}

fn is_global_unicast(a: &IpAddr) -> bool {
    match a {
        IpAddr::V4(v4) => {
            !(v4.is_loopback()
                || v4.is_link_local()
                || v4.is_multicast()
                || v4.is_unspecified()
                || v4.is_broadcast())
        }
        IpAddr::V6(v6) => {
            !(v6.is_loopback()
                || v6.is_multicast()
                || v6.is_unspecified()
                || (v6.segments()[0] & 0xffc0) == 0xfe80)
        }
    }
}

/// The gateway addresses of this network: the global unicast addresses of
/// the host interface that lie in a subnet of the container's addresses
/// (so another network's address on a shared bridge is never used).
pub fn gateway_addrs(host: &dyn HostAddrs, prev: &CniResult, container: &[IpNet]) -> Vec<IpAddr> {
    let Some(iface) = host_interface(prev) else {
        return Vec::new();
    };
    let subnets: Vec<IpNet> = container.iter().map(|n| n.trunc()).collect();
    let mut out = Vec::new();
    for a in host.addresses(iface) {
        if is_global_unicast(&a)
            && subnets.iter().any(|s| s.contains(&a))
            && !container.iter().any(|c| c.addr() == a)
            && !out.contains(&a)
        {
            out.push(a);
        }
    }
    out
}
