//! [`OverlayPlugin`]: the CNI front-end of the overlay. It is the model's
//! CNI adapter with the overlay driver, plus one step before it: the
//! request's `ipam` section becomes host-local over the blocks this host
//! holds (from the agent's state file) in the agent's store, so ADD never
//! waits on etcd. When every held block is full, ADD fails with code 11
//! and says why. DEL works without the state file (it releases from the
//! store named by the config, or the default one).

use cni_protocol::{CniError, CniResult, Plugin, Request};
use serde_json::Value;

use super::config::{ipam_section, OverlayConfig};
use super::driver::{OverlayDriver, OVERLAY};
use crate::cni::CniAdapter;
use crate::model::Controller;
use crate::system::System;

/// The overlay's CNI plugin.
pub struct OverlayPlugin<S: System + 'static> {
    adapter: CniAdapter<S>,
}

/// The config errors of [`OverlayConfig`] (invalid config, or "try again
/// later" with its code set) as CNI errors.
fn cni_err(e: crate::model::DriverError) -> CniError {
    let code = e.code.unwrap_or(cni_protocol::code::INVALID_NETWORK_CONFIG);
    CniError::new(code, e.msg, e.details)
}

impl<S: System + 'static> OverlayPlugin<S> {
    /// A plugin on `controller`, with the overlay driver registered.
    pub fn new(controller: Controller<S>, about: &str) -> Result<Self, CniError> {
        let driver = OverlayDriver::new(controller.system().clone());
        controller
            .register_driver(OVERLAY, std::sync::Arc::new(driver))
            .map_err(|e| {
                CniError::new(
                    cni_protocol::code::INTERNAL,
                    "registering the overlay driver",
                    e.to_string(),
                )
            })?;
        Ok(OverlayPlugin {
            adapter: CniAdapter::new(controller, OVERLAY, about),
        })
    }

    /// The request with host-local over the held blocks as its IPAM, when
    /// the state is there; `strict` (ADD, CHECK) requires the state.
    fn with_blocks(
        &self,
        req: &Request,
        strict: bool,
    ) -> Result<(Request, Option<usize>), CniError> {
        let cfg = OverlayConfig::from_options(&req.conf.name, &req.conf.raw).map_err(cni_err)?;
        let state = match cfg.load_state() {
            Ok(s) => s,
            Err(e) if strict => return Err(cni_err(e)),
            Err(_) => return Ok((req.clone(), None)),
        };
        let mut req = req.clone();
        req.conf.raw.insert("ipam".into(), ipam_section(&state));
        req.conf.ipam_type = Some("ipam-host-local".into());
        req.stdin = serde_json::to_vec(&Value::Object(req.conf.raw.clone())).map_err(|e| {
            CniError::new(
                cni_protocol::code::INTERNAL,
                "re-encoding the config",
                e.to_string(),
            )
        })?;
        Ok((req, Some(state.blocks.len())))
    }
}

impl<S: System + 'static> Plugin for OverlayPlugin<S> {
    fn add(&self, req: &Request) -> Result<CniResult, CniError> {
        let (req, blocks) = self.with_blocks(req, true)?;
        self.adapter.add(&req).map_err(|e| {
            if e.msg.contains("no IP addresses available") {
                CniError::try_again(
                    format!(
                        "no free address in the {} block(s) of network {:?} this host holds",
                        blocks.unwrap_or(0),
                        req.conf.name
                    ),
                    "the node agent (cnmd) claims another block from etcd before the held ones \
                     run out; it has not (is etcd reachable? is the agent running?). Retry later.",
                )
            } else {
                e
            }
        })
    }

    fn del(&self, req: &Request) -> Result<(), CniError> {
        let (req, _) = self.with_blocks(req, false)?;
        self.adapter.del(&req)
    }

    fn check(&self, req: &Request) -> Result<(), CniError> {
        let (req, _) = self.with_blocks(req, true)?;
        self.adapter.check(&req)
    }

    fn gc(&self, req: &Request) -> Result<(), CniError> {
        let (req, _) = self.with_blocks(req, false)?;
        self.adapter.gc(&req)
    }

    fn status(&self, req: &Request) -> Result<(), CniError> {
        let (req, _) = self.with_blocks(req, true)?;
        self.adapter.status(&req)
    }

    fn about(&self) -> String {
        self.adapter.about()
    }
}
