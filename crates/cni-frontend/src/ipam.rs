//! IPAM for CNI requests, always through the model's `IpamDriver`:
//! - our own drivers run in-process (host-local, registered under its
//!   names; the overlay's held blocks);
//! - a foreign CNI IPAM plugin (dhcp, static, whereabouts, the reference
//!   host-local when the drop-in check says the `host-local` in CNI_PATH
//!   is not ours) is executed from CNI_PATH as the spec says, wrapped as an
//!   IPAM driver ([`ExecIpam`]) that carries the request it serves;
//! - [`FaultIpam`] marks the `after-ipam` fault point of ADD.

use std::path::PathBuf;
use std::sync::Arc;

use cni_protocol::{CniEnv, CniError, Request};
use cnm_kernel::FaultPoints;
use cnm_model::{
    Address, AddressRelease, AddressRequest, AddressSpaces, Allocation, AllocationRequest,
    DriverError, InterfaceAddress, IpamDriver, IpamNetwork, OwnerKey, Pool, PoolRequest,
};

use super::errors::driver_error;
use super::reply::model_dns;
use super::request::route_from_cni;

/// The names our host-local runs in-process under (`ipam.type`), unless
/// the IPAM is forced to be executed.
pub const IN_PROCESS_TYPES: &[&str] = &["ipam-host-local"];

/// Where a CNI plugin's IPAM comes from.
#[derive(Debug, Clone)]
pub enum IpamPolicy {
    /// The config's `ipam.type` (none: layer 2 only): ours in-process (a
    /// type in `in_process`, registered under that name; or a drop-in name
    /// whose binary in CNI_PATH is ours), anything else executed from
    /// CNI_PATH.
    FromConfig {
        /// Registered IPAM driver names run in-process.
        in_process: Vec<String>,
        /// Execute every IPAM plugin, ours included.
        force_exec: bool,
        /// CNI_PATH: where `host-local` is looked up to tell whether it is
        /// ours (a drop-in install, see `ipam_dropin`).
        cni_path: Vec<PathBuf>,
    },
    /// Always this registered (in-process) IPAM driver.
    Registered(String),
}

/// The IPAM driver a request gets.
pub(crate) enum Resolved {
    /// No IPAM (layer 2 only).
    None,
    /// A registered driver, run in-process.
    InProcess(String),
    /// A plugin executed for this request.
    Exec(Arc<dyn IpamDriver>),
}

impl Resolved {
    /// The name the network's IPAM binding records.
    pub fn name(&self, ipam_type: Option<&str>) -> Option<String> {
        match self {
            Resolved::None => None,
            Resolved::InProcess(n) => Some(n.clone()),
            Resolved::Exec(_) => ipam_type.map(str::to_string),
        }
    }
}

impl IpamPolicy {
    /// The IPAM driver for `req` (`ipam_type`: the config's `ipam.type`).
    pub(crate) fn resolve(
        &self,
        req: &Request,
        ipam_type: Option<&str>,
        faults: &Arc<dyn FaultPoints>,
    ) -> Resolved {
        match self {
            IpamPolicy::Registered(name) => Resolved::InProcess(name.clone()),
            IpamPolicy::FromConfig {
                in_process,
                force_exec,
                cni_path,
            } => match ipam_type {
                None => Resolved::None,
                Some(t)
                    if !force_exec
                        && (in_process.iter().any(|n| n == t)
                            || super::ipam_dropin::is_ours(t, cni_path)) =>
                {
                    Resolved::InProcess(t.to_string())
                }
                Some(t) => Resolved::Exec(Arc::new(FaultIpam::new(
                    ExecIpam::for_request(t, req),
                    Arc::clone(faults),
                ))),
            },
        }
    }
}

/// A CNI IPAM plugin binary found in CNI_PATH, given the request's whole
/// config on stdin and its environment, as an IPAM driver for that request.
/// Its errors keep the plugin's CNI error as their source (its code is
/// replied unchanged).
pub struct ExecIpam {
    plugin: String,
    stdin: Vec<u8>,
    env: CniEnv,
    cni_version: String,
}

impl ExecIpam {
    /// The plugin `plugin` for request `req`.
    pub fn for_request(plugin: &str, req: &Request) -> Self {
        ExecIpam {
            plugin: plugin.to_string(),
            stdin: req.stdin.clone(),
            env: req.env.clone(),
            cni_version: req.conf.cni_version.clone(),
        }
    }

    fn no_pools() -> DriverError {
        DriverError::not_supported("pools of a CNI IPAM plugin")
    }
}

impl IpamDriver for ExecIpam {
    fn name(&self) -> &str {
        &self.plugin
    }
    fn default_address_spaces(&self) -> Result<AddressSpaces, DriverError> {
        Err(Self::no_pools())
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

    /// ADD of the plugin (CNI_ARGS and everything else come with the
    /// request's environment).
    fn allocate(
        &self,
        _net: &IpamNetwork<'_>,
        _req: &AllocationRequest,
    ) -> Result<Allocation, DriverError> {
        let r = cni_protocol::delegate::delegate_add(
            &self.plugin,
            &self.stdin,
            &self.env,
            &self.cni_version,
        )
        .map_err(driver_error)?;
        if r.ips.is_empty() {
            return Err(driver_error(CniError::ipam(
                "IPAM plugin returned missing IP config",
                "",
            )));
        }
        Ok(Allocation {
            addresses: r
                .ips
                .iter()
                .map(|ip| InterfaceAddress {
                    address: ip.address,
                    gateway: ip.gateway,
                })
                .collect(),
            routes: r.routes.iter().map(route_from_cni).collect(),
            dns: model_dns(&r.dns),
        })
    }

    fn release(&self, _net: &IpamNetwork<'_>, _owner: &OwnerKey) -> Result<(), DriverError> {
        cni_protocol::delegate::delegate_del(&self.plugin, &self.stdin, &self.env)
            .map_err(driver_error)
    }

    fn check(&self, _net: &IpamNetwork<'_>, _owner: &OwnerKey) -> Result<(), DriverError> {
        cni_protocol::delegate::delegate_check(&self.plugin, &self.stdin, &self.env)
            .map_err(driver_error)
    }

    fn gc(&self, _net: &IpamNetwork<'_>, _valid: &[OwnerKey]) -> Result<(), DriverError> {
        cni_protocol::delegate::delegate_gc(&self.plugin, &self.stdin, &self.env)
            .map_err(driver_error)
    }

    fn status(&self, _net: &IpamNetwork<'_>) -> Result<(), DriverError> {
        cni_protocol::delegate::delegate_status(&self.plugin, &self.stdin, &self.env)
            .map_err(driver_error)
    }
}

/// An IPAM driver whose successful allocation is ADD's `after-ipam` fault
/// point (a test build can crash there); everything else passes through.
pub struct FaultIpam<D> {
    inner: D,
    faults: Arc<dyn FaultPoints>,
}

impl<D> FaultIpam<D> {
    /// `inner`, marking `after-ipam` on `faults`.
    pub fn new(inner: D, faults: Arc<dyn FaultPoints>) -> Self {
        FaultIpam { inner, faults }
    }
}

impl<D: IpamDriver> IpamDriver for FaultIpam<D> {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn default_address_spaces(&self) -> Result<AddressSpaces, DriverError> {
        self.inner.default_address_spaces()
    }
    fn request_pool(&self, req: &PoolRequest) -> Result<Pool, DriverError> {
        self.inner.request_pool(req)
    }
    fn release_pool(&self, pool_id: &str) -> Result<(), DriverError> {
        self.inner.release_pool(pool_id)
    }
    fn request_address(&self, req: &AddressRequest) -> Result<Address, DriverError> {
        self.inner.request_address(req)
    }
    fn release_address(&self, req: &AddressRelease) -> Result<(), DriverError> {
        self.inner.release_address(req)
    }
    fn allocate(
        &self,
        net: &IpamNetwork<'_>,
        req: &AllocationRequest,
    ) -> Result<Allocation, DriverError> {
        let a = self.inner.allocate(net, req)?;
        self.faults.fault_point("after-ipam");
        Ok(a)
    }
    fn release(&self, net: &IpamNetwork<'_>, owner: &OwnerKey) -> Result<(), DriverError> {
        self.inner.release(net, owner)
    }
    fn check(&self, net: &IpamNetwork<'_>, owner: &OwnerKey) -> Result<(), DriverError> {
        self.inner.check(net, owner)
    }
    fn gc(&self, net: &IpamNetwork<'_>, valid: &[OwnerKey]) -> Result<(), DriverError> {
        self.inner.gc(net, valid)
    }
    fn status(&self, net: &IpamNetwork<'_>) -> Result<(), DriverError> {
        self.inner.status(net)
    }
}
