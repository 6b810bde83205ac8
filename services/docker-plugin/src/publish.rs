//! Publishing ports when the network driver does not: the same nftables port
//! mapping as our `portmap` plugin (`cnm_nft::Firewall`, table `inet cnm`),
//! each endpoint's mappings tagged with its owner (network name, endpoint ID,
//! `eth0`), plus `route_localnet` on the bridge so 127.0.0.1 reaches the
//! container. Behind the narrow [`Publisher`] trait, so the calls are tested
//! without root on [`FakePublisher`].

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Mutex;

use cnm_nft::{Firewall, Owner, PortMapping, Protocol};
use ipnet::IpNet;

use crate::error::PluginError;
use crate::ports::Published;

/// Whose mappings: (network name, endpoint ID); the interface is always `eth0` in the tag.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct PortOwner {
    /// The network's name (`docker-<12 hex>`).
    pub network: String,
    /// Docker's endpoint ID.
    pub endpoint: String,
}

/// Publishes and withdraws an endpoint's ports.
pub trait Publisher: Send + Sync {
    /// Replace the owner's mappings by `ports` (all or nothing).
    fn publish(
        &self,
        owner: &PortOwner,
        addrs: &[IpNet],
        ports: &[Published],
        bridge: &str,
    ) -> Result<(), PluginError>;
    /// Remove the owner's mappings (Ok when there are none).
    fn unpublish(&self, owner: &PortOwner) -> Result<(), PluginError>;
}

fn nft_owner(o: &PortOwner) -> Owner {
    Owner {
        network: o.network.clone(),
        container_id: o.endpoint.clone(),
        ifname: "eth0".to_string(),
    }
}

fn protocol(p: &str) -> Protocol {
    match p {
        "udp" => Protocol::Udp,
        "sctp" => Protocol::Sctp,
        _ => Protocol::Tcp,
    }
}

/// The real publisher: nftables in the calling thread's network namespace.
#[derive(Debug, Clone)]
pub struct NftPublisher {
    firewall: Firewall,
    proc_sys: PathBuf,
}

impl Default for NftPublisher {
    fn default() -> Self {
        NftPublisher {
            firewall: Firewall::new(),
            proc_sys: PathBuf::from("/proc/sys"),
        }
    }
}

impl NftPublisher {
    fn route_localnet(&self, bridge: &str) -> Result<(), PluginError> {
        if bridge.is_empty() || bridge.contains('/') || bridge.starts_with('.') {
            return Err(PluginError::invalid(format!("bridge name {bridge:?}")));
        }
        let path = self
            .proc_sys
            .join("net/ipv4/conf")
            .join(bridge)
            .join("route_localnet");
        let fail = |e: std::io::Error| {
            PluginError::Model(format!("route_localnet {}: {e}", path.display()))
        };
        if std::fs::read_to_string(&path).map_err(fail)?.trim() == "1" {
            return Ok(());
        }
        std::fs::write(&path, "1").map_err(fail)
    }
}

impl Publisher for NftPublisher {
    fn publish(
        &self,
        owner: &PortOwner,
        addrs: &[IpNet],
        ports: &[Published],
        bridge: &str,
    ) -> Result<(), PluginError> {
        let has4 = addrs.iter().any(|a| a.addr().is_ipv4());
        let has6 = addrs.iter().any(|a| a.addr().is_ipv6());
        // A host address of a family the endpoint has no address of cannot be mapped.
        let mappings: Vec<PortMapping> = ports
            .iter()
            .filter(|p| match p.host_ip {
                None => true,
                Some(IpAddr::V4(_)) => has4,
                Some(IpAddr::V6(_)) => has6,
            })
            .map(|p| PortMapping {
                host_port: p.host_port,
                container_port: p.container_port,
                protocol: protocol(p.proto),
                host_ip: p.host_ip,
            })
            .collect();
        let o = nft_owner(owner);
        self.firewall
            .add_port_mappings(&o, addrs, &mappings, true)?;
        if has4 {
            if let Err(e) = self.route_localnet(bridge) {
                let _ = self.firewall.remove_port_mappings(&o);
                return Err(e);
            }
        }
        Ok(())
    }

    fn unpublish(&self, owner: &PortOwner) -> Result<(), PluginError> {
        Ok(self.firewall.remove_port_mappings(&nft_owner(owner))?)
    }
}

/// An in-memory publisher for tests: owner -> published ports.
#[derive(Debug, Default)]
pub struct FakePublisher {
    /// What is published.
    pub published: Mutex<BTreeMap<PortOwner, Vec<Published>>>,
    /// Fail every publish (to test rollback).
    pub fail: Mutex<bool>,
}

impl Publisher for FakePublisher {
    fn publish(
        &self,
        owner: &PortOwner,
        _addrs: &[IpNet],
        ports: &[Published],
        _bridge: &str,
    ) -> Result<(), PluginError> {
        if *self.fail.lock().unwrap_or_else(|p| p.into_inner()) {
            return Err(PluginError::Model("injected publish failure".into()));
        }
        let mut m = self.published.lock().unwrap_or_else(|p| p.into_inner());
        for (o, ps) in m.iter() {
            if o != owner
                && ps.iter().any(|p| {
                    ports
                        .iter()
                        .any(|q| q.host_port == p.host_port && q.proto == p.proto)
                })
            {
                return Err(PluginError::Conflict(format!(
                    "host port held by {}",
                    o.endpoint
                )));
            }
        }
        m.insert(owner.clone(), ports.to_vec());
        Ok(())
    }

    fn unpublish(&self, owner: &PortOwner) -> Result<(), PluginError> {
        self.published
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(owner);
        Ok(())
    }
}
