//! CHECK: verify what endpoint creation made against what it reported (the
//! CNI adapter passes `prevResult`) and the config: the container interface
//! (up, MAC, MTU, addresses, routes), the host veth on the bridge, the bridge
//! and its gateway address, the masquerade rule.

use cni_protocol::{code, CniError, CniResult, Interface, IpConfig};
use ipnet::IpNet;

use super::add::{calc_gateways, container_ips};
use super::config::BridgeConfig;
use super::names::{container_id_of_endpoint, format_mac, host_veth_name_for_endpoint};
use super::{kernel_error, System};
use crate::kernel::MasqSpec;
use crate::model::CheckRequest;

fn failed(msg: impl Into<String>, details: impl Into<String>) -> CniError {
    CniError::new(code::KERNEL, msg, details)
}

/// What the endpoint reported, in the shape the checks below read.
fn expected_result(req: &CheckRequest) -> CniResult {
    let interfaces: Vec<Interface> = req
        .links
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
    CniResult {
        interfaces,
        ips: req
            .expected
            .addresses
            .iter()
            .map(|a| IpConfig {
                address: a.address,
                gateway: a.gateway,
                interface: container,
            })
            .collect(),
        routes: req
            .expected
            .routes
            .iter()
            .map(crate::cni::cni_route)
            .collect(),
        ..CniResult::default()
    }
}

pub(super) fn check(
    sys: &dyn System,
    cfg: &BridgeConfig,
    req: &CheckRequest,
) -> Result<(), CniError> {
    let cfg = cfg.clone();
    let sandbox =
        req.endpoint.sandbox.as_ref().ok_or_else(|| {
            CniError::invalid_env("required env variables [CNI_NETNS] missing", "")
        })?;
    let (netns, ifname) = (sandbox.key.as_str(), sandbox.ifname.as_str());
    let eid = req.endpoint.endpoint_id.as_str();
    let prev = &expected_result(req);
    let mut kernel = sys
        .kernel(Some(netns), sandbox.allow_own)
        .map_err(|e| e.into_cni())?;

    // The container interface.
    let c = kernel
        .container_link(ifname)
        .map_err(|e| kernel_error("look up container interface", &e))?
        .ok_or_else(|| {
            failed(
                format!("container interface {ifname:?} not found"),
                format!("in {netns}"),
            )
        })?;
    if c.kind.as_deref() != Some("veth") {
        return Err(failed(
            format!("container interface {ifname:?} is not a veth"),
            format!("kind {:?}", c.kind),
        ));
    }
    if !cfg.disable_container_interface && !c.up {
        return Err(failed(
            format!("container interface {ifname:?} is down"),
            netns,
        ));
    }
    let expected_mac = prev
        .interfaces
        .iter()
        .find(|i| i.name == ifname && i.sandbox.as_deref() == Some(netns))
        .and_then(|i| i.mac.clone())
        .or_else(|| req.expected.mac.map(|m| m.to_string()));
    if let Some(mac) = expected_mac {
        let actual = format_mac(&c.mac);
        if !mac.eq_ignore_ascii_case(&actual) {
            return Err(failed(
                format!("container interface {ifname:?} has MAC {actual}"),
                format!("expected {mac}"),
            ));
        }
    }
    if let Some(mtu) = cfg.mtu {
        if c.mtu != mtu {
            return Err(failed(
                format!("container interface {ifname:?} has MTU {}", c.mtu),
                format!("expected {mtu}"),
            ));
        }
    }
    let addrs = kernel
        .container_addrs(ifname)
        .map_err(|e| kernel_error("list container addresses", &e))?;
    for ip in container_ips(prev, ifname) {
        if !addrs.contains(&ip.address) {
            return Err(failed(
                format!("address {} missing on {ifname:?}", ip.address),
                format!("in {netns}; present: {addrs:?}"),
            ));
        }
    }
    let routes = kernel
        .container_routes(ifname)
        .map_err(|e| kernel_error("list container routes", &e))?;
    for r in &prev.routes {
        let dst = r.dst.trunc();
        let found = routes
            .iter()
            .any(|have| have.dst == dst && (r.gw.is_none() || have.gw == r.gw));
        if !found {
            return Err(failed(
                format!("route to {dst} missing in the container"),
                format!("expected via {:?} dev {ifname} in {netns}", r.gw),
            ));
        }
    }

    // The bridge and the host veth.
    let bridge = kernel
        .host_link(&cfg.bridge)
        .map_err(|e| kernel_error("look up bridge", &e))?
        .ok_or_else(|| {
            failed(
                format!("bridge {:?} not found", cfg.bridge),
                "in the host namespace",
            )
        })?;
    if bridge.kind.as_deref() != Some("bridge") {
        return Err(failed(
            format!("{:?} is not a bridge", cfg.bridge),
            format!("kind {:?}", bridge.kind),
        ));
    }
    if bridge.promisc != cfg.promisc {
        return Err(failed(
            format!(
                "bridge {:?} promiscuous mode is {}",
                cfg.bridge, bridge.promisc
            ),
            format!("config says promiscMode {}", cfg.promisc),
        ));
    }
    // Ours by its derived name, or the reference's through the peer index.
    let derived = host_veth_name_for_endpoint(eid);
    let cid = container_id_of_endpoint(eid);
    let (host, ours) = super::legacy::host_veth(kernel.as_mut(), &derived, &c)
        .map_err(|e| kernel_error("look up host veth", &e))?
        .ok_or_else(|| {
            failed(
                format!("host veth {derived:?} not found"),
                "in the host namespace, nor as the peer of the container interface",
            )
        })?;
    let host_name = host.name.clone();
    if host.master != Some(bridge.index) {
        return Err(failed(
            format!(
                "host veth {host_name:?} is not attached to bridge {:?}",
                cfg.bridge
            ),
            format!(
                "master index {:?}, bridge index {}",
                host.master, bridge.index
            ),
        ));
    }
    if let Some(h) = host.hairpin {
        if h != cfg.hairpin {
            return Err(failed(
                format!("host veth {host_name:?} hairpin mode is {h}"),
                format!("config says hairpinMode {}", cfg.hairpin),
            ));
        }
    }

    // The gateway on the bridge.
    if cfg.is_gateway && cfg.vlan == 0 {
        let mut expected = prev.clone();
        let gws = calc_gateways(&cfg, &mut expected);
        let have = kernel
            .host_addrs(&cfg.bridge)
            .map_err(|e| kernel_error("list bridge addresses", &e))?;
        for gw in gws {
            if !have.contains(&gw) {
                return Err(failed(
                    format!("gateway address {gw} missing on bridge {:?}", cfg.bridge),
                    format!("present: {have:?}"),
                ));
            }
        }
    }

    if cfg.ip_masq && !prev.ips.is_empty() {
        let subnets: Vec<IpNet> = prev.ips.iter().map(|ip| ip.address.trunc()).collect();
        let checked = sys.firewall().check_masquerade(&MasqSpec {
            network: cfg.network.clone(),
            bridge: cfg.bridge.clone(),
            subnets,
        });
        // An attachment of the reference may carry the reference's own rule.
        if let Err(e) = checked {
            if ours || !sys.reference_rules().masq_present(&cfg.network, cid) {
                return Err(kernel_error("IP masquerade rule missing", &e));
            }
        }
    }
    if cfg.mac_spoof_check {
        let checked = sys.firewall().check_mac_spoof_check(&host_name, &c.mac);
        // An attachment of the reference may carry the reference's own check.
        if let Err(e) = checked {
            if ours || !sys.reference_rules().spoof_present(cid, ifname) {
                return Err(kernel_error("MAC spoof check missing", &e));
            }
        }
    }
    Ok(())
}
