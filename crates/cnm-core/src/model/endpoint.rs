//! An endpoint joins one sandbox to one network; deleting it undoes the join
//! (interface, addresses, host side).

use std::net::IpAddr;

use cni_protocol::CniResult;
use ipnet::IpNet;
use serde_json::Value;

use super::error::ModelError;
use super::network::Network;

/// One interface the driver put into the sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceInfo {
    pub name: String,
    pub mac: Option<String>,
    pub addresses: Vec<IpNet>,
}

/// What the sandbox holds after an endpoint joined it (libnetwork's
/// `sinfo`): the interfaces and the gateways.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxInfo {
    pub interfaces: Vec<InterfaceInfo>,
    /// IPv4 gateway.
    pub gateway: Option<IpAddr>,
    /// IPv6 gateway.
    pub gateway6: Option<IpAddr>,
}

impl SandboxInfo {
    pub(crate) fn from_result(result: &CniResult, sandbox_key: &str, ifname: &str) -> Self {
        let mut interfaces = Vec::new();
        for (idx, iface) in result.interfaces.iter().enumerate() {
            if iface.sandbox.as_deref() != Some(sandbox_key) {
                continue;
            }
            let addresses = result
                .ips
                .iter()
                .filter(|ip| ip.interface == Some(idx))
                .map(|ip| ip.address)
                .collect();
            interfaces.push(InterfaceInfo {
                name: iface.name.clone(),
                mac: iface.mac.clone(),
                addresses,
            });
        }
        if interfaces.is_empty() {
            // A driver that reports no interfaces (an IPAM-like result).
            interfaces.push(InterfaceInfo {
                name: ifname.to_string(),
                mac: None,
                addresses: result.ips.iter().map(|ip| ip.address).collect(),
            });
        }
        let gw = |v6: bool| {
            result
                .ips
                .iter()
                .filter_map(|ip| ip.gateway)
                .find(|g| g.is_ipv6() == v6)
        };
        SandboxInfo {
            interfaces,
            gateway: gw(false),
            gateway6: gw(true),
        }
    }
}

/// libnetwork's Endpoint.
pub struct Endpoint<'n> {
    pub(crate) network: &'n Network<'n>,
    pub(crate) name: String,
    pub(crate) sandbox_key: String,
    pub(crate) ifname: String,
    pub(crate) result: CniResult,
}

impl Endpoint<'_> {
    /// The endpoint's name (its CNI container ID).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The driver's full result.
    pub fn result(&self) -> &CniResult {
        &self.result
    }

    /// Ask the driver to verify the endpoint (CNI CHECK).
    pub fn check(&self) -> Result<(), ModelError> {
        self.call("CHECK", "check")
    }

    /// Leave the sandbox and release everything (CNI DEL).
    pub fn delete(self) -> Result<(), ModelError> {
        self.call("DEL", "delete")
    }

    /// Run a verb that takes the ADD result as `prevResult`.
    fn call(&self, command: &str, what: &str) -> Result<(), ModelError> {
        let conf = self.conf_with_prev_result()?;
        let req = self.network.request_with_conf(
            command,
            &self.name,
            Some(&self.sandbox_key),
            &self.ifname,
            conf,
        )?;
        self.network
            .driver()
            .call(&req)
            .map(|_| ())
            .map_err(|e| ModelError::driver(format!("{what} endpoint {:?}", self.name), e))
    }

    fn conf_with_prev_result(&self) -> Result<Vec<u8>, ModelError> {
        let mut conf: serde_json::Map<String, Value> =
            serde_json::from_slice(self.network.config())
                .map_err(|e| ModelError::invalid("network config", e))?;
        let version = conf
            .get("cniVersion")
            .and_then(Value::as_str)
            .unwrap_or("1.1.0")
            .to_string();
        let prev = self
            .result
            .to_json(&version)
            .map_err(|e| ModelError::driver("encode prevResult", e))?;
        conf.insert("prevResult".into(), prev);
        serde_json::to_vec(&conf).map_err(|e| ModelError::invalid("network config", e))
    }
}
