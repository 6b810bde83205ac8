//! [`OverlayDriver`]: the overlay as a [`NetworkDriver`] (data scope
//! global). It reads the agent's state, hands the bridge driver the
//! network's bridge, MTU and gateway role, and adds the masquerade of
//! traffic leaving the cluster subnet. The bridge and the VXLAN device
//! belong to the agent: deleting a network never removes them.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use cnm_bridge::{BridgeDriver, System};
use cnm_kernel::{kernel_failure, MasqSpec};
use cnm_model::{
    Capabilities, CheckRequest, CreateEndpoint, CreateNetwork, CreatedEndpoint, DataScope,
    DriverError, EndpointOperInfo, EndpointRef, GcRequest, JoinInfo, JoinRequest, NetworkDriver,
    NetworkOptions,
};

use super::config::bridge_options;
use super::ipam::HeldBlocksIpam;
use super::states::{Loaded, States};

/// The driver's type name.
pub const OVERLAY: &str = "overlay";

type NetState = Loaded;

/// The overlay driver over a [`System`].
pub struct OverlayDriver<S: System + 'static> {
    bridge: BridgeDriver<S>,
    networks: RwLock<HashMap<String, Arc<NetState>>>,
    states: Arc<States>,
}

fn name_of(req: &CreateNetwork) -> &str {
    if req.name.is_empty() {
        &req.id
    } else {
        &req.name
    }
}

impl<S: System + 'static> OverlayDriver<S> {
    /// A driver on `system`.
    pub fn new(system: Arc<S>) -> Self {
        OverlayDriver {
            bridge: BridgeDriver::new(system),
            networks: RwLock::new(HashMap::new()),
            states: Arc::new(States::default()),
        }
    }

    /// The IPAM driver of this driver's networks: allocation in the blocks
    /// the host holds, sharing what `create_network` read of the state.
    pub fn ipam_driver(&self) -> HeldBlocksIpam {
        HeldBlocksIpam::new(Arc::clone(&self.states))
    }

    fn masq(net: &NetState) -> MasqSpec {
        MasqSpec {
            network: net.cfg.network.clone(),
            bridge: net.state.bridge.clone(),
            subnets: net.state.network.subnets(),
        }
    }

    fn network(&self, id: &str) -> Option<Arc<NetState>> {
        self.networks
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()
    }

    /// The bridge driver's view of an overlay network (for teardown too:
    /// GC works without `create_network`), from a fresh read of the state;
    /// `keep` leaves what was read for the IPAM driver.
    fn as_bridge(
        &self,
        req: &CreateNetwork,
        keep: bool,
    ) -> Result<(CreateNetwork, Arc<NetState>), DriverError> {
        let loaded = if keep {
            self.states.load(name_of(req), &req.options)?
        } else {
            States::read(name_of(req), &req.options)?
        };
        let inner = CreateNetwork {
            options: NetworkOptions(bridge_options(&req.options.0, &loaded.state)),
            ..req.clone()
        };
        Ok((inner, loaded))
    }
}

impl<S: System + 'static> NetworkDriver for OverlayDriver<S> {
    fn name(&self) -> &str {
        OVERLAY
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            data_scope: DataScope::Global,
            connectivity_scope: DataScope::Global,
            creates_in_sandbox: true,
        }
    }

    /// Validates the options against the agent's state, then prepares the
    /// bridge side and the masquerade (idempotent and cheap when in place).
    fn create_network(&self, req: &CreateNetwork) -> Result<(), DriverError> {
        let (inner, net) = self.as_bridge(req, true)?;
        self.bridge.create_network(&inner)?;
        if net.cfg.ip_masq {
            self.bridge
                .system()
                .firewall()
                .ensure_masquerade(&Self::masq(&net))
                .map_err(|e| kernel_failure("failed to set up IP masquerade", e))?;
        }
        self.networks
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(req.id.clone(), net);
        Ok(())
    }

    /// Removes the masquerade; the bridge and VXLAN device stay (the agent's).
    fn delete_network(&self, network_id: &str) -> Result<(), DriverError> {
        let removed = self
            .networks
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(network_id);
        let name = removed
            .as_ref()
            .map_or(network_id.to_string(), |n| n.cfg.network.clone());
        self.bridge
            .system()
            .firewall()
            .remove_masquerade(&name)
            .map_err(|e| kernel_failure("failed to remove IP masquerade", e))
    }

    fn create_endpoint(&self, req: &CreateEndpoint) -> Result<CreatedEndpoint, DriverError> {
        if self.network(&req.network_id).is_none() {
            return Err(DriverError::not_found(
                "unknown network",
                format!("network {:?}", req.network_id),
            ));
        }
        self.bridge.create_endpoint(req)
    }

    fn join(&self, req: &JoinRequest) -> Result<JoinInfo, DriverError> {
        self.bridge.join(req)
    }

    fn leave(&self, ep: &EndpointRef) -> Result<(), DriverError> {
        self.bridge.leave(ep)
    }

    fn delete_endpoint(&self, ep: &EndpointRef) -> Result<(), DriverError> {
        self.bridge.delete_endpoint(ep)
    }

    fn endpoint_info(&self, ep: &EndpointRef) -> Result<EndpointOperInfo, DriverError> {
        self.bridge.endpoint_info(ep)
    }

    fn check(&self, req: &CheckRequest) -> Result<(), DriverError> {
        let net = self.network(&req.endpoint.network_id).ok_or_else(|| {
            DriverError::not_found(
                "unknown network",
                format!("network {:?}", req.endpoint.network_id),
            )
        })?;
        self.bridge.check(req)?;
        if net.cfg.ip_masq {
            self.bridge
                .system()
                .firewall()
                .check_masquerade(&Self::masq(&net))
                .map_err(|e| kernel_failure("IP masquerade rule missing", e))?;
        }
        Ok(())
    }

    fn gc(&self, req: &GcRequest) -> Result<(), DriverError> {
        let (inner, _) = self.as_bridge(&req.network, false)?;
        self.bridge.gc(&GcRequest {
            network: inner,
            valid_endpoints: req.valid_endpoints.clone(),
        })
    }

    fn status(&self, network: &CreateNetwork) -> Result<(), DriverError> {
        let (inner, _) = self.as_bridge(network, false)?;
        self.bridge.status(&inner)
    }
}
