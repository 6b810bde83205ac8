//! A network (libnetwork's `Network`): an owned value holding its record,
//! its driver and its IPAM driver (shared handles, no borrow of the
//! controller), on which endpoints are created.

use std::sync::Arc;

use super::controller::{create_request, release_pools};
use super::endpoint::Endpoint;
use super::endpoint_data::{CreateEndpoint, EndpointInterface, InterfaceAddress, SandboxPlacement};
use super::error::{DriverError, ModelError};
use super::ipam_driver::{AddressRelease, AddressRequest, IpamDriver, OwnerKey};
use super::join_info::GcRequest;
use super::records::{EndpointRecord, NetworkRecord, ReservedAddress};
use super::NetworkDriver;

/// How to create an endpoint. Construct with `..Default::default()`.
#[derive(Debug, Clone, Default)]
pub struct EndpointSpec {
    /// The interface: addresses (leave empty to have the network's IPAM
    /// allocate them), MAC, extra routes.
    pub interface: EndpointInterface,
    /// The sandbox, when already known (the fast path: the driver creates
    /// the interface inside it).
    pub sandbox: Option<SandboxPlacement>,
    /// The IPAM owner (default: the endpoint id and the sandbox ifname, or
    /// `eth0`).
    pub owner: Option<OwnerKey>,
    /// Driver-specific endpoint options.
    pub options: serde_json::Map<String, serde_json::Value>,
}

/// libnetwork's Network.
#[derive(Clone)]
pub struct Network {
    record: Arc<NetworkRecord>,
    driver: Arc<dyn NetworkDriver>,
    ipam: Option<Arc<dyn IpamDriver>>,
}

impl std::fmt::Debug for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Network")
            .field("record", &self.record)
            .finish_non_exhaustive()
    }
}

impl Network {
    pub(super) fn new(
        record: NetworkRecord,
        driver: Arc<dyn NetworkDriver>,
        ipam: Option<Arc<dyn IpamDriver>>,
    ) -> Self {
        Network {
            record: Arc::new(record),
            driver,
            ipam,
        }
    }

    /// The network's id.
    pub fn id(&self) -> &str {
        &self.record.id
    }

    /// The network's name.
    pub fn name(&self) -> &str {
        &self.record.name
    }

    /// The record to persist.
    pub fn record(&self) -> &NetworkRecord {
        &self.record
    }

    /// The network's driver.
    pub fn driver(&self) -> &Arc<dyn NetworkDriver> {
        &self.driver
    }

    /// Create endpoint `id`: reserve addresses (when the network has IPAM
    /// and none were given), then have the driver create it. A failure
    /// releases the addresses again; the driver leaves nothing behind.
    pub fn create_endpoint(&self, id: &str, spec: EndpointSpec) -> Result<Endpoint, ModelError> {
        if id.is_empty() {
            return Err(ModelError::invalid("endpoint id", "empty"));
        }
        let owner = spec.owner.clone().unwrap_or_else(|| OwnerKey {
            container_id: id.to_string(),
            ifname: spec
                .sandbox
                .as_ref()
                .map(|s| s.ifname.clone())
                .unwrap_or_else(|| "eth0".to_string()),
        });
        let mut interface = spec.interface;
        let mut reserved = Vec::new();
        if let (Some(ipam), Some(binding), true) = (
            &self.ipam,
            &self.record.ipam,
            interface.addresses.is_empty(),
        ) {
            for pool in &binding.pools {
                let req = AddressRequest {
                    pool_id: pool.id.clone(),
                    owner: owner.clone(),
                    ..Default::default()
                };
                match ipam.request_address(&req) {
                    Ok(a) => {
                        reserved.push(ReservedAddress {
                            pool_id: pool.id.clone(),
                            address: a.address,
                        });
                        interface.addresses.push(InterfaceAddress {
                            address: a.address,
                            gateway: a.gateway,
                        });
                    }
                    Err(e) => {
                        self.release(&reserved, &owner);
                        return Err(ModelError::driver(
                            format!("request address for endpoint {id:?}"),
                            e,
                        ));
                    }
                }
            }
        }
        let req = CreateEndpoint {
            network_id: self.record.id.clone(),
            endpoint_id: id.to_string(),
            interface,
            sandbox: spec.sandbox.clone(),
            options: spec.options,
        };
        let created = match self.driver.create_endpoint(&req) {
            Ok(c) => c,
            Err(e) => {
                self.release(&reserved, &owner);
                return Err(ModelError::driver(format!("create endpoint {id:?}"), e));
            }
        };
        Ok(Endpoint::new(
            self.clone(),
            EndpointRecord {
                network_id: self.record.id.clone(),
                id: id.to_string(),
                interface: created.interface,
                links: created.links,
                sandbox: spec.sandbox,
                join: None,
                owner: Some(owner),
                reserved,
            },
        ))
    }

    /// An endpoint value for an endpoint created earlier, from its record
    /// (a daemon after a restart).
    pub fn restore_endpoint(&self, record: EndpointRecord) -> Result<Endpoint, ModelError> {
        if record.network_id != self.record.id {
            return Err(ModelError::invalid(
                "endpoint record",
                format!(
                    "endpoint {:?} belongs to network {:?}, not {:?}",
                    record.id, record.network_id, self.record.id
                ),
            ));
        }
        Ok(Endpoint::new(self.clone(), record))
    }

    /// An endpoint value known only by id and sandbox (a one-shot front-end
    /// tearing down what an earlier process made): the driver derives the
    /// rest.
    pub fn endpoint_by_id(&self, id: &str, sandbox: Option<SandboxPlacement>) -> Endpoint {
        Endpoint::new(
            self.clone(),
            EndpointRecord {
                network_id: self.record.id.clone(),
                id: id.to_string(),
                sandbox,
                ..EndpointRecord::default()
            },
        )
    }

    /// Remove what belongs to endpoints other than `valid` (CNI GC).
    pub fn gc(&self, valid: &[String]) -> Result<(), ModelError> {
        self.driver
            .gc(&GcRequest {
                network: create_request(&self.record),
                valid_endpoints: valid.to_vec(),
            })
            .map_err(|e| ModelError::driver(format!("gc network {:?}", self.record.name), e))
    }

    /// Ok when the driver can serve the network (CNI STATUS).
    pub fn status(&self) -> Result<(), ModelError> {
        self.driver
            .status(&create_request(&self.record))
            .map_err(|e| ModelError::driver(format!("status of network {:?}", self.record.name), e))
    }

    /// Delete the network: the driver's part, then its pools.
    pub fn delete(self) -> Result<(), ModelError> {
        self.driver
            .delete_network(&self.record.id)
            .map_err(|e| ModelError::driver(format!("delete network {:?}", self.record.name), e))?;
        if let (Some(ipam), Some(binding)) = (&self.ipam, &self.record.ipam) {
            if let Some(e) = release_pools(ipam.as_ref(), &binding.pools)
                .into_iter()
                .next()
            {
                return Err(ModelError::driver(
                    format!("release pools of network {:?}", self.record.name),
                    e,
                ));
            }
        }
        Ok(())
    }

    /// Release reserved addresses, best effort; returns the failures.
    pub(super) fn release(
        &self,
        reserved: &[ReservedAddress],
        owner: &OwnerKey,
    ) -> Vec<DriverError> {
        let Some(ipam) = &self.ipam else {
            return Vec::new();
        };
        reserved
            .iter()
            .filter_map(|r| {
                ipam.release_address(&AddressRelease {
                    pool_id: r.pool_id.clone(),
                    address: Some(r.address.addr()),
                    owner: owner.clone(),
                })
                .err()
            })
            .collect()
    }
}
