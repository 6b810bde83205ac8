//! [`HeldBlocksIpam`]: the overlay's IPAM driver. Addresses come from the
//! blocks this host holds (the agent claims them in etcd and lists them in
//! the state file), allocated by cluster-ipam's typed allocator in the
//! host-local store (`<dataDir>/<network>/`, same format and lock as
//! `ipam-host-local`), so no call waits on etcd. Every held block full is
//! "try again later" saying why; DEL and GC work without the state file
//! (nothing to release then, as nothing can have been allocated).

use std::sync::Arc;
use std::time::Duration;

use cnm_cluster_ipam::{local, ClusterIpamError};
use cnm_ipam::{BootSource, SystemBoot, DEFAULT_LOCK_TIMEOUT};
use cnm_model::{
    Address, AddressRelease, AddressRequest, AddressSpaces, Allocation, AllocationRequest,
    DriverError, ErrorKind, IpamDriver, IpamNetwork, OwnerKey, Pool, PoolRequest,
};
use serde_json::Value;

use crate::states::{Loaded, States};

/// The name front-ends register the held-blocks IPAM driver under.
pub const HELD_BLOCKS_IPAM: &str = "overlay-blocks";

/// Why an ADD found no address: the agent has not claimed a block in time.
const BLOCKS_FULL_WHY: &str = "the node agent (cnmd) claims another block from etcd before the \
     held ones run out; it has not (is etcd reachable? is the agent running?). Retry later.";

/// Allocation inside the blocks this host holds.
#[derive(Clone)]
pub struct HeldBlocksIpam {
    states: Arc<States>,
    /// How long to wait for the store's lock.
    pub lock_timeout: Duration,
    boot: Arc<dyn BootSource>,
}

impl std::fmt::Debug for HeldBlocksIpam {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HeldBlocksIpam")
            .field("lock_timeout", &self.lock_timeout)
            .finish_non_exhaustive()
    }
}

fn driver_error(e: ClusterIpamError) -> DriverError {
    match e {
        e @ ClusterIpamError::BlocksFull { .. } => {
            DriverError::new(ErrorKind::TryAgainLater, e.to_string(), BLOCKS_FULL_WHY)
                .with_source(e)
        }
        ClusterIpamError::Ipam(e) => e.into(),
        e @ (ClusterIpamError::BadState { .. } | ClusterIpamError::Config { .. }) => {
            DriverError::caused_by(ErrorKind::InvalidConfig, "invalid overlay state", e)
        }
        e => DriverError::caused_by(ErrorKind::Internal, "overlay IPAM", e),
    }
}

/// The config's version (as the CNI front-end negotiated it).
fn cni_version<'a>(net: &'a IpamNetwork<'_>) -> &'a str {
    net.options
        .get("cniVersion")
        .and_then(Value::as_str)
        .unwrap_or("")
}

impl HeldBlocksIpam {
    pub(crate) fn new(states: Arc<States>) -> Self {
        HeldBlocksIpam {
            states,
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
            boot: Arc::new(SystemBoot),
        }
    }

    /// The same, waiting up to `timeout` for the store's lock.
    pub fn with_lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = timeout;
        self
    }

    /// The same, in the boot `boot` says (tests simulate reboots).
    pub fn with_boot(mut self, boot: impl BootSource + 'static) -> Self {
        self.boot = Arc::new(boot);
        self
    }

    /// The state, when it can be read (teardown needs none).
    fn lenient(&self, net: &IpamNetwork<'_>) -> Option<Arc<Loaded>> {
        self.states.take(net.name, net.options).ok()
    }

    fn no_pools() -> DriverError {
        DriverError::not_supported("pools (the node agent claims the overlay's blocks)")
    }
}

impl IpamDriver for HeldBlocksIpam {
    fn name(&self) -> &str {
        HELD_BLOCKS_IPAM
    }

    fn default_address_spaces(&self) -> Result<AddressSpaces, DriverError> {
        Ok(AddressSpaces {
            local: "LocalDefault".to_string(),
            global: "GlobalDefault".to_string(),
        })
    }

    fn request_pool(&self, _req: &PoolRequest) -> Result<Pool, DriverError> {
        Err(Self::no_pools())
    }

    fn release_pool(&self, _pool_id: &str) -> Result<(), DriverError> {
        Err(Self::no_pools())
    }

    fn request_address(&self, _req: &AddressRequest) -> Result<Address, DriverError> {
        Err(Self::no_pools())
    }

    fn release_address(&self, _req: &AddressRelease) -> Result<(), DriverError> {
        Err(Self::no_pools())
    }

    fn allocate(
        &self,
        net: &IpamNetwork<'_>,
        req: &AllocationRequest,
    ) -> Result<Allocation, DriverError> {
        let loaded = self.states.take(net.name, net.options)?;
        // CNI_ARGS `IP` (the caller's), then `args.cni.ips`, `runtimeConfig.ips`.
        let mut requested = req.requested.clone();
        requested.extend(cnm_ipam::requested_addresses(&net.options.0)?);
        local::allocate(
            &loaded.state,
            cni_version(net),
            &requested,
            (&req.owner.container_id, &req.owner.ifname),
            self.lock_timeout,
            self.boot.as_ref(),
        )
        .map_err(driver_error)
    }

    fn release(&self, net: &IpamNetwork<'_>, owner: &OwnerKey) -> Result<(), DriverError> {
        let Some(loaded) = self.lenient(net) else {
            return Ok(());
        };
        local::release(
            &loaded.state.data_dir,
            net.name,
            &owner.container_id,
            &owner.ifname,
            self.lock_timeout,
        )
        .map_err(driver_error)
    }

    fn check(&self, net: &IpamNetwork<'_>, owner: &OwnerKey) -> Result<(), DriverError> {
        let loaded = self.states.take(net.name, net.options)?;
        Ok(cnm_ipam::ops::check(
            &loaded.state.data_dir,
            net.name,
            &owner.container_id,
            &owner.ifname,
            self.lock_timeout,
        )?)
    }

    fn gc(&self, net: &IpamNetwork<'_>, valid: &[OwnerKey]) -> Result<(), DriverError> {
        let Some(loaded) = self.lenient(net) else {
            return Ok(());
        };
        let valid: Vec<(String, String)> = valid
            .iter()
            .map(|o| (o.container_id.clone(), o.ifname.clone()))
            .collect();
        Ok(cnm_ipam::ops::gc_all(
            &loaded.state.data_dir,
            net.name,
            &valid,
            self.lock_timeout,
        )?)
    }

    fn status(&self, net: &IpamNetwork<'_>) -> Result<(), DriverError> {
        let loaded = self.states.take(net.name, net.options)?;
        let cfg = local::ipam_config(&loaded.state, cni_version(net), &[]).map_err(driver_error)?;
        Ok(cnm_ipam::ops::status_with_boot(
            &cfg,
            self.lock_timeout,
            self.boot.as_ref(),
        )?)
    }
}
