//! [`NetworkDriver`]: the contract between the model and a network driver,
//! after libnetwork's `driverapi.Driver` (plus its optional `ExtConner`).
//!
//! Calls come in this order for one endpoint: `create_network` (once per
//! network), `create_endpoint`, `join`, then `leave`, `delete_endpoint`;
//! `delete_network` last. Every call is keyed by ids, so a one-shot front-end
//! (a CNI plugin run) can call `delete_endpoint` on a driver that never saw
//! the `create_endpoint`: drivers derive what they need from the ids and the
//! kernel, or keep state that outlives the process themselves.
//!
//! Drivers are shared across threads (`Send + Sync`) and are object safe:
//! the controller keeps them as `Arc<dyn NetworkDriver>`.

use super::endpoint_data::{CreateEndpoint, CreatedEndpoint, EndpointOperInfo};
use super::error::DriverError;
use super::join_info::{
    CheckRequest, EndpointRef, ExternalConnectivity, GcRequest, JoinInfo, JoinRequest,
};
use super::network_data::CreateNetwork;
use super::scope::Capabilities;

/// A network driver.
pub trait NetworkDriver: Send + Sync {
    /// The driver's type name ("bridge").
    fn name(&self) -> &str;

    /// Data scope and optional abilities.
    fn capabilities(&self) -> Capabilities;

    /// Create (or, when it exists with the same options, accept again) a
    /// network. Validates the options. Idempotent: one-shot front-ends call
    /// it on every request, so it must be cheap when nothing changes.
    fn create_network(&self, req: &CreateNetwork) -> Result<(), DriverError>;

    /// Delete a network and what the driver made for it on the host. An
    /// unknown network is not an error.
    fn delete_network(&self, network_id: &str) -> Result<(), DriverError>;

    /// Create an endpoint: the interface pair or device, the host side
    /// programmed. With `req.sandbox` set (and the capability), the
    /// interface is created and configured directly inside the sandbox.
    /// On failure nothing the call made is left behind.
    fn create_endpoint(&self, req: &CreateEndpoint) -> Result<CreatedEndpoint, DriverError>;

    /// Join the endpoint to the sandbox at `req.sandbox_key`: return the
    /// interfaces to place, gateways and routes.
    fn join(&self, req: &JoinRequest) -> Result<JoinInfo, DriverError>;

    /// Undo `join` on the driver's side (the sandbox removes its
    /// interfaces). Idempotent.
    fn leave(&self, ep: &EndpointRef) -> Result<(), DriverError>;

    /// Delete the endpoint and everything it made; idempotent (success when
    /// it is already gone), best effort (continues after an error and
    /// reports all of them).
    fn delete_endpoint(&self, ep: &EndpointRef) -> Result<(), DriverError>;

    /// What the driver knows about a live endpoint.
    fn endpoint_info(&self, ep: &EndpointRef) -> Result<EndpointOperInfo, DriverError>;

    /// Publish ports and masquerade for an endpoint (Docker's
    /// `ProgramExternalConnectivity`). Optional.
    fn program_external_connectivity(
        &self,
        _req: &ExternalConnectivity,
    ) -> Result<(), DriverError> {
        Err(DriverError::not_supported("program external connectivity"))
    }

    /// Undo `program_external_connectivity`. Optional.
    fn revoke_external_connectivity(&self, _ep: &EndpointRef) -> Result<(), DriverError> {
        Err(DriverError::not_supported("revoke external connectivity"))
    }

    /// Verify an endpoint against the kernel (CNI CHECK). Optional.
    fn check(&self, _req: &CheckRequest) -> Result<(), DriverError> {
        Err(DriverError::not_supported("check"))
    }

    /// Remove what belongs to endpoints of `req.network` other than
    /// `req.valid_endpoints` (CNI GC). Works without `create_network`, and
    /// leniently: only what teardown needs is read from the options.
    /// Optional.
    fn gc(&self, _req: &GcRequest) -> Result<(), DriverError> {
        Err(DriverError::not_supported("gc"))
    }

    /// Ok when the driver can serve `network` now (CNI STATUS). Optional.
    fn status(&self, _network: &CreateNetwork) -> Result<(), DriverError> {
        Err(DriverError::not_supported("status"))
    }
}
