//! An in-memory kernel, firewall, namespaces and IPAM driver for tests of
//! the model, the drivers and the front-ends without root (feature `fake`,
//! enabled only from `[dev-dependencies]`). State is shared
//! (`Arc<Mutex<..>>`, so the fake system is `Send + Sync` like the real
//! one) and a test can inspect it after the driver ran; `fail_on` injects a
//! failure. Besides the sandbox at the path given to [`FakeSystem::new`]
//! (`FakeState::container`), sandboxes made with
//! `Namespaces::create_sandbox` live in `FakeState::sandboxes`. MACs of
//! links the fake creates are numbered (`02:fa:ce:00:<index>`), never
//! derived the way the drivers derive theirs.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex, MutexGuard};

use cnm_model::{
    Address, AddressRelease, AddressRequest, AddressSpaces, Allocation, AllocationRequest,
    DriverError, InterfaceAddress, IpamDriver, IpamNetwork, MacAddr, OwnerKey, Pool, PoolRequest,
    SandboxError,
};
use ipnet::IpNet;

use crate::seam::{Firewall, Kernel};
use crate::system::{FaultPoints, Firewalls, Namespaces, ReferenceState};
use crate::types::{
    BridgeSpec, ContainerIpv6, IfaceSpec, KernelError, LinkState, MasqSpec, PortSpec, RouteState,
    VethSpec, VlanGatewaySpec,
};

/// One fake link.
#[derive(Debug, Clone, Default)]
pub struct FakeLink {
    pub state: LinkState,
    pub addrs: Vec<IpNet>,
    pub routes: Vec<RouteState>,
    /// The peer: (its sandbox key, `None` for the host; its name).
    pub peer: Option<(Option<String>, String)>,
    /// IPv6 as the last configuration set it.
    pub ipv6: Option<ContainerIpv6>,
    /// Addresses added without `IFA_F_NODAD` at the last configuration.
    pub dad: bool,
}

/// The MAC the fake gives a link it creates: numbered by its index.
pub fn fake_mac(index: u32) -> MacAddr {
    let i = index.to_be_bytes();
    MacAddr([0x02, 0xfa, i[0], i[1], i[2], i[3]])
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
    pub spoof: BTreeMap<String, MacAddr>,
    /// (container ID, ifname) -> address.
    pub ipam: BTreeMap<(String, String), IpNet>,
    /// Operation name that fails with EIO (e.g. "create veth", "ipam add",
    /// "ipam release", "ipam pool").
    pub fail_on: Option<String>,
    /// More operation names that fail the same way.
    pub fail_ops: BTreeSet<String>,
    /// Every kernel operation, in order.
    pub log: Vec<String>,
    /// Every fault point passed, in order.
    pub faults: Vec<String>,
    next_index: u32,
}

impl FakeState {
    fn op(&mut self, name: &str, target: &str) -> Result<(), KernelError> {
        self.log.push(format!("{name} {target}"));
        if self.fail_on.as_deref() == Some(name) || self.fail_ops.contains(name) {
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

/// A system (`Namespaces`, `Firewalls`, `ReferenceState`, `FaultPoints`)
/// over [`FakeState`].
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

impl Firewalls for FakeSystem {
    fn firewall(&self) -> Box<dyn Firewall + '_> {
        Box::new(FakeFirewall {
            state: self.state.clone(),
        })
    }
}

impl ReferenceState for FakeSystem {}

impl FaultPoints for FakeSystem {
    fn fault_point(&self, step: &str) {
        self.state.borrow_mut().faults.push(step.to_string());
    }
}

impl Namespaces for FakeSystem {
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
    fn create_sandbox(&self, key: &str) -> Result<(), SandboxError> {
        let mut st = self.state.borrow_mut();
        st.op("create sandbox", key)?;
        if st.sandbox(key).is_some() {
            return Err(SandboxError::kernel(
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
            mac: fake_mac(hi),
            mtu,
            alias: spec.host_alias.clone(),
            ..LinkState::default()
        };
        let cont = LinkState {
            index: ci,
            peer_index: Some(hi),
            name: spec.container_name.clone(),
            kind: Some("veth".into()),
            mac: spec.container_mac.unwrap_or_else(|| fake_mac(ci)),
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
    fn ensure_vlan_gateway(&mut self, spec: &VlanGatewaySpec) -> Result<LinkState, KernelError> {
        let (name, mtu) = (spec.name.clone(), spec.mtu);
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
        c.ipv6 = Some(spec.ipv6);
        c.dad = spec.dad;
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
            mac: fake_mac(hi),
            mtu,
            alias: spec.host_alias.clone(),
            ..LinkState::default()
        };
        let peer = LinkState {
            index: pi,
            name: spec.container_name.clone(),
            kind: Some("veth".into()),
            mac: spec.container_mac.unwrap_or_else(|| fake_mac(pi)),
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
    fn ensure_mac_spoof_check(&mut self, port: &str, mac: &MacAddr) -> Result<(), KernelError> {
        let mut st = self.state.borrow_mut();
        st.op("ensure spoof check", port)?;
        st.spoof.insert(port.to_string(), *mac);
        Ok(())
    }
    fn check_mac_spoof_check(&mut self, port: &str, mac: &MacAddr) -> Result<(), KernelError> {
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

/// A fake IPAM driver over the same state. Pools are the requested
/// subnets (id = the subnet); without pools, `allocate` hands out
/// 10.99.0.2../24 with gateway 10.99.0.1 (as a CNI IPAM plugin would).
/// Addresses are keyed by owner in `FakeState::ipam`; `allocate` gives an
/// owner its reservation back (as host-local does for a repeated ADD),
/// `request_address` refuses a second one. `fail_on = "ipam add"` makes
/// allocation fail, `"ipam request"` address requests, `"ipam pool"` pool
/// requests, `"ipam release"` releases.
pub struct FakeIpamDriver {
    /// The shared state.
    pub state: Shared,
}

fn key_of(owner: &OwnerKey) -> (String, String) {
    (owner.container_id.clone(), owner.ifname.clone())
}

/// The first free address of `pool` from its `.2` up.
fn free_in(used: &BTreeSet<IpNet>, pool: &IpNet) -> Option<IpNet> {
    pool.hosts()
        .skip(1)
        .take(250)
        .filter_map(|h| IpNet::new(h, pool.prefix_len()).ok())
        .find(|a| !used.contains(a))
}

impl IpamDriver for FakeIpamDriver {
    fn name(&self) -> &str {
        "fake"
    }
    fn default_address_spaces(&self) -> Result<AddressSpaces, DriverError> {
        Ok(AddressSpaces {
            local: "local".into(),
            global: "global".into(),
        })
    }
    fn request_pool(&self, req: &PoolRequest) -> Result<Pool, DriverError> {
        let mut st = self.state.borrow_mut();
        st.op("ipam pool", "fake")
            .map_err(|e| DriverError::ipam("pool refused", e.to_string()))?;
        let pool = req
            .pool
            .ok_or_else(|| DriverError::invalid_argument("no pool", ""))?
            .trunc();
        let gateway = first_host(&pool).and_then(|g| IpNet::new(g, pool.prefix_len()).ok());
        st.log.push(format!("pool {pool}"));
        Ok(Pool {
            id: pool.to_string(),
            pool,
            gateway,
            data: Default::default(),
        })
    }
    fn release_pool(&self, pool_id: &str) -> Result<(), DriverError> {
        self.state
            .borrow_mut()
            .log
            .push(format!("release pool {pool_id}"));
        Ok(())
    }
    fn request_address(&self, req: &AddressRequest) -> Result<Address, DriverError> {
        let mut st = self.state.borrow_mut();
        st.op("ipam request", &req.pool_id)
            .map_err(|e| DriverError::ipam("no IP addresses available", e.to_string()))?;
        let pool: IpNet = req
            .pool_id
            .parse()
            .map_err(|_| DriverError::not_found("unknown pool", &req.pool_id))?;
        let key = key_of(&req.owner);
        if st.ipam.contains_key(&key) {
            return Err(DriverError::ipam(
                "duplicate allocation",
                format!("{key:?}"),
            ));
        }
        let used: BTreeSet<IpNet> = st.ipam.values().copied().collect();
        let addr = free_in(&used, &pool)
            .ok_or_else(|| DriverError::ipam("no IP addresses available", &req.pool_id))?;
        st.ipam.insert(key, addr);
        Ok(Address {
            address: addr,
            gateway: first_host(&pool),
        })
    }
    fn release_address(&self, req: &AddressRelease) -> Result<(), DriverError> {
        let mut st = self.state.borrow_mut();
        st.log.push(format!("release address {:?}", req.address));
        st.ipam.remove(&key_of(&req.owner));
        Ok(())
    }
    fn allocate(
        &self,
        net: &IpamNetwork<'_>,
        req: &AllocationRequest,
    ) -> Result<Allocation, DriverError> {
        let mut st = self.state.borrow_mut();
        if st.op("ipam add", "fake").is_err() {
            return Err(DriverError::ipam(
                "no IP addresses available in range set 10.99.0.2-10.99.0.254",
                "injected",
            ));
        }
        let key = key_of(&req.owner);
        let pool = match net.pools.first() {
            Some(p) => p.pool,
            None => IpNet::new(IpAddr::V4(Ipv4Addr::new(10, 99, 0, 0)), 24)
                .map_err(|e| DriverError::ipam("fake pool", e.to_string()))?,
        };
        // As host-local: the same owner gets its reservation back.
        let addr = match st.ipam.get(&key) {
            Some(addr) => *addr,
            None => {
                let used: BTreeSet<IpNet> = st.ipam.values().copied().collect();
                free_in(&used, &pool)
                    .ok_or_else(|| DriverError::ipam("no IP addresses available", "fake"))?
            }
        };
        st.ipam.insert(key, addr);
        Ok(Allocation {
            addresses: vec![InterfaceAddress {
                address: addr,
                gateway: first_host(&pool),
            }],
            ..Allocation::default()
        })
    }
    fn release(&self, _net: &IpamNetwork<'_>, owner: &OwnerKey) -> Result<(), DriverError> {
        let mut st = self.state.borrow_mut();
        st.op("ipam release", "fake")
            .map_err(|e| DriverError::ipam("release failed", e.to_string()))?;
        st.log.push("ipam del fake".into());
        st.ipam.remove(&key_of(owner));
        Ok(())
    }
    fn check(&self, _net: &IpamNetwork<'_>, owner: &OwnerKey) -> Result<(), DriverError> {
        if self.state.borrow().ipam.contains_key(&key_of(owner)) {
            Ok(())
        } else {
            Err(DriverError::ipam(
                "no reservation",
                format!("{:?}", key_of(owner)),
            ))
        }
    }
    fn gc(&self, _net: &IpamNetwork<'_>, valid: &[OwnerKey]) -> Result<(), DriverError> {
        let valid: BTreeSet<(String, String)> = valid.iter().map(key_of).collect();
        self.state
            .borrow_mut()
            .ipam
            .retain(|k, _| valid.contains(k));
        Ok(())
    }
    fn status(&self, _net: &IpamNetwork<'_>) -> Result<(), DriverError> {
        Ok(())
    }
}

/// The first host address of a subnet (the usual gateway).
fn first_host(subnet: &IpNet) -> Option<IpAddr> {
    subnet.hosts().next()
}
