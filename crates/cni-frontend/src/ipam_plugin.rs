//! [`IpamPlugin`]: an IPAM driver of the model served as a CNI IPAM plugin
//! (the `ipam-host-local` binary is this over `HostLocalIpam`). The same
//! conversions as the in-process path of [`crate::CniAdapter`]: CNI_ARGS
//! checked the same way, the allocation printed as a CNI IPAM result.

use cni_protocol::{CniError, CniResult, IpConfig, NetConf, Plugin, Request};
use cnm_model::{AllocationRequest, IpamDriver, IpamNetwork, NetworkOptions, OwnerKey};
use serde_json::Value;

use super::errors::driver_to_cni;
use super::reply::{cni_dns, cni_route};
use super::request::in_process_ipam_args;

/// A CNI IPAM plugin over an [`IpamDriver`].
pub struct IpamPlugin<D> {
    driver: D,
    about: String,
}

/// `CNI_CONTAINERID` and `CNI_IFNAME` (skel guarantees them for ADD/DEL/CHECK).
fn owner(req: &Request) -> Result<OwnerKey, CniError> {
    match (req.env.container_id.as_deref(), req.env.ifname.as_deref()) {
        (Some(id), Some(ifname)) => Ok(OwnerKey {
            container_id: id.to_string(),
            ifname: ifname.to_string(),
        }),
        _ => Err(CniError::invalid_env(
            "required env variables [CNI_CONTAINERID,CNI_IFNAME] missing",
            "host-local needs the container ID and interface name",
        )),
    }
}

/// The IPAM options of a request: the whole config, with the negotiated
/// version.
fn options(conf: &NetConf) -> NetworkOptions {
    let mut raw = conf.raw.clone();
    if raw.get("cniVersion").and_then(Value::as_str) != Some(conf.cni_version.as_str()) {
        raw.insert("cniVersion".into(), Value::from(conf.cni_version.clone()));
    }
    NetworkOptions(raw)
}

impl<D: IpamDriver> IpamPlugin<D> {
    /// `driver` as a CNI IPAM plugin; `about` is its VERSION text.
    pub fn new(driver: D, about: &str) -> Self {
        IpamPlugin {
            driver,
            about: about.to_string(),
        }
    }

    /// The driver.
    pub fn driver(&self) -> &D {
        &self.driver
    }
}

impl<D: IpamDriver> Plugin for IpamPlugin<D> {
    fn add(&self, req: &Request) -> Result<CniResult, CniError> {
        let owner = owner(req)?;
        let requested = in_process_ipam_args(req)?;
        let options = options(&req.conf);
        let net = IpamNetwork {
            name: &req.conf.name,
            options: &options,
            pools: &[],
        };
        let a = self
            .driver
            .allocate(&net, &AllocationRequest { owner, requested })
            .map_err(|e| driver_to_cni(&e))?;
        Ok(CniResult {
            cni_version: req.conf.cni_version.clone(),
            interfaces: Vec::new(),
            ips: a
                .addresses
                .iter()
                .map(|x| IpConfig {
                    address: x.address,
                    gateway: x.gateway,
                    interface: None,
                })
                .collect(),
            routes: a.routes.iter().map(cni_route).collect(),
            dns: cni_dns(&a.dns),
        })
    }

    /// Needs only `name` and `ipam.dataDir`: a config whose ranges no longer
    /// parse still releases its addresses.
    fn del(&self, req: &Request) -> Result<(), CniError> {
        let owner = owner(req)?;
        let options = options(&req.conf);
        let net = IpamNetwork {
            name: &req.conf.name,
            options: &options,
            pools: &[],
        };
        self.driver
            .release(&net, &owner)
            .map_err(|e| driver_to_cni(&e))
    }

    fn check(&self, req: &Request) -> Result<(), CniError> {
        let owner = owner(req)?;
        in_process_ipam_args(req)?;
        let options = options(&req.conf);
        let net = IpamNetwork {
            name: &req.conf.name,
            options: &options,
            pools: &[],
        };
        self.driver
            .check(&net, &owner)
            .map_err(|e| driver_to_cni(&e))
    }

    fn gc(&self, req: &Request) -> Result<(), CniError> {
        let Some(valid) = req.conf.valid_attachments.as_ref() else {
            return Err(CniError::invalid_config(
                "GC needs cni.dev/valid-attachments",
                "the request has neither cni.dev/valid-attachments nor cni.dev/attachments; nothing was released",
            ));
        };
        let valid: Vec<OwnerKey> = valid
            .iter()
            .map(|a| OwnerKey {
                container_id: a.container_id.clone(),
                ifname: a.ifname.clone(),
            })
            .collect();
        let options = options(&req.conf);
        let net = IpamNetwork {
            name: &req.conf.name,
            options: &options,
            pools: &[],
        };
        self.driver.gc(&net, &valid).map_err(|e| driver_to_cni(&e))
    }

    fn status(&self, req: &Request) -> Result<(), CniError> {
        in_process_ipam_args(req)?;
        let options = options(&req.conf);
        let net = IpamNetwork {
            name: &req.conf.name,
            options: &options,
            pools: &[],
        };
        self.driver.status(&net).map_err(|e| driver_to_cni(&e))
    }

    fn about(&self) -> String {
        self.about.clone()
    }
}
