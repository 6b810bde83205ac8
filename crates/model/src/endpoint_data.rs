//! What a driver gets and returns when an endpoint is created (libnetwork's
//! `InterfaceInfo`): the addresses, the MAC, and optionally the sandbox it
//! will be placed in when that is already known (the fast path).

use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::mac::MacAddr;

/// One address of an endpoint's interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct InterfaceAddress {
    /// The address with its subnet's prefix length.
    pub address: IpNet,
    /// The gateway of that subnet, if known (a driver that is the gateway
    /// fills it in).
    #[serde(default)]
    pub gateway: Option<IpAddr>,
}

/// A route to install in the sandbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaticRoute {
    /// Destination.
    pub destination: IpNet,
    /// Next hop; `None`: through the interface's gateway of the family
    /// (or on-link when there is none).
    #[serde(default)]
    pub next_hop: Option<IpAddr>,
    /// Route metric.
    #[serde(default)]
    pub priority: Option<u32>,
    /// Routing table.
    #[serde(default)]
    pub table: Option<u32>,
    /// Route scope (`RT_SCOPE_*`).
    #[serde(default)]
    pub scope: Option<u8>,
    /// Path MTU.
    #[serde(default)]
    pub mtu: Option<u32>,
    /// Advertised MSS.
    #[serde(default)]
    pub advmss: Option<u32>,
}

impl StaticRoute {
    /// A plain route to `destination` through `next_hop`.
    pub fn new(destination: IpNet, next_hop: Option<IpAddr>) -> Self {
        StaticRoute {
            destination,
            next_hop,
            priority: None,
            table: None,
            scope: None,
            mtu: None,
            advmss: None,
        }
    }
}

/// An endpoint's interface (libnetwork's `InterfaceInfo`): given to
/// `create_endpoint` with what the caller knows, returned with what the
/// driver chose (MAC, gateways).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct EndpointInterface {
    /// The MAC of the sandbox interface (`None`: the driver chooses).
    #[serde(default)]
    pub mac: Option<MacAddr>,
    /// The addresses (IPv4 and IPv6), from IPAM.
    #[serde(default)]
    pub addresses: Vec<InterfaceAddress>,
    /// Routes IPAM asked for (CNI IPAM results carry routes); the driver
    /// adds its own (default route through its gateway) in `JoinInfo`.
    #[serde(default)]
    pub routes: Vec<StaticRoute>,
}

/// Where the sandbox interface goes: the sandbox (network namespace) and the
/// interface name inside it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SandboxPlacement {
    /// The sandbox key: the path of its network namespace.
    pub key: String,
    /// The interface name inside the sandbox (`eth0`).
    pub ifname: String,
    /// Accept the caller's own namespace as the sandbox (normally refused,
    /// so a mistake never rewires the host).
    #[serde(default)]
    pub allow_own: bool,
}

/// One link an endpoint consists of, host side first, in the driver's
/// order (front-ends that report links, like CNI results, keep the order).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct EndpointLink {
    /// The link's name.
    pub name: String,
    /// Its MAC.
    #[serde(default)]
    pub mac: Option<MacAddr>,
    /// Its MTU.
    #[serde(default)]
    pub mtu: Option<u32>,
    /// The sandbox key when the link is inside the sandbox; `None`: host.
    #[serde(default)]
    pub sandbox: Option<String>,
}

/// `NetworkDriver::create_endpoint`'s arguments. Construct with
/// `..Default::default()`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CreateEndpoint {
    /// The network.
    pub network_id: String,
    /// The endpoint's id (unique in the network; the CNI adapter's is
    /// `<container id>/<ifname>`).
    pub endpoint_id: String,
    /// Addresses and MAC.
    pub interface: EndpointInterface,
    /// The sandbox, when already known: a driver with
    /// [`super::Capabilities::creates_in_sandbox`] then creates the interface
    /// directly inside it and configures it completely (addresses, routes,
    /// up), so `join` has nothing left to place. `None`: the driver prepares
    /// the interface in the host namespace and the caller's
    /// [`super::Sandbox`] moves it at join.
    pub sandbox: Option<SandboxPlacement>,
    /// Driver-specific endpoint options.
    pub options: Map<String, Value>,
}

/// What `create_endpoint` made.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CreatedEndpoint {
    /// The interface as the driver made it: the MAC it chose and the
    /// addresses with their gateways filled in.
    pub interface: EndpointInterface,
    /// The links, host side first.
    pub links: Vec<EndpointLink>,
    /// True when the interface was created inside the sandbox (fast path).
    pub in_sandbox: bool,
}

/// libnetwork's `EndpointOperInfo`: what a driver can tell about a live
/// endpoint.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct EndpointOperInfo {
    /// The links the endpoint consists of.
    pub links: Vec<EndpointLink>,
    /// Anything else, driver-specific.
    pub data: Map<String, Value>,
}
