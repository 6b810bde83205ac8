//! Endpoint creation (the heart of CNI ADD), on the model's types: with the
//! addresses IPAM gave, build the endpoint (in the sandbox, or with its
//! peer in the host for the caller to place) -> program the host -> report
//! the links. A failure at any step undoes the steps before it (see `txn`).

use std::net::IpAddr;

use cnm_kernel::{
    configure_interface, BridgeSpec, ConfigureStep, InterfaceConfig, Kernel, LinkState, MasqSpec,
    PortSpec, RouteState, VethSpec, VlanEntry, VlanGatewaySpec,
};
use cnm_model::{
    DriverError, EndpointLink, InterfaceAddress, MacAddr, SandboxPlacement, StaticRoute,
};
use ipnet::IpNet;

use super::config::BridgeConfig;
use super::ipv6::container_ipv6;
use super::names::{
    derived_mac, host_veth_name_for_endpoint, owner_alias, vlan_gateway_name,
    vlan_gateway_peer_name,
};
use super::txn::{Txn, Undo};
use cnm_kernel::System;

use super::error::kernel_error;

/// Where the endpoint's other veth end goes.
pub(super) enum Peer<'a> {
    /// Created directly inside the sandbox and configured there (fast path).
    InSandbox(&'a SandboxPlacement),
    /// Created in the host under this name; the caller's sandbox moves it.
    InHost(String),
}

/// What every step of one endpoint creation needs.
struct AddCtx<'a> {
    cfg: &'a BridgeConfig,
    sys: &'a dyn System,
    peer: Peer<'a>,
    host_name: String,
    mac: Option<MacAddr>,
}

/// Why `create` failed.
pub(super) enum CreateError {
    /// This attachment's own interface is already in the sandbox (a repeated
    /// ADD): nothing was made, and nothing of the live endpoint (its veth, or
    /// the address IPAM handed back for the same owner) may be undone.
    AttachmentExists(DriverError),
    /// Any other failure; what was made has been undone.
    Failed(DriverError),
}

impl From<DriverError> for CreateError {
    fn from(e: DriverError) -> Self {
        CreateError::Failed(e)
    }
}

/// What `create` built: the addresses with their gateways, the routes with
/// the default route, the links in reply order (bridge, host veth,
/// container interface, the VLAN gateway interface when there is one).
pub(super) struct Built {
    pub addresses: Vec<InterfaceAddress>,
    pub routes: Vec<StaticRoute>,
    pub links: Vec<EndpointLink>,
}

/// Create the endpoint `eid` with `addresses` (from IPAM) and `routes`
/// (IPAM's): bridge, veth pair, port, the container interface (configured
/// when it is in the sandbox), the host's gateway, forwarding and firewall.
/// A failure undoes every step.
pub(super) fn create(
    sys: &dyn System,
    cfg: &BridgeConfig,
    eid: &str,
    mac: Option<MacAddr>,
    peer: Peer<'_>,
    addresses: Vec<InterfaceAddress>,
    routes: Vec<StaticRoute>,
) -> Result<Built, CreateError> {
    let host_name = host_veth_name_for_endpoint(eid);
    let mut kernel = match &peer {
        // An interface of that name already in the sandbox is found when the
        // veth cannot be created (EEXIST), not by a look-up first.
        Peer::InSandbox(p) => sys
            .kernel(Some(&p.key), p.allow_own)
            .map_err(DriverError::from)?,
        Peer::InHost(_) => sys.kernel(None, false).map_err(DriverError::from)?,
    };
    let ctx = AddCtx {
        cfg,
        sys,
        peer,
        host_name,
        mac,
    };
    let mut txn = Txn::default();
    match build(&ctx, kernel.as_mut(), &mut txn, addresses, routes) {
        Ok(built) => Ok(built),
        // Nothing recorded: the live endpoint stays as it is.
        Err(e @ CreateError::AttachmentExists(_)) => Err(e),
        Err(CreateError::Failed(err)) => {
            let failures = txn.rollback(kernel.as_mut(), sys);
            Err(CreateError::Failed(err.with_rollback_failures(&failures)))
        }
    }
}

fn build(
    ctx: &AddCtx<'_>,
    kernel: &mut dyn Kernel,
    txn: &mut Txn,
    mut addresses: Vec<InterfaceAddress>,
    mut routes: Vec<StaticRoute>,
) -> Result<Built, CreateError> {
    let cfg = ctx.cfg;
    let sys = ctx.sys;
    let bridge_addrs = calc_gateways(cfg, &mut addresses, &mut routes);

    // Build the endpoint: bridge, veth pair, port, container interface.
    let bridge = kernel
        .ensure_bridge(&BridgeSpec {
            name: cfg.bridge.clone(),
            mtu: cfg.mtu,
            mac: derived_mac(&cfg.bridge),
            vlan_filtering: cfg.vlan_filtering(),
            promisc: cfg.promisc,
        })
        .map_err(|e| kernel_error("failed to set up bridge", &e))?;

    let addrs: Vec<IpNet> = addresses.iter().map(|a| a.address).collect();
    let ipv6 = container_ipv6(cfg, &addrs);
    let veth = VethSpec {
        host_name: ctx.host_name.clone(),
        container_name: match &ctx.peer {
            Peer::InSandbox(p) => p.ifname.clone(),
            Peer::InHost(name) => name.clone(),
        },
        mtu: cfg.mtu,
        container_mac: ctx.mac,
        host_alias: Some(owner_alias(&cfg.network)),
        master: Some(cfg.bridge.clone()),
        container_ipv6: ipv6,
    };
    let create = |kernel: &mut dyn Kernel| match &ctx.peer {
        Peer::InSandbox(_) => kernel.create_veth(&veth),
        Peer::InHost(_) => kernel.create_host_veth(&veth),
    };
    let created = create(kernel);
    let exists = matches!(&created, Err(e) if e.errno == Some(libc::EEXIST));
    if let (true, Peer::InSandbox(p)) = (exists, &ctx.peer) {
        let existing = kernel
            .container_link(&p.ifname)
            .map_err(|e| kernel_error("look up container interface", &e))?;
        if let Some(c) = existing {
            // Not ours to undo: the interface (and its host end) may be live.
            let msg = format!("container interface {:?} already exists", p.ifname);
            let own = kernel
                .host_link(&ctx.host_name)
                .map_err(|e| kernel_error("look up host veth", &e))?
                .is_some_and(|h| h.peer_index == Some(c.index));
            if own {
                return Err(CreateError::AttachmentExists(DriverError::new(
                    cnm_model::ErrorKind::AlreadyExists,
                    msg,
                    format!(
                        "{:?} in {} is this attachment's own (host veth {:?}): a repeated ADD",
                        p.ifname, p.key, ctx.host_name
                    ),
                )));
            }
            return Err(DriverError::new(
                cnm_model::ErrorKind::Kernel,
                msg,
                format!("an interface named {:?} is already in {}", p.ifname, p.key),
            )
            .into());
        }
    }
    // Deleting by our derived name is idempotent, so the undo covers a pair
    // created by a call that then failed too.
    txn.record(Undo::DeleteHostLink(ctx.host_name.clone()));
    let (_, container) = match created {
        Ok(pair) => pair,
        Err(_) if exists => {
            // The name is ours for this attachment: a leftover from an ADD
            // that crashed before its DEL. Replace it once.
            kernel
                .delete_host_link(&ctx.host_name)
                .map_err(|e| kernel_error("failed to remove stale host veth", &e))?;
            create(kernel).map_err(|e| kernel_error("failed to create veth pair", &e))?
        }
        Err(e) => return Err(kernel_error("failed to create veth pair", &e).into()),
    };
    sys.fault_point("after-veth");

    let host = kernel
        .attach_port(&PortSpec {
            port: ctx.host_name.clone(),
            bridge: cfg.bridge.clone(),
            hairpin: cfg.hairpin,
            isolated: cfg.port_isolation,
            vlans: port_vlans(cfg),
            remove_default_vlan: cfg.vlan_filtering() && !cfg.preserve_default_vlan,
        })
        .map_err(|e| kernel_error("failed to attach host veth to bridge", &e))?;
    sys.fault_point("after-port");

    if let Peer::InSandbox(p) = &ctx.peer {
        // The one interface configurator (the sandbox's slow path uses it too).
        let gateways: Vec<IpAddr> = addresses.iter().filter_map(|a| a.gateway).collect();
        let route_states: Vec<RouteState> = routes
            .iter()
            .map(cnm_kernel::sandboxes::route_state)
            .collect();
        configure_interface(
            kernel,
            &InterfaceConfig {
                name: &p.ifname,
                addrs: &addrs,
                dad: cfg.enable_dad,
                ipv6,
                up: !cfg.disable_container_interface,
                routes: &route_states,
                gateways: &gateways,
            },
            sys,
        )
        .map_err(|e| match e.step {
            ConfigureStep::Addresses => {
                kernel_error("failed to configure container interface", &e.error)
            }
            ConfigureStep::Routes => kernel_error("failed to add container routes", &e.error),
        })?;
    }

    // Program the host: gateway addresses, forwarding, masquerade.
    let gateway_link = program_gateway(cfg, kernel, &bridge_addrs)?;
    sys.fault_point("after-host");
    if cfg.ip_masq || cfg.mac_spoof_check {
        let mut firewall = sys.firewall();
        if cfg.ip_masq && !addresses.is_empty() {
            let subnets = addresses.iter().map(|a| a.address.trunc()).collect();
            firewall
                .ensure_masquerade(&MasqSpec {
                    network: cfg.network.clone(),
                    bridge: cfg.bridge.clone(),
                    subnets,
                })
                .map_err(|e| kernel_error("failed to set up IP masquerade", &e))?;
        }
        if cfg.mac_spoof_check {
            txn.record(Undo::RemoveSpoofCheck(ctx.host_name.clone()));
            firewall
                .ensure_mac_spoof_check(&ctx.host_name, &container.mac)
                .map_err(|e| kernel_error("failed to set up MAC spoof check", &e))?;
        }
    }
    sys.fault_point("after-firewall");

    // Report. The bridge's MAC is fixed (set at creation) and the host port's
    // state was read after it joined the bridge, so no re-read is needed.
    let container_link = match &ctx.peer {
        Peer::InSandbox(p) => EndpointLink {
            sandbox: Some(p.key.clone()),
            name: p.ifname.clone(),
            ..link_of(&container)
        },
        Peer::InHost(_) => link_of(&container),
    };
    let mut links = vec![link_of(&bridge), link_of(&host), container_link];
    if let Some(link) = gateway_link {
        links.push(link_of(&link));
    }
    Ok(Built {
        addresses,
        routes,
        links,
    })
}

/// A reported link of the host. A MAC the kernel did not report (zero) or
/// that is not a unicast address is left out, as a reply would.
fn link_of(link: &LinkState) -> EndpointLink {
    let mac = link.mac;
    EndpointLink {
        name: link.name.clone(),
        mac: (mac != MacAddr::default() && mac.octets()[0] & 1 == 0).then_some(mac),
        mtu: Some(link.mtu),
        sandbox: None,
    }
}

/// Put the gateway address(es) on the bridge (or on the VLAN gateway
/// interface) and enable forwarding. Returns the VLAN gateway interface.
fn program_gateway(
    cfg: &BridgeConfig,
    kernel: &mut dyn Kernel,
    bridge_addrs: &[IpNet],
) -> Result<Option<LinkState>, DriverError> {
    if !cfg.is_gateway || bridge_addrs.is_empty() {
        return Ok(None);
    }
    let mut helper = None;
    let mut link = cfg.bridge.clone();
    if cfg.vlan != 0 {
        let h = kernel
            .ensure_vlan_gateway(&VlanGatewaySpec {
                bridge: cfg.bridge.clone(),
                vlan: cfg.vlan,
                name: vlan_gateway_name(&cfg.bridge, cfg.vlan),
                peer_name: vlan_gateway_peer_name(&cfg.bridge, cfg.vlan),
                mtu: cfg.mtu,
            })
            .map_err(|e| kernel_error("failed to set up VLAN gateway interface", &e))?;
        link = h.name.clone();
        helper = Some(h);
    }
    for gw in bridge_addrs {
        kernel
            .ensure_host_addr(&link, *gw, cfg.force_address)
            .map_err(|e| kernel_error("failed to set bridge address", &e))?;
        let key = match gw {
            IpNet::V4(_) => "net/ipv4/ip_forward",
            IpNet::V6(_) => "net/ipv6/conf/all/forwarding",
        };
        kernel
            .host_sysctl(key, "1")
            .map_err(|e| kernel_error("failed to enable forwarding", &e))?;
    }
    Ok(helper)
}

/// The reference's `calcGateways`: fill in gateways when the bridge is the
/// gateway, add default routes for `isDefaultGateway`; returns the
/// addresses for the bridge.
pub(super) fn calc_gateways(
    cfg: &BridgeConfig,
    addresses: &mut [InterfaceAddress],
    routes: &mut Vec<StaticRoute>,
) -> Vec<IpNet> {
    let mut bridge_addrs: Vec<IpNet> = Vec::new();
    let mut default_added = [false, false];
    if !cfg.is_gateway {
        return bridge_addrs;
    }
    for a in addresses.iter_mut() {
        let subnet = a.address.trunc();
        if a.gateway.is_none() {
            a.gateway = first_host(&subnet);
        }
        let Some(gw) = a.gateway else { continue };
        let fam = usize::from(gw.is_ipv6());
        if cfg.is_default_gateway && !default_added[fam] {
            let has_default = routes.iter().any(|r| {
                r.destination.prefix_len() == 0
                    && r.destination.addr().is_ipv6() == gw.is_ipv6()
                    && r.next_hop.is_some()
            });
            if !has_default {
                let dst = if gw.is_ipv6() {
                    IpNet::V6(ipnet::Ipv6Net::default())
                } else {
                    IpNet::V4(ipnet::Ipv4Net::default())
                };
                routes.push(StaticRoute::new(dst, Some(gw)));
            }
            default_added[fam] = true;
        }
        if let Ok(addr) = IpNet::new(gw, subnet.prefix_len()) {
            if !bridge_addrs.contains(&addr) {
                bridge_addrs.push(addr);
            }
        }
    }
    bridge_addrs
}

fn first_host(subnet: &IpNet) -> Option<IpAddr> {
    match subnet {
        IpNet::V4(n) => {
            let v = u32::from(n.network()).checked_add(1)?;
            Some(IpAddr::V4(v.into()))
        }
        IpNet::V6(n) => {
            let v = u128::from(n.network()).checked_add(1)?;
            Some(IpAddr::V6(v.into()))
        }
    }
}

/// VLAN entries of the host port.
fn port_vlans(cfg: &BridgeConfig) -> Vec<VlanEntry> {
    let mut vlans = Vec::new();
    if cfg.vlan != 0 {
        vlans.push(VlanEntry {
            vid: cfg.vlan,
            pvid: true,
            untagged: true,
        });
    } else if !cfg.vlan_trunk.is_empty() {
        // Native VLAN 1 for untagged traffic when only a trunk is given.
        vlans.push(VlanEntry {
            vid: 1,
            pvid: true,
            untagged: true,
        });
    }
    for vid in &cfg.vlan_trunk {
        if *vid != cfg.vlan && !(cfg.vlan == 0 && *vid == 1) {
            vlans.push(VlanEntry {
                vid: *vid,
                pvid: false,
                untagged: false,
            });
        }
    }
    vlans
}
