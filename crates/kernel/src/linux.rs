//! The real [`Kernel`]: one netlink socket in the host namespace and one
//! bound to the sandbox (opened when first needed, by the calling thread
//! entering the sandbox and coming back), plus sysctls under /proc/sys/net.
//!
//! ADD's chain of changes is pipelined: the veth is created already attached
//! and up with its alias in one datagram, and the container side (link
//! settings, addresses, up) in another; links created here are not looked
//! up again.

use std::collections::HashMap;

use cnm_netlink::{Handle, IpFamily, LinkInfo, NetlinkError, Request, RouteSpec};
use ipnet::IpNet;
use netns::NetNs;

use cnm_model::MacAddr;

use crate::seam::Kernel;
use crate::types::{
    BridgeSpec, ContainerIpv6, IfaceSpec, KernelError, LinkState, PortSpec, RouteState, VethSpec,
    VlanEntry, VlanGatewaySpec,
};

/// The main routing table.
const MAIN_TABLE: u32 = 254;

/// The container namespace and, once opened, a socket bound to it.
struct Sandbox {
    ns: NetNs,
    handle: Option<Handle>,
    /// IPv6 sysctls of the container interface already written (by the
    /// thread that opened the socket).
    ipv6_done: bool,
}

/// Kernel access for one plugin invocation.
pub struct LinuxKernel {
    host: Handle,
    sandbox: Option<Sandbox>,
    /// Host veths this invocation created already attached (to the bridge
    /// with this index) and up, with their state.
    attached: HashMap<String, (u32, LinkState)>,
    /// Addresses of a bridge (by index) read in the datagram that created a
    /// port of it: ADD checks the gateway address next.
    bridge_addrs: Option<(u32, Vec<cnm_netlink::AddrInfo>)>,
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
            attached: HashMap::new(),
            bridge_addrs: None,
            host_links: HashMap::new(),
            sandbox_links: HashMap::new(),
        })
    }

    /// Host access plus the sandbox `ns`.
    pub fn with_sandbox(ns: NetNs) -> Result<Self, KernelError> {
        let host = Handle::new().map_err(|e| nl("open netlink socket", "host namespace", e))?;
        Ok(LinuxKernel {
            host,
            sandbox: Some(Sandbox {
                ns,
                handle: None,
                ipv6_done: false,
            }),
            attached: HashMap::new(),
            bridge_addrs: None,
            host_links: HashMap::new(),
            sandbox_links: HashMap::new(),
        })
    }

    /// The sandbox socket, opened on first use; `ipv6` (for the container
    /// interface `ifname`) is applied by the same thread when it opens it.
    fn sandbox_with(
        &mut self,
        op: &str,
        ifname: &str,
        ipv6: ContainerIpv6,
    ) -> Result<&mut Handle, KernelError> {
        let sb = self
            .sandbox
            .as_mut()
            .ok_or_else(|| KernelError::new(op, "sandbox", "no container namespace was given"))?;
        let target = sb.ns.path().display().to_string();
        // Only an IPv6 endpoint needs sysctls (Off is one netlink setting).
        let wants_ipv6 = matches!(ipv6, ContainerIpv6::On { .. }) && !sb.ipv6_done;
        match sb.handle.as_mut() {
            None => {
                let name = ifname.to_string();
                // On this thread (a setns there and back, no thread to spawn).
                let (h, res) = Handle::new_in_here(&sb.ns, move || container_ipv6(&name, ipv6))
                    .map_err(|e| nl("open netlink socket", &target, e))?;
                sb.handle = Some(h);
                res?;
                sb.ipv6_done |= wants_ipv6;
            }
            Some(_) if wants_ipv6 => {
                let name = ifname.to_string();
                sb.ns
                    .run_in(move || container_ipv6(&name, ipv6))
                    .map_err(|e| KernelError::new("enter sandbox", &target, e))??;
                sb.ipv6_done = true;
            }
            Some(_) => {}
        }
        sb.handle
            .as_mut()
            .ok_or_else(|| KernelError::new(op, &target, "sandbox socket not open"))
    }

    fn sandbox(&mut self, op: &str) -> Result<&mut Handle, KernelError> {
        self.sandbox_with(op, "", ContainerIpv6::Default)
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
        mac: MacAddr(l.mac.unwrap_or_default()),
        mtu: l.mtu,
        up: l.up,
        promisc: l.promisc,
        master: l.master,
        hairpin: l.hairpin,
        isolated: l.isolated,
        vlan_filtering: l.vlan_filtering,
        alias: l.alias,
        peer_index: l.link,
    }
}

/// Write a sysctl of the calling thread's namespace when it differs.
fn sysctl_set(key: &str, value: &str) -> Result<(), KernelError> {
    let path = netns::sysctl_path(key).map_err(|e| KernelError::caused_by("sysctl", key, e))?;
    netns::write_if_differs(&path, value)
        .map(drop)
        .map_err(|e| KernelError::caused_by("write sysctl", path.display().to_string(), e))
}

/// IPv6 settings of the container interface `ifname`, run on a thread
/// inside the sandbox before the interface comes up (IPv6 sysctls have no
/// netlink setter).
fn container_ipv6(ifname: &str, mode: ContainerIpv6) -> Result<(), KernelError> {
    match mode {
        // Off is the address generation mode none, set over netlink with the
        // link settings (no link-local address, so no DAD, router
        // solicitation or MLD report). No sysctl: opening
        // /proc/sys/net/ipv6/conf/<if>/ costs a walk over one cached entry
        // per namespace that has an interface of that name (every container
        // has an eth0: 10% of an ADD's CPU at 1000 containers, measured),
        // and `disable_ipv6` in particular only try-locks RTNL and restarts
        // the write until it gets it, spinning while any other netlink user
        // holds the lock.
        ContainerIpv6::Default | ContainerIpv6::Off => Ok(()),
        ContainerIpv6::On { dad } => {
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
        }
    }
}

/// A random locally administered unicast MAC (what the kernel picks for a
/// veth end given none), chosen here so the reply needs no lookup.
fn random_mac() -> Result<MacAddr, KernelError> {
    let mut mac = [0u8; 6];
    getrandom::fill(&mut mac).map_err(|e| KernelError::new("create veth", "MAC address", e))?;
    mac[0] = (mac[0] & 0xfe) | 0x02;
    Ok(MacAddr(mac))
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

    fn host_link_by_index(&mut self, index: u32) -> Result<Option<LinkState>, KernelError> {
        Ok(self
            .host
            .link_by_index(index)
            .map_err(|e| nl("look up link", &format!("index {index}"), e))?
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
                .create_bridge(&spec.name, spec.mtu, spec.vlan_filtering, Some(spec.mac.0))
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
        let what = format!("{} (peer {})", spec.host_name, spec.container_name);
        let master = match &spec.master {
            Some(b) => Some(self.host_index("create veth", b)?),
            None => None,
        };
        let container_mac = match spec.container_mac {
            Some(m) => m,
            None => random_mac()?,
        };
        let Some(sb) = self.sandbox.as_ref() else {
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
            peer_mac: Some(container_mac.0),
            peer_netns: Some(sb.ns.fd()),
            alias: None,
        };
        // One datagram: the pair (host end attached and up, echoed back so
        // its index and MAC need no lookup), then, by name, the alias and no
        // IPv6 link-local address on the host end: a bridge port needs none,
        // so it sends no DAD, router solicitation or MLD into the container.
        // The bridge's addresses come along (the gateway is checked next).
        let mut reqs = vec![
            Request::create_veth(&nlspec, master, master.is_some())
                .map_err(|e| nl("create veth", &what, e))?
                .echo(),
            Request::configure_by_name(&spec.host_name, spec.host_alias.as_deref(), true)
                .map_err(|e| nl("create veth", &what, e))?,
        ];
        if let Some(m) = master {
            reqs.push(Request::addrs(m));
        }
        let mut replies = self
            .host
            .pipeline(reqs)
            .map_err(|e| nl("create veth", &what, e))?;
        if let (Some(m), Some(addrs)) = (master, replies.get_mut(2).and_then(|r| r.addrs.take())) {
            self.bridge_addrs = Some((m, addrs));
        }
        let echoed = replies.into_iter().next().and_then(|r| r.link);
        // The socket in the sandbox, and the container end's IPv6 settings,
        // from one thread, before anything brings the end up.
        self.sandbox_with("create veth", &spec.container_name, spec.container_ipv6)?;
        let mut host = match echoed {
            Some(l) if l.index != 0 && l.mac.is_some() => l,
            // Kernels before 6.2 do not echo a new link.
            _ => self
                .host
                .link_by_name(&spec.host_name)
                .map_err(|e| nl("look up host veth", &spec.host_name, e))?
                .ok_or_else(|| {
                    KernelError::new("create veth", &spec.host_name, "not found after creation")
                })?,
        };
        let cont_index = match (host.link, host.link_netnsid) {
            (Some(i), Some(_)) => i,
            _ => {
                self.sandbox("look up container veth")?
                    .link_by_name(&spec.container_name)
                    .map_err(|e| nl("look up container veth", &spec.container_name, e))?
                    .ok_or_else(|| {
                        KernelError::new(
                            "create veth",
                            &spec.container_name,
                            "not found in the sandbox after creation",
                        )
                    })?
                    .index
            }
        };
        host.alias = spec.host_alias.clone();
        host.master = master.or(host.master);
        host.up = host.up || master.is_some();
        let cont = LinkState {
            index: cont_index,
            name: spec.container_name.clone(),
            kind: Some("veth".to_string()),
            mac: container_mac,
            mtu: host.mtu,
            ..LinkState::default()
        };
        let host = state(host);
        self.host_links.insert(spec.host_name.clone(), host.index);
        self.sandbox_links
            .insert(spec.container_name.clone(), cont.index);
        if let Some(m) = master {
            self.attached
                .insert(spec.host_name.clone(), (m, host.clone()));
        }
        Ok((host, cont))
    }

    fn attach_port(&mut self, spec: &PortSpec) -> Result<LinkState, KernelError> {
        let bridge = self.host_index("attach port", &spec.bridge)?;
        let port = self.host_index("attach port", &spec.port)?;
        // Created attached and up by create_veth: only the extras remain.
        let known = match self.attached.get(&spec.port) {
            Some((m, st)) if *m == bridge => Some(st.clone()),
            _ => None,
        };
        if known.is_none() {
            self.host.set_master(port, bridge).map_err(|e| {
                nl(
                    "attach to bridge",
                    &format!("{} -> {}", spec.port, spec.bridge),
                    e,
                )
            })?;
        }
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
        if let Some(st) = known {
            return Ok(LinkState {
                hairpin: Some(spec.hairpin),
                isolated: Some(spec.isolated),
                ..st
            });
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

    fn ensure_vlan_gateway(&mut self, spec: &VlanGatewaySpec) -> Result<LinkState, KernelError> {
        let (bridge, vlan, mtu) = (spec.bridge.as_str(), spec.vlan, spec.mtu);
        let name = spec.name.clone();
        // The bridge-side end: a name GC never mistakes for a container's.
        let peer = spec.peer_name.clone();
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
                vlans: vec![VlanEntry {
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
        self.attached.remove(name);
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
        let have = match self.bridge_addrs.take() {
            Some((i, addrs)) if i == index => addrs,
            _ => self
                .host
                .addrs(index)
                .map_err(|e| nl("list addresses", link, e))?,
        };
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
        let index = self.sandbox_index("configure", &spec.name)?;
        // IPv6 sysctls (on): normally applied by the thread that opened the
        // sandbox socket (create_veth); otherwise now, on one thread. Off is
        // the address generation mode none, in the link settings below.
        let ipv6 = match spec.ipv6 {
            on @ ContainerIpv6::On { .. } => on,
            ContainerIpv6::Off | ContainerIpv6::Default => ContainerIpv6::Default,
        };
        let no_ll = spec.ipv6 == ContainerIpv6::Off;
        let h = self.sandbox_with("configure", &spec.name, ipv6)?;
        let mut reqs = Vec::with_capacity(spec.addrs.len() + 2);
        if has_v4 || no_ll {
            // Gratuitous ARP when the link comes up, so neighbours forget a
            // previous owner of the address; no IPv6 link-local address for
            // an IPv4-only endpoint. Over netlink, before the link is up.
            reqs.push(Request::link_conf(index, has_v4, no_ll));
        }
        for addr in &spec.addrs {
            // IFA_F_NODAD unless `enabledad`: usable when ADD returns.
            reqs.push(Request::add_addr(index, *addr, !spec.dad));
        }
        if spec.up {
            reqs.push(Request::set_up(index));
        }
        h.pipeline(reqs)
            .map_err(|e| nl("configure", &format!("{} (addresses, up)", spec.name), e))?;
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
        let mut reqs = Vec::with_capacity(routes.len());
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
            reqs.push(Request::add_route(&route).map_err(|e| {
                nl(
                    "add route",
                    &format!("{} via {:?} dev {name}", r.dst, r.gw),
                    e,
                )
            })?);
        }
        self.sandbox("add route")?
            .pipeline(reqs)
            .map_err(|e| nl("add route", &format!("dev {name}"), e))?;
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
        if self.sandbox.is_none() {
            return Ok(false);
        }
        self.sandbox("delete container link")?
            .delete_link(name)
            .map_err(|e| nl("delete container link", name, e))
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
            peer_mac: spec.container_mac.map(|m| m.0),
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
        let sb = self.sandbox.as_ref().ok_or_else(|| {
            KernelError::new(
                "move into sandbox",
                host_name,
                "no container namespace was given",
            )
        })?;
        self.host
            .set_netns(index, sb.ns.fd())
            .map_err(|e| nl("move into sandbox", host_name, e))?;
        self.host_links.remove(host_name);
        let sandbox = self.sandbox("move into sandbox")?;
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
