//! The real [`Kernel`]: one netlink socket in the host namespace and one
//! bound to the sandbox (created on a short-lived thread inside it), plus
//! sysctls under /proc/sys/net.

use std::collections::HashMap;

use cnm_netlink::{Handle, IpFamily, LinkInfo, NetlinkError, RouteSpec};
use ipnet::IpNet;
use netns::NetNs;

use super::{
    BridgeSpec, IfaceSpec, Kernel, KernelError, LinkState, PortSpec, RouteState, VethSpec,
};
use crate::bridge::names::{validate_link_name, vlan_gateway_peer_name};

/// The main routing table.
const MAIN_TABLE: u32 = 254;

/// Kernel access for one plugin invocation.
pub struct LinuxKernel {
    host: Handle,
    sandbox: Option<(NetNs, Handle)>,
    /// Indexes of host links this invocation already looked up or created,
    /// so each link is looked up once per ADD.
    host_links: HashMap<String, u32>,
    /// The same for links in the sandbox.
    sandbox_links: HashMap<String, u32>,
}

impl LinuxKernel {
    /// Host access only (DEL or GC without a sandbox).
    pub fn host_only() -> Result<Self, KernelError> {
        Ok(LinuxKernel {
            host: Handle::new().map_err(|e| nl("open netlink socket", "host namespace", e))?,
            sandbox: None,
            host_links: HashMap::new(),
            sandbox_links: HashMap::new(),
        })
    }

    /// Host access plus the sandbox `ns`.
    pub fn with_sandbox(ns: NetNs) -> Result<Self, KernelError> {
        let host = Handle::new().map_err(|e| nl("open netlink socket", "host namespace", e))?;
        let target = ns.path().display().to_string();
        let handle = Handle::new_in(&ns).map_err(|e| nl("open netlink socket", &target, e))?;
        Ok(LinuxKernel {
            host,
            sandbox: Some((ns, handle)),
            host_links: HashMap::new(),
            sandbox_links: HashMap::new(),
        })
    }

    fn sandbox(&mut self, op: &str) -> Result<&mut Handle, KernelError> {
        self.sandbox
            .as_mut()
            .map(|(_, h)| h)
            .ok_or_else(|| KernelError::new(op, "sandbox", "no container namespace was given"))
    }

    fn host_index(&mut self, op: &str, name: &str) -> Result<u32, KernelError> {
        if let Some(index) = self.host_links.get(name) {
            return Ok(*index);
        }
        let index = self
            .host
            .link_by_name(name)
            .map_err(|e| nl(op, name, e))?
            .map(|l| l.index)
            .ok_or_else(|| {
                KernelError::new(op, name, "no such link in the host namespace")
                    .with_errno(libc::ENODEV)
            })?;
        self.host_links.insert(name.to_string(), index);
        Ok(index)
    }

    fn sandbox_index(&mut self, op: &str, name: &str) -> Result<u32, KernelError> {
        if let Some(index) = self.sandbox_links.get(name) {
            return Ok(*index);
        }
        let index = self
            .sandbox(op)?
            .link_by_name(name)
            .map_err(|e| nl(op, name, e))?
            .map(|l| l.index)
            .ok_or_else(|| {
                KernelError::new(op, name, "no such link in the sandbox").with_errno(libc::ENODEV)
            })?;
        self.sandbox_links.insert(name.to_string(), index);
        Ok(index)
    }
}

/// A netlink error as a [`KernelError`] naming the target.
fn nl(op: &str, target: &str, e: NetlinkError) -> KernelError {
    let errno = e.errno();
    let mut k = KernelError::caused_by(op, target, e);
    k.errno = errno;
    k
}

fn state(l: LinkInfo) -> LinkState {
    LinkState {
        index: l.index,
        name: l.name,
        kind: l.kind,
        mac: l.mac.unwrap_or_default(),
        mtu: l.mtu,
        up: l.up,
        promisc: l.promisc,
        master: l.master,
        hairpin: l.hairpin,
        isolated: l.isolated,
        vlan_filtering: l.vlan_filtering,
        alias: l.alias,
    }
}

/// Write a sysctl of the calling thread's namespace when it differs.
fn sysctl_set(key: &str, value: &str) -> Result<(), KernelError> {
    let path = netns::sysctl_path(key).map_err(|e| KernelError::caused_by("sysctl", key, e))?;
    netns::write_if_differs(&path, value)
        .map(drop)
        .map_err(|e| KernelError::caused_by("write sysctl", path.display().to_string(), e))
}

fn overlaps(a: &IpNet, b: &IpNet) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

impl Kernel for LinuxKernel {
    fn host_link(&mut self, name: &str) -> Result<Option<LinkState>, KernelError> {
        Ok(self
            .host
            .link_by_name(name)
            .map_err(|e| nl("look up link", name, e))?
            .map(state))
    }

    fn ensure_bridge(&mut self, spec: &BridgeSpec) -> Result<LinkState, KernelError> {
        // Look first: creating an existing bridge takes the kernel's global
        // lock only to fail with EEXIST.
        let mut created = false;
        let mut found = self
            .host
            .link_by_name(&spec.name)
            .map_err(|e| nl("look up bridge", &spec.name, e))?;
        if found.is_none() {
            // Parallel ADDs may race here: EEXIST (Ok(false)) is fine.
            created = self
                .host
                .create_bridge(&spec.name, spec.mtu, spec.vlan_filtering, Some(spec.mac))
                .map_err(|e| {
                    if spec.vlan_filtering && e.errno() == Some(libc::EOPNOTSUPP) {
                        KernelError::new(
                            "create bridge",
                            &spec.name,
                            "the kernel does not support bridge VLAN filtering, \
                             which \"vlan\"/\"vlanTrunk\" need (CONFIG_BRIDGE_VLAN_FILTERING)",
                        )
                        .with_errno(libc::EOPNOTSUPP)
                    } else {
                        nl("create bridge", &spec.name, e)
                    }
                })?;
            found = self
                .host
                .link_by_name(&spec.name)
                .map_err(|e| nl("look up bridge", &spec.name, e))?;
        }
        let link = found.ok_or_else(|| {
            KernelError::new("look up bridge", &spec.name, "vanished after creation")
        })?;
        self.host_links.insert(spec.name.clone(), link.index);
        if link.kind.as_deref() != Some("bridge") {
            return Err(KernelError::new(
                "ensure bridge",
                &spec.name,
                format!(
                    "{:?} already exists but is not a bridge (kind {:?})",
                    spec.name, link.kind
                ),
            ));
        }
        if created {
            // Errors ignored as the reference does: IPv6 may be disabled.
            let _ = sysctl_set(&format!("net/ipv6/conf/{}/accept_ra", spec.name), "0");
        }
        if !created && spec.vlan_filtering && link.vlan_filtering == Some(false) {
            return Err(KernelError::new(
                "ensure bridge",
                &spec.name,
                format!(
                    "bridge {:?} exists without VLAN filtering, which \"vlan\"/\"vlanTrunk\" need; \
                     VLANs would not be enforced",
                    spec.name
                ),
            ));
        }
        if spec.promisc && !link.promisc {
            self.host
                .set_promisc(link.index, true)
                .map_err(|e| nl("set promiscuous mode", &spec.name, e))?;
        }
        if !link.up {
            self.host
                .set_up(link.index)
                .map_err(|e| nl("set link up", &spec.name, e))?;
        }
        Ok(LinkState {
            up: true,
            promisc: link.promisc || spec.promisc,
            ..state(link)
        })
    }

    fn create_veth(&mut self, spec: &VethSpec) -> Result<(LinkState, LinkState), KernelError> {
        let Some((ns, sandbox)) = self.sandbox.as_mut() else {
            return Err(KernelError::new(
                "create veth",
                &spec.host_name,
                "no container namespace was given",
            ));
        };
        let nlspec = cnm_netlink::VethSpec {
            name: &spec.host_name,
            peer_name: &spec.container_name,
            mtu: spec.mtu,
            mac: None,
            peer_mac: spec.container_mac,
            peer_netns: Some(ns.fd()),
            // Set below with the index we look up anyway.
            alias: None,
        };
        self.host.create_veth(&nlspec).map_err(|e| {
            nl(
                "create veth",
                &format!("{} (peer {})", spec.host_name, spec.container_name),
                e,
            )
        })?;
        let cont = sandbox
            .link_by_name(&spec.container_name)
            .map_err(|e| nl("look up container veth", &spec.container_name, e))?
            .ok_or_else(|| {
                KernelError::new(
                    "create veth",
                    &spec.container_name,
                    "not found in the sandbox after creation",
                )
            })?;
        let host = self
            .host
            .link_by_name(&spec.host_name)
            .map_err(|e| nl("look up host veth", &spec.host_name, e))?
            .ok_or_else(|| {
                KernelError::new("create veth", &spec.host_name, "not found after creation")
            })?;
        let mut host = host;
        if let Some(alias) = &spec.host_alias {
            self.host
                .set_alias(host.index, alias)
                .map_err(|e| nl("set alias", &spec.host_name, e))?;
            host.alias = Some(alias.clone());
        }
        let _ = sysctl_set(&format!("net/ipv6/conf/{}/accept_ra", spec.host_name), "0");
        self.host_links.insert(spec.host_name.clone(), host.index);
        self.sandbox_links
            .insert(spec.container_name.clone(), cont.index);
        Ok((state(host), state(cont)))
    }

    fn attach_port(&mut self, spec: &PortSpec) -> Result<LinkState, KernelError> {
        let bridge = self.host_index("attach port", &spec.bridge)?;
        let port = self.host_index("attach port", &spec.port)?;
        self.host.set_master(port, bridge).map_err(|e| {
            nl(
                "attach to bridge",
                &format!("{} -> {}", spec.port, spec.bridge),
                e,
            )
        })?;
        if spec.hairpin {
            self.host
                .set_brport_hairpin(port, true)
                .map_err(|e| nl("set hairpin mode", &spec.port, e))?;
        }
        if spec.isolated {
            self.host
                .set_brport_isolated(port, true)
                .map_err(|e| nl("set port isolation", &spec.port, e))?;
        }
        if spec.remove_default_vlan {
            match self.host.bridge_vlan_del(port, 1) {
                Ok(()) => {}
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(nl("remove default VLAN", &spec.port, e)),
            }
        }
        for v in &spec.vlans {
            self.host
                .bridge_vlan_add(port, v.vid, v.pvid, v.untagged)
                .map_err(|e| nl("add VLAN", &format!("{} vid {}", spec.port, v.vid), e))?;
        }
        self.host
            .set_up(port)
            .map_err(|e| nl("set link up", &spec.port, e))?;
        let link = self
            .host
            .link_by_index(port)
            .map_err(|e| nl("look up host veth", &spec.port, e))?
            .ok_or_else(|| KernelError::new("attach port", &spec.port, "vanished"))?;
        Ok(state(link))
    }

    fn ensure_vlan_gateway(
        &mut self,
        bridge: &str,
        vlan: u16,
        mtu: Option<u32>,
    ) -> Result<LinkState, KernelError> {
        let name = format!("{bridge}.{vlan}");
        validate_link_name(&name).map_err(|why| KernelError::new("VLAN gateway", &name, why))?;
        // The bridge-side end: a name GC never mistakes for a container's.
        let peer = vlan_gateway_peer_name(bridge, vlan);
        let bridge_index = self.host_index("VLAN gateway", bridge)?;
        let existing = self
            .host
            .link_by_name(&name)
            .map_err(|e| nl("look up", &name, e))?;
        if existing.is_none() {
            let spec = cnm_netlink::VethSpec {
                name: &name,
                peer_name: &peer,
                mtu,
                mac: None,
                peer_mac: None,
                peer_netns: None,
                alias: None,
            };
            match self.host.create_veth(&spec) {
                Ok(()) => {}
                Err(e) if e.is_exists() => {}
                Err(e) => return Err(nl("create VLAN gateway veth", &name, e)),
            }
        }
        // (Re)attach the bridge-side end unless it is already a port of the
        // bridge: a previous ADD may have failed half-way.
        let attached = self
            .host
            .link_by_name(&peer)
            .map_err(|e| nl("look up", &peer, e))?
            .is_some_and(|p| p.master == Some(bridge_index) && p.up);
        if !attached {
            let attach = self.attach_port(&PortSpec {
                port: peer.clone(),
                bridge: bridge.to_string(),
                hairpin: false,
                isolated: false,
                vlans: vec![super::VlanEntry {
                    vid: vlan,
                    pvid: true,
                    untagged: true,
                }],
                remove_default_vlan: true,
            });
            if let Err(e) = attach {
                // Leave nothing half-made: the next ADD starts afresh.
                let _ = self.host.delete_link(name.as_str());
                return Err(e);
            }
        }
        let index = self.host_index("VLAN gateway", &name)?;
        self.host
            .set_up(index)
            .map_err(|e| nl("set link up", &name, e))?;
        let link = self
            .host
            .link_by_index(index)
            .map_err(|e| nl("look up", &name, e))?
            .ok_or_else(|| KernelError::new("VLAN gateway", &name, "vanished"))?;
        Ok(state(link))
    }

    fn delete_host_link(&mut self, name: &str) -> Result<bool, KernelError> {
        self.host_links.remove(name);
        self.host
            .delete_link(name)
            .map_err(|e| nl("delete link", name, e))
    }

    fn ensure_host_addr(
        &mut self,
        link: &str,
        addr: IpNet,
        force: bool,
    ) -> Result<(), KernelError> {
        let index = self.host_index("add address", link)?;
        let have = self
            .host
            .addrs(index)
            .map_err(|e| nl("list addresses", link, e))?;
        if have.iter().any(|a| a.addr == addr) {
            return Ok(());
        }
        for a in &have {
            let conflict = match (a.addr, addr) {
                (IpNet::V4(_), IpNet::V4(_)) => true,
                (IpNet::V6(old), IpNet::V6(_)) => {
                    !old.addr().is_unicast_link_local() && overlaps(&a.addr, &addr)
                }
                _ => false,
            };
            if !conflict {
                continue;
            }
            if !force {
                return Err(KernelError::new(
                    "add address",
                    link,
                    format!(
                        "{link:?} already has an IP address different from {addr} ({})",
                        a.addr
                    ),
                ));
            }
            self.host
                .del_addr(index, a.addr)
                .map_err(|e| nl("delete conflicting address", link, e))?;
        }
        self.host
            .add_addr(index, addr, true)
            .map_err(|e| nl("add address", &format!("{addr} on {link}"), e))?;
        Ok(())
    }

    fn host_addrs(&mut self, link: &str) -> Result<Vec<IpNet>, KernelError> {
        let Some(l) = self
            .host
            .link_by_name(link)
            .map_err(|e| nl("look up", link, e))?
        else {
            return Ok(Vec::new());
        };
        Ok(self
            .host
            .addrs(l.index)
            .map_err(|e| nl("list addresses", link, e))?
            .into_iter()
            .map(|a| a.addr)
            .collect())
    }

    fn host_sysctl(&mut self, key: &str, value: &str) -> Result<(), KernelError> {
        sysctl_set(key, value)
    }

    fn container_link(&mut self, name: &str) -> Result<Option<LinkState>, KernelError> {
        let h = self.sandbox("look up container link")?;
        Ok(h.link_by_name(name)
            .map_err(|e| nl("look up container link", name, e))?
            .map(state))
    }

    fn configure_container(&mut self, spec: &IfaceSpec) -> Result<(), KernelError> {
        let has_v4 = spec.addrs.iter().any(|a| a.addr().is_ipv4());
        let has_v6 = spec.addrs.iter().any(|a| a.addr().is_ipv6());
        let index = self.sandbox_index("configure", &spec.name)?;
        let Some((ns, h)) = self.sandbox.as_mut() else {
            return Err(KernelError::new(
                "configure",
                &spec.name,
                "no container namespace was given",
            ));
        };

        if has_v4 {
            // Gratuitous ARP when the link comes up, so neighbours forget a
            // previous owner of the address; over netlink, no thread needed.
            h.set_arp_notify(index)
                .map_err(|e| nl("set arp_notify", &spec.name, e))?;
        }
        if has_v6 {
            // IPv6 sysctls have no netlink setter: one short-lived thread in
            // the sandbox writes them all.
            let ifname = spec.name.clone();
            let dad = spec.dad;
            let target = ns.path().display().to_string();
            ns.run_in(move || -> Result<(), KernelError> {
                sysctl_set("net/ipv6/conf/lo/disable_ipv6", "0")?;
                sysctl_set(&format!("net/ipv6/conf/{ifname}/disable_ipv6"), "0")?;
                let _ = sysctl_set(&format!("net/ipv6/conf/{ifname}/keep_addr_on_down"), "1");
                if dad {
                    let _ = sysctl_set(&format!("net/ipv6/conf/{ifname}/enhanced_dad"), "1");
                    let _ = sysctl_set(&format!("net/ipv6/conf/{ifname}/accept_dad"), "1");
                } else {
                    let _ = sysctl_set(&format!("net/ipv6/conf/{ifname}/accept_dad"), "0");
                }
                Ok(())
            })
            .map_err(|e| KernelError::caused_by("enter sandbox", &target, e))??;
        }
        for addr in &spec.addrs {
            // IFA_F_NODAD unless `enabledad`: usable when ADD returns.
            h.add_addr(index, *addr, !spec.dad)
                .map_err(|e| nl("add address", &format!("{addr} on {}", spec.name), e))?;
        }
        if spec.up {
            h.set_up(index)
                .map_err(|e| nl("set link up", &spec.name, e))?;
        }
        Ok(())
    }

    fn add_container_routes(
        &mut self,
        name: &str,
        routes: &[RouteState],
    ) -> Result<(), KernelError> {
        if routes.is_empty() {
            return Ok(());
        }
        let index = self.sandbox_index("add route", name)?;
        let h = self.sandbox("add route")?;
        for r in routes {
            let route = RouteSpec {
                dst: r.dst,
                gw: r.gw,
                oif: Some(index),
                priority: r.priority,
                table: r.table,
                scope: r.scope,
                mtu: r.mtu,
                advmss: r.advmss,
            };
            h.add_route(&route).map_err(|e| {
                nl(
                    "add route",
                    &format!("{} via {:?} dev {name}", r.dst, r.gw),
                    e,
                )
            })?;
        }
        Ok(())
    }

    fn container_addrs(&mut self, name: &str) -> Result<Vec<IpNet>, KernelError> {
        let h = self.sandbox("list container addresses")?;
        let Some(l) = h.link_by_name(name).map_err(|e| nl("look up", name, e))? else {
            return Ok(Vec::new());
        };
        Ok(h.addrs(l.index)
            .map_err(|e| nl("list addresses", name, e))?
            .into_iter()
            .map(|a| a.addr)
            .collect())
    }

    fn container_routes(&mut self, name: &str) -> Result<Vec<RouteState>, KernelError> {
        let h = self.sandbox("list container routes")?;
        let Some(l) = h.link_by_name(name).map_err(|e| nl("look up", name, e))? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for fam in [IpFamily::V4, IpFamily::V6] {
            let routes = h
                .routes(fam, Some(MAIN_TABLE))
                .map_err(|e| nl("list routes", name, e))?;
            out.extend(
                routes
                    .into_iter()
                    .filter(|r| r.oif == Some(l.index))
                    .map(|r| RouteState {
                        dst: r.dst,
                        gw: r.gw,
                        priority: r.priority,
                        table: r.table,
                        scope: r.scope,
                        mtu: r.mtu,
                        advmss: r.advmss,
                    }),
            );
        }
        Ok(out)
    }

    fn delete_container_link(&mut self, name: &str) -> Result<bool, KernelError> {
        self.sandbox_links.remove(name);
        match self.sandbox.as_mut() {
            None => Ok(false),
            Some((_, h)) => h
                .delete_link(name)
                .map_err(|e| nl("delete container link", name, e)),
        }
    }

    fn bridge_ports(&mut self, bridge: &str) -> Result<Vec<LinkState>, KernelError> {
        let Some(b) = self
            .host
            .link_by_name(bridge)
            .map_err(|e| nl("look up", bridge, e))?
        else {
            return Ok(Vec::new());
        };
        Ok(self
            .host
            .links_by_master(b.index)
            .map_err(|e| nl("list bridge ports", bridge, e))?
            .into_iter()
            .map(state)
            .collect())
    }

    fn links_with_alias(&mut self, alias: &str) -> Result<Vec<LinkState>, KernelError> {
        Ok(self
            .host
            .links()
            .map_err(|e| nl("list links", "host namespace", e))?
            .into_iter()
            .filter(|l| l.alias.as_deref() == Some(alias))
            .map(state)
            .collect())
    }

    fn create_host_veth(&mut self, spec: &VethSpec) -> Result<(LinkState, LinkState), KernelError> {
        let nlspec = cnm_netlink::VethSpec {
            name: &spec.host_name,
            peer_name: &spec.container_name,
            mtu: spec.mtu,
            mac: None,
            peer_mac: spec.container_mac,
            peer_netns: None,
            alias: spec.host_alias.as_deref(),
        };
        let target = format!("{} (peer {})", spec.host_name, spec.container_name);
        self.host
            .create_veth(&nlspec)
            .map_err(|e| nl("create veth", &target, e))?;
        let mut out = Vec::with_capacity(2);
        for name in [&spec.host_name, &spec.container_name] {
            let link = self
                .host
                .link_by_name(name)
                .map_err(|e| nl("look up veth", name, e))?
                .ok_or_else(|| KernelError::new("create veth", name, "not found after creation"))?;
            self.host_links.insert(name.clone(), link.index);
            out.push(state(link));
        }
        let _ = sysctl_set(&format!("net/ipv6/conf/{}/accept_ra", spec.host_name), "0");
        let peer = out
            .pop()
            .ok_or_else(|| KernelError::new("create veth", &target, "no peer"))?;
        let host = out
            .pop()
            .ok_or_else(|| KernelError::new("create veth", &target, "no host end"))?;
        Ok((host, peer))
    }

    fn move_into_sandbox(
        &mut self,
        host_name: &str,
        new_name: &str,
    ) -> Result<LinkState, KernelError> {
        let index = self.host_index("move into sandbox", host_name)?;
        let Some((ns, sandbox)) = self.sandbox.as_mut() else {
            return Err(KernelError::new(
                "move into sandbox",
                host_name,
                "no container namespace was given",
            ));
        };
        self.host
            .set_netns(index, ns.fd())
            .map_err(|e| nl("move into sandbox", host_name, e))?;
        self.host_links.remove(host_name);
        let moved = sandbox
            .link_by_name(host_name)
            .map_err(|e| nl("look up moved link", host_name, e))?
            .ok_or_else(|| {
                KernelError::new("move into sandbox", host_name, "not found in the sandbox")
            })?;
        if host_name != new_name {
            sandbox
                .set_name(moved.index, new_name)
                .map_err(|e| nl("rename link", new_name, e))?;
        }
        self.sandbox_links.insert(new_name.to_string(), moved.index);
        Ok(LinkState {
            name: new_name.to_string(),
            ..state(moved)
        })
    }
}

impl LinuxKernel {
    /// Set the sandbox's loopback up (a new namespace starts with it down).
    pub fn sandbox_loopback_up(&mut self) -> Result<(), KernelError> {
        let h = self.sandbox("set loopback up")?;
        let lo = h
            .link_by_name("lo")
            .map_err(|e| nl("look up", "lo", e))?
            .ok_or_else(|| KernelError::new("set loopback up", "lo", "not found"))?;
        if !lo.up {
            h.set_up(lo.index).map_err(|e| nl("set up", "lo", e))?;
        }
        Ok(())
    }
}
