//! A network: a driver plus its config; endpoints are created on it.

use std::collections::HashMap;

use cni_protocol::{CniEnv, NetConf, Request};

use super::controller::Controller;
use super::driver::Driver;
use super::endpoint::{Endpoint, SandboxInfo};
use super::error::ModelError;

/// libnetwork's Network.
pub struct Network<'c> {
    controller: &'c Controller,
    driver: &'c Driver,
    name: String,
    /// The CNI config given to the driver for every call.
    conf: Vec<u8>,
}

impl<'c> Network<'c> {
    pub(crate) fn new(
        controller: &'c Controller,
        driver: &'c Driver,
        name: &str,
        conf: Vec<u8>,
    ) -> Self {
        Network {
            controller,
            driver,
            name: name.to_string(),
            conf,
        }
    }

    /// The network's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The CNI config JSON the driver receives.
    pub fn config(&self) -> &[u8] {
        &self.conf
    }

    /// Join the sandbox at `sandbox_key` as `eth0`; see
    /// [`Network::create_endpoint_with_ifname`].
    pub fn create_endpoint(
        &self,
        name: &str,
        sandbox_key: &str,
    ) -> Result<(Endpoint<'_>, SandboxInfo), ModelError> {
        self.create_endpoint_with_ifname(name, sandbox_key, "eth0")
    }

    /// Create endpoint `name` (the CNI container ID) in the sandbox at
    /// `sandbox_key` with interface `ifname`. The driver allocates the
    /// addresses and plumbs the interface; the returned [`SandboxInfo`] says
    /// what the sandbox now holds.
    pub fn create_endpoint_with_ifname(
        &self,
        name: &str,
        sandbox_key: &str,
        ifname: &str,
    ) -> Result<(Endpoint<'_>, SandboxInfo), ModelError> {
        let req = self.request("ADD", name, Some(sandbox_key), ifname)?;
        let result = self
            .driver
            .call(&req)
            .map_err(|e| ModelError::driver(format!("create endpoint {name:?}"), e))?
            .ok_or_else(|| ModelError::invalid("driver reply", "ADD returned no result"))?;
        let info = SandboxInfo::from_result(&result, sandbox_key, ifname);
        Ok((
            Endpoint {
                network: self,
                name: name.to_string(),
                sandbox_key: sandbox_key.to_string(),
                ifname: ifname.to_string(),
                result,
            },
            info,
        ))
    }

    /// Build the CNI request of one call, as a runtime would.
    pub(crate) fn request(
        &self,
        command: &str,
        container_id: &str,
        netns: Option<&str>,
        ifname: &str,
    ) -> Result<Request, ModelError> {
        self.request_with_conf(command, container_id, netns, ifname, self.conf.clone())
    }

    pub(crate) fn request_with_conf(
        &self,
        command: &str,
        container_id: &str,
        netns: Option<&str>,
        ifname: &str,
        conf: Vec<u8>,
    ) -> Result<Request, ModelError> {
        let path = std::env::join_paths(self.controller.cni_path())
            .map_err(|e| ModelError::invalid("CNI path", e))?
            .to_string_lossy()
            .into_owned();
        let mut vars: HashMap<&str, String> = HashMap::new();
        vars.insert("CNI_COMMAND", command.to_string());
        vars.insert("CNI_CONTAINERID", container_id.to_string());
        vars.insert("CNI_IFNAME", ifname.to_string());
        vars.insert("CNI_PATH", path);
        if let Some(ns) = netns {
            vars.insert("CNI_NETNS", ns.to_string());
        }
        let env = CniEnv::from_lookup(|k| vars.get(k).cloned())
            .map_err(|e| ModelError::invalid("endpoint", e))?;
        let parsed = NetConf::parse(&conf).map_err(|e| ModelError::invalid("network config", e))?;
        Ok(Request {
            env,
            conf: parsed,
            stdin: conf,
        })
    }

    pub(crate) fn driver(&self) -> &Driver {
        self.driver
    }
}
