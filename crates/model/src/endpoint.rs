//! An endpoint (libnetwork's `Endpoint`): an owned value holding its
//! network's drivers (shared) and its record; joins one sandbox, leaves
//! it, is checked and deleted. Deleting releases its addresses first and
//! runs every step, collecting every error.

use std::sync::Arc;

use super::dns::DnsSettings;
use super::endpoint_data::{EndpointInterface, EndpointLink, EndpointOperInfo};
use super::error::{ErrorList, ModelError};
use super::ipam_driver::OwnerKey;
use super::join_info::{CheckRequest, EndpointRef, ExternalConnectivity, JoinInfo, JoinRequest};
use super::names::{EndpointNames, NameRegistration};
use super::network_core::{default_owner, NetworkCore};
use super::records::{EndpointRecord, NetworkRecord};
use super::sandbox::Sandbox;

/// libnetwork's Endpoint.
#[derive(Clone)]
pub struct Endpoint {
    core: Arc<NetworkCore>,
    record: EndpointRecord,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("record", &self.record)
            .finish_non_exhaustive()
    }
}

impl Endpoint {
    pub(crate) fn new(core: Arc<NetworkCore>, record: EndpointRecord) -> Self {
        Endpoint { core, record }
    }

    /// The endpoint's id.
    pub fn id(&self) -> &str {
        &self.record.id
    }

    /// Its network's record.
    pub fn network_record(&self) -> &NetworkRecord {
        &self.core.record
    }

    /// The record to persist.
    pub fn record(&self) -> &EndpointRecord {
        &self.record
    }

    /// The interface as the driver made it (MAC, addresses with gateways,
    /// routes).
    pub fn interface(&self) -> &EndpointInterface {
        &self.record.interface
    }

    /// The links the endpoint consists of, host side first.
    pub fn links(&self) -> &[EndpointLink] {
        &self.record.links
    }

    /// The DNS settings IPAM gave.
    pub fn dns(&self) -> &DnsSettings {
        &self.record.dns
    }

    /// What the driver returned at the last join.
    pub fn join_info(&self) -> Option<&JoinInfo> {
        self.record.join.as_ref()
    }

    /// The IPAM owner of its addresses.
    pub fn owner(&self) -> OwnerKey {
        self.record
            .owner
            .clone()
            .unwrap_or_else(|| default_owner(&self.record.id, self.record.sandbox.as_ref()))
    }

    fn reference(&self) -> EndpointRef {
        EndpointRef {
            network_id: self.record.network_id.clone(),
            endpoint_id: self.record.id.clone(),
            sandbox: self.record.sandbox.clone(),
        }
    }

    fn op(&self, what: &str) -> String {
        format!("{what} endpoint {:?}", self.record.id)
    }

    /// Join `sandbox`: the driver says what to place there. The caller
    /// places it with [`Sandbox::add_interface`] and [`Sandbox::set_gateway`]
    /// (libnetwork's flow) or all at once with [`Sandbox::apply`]; after the
    /// fast path (`configured_in_sandbox`) there is nothing left to do.
    pub fn join(&mut self, sandbox: &Sandbox) -> Result<JoinInfo, ModelError> {
        if let Some(p) = &self.record.sandbox {
            if p.key != sandbox.key() {
                return Err(ModelError::invalid(
                    "sandbox",
                    format!(
                        "endpoint {:?} was created for sandbox {:?}, not {:?}",
                        self.record.id,
                        p.key,
                        sandbox.key()
                    ),
                ));
            }
        }
        let info = self
            .core
            .driver
            .join(&JoinRequest {
                network_id: self.record.network_id.clone(),
                endpoint_id: self.record.id.clone(),
                sandbox_key: sandbox.key().to_string(),
                ..Default::default()
            })
            .map_err(|e| ModelError::driver(self.op("join"), e))?;
        self.record.join = Some(info.clone());
        Ok(info)
    }

    /// Join `sandbox` with `names` on a network that has names
    /// ([`crate::Network::with_names`]): the driver's join, then the names
    /// are registered with the endpoint's addresses; the DNS settings the
    /// name service returns (its addresses, the search domain) are added to
    /// the endpoint's. A failed registration leaves the sandbox again. On a
    /// network without names this is [`Endpoint::join`].
    pub fn join_with_names(
        &mut self,
        sandbox: &Sandbox,
        names: &EndpointNames,
    ) -> Result<JoinInfo, ModelError> {
        let info = self.join(sandbox)?;
        let Some(binding) = self.core.names.clone() else {
            return Ok(info);
        };
        let owner = self.owner();
        let addresses: Vec<std::net::IpAddr> = self
            .record
            .interface
            .addresses
            .iter()
            .map(|a| a.address.addr())
            .collect();
        let registered = binding.service.register(
            &binding.settings,
            &NameRegistration {
                network: &self.core.record.name,
                owner: &owner,
                names,
                addresses: &addresses,
            },
        );
        match registered {
            Ok(dns) => {
                let mine = &mut self.record.dns;
                let mut servers = dns.nameservers;
                servers.retain(|s| !mine.nameservers.contains(s));
                servers.append(&mut mine.nameservers);
                mine.nameservers = servers;
                for d in dns.search {
                    if !mine.search.contains(&d) {
                        mine.search.push(d);
                    }
                }
                if mine.domain.is_none() {
                    mine.domain = dns.domain;
                }
                Ok(info)
            }
            Err(e) => {
                let _ = self.leave(sandbox);
                Err(ModelError::driver(self.op("register names of"), e))
            }
        }
    }

    /// Remove the endpoint's names (a network without names: nothing to do).
    fn unregister_names(&self) -> Result<(), ModelError> {
        match &self.core.names {
            Some(b) => b
                .service
                .unregister(&self.core.record.name, &self.owner())
                .map_err(|e| ModelError::driver(self.op("unregister names of"), e)),
            None => Ok(()),
        }
    }

    /// Join `sandbox` and place everything the driver returned there.
    pub fn join_and_apply(&mut self, sandbox: &Sandbox) -> Result<JoinInfo, ModelError> {
        let info = self.join(sandbox)?;
        if let Err(e) = sandbox.apply(&self.record.id, &info) {
            let _ = self.leave(sandbox);
            return Err(e);
        }
        Ok(info)
    }

    /// Leave `sandbox`: the endpoint's names go (when its network has
    /// names), the driver's side, then the sandbox forgets the endpoint's
    /// interfaces (deleting the endpoint removes them).
    pub fn leave(&mut self, sandbox: &Sandbox) -> Result<(), ModelError> {
        let names = self.unregister_names();
        self.core
            .driver
            .leave(&self.reference())
            .map_err(|e| ModelError::driver(self.op("leave"), e))?;
        sandbox.forget(&self.record.id);
        self.record.join = None;
        names
    }

    /// Verify the endpoint: its addresses with IPAM (when the driver can
    /// check), then the driver against the kernel.
    pub fn check(&self) -> Result<(), ModelError> {
        let owner = self.owner();
        self.core
            .optional_ipam(&self.op("check addresses of"), |d, net| {
                d.check(net, &owner)
            })?;
        self.core
            .driver
            .check(&CheckRequest {
                endpoint: self.reference(),
                expected: self.record.interface.clone(),
                links: self.record.links.clone(),
            })
            .map_err(|e| ModelError::driver(self.op("check"), e))
    }

    /// What the driver knows about the endpoint.
    pub fn info(&self) -> Result<EndpointOperInfo, ModelError> {
        self.core
            .driver
            .endpoint_info(&self.reference())
            .map_err(|e| ModelError::driver(self.op("info of"), e))
    }

    /// Publish ports / masquerade through the driver.
    pub fn program_external_connectivity(
        &self,
        mut req: ExternalConnectivity,
    ) -> Result<(), ModelError> {
        req.endpoint = self.reference();
        self.core
            .driver
            .program_external_connectivity(&req)
            .map_err(|e| ModelError::driver(self.op("program external connectivity of"), e))
    }

    /// Undo [`Endpoint::program_external_connectivity`].
    pub fn revoke_external_connectivity(&self) -> Result<(), ModelError> {
        self.core
            .driver
            .revoke_external_connectivity(&self.reference())
            .map_err(|e| ModelError::driver(self.op("revoke external connectivity of"), e))
    }

    /// Delete the endpoint: release its addresses (first: they must go
    /// whatever else fails), then the driver removes what it made
    /// (idempotent). Every step runs; every error is returned
    /// ([`ModelError::List`] when more than one failed).
    pub fn delete(self) -> Result<(), ModelError> {
        self.teardown(None)
    }

    /// Delete the endpoint after leaving `sandbox` (when given): release,
    /// leave, delete, in that order, every step run, every error returned.
    pub fn teardown(mut self, sandbox: Option<&Sandbox>) -> Result<(), ModelError> {
        let mut errors = ErrorList::new();
        errors.check(
            self.core
                .release(&self.owner(), || format!("endpoint {:?}", self.record.id)),
        );
        // Names go whether or not the endpoint was left first (idempotent).
        errors.check(self.unregister_names());
        if let Some(sb) = sandbox {
            errors.check(self.leave(sb));
        }
        errors.check(
            self.core
                .driver
                .delete_endpoint(&self.reference())
                .map_err(|e| ModelError::driver(self.op("delete"), e)),
        );
        errors.into_result()
    }
}
