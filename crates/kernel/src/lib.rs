//! The kernel seam: narrow interfaces to the kernel (links, addresses,
//! routes, sysctls per namespace: [`Kernel`]), the firewall ([`Firewall`]),
//! namespaces ([`Namespaces`]), the reference plugin's rules
//! ([`ReferenceRules`]) and fault points, so that the drivers and the model
//! above them are tested without root.
//!
//! - [`linux`]: the real kernel (netlink + /proc/sys), [`firewall`]:
//!   nftables, [`mod@reference`]: the reference plugin's iptables rules,
//!   [`system::LinuxSystem`]: all of them for one process;
//! - [`configure`]: the one interface configurator, used by the bridge's
//!   fast path (interface created in the sandbox) and by the sandbox's slow
//!   path (interface moved in): addresses, IPv6 off or on with DAD as
//!   configured, up, routes and gateway;
//! - [`sandboxes::KernelSandboxes`]: the model's `SandboxOps` over any
//!   [`System`];
//! - `fake` (feature `fake`, enabled only from `[dev-dependencies]`): an
//!   in-memory kernel, firewall, namespaces and IPAM driver for tests.

#![forbid(unsafe_code)]

pub mod configure;
#[cfg(feature = "fake")]
pub mod fake;
pub mod firewall;
pub mod linux;
pub mod reference;
pub mod sandboxes;
mod seam;
pub mod system;
mod types;

pub use configure::{configure_interface, ConfigureError, ConfigureStep, InterfaceConfig};
pub use reference::{NoReferenceRules, ReferenceRules};
pub use sandboxes::KernelSandboxes;
pub use seam::{family_of, Firewall, Kernel};
pub use system::{
    FaultPoints, Firewalls, LinuxSystem, Namespaces, ReferenceState, System, FAULT_POINTS,
};
pub use types::*;
