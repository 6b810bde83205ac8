//! The one module that calls the model (`cnm_core::model` today; after
//! issue 18 `cnm-model` with the `cnm-bridge`, `cnm-overlay` and `cnm-ipam`
//! drivers). Checked netavark input goes in, model calls come out, and the
//! endpoint the model made comes back as netavark's status block, once
//! each way:
//!
//! | netavark | model |
//! |---|---|
//! | network (options, subnets, internal) | `Controller::restore_network` with the bridge (or overlay) driver's options and the subnets as pool data |
//! | `static_ips` / allocation | `IpamDriver::request_address` (host-local in the network's state directory; the overlay's held blocks) for the owner (container id, interface name) |
//! | interface, MAC, routes | `Network::create_endpoint` in the sandbox (the fast path), `Endpoint::join`, `Sandbox::apply` |
//! | port mappings | [`Publisher`] (the driver's `program_external_connectivity` is not there yet, see below) |
//! | teardown | `Endpoint::leave` + `delete`, `IpamDriver::release_address`, `Network::delete` after the last attachment |
//!
//! Port publishing: the bridge driver does not implement
//! `program_external_connectivity` yet (issue 18 adds it), so the ports go
//! through [`Publisher`], one small trait over the same nftables port
//! mapping the `portmap` plugin and the Docker plugin use (table `inet cnm`).

use std::net::IpAddr;
use std::sync::Arc;

use ipnet::IpNet;
use serde_json::{Map, Value};

use cnm_core::host_local_ipam::HostLocalIpam;
use cnm_core::model::{
    AddressRelease, AddressRequest, Controller, EndpointInterface, EndpointSpec, ErrorKind,
    InterfaceAddress, IpamData, IpamDriver, ModelError, Network, NetworkOptions, NetworkRecord,
    OwnerKey, PoolRequest, SandboxPlacement, StaticRoute,
};
use cnm_core::overlay::{OverlayConfig, OverlayDriver};
use cnm_core::system::{LinuxSystem, System};

pub use cnm_core::model::MacAddr;

use crate::config::{Attachment, IpamMode, NetworkConfig};
use crate::error::PluginError;
use crate::options::DriverKind;
use crate::ports::{PortSpec, Proto};
use crate::registry::{Record, Registry};
use crate::types::{NetAddress, NetInterface, StatusBlock};

/// The overlay driver's registered name.
const OVERLAY: &str = "overlay";
/// The bridge driver's registered name.
const BRIDGE: &str = "bridge";
/// host-local's store folder inside a network's state directory.
const IPAM_STORE: &str = "ipam";

/// Whose port mappings: one attachment.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct PortOwner {
    /// The network's name.
    pub network: String,
    /// The container id.
    pub container_id: String,
    /// The interface in the container.
    pub ifname: String,
}

/// Publishes and withdraws an attachment's ports: the one seam until the
/// driver's `program_external_connectivity` exists.
pub trait Publisher: Send + Sync {
    /// Publish `ports` for `owner` (all or nothing); `addrs` are the
    /// container's addresses, `bridge` its bridge (for 127.0.0.1).
    fn publish(
        &self,
        owner: &PortOwner,
        addrs: &[IpNet],
        ports: &[PortSpec],
        bridge: &str,
    ) -> Result<(), PluginError>;
    /// Withdraw the owner's ports (none: success).
    fn unpublish(&self, owner: &PortOwner) -> Result<(), PluginError>;
}

/// The real publisher: our nftables port mapping, in the calling process's
/// network namespace, and `route_localnet` on the bridge through the
/// system's kernel handle.
pub struct NftPublisher<S: System + 'static> {
    firewall: cnm_core::nft::Firewall,
    system: Arc<S>,
}

impl<S: System + 'static> NftPublisher<S> {
    /// A publisher on `system`.
    pub fn new(system: Arc<S>) -> Self {
        NftPublisher {
            firewall: cnm_core::nft::Firewall::new(),
            system,
        }
    }
}

fn nft_owner(o: &PortOwner) -> cnm_core::nft::Owner {
    cnm_core::nft::Owner {
        network: o.network.clone(),
        container_id: o.container_id.clone(),
        ifname: o.ifname.clone(),
    }
}

/// The mappings of the families the container has an address of: a host
/// address of the other family cannot reach it (netavark skips those too).
pub fn reachable_ports(addrs: &[IpNet], ports: &[PortSpec]) -> Vec<PortSpec> {
    let has4 = addrs.iter().any(|a| a.addr().is_ipv4());
    let has6 = addrs.iter().any(|a| a.addr().is_ipv6());
    ports
        .iter()
        .filter(|p| match p.host_ip {
            None => true,
            Some(IpAddr::V4(_)) => has4,
            Some(IpAddr::V6(_)) => has6,
        })
        .copied()
        .collect()
}

impl<S: System + 'static> Publisher for NftPublisher<S> {
    fn publish(
        &self,
        owner: &PortOwner,
        addrs: &[IpNet],
        ports: &[PortSpec],
        bridge: &str,
    ) -> Result<(), PluginError> {
        let ports = reachable_ports(addrs, ports);
        if ports.is_empty() {
            return Ok(());
        }
        let mappings: Vec<cnm_core::nft::PortMapping> = ports
            .iter()
            .map(|p| cnm_core::nft::PortMapping {
                host_port: p.host_port,
                container_port: p.container_port,
                protocol: match p.proto {
                    Proto::Tcp => cnm_core::nft::Protocol::Tcp,
                    Proto::Udp => cnm_core::nft::Protocol::Udp,
                    Proto::Sctp => cnm_core::nft::Protocol::Sctp,
                },
                host_ip: p.host_ip,
            })
            .collect();
        let o = nft_owner(owner);
        self.firewall
            .add_port_mappings(&o, addrs, &mappings, true)
            .map_err(|e| PluginError::model("publish ports", e))?;
        if addrs.iter().any(|a| a.addr().is_ipv4()) {
            // 127.0.0.1:<port> from the host reaches the container.
            let key = format!("net/ipv4/conf/{bridge}/route_localnet");
            let set = self
                .system
                .kernel(None, false)
                .map_err(|e| PluginError::model("publish ports", e))
                .and_then(|mut k| {
                    k.host_sysctl(&key, "1")
                        .map_err(|e| PluginError::model("publish ports", e))
                });
            if let Err(e) = set {
                let undo = self.firewall.remove_port_mappings(&o).err();
                return Err(e.with_rollback(
                    undo.map(|u| PluginError::model("withdraw ports", u))
                        .into_iter()
                        .collect(),
                ));
            }
        }
        Ok(())
    }

    fn unpublish(&self, owner: &PortOwner) -> Result<(), PluginError> {
        self.firewall
            .remove_port_mappings(&nft_owner(owner))
            .map_err(|e| PluginError::model("withdraw ports", e))
    }
}

/// The model, the plugin's state and the port publisher.
pub struct Backend<S: System + 'static = LinuxSystem> {
    controller: Controller<S>,
    registry: Registry,
    publisher: Box<dyn Publisher>,
}

impl Backend<LinuxSystem> {
    /// The real backend with its state under `state_dir`.
    pub fn linux(state_dir: &std::path::Path) -> Result<Self, PluginError> {
        let controller = Controller::new();
        let publisher = Box::new(NftPublisher::new(Arc::clone(controller.system())));
        Backend::new(controller, Registry::new(state_dir), publisher)
    }
}

/// The endpoint id of an attachment: `<container id>/<interface>` (the
/// bridge derives the host veth's name from it, so teardown finds it
/// without the container's namespace).
pub fn endpoint_id(cid: &str, ifname: &str) -> String {
    format!("{cid}/{ifname}")
}

fn model_err(op: &str) -> impl FnOnce(ModelError) -> PluginError + '_ {
    move |e| PluginError::model(op, e)
}

/// The overlay network's state this host's node agent wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverlayInfo {
    /// The cluster subnet.
    pub subnet: IpNet,
    /// The bridge on this host.
    pub bridge: String,
}

/// Read the node agent's state of overlay network `name`.
pub fn overlay_info(
    name: &str,
    state_dir: Option<&std::path::Path>,
) -> Result<OverlayInfo, PluginError> {
    let st = overlay_config(name, state_dir)?
        .load_state()
        .map_err(|e| PluginError::model(format!("overlay network {name:?}"), e))?;
    Ok(OverlayInfo {
        subnet: st.network.subnet,
        bridge: st.bridge,
    })
}

fn overlay_options(state_dir: Option<&std::path::Path>) -> Map<String, Value> {
    let mut o = Map::new();
    if let Some(d) = state_dir {
        o.insert("stateDir".into(), Value::from(d.display().to_string()));
    }
    o
}

fn overlay_config(
    name: &str,
    state_dir: Option<&std::path::Path>,
) -> Result<OverlayConfig, PluginError> {
    OverlayConfig::from_options(name, &overlay_options(state_dir))
        .map_err(|e| PluginError::model(format!("overlay network {name:?}"), e))
}

/// A subnet (or overlay block) with its gateway.
type SubnetGw = (IpNet, Option<IpAddr>);

/// What one attachment's IPAM is: the driver and its pools.
struct Pools {
    ipam: Arc<dyn IpamDriver>,
    /// (pool id, subnet, gateway) in the network's order.
    pools: Vec<(String, IpNet, Option<IpAddr>)>,
}

impl<S: System + 'static> Backend<S> {
    /// A backend over `controller`; the overlay driver is registered here
    /// (the bridge is built in).
    pub fn new(
        controller: Controller<S>,
        registry: Registry,
        publisher: Box<dyn Publisher>,
    ) -> Result<Self, PluginError> {
        if controller.driver(OVERLAY).is_err() {
            let overlay = OverlayDriver::new(Arc::clone(controller.system()));
            controller
                .register_driver(OVERLAY, Arc::new(overlay))
                .map_err(model_err("register the overlay driver"))?;
        }
        Ok(Backend {
            controller,
            registry,
            publisher,
        })
    }

    /// The plugin's state.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The model's network record for a checked network.
    fn record(&self, net: &NetworkConfig) -> NetworkRecord {
        let mut ipv4 = Vec::new();
        let mut ipv6 = Vec::new();
        for s in &net.subnets {
            let data = IpamData {
                address_space: String::new(),
                pool: s.subnet,
                gateway: s
                    .gateway
                    .and_then(|g| IpNet::new(g, s.subnet.prefix_len()).ok()),
                aux_addresses: Default::default(),
            };
            if s.subnet.addr().is_ipv4() {
                ipv4.push(data);
            } else {
                ipv6.push(data);
            }
        }
        let (driver, options) = match net.options.driver {
            DriverKind::Bridge => {
                let mut o = Map::new();
                o.insert(
                    "bridge".into(),
                    Value::from(net.bridge.clone().unwrap_or_default()),
                );
                o.insert(
                    "isGateway".into(),
                    Value::Bool(net.subnets.iter().any(|s| s.gateway.is_some())),
                );
                // Default routes come with the endpoint (with netavark's metric).
                o.insert("isDefaultGateway".into(), Value::Bool(false));
                o.insert(
                    "ipMasq".into(),
                    Value::Bool(!net.internal && !net.subnets.is_empty()),
                );
                // Podman's CNI configs had it: a container reaches itself
                // through its own published port.
                o.insert("hairpinMode".into(), Value::Bool(true));
                if let Some(mtu) = net.options.mtu {
                    o.insert("mtu".into(), Value::from(mtu));
                }
                if net.options.vlan != 0 {
                    o.insert("vlan".into(), Value::from(net.options.vlan));
                }
                if net.options.mac_spoof_check {
                    o.insert("macspoofchk".into(), Value::Bool(true));
                }
                (BRIDGE, o)
            }
            DriverKind::Overlay => {
                let mut o = overlay_options(net.options.overlay_state_dir.as_deref());
                o.insert("hairpinMode".into(), Value::Bool(true));
                if net.options.mac_spoof_check {
                    o.insert("macspoofchk".into(), Value::Bool(true));
                }
                (OVERLAY, o)
            }
        };
        NetworkRecord {
            id: net.id.clone(),
            name: net.name.clone(),
            driver: driver.to_string(),
            options: NetworkOptions(options),
            ipv4,
            ipv6,
            ipam: None,
        }
    }

    /// The IPAM driver and pools of a network (none for IPAM `none`).
    fn pools(&self, net: &NetworkConfig) -> Result<Option<Pools>, PluginError> {
        let (ipam, subnets, store): (Arc<dyn IpamDriver>, Vec<SubnetGw>, String) =
            match (net.options.driver, net.ipam) {
                (_, IpamMode::None) => return Ok(None),
                (DriverKind::Bridge, _) => (
                    Arc::new(HostLocalIpam::new(self.registry.network_dir(&net.id))),
                    net.subnets.iter().map(|s| (s.subnet, s.gateway)).collect(),
                    IPAM_STORE.to_string(),
                ),
                (DriverKind::Overlay, _) => {
                    // The blocks this host holds, in the node agent's store
                    // (shared with simpleoverlay: same format, same lock).
                    let st = overlay_config(&net.name, net.options.overlay_state_dir.as_deref())?
                        .load_state()
                        .map_err(|e| {
                            PluginError::model(format!("overlay network {:?}", net.name), e)
                        })?;
                    let blocks = st
                        .blocks
                        .iter()
                        .map(|b| (*b, crate::config::first_host(b)))
                        .collect();
                    (
                        Arc::new(HostLocalIpam::new(st.data_dir.clone())),
                        blocks,
                        st.network.name.clone(),
                    )
                }
            };
        let mut pools = Vec::with_capacity(subnets.len());
        for (subnet, gateway) in subnets {
            let pool = ipam
                .request_pool(&PoolRequest {
                    pool: Some(subnet),
                    options: [("name".to_string(), store.clone())].into(),
                    ..Default::default()
                })
                .map_err(|e| PluginError::model(format!("IPAM pool {subnet}"), e))?;
            pools.push((pool.id, subnet, gateway));
        }
        Ok(Some(Pools { ipam, pools }))
    }

    /// Reserve the attachment's addresses: Podman's static ones as given,
    /// one allocated for each other subnet (bridge), or one in the first
    /// held block with room (overlay). A failure releases what this call
    /// reserved.
    fn reserve(
        &self,
        net: &NetworkConfig,
        att: &Attachment,
        pools: &Pools,
    ) -> Result<Vec<InterfaceAddress>, PluginError> {
        let owner = OwnerKey {
            container_id: att.container_id.clone(),
            ifname: att.ifname.clone(),
        };
        let mut got: Vec<InterfaceAddress> = Vec::new();
        let mut taken: Vec<String> = Vec::new();
        let fail = |taken: &[String], e: PluginError| -> PluginError {
            let undo: Vec<PluginError> = taken
                .iter()
                .filter_map(|pool_id| {
                    pools
                        .ipam
                        .release_address(&AddressRelease {
                            pool_id: pool_id.clone(),
                            address: None,
                            owner: owner.clone(),
                        })
                        .err()
                        .map(|e| PluginError::model("release address", e))
                })
                .collect();
            e.with_rollback(undo)
        };
        if net.options.driver == DriverKind::Overlay {
            let mut last = None;
            for (pool_id, _, gateway) in &pools.pools {
                match pools.ipam.request_address(&AddressRequest {
                    pool_id: pool_id.clone(),
                    owner: owner.clone(),
                    ..Default::default()
                }) {
                    Ok(a) => {
                        return Ok(vec![InterfaceAddress {
                            address: a.address,
                            gateway: *gateway,
                        }])
                    }
                    Err(e) if e.kind == ErrorKind::Ipam || e.kind == ErrorKind::Internal => {
                        last = Some(e)
                    }
                    Err(e) => return Err(PluginError::model("allocate an address", e)),
                }
            }
            return Err(PluginError::Address(format!(
                "no free address in the {} block(s) of overlay network {:?} this host holds: the \
                 node agent (cnmd) claims another block from etcd before they run out; it has \
                 not (is etcd reachable? is the agent running?){}",
                pools.pools.len(),
                net.name,
                last.map(|e| format!(" ({e})")).unwrap_or_default()
            )));
        }
        for (i, (pool_id, subnet, gateway)) in pools.pools.iter().enumerate() {
            let wanted = att
                .static_ips
                .iter()
                .find(|ip| subnet.contains(*ip))
                .copied();
            if wanted.is_none() && net.subnets.get(i).is_some_and(|s| s.lease.is_some()) {
                return Err(fail(
                    &taken,
                    PluginError::unsupported(format!(
                        "subnet {subnet} has a lease_range and no static IP was given: the \
                         cnm driver allocates from the whole subnet only; Podman's allocator \
                         honours lease ranges (it passes static_ips)"
                    )),
                ));
            }
            match pools.ipam.request_address(&AddressRequest {
                pool_id: pool_id.clone(),
                preferred: wanted,
                owner: owner.clone(),
                ..Default::default()
            }) {
                Ok(a) => {
                    taken.push(pool_id.clone());
                    got.push(InterfaceAddress {
                        address: a.address,
                        gateway: *gateway,
                    });
                }
                Err(e) => {
                    let err = match wanted {
                        Some(ip) => PluginError::Address(format!(
                            "static IP {ip} of container {} on network {:?} cannot be reserved \
                             (in use by another container?): {e}",
                            att.container_id, net.name
                        )),
                        None => PluginError::Address(format!(
                            "no address for container {} in subnet {subnet} of network {:?}: {e}",
                            att.container_id, net.name
                        )),
                    };
                    return Err(fail(&taken, err));
                }
            }
        }
        Ok(got)
    }

    /// Release every address of the attachment, one error per pool.
    fn release(&self, att: &Attachment, pools: &Pools) -> Vec<PluginError> {
        let owner = OwnerKey {
            container_id: att.container_id.clone(),
            ifname: att.ifname.clone(),
        };
        pools
            .pools
            .iter()
            .filter_map(|(pool_id, subnet, _)| {
                pools
                    .ipam
                    .release_address(&AddressRelease {
                        pool_id: pool_id.clone(),
                        address: None,
                        owner: owner.clone(),
                    })
                    .err()
                    .map(|e| PluginError::model(format!("release the address in {subnet}"), e))
            })
            .collect()
    }

    /// The routes of the endpoint: the default routes through the subnet
    /// gateways with the network's metric (unless internal or
    /// `no_default_route`), then the network's static routes.
    fn routes(net: &NetworkConfig, addrs: &[InterfaceAddress]) -> Vec<StaticRoute> {
        let gw = |v6: bool| {
            addrs
                .iter()
                .filter_map(|a| a.gateway)
                .find(|g| g.is_ipv6() == v6)
        };
        let mut routes = Vec::new();
        if !net.internal
            && !net.options.no_default_route
            && net.options.driver == DriverKind::Bridge
        {
            for v6 in [false, true] {
                if let Some(g) = gw(v6) {
                    let dst = if v6 {
                        IpNet::V6(ipnet::Ipv6Net::default())
                    } else {
                        IpNet::V4(ipnet::Ipv4Net::default())
                    };
                    let mut r = StaticRoute::new(dst, Some(g));
                    r.priority = Some(net.options.metric);
                    routes.push(r);
                }
            }
        }
        for r in &net.routes {
            let mut s = StaticRoute::new(
                r.destination,
                r.gateway.or_else(|| gw(r.destination.addr().is_ipv6())),
            );
            s.priority = r.metric;
            routes.push(s);
        }
        routes
    }

    /// Set up one attachment: register it, reserve its addresses, create
    /// the endpoint in the container's namespace, join, publish the ports.
    /// Nothing is left behind on failure.
    pub fn setup(&self, net: &NetworkConfig, att: &Attachment) -> Result<StatusBlock, PluginError> {
        let sandbox = self
            .controller
            .open_sandbox(&att.netns, false)
            .map_err(|e| PluginError::invalid(format!("network namespace: {e}")))?;
        // Register first (under the network's lock), so a concurrent
        // teardown of the network's last other container keeps the bridge.
        let publish = {
            let _lock = self.registry.lock(&net.id)?;
            if let Some(old) = self.registry.get(&net.id, &att.container_id, &att.ifname)? {
                if old.netns == att.netns {
                    return Err(PluginError::invalid(format!(
                        "container {} already has interface {} on network {:?}: tear it down first",
                        att.container_id, att.ifname, net.name
                    )));
                }
                // Left over from a run whose teardown never came (its
                // namespace is another one): clean it up first.
                let stale = Attachment {
                    netns: old.netns.clone(),
                    ..att.clone()
                };
                let errors = self.teardown_attachment(net, &stale, old.ports);
                PluginError::from_list(errors).map_err(|e| {
                    PluginError::model(
                        format!(
                            "remove the stale attachment of container {} ({})",
                            att.container_id, old.netns
                        ),
                        e,
                    )
                })?;
            }
            let publish = !net.internal
                && !att.ports.is_empty()
                && !self
                    .registry
                    .ports_published_elsewhere(&net.id, &att.container_id)?;
            self.registry.put(
                &net.id,
                &Record {
                    container_id: att.container_id.clone(),
                    ifname: att.ifname.clone(),
                    netns: att.netns.clone(),
                    ports: publish,
                },
            )?;
            publish
        };
        match self.setup_registered(net, att, &sandbox, publish) {
            Ok(block) => Ok(block),
            Err(e) => {
                let undo = self.unregister(net, att);
                Err(e.with_rollback(undo))
            }
        }
    }

    fn setup_registered(
        &self,
        net: &NetworkConfig,
        att: &Attachment,
        sandbox: &cnm_core::model::Sandbox<S>,
        publish: bool,
    ) -> Result<StatusBlock, PluginError> {
        let network = self
            .controller
            .restore_network(self.record(net))
            .map_err(model_err("network"))?;
        let pools = self.pools(net)?;
        let addresses = match &pools {
            Some(p) => self.reserve(net, att, p)?,
            None => Vec::new(),
        };
        let release = |e: PluginError| match &pools {
            Some(p) => e.with_rollback(self.release(att, p)),
            None => e,
        };
        let eid = endpoint_id(&att.container_id, &att.ifname);
        let spec = EndpointSpec {
            interface: EndpointInterface {
                mac: att.mac,
                routes: Self::routes(net, &addresses),
                addresses,
            },
            sandbox: Some(SandboxPlacement {
                key: att.netns.clone(),
                ifname: att.ifname.clone(),
                allow_own: false,
            }),
            owner: Some(OwnerKey {
                container_id: att.container_id.clone(),
                ifname: att.ifname.clone(),
            }),
            ..Default::default()
        };
        let mut endpoint = network
            .create_endpoint(&eid, spec)
            .map_err(|e| release(PluginError::model("create the container's interface", e)))?;
        let undo_endpoint = |endpoint: cnm_core::model::Endpoint, e: PluginError| {
            let mut undo = Vec::new();
            if let Err(d) = endpoint.delete() {
                undo.push(PluginError::model("delete the interface", d));
            }
            release(e.with_rollback(undo))
        };
        if let Err(e) = endpoint
            .join(sandbox)
            .and_then(|info| sandbox.apply(&eid, &info))
        {
            return Err(undo_endpoint(endpoint, PluginError::model("join", e)));
        }
        let iface = endpoint.interface().clone();
        if publish {
            let addrs: Vec<IpNet> = iface.addresses.iter().map(|a| a.address).collect();
            let bridge = self.bridge_of(net)?;
            if let Err(e) =
                self.publisher
                    .publish(&port_owner(net, att), &addrs, &att.ports, &bridge)
            {
                return Err(undo_endpoint(endpoint, e));
            }
        }
        Ok(status_block(&att.ifname, &iface))
    }

    /// The network's bridge (the node agent's for the overlay).
    fn bridge_of(&self, net: &NetworkConfig) -> Result<String, PluginError> {
        match (&net.bridge, net.options.driver) {
            (Some(b), DriverKind::Bridge) => Ok(b.clone()),
            _ => {
                overlay_info(&net.name, net.options.overlay_state_dir.as_deref()).map(|i| i.bridge)
            }
        }
    }

    /// Undo everything of one attachment (idempotent; works without the
    /// namespace). Every error is collected.
    fn teardown_attachment(
        &self,
        net: &NetworkConfig,
        att: &Attachment,
        published: bool,
    ) -> Vec<PluginError> {
        let mut errors = Vec::new();
        if published {
            if let Err(e) = self.publisher.unpublish(&port_owner(net, att)) {
                errors.push(e);
            }
        }
        let eid = endpoint_id(&att.container_id, &att.ifname);
        match self.controller.attach_network(self.record(net)) {
            Ok(network) => {
                let placement = SandboxPlacement {
                    key: att.netns.clone(),
                    ifname: att.ifname.clone(),
                    allow_own: false,
                };
                let mut endpoint = network.endpoint_by_id(&eid, Some(placement));
                let sandbox = self.controller.sandbox_for_teardown(&att.netns, false);
                if let Err(e) = endpoint.leave(&sandbox) {
                    errors.push(PluginError::model("leave", e));
                }
                if let Err(e) = endpoint.delete() {
                    errors.push(PluginError::model("delete the container's interface", e));
                }
            }
            Err(e) => errors.push(PluginError::model("network", e)),
        }
        match self.pools(net) {
            Ok(Some(p)) => errors.extend(self.release(att, &p)),
            Ok(None) => {}
            Err(e) => errors.push(e),
        }
        errors
    }

    /// Remove the attachment's record; after the network's last one, delete
    /// the network (bridge, masquerade) and its state.
    fn unregister(&self, net: &NetworkConfig, att: &Attachment) -> Vec<PluginError> {
        let mut errors = Vec::new();
        let lock = match self.registry.lock(&net.id) {
            Ok(l) => l,
            Err(e) => return vec![e],
        };
        if let Err(e) = self
            .registry
            .remove(&net.id, &att.container_id, &att.ifname)
        {
            errors.push(e);
            return errors;
        }
        match self.registry.is_empty(&net.id) {
            Ok(true) => {}
            Ok(false) => return errors,
            Err(e) => {
                errors.push(e);
                return errors;
            }
        }
        // restore (not attach): the driver must know the network to delete it.
        match self.controller.restore_network(self.record(net)) {
            Ok(network) => {
                if let Err(e) = delete_network(network) {
                    errors.push(e);
                }
            }
            Err(e) => errors.push(PluginError::model("network", e)),
        }
        if let Err(e) = self.registry.remove_network(&net.id) {
            errors.push(e);
        }
        if let Err(e) = lock.remove() {
            errors.push(e);
        }
        errors
    }

    /// Tear down one attachment: ports, interface, addresses, then the
    /// network when it was the last. Idempotent; every error is reported.
    pub fn teardown(&self, net: &NetworkConfig, att: &Attachment) -> Result<(), PluginError> {
        let mut errors = Vec::new();
        let published = match self.registry.get(&net.id, &att.container_id, &att.ifname) {
            Ok(Some(rec)) => rec.ports,
            // Unknown: withdraw whatever the owner may hold.
            Ok(None) => !att.ports.is_empty(),
            Err(e) => {
                errors.push(e);
                true
            }
        };
        errors.extend(self.teardown_attachment(net, att, published));
        errors.extend(self.unregister(net, att));
        PluginError::from_list(errors)
    }
}

/// Delete a network whose last attachment is gone.
fn delete_network(network: Network) -> Result<(), PluginError> {
    let name = network.name().to_string();
    network
        .delete()
        .map_err(|e| PluginError::model(format!("delete network {name:?}"), e))
}

fn port_owner(net: &NetworkConfig, att: &Attachment) -> PortOwner {
    PortOwner {
        network: net.name.clone(),
        container_id: att.container_id.clone(),
        ifname: att.ifname.clone(),
    }
}

/// The model's endpoint as netavark's status block.
pub fn status_block(ifname: &str, iface: &EndpointInterface) -> StatusBlock {
    let subnets = iface
        .addresses
        .iter()
        .map(|a| NetAddress {
            gateway: a.gateway,
            ipnet: a.address,
        })
        .collect();
    let iface_block = NetInterface {
        mac_address: iface.mac.map(|m| m.to_string()).unwrap_or_default(),
        subnets: Some(subnets),
    };
    StatusBlock {
        dns_search_domains: Some(Vec::new()),
        dns_server_ips: Some(Vec::new()),
        interfaces: Some([(ifname.to_string(), iface_block)].into()),
    }
}

#[cfg(test)]
mod tests;
