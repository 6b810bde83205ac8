//! Network drivers: the embedded bridge driver runs in-process (no plugin
//! binary needed); any other driver is a CNI plugin executed from CNI_PATH.

use cni_protocol::{CniError, CniResult, Command, Plugin, Request};

use crate::bridge::BridgePlugin;
use crate::system::LinuxSystem;

/// Options of [`crate::model::Controller::new_network_driver`].
#[derive(Debug, Clone, Default)]
pub struct DriverOptions {
    /// Exec the plugin binary even when an embedded driver exists.
    pub exec: bool,
}

/// How a driver runs.
pub(crate) enum Kind {
    Embedded(BridgePlugin<LinuxSystem>),
    /// A plugin binary, by name, found in the controller's CNI_PATH.
    Exec(String),
}

/// A registered network driver.
pub struct Driver {
    pub(crate) name: String,
    pub(crate) kind: Kind,
}

impl Driver {
    /// The driver's type name (the CNI `type`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// True when the driver runs in-process.
    pub fn is_embedded(&self) -> bool {
        matches!(self.kind, Kind::Embedded(_))
    }

    /// Run one CNI verb. ADD returns the result; the others `None`.
    pub(crate) fn call(&self, req: &Request) -> Result<Option<CniResult>, CniError> {
        match &self.kind {
            Kind::Embedded(p) => match req.env.command {
                Command::Add => p.add(req).map(Some),
                Command::Del => p.del(req).map(|_| None),
                Command::Check => p.check(req).map(|_| None),
                Command::Gc => p.gc(req).map(|_| None),
                Command::Status => p.status(req).map(|_| None),
                Command::Version => Ok(None),
            },
            Kind::Exec(name) => {
                let out =
                    cni_protocol::delegate::exec(name, req.env.command, &req.stdin, &req.env)?;
                if req.env.command == Command::Add {
                    let v: serde_json::Value = serde_json::from_slice(&out).map_err(|e| {
                        CniError::decoding("failed to decode plugin result", format!("{name}: {e}"))
                    })?;
                    CniResult::from_json(&v, &req.conf.cni_version).map(Some)
                } else {
                    Ok(None)
                }
            }
        }
    }
}
