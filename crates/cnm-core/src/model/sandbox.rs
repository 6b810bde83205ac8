//! A sandbox (libnetwork's `Sandbox` / osl namespace): a container's network
//! namespace, bound at a path (its key). It places the interfaces drivers
//! prepared in the host: moves them in, renames them, configures addresses,
//! sets them up, adds the gateway and routes; after the fast path (the
//! driver created the interface inside) it only records them.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use ipnet::IpNet;

use super::endpoint_data::StaticRoute;
use super::error::ModelError;
use super::join_info::{JoinInfo, JoinInterface, Placement};
use crate::kernel::{IfaceSpec, RouteState};
use crate::system::{LinuxSystem, SandboxError, System};

/// Most interfaces tried for one `dst_prefix` when picking a free name.
const MAX_PREFIX_INDEX: u32 = 256;

/// One interface the sandbox holds for an endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxInterface {
    /// The endpoint it belongs to ("" when added without one).
    pub endpoint_id: String,
    /// Its name in the sandbox.
    pub name: String,
    /// Its addresses.
    pub addresses: Vec<IpNet>,
}

/// libnetwork's Sandbox, generic over the [`System`].
pub struct Sandbox<S: System + 'static = LinuxSystem> {
    system: Arc<S>,
    key: String,
    created: bool,
    allow_own: bool,
    interfaces: Mutex<Vec<SandboxInterface>>,
}

impl<S: System + 'static> std::fmt::Debug for Sandbox<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("key", &self.key)
            .field("created", &self.created)
            .finish_non_exhaustive()
    }
}

impl<S: System + 'static> Sandbox<S> {
    /// Create a namespace at `key`.
    pub(super) fn create(system: Arc<S>, key: &str) -> Result<Self, ModelError> {
        if key.is_empty() {
            return Err(ModelError::invalid("sandbox key", "empty"));
        }
        system
            .create_sandbox(key)
            .map_err(|e| ModelError::sandbox(key, e))?;
        Ok(Sandbox {
            system,
            key: key.to_string(),
            created: true,
            allow_own: false,
            interfaces: Mutex::new(Vec::new()),
        })
    }

    /// Open the namespace at `key`.
    pub(super) fn open(system: Arc<S>, key: &str, allow_own: bool) -> Result<Self, ModelError> {
        if key.is_empty() {
            return Err(ModelError::invalid("sandbox key", "empty"));
        }
        system
            .check_sandbox(key, allow_own)
            .map_err(|e| ModelError::sandbox(key, e))?;
        Ok(Sandbox {
            system,
            key: key.to_string(),
            created: false,
            allow_own,
            interfaces: Mutex::new(Vec::new()),
        })
    }

    /// A sandbox value without checks (teardown).
    pub(super) fn detached(system: Arc<S>, key: &str, allow_own: bool) -> Self {
        Sandbox {
            system,
            key: key.to_string(),
            created: false,
            allow_own,
            interfaces: Mutex::new(Vec::new()),
        }
    }

    /// The sandbox key: the namespace path.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// True when the caller's own namespace is accepted as this sandbox.
    pub fn allows_own(&self) -> bool {
        self.allow_own
    }

    /// The interfaces placed or recorded so far.
    pub fn interfaces(&self) -> Vec<SandboxInterface> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<SandboxInterface>> {
        self.interfaces.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn err(&self, e: impl Into<SandboxError>) -> ModelError {
        ModelError::sandbox(&self.key, e)
    }

    /// Place one interface: a host interface is moved in, renamed to
    /// `dst_name` (or the first free `<dst_prefix><n>`), given its
    /// addresses and set up; an interface already inside is recorded.
    /// Returns its name in the sandbox. On failure a moved interface is
    /// deleted (the endpoint must then be deleted).
    pub fn add_interface(&self, iface: &JoinInterface) -> Result<String, ModelError> {
        self.add_interface_for("", iface)
    }

    fn add_interface_for(
        &self,
        endpoint_id: &str,
        iface: &JoinInterface,
    ) -> Result<String, ModelError> {
        let addresses: Vec<IpNet> = iface.addresses.iter().map(|a| a.address).collect();
        let name = match &iface.placement {
            Placement::InSandbox { name } => name.clone(),
            Placement::Host { src_name } => {
                let mut kernel = self
                    .system
                    .kernel(Some(&self.key), self.allow_own)
                    .map_err(|e| self.err(e))?;
                let dst = match &iface.dst_name {
                    Some(n) => n.clone(),
                    None => self.free_name(kernel.as_mut(), &iface.dst_prefix)?,
                };
                kernel
                    .move_into_sandbox(src_name, &dst)
                    .map_err(|e| self.err(e))?;
                let configured = kernel.configure_container(&IfaceSpec {
                    name: dst.clone(),
                    addrs: addresses.clone(),
                    dad: false,
                    up: true,
                });
                if let Err(e) = configured {
                    let _ = kernel.delete_container_link(&dst);
                    return Err(self.err(e));
                }
                dst
            }
        };
        self.lock().push(SandboxInterface {
            endpoint_id: endpoint_id.to_string(),
            name: name.clone(),
            addresses,
        });
        Ok(name)
    }

    fn free_name(
        &self,
        kernel: &mut dyn crate::kernel::Kernel,
        prefix: &str,
    ) -> Result<String, ModelError> {
        if prefix.is_empty() {
            return Err(ModelError::invalid(
                "interface",
                "neither a destination name nor a prefix",
            ));
        }
        let taken: Vec<String> = self.lock().iter().map(|i| i.name.clone()).collect();
        for n in 0..MAX_PREFIX_INDEX {
            let name = format!("{prefix}{n}");
            if taken.contains(&name) {
                continue;
            }
            if kernel
                .container_link(&name)
                .map_err(|e| self.err(e))?
                .is_none()
            {
                return Ok(name);
            }
        }
        Err(ModelError::invalid(
            "interface",
            format!("no free name with prefix {prefix:?} in {}", self.key),
        ))
    }

    /// The interface whose subnet holds `addr`.
    fn interface_for(&self, addr: IpAddr) -> Option<String> {
        self.lock()
            .iter()
            .find(|i| i.addresses.iter().any(|a| a.trunc().contains(&addr)))
            .map(|i| i.name.clone())
    }

    /// Route everything not on a local subnet through `gateway`, on the
    /// interface whose subnet holds it.
    pub fn set_gateway(&self, gateway: IpAddr) -> Result<(), ModelError> {
        let dst = if gateway.is_ipv4() {
            IpNet::V4(ipnet::Ipv4Net::default())
        } else {
            IpNet::V6(ipnet::Ipv6Net::default())
        };
        self.add_route(&StaticRoute::new(dst, Some(gateway)))
    }

    /// Add a route. A route with a next hop leaves through the interface
    /// whose subnet holds the next hop; one without through the first
    /// interface of its family.
    pub fn add_route(&self, route: &StaticRoute) -> Result<(), ModelError> {
        let v4 = route.destination.addr().is_ipv4();
        let dev = match route.next_hop {
            Some(hop) => self.interface_for(hop),
            None => self
                .lock()
                .iter()
                .find(|i| i.addresses.iter().any(|a| a.addr().is_ipv4() == v4))
                .map(|i| i.name.clone()),
        }
        .ok_or_else(|| {
            ModelError::invalid(
                "route",
                format!(
                    "no interface in {} reaches {:?} for {}",
                    self.key, route.next_hop, route.destination
                ),
            )
        })?;
        let mut kernel = self
            .system
            .kernel(Some(&self.key), self.allow_own)
            .map_err(|e| self.err(e))?;
        kernel
            .add_container_routes(
                &dev,
                &[RouteState {
                    dst: route.destination.trunc(),
                    gw: route.next_hop,
                    priority: route.priority,
                    table: route.table,
                    scope: route.scope,
                    mtu: route.mtu,
                    advmss: route.advmss,
                }],
            )
            .map_err(|e| self.err(e))
    }

    /// Place everything a join returned for `endpoint_id`: the interfaces,
    /// the gateways, the static routes. After the fast path
    /// (`configured_in_sandbox`) it only records the interfaces. Returns the
    /// interface names.
    pub fn apply(&self, endpoint_id: &str, info: &JoinInfo) -> Result<Vec<String>, ModelError> {
        let mut names = Vec::new();
        for iface in &info.interfaces {
            if info.configured_in_sandbox {
                let name = match &iface.placement {
                    Placement::InSandbox { name } => name.clone(),
                    Placement::Host { src_name } => {
                        return Err(ModelError::invalid(
                            "join info",
                            format!("{src_name:?} is in the host but the join says configured"),
                        ))
                    }
                };
                self.lock().push(SandboxInterface {
                    endpoint_id: endpoint_id.to_string(),
                    name: name.clone(),
                    addresses: iface.addresses.iter().map(|a| a.address).collect(),
                });
                names.push(name);
            } else {
                names.push(self.add_interface_for(endpoint_id, iface)?);
            }
        }
        if !info.configured_in_sandbox {
            for gw in [info.gateway, info.gateway6].into_iter().flatten() {
                self.set_gateway(gw)?;
            }
            for r in &info.static_routes {
                self.add_route(r)?;
            }
        }
        Ok(names)
    }

    /// Forget the interfaces of `endpoint_id` (after it left).
    pub fn forget(&self, endpoint_id: &str) {
        self.lock().retain(|i| i.endpoint_id != endpoint_id);
    }

    /// Remove the namespace if this sandbox created it.
    pub fn destroy(self) -> Result<(), ModelError> {
        if self.created {
            self.system
                .remove_sandbox(&self.key)
                .map_err(|e| ModelError::sandbox(&self.key, e))?;
        }
        Ok(())
    }
}
