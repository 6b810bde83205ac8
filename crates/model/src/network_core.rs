//! What a network is made of, shared by the [`crate::Network`] value and
//! every [`crate::Endpoint`] created on it: its record, its network driver
//! and its IPAM driver (shared handles, no borrow of the controller), with
//! the IPAM calls both need.

use std::sync::Arc;

use super::driver::NetworkDriver;
use super::endpoint_data::SandboxPlacement;
use super::error::{DriverError, ErrorKind, ModelError};
use super::ipam_driver::{IpamDriver, IpamNetwork, OwnerKey};
use super::names::{NameService, NetworkNames};
use super::network_data::CreateNetwork;
use super::records::NetworkRecord;

/// The IPAM owner of endpoint `id` when the caller names none.
pub(crate) fn default_owner(id: &str, sandbox: Option<&SandboxPlacement>) -> OwnerKey {
    OwnerKey {
        container_id: id.to_string(),
        ifname: sandbox
            .map(|s| s.ifname.clone())
            .unwrap_or_else(|| "eth0".to_string()),
    }
}

/// A network's names and the service that serves them.
#[derive(Clone)]
pub(crate) struct NameBinding {
    pub(crate) settings: NetworkNames,
    pub(crate) service: Arc<dyn NameService>,
}

/// A network's record and drivers.
pub(crate) struct NetworkCore {
    pub(crate) record: NetworkRecord,
    pub(crate) driver: Arc<dyn NetworkDriver>,
    pub(crate) ipam: Option<Arc<dyn IpamDriver>>,
    pub(crate) names: Option<NameBinding>,
}

impl NetworkCore {
    /// The driver's view of the record.
    pub(crate) fn create_request(&self) -> CreateNetwork {
        CreateNetwork {
            id: self.record.id.clone(),
            name: self.record.name.clone(),
            options: self.record.options.clone(),
            ipv4: self.record.ipv4.clone(),
            ipv6: self.record.ipv6.clone(),
        }
    }

    /// The IPAM driver and the network as it sees it, when the network
    /// has an IPAM binding.
    pub(crate) fn ipam(&self) -> Option<(&dyn IpamDriver, IpamNetwork<'_>)> {
        let driver = self.ipam.as_deref()?;
        let binding = self.record.ipam.as_ref()?;
        Some((
            driver,
            IpamNetwork {
                name: &self.record.name,
                options: binding.options.as_ref().unwrap_or(&self.record.options),
                pools: &binding.pools,
            },
        ))
    }

    /// Release every address `owner` holds (nothing bound: nothing to do);
    /// `what` names the object for the error.
    pub(crate) fn release(
        &self,
        owner: &OwnerKey,
        what: impl FnOnce() -> String,
    ) -> Result<(), ModelError> {
        match self.ipam() {
            Some((driver, net)) => driver
                .release(&net, owner)
                .map_err(|e| ModelError::ipam(format!("release addresses of {}", what()), e)),
            None => Ok(()),
        }
    }

    /// Run an optional IPAM call: a driver that does not offer it is fine.
    pub(crate) fn optional_ipam(
        &self,
        op: &str,
        call: impl FnOnce(&dyn IpamDriver, &IpamNetwork<'_>) -> Result<(), DriverError>,
    ) -> Result<(), ModelError> {
        let Some((driver, net)) = self.ipam() else {
            return Ok(());
        };
        match call(driver, &net) {
            Err(e) if e.kind == ErrorKind::NotSupported => Ok(()),
            r => r.map_err(|e| ModelError::ipam(op, e)),
        }
    }
}
