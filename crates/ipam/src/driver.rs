//! [`HostLocalIpam`]: our host-local as the model's [`IpamDriver`], over the
//! reference-compatible on-disk store (`<data dir>/<store name>/`).
//!
//! Two ways a network binds it:
//! - by its options (a CNI network: the whole CNI config, whose `ipam`
//!   section names the ranges, `dataDir`, routes and `resolvConf`, as the
//!   reference's `LoadIPAMConfig` reads it): `allocate` runs ADD, `release`
//!   DEL, `check` CHECK, `gc` GC and `status` STATUS, byte-compatible with
//!   the reference plugin;
//! - by pools it requested (libnetwork's `request_pool`, Docker's IPAM
//!   protocol): a pool id is self-describing (`<store name>|<subnet>`), so
//!   it stays valid across daemon restarts.
//!
//! Reservations carry the owner key (container id + ifname) exactly as the
//! reference plugin writes them.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use cnm_model::{
    Address, AddressRelease, AddressRequest, AddressSpaces, Allocation, AllocationRequest,
    DriverError, IpamDriver, IpamNetwork, NetworkOptions, OwnerKey, Pool, PoolRecord, PoolRequest,
};
use ipnet::IpNet;
use serde_json::{json, Map, Value};

use crate::boot::{BootSource, SystemBoot};
use crate::config::{data_dir_of, IpamConfig};
use crate::lock::DEFAULT_LOCK_TIMEOUT;
use crate::ops;

pub use crate::store::DEFAULT_DATA_DIR;

/// host-local as an [`IpamDriver`].
#[derive(Clone)]
pub struct HostLocalIpam {
    /// The store's root folder for networks bound by pools (a network
    /// bound by options names its own, `ipam.dataDir`).
    pub data_dir: PathBuf,
    /// How long to wait for a store's lock.
    pub lock_timeout: Duration,
    boot: Arc<dyn BootSource>,
}

impl std::fmt::Debug for HostLocalIpam {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostLocalIpam")
            .field("data_dir", &self.data_dir)
            .field("lock_timeout", &self.lock_timeout)
            .finish_non_exhaustive()
    }
}

impl Default for HostLocalIpam {
    fn default() -> Self {
        HostLocalIpam::new(DEFAULT_DATA_DIR)
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

/// A network without pools is bound by its options (a CNI config's `ipam`
/// says where addresses come from).
fn bound_by_options(net: &IpamNetwork<'_>) -> bool {
    net.pools.is_empty()
}

/// The config's version (the CNI front-end puts the negotiated one there).
fn cni_version(options: &NetworkOptions) -> &str {
    options
        .get("cniVersion")
        .and_then(Value::as_str)
        .unwrap_or("")
}

impl HostLocalIpam {
    /// host-local with the store of pool-bound networks under `data_dir`,
    /// in the running boot, waiting up to 30 s for a store's lock.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        HostLocalIpam {
            data_dir: data_dir.into(),
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
            boot: Arc::new(SystemBoot),
        }
    }

    /// The same, waiting up to `timeout` for a store's lock.
    pub fn with_lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = timeout;
        self
    }

    /// The same, in the boot `boot` says (tests simulate reboots).
    pub fn with_boot(mut self, boot: impl BootSource + 'static) -> Self {
        self.boot = Arc::new(boot);
        self
    }

    /// The config of a network bound by options (strict, as ADD reads it).
    fn options_config(
        &self,
        net: &IpamNetwork<'_>,
        requested: &[IpAddr],
    ) -> Result<IpamConfig, DriverError> {
        Ok(IpamConfig::from_raw(
            &net.options.0,
            net.name,
            cni_version(net.options),
            requested,
        )?)
    }

    /// The host-local config of pools of one store, as a CNI config would
    /// give it (one range set per pool).
    fn pools_config(
        &self,
        name: &str,
        subnets: &[IpNet],
        requested: &[IpAddr],
    ) -> Result<IpamConfig, DriverError> {
        let ranges: Vec<Value> = subnets
            .iter()
            .map(|s| json!([{"subnet": s.to_string()}]))
            .collect();
        let raw: Map<String, Value> = match json!({
            "name": name,
            "ipam": {
                "type": "host-local",
                "ranges": ranges,
                "dataDir": self.data_dir.display().to_string(),
            }
        }) {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        Ok(IpamConfig::from_raw(&raw, name, "1.0.0", requested)?)
    }

    /// The stores of a pool-bound network and their pools' subnets.
    fn stores(pools: &[PoolRecord]) -> Result<Vec<(String, Vec<IpNet>)>, DriverError> {
        let mut out: Vec<(String, Vec<IpNet>)> = Vec::new();
        for p in pools {
            let (name, subnet) = parse_pool_id(&p.id)?;
            match out.iter_mut().find(|(n, _)| n == name) {
                Some((_, subnets)) => subnets.push(subnet),
                None => out.push((name.to_string(), vec![subnet])),
            }
        }
        Ok(out)
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
        crate::store::validate_network_name(&name)?;
        // Validates the subnet as a range (too small, reserved...).
        let cfg = self.pools_config(&name, &[pool], &[])?;
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
        let requested: Vec<IpAddr> = req.preferred.into_iter().collect();
        let cfg = self.pools_config(name, &[subnet], &requested)?;
        let got = ops::add_with_boot(
            &cfg,
            &req.owner.container_id,
            &req.owner.ifname,
            self.lock_timeout,
            self.boot.as_ref(),
        )?;
        let a = got.addresses.first().ok_or_else(|| {
            DriverError::ipam("host-local returned no address", req.pool_id.clone())
        })?;
        Ok(Address {
            address: a.address,
            gateway: a.gateway,
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
            self.lock_timeout,
        )?;
        Ok(())
    }

    /// ADD: one address per range set (or pool), all under the store's lock.
    fn allocate(
        &self,
        net: &IpamNetwork<'_>,
        req: &AllocationRequest,
    ) -> Result<Allocation, DriverError> {
        let (cid, ifname) = (&req.owner.container_id, &req.owner.ifname);
        if bound_by_options(net) {
            let cfg = self.options_config(net, &req.requested)?;
            return Ok(ops::add_with_boot(
                &cfg,
                cid,
                ifname,
                self.lock_timeout,
                self.boot.as_ref(),
            )?);
        }
        let mut out = Allocation::default();
        let stores = Self::stores(net.pools)?;
        for (i, (name, subnets)) in stores.iter().enumerate() {
            let got = self
                .pools_config(name, subnets, &req.requested)
                .and_then(|cfg| {
                    Ok(ops::add_with_boot(
                        &cfg,
                        cid,
                        ifname,
                        self.lock_timeout,
                        self.boot.as_ref(),
                    )?)
                });
            match got {
                Ok(a) => out.addresses.extend(a.addresses),
                Err(e) => {
                    for (done, _) in &stores[..i] {
                        let _ = ops::del(&self.data_dir, done, cid, ifname, self.lock_timeout);
                    }
                    return Err(e);
                }
            }
        }
        Ok(out)
    }

    /// DEL: needs only the network's name and `ipam.dataDir`, so a config
    /// whose ranges no longer parse still releases its addresses.
    fn release(&self, net: &IpamNetwork<'_>, owner: &OwnerKey) -> Result<(), DriverError> {
        let (cid, ifname) = (&owner.container_id, &owner.ifname);
        if bound_by_options(net) {
            let dir = data_dir_of(&net.options.0)?;
            ops::del(&dir, net.name, cid, ifname, self.lock_timeout)?;
            return Ok(());
        }
        let mut first = None;
        for (name, _) in Self::stores(net.pools)? {
            if let Err(e) = ops::del(&self.data_dir, &name, cid, ifname, self.lock_timeout) {
                first.get_or_insert(DriverError::from(e));
            }
        }
        first.map_or(Ok(()), Err)
    }

    /// CHECK: the owner still holds a reservation.
    fn check(&self, net: &IpamNetwork<'_>, owner: &OwnerKey) -> Result<(), DriverError> {
        let (cid, ifname) = (&owner.container_id, &owner.ifname);
        if bound_by_options(net) {
            let cfg = self.options_config(net, &[])?;
            return Ok(ops::check(
                &cfg.data_dir,
                &cfg.name,
                cid,
                ifname,
                self.lock_timeout,
            )?);
        }
        for (name, _) in Self::stores(net.pools)? {
            ops::check(&self.data_dir, &name, cid, ifname, self.lock_timeout)?;
        }
        Ok(())
    }

    /// GC: releases every reservation not held by one of `valid`.
    fn gc(&self, net: &IpamNetwork<'_>, valid: &[OwnerKey]) -> Result<(), DriverError> {
        let valid: Vec<(String, String)> = valid
            .iter()
            .map(|o| (o.container_id.clone(), o.ifname.clone()))
            .collect();
        if bound_by_options(net) {
            let dir = data_dir_of(&net.options.0)?;
            return Ok(ops::gc_all(&dir, net.name, &valid, self.lock_timeout)?);
        }
        let names: BTreeSet<String> = Self::stores(net.pools)?
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        for name in names {
            ops::gc_all(&self.data_dir, &name, &valid, self.lock_timeout)?;
        }
        Ok(())
    }

    /// STATUS: the store is writable and every range set has room.
    fn status(&self, net: &IpamNetwork<'_>) -> Result<(), DriverError> {
        if bound_by_options(net) {
            let cfg = self.options_config(net, &[])?;
            return Ok(ops::status_with_boot(
                &cfg,
                self.lock_timeout,
                self.boot.as_ref(),
            )?);
        }
        for (name, subnets) in Self::stores(net.pools)? {
            let cfg = self.pools_config(&name, &subnets, &[])?;
            ops::status_with_boot(&cfg, self.lock_timeout, self.boot.as_ref())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cnm_model::OwnerKey;

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
        assert_eq!(e.kind, cnm_model::ErrorKind::InvalidArgument);
        let e = ipam
            .request_address(&AddressRequest {
                pool_id: "nonsense".into(),
                owner: owner("c1"),
                ..Default::default()
            })
            .expect_err("bad pool id");
        assert_eq!(e.kind, cnm_model::ErrorKind::NotFound);
        let e = ipam
            .request_address(&AddressRequest {
                pool_id: "n|10.1.0.0/24".into(),
                ..Default::default()
            })
            .expect_err("no owner");
        assert_eq!(e.kind, cnm_model::ErrorKind::InvalidArgument);
    }
}
