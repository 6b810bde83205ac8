//! [`BridgeDriver`]: the bridge as a [`NetworkDriver`]. Networks are kept in
//! memory (validated options); endpoints created in this process are
//! remembered until deleted, and everything a later process needs (DEL, GC)
//! is derived from the ids and the kernel, so one-shot front-ends work.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, RwLock};

use cnm_kernel::kernel_failure;
use cnm_model::{
    Capabilities, CheckRequest, CreateEndpoint, CreateNetwork, CreatedEndpoint, DataScope,
    DriverError, EndpointInterface, EndpointOperInfo, EndpointRef, GcRequest, InterfaceAddress,
    IpamData, JoinInfo, JoinInterface, JoinRequest, NetworkDriver, Placement, SandboxPlacement,
};
use ipnet::IpNet;

use super::add::{self, Peer};
use super::config::{BridgeConfig, TeardownConfig};
use super::names::sandbox_peer_name_for_endpoint;
use cnm_kernel::System;

use super::{check, del, gc};

/// The sandbox interface name prefix when the caller places the interface.
const DST_PREFIX: &str = "eth";

/// A network as the driver keeps it.
#[derive(Debug)]
struct NetState {
    cfg: BridgeConfig,
    ipv4: Vec<IpamData>,
    ipv6: Vec<IpamData>,
}

/// An endpoint created in this process.
#[derive(Debug, Clone)]
struct EpState {
    created: CreatedEndpoint,
    join: JoinInfo,
    sandbox_key: Option<String>,
}

/// The bridge driver over a [`System`] (the Linux one, or the fake in tests).
pub struct BridgeDriver<S: System + 'static> {
    system: Arc<S>,
    networks: RwLock<HashMap<String, Arc<NetState>>>,
    endpoints: Mutex<HashMap<(String, String), EpState>>,
}

impl<S: System + 'static> BridgeDriver<S> {
    /// A driver on `system`.
    pub fn new(system: Arc<S>) -> Self {
        BridgeDriver {
            system,
            networks: RwLock::new(HashMap::new()),
            endpoints: Mutex::new(HashMap::new()),
        }
    }

    /// The system the driver runs on.
    pub fn system(&self) -> &Arc<S> {
        &self.system
    }

    fn network(&self, id: &str) -> Result<Arc<NetState>, DriverError> {
        self.networks
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()
            .ok_or_else(|| DriverError::not_found("unknown network", format!("network {id:?}")))
    }

    fn endpoints(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), EpState>> {
        self.endpoints.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The gateway of the pool that holds `addr`, if the network has one.
fn pool_gateway(pools: &[IpamData], addr: &IpNet) -> Option<IpAddr> {
    pools
        .iter()
        .find(|p| p.pool.contains(&addr.addr()))
        .and_then(|p| p.gateway)
        .map(|g| g.addr())
}

/// The join info of an endpoint from what creation built.
fn join_info(
    cfg: &BridgeConfig,
    created: &CreatedEndpoint,
    placed: Placement,
    dst_name: Option<String>,
) -> JoinInfo {
    let container = created.links.iter().find(|l| {
        l.sandbox.is_some()
            || matches!(&placed, Placement::Host { src_name } if *src_name == l.name)
    });
    let in_sandbox = created.in_sandbox;
    let gw = |v6: bool| {
        created
            .interface
            .addresses
            .iter()
            .filter_map(|a| a.gateway)
            .find(|g| g.is_ipv6() == v6)
    };
    // In the fast path the routes are installed already and reported as
    // they are; otherwise the bridge, when it is the gateway, is the default
    // route (libnetwork's semantics) and the rest are static routes.
    let (gateway, gateway6, static_routes) = if in_sandbox || !cfg.is_gateway {
        (None, None, created.interface.routes.clone())
    } else {
        let rest = created
            .interface
            .routes
            .iter()
            .filter(|r| !(r.destination.prefix_len() == 0 && r.next_hop.is_some()))
            .cloned()
            .collect();
        (gw(false), gw(true), rest)
    };
    JoinInfo {
        interfaces: vec![JoinInterface {
            placement: placed,
            dst_name,
            dst_prefix: DST_PREFIX.to_string(),
            addresses: created.interface.addresses.clone(),
            mac: container.and_then(|l| l.mac),
            mtu: container.and_then(|l| l.mtu),
            dad: cfg.enable_dad,
            ipv6_link_local: cfg.ipv6_link_local,
        }],
        gateway: if in_sandbox {
            gw(false).filter(|_| cfg.is_default_gateway)
        } else {
            gateway
        },
        gateway6: if in_sandbox {
            gw(true).filter(|_| cfg.is_default_gateway)
        } else {
            gateway6
        },
        static_routes,
        configured_in_sandbox: in_sandbox,
    }
}

impl<S: System + 'static> NetworkDriver for BridgeDriver<S> {
    fn name(&self) -> &str {
        "bridge"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            data_scope: DataScope::Local,
            connectivity_scope: DataScope::Local,
            creates_in_sandbox: true,
        }
    }

    fn create_network(&self, req: &CreateNetwork) -> Result<(), DriverError> {
        let name = if req.name.is_empty() {
            &req.id
        } else {
            &req.name
        };
        let cfg = BridgeConfig::from_options(name, &req.options.0)?;
        let state = Arc::new(NetState {
            cfg,
            ipv4: req.ipv4.clone(),
            ipv6: req.ipv6.clone(),
        });
        self.networks
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(req.id.clone(), state);
        Ok(())
    }

    /// Removes the network's masquerade rule and, when no port is left on
    /// it, the bridge.
    fn delete_network(&self, network_id: &str) -> Result<(), DriverError> {
        let Some(net) = self
            .networks
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(network_id)
        else {
            return Ok(());
        };
        let cfg = &net.cfg;
        self.system
            .firewall()
            .remove_masquerade(&cfg.network)
            .map_err(|e| kernel_failure("failed to remove IP masquerade", e))?;
        let mut kernel = self.system.kernel(None, false)?;
        let ports = kernel
            .bridge_ports(&cfg.bridge)
            .map_err(|e| kernel_failure("failed to list bridge ports", e))?;
        if ports.is_empty() {
            kernel
                .delete_host_link(&cfg.bridge)
                .map_err(|e| kernel_failure("failed to delete bridge", e))?;
        }
        Ok(())
    }

    fn create_endpoint(&self, req: &CreateEndpoint) -> Result<CreatedEndpoint, DriverError> {
        let net = self.network(&req.network_id)?;
        let cfg = &net.cfg;
        if req.endpoint_id.is_empty() {
            return Err(DriverError::invalid_argument(
                "invalid endpoint id",
                "empty",
            ));
        }
        if cfg.disable_container_interface && !req.interface.addresses.is_empty() {
            return Err(DriverError::invalid_config(
                "cannot use IPAM when disableContainerInterface flag is set",
                "the endpoint has addresses",
            ));
        }
        let pools: Vec<IpamData> = net.ipv4.iter().chain(&net.ipv6).cloned().collect();
        let addresses: Vec<InterfaceAddress> = req
            .interface
            .addresses
            .iter()
            .map(|a| InterfaceAddress {
                address: a.address,
                gateway: a.gateway.or_else(|| pool_gateway(&pools, &a.address)),
            })
            .collect();
        let peer_name = sandbox_peer_name_for_endpoint(&req.endpoint_id);
        let peer = match &req.sandbox {
            Some(p) => Peer::InSandbox(p),
            None => Peer::InHost(peer_name.clone()),
        };
        let built = add::create(
            self.system.as_ref(),
            cfg,
            &req.endpoint_id,
            req.interface.mac,
            peer,
            addresses,
            req.interface.routes.clone(),
        )
        .map_err(|e| match e {
            add::CreateError::AttachmentExists(e) | add::CreateError::Failed(e) => e,
        })?;
        let container_mac = built.links.get(2).and_then(|l| l.mac);
        let created = CreatedEndpoint {
            interface: EndpointInterface {
                mac: container_mac,
                addresses: built.addresses,
                routes: built.routes,
            },
            links: built.links,
            in_sandbox: req.sandbox.is_some(),
        };
        let (placement, dst_name) = match &req.sandbox {
            Some(p) => (
                Placement::InSandbox {
                    name: p.ifname.clone(),
                },
                Some(p.ifname.clone()),
            ),
            None => (
                Placement::Host {
                    src_name: peer_name,
                },
                None,
            ),
        };
        let join = join_info(cfg, &created, placement, dst_name);
        self.endpoints().insert(
            (req.network_id.clone(), req.endpoint_id.clone()),
            EpState {
                created: created.clone(),
                join,
                sandbox_key: req.sandbox.as_ref().map(|p| p.key.clone()),
            },
        );
        Ok(created)
    }

    fn join(&self, req: &JoinRequest) -> Result<JoinInfo, DriverError> {
        let eps = self.endpoints();
        let ep = eps
            .get(&(req.network_id.clone(), req.endpoint_id.clone()))
            .ok_or_else(|| {
                DriverError::not_found(
                    "unknown endpoint",
                    format!(
                        "endpoint {:?} of network {:?}",
                        req.endpoint_id, req.network_id
                    ),
                )
            })?;
        if let Some(key) = &ep.sandbox_key {
            if *key != req.sandbox_key {
                return Err(DriverError::invalid_argument(
                    "endpoint is in another sandbox",
                    format!("created in {key}, join asked for {}", req.sandbox_key),
                ));
            }
        }
        Ok(ep.join.clone())
    }

    fn leave(&self, _ep: &EndpointRef) -> Result<(), DriverError> {
        // Nothing on the driver's side: the interface goes with the endpoint.
        Ok(())
    }

    fn delete_endpoint(&self, ep: &EndpointRef) -> Result<(), DriverError> {
        let removed = self
            .endpoints()
            .remove(&(ep.network_id.clone(), ep.endpoint_id.clone()));
        let mut ep = ep.clone();
        // The sandbox the endpoint was created in, when the caller did not say.
        if ep.sandbox.is_none() {
            if let Some(st) = &removed {
                ep.sandbox = st.created.links.iter().find_map(|l| {
                    l.sandbox.as_ref().map(|k| SandboxPlacement {
                        key: k.clone(),
                        ifname: l.name.clone(),
                        allow_own: false,
                    })
                });
            }
        }
        // The network's name (the reference's rules are keyed by it).
        let network = self
            .network(&ep.network_id)
            .map(|n| n.cfg.network.clone())
            .unwrap_or_else(|_| ep.network_id.clone());
        del::del(self.system.as_ref(), &ep, &network)
    }

    fn endpoint_info(&self, ep: &EndpointRef) -> Result<EndpointOperInfo, DriverError> {
        let eps = self.endpoints();
        let st = eps
            .get(&(ep.network_id.clone(), ep.endpoint_id.clone()))
            .ok_or_else(|| {
                DriverError::not_found("unknown endpoint", format!("{:?}", ep.endpoint_id))
            })?;
        Ok(EndpointOperInfo {
            links: st.created.links.clone(),
            data: Default::default(),
        })
    }

    fn check(&self, req: &CheckRequest) -> Result<(), DriverError> {
        let net = self.network(&req.endpoint.network_id)?;
        check::check(self.system.as_ref(), &net.cfg, req)
    }

    fn gc(&self, req: &GcRequest) -> Result<(), DriverError> {
        let name = if req.network.name.is_empty() {
            &req.network.id
        } else {
            &req.network.name
        };
        let cfg = TeardownConfig::from_options(name, &req.network.options.0)?;
        gc::gc(self.system.as_ref(), &cfg, &req.valid_endpoints)
    }

    fn status(&self, network: &CreateNetwork) -> Result<(), DriverError> {
        let name = if network.name.is_empty() {
            &network.id
        } else {
            &network.name
        };
        let cfg = BridgeConfig::from_options(name, &network.options.0)?;
        gc::status(self.system.as_ref(), &cfg)
    }
}
