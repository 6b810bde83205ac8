//! An in-memory kernel, firewall and IPAM for unit tests of the model and
//! the drivers without root. State is shared (`Arc<Mutex<..>>`, so the fake
//! system is `Send + Sync` like the real one) and a test can inspect it after
//! the driver ran; `fail_on` injects a failure. Besides the sandbox at the
//! path given to [`FakeSystem::new`] (`FakeState::container`), sandboxes made
//! with `System::create_sandbox` live in `FakeState::sandboxes`.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex, MutexGuard};

use cni_protocol::{CniError, CniResult, IpConfig, Request};
use ipnet::IpNet;

use super::{
    BridgeSpec, Firewall, IfaceSpec, Kernel, KernelError, LinkState, MasqSpec, PortSpec,
    RouteState, VethSpec,
};
use crate::ipam::Ipam;
use crate::system::{SandboxError, System};

/// One fake link.
#[derive(Debug, Clone, Default)]
pub struct FakeLink {
    pub state: LinkState,
    pub addrs: Vec<IpNet>,
    pub routes: Vec<RouteState>,
    /// The peer: (its sandbox key, `None` for the host; its name).
    pub peer: Option<(Option<String>, String)>,
}

/// Everything the fakes hold.
#[derive(Debug, Default)]
pub struct FakeState {
    pub host: BTreeMap<String, FakeLink>,
    /// `None`: the sandbox does not exist.
    pub container: Option<BTreeMap<String, FakeLink>>,
    /// The key of the sandbox `container` stands for.
    pub container_key: String,
    /// Further sandboxes by key (made by `create_sandbox`).
    pub sandboxes: BTreeMap<String, BTreeMap<String, FakeLink>>,
    pub sysctls: BTreeMap<String, String>,
    pub masquerade: BTreeMap<String, Vec<IpNet>>,
    pub spoof: BTreeMap<String, [u8; 6]>,
    /// (container ID, ifname) -> address.
    pub ipam: BTreeMap<(String, String), IpNet>,
    /// Operation name that fails with EIO (e.g. "create veth", "ipam add").
    pub fail_on: Option<String>,
    /// Every kernel operation, in order.
    pub log: Vec<String>,
    next_index: u32,
}

impl FakeState {
    fn op(&mut self, name: &str, target: &str) -> Result<(), KernelError> {
        self.log.push(format!("{name} {target}"));
        if self.fail_on.as_deref() == Some(name) {
            return Err(KernelError::new(name, target, "injected failure").with_errno(libc::EIO));
        }
        Ok(())
    }
    fn index(&mut self) -> u32 {
        self.next_index += 1;
        self.next_index + 1
    }
    /// The links of the sandbox at `key`, if it exists.
    pub fn sandbox(&self, key: &str) -> Option<&BTreeMap<String, FakeLink>> {
        if key == self.container_key {
            self.container.as_ref()
        } else {
            self.sandboxes.get(key)
        }
    }
    /// The same, mutable.
    pub fn sandbox_mut(&mut self, key: &str) -> Option<&mut BTreeMap<String, FakeLink>> {
        if key == self.container_key {
            self.container.as_mut()
        } else {
            self.sandboxes.get_mut(key)
        }
    }
    /// Remove the peer of a deleted link, wherever it is.
    fn remove_peer(&mut self, peer: Option<(Option<String>, String)>) {
        match peer {
            Some((None, name)) => {
                self.host.remove(&name);
            }
            Some((Some(key), name)) => {
                if let Some(sb) = self.sandbox_mut(&key) {
                    sb.remove(&name);
                }
            }
            None => {}
        }
    }
}

/// Shared fake state; `borrow`/`borrow_mut` lock it (never hold one guard
/// while taking another).
#[derive(Debug, Clone, Default)]
pub struct Shared(Arc<Mutex<FakeState>>);

impl Shared {
    /// Wrap a state.
    pub fn new(state: FakeState) -> Self {
        Shared(Arc::new(Mutex::new(state)))
    }
    /// Lock for reading.
    pub fn borrow(&self) -> MutexGuard<'_, FakeState> {
        self.lock()
    }
    /// Lock for writing.
    pub fn borrow_mut(&self) -> MutexGuard<'_, FakeState> {
        self.lock()
    }
    fn lock(&self) -> MutexGuard<'_, FakeState> {
        // A test that panicked while holding the lock leaves the state as it
        // was; the next test's assertions still see it.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A [`System`] over [`FakeState`].
pub struct FakeSystem {
    pub state: Shared,
    /// The path the fake sandbox answers to.
    pub netns_path: String,
}

impl FakeSystem {
    /// A system with an existing, empty sandbox at `netns_path`.
    pub fn new(netns_path: &str) -> Self {
        let state = FakeState {
            container: Some(BTreeMap::new()),
            container_key: netns_path.to_string(),
            ..FakeState::default()
        };
        FakeSystem {
            state: Shared::new(state),
            netns_path: netns_path.to_string(),
        }
    }
}

impl System for FakeSystem {
    fn kernel(
        &self,
        netns: Option<&str>,
        _allow_own: bool,
    ) -> Result<Box<dyn Kernel + '_>, SandboxError> {
        if let Some(path) = netns {
            if self.state.borrow().sandbox(path).is_none() {
                return Err(SandboxError::Missing(path.to_string()));
            }
        }
        Ok(Box::new(FakeKernel {
            state: self.state.clone(),
            sandbox: netns.map(str::to_string),
        }))
    }
    fn firewall(&self) -> Box<dyn Firewall + '_> {
        Box::new(FakeFirewall {
            state: self.state.clone(),
        })
    }
    fn ipam(&self, _ipam_type: &str) -> Box<dyn Ipam + '_> {
        Box::new(FakeIpam {
            state: self.state.clone(),
        })
    }
    fn create_sandbox(&self, key: &str) -> Result<(), SandboxError> {
        let mut st = self.state.borrow_mut();
        st.op("create sandbox", key)?;
        if st.sandbox(key).is_some() {
            return Err(SandboxError::Kernel(
                KernelError::new("create namespace", key, "file exists").with_errno(libc::EEXIST),
            ));
        }
        if key == st.container_key {
            st.container = Some(BTreeMap::new());
        } else {
            st.sandboxes.insert(key.to_string(), BTreeMap::new());
        }
        Ok(())
    }
    fn remove_sandbox(&self, key: &str) -> Result<(), SandboxError> {
        let mut st = self.state.borrow_mut();
        st.op("remove sandbox", key)?;
        // Links inside go with the namespace; their host peers too (veth).
        let links = if key == st.container_key {
            st.container.take()
        } else {
            st.sandboxes.remove(key)
        };
        for (_, link) in links.unwrap_or_default() {
            st.remove_peer(link.peer);
        }
        Ok(())
    }
}

/// The fake kernel.
pub struct FakeKernel {
    state: Shared,
    /// The sandbox this handle was opened for.
    sandbox: Option<String>,
}

fn not_found(op: &str, name: &str) -> KernelError {
    KernelError::new(op, name, "no such device").with_errno(libc::ENODEV)
}

impl Kernel for FakeKernel {
    fn host_link(&mut self, name: &str) -> Result<Option<LinkState>, KernelError> {
        Ok(self.state.borrow().host.get(name).map(|l| l.state.clone()))
    }
    fn host_link_by_index(&mut self, index: u32) -> Result<Option<LinkState>, KernelError> {
        let st = self.state.borrow();
        Ok(st
            .host
            .values()
            .find(|l| l.state.index == index)
            .map(|l| l.state.clone()))
    }
    fn ensure_bridge(&mut self, spec: &BridgeSpec) -> Result<LinkState, KernelError> {
        let mut st = self.state.borrow_mut();
        st.op("ensure bridge", &spec.name)?;
        if !st.host.contains_key(&spec.name) {
            let index = st.index();
            st.host.insert(
                spec.name.clone(),
                FakeLink {
                    state: LinkState {
                        index,
                        name: spec.name.clone(),
                        kind: Some("bridge".into()),
                        mac: spec.mac,
                        mtu: spec.mtu.unwrap_or(1500),
                        ..LinkState::default()
                    },
                    ..FakeLink::default()
                },
            );
        }
        let link = st
            .host
            .get_mut(&spec.name)
            .ok_or_else(|| not_found("ensure bridge", &spec.name))?;
        if link.state.kind.as_deref() != Some("bridge") {
            return Err(KernelError::new(
                "ensure bridge",
                &spec.name,
                "exists but is not a bridge",
            ));
        }
        link.state.up = true;
        link.state.promisc = spec.promisc;
        Ok(link.state.clone())
    }
    fn create_veth(&mut self, spec: &VethSpec) -> Result<(LinkState, LinkState), KernelError> {
        let mut st = self.state.borrow_mut();
        st.op("create veth", &spec.host_name)?;
        if st.host.contains_key(&spec.host_name) {
            return Err(
                KernelError::new("create veth", &spec.host_name, "file exists")
                    .with_errno(libc::EEXIST),
            );
        }
        let (hi, ci) = (st.index(), st.index());
        let mtu = spec.mtu.unwrap_or(1500);
        let host = LinkState {
            index: hi,
            peer_index: Some(ci),
            name: spec.host_name.clone(),
            kind: Some("veth".into()),
            mac: crate::bridge::names::derived_mac(&spec.host_name),
            mtu,
            alias: spec.host_alias.clone(),
            ..LinkState::default()
        };
        let cont = LinkState {
            index: ci,
            peer_index: Some(hi),
            name: spec.container_name.clone(),
            kind: Some("veth".into()),
            mac: spec
                .container_mac
                .unwrap_or_else(|| crate::bridge::names::derived_mac(&spec.container_name)),
            mtu,
            ..LinkState::default()
        };
        let key = self.sandbox.clone().unwrap_or_default();
        let Some(container) = st.sandbox_mut(&key) else {
            return Err(not_found("create veth", "sandbox"));
        };
        if container.contains_key(&spec.container_name) {
            return Err(
                KernelError::new("create veth", &spec.container_name, "file exists")
                    .with_errno(libc::EEXIST),
            );
        }
        container.insert(
            spec.container_name.clone(),
            FakeLink {
                state: cont.clone(),
                peer: Some((None, spec.host_name.clone())),
                ..FakeLink::default()
            },
        );
        st.host.insert(
            spec.host_name.clone(),
            FakeLink {
                state: host.clone(),
                peer: Some((Some(key), spec.container_name.clone())),
                ..FakeLink::default()
            },
        );
        Ok((host, cont))
    }
    fn attach_port(&mut self, spec: &PortSpec) -> Result<LinkState, KernelError> {
        let mut st = self.state.borrow_mut();
        st.op("attach port", &spec.port)?;
        let master = st
            .host
            .get(&spec.bridge)
            .map(|b| b.state.index)
            .ok_or_else(|| not_found("attach port", &spec.bridge))?;
        let port = st
            .host
            .get_mut(&spec.port)
            .ok_or_else(|| not_found("attach port", &spec.port))?;
        port.state.master = Some(master);
        port.state.hairpin = Some(spec.hairpin);
        port.state.isolated = Some(spec.isolated);
        port.state.up = true;
        Ok(port.state.clone())
    }
    fn ensure_vlan_gateway(
        &mut self,
        bridge: &str,
        vlan: u16,
        mtu: Option<u32>,
    ) -> Result<LinkState, KernelError> {
        let name = format!("{bridge}.{vlan}");
        let mut st = self.state.borrow_mut();
        st.op("ensure vlan gateway", &name)?;
        if !st.host.contains_key(&name) {
            let index = st.index();
            st.host.insert(
                name.clone(),
                FakeLink {
                    state: LinkState {
                        index,
                        name: name.clone(),
                        kind: Some("veth".into()),
                        mtu: mtu.unwrap_or(1500),
                        up: true,
                        ..LinkState::default()
                    },
                    ..FakeLink::default()
                },
            );
        }
        st.host
            .get(&name)
            .map(|l| l.state.clone())
            .ok_or_else(|| not_found("ensure vlan gateway", &name))
    }
    fn delete_host_link(&mut self, name: &str) -> Result<bool, KernelError> {
        let mut st = self.state.borrow_mut();
        st.op("delete host link", name)?;
        match st.host.remove(name) {
            None => Ok(false),
            Some(link) => {
                st.remove_peer(link.peer);
                Ok(true)
            }
        }
    }
    fn ensure_host_addr(
        &mut self,
        link: &str,
        addr: IpNet,
        force: bool,
    ) -> Result<(), KernelError> {
        let mut st = self.state.borrow_mut();
        st.op("add host address", link)?;
        let l = st
            .host
            .get_mut(link)
            .ok_or_else(|| not_found("add host address", link))?;
        if l.addrs.contains(&addr) {
            return Ok(());
        }
        let conflict = l
            .addrs
            .iter()
            .any(|a| a.addr().is_ipv4() && addr.addr().is_ipv4());
        if conflict {
            if !force {
                return Err(KernelError::new(
                    "add host address",
                    link,
                    format!("already has an IP address different from {addr}"),
                ));
            }
            l.addrs.retain(|a| !a.addr().is_ipv4());
        }
        l.addrs.push(addr);
        Ok(())
    }
    fn host_addrs(&mut self, link: &str) -> Result<Vec<IpNet>, KernelError> {
        let st = self.state.borrow();
        Ok(st
            .host
            .get(link)
            .map(|l| l.addrs.clone())
            .unwrap_or_default())
    }
    fn host_sysctl(&mut self, key: &str, value: &str) -> Result<(), KernelError> {
        let mut st = self.state.borrow_mut();
        st.op("sysctl", key)?;
        st.sysctls.insert(key.to_string(), value.to_string());
        Ok(())
    }
    fn container_link(&mut self, name: &str) -> Result<Option<LinkState>, KernelError> {
        let st = self.state.borrow();
        Ok(self
            .sandbox
            .as_deref()
            .and_then(|k| st.sandbox(k))
            .and_then(|c| c.get(name))
            .map(|l| l.state.clone()))
    }
    fn configure_container(&mut self, spec: &IfaceSpec) -> Result<(), KernelError> {
        let mut st = self.state.borrow_mut();
        st.op("configure container", &spec.name)?;
        let c = self
            .sandbox
            .clone()
            .and_then(|k| st.sandbox_mut(&k).and_then(|c| c.get_mut(&spec.name)))
            .ok_or_else(|| not_found("configure container", &spec.name))?;
        c.addrs = spec.addrs.clone();
        c.state.up = spec.up;
        Ok(())
    }
    fn add_container_routes(
        &mut self,
        name: &str,
        routes: &[RouteState],
    ) -> Result<(), KernelError> {
        let mut st = self.state.borrow_mut();
        st.op("add routes", name)?;
        let c = self
            .sandbox
            .clone()
            .and_then(|k| st.sandbox_mut(&k).and_then(|c| c.get_mut(name)))
            .ok_or_else(|| not_found("add routes", name))?;
        c.routes.extend(routes.iter().cloned());
        Ok(())
    }
    fn container_addrs(&mut self, name: &str) -> Result<Vec<IpNet>, KernelError> {
        let st = self.state.borrow();
        Ok(self
            .sandbox
            .as_deref()
            .and_then(|k| st.sandbox(k))
            .and_then(|c| c.get(name))
            .map(|l| l.addrs.clone())
            .unwrap_or_default())
    }
    fn container_routes(&mut self, name: &str) -> Result<Vec<RouteState>, KernelError> {
        let st = self.state.borrow();
        let Some(link) = self
            .sandbox
            .as_deref()
            .and_then(|k| st.sandbox(k))
            .and_then(|c| c.get(name))
        else {
            return Ok(Vec::new());
        };
        // The kernel adds the prefix routes of the addresses itself.
        let mut routes: Vec<RouteState> = link
            .addrs
            .iter()
            .map(|a| RouteState {
                dst: a.trunc(),
                gw: None,
                priority: None,
                table: None,
                scope: None,
                mtu: None,
                advmss: None,
            })
            .collect();
        routes.extend(link.routes.iter().cloned());
        Ok(routes)
    }
    fn delete_container_link(&mut self, name: &str) -> Result<bool, KernelError> {
        let mut st = self.state.borrow_mut();
        st.op("delete container link", name)?;
        let key = self.sandbox.clone().unwrap_or_default();
        let Some(c) = st.sandbox_mut(&key) else {
            return Ok(false);
        };
        match c.remove(name) {
            None => Ok(false),
            Some(link) => {
                st.remove_peer(link.peer);
                Ok(true)
            }
        }
    }
    fn bridge_ports(&mut self, bridge: &str) -> Result<Vec<LinkState>, KernelError> {
        let st = self.state.borrow();
        let Some(index) = st.host.get(bridge).map(|b| b.state.index) else {
            return Ok(Vec::new());
        };
        Ok(st
            .host
            .values()
            .filter(|l| l.state.master == Some(index))
            .map(|l| l.state.clone())
            .collect())
    }
    fn links_with_alias(&mut self, alias: &str) -> Result<Vec<LinkState>, KernelError> {
        let st = self.state.borrow();
        Ok(st
            .host
            .values()
            .filter(|l| l.state.alias.as_deref() == Some(alias))
            .map(|l| l.state.clone())
            .collect())
    }
    fn create_host_veth(&mut self, spec: &VethSpec) -> Result<(LinkState, LinkState), KernelError> {
        let mut st = self.state.borrow_mut();
        st.op("create veth", &spec.host_name)?;
        for name in [&spec.host_name, &spec.container_name] {
            if st.host.contains_key(name) {
                return Err(
                    KernelError::new("create veth", name, "file exists").with_errno(libc::EEXIST)
                );
            }
        }
        let mtu = spec.mtu.unwrap_or(1500);
        let (hi, pi) = (st.index(), st.index());
        let host = LinkState {
            index: hi,
            name: spec.host_name.clone(),
            kind: Some("veth".into()),
            mac: crate::bridge::names::derived_mac(&spec.host_name),
            mtu,
            alias: spec.host_alias.clone(),
            ..LinkState::default()
        };
        let peer = LinkState {
            index: pi,
            name: spec.container_name.clone(),
            kind: Some("veth".into()),
            mac: spec
                .container_mac
                .unwrap_or_else(|| crate::bridge::names::derived_mac(&spec.container_name)),
            mtu,
            ..LinkState::default()
        };
        st.host.insert(
            spec.host_name.clone(),
            FakeLink {
                state: host.clone(),
                peer: Some((None, spec.container_name.clone())),
                ..FakeLink::default()
            },
        );
        st.host.insert(
            spec.container_name.clone(),
            FakeLink {
                state: peer.clone(),
                peer: Some((None, spec.host_name.clone())),
                ..FakeLink::default()
            },
        );
        Ok((host, peer))
    }
    fn move_into_sandbox(
        &mut self,
        host_name: &str,
        new_name: &str,
    ) -> Result<LinkState, KernelError> {
        let mut st = self.state.borrow_mut();
        st.op("move into sandbox", host_name)?;
        let key = self
            .sandbox
            .clone()
            .ok_or_else(|| not_found("move into sandbox", "sandbox"))?;
        if st
            .sandbox(&key)
            .ok_or_else(|| not_found("move into sandbox", &key))?
            .contains_key(new_name)
        {
            return Err(
                KernelError::new("rename link", new_name, "file exists").with_errno(libc::EEXIST)
            );
        }
        let mut link = st
            .host
            .remove(host_name)
            .ok_or_else(|| not_found("move into sandbox", host_name))?;
        link.state.name = new_name.to_string();
        link.state.up = false;
        link.state.master = None;
        // The peer now points at the moved end.
        if let Some((None, peer)) = &link.peer {
            if let Some(p) = st.host.get_mut(peer) {
                p.peer = Some((Some(key.clone()), new_name.to_string()));
            }
        }
        let state = link.state.clone();
        if let Some(sb) = st.sandbox_mut(&key) {
            sb.insert(new_name.to_string(), link);
        }
        Ok(state)
    }
}

/// The fake firewall.
pub struct FakeFirewall {
    state: Shared,
}

impl Firewall for FakeFirewall {
    fn ensure_masquerade(&mut self, net: &MasqSpec) -> Result<(), KernelError> {
        let mut st = self.state.borrow_mut();
        st.op("ensure masquerade", &net.network)?;
        let subnets = st.masquerade.entry(net.network.clone()).or_default();
        for s in &net.subnets {
            if !subnets.contains(s) {
                subnets.push(*s);
            }
        }
        Ok(())
    }
    fn check_masquerade(&mut self, net: &MasqSpec) -> Result<(), KernelError> {
        let st = self.state.borrow();
        let have = st.masquerade.get(&net.network).cloned().unwrap_or_default();
        match net.subnets.iter().find(|s| !have.contains(s)) {
            Some(s) => Err(KernelError::new(
                "check masquerade",
                &net.network,
                format!("no rule for {s}"),
            )),
            None => Ok(()),
        }
    }
    fn remove_masquerade(&mut self, network: &str) -> Result<(), KernelError> {
        let mut st = self.state.borrow_mut();
        st.op("remove masquerade", network)?;
        st.masquerade.remove(network);
        Ok(())
    }
    fn ensure_mac_spoof_check(&mut self, port: &str, mac: &[u8; 6]) -> Result<(), KernelError> {
        let mut st = self.state.borrow_mut();
        st.op("ensure spoof check", port)?;
        st.spoof.insert(port.to_string(), *mac);
        Ok(())
    }
    fn check_mac_spoof_check(&mut self, port: &str, mac: &[u8; 6]) -> Result<(), KernelError> {
        match self.state.borrow().spoof.get(port) {
            Some(m) if m == mac => Ok(()),
            _ => Err(KernelError::new("check spoof check", port, "missing")),
        }
    }
    fn remove_mac_spoof_check(&mut self, port: &str) -> Result<(), KernelError> {
        self.state.borrow_mut().spoof.remove(port);
        Ok(())
    }
    fn available(&mut self) -> Result<(), KernelError> {
        let mut st = self.state.borrow_mut();
        st.op("firewall available", "nft")
    }
}

/// A fake IPAM handing out 10.99.0.2.. /24 with gateway 10.99.0.1.
pub struct FakeIpam {
    state: Shared,
}

fn ids(req: &Request) -> (String, String) {
    (
        req.env.container_id.clone().unwrap_or_default(),
        req.env.ifname.clone().unwrap_or_default(),
    )
}

impl Ipam for FakeIpam {
    fn add(&self, req: &Request) -> Result<CniResult, CniError> {
        let mut st = self.state.borrow_mut();
        if st.op("ipam add", "fake").is_err() {
            return Err(CniError::ipam(
                "no IP addresses available in range set 10.99.0.2-10.99.0.254",
                "injected",
            ));
        }
        let key = ids(req);
        // As host-local: the same owner gets its reservation back.
        let addr = match st.ipam.get(&key) {
            Some(addr) => *addr,
            None => {
                let used: BTreeSet<IpNet> = st.ipam.values().copied().collect();
                (2u8..=254)
                    .map(|n| IpNet::new(IpAddr::V4(Ipv4Addr::new(10, 99, 0, n)), 24))
                    .filter_map(Result::ok)
                    .find(|a| !used.contains(a))
                    .ok_or_else(|| CniError::ipam("no IP addresses available", "fake"))?
            }
        };
        st.ipam.insert(key, addr);
        Ok(CniResult {
            cni_version: req.conf.cni_version.clone(),
            ips: vec![IpConfig {
                address: addr,
                gateway: Some(IpAddr::V4(Ipv4Addr::new(10, 99, 0, 1))),
                interface: None,
            }],
            ..CniResult::default()
        })
    }
    fn del(&self, req: &Request) -> Result<(), CniError> {
        let mut st = self.state.borrow_mut();
        st.log.push("ipam del fake".into());
        st.ipam.remove(&ids(req));
        Ok(())
    }
    fn check(&self, req: &Request) -> Result<(), CniError> {
        if self.state.borrow().ipam.contains_key(&ids(req)) {
            Ok(())
        } else {
            Err(CniError::ipam("no reservation", format!("{:?}", ids(req))))
        }
    }
    fn gc(&self, req: &Request) -> Result<(), CniError> {
        let valid: BTreeSet<(String, String)> = req
            .conf
            .valid_attachments
            .iter()
            .flatten()
            .map(|a| (a.container_id.clone(), a.ifname.clone()))
            .collect();
        self.state
            .borrow_mut()
            .ipam
            .retain(|k, _| valid.contains(k));
        Ok(())
    }
    fn status(&self, _req: &Request) -> Result<(), CniError> {
        Ok(())
    }
}

/// A fake model IPAM driver over the same state: pools are the requested
/// subnets (id = the subnet), addresses handed out from `.2` up, keyed by
/// owner in `FakeState::ipam`. `fail_on = "ipam request"` makes address
/// requests fail; `"ipam pool"` pool requests.
pub struct FakeIpamDriver {
    /// The shared state.
    pub state: Shared,
}

impl crate::model::IpamDriver for FakeIpamDriver {
    fn name(&self) -> &str {
        "fake"
    }
    fn default_address_spaces(
        &self,
    ) -> Result<crate::model::AddressSpaces, crate::model::DriverError> {
        Ok(crate::model::AddressSpaces {
            local: "local".into(),
            global: "global".into(),
        })
    }
    fn request_pool(
        &self,
        req: &crate::model::PoolRequest,
    ) -> Result<crate::model::Pool, crate::model::DriverError> {
        let mut st = self.state.borrow_mut();
        st.op("ipam pool", "fake")
            .map_err(|e| crate::model::DriverError::ipam("pool refused", e.to_string()))?;
        let pool = req
            .pool
            .ok_or_else(|| crate::model::DriverError::invalid_argument("no pool", ""))?
            .trunc();
        let gateway = first_host(&pool).and_then(|g| IpNet::new(g, pool.prefix_len()).ok());
        st.log.push(format!("pool {pool}"));
        Ok(crate::model::Pool {
            id: pool.to_string(),
            pool,
            gateway,
            data: Default::default(),
        })
    }
    fn release_pool(&self, pool_id: &str) -> Result<(), crate::model::DriverError> {
        self.state
            .borrow_mut()
            .log
            .push(format!("release pool {pool_id}"));
        Ok(())
    }
    fn request_address(
        &self,
        req: &crate::model::AddressRequest,
    ) -> Result<crate::model::Address, crate::model::DriverError> {
        let mut st = self.state.borrow_mut();
        st.op("ipam request", &req.pool_id).map_err(|e| {
            crate::model::DriverError::ipam("no IP addresses available", e.to_string())
        })?;
        let pool: IpNet = req
            .pool_id
            .parse()
            .map_err(|_| crate::model::DriverError::not_found("unknown pool", &req.pool_id))?;
        let key = (req.owner.container_id.clone(), req.owner.ifname.clone());
        if st.ipam.contains_key(&key) {
            return Err(crate::model::DriverError::ipam(
                "duplicate allocation",
                format!("{key:?}"),
            ));
        }
        let used: BTreeSet<IpNet> = st.ipam.values().copied().collect();
        let gw = first_host(&pool);
        let addr = pool
            .hosts()
            .skip(1)
            .take(250)
            .filter_map(|h| IpNet::new(h, pool.prefix_len()).ok())
            .find(|a| !used.contains(a))
            .ok_or_else(|| {
                crate::model::DriverError::ipam("no IP addresses available", &req.pool_id)
            })?;
        st.ipam.insert(key, addr);
        Ok(crate::model::Address {
            address: addr,
            gateway: gw,
        })
    }
    fn release_address(
        &self,
        req: &crate::model::AddressRelease,
    ) -> Result<(), crate::model::DriverError> {
        let mut st = self.state.borrow_mut();
        st.log.push(format!("release address {:?}", req.address));
        st.ipam
            .remove(&(req.owner.container_id.clone(), req.owner.ifname.clone()));
        Ok(())
    }
}

/// The first host address of a subnet (the usual gateway).
fn first_host(subnet: &IpNet) -> Option<IpAddr> {
    subnet.hosts().next()
}
