//! A driver's capabilities: its data scope (libnetwork's `DataScope`) and
//! what optional operations it offers.

use serde::{Deserialize, Serialize};

/// Where a driver's allocations live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum DataScope {
    /// This host only (the bridge): networks and endpoints are local state.
    #[default]
    Local,
    /// Cluster-wide (an overlay): allocations must be coordinated across
    /// hosts, e.g. through a shared store.
    Global,
}

/// What a network driver can do, asked once at registration.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Capabilities {
    /// Local or global data scope.
    pub data_scope: DataScope,
    /// The scope of the driver's connectivity (a local driver may still
    /// connect hosts); libnetwork's `ConnectivityScope`.
    pub connectivity_scope: DataScope,
    /// The driver can create the sandbox interface directly inside the
    /// sandbox when [`super::CreateEndpoint::sandbox`] is given (the CNI fast
    /// path, libnetwork's `SetCreatedInContainer`).
    pub creates_in_sandbox: bool,
}
