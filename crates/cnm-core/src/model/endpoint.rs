//! An endpoint (libnetwork's `Endpoint`): an owned value holding its network
//! (a cheap clone) and its record; joins one sandbox, leaves it, is checked
//! and deleted.

use super::endpoint_data::{EndpointInterface, EndpointLink, EndpointOperInfo};
use super::error::ModelError;
use super::join_info::{CheckRequest, EndpointRef, ExternalConnectivity, JoinInfo, JoinRequest};
use super::network::Network;
use super::records::EndpointRecord;
use super::sandbox::Sandbox;
use crate::system::System;

/// libnetwork's Endpoint.
#[derive(Debug, Clone)]
pub struct Endpoint {
    network: Network,
    record: EndpointRecord,
}

impl Endpoint {
    pub(super) fn new(network: Network, record: EndpointRecord) -> Self {
        Endpoint { network, record }
    }

    /// The endpoint's id.
    pub fn id(&self) -> &str {
        &self.record.id
    }

    /// Its network.
    pub fn network(&self) -> &Network {
        &self.network
    }

    /// The record to persist.
    pub fn record(&self) -> &EndpointRecord {
        &self.record
    }

    /// The interface as the driver made it (MAC, addresses with gateways).
    pub fn interface(&self) -> &EndpointInterface {
        &self.record.interface
    }

    /// The links the endpoint consists of, host side first.
    pub fn links(&self) -> &[EndpointLink] {
        &self.record.links
    }

    /// What the driver returned at the last join.
    pub fn join_info(&self) -> Option<&JoinInfo> {
        self.record.join.as_ref()
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
    pub fn join<S: System + 'static>(
        &mut self,
        sandbox: &Sandbox<S>,
    ) -> Result<JoinInfo, ModelError> {
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
            .network
            .driver()
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

    /// Join `sandbox` and place everything the driver returned there.
    pub fn join_and_apply<S: System + 'static>(
        &mut self,
        sandbox: &Sandbox<S>,
    ) -> Result<JoinInfo, ModelError> {
        let info = self.join(sandbox)?;
        if let Err(e) = sandbox.apply(&self.record.id, &info) {
            let _ = self.leave(sandbox);
            return Err(e);
        }
        Ok(info)
    }

    /// Leave `sandbox`: the driver's side, then the sandbox forgets the
    /// endpoint's interfaces (deleting the endpoint removes them).
    pub fn leave<S: System + 'static>(&mut self, sandbox: &Sandbox<S>) -> Result<(), ModelError> {
        self.network
            .driver()
            .leave(&self.reference())
            .map_err(|e| ModelError::driver(self.op("leave"), e))?;
        sandbox.forget(&self.record.id);
        self.record.join = None;
        Ok(())
    }

    /// Have the driver verify the endpoint against the kernel.
    pub fn check(&self) -> Result<(), ModelError> {
        self.network
            .driver()
            .check(&CheckRequest {
                endpoint: self.reference(),
                expected: self.record.interface.clone(),
                links: self.record.links.clone(),
            })
            .map_err(|e| ModelError::driver(self.op("check"), e))
    }

    /// What the driver knows about the endpoint.
    pub fn info(&self) -> Result<EndpointOperInfo, ModelError> {
        self.network
            .driver()
            .endpoint_info(&self.reference())
            .map_err(|e| ModelError::driver(self.op("info of"), e))
    }

    /// Publish ports / masquerade through the driver.
    pub fn program_external_connectivity(
        &self,
        mut req: ExternalConnectivity,
    ) -> Result<(), ModelError> {
        req.endpoint = self.reference();
        self.network
            .driver()
            .program_external_connectivity(&req)
            .map_err(|e| ModelError::driver(self.op("program external connectivity of"), e))
    }

    /// Undo [`Endpoint::program_external_connectivity`].
    pub fn revoke_external_connectivity(&self) -> Result<(), ModelError> {
        self.network
            .driver()
            .revoke_external_connectivity(&self.reference())
            .map_err(|e| ModelError::driver(self.op("revoke external connectivity of"), e))
    }

    /// Delete the endpoint: the driver removes what it made (idempotent),
    /// then the model releases the addresses it reserved. Both run even when
    /// the first fails; the first error is returned.
    pub fn delete(self) -> Result<(), ModelError> {
        let driver = self
            .network
            .driver()
            .delete_endpoint(&self.reference())
            .map_err(|e| ModelError::driver(self.op("delete"), e));
        let owner = self.record.owner.clone().unwrap_or_default();
        let released = self.network.release(&self.record.reserved, &owner);
        driver?;
        match released.into_iter().next() {
            Some(e) => Err(ModelError::driver(self.op("release addresses of"), e)),
            None => Ok(()),
        }
    }
}
