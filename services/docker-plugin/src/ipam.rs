//! The `IpamDriver.*` calls over the model's [`IpamDriver`](cnm_model::IpamDriver)
//! (host-local, its store under `<state dir>/ipam`, see main.rs).
//!
//! Docker names no owner when it asks for an address, so each address is
//! reserved under an owner key of its own (recorded with the pool), which
//! ReleaseAddress uses. A pool's gateway reserved by the IPAM driver is given
//! to Docker in `Data` (`com.docker.network.gateway`), so Docker does not ask
//! for it again. Identical RequestPool calls share the pool (reference
//! counted, as ipam.md asks); the last ReleasePool releases every address
//! still reserved in it, then the pool.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use cnm_model::{AddressRelease, AddressRequest, OwnerKey, PoolRequest};
use ipnet::IpNet;
use serde_json::{Map, Value};

use crate::error::PluginError;
use crate::plugin::{model_err, Plugin};
use crate::protocol::ipam as proto;
use crate::records::PoolRecord;
use crate::store::Kind;

/// `Options` key of RequestAddress telling what the address is for.
pub const REQUEST_ADDRESS_TYPE: &str = "RequestAddressType";
/// ... the network's gateway.
pub const GATEWAY: &str = "com.docker.network.gateway";

/// The interface name recorded with every reservation (Docker names none).
const OWNER_IFNAME: &str = "docker";

/// Pools handed out when Docker names none (no `--subnet`): the /24s of 10.200.0.0/16 and
/// the /64s of fd63:6e6d:6400::/48 (a unique-local prefix), in order.
pub fn default_pools(v6: bool) -> impl Iterator<Item = IpNet> {
    (0u16..256).filter_map(move |n| {
        let text = if v6 {
            format!("fd63:6e6d:6400:{n:x}::/64")
        } else {
            format!("10.200.{n}.0/24")
        };
        text.parse().ok()
    })
}

fn pool_key(id: &str) -> String {
    format!("pool-{:016x}", cnm_names::fnv1a64(&[id.as_bytes()]))
}

fn string_map(
    what: &str,
    m: Option<&Map<String, Value>>,
) -> Result<BTreeMap<String, String>, PluginError> {
    let mut out = BTreeMap::new();
    for (k, v) in m.into_iter().flatten() {
        let s = match v {
            Value::String(s) => s.clone(),
            Value::Bool(_) | Value::Number(_) => v.to_string(),
            other => {
                return Err(PluginError::invalid(format!(
                    "{what} {k}: expected a string, got {other}"
                )))
            }
        };
        out.insert(k.clone(), s);
    }
    Ok(out)
}

fn parse_net(what: &str, text: &str) -> Result<Option<IpNet>, PluginError> {
    if text.is_empty() {
        return Ok(None);
    }
    text.parse::<IpNet>()
        .map(Some)
        .map_err(|_| PluginError::invalid(format!("{what} {text:?} is not an address/prefix")))
}

fn parse_ip(what: &str, text: &str) -> Result<Option<IpAddr>, PluginError> {
    if text.is_empty() {
        return Ok(None);
    }
    // Docker sends plain addresses; accept a CIDR too.
    let addr = text.split('/').next().unwrap_or_default();
    addr.parse::<IpAddr>()
        .map(Some)
        .map_err(|_| PluginError::invalid(format!("{what} {text:?} is not an IP address")))
}

/// A fresh owner key for one reservation: never reused, also across restarts.
fn new_owner() -> String {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!(
        "docker-{nanos:x}-{:x}-{:x}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    )
}

fn owner(id: &str) -> OwnerKey {
    OwnerKey {
        container_id: id.to_string(),
        ifname: OWNER_IFNAME.to_string(),
    }
}

impl Plugin {
    /// `IpamDriver.GetCapabilities`.
    pub fn ipam_capabilities(&self) -> proto::CapabilitiesReply {
        proto::CapabilitiesReply {
            requires_mac_address: false,
            requires_request_replay: false,
        }
    }

    /// `IpamDriver.GetDefaultAddressSpaces`.
    pub fn address_spaces(&self) -> Result<proto::AddressSpacesReply, PluginError> {
        let s = self
            .ipam
            .default_address_spaces()
            .map_err(|e| model_err("address spaces", e))?;
        Ok(proto::AddressSpacesReply {
            local_default_address_space: s.local,
            global_default_address_space: s.global,
        })
    }

    /// `IpamDriver.RequestPool`.
    pub fn request_pool(
        &self,
        req: &proto::RequestPoolRequest,
    ) -> Result<proto::RequestPoolReply, PluginError> {
        let pool = parse_net("Pool", &req.pool)?;
        let sub_pool = parse_net("SubPool", &req.sub_pool)?;
        if pool.is_none() && sub_pool.is_some() {
            return Err(PluginError::invalid("SubPool without Pool"));
        }
        if let (Some(p), Some(s)) = (pool, sub_pool) {
            if !p.contains(&s) {
                return Err(PluginError::invalid(format!(
                    "SubPool {s} is not inside Pool {p}"
                )));
            }
        }
        if let Some(s) = sub_pool {
            // host-local allocates from the whole subnet: refusing is better than ignoring.
            return Err(PluginError::invalid(format!(
                "SubPool {s} (--ip-range) is not supported: host-local allocates from the whole pool"
            )));
        }
        if let Some(p) = pool.filter(|p| req.v6 && p.addr().is_ipv4()) {
            return Err(PluginError::invalid(format!(
                "V6 is set but Pool {p} is IPv4"
            )));
        }
        let options = string_map("Options", req.options.as_ref())?;
        let _g = self.locked();
        // host-local does not choose subnets: without --subnet the plugin picks the first
        // default pool that overlaps none it has handed out.
        let pool = match pool {
            Some(p) => Some(p),
            None => Some(self.default_pool(req.v6)?),
        };
        let preq = PoolRequest {
            address_space: req.address_space.clone(),
            pool,
            sub_pool,
            options,
            v6: req.v6 || pool.is_some_and(|p| p.addr().is_ipv6()),
        };
        let granted = self
            .ipam
            .request_pool(&preq)
            .map_err(|e| model_err("requesting a pool", e))?;
        let key = pool_key(&granted.id);
        let rec = match self.store.get::<PoolRecord>(Kind::Pool, &key)? {
            Some(mut r) if r.id == granted.id => {
                r.refs = r.refs.saturating_add(1);
                r
            }
            _ => PoolRecord {
                id: granted.id.clone(),
                pool: granted.pool,
                gateway: granted.gateway,
                refs: 1,
                addresses: BTreeMap::new(),
            },
        };
        if let Err(e) = self.store.put(Kind::Pool, &key, &rec) {
            if rec.refs == 1 {
                let _ = self.ipam.release_pool(&granted.id);
            }
            return Err(e);
        }
        let mut data = Map::new();
        if let Some(gw) = rec.gateway {
            data.insert(GATEWAY.into(), Value::from(gw.to_string()));
        }
        Ok(proto::RequestPoolReply {
            pool_id: rec.id,
            pool: rec.pool.to_string(),
            data,
        })
    }

    /// The first of [`default_pools`] overlapping no pool of the store. Caller holds the lock.
    fn default_pool(&self, v6: bool) -> Result<IpNet, PluginError> {
        let taken: Vec<IpNet> = self
            .store
            .list::<PoolRecord>(Kind::Pool)?
            .into_iter()
            .map(|(_, r)| r.pool)
            .collect();
        default_pools(v6)
            .find(|c| {
                !taken
                    .iter()
                    .any(|t| t.contains(&c.network()) || c.contains(&t.network()))
            })
            .ok_or_else(|| {
                PluginError::Conflict("every default pool is in use: give --subnet".into())
            })
    }

    fn pool(&self, id: &str) -> Result<(String, PoolRecord), PluginError> {
        if id.is_empty() {
            return Err(PluginError::invalid("PoolID is empty"));
        }
        let key = pool_key(id);
        match self.store.get::<PoolRecord>(Kind::Pool, &key)? {
            Some(r) if r.id == id => Ok((key, r)),
            _ => Err(PluginError::not_found("pool", id)),
        }
    }

    /// `IpamDriver.ReleasePool` (success when unknown). The last holder's release frees every
    /// address still reserved in the pool.
    pub fn release_pool(&self, req: &proto::ReleasePoolRequest) -> Result<(), PluginError> {
        let _g = self.locked();
        let (key, mut rec) = match self.pool(&req.pool_id) {
            Ok(p) => p,
            Err(PluginError::NotFound { .. }) => return Ok(()),
            Err(e) => return Err(e),
        };
        if rec.refs > 1 {
            rec.refs -= 1;
            return self.store.put(Kind::Pool, &key, &rec);
        }
        for (addr, id) in &rec.addresses {
            self.ipam
                .release_address(&AddressRelease {
                    pool_id: rec.id.clone(),
                    address: Some(*addr),
                    owner: owner(id),
                })
                .map_err(|e| model_err("releasing an address of the pool", e))?;
        }
        self.ipam
            .release_pool(&rec.id)
            .map_err(|e| model_err("releasing the pool", e))?;
        self.store.remove(Kind::Pool, &key)
    }

    /// `IpamDriver.RequestAddress`.
    pub fn request_address(
        &self,
        req: &proto::RequestAddressRequest,
    ) -> Result<proto::RequestAddressReply, PluginError> {
        let preferred = parse_ip("Address", &req.address)?;
        let options = string_map("Options", req.options.as_ref())?;
        let _g = self.locked();
        let (key, mut rec) = self.pool(&req.pool_id)?;
        if let Some(a) = preferred {
            if !rec.pool.contains(&a) {
                return Err(PluginError::invalid(format!(
                    "address {a} is outside pool {}",
                    rec.pool
                )));
            }
        }
        let for_gateway = options.get(REQUEST_ADDRESS_TYPE).map(String::as_str) == Some(GATEWAY);
        if let (true, Some(gw)) = (for_gateway, rec.gateway) {
            if preferred.is_none() || preferred == Some(gw.addr()) {
                return Ok(proto::RequestAddressReply {
                    address: gw.to_string(),
                    data: Map::new(),
                });
            }
        }
        let id = new_owner();
        let granted = self
            .ipam
            .request_address(&AddressRequest {
                pool_id: rec.id.clone(),
                preferred,
                owner: owner(&id),
                options,
            })
            .map_err(|e| model_err("requesting an address", e))?;
        let addr = granted.address.addr();
        rec.addresses.insert(addr, id.clone());
        if let Err(e) = self.store.put(Kind::Pool, &key, &rec) {
            let _ = self.ipam.release_address(&AddressRelease {
                pool_id: rec.id.clone(),
                address: Some(addr),
                owner: owner(&id),
            });
            return Err(e);
        }
        Ok(proto::RequestAddressReply {
            address: granted.address.to_string(),
            data: Map::new(),
        })
    }

    /// `IpamDriver.ReleaseAddress` (success when the address is not reserved).
    pub fn release_address(&self, req: &proto::ReleaseAddressRequest) -> Result<(), PluginError> {
        let addr = parse_ip("Address", &req.address)?
            .ok_or_else(|| PluginError::invalid("Address is empty"))?;
        let _g = self.locked();
        let (key, mut rec) = match self.pool(&req.pool_id) {
            Ok(p) => p,
            Err(PluginError::NotFound { .. }) => return Ok(()),
            Err(e) => return Err(e),
        };
        let Some(id) = rec.addresses.get(&addr).cloned() else {
            // The pool's own gateway, or never handed out: nothing reserved for Docker.
            return Ok(());
        };
        self.ipam
            .release_address(&AddressRelease {
                pool_id: rec.id.clone(),
                address: Some(addr),
                owner: owner(&id),
            })
            .map_err(|e| model_err("releasing the address", e))?;
        rec.addresses.remove(&addr);
        self.store.put(Kind::Pool, &key, &rec)
    }
}
