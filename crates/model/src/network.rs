//! A network (libnetwork's `Network`): an owned value holding its record,
//! its driver and its IPAM driver (shared handles, no borrow of the
//! controller), on which endpoints are created. It allocates every
//! endpoint's addresses through its IPAM driver.

use std::sync::Arc;

use super::driver::NetworkDriver;
use super::endpoint::Endpoint;
use super::endpoint_data::{CreateEndpoint, EndpointInterface, SandboxPlacement};
use super::error::{ErrorKind, ErrorList, ModelError};
use super::ipam_driver::{AllocationRequest, IpamDriver, OwnerKey};
use super::join_info::GcRequest;
use super::names::{NameService, NetworkNames};
use super::network_core::{default_owner, NameBinding, NetworkCore};
use super::records::{EndpointRecord, NetworkRecord, ReservedAddress};

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
    /// Specific addresses to ask IPAM for (CNI_ARGS `IP`, `runtimeConfig.ips`).
    pub requested: Vec<std::net::IpAddr>,
    /// Driver-specific endpoint options.
    pub options: serde_json::Map<String, serde_json::Value>,
}

/// libnetwork's Network.
#[derive(Clone)]
pub struct Network {
    core: Arc<NetworkCore>,
}

impl std::fmt::Debug for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Network")
            .field("record", &self.core.record)
            .finish_non_exhaustive()
    }
}

impl Network {
    pub(crate) fn new(
        record: NetworkRecord,
        driver: Arc<dyn NetworkDriver>,
        ipam: Option<Arc<dyn IpamDriver>>,
    ) -> Self {
        Network {
            core: Arc::new(NetworkCore {
                record,
                driver,
                ipam,
                names: None,
            }),
        }
    }

    /// This network with names: endpoints that join it with names
    /// ([`Endpoint::join_with_names`]) register them with `service` under
    /// `settings`, and leaving or deleting them unregisters them.
    pub fn with_names(self, settings: NetworkNames, service: Arc<dyn NameService>) -> Network {
        Network {
            core: Arc::new(NetworkCore {
                record: self.core.record.clone(),
                driver: Arc::clone(&self.core.driver),
                ipam: self.core.ipam.clone(),
                names: Some(NameBinding { settings, service }),
            }),
        }
    }

    /// The network's name settings, when it has names.
    pub fn names(&self) -> Option<&NetworkNames> {
        self.core.names.as_ref().map(|b| &b.settings)
    }

    /// Removes the names of every attachment not in `keep` (GC); nothing
    /// to do for a network without names.
    pub fn gc_names(&self, keep: &[OwnerKey]) -> Result<(), ModelError> {
        match &self.core.names {
            Some(b) => b
                .service
                .gc(&self.core.record.name, keep)
                .map_err(|e| ModelError::driver(self.op("remove stale names of"), e)),
            None => Ok(()),
        }
    }

    /// The network's id.
    pub fn id(&self) -> &str {
        &self.core.record.id
    }

    /// The network's name.
    pub fn name(&self) -> &str {
        &self.core.record.name
    }

    /// The record to persist.
    pub fn record(&self) -> &NetworkRecord {
        &self.core.record
    }

    /// The network's driver.
    pub fn driver(&self) -> &Arc<dyn NetworkDriver> {
        &self.core.driver
    }

    /// The network's IPAM driver, when it has one.
    pub fn ipam_driver(&self) -> Option<&Arc<dyn IpamDriver>> {
        self.core.ipam.as_ref()
    }

    fn op(&self, what: &str) -> String {
        format!("{what} network {:?}", self.core.record.name)
    }

    /// Create endpoint `id`: allocate its addresses through the network's
    /// IPAM driver (when it has one and the spec carries none; one call for
    /// every pool), then have the driver create it. A failed allocation
    /// leaves nothing reserved; a later failure releases the addresses
    /// again (what could not be released is added to the error's details),
    /// except when the driver says the endpoint exists already: what IPAM
    /// handed back is then the live endpoint's own reservation.
    pub fn create_endpoint(&self, id: &str, spec: EndpointSpec) -> Result<Endpoint, ModelError> {
        if id.is_empty() {
            return Err(ModelError::invalid("endpoint id", "empty"));
        }
        let owner = spec
            .owner
            .clone()
            .unwrap_or_else(|| default_owner(id, spec.sandbox.as_ref()));
        let mut interface = spec.interface;
        let mut reserved = Vec::new();
        let mut dns = Default::default();
        let mut allocated = false;
        if let (Some((ipam, net)), true) = (self.core.ipam(), interface.addresses.is_empty()) {
            let got = ipam
                .allocate(
                    &net,
                    &AllocationRequest {
                        owner: owner.clone(),
                        requested: spec.requested.clone(),
                    },
                )
                .map_err(|e| {
                    ModelError::ipam(format!("allocate addresses for endpoint {id:?}"), e)
                })?;
            allocated = true;
            reserved = got
                .addresses
                .iter()
                .map(|a| ReservedAddress {
                    pool_id: net
                        .pools
                        .iter()
                        .find(|p| p.pool.contains(&a.address.addr()))
                        .map(|p| p.id.clone())
                        .unwrap_or_default(),
                    address: a.address,
                })
                .collect();
            interface.addresses = got.addresses;
            interface.routes.extend(got.routes);
            dns = got.dns;
        }
        let req = CreateEndpoint {
            network_id: self.core.record.id.clone(),
            endpoint_id: id.to_string(),
            interface,
            sandbox: spec.sandbox.clone(),
            options: spec.options,
        };
        let created = match self.core.driver.create_endpoint(&req) {
            Ok(c) => c,
            Err(e) if e.kind == ErrorKind::AlreadyExists || !allocated => {
                return Err(ModelError::driver(format!("create endpoint {id:?}"), e));
            }
            Err(e) => {
                let failures: Vec<String> =
                    match self.core.release(&owner, || format!("endpoint {id:?}")) {
                        Ok(()) => Vec::new(),
                        Err(ModelError::Ipam { source, .. }) => {
                            vec![format!("release IPAM: {source}")]
                        }
                        Err(other) => vec![other.to_string()],
                    };
                return Err(ModelError::driver(
                    format!("create endpoint {id:?}"),
                    e.with_rollback_failures(&failures),
                ));
            }
        };
        Ok(Endpoint::new(
            Arc::clone(&self.core),
            EndpointRecord {
                network_id: self.core.record.id.clone(),
                id: id.to_string(),
                interface: created.interface,
                links: created.links,
                sandbox: spec.sandbox,
                join: None,
                owner: Some(owner),
                reserved,
                dns,
            },
        ))
    }

    /// An endpoint value for an endpoint created earlier, from its record
    /// (a daemon after a restart).
    pub fn restore_endpoint(&self, record: EndpointRecord) -> Result<Endpoint, ModelError> {
        if record.network_id != self.core.record.id {
            return Err(ModelError::invalid(
                "endpoint record",
                format!(
                    "endpoint {:?} belongs to network {:?}, not {:?}",
                    record.id, record.network_id, self.core.record.id
                ),
            ));
        }
        Ok(Endpoint::new(Arc::clone(&self.core), record))
    }

    /// An endpoint value known only by id, sandbox and IPAM owner (a
    /// one-shot front-end tearing down what an earlier process made): the
    /// driver derives the rest.
    pub fn endpoint_by_id(
        &self,
        id: &str,
        sandbox: Option<SandboxPlacement>,
        owner: Option<OwnerKey>,
    ) -> Endpoint {
        let owner = owner.unwrap_or_else(|| default_owner(id, sandbox.as_ref()));
        Endpoint::new(
            Arc::clone(&self.core),
            EndpointRecord {
                network_id: self.core.record.id.clone(),
                id: id.to_string(),
                sandbox,
                owner: Some(owner),
                ..EndpointRecord::default()
            },
        )
    }

    /// Release every address `owner` holds in this network's IPAM
    /// (idempotent). A front-end undoing a failed allocation calls it.
    pub fn release_addresses(&self, owner: &OwnerKey) -> Result<(), ModelError> {
        self.core.release(owner, || {
            format!("{:?} ({})", owner.container_id, owner.ifname)
        })
    }

    /// Remove what belongs to endpoints other than `valid` (CNI GC): IPAM
    /// first (every owner not in `valid_owners`), then the driver. Both
    /// run; every error is returned.
    pub fn gc(&self, valid: &[String], valid_owners: &[OwnerKey]) -> Result<(), ModelError> {
        let mut errors = ErrorList::new();
        errors.check(
            self.core
                .optional_ipam(&self.op("gc addresses of"), |d, net| {
                    d.gc(net, valid_owners)
                }),
        );
        errors.check(
            self.core
                .driver
                .gc(&GcRequest {
                    network: self.core.create_request(),
                    valid_endpoints: valid.to_vec(),
                })
                .map_err(|e| ModelError::driver(self.op("gc"), e)),
        );
        errors.into_result()
    }

    /// Ok when IPAM and the driver can serve the network (CNI STATUS).
    pub fn status(&self) -> Result<(), ModelError> {
        self.core
            .optional_ipam(&self.op("IPAM status of"), |d, net| d.status(net))?;
        self.core
            .driver
            .status(&self.core.create_request())
            .map_err(|e| ModelError::driver(self.op("status of"), e))
    }

    /// Delete the network: the driver's part, then its pools. Both run;
    /// every error is returned.
    pub fn delete(self) -> Result<(), ModelError> {
        let mut errors = ErrorList::new();
        errors.check(
            self.core
                .driver
                .delete_network(&self.core.record.id)
                .map_err(|e| ModelError::driver(self.op("delete"), e)),
        );
        if let (Some(ipam), Some(binding)) = (&self.core.ipam, &self.core.record.ipam) {
            for pool in &binding.pools {
                errors.check(ipam.release_pool(&pool.id).map_err(|e| {
                    ModelError::ipam(self.op(&format!("release pool {} of", pool.id)), e)
                }));
            }
        }
        errors.into_result()
    }
}
