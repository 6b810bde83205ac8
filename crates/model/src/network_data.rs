//! What a driver gets when a network is created: its id and name, its
//! options (JSON, or any typed value that serialises to a JSON object) and
//! the IPv4/IPv6 pool data from IPAM (libnetwork's `IPAMData`).

use std::collections::BTreeMap;

use ipnet::IpNet;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::error::DriverError;

/// A network's driver options: a JSON object. Drivers read them into their
/// own typed config with [`NetworkOptions::typed`]; callers may build them
/// from a typed value with [`NetworkOptions::from_typed`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct NetworkOptions(pub Map<String, Value>);

impl NetworkOptions {
    /// No options.
    pub fn new() -> Self {
        NetworkOptions(Map::new())
    }

    /// Options from a JSON value: an object, or null for none.
    pub fn from_json(value: Value) -> Result<Self, DriverError> {
        match value {
            Value::Object(m) => Ok(NetworkOptions(m)),
            Value::Null => Ok(NetworkOptions::new()),
            other => Err(DriverError::invalid_config(
                "invalid network options",
                format!("expected a JSON object, got {other}"),
            )),
        }
    }

    /// Options from any value that serialises to a JSON object.
    pub fn from_typed<T: Serialize>(value: &T) -> Result<Self, DriverError> {
        let v = serde_json::to_value(value)
            .map_err(|e| DriverError::invalid_config("invalid network options", e.to_string()))?;
        Self::from_json(v)
    }

    /// Read the options into a driver's typed config.
    pub fn typed<T: DeserializeOwned>(&self) -> Result<T, DriverError> {
        serde_json::from_value(Value::Object(self.0.clone()))
            .map_err(|e| DriverError::invalid_config("invalid network options", e.to_string()))
    }

    /// One option.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key)
    }
}

/// One pool of a network (libnetwork's `IPAMData`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpamData {
    /// The IPAM driver's address space the pool belongs to.
    #[serde(default)]
    pub address_space: String,
    /// The pool (a subnet).
    pub pool: IpNet,
    /// The gateway address with the pool's prefix length, when IPAM chose one.
    #[serde(default)]
    pub gateway: Option<IpNet>,
    /// Addresses reserved for other uses, by name.
    #[serde(default)]
    pub aux_addresses: BTreeMap<String, IpNet>,
}

/// `NetworkDriver::create_network`'s arguments. Construct with
/// `..Default::default()` so fields added later do not break callers.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CreateNetwork {
    /// The network's id (unique per controller; for CNI the network name).
    pub id: String,
    /// The network's name (what users see; for CNI the config's `name`).
    pub name: String,
    /// The driver options.
    pub options: NetworkOptions,
    /// IPv4 pools (may be empty: addresses then come with each endpoint).
    pub ipv4: Vec<IpamData>,
    /// IPv6 pools.
    pub ipv6: Vec<IpamData>,
}
