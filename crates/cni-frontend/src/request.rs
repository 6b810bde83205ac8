//! Reading a CNI request for the model (the one conversion CNI -> model):
//! the attachment, the sandbox placement, the container MAC (runtimeConfig,
//! else args, else CNI_ARGS), the addresses CNI_ARGS asks for, the network
//! record derived from the config, and the endpoint `prevResult` describes.

use std::net::IpAddr;

use cni_protocol::{version_at_least, CniError, CniResult, NetConf, Request};
use cnm_model::{
    EndpointInterface, EndpointLink, EndpointRecord, InterfaceAddress, IpamRecord, MacAddr,
    NetworkOptions, NetworkRecord, OwnerKey, SandboxPlacement, StaticRoute,
};
use serde_json::Value;

use super::ids::endpoint_id;

/// The attachment's identity (skel guarantees both for ADD/DEL/CHECK).
pub(super) fn attachment(req: &Request) -> Result<(&str, &str), CniError> {
    let cid = req.env.container_id.as_deref().ok_or_else(|| {
        CniError::invalid_env("required env variables [CNI_CONTAINERID] missing", "")
    })?;
    let ifname =
        req.env.ifname.as_deref().ok_or_else(|| {
            CniError::invalid_env("required env variables [CNI_IFNAME] missing", "")
        })?;
    Ok((cid, ifname))
}

/// The attachment's endpoint id.
pub(super) fn eid(req: &Request) -> Result<String, CniError> {
    let (cid, ifname) = attachment(req)?;
    Ok(endpoint_id(cid, ifname))
}

/// CNI_NETNS, required.
pub(super) fn netns(req: &Request) -> Result<&str, CniError> {
    req.env
        .netns
        .as_deref()
        .ok_or_else(|| CniError::invalid_env("required env variables [CNI_NETNS] missing", ""))
}

/// Where the interface goes: CNI_NETNS (if given and not empty) and CNI_IFNAME.
pub(super) fn placement(req: &Request) -> Option<SandboxPlacement> {
    let key = req.env.netns.as_deref().filter(|p| !p.is_empty())?;
    Some(SandboxPlacement {
        key: key.to_string(),
        ifname: req.env.ifname.clone().unwrap_or_default(),
        allow_own: req.env.netns_override,
    })
}

/// The attachment's IPAM owner: container id and ifname, as host-local's
/// store records them.
pub(super) fn owner(req: &Request) -> Result<OwnerKey, CniError> {
    let (cid, ifname) = attachment(req)?;
    Ok(OwnerKey {
        container_id: cid.to_string(),
        ifname: ifname.to_string(),
    })
}

/// The network a CNI config describes: id and name are the config's name,
/// the options are the whole config (the driver reads its own fields; the
/// IPAM driver, bound as `ipam_driver`, reads `ipam`, `runtimeConfig` and
/// `args`), with the negotiated `cniVersion`.
pub(super) fn network_record(
    conf: &NetConf,
    driver: &str,
    ipam_driver: Option<&str>,
) -> NetworkRecord {
    let mut options = conf.raw.clone();
    if options.get("cniVersion").and_then(Value::as_str) != Some(conf.cni_version.as_str()) {
        options.insert("cniVersion".into(), Value::from(conf.cni_version.clone()));
    }
    NetworkRecord {
        id: conf.name.clone(),
        name: conf.name.clone(),
        driver: driver.to_string(),
        options: NetworkOptions(options),
        ipv4: Vec::new(),
        ipv6: Vec::new(),
        ipam: ipam_driver.map(|d| IpamRecord {
            driver: d.to_string(),
            pools: Vec::new(),
            options: None,
        }),
    }
}

/// The addresses CNI_ARGS asks of our own IPAM (run in-process): `IP`,
/// checked as the reference host-local checks it (unknown CNI_ARGS keys
/// refused unless `IgnoreUnknown`; code 4 for an address it cannot read).
pub(super) fn in_process_ipam_args(req: &Request) -> Result<Vec<IpAddr>, CniError> {
    req.env.args.check_known(&["IP"])?;
    match req.env.args.get("IP").filter(|s| !s.is_empty()) {
        None => Ok(Vec::new()),
        Some(s) => cnm_ipam::parse_requested_ip(s).map(|ip| vec![ip]).ok_or_else(|| {
            CniError::invalid_env(
                format!("CNI_ARGS: invalid IP {s:?}"),
                "IP must be an address, optionally with a prefix length (IP=10.1.2.3 or IP=10.1.2.3/24)",
            )
        }),
    }
}

/// `ipam.type`, when set and not empty.
pub(super) fn ipam_type(conf: &NetConf) -> Option<&str> {
    conf.raw
        .get("ipam")
        .and_then(|v| v.get("type"))
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
}

/// A result without addresses (layer-2 mode) needs cniVersion 0.3.0.
pub(super) fn check_layer2_version(conf: &NetConf, has_ipam: bool) -> Result<(), CniError> {
    if !has_ipam && !version_at_least(&conf.cni_version, "0.3.0") {
        return Err(CniError::invalid_config(
            "layer-2 mode (no ipam.type) needs cniVersion 0.3.0 or later",
            format!(
                "a {} result cannot describe an interface without addresses",
                conf.cni_version
            ),
        ));
    }
    Ok(())
}

/// A string field of an object in the config, or an error naming it.
fn mac_field(v: Option<&Value>, field: &str) -> Result<Option<String>, CniError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(CniError::invalid_config(
            "failed to load netconf",
            format!("{field}: expected a string, got {other}"),
        )),
    }
}

/// The container MAC: runtimeConfig.mac > args.cni.mac > CNI_ARGS MAC.
pub(super) fn container_mac(req: &Request) -> Result<Option<MacAddr>, CniError> {
    let conf = &req.conf;
    let from_runtime = mac_field(conf.runtime_config.get("mac"), "runtimeConfig.mac")?;
    let from_args = mac_field(
        conf.args.get("cni").and_then(|c| c.get("mac")),
        "args.cni.mac",
    )?;
    let src = from_runtime
        .map(|m| ("runtimeConfig.mac", m))
        .or_else(|| from_args.map(|m| ("args.cni.mac", m)))
        .or_else(|| {
            req.env
                .args
                .get("MAC")
                .map(|m| ("CNI_ARGS MAC", m.to_string()))
        });
    match src {
        None => Ok(None),
        Some((field, text)) => text
            .parse::<MacAddr>()
            .map(Some)
            .map_err(|why| CniError::invalid_config(format!("invalid {field}"), why.to_string())),
    }
}

/// A CNI route as a model route.
pub(super) fn route_from_cni(r: &cni_protocol::Route) -> StaticRoute {
    StaticRoute {
        destination: r.dst,
        next_hop: r.gw,
        priority: r.priority,
        table: r.table,
        scope: r.scope,
        mtu: r.mtu,
        advmss: r.advmss,
    }
}

/// The endpoint a `prevResult` describes (for CHECK): its links, the
/// addresses of the container interface, its routes; the MAC expected when
/// the result names none.
pub(super) fn endpoint_from_prev(
    network_id: &str,
    eid: &str,
    placement: SandboxPlacement,
    prev: &CniResult,
    mac: Option<MacAddr>,
    owner: OwnerKey,
) -> EndpointRecord {
    let idx = prev
        .interfaces
        .iter()
        .position(|i| i.name == placement.ifname && i.sandbox.is_some());
    EndpointRecord {
        network_id: network_id.to_string(),
        id: eid.to_string(),
        interface: EndpointInterface {
            mac,
            addresses: prev
                .ips
                .iter()
                .filter(|ip| idx.is_none() || ip.interface == idx)
                .map(|ip| InterfaceAddress {
                    address: ip.address,
                    gateway: ip.gateway,
                })
                .collect(),
            routes: prev.routes.iter().map(route_from_cni).collect(),
        },
        links: prev
            .interfaces
            .iter()
            .map(|i| EndpointLink {
                name: i.name.clone(),
                mac: i.mac.as_deref().and_then(|m| m.parse().ok()),
                mtu: i.mtu,
                sandbox: i.sandbox.clone(),
            })
            .collect(),
        sandbox: Some(placement),
        owner: Some(owner),
        ..EndpointRecord::default()
    }
}
