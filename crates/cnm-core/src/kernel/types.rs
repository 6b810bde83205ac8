//! Plain data exchanged with the kernel interfaces.

use std::net::IpAddr;
use std::sync::Arc;

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
    pub mac: [u8; 6],
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
}

/// A bridge to ensure on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeSpec {
    pub name: String,
    /// Only applied at creation.
    pub mtu: Option<u32>,
    /// Fixed MAC set at creation so it never follows the lowest port's.
    pub mac: [u8; 6],
    pub vlan_filtering: bool,
    pub promisc: bool,
}

/// A veth pair: host end in the host namespace, the other in the sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VethSpec {
    pub host_name: String,
    pub container_name: String,
    pub mtu: Option<u32>,
    pub container_mac: Option<[u8; 6]>,
    /// Alias of the host end, naming the network that owns it.
    pub host_alias: Option<String>,
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
    /// Run IPv6 duplicate-address detection (`enabledad`). Off by default:
    /// IPAM already guarantees uniqueness and addresses are usable at once.
    pub dad: bool,
    /// Set the link up (false only for `disableContainerInterface`).
    pub up: bool,
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

#[cfg(test)]
mod tests {
    use super::KernelError;

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
