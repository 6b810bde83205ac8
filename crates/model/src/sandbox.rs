//! A sandbox (libnetwork's `Sandbox` / osl namespace): a container's network
//! namespace, bound at a path (its key). It places the interfaces drivers
//! prepared in the host (moves them in, names them, configures addresses,
//! IPv6, routes and gateway through the kernel seam's one configurator);
//! after the fast path (the driver created the interface inside) it only
//! records them. The machine is reached through [`SandboxOps`].

use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use ipnet::IpNet;

use super::endpoint_data::StaticRoute;
use super::error::ModelError;
use super::join_info::{JoinInfo, JoinInterface, Placement};
use super::sandbox_ops::{DstName, PlaceInterface, SandboxOps};

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

/// libnetwork's Sandbox.
pub struct Sandbox {
    ops: Arc<dyn SandboxOps>,
    key: String,
    created: bool,
    allow_own: bool,
    interfaces: Mutex<Vec<SandboxInterface>>,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("key", &self.key)
            .field("created", &self.created)
            .finish_non_exhaustive()
    }
}

/// The default route of `gateway`'s family.
fn default_route(gateway: IpAddr) -> StaticRoute {
    let dst = if gateway.is_ipv4() {
        IpNet::V4(ipnet::Ipv4Net::default())
    } else {
        IpNet::V6(ipnet::Ipv6Net::default())
    };
    StaticRoute::new(dst, Some(gateway))
}

/// Which of `ifaces` (the addresses of each) a route leaves through: the
/// one whose subnet holds its next hop, or, without a next hop, the first
/// of its family.
fn route_device<'a>(
    mut ifaces: impl Iterator<Item = &'a [IpNet]>,
    route: &StaticRoute,
) -> Option<usize> {
    let v4 = route.destination.addr().is_ipv4();
    match route.next_hop {
        Some(hop) => ifaces.position(|addrs| addrs.iter().any(|a| a.trunc().contains(&hop))),
        None => ifaces.position(|addrs| addrs.iter().any(|a| a.addr().is_ipv4() == v4)),
    }
}

impl Sandbox {
    /// Create a namespace at `key`.
    pub(crate) fn create(ops: Arc<dyn SandboxOps>, key: &str) -> Result<Self, ModelError> {
        if key.is_empty() {
            return Err(ModelError::invalid("sandbox key", "empty"));
        }
        ops.create(key).map_err(|e| ModelError::sandbox(key, e))?;
        Ok(Sandbox {
            ops,
            key: key.to_string(),
            created: true,
            allow_own: false,
            interfaces: Mutex::new(Vec::new()),
        })
    }

    /// Open the namespace at `key`.
    pub(crate) fn open(
        ops: Arc<dyn SandboxOps>,
        key: &str,
        allow_own: bool,
    ) -> Result<Self, ModelError> {
        if key.is_empty() {
            return Err(ModelError::invalid("sandbox key", "empty"));
        }
        ops.check(key, allow_own)
            .map_err(|e| ModelError::sandbox(key, e))?;
        Ok(Sandbox {
            ops,
            key: key.to_string(),
            created: false,
            allow_own,
            interfaces: Mutex::new(Vec::new()),
        })
    }

    /// A sandbox value without checks (teardown).
    pub(crate) fn detached(ops: Arc<dyn SandboxOps>, key: &str, allow_own: bool) -> Self {
        Sandbox {
            ops,
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

    /// True when the namespace has an interface named `name` (placed by
    /// this sandbox or not).
    pub fn has_interface(&self, name: &str) -> Result<bool, ModelError> {
        self.ops
            .has_interface(&self.key, self.allow_own, name)
            .map_err(|e| ModelError::sandbox(&self.key, e))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<SandboxInterface>> {
        self.interfaces.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Place one interface: a host interface is moved in, named `dst_name`
    /// (or the first free `<dst_prefix><n>`), given its addresses, IPv6 as
    /// they say, and set up; an interface already inside is recorded.
    /// Returns its name in the sandbox. On failure a moved interface is
    /// deleted (the endpoint must then be deleted).
    pub fn add_interface(&self, iface: &JoinInterface) -> Result<String, ModelError> {
        self.place("", iface, &[])
    }

    fn place(
        &self,
        endpoint_id: &str,
        iface: &JoinInterface,
        routes: &[StaticRoute],
    ) -> Result<String, ModelError> {
        let addresses: Vec<IpNet> = iface.addresses.iter().map(|a| a.address).collect();
        let name = match &iface.placement {
            Placement::InSandbox { name } => name.clone(),
            Placement::Host { src_name } => {
                let taken: Vec<String> = self.lock().iter().map(|i| i.name.clone()).collect();
                let dst = match &iface.dst_name {
                    Some(n) => DstName::Exact(n),
                    None if iface.dst_prefix.is_empty() => {
                        return Err(ModelError::invalid(
                            "interface",
                            "neither a destination name nor a prefix",
                        ))
                    }
                    None => DstName::Prefix {
                        prefix: &iface.dst_prefix,
                        taken: &taken,
                    },
                };
                self.ops
                    .place_interface(
                        &self.key,
                        self.allow_own,
                        &PlaceInterface {
                            src_name,
                            dst,
                            addresses: &addresses,
                            dad: iface.dad,
                            ipv6_link_local: iface.ipv6_link_local,
                            routes,
                        },
                    )
                    .map_err(|e| ModelError::sandbox(&self.key, e))?
            }
        };
        self.lock().push(SandboxInterface {
            endpoint_id: endpoint_id.to_string(),
            name: name.clone(),
            addresses,
        });
        Ok(name)
    }

    /// Route everything not on a local subnet through `gateway`, on the
    /// interface whose subnet holds it.
    pub fn set_gateway(&self, gateway: IpAddr) -> Result<(), ModelError> {
        self.add_route(&default_route(gateway))
    }

    /// Add a route. A route with a next hop leaves through the interface
    /// whose subnet holds the next hop; one without through the first
    /// interface of its family.
    pub fn add_route(&self, route: &StaticRoute) -> Result<(), ModelError> {
        let dev = {
            let held = self.lock();
            route_device(held.iter().map(|i| i.addresses.as_slice()), route)
                .and_then(|i| held.get(i))
                .map(|i| i.name.clone())
        }
        .ok_or_else(|| self.unreachable(route))?;
        self.ops
            .add_routes(&self.key, self.allow_own, &dev, std::slice::from_ref(route))
            .map_err(|e| ModelError::sandbox(&self.key, e))
    }

    fn unreachable(&self, route: &StaticRoute) -> ModelError {
        ModelError::invalid(
            "route",
            format!(
                "no interface in {} reaches {:?} for {}",
                self.key, route.next_hop, route.destination
            ),
        )
    }

    /// Place everything a join returned for `endpoint_id`: each interface
    /// with its addresses and the gateways and static routes that leave
    /// through it, in one configuration step per interface. After the fast
    /// path (`configured_in_sandbox`) it only records the interfaces.
    /// Returns the interface names.
    pub fn apply(&self, endpoint_id: &str, info: &JoinInfo) -> Result<Vec<String>, ModelError> {
        if info.configured_in_sandbox {
            let mut names = Vec::new();
            for iface in &info.interfaces {
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
            }
            return Ok(names);
        }
        // Every route goes to the interface it leaves through: the ones
        // this join places, else one the sandbox holds already.
        let routes: Vec<StaticRoute> = [info.gateway, info.gateway6]
            .into_iter()
            .flatten()
            .map(default_route)
            .chain(info.static_routes.iter().cloned())
            .collect();
        let joined: Vec<Vec<IpNet>> = info
            .interfaces
            .iter()
            .map(|iface| iface.addresses.iter().map(|a| a.address).collect())
            .collect();
        let mut per_iface: Vec<Vec<StaticRoute>> = vec![Vec::new(); info.interfaces.len()];
        let mut elsewhere: Vec<StaticRoute> = Vec::new();
        for r in routes {
            match route_device(joined.iter().map(Vec::as_slice), &r) {
                Some(i) => per_iface[i].push(r),
                None => elsewhere.push(r),
            }
        }
        let mut names = Vec::new();
        for (iface, routes) in info.interfaces.iter().zip(&per_iface) {
            names.push(self.place(endpoint_id, iface, routes)?);
        }
        for r in &elsewhere {
            self.add_route(r)?;
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
            self.ops
                .remove(&self.key)
                .map_err(|e| ModelError::sandbox(&self.key, e))?;
        }
        Ok(())
    }
}
