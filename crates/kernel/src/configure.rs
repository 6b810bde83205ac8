//! The interface configurator: the one place an endpoint's interface gets
//! its configuration inside the sandbox, whichever way it got there (the
//! bridge's fast path creates the veth peer inside; the sandbox's slow
//! path, libnetwork's way, moves a host interface in). In order: IPv6 (off
//! on an IPv4-only interface, on with DAD as configured), addresses and
//! link up in one pipelined request, then the routes (the gateway's default
//! route among them) in another.

use std::net::IpAddr;

use ipnet::IpNet;

use crate::seam::{family_of, Kernel};
use crate::system::FaultPoints;
use crate::types::{ContainerIpv6, Family, IfaceSpec, KernelError, RouteState};

/// What the configurator does to one interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceConfig<'a> {
    /// The interface's name in the sandbox.
    pub name: &'a str,
    /// Its addresses (with their subnets' prefix lengths).
    pub addrs: &'a [IpNet],
    /// Add the addresses without `IFA_F_NODAD` (IPv6 duplicate-address
    /// detection runs).
    pub dad: bool,
    /// IPv6 on the interface ([`ContainerIpv6::for_addresses`]).
    pub ipv6: ContainerIpv6,
    /// Set the link up.
    pub up: bool,
    /// Routes through the interface; one without a gateway goes through
    /// the gateway of its family in `gateways` (the reference's
    /// `ConfigureIface`), or on-link when there is none.
    pub routes: &'a [RouteState],
    /// The gateways of the interface's subnets.
    pub gateways: &'a [IpAddr],
}

/// Which step of the configuration failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigureStep {
    /// IPv6, addresses, up.
    Addresses,
    /// Routes.
    Routes,
}

/// A failed configuration step.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error}")]
pub struct ConfigureError {
    /// The step.
    pub step: ConfigureStep,
    /// The kernel's error.
    #[source]
    pub error: KernelError,
}

/// The routes as the kernel gets them: each without a gateway through the
/// gateway of its family, when there is one.
pub fn resolve_routes(routes: &[RouteState], gateways: &[IpAddr]) -> Vec<RouteState> {
    let gw_of = |fam: Family| gateways.iter().copied().find(|g| family_of(g) == fam);
    routes
        .iter()
        .map(|r| {
            let fam = if r.dst.addr().is_ipv4() {
                Family::V4
            } else {
                Family::V6
            };
            RouteState {
                dst: r.dst.trunc(),
                gw: r.gw.or_else(|| gw_of(fam)),
                ..r.clone()
            }
        })
        .collect()
}

/// Configure interface `cfg.name` of the sandbox `kernel` was opened for.
/// The fault points `after-addresses` and `after-routes` mark the steps.
pub fn configure_interface(
    kernel: &mut dyn Kernel,
    cfg: &InterfaceConfig<'_>,
    faults: &dyn FaultPoints,
) -> Result<(), ConfigureError> {
    kernel
        .configure_container(&IfaceSpec {
            name: cfg.name.to_string(),
            addrs: cfg.addrs.to_vec(),
            dad: cfg.dad,
            ipv6: cfg.ipv6,
            up: cfg.up,
        })
        .map_err(|error| ConfigureError {
            step: ConfigureStep::Addresses,
            error,
        })?;
    faults.fault_point("after-addresses");
    kernel
        .add_container_routes(cfg.name, &resolve_routes(cfg.routes, cfg.gateways))
        .map_err(|error| ConfigureError {
            step: ConfigureStep::Routes,
            error,
        })?;
    faults.fault_point("after-routes");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_without_a_gateway_take_their_familys() {
        let r = |dst: &str, gw: Option<&str>| RouteState {
            dst: dst.parse().expect("net"),
            gw: gw.map(|g| g.parse().expect("ip")),
            priority: None,
            table: None,
            scope: None,
            mtu: None,
            advmss: None,
        };
        let gws: Vec<IpAddr> = vec![
            "10.0.0.1".parse().expect("ip"),
            "fd00::1".parse().expect("ip"),
        ];
        let out = resolve_routes(
            &[
                r("0.0.0.0/0", None),
                r("::/0", None),
                r("10.9.0.5/16", Some("10.0.0.254")),
            ],
            &gws,
        );
        assert_eq!(out[0].gw, Some(gws[0]));
        assert_eq!(out[1].gw, Some(gws[1]));
        assert_eq!(out[2].gw, Some("10.0.0.254".parse().expect("ip")));
        assert_eq!(
            out[2].dst.to_string(),
            "10.9.0.0/16",
            "destination truncated"
        );
        assert_eq!(resolve_routes(&[r("10.1.0.0/16", None)], &[])[0].gw, None);
    }
}
