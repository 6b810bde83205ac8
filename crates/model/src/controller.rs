//! The controller (libnetwork's `NetworkController`): registers network and
//! IPAM drivers by name, creates and restores networks, creates and opens
//! sandboxes. It registers no driver itself: each front-end registers the
//! ones it serves. Cheap to clone; shared across threads.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use super::driver::NetworkDriver;
use super::error::{DriverError, ModelError};
use super::ipam_driver::{IpamDriver, PoolRecord, PoolRequest};
use super::network::Network;
use super::network_data::{CreateNetwork, IpamData, NetworkOptions};
use super::records::{IpamRecord, NetworkRecord};
use super::sandbox::Sandbox;
use super::sandbox_ops::SandboxOps;

/// What a new network is made of. Construct with `..Default::default()`.
#[derive(Debug, Clone, Default)]
pub struct NetworkSpec {
    /// The id (empty: the name).
    pub id: String,
    /// The name (validated: letters, digits, `_ . -`, as CNI network names).
    pub name: String,
    /// The registered network driver.
    pub driver: String,
    /// The driver options.
    pub options: NetworkOptions,
    /// Let the model allocate endpoint addresses from these pools of this
    /// registered IPAM driver; `None`: addresses come with each endpoint.
    pub ipam: Option<IpamSpec>,
    /// Pool data to give the driver directly (with or without `ipam`).
    pub ipv4: Vec<IpamData>,
    /// IPv6 pool data.
    pub ipv6: Vec<IpamData>,
}

/// The IPAM part of a [`NetworkSpec`].
#[derive(Debug, Clone, Default)]
pub struct IpamSpec {
    /// The registered IPAM driver.
    pub driver: String,
    /// One request per pool (IPv4 and IPv6).
    pub pools: Vec<PoolRequest>,
    /// The IPAM driver's options (`None`: the network's options).
    pub options: Option<NetworkOptions>,
}

struct Registry {
    drivers: HashMap<String, Arc<dyn NetworkDriver>>,
    ipam: HashMap<String, Arc<dyn IpamDriver>>,
}

struct Inner {
    sandboxes: Arc<dyn SandboxOps>,
    registry: RwLock<Registry>,
}

/// libnetwork's NetworkController, over the machine's [`SandboxOps`] (the
/// kernel seam's Linux implementation, or its fake in tests).
#[derive(Clone)]
pub struct Controller {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Controller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Controller")
            .field("drivers", &self.driver_names())
            .finish_non_exhaustive()
    }
}

impl Controller {
    /// A controller with no driver registered, whose sandboxes use `sandboxes`.
    pub fn new(sandboxes: Arc<dyn SandboxOps>) -> Self {
        Controller {
            inner: Arc::new(Inner {
                sandboxes,
                registry: RwLock::new(Registry {
                    drivers: HashMap::new(),
                    ipam: HashMap::new(),
                }),
            }),
        }
    }

    /// The sandbox operations the controller's sandboxes use.
    pub fn sandbox_ops(&self) -> &Arc<dyn SandboxOps> {
        &self.inner.sandboxes
    }

    fn registry(&self) -> std::sync::RwLockReadGuard<'_, Registry> {
        // A panic while registering leaves the map consistent (one insert).
        self.inner
            .registry
            .read()
            .unwrap_or_else(|p| p.into_inner())
    }

    fn registry_mut(&self) -> std::sync::RwLockWriteGuard<'_, Registry> {
        self.inner
            .registry
            .write()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Register a network driver under `name`; a taken name is an error.
    pub fn register_driver(
        &self,
        name: &str,
        driver: Arc<dyn NetworkDriver>,
    ) -> Result<(), ModelError> {
        let mut reg = self.registry_mut();
        if reg.drivers.contains_key(name) {
            return Err(ModelError::DriverExists {
                what: "network",
                name: name.to_string(),
            });
        }
        reg.drivers.insert(name.to_string(), driver);
        Ok(())
    }

    /// Register an IPAM driver under `name`; a taken name is an error.
    pub fn register_ipam_driver(
        &self,
        name: &str,
        driver: Arc<dyn IpamDriver>,
    ) -> Result<(), ModelError> {
        let mut reg = self.registry_mut();
        if reg.ipam.contains_key(name) {
            return Err(ModelError::DriverExists {
                what: "IPAM",
                name: name.to_string(),
            });
        }
        reg.ipam.insert(name.to_string(), driver);
        Ok(())
    }

    /// The network driver registered as `name`.
    pub fn driver(&self, name: &str) -> Result<Arc<dyn NetworkDriver>, ModelError> {
        self.registry()
            .drivers
            .get(name)
            .cloned()
            .ok_or_else(|| ModelError::UnknownDriver {
                what: "network",
                name: name.to_string(),
            })
    }

    /// The IPAM driver registered as `name`.
    pub fn ipam_driver(&self, name: &str) -> Result<Arc<dyn IpamDriver>, ModelError> {
        self.registry()
            .ipam
            .get(name)
            .cloned()
            .ok_or_else(|| ModelError::UnknownDriver {
                what: "IPAM",
                name: name.to_string(),
            })
    }

    /// The registered network driver names, sorted.
    pub fn driver_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.registry().drivers.keys().cloned().collect();
        names.sort();
        names
    }

    /// Create a network: request its pools (when `spec.ipam` is given), then
    /// have the driver create it. A failure releases the pools again.
    pub fn new_network(&self, spec: NetworkSpec) -> Result<Network, ModelError> {
        cnm_names::validate_network_name(&spec.name)
            .map_err(|e| ModelError::invalid("network name", e))?;
        let driver = self.driver(&spec.driver)?;
        let mut record = NetworkRecord {
            id: if spec.id.is_empty() {
                spec.name.clone()
            } else {
                spec.id.clone()
            },
            name: spec.name.clone(),
            driver: spec.driver.clone(),
            options: spec.options,
            ipv4: spec.ipv4,
            ipv6: spec.ipv6,
            ipam: None,
        };
        let mut ipam_driver = None;
        if let Some(ipam) = &spec.ipam {
            let idriver = self.ipam_driver(&ipam.driver)?;
            let mut pools = Vec::new();
            for req in &ipam.pools {
                match idriver.request_pool(req) {
                    Ok(pool) => {
                        let data = IpamData {
                            address_space: req.address_space.clone(),
                            pool: pool.pool,
                            gateway: pool.gateway,
                            aux_addresses: Default::default(),
                        };
                        if pool.pool.addr().is_ipv4() {
                            record.ipv4.push(data);
                        } else {
                            record.ipv6.push(data);
                        }
                        pools.push(PoolRecord {
                            id: pool.id,
                            pool: pool.pool,
                        });
                    }
                    Err(e) => {
                        release_pools(idriver.as_ref(), &pools);
                        return Err(ModelError::driver(
                            format!("request pool for network {:?}", spec.name),
                            e,
                        ));
                    }
                }
            }
            record.ipam = Some(IpamRecord {
                driver: ipam.driver.clone(),
                pools,
                options: ipam.options.clone(),
            });
            ipam_driver = Some(idriver);
        }
        if let Err(e) = driver.create_network(&create_request(&record)) {
            if let (Some(i), Some(r)) = (&ipam_driver, &record.ipam) {
                release_pools(i.as_ref(), &r.pools);
            }
            return Err(ModelError::driver(
                format!("create network {:?}", record.name),
                e,
            ));
        }
        Ok(Network::new(record, driver, ipam_driver))
    }

    /// Rebuild a network from its record (a daemon after a restart, or a
    /// one-shot front-end deriving it from config): the driver accepts it
    /// again (idempotent); pools are not requested again.
    pub fn restore_network(&self, record: NetworkRecord) -> Result<Network, ModelError> {
        let ipam = self.bound_ipam(&record)?;
        self.restore(record, ipam)
    }

    /// [`Controller::restore_network`] with an IPAM driver the caller holds
    /// instead of a registered one: a front-end's request-scoped driver
    /// (the CNI front-end's exec'd IPAM plugin, which carries the request).
    pub fn restore_network_with_ipam(
        &self,
        record: NetworkRecord,
        ipam: Arc<dyn IpamDriver>,
    ) -> Result<Network, ModelError> {
        self.restore(record, Some(ipam))
    }

    fn restore(
        &self,
        record: NetworkRecord,
        ipam: Option<Arc<dyn IpamDriver>>,
    ) -> Result<Network, ModelError> {
        cnm_names::validate_network_name(&record.name)
            .map_err(|e| ModelError::invalid("network name", e))?;
        let driver = self.driver(&record.driver)?;
        driver
            .create_network(&create_request(&record))
            .map_err(|e| ModelError::driver(format!("create network {:?}", record.name), e))?;
        Ok(Network::new(record, driver, ipam))
    }

    fn bound_ipam(
        &self,
        record: &NetworkRecord,
    ) -> Result<Option<Arc<dyn IpamDriver>>, ModelError> {
        match &record.ipam {
            Some(i) => Ok(Some(self.ipam_driver(&i.driver)?)),
            None => Ok(None),
        }
    }

    /// A network value for `record` without asking the driver: for teardown
    /// (GC, deleting endpoints) of a network whose options may no longer
    /// validate. Unknown drivers are still an error.
    pub fn attach_network(&self, record: NetworkRecord) -> Result<Network, ModelError> {
        let ipam = self.bound_ipam(&record)?;
        let driver = self.driver(&record.driver)?;
        Ok(Network::new(record, driver, ipam))
    }

    /// [`Controller::attach_network`] with an IPAM driver the caller holds.
    pub fn attach_network_with_ipam(
        &self,
        record: NetworkRecord,
        ipam: Arc<dyn IpamDriver>,
    ) -> Result<Network, ModelError> {
        let driver = self.driver(&record.driver)?;
        Ok(Network::new(record, driver, Some(ipam)))
    }

    /// A new sandbox: a network namespace created at `key` (a path), loopback
    /// up. Destroying the sandbox removes it.
    pub fn new_sandbox(&self, key: &str) -> Result<Sandbox, ModelError> {
        Sandbox::create(Arc::clone(&self.inner.sandboxes), key)
    }

    /// An existing sandbox at `key`, checked to be a network namespace (and
    /// not the caller's own unless `allow_own`). Destroying it leaves the
    /// namespace in place.
    pub fn open_sandbox(&self, key: &str, allow_own: bool) -> Result<Sandbox, ModelError> {
        Sandbox::open(Arc::clone(&self.inner.sandboxes), key, allow_own)
    }

    /// A sandbox value for `key` without checking or creating the
    /// namespace: for a front-end whose runtime manages the namespace itself
    /// (Docker moves the interface into it) and for teardown, when the
    /// namespace may already be gone. Destroying it leaves the namespace.
    pub fn detached_sandbox(&self, key: &str, allow_own: bool) -> Sandbox {
        Sandbox::detached(Arc::clone(&self.inner.sandboxes), key, allow_own)
    }

    /// Same as [`Controller::detached_sandbox`] (the name the CNI adapter's
    /// DEL uses).
    pub fn sandbox_for_teardown(&self, key: &str, allow_own: bool) -> Sandbox {
        self.detached_sandbox(key, allow_own)
    }
}

/// The driver's view of a network record.
fn create_request(record: &NetworkRecord) -> CreateNetwork {
    CreateNetwork {
        id: record.id.clone(),
        name: record.name.clone(),
        options: record.options.clone(),
        ipv4: record.ipv4.clone(),
        ipv6: record.ipv6.clone(),
    }
}

/// Release pools, best effort (used on rollback).
fn release_pools(ipam: &dyn IpamDriver, pools: &[PoolRecord]) -> Vec<DriverError> {
    pools
        .iter()
        .filter_map(|p| ipam.release_pool(&p.id).err())
        .collect()
}
