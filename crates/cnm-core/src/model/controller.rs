//! The controller: the entry point that owns the driver registry and the
//! settings every call shares (CNI_PATH for exec'd plugins).

use std::path::PathBuf;

use serde_json::{Map, Value};

use super::driver::{Driver, DriverOptions, Kind};
use super::error::ModelError;
use super::network::Network;
use crate::bridge::{BridgeConfig, BridgePlugin};
use crate::system::LinuxSystem;

/// The CNI version the library speaks to drivers.
pub const API_CNI_VERSION: &str = "1.1.0";

/// libnetwork's NetworkController.
#[derive(Debug, Clone)]
pub struct Controller {
    cni_path: Vec<PathBuf>,
}

impl Default for Controller {
    fn default() -> Self {
        Self::new()
    }
}

impl Controller {
    /// A controller looking for plugin binaries in /opt/cni/bin.
    pub fn new() -> Self {
        Controller {
            cni_path: vec![PathBuf::from("/opt/cni/bin")],
        }
    }

    /// A controller with its own plugin search path (like CNI_PATH).
    pub fn with_cni_path(cni_path: Vec<PathBuf>) -> Self {
        Controller { cni_path }
    }

    pub(crate) fn cni_path(&self) -> &[PathBuf] {
        &self.cni_path
    }

    /// Register a driver by type name. `simplebridge` is embedded (runs
    /// in-process) unless `options.exec`; any other name must be a plugin
    /// binary in the controller's CNI_PATH.
    pub fn new_network_driver(
        &self,
        name: &str,
        options: DriverOptions,
    ) -> Result<Driver, ModelError> {
        if name == "simplebridge" && !options.exec {
            return Ok(Driver {
                name: name.to_string(),
                kind: Kind::Embedded(BridgePlugin {
                    system: LinuxSystem::default(),
                }),
            });
        }
        cni_protocol::delegate::find_in_path(name, &self.cni_path)
            .map_err(|e| ModelError::invalid("network driver", e))?;
        Ok(Driver {
            name: name.to_string(),
            kind: Kind::Exec(name.to_string()),
        })
    }

    /// Create a network of `driver` named `name`; `options` are the driver's
    /// config fields (for simplebridge: those of the reference bridge).
    pub fn new_network<'c>(
        &'c self,
        driver: &'c Driver,
        name: &str,
        options: Value,
    ) -> Result<Network<'c>, ModelError> {
        cni_protocol::validate_network_name(name)
            .map_err(|e| ModelError::invalid("network name", e))?;
        let mut conf = match options {
            Value::Object(m) => m,
            Value::Null => Map::new(),
            other => {
                return Err(ModelError::invalid(
                    "network options",
                    format!("expected a JSON object, got {other}"),
                ))
            }
        };
        conf.insert("cniVersion".into(), Value::from(API_CNI_VERSION));
        conf.insert("name".into(), Value::from(name));
        conf.insert("type".into(), Value::from(driver.name()));
        let bytes =
            serde_json::to_vec(&conf).map_err(|e| ModelError::invalid("network options", e))?;
        let parsed = cni_protocol::NetConf::parse(&bytes)
            .map_err(|e| ModelError::invalid("network options", e))?;
        if driver.is_embedded() {
            // Validate now, not at the first endpoint.
            BridgeConfig::from_netconf(&parsed, None)
                .map_err(|e| ModelError::invalid("network options", e))?;
        }
        Ok(Network::new(self, driver, name, bytes))
    }
}
