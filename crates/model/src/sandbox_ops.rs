//! [`SandboxOps`]: what the model needs from the machine to manage
//! sandboxes (network namespaces bound at a path) and to place interfaces
//! in them. The kernel seam (`cnm-kernel`) implements it over Linux, and
//! over an in-memory kernel for tests; a [`crate::Controller`] is built on
//! one, so the model itself touches no kernel.

use ipnet::IpNet;

use super::endpoint_data::StaticRoute;
use super::error::SandboxError;

/// The name an interface gets in the sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DstName<'a> {
    /// Exactly this name.
    Exact(&'a str),
    /// The first `<prefix><n>` (n = 0, 1, ...) neither in the sandbox nor
    /// in `taken` (Docker's `DstPrefix`).
    Prefix {
        /// The prefix (`eth`).
        prefix: &'a str,
        /// Names the sandbox has handed out already.
        taken: &'a [String],
    },
}

/// One interface to move into a sandbox and configure there (the slow
/// path: the driver prepared it in the host).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaceInterface<'a> {
    /// Its name in the host namespace.
    pub src_name: &'a str,
    /// Its name in the sandbox.
    pub dst: DstName<'a>,
    /// Its addresses. IPv6 follows them: off on an IPv4-only interface
    /// (unless `ipv6_link_local`), on with an IPv6 address.
    pub addresses: &'a [IpNet],
    /// Run duplicate-address detection on its IPv6 addresses.
    pub dad: bool,
    /// Keep the kernel's IPv6 link-local address on an IPv4-only interface.
    pub ipv6_link_local: bool,
    /// Routes through it (the gateway's default route among them).
    pub routes: &'a [StaticRoute],
}

/// Sandbox operations on the machine. Shared across threads.
pub trait SandboxOps: Send + Sync {
    /// Create a network namespace bound at `key`, loopback up.
    fn create(&self, key: &str) -> Result<(), SandboxError>;

    /// Check that `key` names a usable network namespace (not the caller's
    /// own unless `allow_own`).
    fn check(&self, key: &str, allow_own: bool) -> Result<(), SandboxError>;

    /// Remove the namespace bound at `key` (idempotent).
    fn remove(&self, key: &str) -> Result<(), SandboxError>;

    /// True when the sandbox has an interface named `name`.
    fn has_interface(&self, key: &str, allow_own: bool, name: &str) -> Result<bool, SandboxError>;

    /// Move an interface in, name it, configure it (addresses, IPv6, up)
    /// and add its routes, all through one configurator. Returns its name
    /// in the sandbox. On failure a moved interface is deleted.
    fn place_interface(
        &self,
        key: &str,
        allow_own: bool,
        iface: &PlaceInterface<'_>,
    ) -> Result<String, SandboxError>;

    /// Add `routes` through the sandbox interface `dev`.
    fn add_routes(
        &self,
        key: &str,
        allow_own: bool,
        dev: &str,
        routes: &[StaticRoute],
    ) -> Result<(), SandboxError>;
}
