//! [`HostLocalIpam`]: our host-local as a model [`IpamDriver`], over the
//! reference-compatible on-disk store (`<data dir>/<store name>/`). A pool
//! id is self-describing (`<store name>|<subnet>`), so it stays valid across
//! daemon restarts; reservations carry the owner key (container id +
//! ifname) exactly as the reference plugin writes them.

use std::path::PathBuf;
use std::time::Duration;

use cnm_ipam::{ops, IpamConfig};
use ipnet::IpNet;
use serde_json::{json, Map, Value};

use crate::cni::driver_error;
use crate::model::{
    Address, AddressRelease, AddressRequest, AddressSpaces, DriverError, IpamDriver, Pool,
    PoolRequest,
};

/// The reference plugin's default store.
pub const DEFAULT_DATA_DIR: &str = "/var/lib/cni/networks";
/// How long to wait for a store's lock.
pub const LOCK_TIMEOUT: Duration = Duration::from_secs(30);

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

/// A pool id split into its store name and subnet.
fn parse_pool_id(id: &str) -> Result<(&str, IpNet), DriverError> {
    let bad = || {
        DriverError::not_found(
            "unknown pool",
            format!("{id:?} is not a host-local pool id"),
        )
    };
    let (name, subnet) = id.split_once('|').ok_or_else(bad)?;
    let subnet: IpNet = subnet.parse().map_err(|_| bad())?;
    Ok((name, subnet))
}

impl HostLocalIpam {
    /// host-local with its store under `data_dir`.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        HostLocalIpam {
            data_dir: data_dir.into(),
        }
    }

    /// The host-local config of one pool, as a CNI config would give it.
    fn config(
        &self,
        name: &str,
        subnet: IpNet,
        preferred: Option<&str>,
    ) -> Result<IpamConfig, DriverError> {
        let raw: Map<String, Value> = match json!({
            "name": name,
            "ipam": {
                "type": "host-local",
                "subnet": subnet.to_string(),
                "dataDir": self.data_dir.display().to_string(),
            }
        }) {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        IpamConfig::from_raw(&raw, name, "1.0.0", preferred).map_err(|e| driver_error(e.into()))
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

    /// The pool must be given (host-local does not pick subnets); the store
    /// is named by option `name`, else after the subnet.
    fn request_pool(&self, req: &PoolRequest) -> Result<Pool, DriverError> {
        let pool = req.pool.ok_or_else(|| {
            DriverError::invalid_argument(
                "host-local needs a pool",
                "request_pool without a subnet",
            )
        })?;
        let pool = pool.trunc();
        let name = match req.options.get("name") {
            Some(n) => n.clone(),
            None => pool.to_string().replace(['/', ':'], "-"),
        };
        cnm_ipam::validate_network_name(&name).map_err(|e| driver_error(e.into()))?;
        // Validates the subnet as a range (too small, reserved...).
        let cfg = self.config(&name, pool, None)?;
        let gateway = cfg
            .ranges
            .first()
            .and_then(|set| set.0.first())
            .and_then(|r| IpNet::new(r.gateway, pool.prefix_len()).ok());
        Ok(Pool {
            id: format!("{name}|{pool}"),
            pool,
            gateway,
            data: Default::default(),
        })
    }

    /// Reservations stay until released (the store belongs to the pool's
    /// name); nothing to do.
    fn release_pool(&self, pool_id: &str) -> Result<(), DriverError> {
        parse_pool_id(pool_id).map(drop)
    }

    fn request_address(&self, req: &AddressRequest) -> Result<Address, DriverError> {
        let (name, subnet) = parse_pool_id(&req.pool_id)?;
        if req.owner.container_id.is_empty() || req.owner.ifname.is_empty() {
            return Err(DriverError::invalid_argument(
                "host-local needs an owner",
                "container id and ifname must be set",
            ));
        }
        let preferred = req.preferred.map(|ip| ip.to_string());
        let cfg = self.config(name, subnet, preferred.as_deref())?;
        let result = ops::add(
            &cfg,
            &req.owner.container_id,
            &req.owner.ifname,
            LOCK_TIMEOUT,
        )
        .map_err(|e| driver_error(e.into()))?;
        let ip = result.ips.first().ok_or_else(|| {
            DriverError::ipam("host-local returned no address", req.pool_id.clone())
        })?;
        Ok(Address {
            address: ip.address,
            gateway: ip.gateway,
        })
    }

    /// Releases every reservation of the owner in the pool's store, as the
    /// reference DEL does.
    fn release_address(&self, req: &AddressRelease) -> Result<(), DriverError> {
        let (name, _) = parse_pool_id(&req.pool_id)?;
        ops::del(
            &self.data_dir,
            name,
            &req.owner.container_id,
            &req.owner.ifname,
            LOCK_TIMEOUT,
        )
        .map(drop)
        .map_err(|e| driver_error(e.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::OwnerKey;

    fn owner(cid: &str) -> OwnerKey {
        OwnerKey {
            container_id: cid.into(),
            ifname: "eth0".into(),
        }
    }

    #[test]
    fn pools_and_addresses_in_the_reference_store() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ipam = HostLocalIpam::new(dir.path());
        let pool = ipam
            .request_pool(&PoolRequest {
                pool: Some("10.77.0.0/24".parse().expect("net")),
                options: [("name".to_string(), "net1".to_string())].into(),
                ..Default::default()
            })
            .expect("pool");
        assert_eq!(pool.id, "net1|10.77.0.0/24");
        assert_eq!(
            pool.gateway.map(|g| g.to_string()).as_deref(),
            Some("10.77.0.1/24")
        );
        let a = ipam
            .request_address(&AddressRequest {
                pool_id: pool.id.clone(),
                owner: owner("c1"),
                ..Default::default()
            })
            .expect("address");
        assert_eq!(a.address.to_string(), "10.77.0.2/24");
        // The reference format: a file named after the address holding the owner.
        let file = dir.path().join("net1").join("10.77.0.2");
        let content = std::fs::read_to_string(&file).expect("reservation file");
        assert!(content.starts_with("c1"), "{content:?}");
        let b = ipam
            .request_address(&AddressRequest {
                pool_id: pool.id.clone(),
                preferred: Some("10.77.0.9".parse().expect("ip")),
                owner: owner("c2"),
                ..Default::default()
            })
            .expect("preferred");
        assert_eq!(b.address.to_string(), "10.77.0.9/24");
        let release = AddressRelease {
            pool_id: pool.id.clone(),
            address: Some(a.address.addr()),
            owner: owner("c1"),
        };
        ipam.release_address(&release).expect("release");
        assert!(!file.exists());
        ipam.release_address(&release)
            .expect("release is idempotent");
        ipam.release_pool(&pool.id).expect("release pool");
    }

    #[test]
    fn bad_requests_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ipam = HostLocalIpam::new(dir.path());
        let e = ipam
            .request_pool(&PoolRequest::default())
            .expect_err("no pool");
        assert_eq!(e.kind, crate::model::ErrorKind::InvalidArgument);
        let e = ipam
            .request_address(&AddressRequest {
                pool_id: "nonsense".into(),
                owner: owner("c1"),
                ..Default::default()
            })
            .expect_err("bad pool id");
        assert_eq!(e.kind, crate::model::ErrorKind::NotFound);
        let e = ipam
            .request_address(&AddressRequest {
                pool_id: "n|10.1.0.0/24".into(),
                ..Default::default()
            })
            .expect_err("no owner");
        assert_eq!(e.kind, crate::model::ErrorKind::InvalidArgument);
    }
}
