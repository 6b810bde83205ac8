//! The narrow kernel interfaces themselves: [`Kernel`] (links, addresses,
//! routes, sysctls in the host and one sandbox) and [`Firewall`]
//! (masquerade, MAC spoof check). Each method is one kernel operation or a
//! small, idempotent group of them; errors name the link or namespace.

use cnm_model::MacAddr;

use std::net::IpAddr;

use ipnet::IpNet;

use crate::types::{
    BridgeSpec, Family, IfaceSpec, KernelError, LinkState, MasqSpec, PortSpec, RouteState,
    VethSpec, VlanGatewaySpec,
};

/// Everything the bridge driver needs from the host namespace and one
/// container namespace (the sandbox). Each method is one kernel operation or
/// a small, idempotent group of them; errors name the link or namespace.
pub trait Kernel {
    /// Look a host link up by name (one lookup, never a dump).
    fn host_link(&mut self, name: &str) -> Result<Option<LinkState>, KernelError>;
    /// Look a host link up by index (the peer of a container veth).
    fn host_link_by_index(&mut self, index: u32) -> Result<Option<LinkState>, KernelError>;
    /// Create the bridge if it is missing (EEXIST is fine: parallel ADDs may
    /// race), verify it is a bridge, apply promisc, set it up. Returns its state.
    fn ensure_bridge(&mut self, spec: &BridgeSpec) -> Result<LinkState, KernelError>;
    /// Create a veth pair whose host end is `spec.host_name` in the host
    /// namespace and whose other end is `spec.container_name` in the sandbox.
    fn create_veth(&mut self, spec: &VethSpec) -> Result<(LinkState, LinkState), KernelError>;
    /// Attach a host port to the bridge: master, hairpin, isolation, VLANs, up.
    fn attach_port(&mut self, spec: &PortSpec) -> Result<LinkState, KernelError>;
    /// Ensure the gateway interface of a VLAN network: a host veth whose
    /// peer is a tagged port of the bridge. Returns its state.
    fn ensure_vlan_gateway(&mut self, spec: &VlanGatewaySpec) -> Result<LinkState, KernelError>;
    /// Delete a host link by name; `Ok(false)` when it does not exist.
    fn delete_host_link(&mut self, name: &str) -> Result<bool, KernelError>;
    /// Ensure `addr` on the bridge (or VLAN helper) link. With `force`,
    /// conflicting addresses of the same family are removed first.
    fn ensure_host_addr(&mut self, link: &str, addr: IpNet, force: bool)
        -> Result<(), KernelError>;
    /// Addresses of a host link.
    fn host_addrs(&mut self, link: &str) -> Result<Vec<IpNet>, KernelError>;
    /// Write a sysctl in the host namespace when it does not hold `value` yet.
    fn host_sysctl(&mut self, key: &str, value: &str) -> Result<(), KernelError>;

    /// Look a link up by name inside the sandbox.
    fn container_link(&mut self, name: &str) -> Result<Option<LinkState>, KernelError>;
    /// Configure the container interface: IPv6 (off, or on with DAD as
    /// configured), addresses, up. Use [`crate::configure_interface`], which adds
    /// the routes: the one configurator of both placements.
    fn configure_container(&mut self, spec: &IfaceSpec) -> Result<(), KernelError>;
    /// Add routes through the container interface `name`.
    fn add_container_routes(
        &mut self,
        name: &str,
        routes: &[RouteState],
    ) -> Result<(), KernelError>;
    /// Addresses on a container link.
    fn container_addrs(&mut self, name: &str) -> Result<Vec<IpNet>, KernelError>;
    /// Routes in the sandbox's main table that leave through `name`.
    fn container_routes(&mut self, name: &str) -> Result<Vec<RouteState>, KernelError>;
    /// Delete a container link by name; `Ok(false)` when it does not exist.
    fn delete_container_link(&mut self, name: &str) -> Result<bool, KernelError>;
    /// Host veths attached to `bridge` (for GC).
    fn bridge_ports(&mut self, bridge: &str) -> Result<Vec<LinkState>, KernelError>;
    /// Host links whose alias is `alias`, attached or not (for GC: an ADD
    /// that crashed before attaching its veth leaves it detached).
    fn links_with_alias(&mut self, alias: &str) -> Result<Vec<LinkState>, KernelError>;

    /// Create a veth pair with both ends in the host namespace: `host_name`
    /// and, as its peer, `container_name` (a temporary host name until the
    /// sandbox moves it). For drivers whose caller places the interface.
    fn create_host_veth(&mut self, spec: &VethSpec) -> Result<(LinkState, LinkState), KernelError>;
    /// Move the host link `host_name` into the sandbox and name it
    /// `new_name` there (down, as a move leaves it). Returns its state in the
    /// sandbox.
    fn move_into_sandbox(
        &mut self,
        host_name: &str,
        new_name: &str,
    ) -> Result<LinkState, KernelError>;
}

/// The firewall for one network: masquerade of its subnets, kept per network
/// (not per container) so that an ADD costs nothing once the rule exists.
pub trait Firewall {
    fn ensure_masquerade(&mut self, net: &MasqSpec) -> Result<(), KernelError>;
    fn check_masquerade(&mut self, net: &MasqSpec) -> Result<(), KernelError>;
    fn remove_masquerade(&mut self, network: &str) -> Result<(), KernelError>;
    /// Drop frames entering from `port` whose source MAC is not `mac`.
    fn ensure_mac_spoof_check(&mut self, port: &str, mac: &MacAddr) -> Result<(), KernelError>;
    fn check_mac_spoof_check(&mut self, port: &str, mac: &MacAddr) -> Result<(), KernelError>;
    /// Idempotent; cheap when the port has none (teardown calls it always).
    fn remove_mac_spoof_check(&mut self, port: &str) -> Result<(), KernelError>;
    /// Ok when the firewall can be programmed (STATUS).
    fn available(&mut self) -> Result<(), KernelError>;
}

/// The IP family of an address.
pub fn family_of(addr: &IpAddr) -> Family {
    if addr.is_ipv4() {
        Family::V4
    } else {
        Family::V6
    }
}
