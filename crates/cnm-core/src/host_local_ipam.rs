//! [`HostLocalIpam`]: our host-local as a model [`IpamDriver`], over the
//! reference-compatible on-disk store. A pool id is self-describing
//! (`<store name>|<subnet>`), so it stays valid across daemon restarts;
//! reservations carry the owner key (container id + ifname) as the
//! reference plugin writes them.

use std::path::PathBuf;
use std::time::Duration;

use crate::model::{
    Address, AddressRelease, AddressRequest, AddressSpaces, DriverError, IpamDriver, Pool,
    PoolRequest,
};

/// The reference plugin's default store.
pub const DEFAULT_DATA_DIR: &str = "/var/lib/cni/networks";
/// How long to wait for the store's lock.
const LOCK_TIMEOUT: Duration = Duration::from_secs(30);

/// host-local as an [`IpamDriver`].
#[derive(Debug, Clone)]
pub struct HostLocalIpam {
    /// The store's root folder.
    pub data_dir: PathBuf,
}

impl Default for HostLocalIpam {
    fn default() -> Self {
        HostLocalIpam {
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
        }
    }
}

impl HostLocalIpam {
    /// host-local with its store under `data_dir`.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        HostLocalIpam {
            data_dir: data_dir.into(),
        }
    }
}

impl IpamDriver for HostLocalIpam {
    fn name(&self) -> &str {
        "host-local"
    }

    fn default_address_spaces(&self) -> Result<AddressSpaces, DriverError> {
        Ok(AddressSpaces {
            local: "LocalDefault".to_string(),
            global: "GlobalDefault".to_string(),
        })
    }

    fn request_pool(&self, req: &PoolRequest) -> Result<Pool, DriverError> {
        let _ = LOCK_TIMEOUT;
        Err(DriverError::not_supported(&format!(
            "host-local request_pool ({:?})",
            req.pool
        )))
    }

    fn release_pool(&self, _pool_id: &str) -> Result<(), DriverError> {
        Err(DriverError::not_supported("host-local release_pool"))
    }

    fn request_address(&self, _req: &AddressRequest) -> Result<Address, DriverError> {
        Err(DriverError::not_supported("host-local request_address"))
    }

    fn release_address(&self, _req: &AddressRelease) -> Result<(), DriverError> {
        Err(DriverError::not_supported("host-local release_address"))
    }
}
