//! The one module that calls the model (`cnm-model`, with the drivers of
//! `cnm-bridge`, `cnm-overlay` and `cnm-ipam` on `cnm-kernel`'s seam).
//! Checked netavark input goes in, model calls come out, and the endpoint
//! the model made comes back as netavark's status block, once each way:
//!
//! | netavark | model |
//! |---|---|
//! | network (options, subnets, internal, IPAM) | a `NetworkRecord`: the bridge (or overlay) driver's options, the subnets as pool data, IPAM bound to host-local by options (one range set per subnet with its gateway and lease range, the store in the network's state directory) or to the overlay's held blocks; `Controller::restore_network` |
//! | `static_ips`, `interface_name`, `static_mac` | `Network::create_endpoint` in the sandbox (the fast path) with the addresses as `requested` (the model reserves them, or allocates) for the owner (container id, interface name), then `Endpoint::join`, `Sandbox::apply` |
//! | port mappings | [`Publisher`] (the driver's `program_external_connectivity` is not there yet, see below) |
//! | teardown | `Endpoint::teardown` (release, leave, delete; every step runs), `Network::delete` after the last attachment |
//! | `dns_enabled`, `container_name`, `aliases` | `Network::with_names` (the record store, `names.rs`), `Endpoint::join_with_names`; the DNS settings it returns as `dns_server_ips` / `dns_search_domains`; teardown unregisters |
//!
//! Port publishing: the bridge driver does not implement
//! `program_external_connectivity` yet (issue 18 item 4), so the ports go
//! through [`Publisher`], one small trait over the same nftables port
//! mapping the `portmap` plugin and the Docker plugin use (table `inet cnm`).

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use ipnet::IpNet;
use serde_json::{json, Map, Value};

use cnm_bridge::BridgeDriver;
use cnm_ipam::HostLocalIpam;
use cnm_kernel::{KernelSandboxes, LinuxSystem, System};
use cnm_model::{
    Controller, EndpointInterface, EndpointNames, EndpointSpec, IpamData, IpamRecord, ModelError,
    NameService, NetworkNames, NetworkOptions, NetworkRecord, OwnerKey, Sandbox, SandboxPlacement,
    StaticRoute,
};
use cnm_overlay::{OverlayConfig, OverlayDriver, HELD_BLOCKS_IPAM, OVERLAY};

pub use cnm_model::MacAddr;

use crate::config::{Attachment, IpamMode, NetworkConfig};
use crate::error::PluginError;
use crate::names::NamesOpener;
use crate::options::DriverKind;
use crate::ports::{PortSpec, Proto};
use crate::registry::{Record, Registry};
use crate::types::{NetAddress, NetInterface, StatusBlock};

/// The bridge driver's registered name.
const BRIDGE: &str = "bridge";
/// host-local's registered name.
const HOST_LOCAL: &str = "host-local";

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

/// The real publisher: our nftables port mapping (`cnm_nft`, table `inet
/// cnm`, as `portmap` and the Docker plugin), in the calling process's
/// network namespace, and `route_localnet` on the bridge through the kernel
/// seam.
pub struct NftPublisher<S: System + 'static> {
    firewall: cnm_nft::Firewall,
    system: Arc<S>,
}

impl<S: System + 'static> NftPublisher<S> {
    /// A publisher on `system`.
    pub fn new(system: Arc<S>) -> Self {
        NftPublisher {
            firewall: cnm_nft::Firewall::new(),
            system,
        }
    }
}

fn nft_owner(o: &PortOwner) -> cnm_nft::Owner {
    cnm_nft::Owner {
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
        let mappings: Vec<cnm_nft::PortMapping> = ports
            .iter()
            .map(|p| cnm_nft::PortMapping {
                host_port: p.host_port,
                container_port: p.container_port,
                protocol: match p.proto {
                    Proto::Tcp => cnm_nft::Protocol::Tcp,
                    Proto::Udp => cnm_nft::Protocol::Udp,
                    Proto::Sctp => cnm_nft::Protocol::Sctp,
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
pub struct Backend {
    controller: Controller,
    registry: Registry,
    publisher: Box<dyn Publisher>,
    /// The name service of `dns_enabled` networks (`names.rs`).
    names: Option<NamesOpener>,
}

/// What a setup on a `dns_enabled` network registers: the container's
/// names, the network's name settings, the service.
type SetupNames = (EndpointNames, NetworkNames, Arc<dyn NameService>);

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
pub fn overlay_info(name: &str, state_dir: Option<&Path>) -> Result<OverlayInfo, PluginError> {
    let st = OverlayConfig::from_options(name, &overlay_options(state_dir))
        .and_then(|c| c.load_state())
        .map_err(|e| PluginError::model(format!("overlay network {name:?}"), e))?;
    Ok(OverlayInfo {
        subnet: st.network.subnet,
        bridge: st.bridge,
    })
}

fn overlay_options(state_dir: Option<&Path>) -> Map<String, Value> {
    let mut o = Map::new();
    if let Some(d) = state_dir {
        o.insert("stateDir".into(), Value::from(d.display().to_string()));
    }
    o
}

/// The owner of an attachment's addresses.
fn owner_of(att: &Attachment) -> OwnerKey {
    OwnerKey {
        container_id: att.container_id.clone(),
        ifname: att.ifname.clone(),
    }
}

impl Backend {
    /// The real backend with its state under `state_dir`.
    pub fn linux(state_dir: &Path) -> Result<Self, PluginError> {
        let system = Arc::new(LinuxSystem::default());
        let publisher = Box::new(NftPublisher::new(Arc::clone(&system)));
        Backend::new(system, Registry::new(state_dir), publisher)
    }

    /// A backend on `system`, with the drivers it serves registered: the
    /// bridge, host-local, the overlay and its held-blocks IPAM.
    pub fn new<S: System + 'static>(
        system: Arc<S>,
        registry: Registry,
        publisher: Box<dyn Publisher>,
    ) -> Result<Self, PluginError> {
        let controller = Controller::new(Arc::new(KernelSandboxes::new(Arc::clone(&system))));
        let register = || -> Result<(), ModelError> {
            controller.register_driver(BRIDGE, Arc::new(BridgeDriver::new(Arc::clone(&system))))?;
            // host-local bound by options: each network names its store.
            controller.register_ipam_driver(HOST_LOCAL, Arc::new(HostLocalIpam::default()))?;
            let overlay = OverlayDriver::new(Arc::clone(&system));
            controller.register_ipam_driver(HELD_BLOCKS_IPAM, Arc::new(overlay.ipam_driver()))?;
            controller.register_driver(OVERLAY, Arc::new(overlay))?;
            Ok(())
        };
        register().map_err(model_err("register the drivers"))?;
        Ok(Backend {
            controller,
            registry,
            publisher,
            names: None,
        })
    }

    /// Serve names on `dns_enabled` networks through the service `open`
    /// gives (the record store: `names::store_opener`).
    pub fn with_names(mut self, open: NamesOpener) -> Self {
        self.names = Some(open);
        self
    }

    fn name_service(&self, serve: bool) -> Result<Arc<dyn NameService>, PluginError> {
        match &self.names {
            Some(open) => open(serve),
            None => Err(PluginError::unsupported(
                "dns_enabled: this plugin has no name service; create the network with --disable-dns",
            )),
        }
    }

    /// A `dns_enabled` network's names, checked before anything is made.
    fn setup_names(
        &self,
        net: &NetworkConfig,
        att: &Attachment,
    ) -> Result<Option<SetupNames>, PluginError> {
        if !net.dns_enabled {
            return Ok(None);
        }
        let names = crate::names::endpoint_names(att)?;
        let settings = crate::names::network_names(net)?;
        Ok(Some((names, settings, self.name_service(true)?)))
    }

    /// The model's controller.
    pub fn controller(&self) -> &Controller {
        &self.controller
    }

    /// The plugin's state.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The model's network record for a checked network: the driver's
    /// options, the subnets as pool data, and the IPAM binding.
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
        let (driver, options, ipam) = match net.options.driver {
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
                let ipam =
                    (net.ipam != IpamMode::None && !net.subnets.is_empty()).then(|| IpamRecord {
                        driver: HOST_LOCAL.to_string(),
                        pools: Vec::new(),
                        options: Some(self.host_local_options(net)),
                    });
                (BRIDGE, o, ipam)
            }
            DriverKind::Overlay => {
                let mut o = overlay_options(net.options.overlay_state_dir.as_deref());
                o.insert("hairpinMode".into(), Value::Bool(true));
                if net.options.mac_spoof_check {
                    o.insert("macspoofchk".into(), Value::Bool(true));
                }
                // The held blocks: read from the same options (stateDir).
                let ipam = (net.ipam != IpamMode::None).then(|| IpamRecord {
                    driver: HELD_BLOCKS_IPAM.to_string(),
                    pools: Vec::new(),
                    options: None,
                });
                (OVERLAY, o, ipam)
            }
        };
        NetworkRecord {
            id: net.id.clone(),
            name: net.name.clone(),
            driver: driver.to_string(),
            options: NetworkOptions(options),
            ipv4,
            ipv6,
            ipam,
        }
    }

    /// host-local bound by options: one range set per subnet (one address
    /// per subnet and container), the subnet's gateway and lease range, the
    /// store in the network's state directory (`<dir>/<network name>/`).
    fn host_local_options(&self, net: &NetworkConfig) -> NetworkOptions {
        let ranges: Vec<Value> = net
            .subnets
            .iter()
            .map(|s| {
                let mut r = Map::new();
                r.insert("subnet".into(), Value::from(s.subnet.to_string()));
                if let Some(g) = s.gateway {
                    r.insert("gateway".into(), Value::from(g.to_string()));
                }
                if let Some((a, b)) = s.lease {
                    r.insert("rangeStart".into(), Value::from(a.to_string()));
                    r.insert("rangeEnd".into(), Value::from(b.to_string()));
                }
                Value::Array(vec![Value::Object(r)])
            })
            .collect();
        let dir = self.registry.network_dir(&net.id);
        let v = json!({
            "cniVersion": "1.0.0",
            "name": net.name,
            "ipam": {"type": HOST_LOCAL, "ranges": ranges, "dataDir": dir.display().to_string()},
        });
        match v {
            Value::Object(m) => NetworkOptions(m),
            _ => NetworkOptions::new(),
        }
    }

    /// The routes of the endpoint: the default routes through the subnet
    /// gateways with the network's metric (bridge; unless internal or
    /// `no_default_route`; the overlay's bridge adds its own), then the
    /// network's static routes.
    fn routes(net: &NetworkConfig) -> Vec<StaticRoute> {
        let gw = |v6: bool| {
            net.subnets
                .iter()
                .filter_map(|s| s.gateway)
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

    /// Set up one attachment: register it, create the endpoint in the
    /// container's namespace (the network's IPAM reserves Podman's static
    /// addresses or allocates), join, publish the ports. Nothing is left
    /// behind on failure.
    pub fn setup(&self, net: &NetworkConfig, att: &Attachment) -> Result<StatusBlock, PluginError> {
        let names = self.setup_names(net, att)?;
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
        match self.setup_registered(net, att, &sandbox, publish, names.as_ref()) {
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
        sandbox: &Sandbox,
        publish: bool,
        names: Option<&SetupNames>,
    ) -> Result<StatusBlock, PluginError> {
        let mut network = self
            .controller
            .restore_network(self.record(net))
            .map_err(model_err("network"))?;
        if let Some((_, settings, service)) = names {
            network = network.with_names(settings.clone(), Arc::clone(service));
        }
        let eid = endpoint_id(&att.container_id, &att.ifname);
        let spec = EndpointSpec {
            interface: EndpointInterface {
                mac: att.mac,
                routes: Self::routes(net),
                addresses: Vec::new(),
            },
            sandbox: Some(SandboxPlacement {
                key: att.netns.clone(),
                ifname: att.ifname.clone(),
                allow_own: false,
            }),
            owner: Some(owner_of(att)),
            requested: att.static_ips.clone(),
            ..Default::default()
        };
        // The model reserves the requested addresses (or allocates) and
        // releases them again when the driver fails.
        let mut endpoint = network
            .create_endpoint(&eid, spec)
            .map_err(|e| address_error(net, att, e))?;
        let undo_endpoint = |endpoint: cnm_model::Endpoint, e: PluginError| {
            let undo = match endpoint.delete() {
                Ok(()) => Vec::new(),
                Err(d) => vec![PluginError::model("delete the interface", d)],
            };
            e.with_rollback(undo)
        };
        // On a network with names they are registered at join (and go
        // again with the endpoint if anything after fails).
        let joined = match names {
            Some((n, _, _)) => endpoint.join_with_names(sandbox, n),
            None => endpoint.join(sandbox),
        };
        if let Err(e) = joined.and_then(|info| sandbox.apply(&eid, &info)) {
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
        let mut block = status_block(net, &att.ifname, &iface);
        if names.is_some() {
            let (servers, search) = crate::names::status_dns(endpoint.dns());
            block.dns_server_ips = Some(servers);
            block.dns_search_domains = Some(search);
        }
        Ok(block)
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
    /// namespace): ports, addresses, the interface. Every error is
    /// collected.
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
                // Its names go with the endpoint (by network + owner: no
                // settings needed).
                let network = match net.dns_enabled.then(|| self.name_service(false)) {
                    Some(Ok(service)) => network.with_names(NetworkNames::default(), service),
                    Some(Err(e)) => {
                        errors.push(e);
                        network
                    }
                    None => network,
                };
                let placement = SandboxPlacement {
                    key: att.netns.clone(),
                    ifname: att.ifname.clone(),
                    allow_own: false,
                };
                let endpoint = network.endpoint_by_id(&eid, Some(placement), Some(owner_of(att)));
                let sandbox = self.controller.sandbox_for_teardown(&att.netns, false);
                // Release, leave, delete: every step runs.
                if let Err(e) = endpoint.teardown(Some(&sandbox)) {
                    errors.push(PluginError::model("tear down the container's interface", e));
                }
            }
            Err(e) => errors.push(PluginError::model("network", e)),
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
                let name = network.name().to_string();
                if let Err(e) = network.delete() {
                    errors.push(PluginError::model(format!("delete network {name:?}"), e));
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

/// A failed endpoint creation, saying which address could not be had.
fn address_error(net: &NetworkConfig, att: &Attachment, e: ModelError) -> PluginError {
    match &e {
        ModelError::Ipam { .. } if !att.static_ips.is_empty() => PluginError::Address(format!(
            "static IP {} of container {} on network {:?} cannot be reserved (in use by another \
             container?): {e}",
            att.static_ips
                .iter()
                .map(|i| i.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            att.container_id,
            net.name
        )),
        ModelError::Ipam { .. } => PluginError::Address(format!(
            "no address for container {} on network {:?}: {e}",
            att.container_id, net.name
        )),
        _ => PluginError::model("create the container's interface", e),
    }
}

fn port_owner(net: &NetworkConfig, att: &Attachment) -> PortOwner {
    PortOwner {
        network: net.name.clone(),
        container_id: att.container_id.clone(),
        ifname: att.ifname.clone(),
    }
}

/// The model's endpoint as netavark's status block. A bridge network's
/// gateways are the subnets' (an internal subnet without one has none,
/// whatever host-local reserved); the overlay's are its blocks'.
pub fn status_block(net: &NetworkConfig, ifname: &str, iface: &EndpointInterface) -> StatusBlock {
    let subnets = iface
        .addresses
        .iter()
        .map(|a| NetAddress {
            gateway: match net.options.driver {
                DriverKind::Bridge => net
                    .subnets
                    .iter()
                    .find(|s| s.subnet.contains(&a.address.addr()))
                    .and_then(|s| s.gateway),
                DriverKind::Overlay => a.gateway,
            },
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
