//! Raw netavark JSON ([`crate::types`]) checked into typed config: the
//! network ([`NetworkConfig`]) and one container's attachment to it
//! ([`Attachment`]). Everything is validated here, before anything is
//! created: names, subnets, gateways, lease ranges, routes, IPAM mode,
//! options, the interface name, MAC, static addresses and port mappings.
//! Each error names the field and says what would be accepted.

use std::net::IpAddr;

use ipnet::IpNet;

use crate::backend::MacAddr;
use crate::error::PluginError;
use crate::options::{check_container_options, DriverKind, NetworkOptions};
use crate::ports::{expand, PortSpec};
use crate::types::{LeaseRange, Network, NetworkPluginExec, Route, Subnet};

/// The IPAM driver name `create` writes for networks whose addresses the
/// plugin allocates (overlay networks: the node agent's address blocks).
/// Podman passes no static addresses for it.
pub const PLUGIN_IPAM: &str = "cnm";

/// Who picks a container's addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpamMode {
    /// Podman's allocator (IPAM driver `host-local` or unset): the
    /// addresses come as `static_ips`; the plugin reserves them (and
    /// allocates for a subnet left without one).
    Podman,
    /// The plugin allocates ([`PLUGIN_IPAM`]).
    Plugin,
    /// No addresses (IPAM driver `none`).
    None,
}

/// One subnet, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubnetConfig {
    /// The subnet (network address).
    pub subnet: IpNet,
    /// The gateway (`None`: an internal network without one).
    pub gateway: Option<IpAddr>,
    /// Where addresses are leased from (both ends inclusive).
    pub lease: Option<(IpAddr, IpAddr)>,
}

/// A static route, checked (unicast only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteConfig {
    /// Destination.
    pub destination: IpNet,
    /// Next hop (`None`: the subnet gateway of the family).
    pub gateway: Option<IpAddr>,
    /// Metric.
    pub metric: Option<u32>,
}

/// A network, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkConfig {
    /// Podman's id.
    pub id: String,
    /// The name.
    pub name: String,
    /// The driver name Podman knows the plugin by.
    pub driver: String,
    /// The options.
    pub options: NetworkOptions,
    /// The bridge: `network_interface`, else derived from the id (bridge
    /// driver); for the overlay the node agent's (checked at setup).
    pub bridge: Option<String>,
    /// The subnets, IPv4 and IPv6.
    pub subnets: Vec<SubnetConfig>,
    /// No route out, no masquerade.
    pub internal: bool,
    /// Who picks addresses.
    pub ipam: IpamMode,
    /// Static routes.
    pub routes: Vec<RouteConfig>,
    /// Container names are served on the network's gateways (`dns_enabled`).
    pub dns_enabled: bool,
    /// Where names that are not the network's own are forwarded
    /// (`network_dns_servers`; empty: the host's resolvers).
    pub dns_servers: Vec<IpAddr>,
}

/// One container's attachment to a network, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// Podman's container id.
    pub container_id: String,
    /// The container's name.
    pub container_name: String,
    /// The interface name in the container.
    pub ifname: String,
    /// The container's network namespace (the argument of setup/teardown).
    pub netns: String,
    /// Addresses Podman chose, at most one per subnet, each in a subnet.
    pub static_ips: Vec<IpAddr>,
    /// The MAC, when given.
    pub mac: Option<MacAddr>,
    /// Published ports.
    pub ports: Vec<PortSpec>,
    /// Names for the network's name server besides the container's name,
    /// as given (checked at setup of a `dns_enabled` network: `names.rs`).
    pub aliases: Vec<String>,
}

/// What is being checked (setup refuses what create would have fixed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// `create`: missing gateways and the bridge name are filled in.
    Create,
    /// `setup` (strict) and `teardown` (the same checks: a network teardown
    /// cannot read is one setup would have refused).
    Attach,
}

/// The default bridge name: `cnm-` and the first 11 characters of the
/// network id (15 in all, the kernel's limit), as the Docker plugin names
/// its bridges; the id is in `podman network inspect`.
pub fn default_bridge(id: &str) -> String {
    let head: String = id.chars().take(11).collect();
    format!("cnm-{head}")
}

/// The first host address of a subnet (the default gateway).
pub fn first_host(subnet: &IpNet) -> Option<IpAddr> {
    match subnet {
        IpNet::V4(n) => u32::from(n.network())
            .checked_add(1)
            .map(|v| IpAddr::V4(v.into())),
        IpNet::V6(n) => u128::from(n.network())
            .checked_add(1)
            .map(|v| IpAddr::V6(v.into())),
    }
}

/// True for the subnet's own address and (IPv4) its broadcast address.
fn reserved_in(subnet: &IpNet, ip: IpAddr) -> bool {
    ip == subnet.network() || (subnet.addr().is_ipv4() && ip == subnet.broadcast())
}

fn check_lease(subnet: &IpNet, lr: &LeaseRange) -> Result<Option<(IpAddr, IpAddr)>, PluginError> {
    let parse = |which: &str, v: &Option<String>| -> Result<Option<IpAddr>, PluginError> {
        let Some(text) = v.as_deref().filter(|t| !t.is_empty()) else {
            return Ok(None);
        };
        let ip: IpAddr = text.parse().map_err(|_| {
            PluginError::invalid(format!(
                "subnet {subnet}: lease_range {which} {text:?} is not an IP address"
            ))
        })?;
        if !subnet.contains(&ip) || reserved_in(subnet, ip) {
            return Err(PluginError::invalid(format!(
                "subnet {subnet}: lease_range {which} {ip} is not a host address of the subnet"
            )));
        }
        Ok(Some(ip))
    };
    let start = parse("start_ip", &lr.start_ip)?;
    let end = parse("end_ip", &lr.end_ip)?;
    if start.is_none() && end.is_none() {
        return Ok(None);
    }
    let hosts = subnet.hosts();
    let first = start.or_else(|| first_host(subnet));
    let last = end.or_else(|| hosts.last());
    match (first, last) {
        (Some(a), Some(b)) if a <= b => Ok(Some((a, b))),
        _ => Err(PluginError::invalid(format!(
            "subnet {subnet}: lease_range start_ip is after end_ip"
        ))),
    }
}

/// `with_gateway`: a subnet without a gateway gets its first address (a
/// network that is not internal, or one that serves names: its resolver
/// listens on the gateway; Podman adds the same gateway after `create`).
fn check_subnet(s: &Subnet, with_gateway: bool) -> Result<SubnetConfig, PluginError> {
    let subnet = s.subnet;
    if subnet.trunc() != subnet {
        return Err(PluginError::invalid(format!(
            "subnet {subnet} has host bits set: use {}",
            subnet.trunc()
        )));
    }
    let room = subnet.max_prefix_len() - subnet.prefix_len();
    if room < 2 {
        return Err(PluginError::invalid(format!(
            "subnet {subnet} is too small: it needs room for a gateway and containers \
             (at most /{} for IPv{})",
            subnet.max_prefix_len() - 2,
            if subnet.addr().is_ipv4() { 4 } else { 6 }
        )));
    }
    let gateway = match s.gateway {
        Some(gw) => {
            if !subnet.contains(&gw) || reserved_in(&subnet, gw) {
                return Err(PluginError::invalid(format!(
                    "gateway {gw} is not a host address of subnet {subnet}"
                )));
            }
            Some(gw)
        }
        // Podman adds a gateway to every subnet of a network that is not
        // internal or has DNS enabled; so does create, and setup for
        // hand-written configs.
        None if with_gateway => first_host(&subnet),
        None => None,
    };
    let lease = match &s.lease_range {
        Some(lr) => check_lease(&subnet, lr)?,
        None => None,
    };
    Ok(SubnetConfig {
        subnet,
        gateway,
        lease,
    })
}

fn check_route(r: &Route) -> Result<RouteConfig, PluginError> {
    let dst = r.destination;
    match r.route_type.as_deref() {
        None | Some("") | Some("unicast") => {}
        Some(t @ ("blackhole" | "unreachable" | "prohibit")) => {
            return Err(PluginError::unsupported(format!(
                "route to {dst}: route_type {t} is not supported by the cnm driver (unicast routes only)"
            )))
        }
        Some(t) => {
            return Err(PluginError::invalid(format!(
                "route to {dst}: unknown route_type {t:?}"
            )))
        }
    }
    if dst.trunc() != dst {
        return Err(PluginError::invalid(format!(
            "route destination {dst} has host bits set: use {}",
            dst.trunc()
        )));
    }
    if let Some(gw) = r.gateway {
        if gw.is_ipv4() != dst.addr().is_ipv4() {
            return Err(PluginError::invalid(format!(
                "route to {dst}: gateway {gw} is of the other address family"
            )));
        }
    }
    Ok(RouteConfig {
        destination: dst,
        gateway: r.gateway,
        metric: r.metric,
    })
}

/// Check a network. At [`Stage::Create`] the caller then fills in what
/// Podman left to the driver (see `create.rs`).
pub fn check_network(n: &Network, stage: Stage) -> Result<NetworkConfig, PluginError> {
    cnm_names::validate_network_name(&n.name)
        .map_err(|e| PluginError::invalid(format!("network name: {e}")))?;
    if n.id.is_empty() || n.id.len() > 64 || !cnm_names::is_cni_identifier(&n.id) {
        return Err(PluginError::invalid(format!(
            "network id {:?}: expected Podman's 64 hexadecimal digits",
            n.id
        )));
    }
    if n.driver.is_empty() {
        return Err(PluginError::invalid("network driver is empty"));
    }
    let options = NetworkOptions::parse(n.options.as_ref())?;

    // The bridge.
    // Podman omits an unset interface; "" means the same.
    let iface = n.network_interface.clone().filter(|i| !i.is_empty());
    let bridge = match (&iface, &options.bridge_name) {
        (Some(a), Some(b)) if a != b => {
            return Err(PluginError::invalid(format!(
                "network_interface {a:?} and option com.docker.network.bridge.name {b:?} disagree"
            )))
        }
        (Some(name), _) | (None, Some(name)) => {
            cnm_names::validate_ifname_strict(name)
                .map_err(|e| PluginError::invalid(format!("network_interface: {e}")))?;
            Some(name.clone())
        }
        (None, None) if options.driver == DriverKind::Bridge => Some(default_bridge(&n.id)),
        (None, None) => None,
    };

    // IPAM.
    let mut ipam = IpamMode::Podman;
    if let Some(io) = &n.ipam_options {
        for (k, v) in io {
            if k != "driver" {
                return Err(PluginError::invalid(format!(
                    "unknown ipam option {k:?}: the cnm driver accepts only \"driver\""
                )));
            }
            ipam =
                match v.as_str() {
                    "" | "host-local" => IpamMode::Podman,
                    "none" => IpamMode::None,
                    PLUGIN_IPAM => IpamMode::Plugin,
                    "dhcp" => return Err(PluginError::unsupported(
                        "ipam driver dhcp is not supported by the cnm driver (the bridge has no \
                         DHCP client): give the network a subnet",
                    )),
                    other => {
                        return Err(PluginError::invalid(format!(
                            "unknown ipam driver {other:?}: host-local, none or {PLUGIN_IPAM}"
                        )))
                    }
                };
        }
    }
    if options.driver == DriverKind::Overlay && ipam == IpamMode::Podman && stage == Stage::Attach {
        return Err(PluginError::invalid(format!(
            "an overlay network's addresses come from the node agent's blocks: its ipam driver \
             must be {PLUGIN_IPAM} (create the network with podman network create -d {} -o driver=overlay)",
            n.driver
        )));
    }

    // Subnets.
    let raw = n.subnets.as_deref().unwrap_or(&[]);
    let mut subnets: Vec<SubnetConfig> = Vec::with_capacity(raw.len());
    for s in raw {
        let c = check_subnet(s, !n.internal || n.dns_enabled)?;
        if let Some(other) = subnets.iter().find(|o| {
            o.subnet.contains(&c.subnet.network()) || c.subnet.contains(&o.subnet.network())
        }) {
            return Err(PluginError::invalid(format!(
                "subnets {} and {} overlap",
                other.subnet, c.subnet
            )));
        }
        subnets.push(c);
    }
    if ipam == IpamMode::None && !subnets.is_empty() {
        return Err(PluginError::invalid(
            "ipam driver none is set but subnets are given",
        ));
    }
    let has_v6 = subnets.iter().any(|s| s.subnet.addr().is_ipv6());
    if n.ipv6_enabled
        && !has_v6
        && ipam != IpamMode::None
        && stage == Stage::Create
        && options.driver == DriverKind::Bridge
    {
        return Err(PluginError::invalid(
            "ipv6_enabled needs an IPv6 subnet: the cnm driver does not pick subnets \
             (podman network create --ipv6 --subnet <IPv4 subnet> --subnet <IPv6 subnet>)",
        ));
    }
    if subnets.is_empty() && ipam != IpamMode::None && options.driver == DriverKind::Bridge {
        if stage == Stage::Create {
            return Err(PluginError::invalid(
                "the network needs a subnet: the cnm driver does not pick subnets \
                 (podman network create -d <driver> --subnet 10.89.0.0/24 ...), or \
                 --ipam-driver none for a network without addresses",
            ));
        }
        // A hand-written config without subnets: layer 2 only.
        ipam = IpamMode::None;
    }

    // Names (served by cnm-resolver on the gateways: names.rs).
    let dns_servers = n.network_dns_servers.clone().unwrap_or_default();
    if !dns_servers.is_empty() && !n.dns_enabled {
        return Err(PluginError::invalid(
            "network_dns_servers are set but dns_enabled is not: they are where the network's \
             name server forwards (podman network create --dns needs DNS on the network)",
        ));
    }
    if let Some(a) = dns_servers
        .iter()
        .find(|a| a.is_unspecified() || a.is_multicast())
    {
        return Err(PluginError::invalid(format!(
            "network_dns_servers: {a} is not a unicast address"
        )));
    }
    if n.dns_enabled && ipam == IpamMode::None && stage == Stage::Attach {
        return Err(PluginError::invalid(
            "dns_enabled on a network without addresses (ipam driver none): there is no name \
             to answer with and no gateway to listen on (Podman turns DNS off for such networks)",
        ));
    }

    let routes = n
        .routes
        .as_deref()
        .unwrap_or(&[])
        .iter()
        .map(check_route)
        .collect::<Result<Vec<_>, _>>()?;

    Ok(NetworkConfig {
        id: n.id.clone(),
        name: n.name.clone(),
        driver: n.driver.clone(),
        options,
        bridge,
        subnets,
        internal: n.internal,
        ipam,
        routes,
        dns_enabled: n.dns_enabled,
        dns_servers,
    })
}

/// Check a container's attachment (setup and teardown input) against the
/// checked network.
pub fn check_attachment(
    exec: &NetworkPluginExec,
    net: &NetworkConfig,
    netns: &str,
) -> Result<Attachment, PluginError> {
    let cid = &exec.container_id;
    if cid.is_empty() || cid.len() > 128 || !cnm_names::is_cni_identifier(cid) {
        return Err(PluginError::invalid(format!(
            "container_id {cid:?}: expected letters, digits, _ . - (Podman's 64 hexadecimal digits)"
        )));
    }
    if netns.is_empty() {
        return Err(PluginError::Usage(
            "the network namespace path argument is empty".into(),
        ));
    }
    let o = &exec.network_options;
    cnm_names::validate_ifname_strict(&o.interface_name)
        .map_err(|e| PluginError::invalid(format!("interface_name: {e}")))?;
    check_container_options(o.options.as_ref())?;
    let mac = match o.static_mac.as_deref() {
        None | Some("") => None,
        Some(text) => Some(
            text.parse::<MacAddr>()
                .map_err(|e| PluginError::invalid(format!("static_mac: {e}")))?,
        ),
    };
    let static_ips = o.static_ips.clone().unwrap_or_default();
    match net.ipam {
        IpamMode::None if !static_ips.is_empty() => {
            return Err(PluginError::invalid(
                "static_ips given on a network with ipam driver none",
            ))
        }
        IpamMode::Plugin if !static_ips.is_empty() => {
            return Err(PluginError::unsupported(format!(
                "static_ips given on a network whose addresses the plugin allocates (ipam driver \
                 {PLUGIN_IPAM}): static addresses are not supported there"
            )))
        }
        _ => {}
    }
    let mut used: Vec<IpNet> = Vec::new();
    for ip in &static_ips {
        let Some(s) = net.subnets.iter().find(|s| s.subnet.contains(ip)) else {
            return Err(PluginError::invalid(format!(
                "static IP {ip} is in none of the network's subnets ({})",
                net.subnets
                    .iter()
                    .map(|s| s.subnet.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        };
        if reserved_in(&s.subnet, *ip) || s.gateway == Some(*ip) {
            return Err(PluginError::invalid(format!(
                "static IP {ip} is the subnet's network, broadcast or gateway address"
            )));
        }
        if used.contains(&s.subnet) {
            return Err(PluginError::unsupported(format!(
                "two static IPs in subnet {}: the cnm driver gives a container one address per subnet",
                s.subnet
            )));
        }
        used.push(s.subnet);
    }
    let ports = expand(exec.port_mappings.as_deref().unwrap_or(&[]))?;
    Ok(Attachment {
        container_id: cid.clone(),
        container_name: exec.container_name.clone(),
        ifname: o.interface_name.clone(),
        netns: netns.to_string(),
        static_ips,
        mac,
        ports,
        aliases: o.aliases.clone().unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests;
