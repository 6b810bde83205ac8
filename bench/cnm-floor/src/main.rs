//! cnm-floor: the kernel work of one IPv4 ADD and nothing else, as the
//! benchmark's floor. No config, no IPAM, no undo, no result: look the
//! bridge up, create the veth with its peer in the container namespace,
//! attached and up (one datagram, as simplebridge sends it), enter the
//! container namespace, settle IPv6 on the interface, then link settings,
//! address, up and default route in one datagram.
//!
//! usage: cnm-floor <bridge> <host-veth> <netns-path> <addr/prefix> <gateway> [off|disable|on]
//!   off      IFLA_INET6_ADDR_GEN_MODE none on the container interface
//!            (simplebridge's default for IPv4-only endpoints)
//!   disable  disable_ipv6=1 instead (what libnetwork writes)
//!   on       the kernel's default (link-local address, DAD, RS, MLD)
//!
//! Run by cnm-bench (bench/cnm-bench) in a throwaway host namespace.

use std::fs::File;
use std::net::IpAddr;
use std::os::fd::{AsFd, AsRawFd};

use cnm_netlink::{Handle, Request, RouteSpec, VethSpec};
use ipnet::IpNet;

/// What the container interface does with IPv6.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ipv6 {
    Off,
    Disable,
    On,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Err(e) = run(&args) {
        eprintln!("cnm-floor: {e}");
        std::process::exit(1);
    }
}

fn run(args: &[String]) -> Result<(), String> {
    let usage = "usage: cnm-floor <bridge> <host-veth> <netns-path> <addr/prefix> <gateway> [off|disable|on]";
    let [bridge, veth, netns, addr, gw, rest @ ..] = args else {
        return Err(usage.to_owned());
    };
    let ipv6 = match rest.first().map(String::as_str) {
        None | Some("off") => Ipv6::Off,
        Some("disable") => Ipv6::Disable,
        Some("on") => Ipv6::On,
        Some(other) => return Err(format!("unknown IPv6 mode {other:?}\n{usage}")),
    };
    let addr: IpNet = addr.parse().map_err(|e| format!("{addr}: {e}"))?;
    let gw: IpAddr = gw.parse().map_err(|e| format!("{gw}: {e}"))?;
    let ns = File::open(netns).map_err(|e| format!("{netns}: {e}"))?;

    let mut host = Handle::new().map_err(|e| e.to_string())?;
    let br = host
        .link_by_name(bridge)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no bridge {bridge}"))?;
    let spec = VethSpec {
        name: veth,
        peer_name: "eth0",
        mtu: None,
        mac: None,
        peer_mac: None,
        peer_netns: Some(ns.as_fd()),
        alias: None,
    };
    let replies = host
        .pipeline(vec![
            Request::create_veth(&spec, Some(br.index), true)
                .map_err(|e| e.to_string())?
                .echo(),
            Request::configure_by_name(veth, None, true).map_err(|e| e.to_string())?,
        ])
        .map_err(|e| e.to_string())?;
    let peer = replies
        .first()
        .and_then(|r| r.link.as_ref())
        .and_then(|l| l.link)
        .ok_or("the kernel did not echo the new veth (Linux >= 6.2 needed)")?;

    // The program is single-threaded: move it into the container.
    // SAFETY: setns on an open namespace fd; affects only this thread.
    if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(format!(
            "setns {netns}: {}",
            std::io::Error::last_os_error()
        ));
    }
    let mut cont = Handle::new().map_err(|e| e.to_string())?;
    if ipv6 == Ipv6::Disable {
        std::fs::write("/proc/sys/net/ipv6/conf/eth0/disable_ipv6", "1")
            .map_err(|e| format!("disable_ipv6: {e}"))?;
    }
    let mut route =
        RouteSpec::new(IpNet::new(IpAddr::from([0u8; 4]), 0).map_err(|e| e.to_string())?);
    route.gw = Some(gw);
    route.oif = Some(peer);
    cont.pipeline(vec![
        Request::link_conf(peer, true, ipv6 == Ipv6::Off),
        Request::add_addr(peer, addr, true),
        Request::set_up(peer),
        Request::add_route(&route).map_err(|e| e.to_string())?,
    ])
    .map_err(|e| e.to_string())?;
    Ok(())
}
