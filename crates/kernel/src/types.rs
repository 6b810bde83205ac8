//! Plain data exchanged with the kernel interfaces.

use std::net::IpAddr;
use std::sync::Arc;

use cnm_model::{DriverError, ErrorKind, MacAddr, SandboxError};
use ipnet::IpNet;

/// IP family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    V4,
    V6,
}

/// What the driver needs to know about a link.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LinkState {
    pub index: u32,
    pub name: String,
    /// `IFLA_INFO_KIND`: "bridge", "veth", ...
    pub kind: Option<String>,
    pub mac: MacAddr,
    pub mtu: u32,
    pub up: bool,
    pub promisc: bool,
    /// Index of the master (bridge) link.
    pub master: Option<u32>,
    /// Bridge-port hairpin flag, when known.
    pub hairpin: Option<bool>,
    /// Bridge-port isolation flag, when known.
    pub isolated: Option<bool>,
    /// For bridges: VLAN filtering, when known.
    pub vlan_filtering: Option<bool>,
    /// IFLA_IFALIAS: our host veths carry `cnm:<network>` (see `names::owner_alias`).
    pub alias: Option<String>,
    /// IFLA_LINK: for a veth, its peer's index (in the peer's namespace).
    pub peer_index: Option<u32>,
}

/// A bridge to ensure on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeSpec {
    pub name: String,
    /// Only applied at creation.
    pub mtu: Option<u32>,
    /// Fixed MAC set at creation so it never follows the lowest port's.
    pub mac: MacAddr,
    pub vlan_filtering: bool,
    pub promisc: bool,
}

/// A veth pair: host end in the host namespace, the other in the sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VethSpec {
    pub host_name: String,
    pub container_name: String,
    pub mtu: Option<u32>,
    pub container_mac: Option<MacAddr>,
    /// Alias of the host end, naming the network that owns it.
    pub host_alias: Option<String>,
    /// Bridge the host end joins, up, in the creating request (the other
    /// port settings follow in [`crate::Kernel::attach_port`]).
    pub master: Option<String>,
    /// IPv6 on the container end, settled before it comes up.
    pub container_ipv6: ContainerIpv6,
}

/// What the container end of a veth does with IPv6 (decided by the driver
/// from the endpoint's addresses and config, applied before the link is up).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ContainerIpv6 {
    /// The kernel's default: a link-local address, DAD, router
    /// solicitation and MLD reports when the link comes up.
    #[default]
    Default,
    /// IPv4-only endpoint: no IPv6 address on the interface, as libnetwork
    /// does (it writes `disable_ipv6`; we set the address generation mode
    /// to none over netlink, see docs/simplebridge.md): the interface sends
    /// no IPv6 when it comes up.
    Off,
    /// The endpoint has IPv6 addresses: IPv6 on (also on `lo`), addresses
    /// kept on down, duplicate-address detection only with `dad`.
    On { dad: bool },
}

impl ContainerIpv6 {
    /// The rule of both placements: an interface with an IPv6 address gets
    /// IPv6 on (DAD as configured); one with only IPv4 addresses gets it off
    /// (no link-local address, so no DAD, router solicitation or MLD report
    /// flooded over the bridge when it comes up), unless the network keeps
    /// the link-local address; one without addresses (layer-2 mode) keeps
    /// the kernel's default, since whoever configures it later decides.
    pub fn for_addresses(addrs: &[IpNet], dad: bool, keep_link_local: bool) -> ContainerIpv6 {
        let v4 = addrs.iter().any(|a| a.addr().is_ipv4());
        let v6 = addrs.iter().any(|a| a.addr().is_ipv6());
        if v6 {
            ContainerIpv6::On { dad }
        } else if v4 && !keep_link_local {
            ContainerIpv6::Off
        } else {
            ContainerIpv6::Default
        }
    }
}

/// A VLAN entry on a bridge port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VlanEntry {
    pub vid: u16,
    pub pvid: bool,
    pub untagged: bool,
}

/// How a host veth joins the bridge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortSpec {
    pub port: String,
    pub bridge: String,
    pub hairpin: bool,
    pub isolated: bool,
    pub vlans: Vec<VlanEntry>,
    /// Remove the default VLAN 1 entry before adding `vlans`.
    pub remove_default_vlan: bool,
}

/// A route to program in the sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteState {
    pub dst: IpNet,
    pub gw: Option<IpAddr>,
    pub priority: Option<u32>,
    pub table: Option<u32>,
    pub scope: Option<u8>,
    pub mtu: Option<u32>,
    pub advmss: Option<u32>,
}

/// Everything done to the container interface after it exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IfaceSpec {
    pub name: String,
    pub addrs: Vec<IpNet>,
    /// Run duplicate-address detection (`enabledad`): addresses are added
    /// without `IFA_F_NODAD`. Off by default: IPAM already guarantees
    /// uniqueness and addresses are usable at once.
    pub dad: bool,
    /// IPv6 on the interface (see [`ContainerIpv6::for_addresses`]).
    pub ipv6: ContainerIpv6,
    /// Set the link up (false only for `disableContainerInterface`).
    pub up: bool,
}

/// The gateway interface of a VLAN network (`<bridge>.<vlan>`) and the
/// name of its bridge-side end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VlanGatewaySpec {
    pub bridge: String,
    pub vlan: u16,
    /// The interface holding the gateway address (`<bridge>.<vlan>`).
    pub name: String,
    /// Its peer, a tagged port of the bridge.
    pub peer_name: String,
    pub mtu: Option<u32>,
}

/// Masquerade for one network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MasqSpec {
    pub network: String,
    pub bridge: String,
    pub subnets: Vec<IpNet>,
}

/// A failed kernel or firewall operation, with what it was applied to and
/// the underlying error (netlink, nftables, I/O) as its `source`.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{op} {target}: {reason}")]
pub struct KernelError {
    /// The operation ("create veth", "add address", "nft apply"...).
    pub op: String,
    /// The link, namespace, file or table it was applied to.
    pub target: String,
    /// Why, as text (the source's message when there is one).
    pub reason: String,
    /// The errno when the kernel returned one.
    pub errno: Option<i32>,
    /// The underlying error, kept for callers that inspect the chain.
    #[source]
    pub source: Option<Arc<dyn std::error::Error + Send + Sync>>,
}

impl PartialEq for KernelError {
    /// Equal when they say the same (the source is compared by message).
    fn eq(&self, other: &Self) -> bool {
        self.op == other.op
            && self.target == other.target
            && self.reason == other.reason
            && self.errno == other.errno
    }
}

impl Eq for KernelError {}

impl KernelError {
    /// An error whose reason is plain text (no underlying error).
    pub fn new(op: impl Into<String>, target: impl Into<String>, reason: impl ToString) -> Self {
        KernelError {
            op: op.into(),
            target: target.into(),
            reason: reason.to_string(),
            errno: None,
            source: None,
        }
    }
    /// An error caused by `source`, which is kept.
    pub fn caused_by(
        op: impl Into<String>,
        target: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        KernelError {
            op: op.into(),
            target: target.into(),
            reason: source.to_string(),
            errno: None,
            source: Some(Arc::new(source)),
        }
    }
    /// With the errno the kernel returned.
    pub fn with_errno(mut self, errno: i32) -> Self {
        self.errno = Some(errno);
        self
    }
}

/// A failed kernel or firewall operation as a driver error (kind
/// [`ErrorKind::Kernel`], the kernel error kept as the source).
pub fn kernel_failure(msg: impl Into<String>, e: KernelError) -> DriverError {
    DriverError::caused_by(ErrorKind::Kernel, msg, e)
}

impl From<KernelError> for SandboxError {
    fn from(e: KernelError) -> Self {
        SandboxError::kernel(e)
    }
}

#[cfg(test)]
mod tests {
    use super::{ContainerIpv6, IpNet, KernelError};

    fn nets(v: &[&str]) -> Vec<IpNet> {
        v.iter().map(|s| s.parse().expect("cidr")).collect()
    }

    #[test]
    fn ipv6_follows_the_addresses() {
        let v4 = nets(&["10.1.0.2/24"]);
        assert_eq!(
            ContainerIpv6::for_addresses(&v4, false, false),
            ContainerIpv6::Off
        );
        assert_eq!(
            ContainerIpv6::for_addresses(&v4, true, true),
            ContainerIpv6::Default
        );
        let dual = nets(&["10.1.0.2/24", "fd00::2/64"]);
        assert_eq!(
            ContainerIpv6::for_addresses(&dual, false, false),
            ContainerIpv6::On { dad: false }
        );
        assert_eq!(
            ContainerIpv6::for_addresses(&nets(&["fd00::2/64"]), true, false),
            ContainerIpv6::On { dad: true }
        );
        assert_eq!(
            ContainerIpv6::for_addresses(&[], true, false),
            ContainerIpv6::Default
        );
    }

    #[test]
    fn a_kernel_error_keeps_its_source() {
        let io = std::io::Error::from_raw_os_error(libc::ENODEV);
        let e = KernelError::caused_by("set up", "eth0", io).with_errno(libc::ENODEV);
        let source = std::error::Error::source(&e).expect("source kept");
        assert!(source.to_string().contains("No such device"), "{source}");
        assert!(e.to_string().starts_with("set up eth0: "), "{e}");
        assert_eq!(e.clone(), e);
        assert!(std::error::Error::source(&KernelError::new("op", "x", "why")).is_none());
    }
}
