//! [`KernelSandboxes`]: the model's [`SandboxOps`] over the kernel seam.
//! Placing an interface (the slow path) is one kernel handle in the
//! sandbox: pick the name, move the interface in, then the interface
//! configurator does the rest (IPv6, addresses, up, routes), exactly as
//! for an interface the bridge created inside (the fast path).

use std::sync::Arc;

use cnm_model::{DstName, PlaceInterface, SandboxError, SandboxOps, StaticRoute};

use crate::configure::{configure_interface, InterfaceConfig};
use crate::seam::Kernel;
use crate::system::{FaultPoints, Namespaces};
use crate::types::{ContainerIpv6, RouteState};

/// Most interfaces tried for one prefix when picking a free name.
const MAX_PREFIX_INDEX: u32 = 256;

/// A model route as the kernel gets it.
pub fn route_state(r: &StaticRoute) -> RouteState {
    RouteState {
        dst: r.destination.trunc(),
        gw: r.next_hop,
        priority: r.priority,
        table: r.table,
        scope: r.scope,
        mtu: r.mtu,
        advmss: r.advmss,
    }
}

/// The model's sandbox operations on a system `S`.
pub struct KernelSandboxes<S> {
    system: Arc<S>,
}

impl<S> KernelSandboxes<S> {
    /// Sandboxes on `system`.
    pub fn new(system: Arc<S>) -> Self {
        KernelSandboxes { system }
    }

    /// The system.
    pub fn system(&self) -> &Arc<S> {
        &self.system
    }
}

/// The first `<prefix><n>` free in the sandbox and not in `taken`.
fn free_name(
    kernel: &mut dyn Kernel,
    prefix: &str,
    taken: &[String],
    key: &str,
) -> Result<String, SandboxError> {
    for n in 0..MAX_PREFIX_INDEX {
        let name = format!("{prefix}{n}");
        if taken.contains(&name) {
            continue;
        }
        if kernel.container_link(&name)?.is_none() {
            return Ok(name);
        }
    }
    Err(SandboxError::Invalid(format!(
        "no free interface name with prefix {prefix:?} in {key}"
    )))
}

impl<S: Namespaces + FaultPoints + 'static> SandboxOps for KernelSandboxes<S> {
    fn create(&self, key: &str) -> Result<(), SandboxError> {
        self.system.create_sandbox(key)
    }

    fn check(&self, key: &str, allow_own: bool) -> Result<(), SandboxError> {
        self.system.check_sandbox(key, allow_own)
    }

    fn remove(&self, key: &str) -> Result<(), SandboxError> {
        self.system.remove_sandbox(key)
    }

    fn has_interface(&self, key: &str, allow_own: bool, name: &str) -> Result<bool, SandboxError> {
        let mut kernel = self.system.kernel(Some(key), allow_own)?;
        Ok(kernel.container_link(name)?.is_some())
    }

    fn place_interface(
        &self,
        key: &str,
        allow_own: bool,
        iface: &PlaceInterface<'_>,
    ) -> Result<String, SandboxError> {
        let mut kernel = self.system.kernel(Some(key), allow_own)?;
        let dst = match &iface.dst {
            DstName::Exact(n) => n.to_string(),
            DstName::Prefix { prefix, taken } => free_name(kernel.as_mut(), prefix, taken, key)?,
        };
        kernel.move_into_sandbox(iface.src_name, &dst)?;
        let routes: Vec<RouteState> = iface.routes.iter().map(route_state).collect();
        let configured = configure_interface(
            kernel.as_mut(),
            &InterfaceConfig {
                name: &dst,
                addrs: iface.addresses,
                dad: iface.dad,
                ipv6: ContainerIpv6::for_addresses(
                    iface.addresses,
                    iface.dad,
                    iface.ipv6_link_local,
                ),
                up: true,
                routes: &routes,
                // A route without a next hop stays on-link (libnetwork's
                // static routes); the gateway comes as a default route.
                gateways: &[],
            },
            self.system.as_ref(),
        );
        if let Err(e) = configured {
            let _ = kernel.delete_container_link(&dst);
            return Err(e.error.into());
        }
        Ok(dst)
    }

    fn add_routes(
        &self,
        key: &str,
        allow_own: bool,
        dev: &str,
        routes: &[StaticRoute],
    ) -> Result<(), SandboxError> {
        let mut kernel = self.system.kernel(Some(key), allow_own)?;
        let routes: Vec<RouteState> = routes.iter().map(route_state).collect();
        Ok(kernel.add_container_routes(dev, &routes)?)
    }
}
