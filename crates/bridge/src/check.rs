//! CHECK: verify what endpoint creation made against what it reported (the
//! CNI front-end passes what `prevResult` says, as model types) and the
//! config: the container interface (up, MAC, MTU, addresses, routes), the
//! host veth on the bridge, the bridge and its gateway address, the
//! masquerade rule.

use cnm_kernel::MasqSpec;
use cnm_model::{CheckRequest, DriverError, ErrorKind};
use ipnet::IpNet;

use super::add::calc_gateways;
use super::config::BridgeConfig;
use super::names::{container_id_of_endpoint, host_veth_name_for_endpoint};
use cnm_kernel::System;

use super::error::kernel_error;

fn failed(msg: impl Into<String>, details: impl Into<String>) -> DriverError {
    DriverError::new(ErrorKind::Kernel, msg, details)
}

pub(super) fn check(
    sys: &dyn System,
    cfg: &BridgeConfig,
    req: &CheckRequest,
) -> Result<(), DriverError> {
    let sandbox = req.endpoint.sandbox.as_ref().ok_or_else(|| {
        DriverError::invalid_argument(
            "CHECK needs the endpoint's sandbox",
            format!("endpoint {:?}", req.endpoint.endpoint_id),
        )
    })?;
    let (netns, ifname) = (sandbox.key.as_str(), sandbox.ifname.as_str());
    let eid = req.endpoint.endpoint_id.as_str();
    let expected = &req.expected;
    let mut kernel = sys.kernel(Some(netns), sandbox.allow_own)?;

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
    let expected_mac = req
        .links
        .iter()
        .find(|l| l.name == ifname && l.sandbox.as_deref() == Some(netns))
        .and_then(|l| l.mac)
        .or(expected.mac);
    if let Some(mac) = expected_mac {
        if mac != c.mac {
            return Err(failed(
                format!("container interface {ifname:?} has MAC {}", c.mac),
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
    for a in &expected.addresses {
        if !addrs.contains(&a.address) {
            return Err(failed(
                format!("address {} missing on {ifname:?}", a.address),
                format!("in {netns}; present: {addrs:?}"),
            ));
        }
    }
    let routes = kernel
        .container_routes(ifname)
        .map_err(|e| kernel_error("list container routes", &e))?;
    for r in &expected.routes {
        let dst = r.destination.trunc();
        let found = routes
            .iter()
            .any(|have| have.dst == dst && (r.next_hop.is_none() || have.gw == r.next_hop));
        if !found {
            return Err(failed(
                format!("route to {dst} missing in the container"),
                format!("expected via {:?} dev {ifname} in {netns}", r.next_hop),
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
        let mut addresses = expected.addresses.clone();
        let mut routes = expected.routes.clone();
        let gws = calc_gateways(cfg, &mut addresses, &mut routes);
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

    if cfg.ip_masq && !expected.addresses.is_empty() {
        let subnets: Vec<IpNet> = expected
            .addresses
            .iter()
            .map(|a| a.address.trunc())
            .collect();
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
