//! A sandbox: a container's network namespace, bound at a path (its key).
//! As in libnetwork, a sandbox created on a path with no namespace makes a
//! new one there and removes it when destroyed.

use std::net::IpAddr;
use std::path::Path;

use cnm_netlink::{Handle, RouteSpec};
use ipnet::IpNet;
use netns::NetNs;

use super::endpoint::InterfaceInfo;
use super::error::ModelError;

/// libnetwork's Sandbox (osl namespace).
#[derive(Debug)]
pub struct Sandbox {
    key: String,
    created: bool,
}

impl Sandbox {
    /// Open the namespace at `path`, creating one there when none exists.
    pub fn new(path: impl AsRef<Path>) -> Result<Sandbox, ModelError> {
        let path = path.as_ref();
        let key = path.display().to_string();
        let created = if path.exists() {
            NetNs::open(path).map_err(|e| ModelError::sandbox(&key, e))?;
            false
        } else {
            netns::create_at(path).map_err(|e| ModelError::sandbox(&key, e))?;
            true
        };
        let sb = Sandbox { key, created };
        if let Err(e) = sb.set_loopback_up() {
            // Do not leak the namespace this call created.
            if created {
                let _ = netns::remove_at(path);
            }
            return Err(e);
        }
        Ok(sb)
    }

    /// The sandbox key: the namespace path given to drivers as CNI_NETNS.
    pub fn key(&self) -> &str {
        &self.key
    }

    fn handle(&self) -> Result<Handle, ModelError> {
        let ns = NetNs::open(&self.key).map_err(|e| ModelError::sandbox(&self.key, e))?;
        Handle::new_in(&ns).map_err(|e| ModelError::sandbox(&self.key, e))
    }

    fn set_loopback_up(&self) -> Result<(), ModelError> {
        let mut h = self.handle()?;
        if let Some(lo) = h
            .link_by_name("lo")
            .map_err(|e| ModelError::sandbox(&self.key, e))?
        {
            if !lo.up {
                h.set_up(lo.index)
                    .map_err(|e| ModelError::sandbox(&self.key, e))?;
            }
        }
        Ok(())
    }

    /// Make sure `iface` is in the sandbox, up, with its addresses. The
    /// drivers plumb the interface during `create_endpoint`, so this verifies
    /// and completes rather than moves.
    pub fn add_interface(&self, iface: &InterfaceInfo) -> Result<(), ModelError> {
        let mut h = self.handle()?;
        let link = h
            .link_by_name(&iface.name)
            .map_err(|e| ModelError::sandbox(&self.key, e))?
            .ok_or_else(|| {
                ModelError::sandbox(&self.key, format!("interface {:?} not found", iface.name))
            })?;
        let have: Vec<IpNet> = h
            .addrs(link.index)
            .map_err(|e| ModelError::sandbox(&self.key, e))?
            .into_iter()
            .map(|a| a.addr)
            .collect();
        for addr in &iface.addresses {
            if !have.contains(addr) {
                h.add_addr(link.index, *addr, true)
                    .map_err(|e| ModelError::sandbox(&self.key, e))?;
            }
        }
        if !link.up {
            h.set_up(link.index)
                .map_err(|e| ModelError::sandbox(&self.key, e))?;
        }
        Ok(())
    }

    /// Route everything not on a local subnet through `gateway`.
    pub fn set_gateway(&self, gateway: IpAddr) -> Result<(), ModelError> {
        let mut h = self.handle()?;
        let dst = if gateway.is_ipv4() {
            IpNet::V4(ipnet::Ipv4Net::default())
        } else {
            IpNet::V6(ipnet::Ipv6Net::default())
        };
        let mut route = RouteSpec::new(dst);
        route.gw = Some(gateway);
        h.add_route(&route)
            .map_err(|e| ModelError::sandbox(&self.key, e))?;
        Ok(())
    }

    /// Remove the namespace if this sandbox created it.
    pub fn destroy(self) -> Result<(), ModelError> {
        if self.created {
            netns::remove_at(&self.key).map_err(|e| ModelError::sandbox(&self.key, e))?;
        }
        Ok(())
    }
}
