//! The CNI result of an ADD, built from the model's endpoint (the one
//! conversion model -> CNI): its links (in the driver's order), its
//! addresses (pointing at the sandbox interface), its routes, and DNS (the
//! config's when set, else IPAM's).

use cni_protocol::{CniResult, Dns, Interface, IpConfig, Route};
use cnm_model::{DnsSettings, Endpoint, StaticRoute};

/// The reply for an endpoint created by ADD.
pub(super) fn result_of(endpoint: &Endpoint, cni_version: &str, dns: Dns) -> CniResult {
    let interfaces: Vec<Interface> = endpoint
        .links()
        .iter()
        .map(|l| Interface {
            name: l.name.clone(),
            mac: l.mac.map(|m| m.to_string()),
            mtu: l.mtu,
            sandbox: l.sandbox.clone(),
            ..Interface::default()
        })
        .collect();
    let container = interfaces.iter().position(|i| i.sandbox.is_some());
    let iface = endpoint.interface();
    CniResult {
        cni_version: cni_version.to_string(),
        interfaces,
        ips: iface
            .addresses
            .iter()
            .map(|a| IpConfig {
                address: a.address,
                gateway: a.gateway,
                interface: container,
            })
            .collect(),
        routes: iface.routes.iter().map(cni_route).collect(),
        dns,
    }
}

/// A model route as a CNI result route.
pub(crate) fn cni_route(r: &StaticRoute) -> Route {
    Route {
        dst: r.destination,
        gw: r.next_hop,
        mtu: r.mtu,
        advmss: r.advmss,
        priority: r.priority,
        table: r.table,
        scope: r.scope,
    }
}

/// The model's DNS settings as CNI's.
pub(crate) fn cni_dns(d: &DnsSettings) -> Dns {
    Dns {
        nameservers: d.nameservers.clone(),
        domain: d.domain.clone(),
        search: d.search.clone(),
        options: d.options.clone(),
    }
}

/// CNI's DNS settings as the model's.
pub(crate) fn model_dns(d: &Dns) -> DnsSettings {
    DnsSettings {
        nameservers: d.nameservers.clone(),
        domain: d.domain.clone(),
        search: d.search.clone(),
        options: d.options.clone(),
    }
}
