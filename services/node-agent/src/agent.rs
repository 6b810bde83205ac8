//! The agent's loop. A *session* is one lease in the cluster store: the
//! networks are defined (or checked), blocks claimed as needed, the host
//! record put under the lease, the host records read into a [`View`] and
//! then followed by a watch. The lease keep-alive and the watch move
//! between etcd members on their own (`etcd.rs`); a session ends only when
//! the store says the lease is gone. Every change of the view and every
//! tick reconciles the kernel with the view, without waiting on etcd; what
//! the kernel should hold is shared ([`Targets`]) with the kernel monitor,
//! which heals changes made behind our back on its own thread and tells
//! this loop when a VXLAN device came back with another MAC (to publish). When etcd is unreachable the kernel
//! state and the local state files stay as they are, so containers keep
//! talking and the CNI plugin keeps allocating from the held blocks.
//! Container names ([`Names`], `names.rs`) ride on the same session: this
//! host's published under its lease, the others' watched like the host
//! records and fed to the local resolver's record store.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use cnm_cluster_ipam::claim::{define_network, gc_blocks, Claimed};
use cnm_cluster_ipam::plan::BlockPlan;
use cnm_cluster_ipam::state::STATE_VERSION;
use cnm_cluster_ipam::{keys, local, Claimer, ClusterIpamError, HostState, NetworkSpec};
use ipnet::IpNet;

use crate::cluster::{Cluster, Event, SessionTasks, SharedView, Watch};
use crate::config::{device_names, Command, Config};
use crate::dataplane::{desired, reconcile, Dataplane, LocalNet, Target, Targets};
use crate::names::Names;
use crate::record::{format_mac, HostNetwork, HostRecord};
use crate::{info, warn};

/// At most this many claims per tick (a burst larger than that waits a tick).
const MAX_CLAIMS_PER_TICK: usize = 64;
/// Every this many ticks: the view re-read, devices checked, everything
/// reconciled even without events (a safety net under the notifications).
const RESYNC_TICKS: u32 = 10;
/// Kernel notifications arriving within this window are healed together.
const KERNEL_COALESCE: Duration = Duration::from_millis(15);

/// Per address family of a network: its plan, the free addresses in the
/// held blocks and the usage per block.
type FreeByPlan = Vec<(BlockPlan, u128, BTreeMap<IpNet, u64>)>;

/// A fatal error: the agent stops (bad config, kernel refusal at start).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Fatal(pub String);

struct Net {
    spec: NetworkSpec,
    local: LocalNet,
    mac: Option<[u8; 6]>,
    blocks: Vec<Claimed>,
    /// Usage last reported to the store, per block.
    reported: BTreeMap<IpNet, u64>,
    short_logged: bool,
}

impl Net {
    fn block_nets(&self) -> Vec<IpNet> {
        self.blocks.iter().map(|c| c.block).collect()
    }
}

struct Session {
    lease: i64,
    _tasks: Box<dyn SessionTasks>,
}

/// What one batch of events asks for.
#[derive(Default)]
struct Batch {
    stop: bool,
    lost: Option<String>,
    changed: bool,
    /// Other hosts' names changed.
    names: bool,
    /// This host's names changed.
    local_names: bool,
    /// Networks whose kernel state changed behind our back (None: all).
    kernel: BTreeSet<Option<String>>,
}

impl Batch {
    fn add(&mut self, ev: Event) {
        match ev {
            Event::Stop => self.stop = true,
            Event::Lost(why) => self.lost = Some(why),
            Event::Changed => self.changed = true,
            Event::Names => self.names = true,
            Event::LocalNames => self.local_names = true,
            Event::Kernel(n) => {
                self.kernel.insert(n);
            }
        }
    }
}

/// The running agent over a cluster store `C` and a kernel `D`.
pub struct Agent<C: Cluster, D: Dataplane> {
    cfg: Config,
    kv: C,
    dp: D,
    nets: Vec<Net>,
    tx: Sender<Event>,
    rx: Receiver<Event>,
    view: SharedView,
    session: Option<Session>,
    last_gc: Instant,
    /// What the kernel should hold, shared with the kernel monitor.
    targets: Targets,
    /// Container names across hosts (None: off).
    names: Option<Names>,
}

impl<C: Cluster, D: Dataplane> Agent<C, D> {
    /// An agent for `cfg` on `kv` and `dp`; `underlay` is the underlay
    /// link's index and MTU.
    pub fn new(cfg: Config, kv: C, dp: D, underlay: (u32, u32)) -> Result<Self, Fatal> {
        let overhead = if cfg.underlay_ip.is_ipv4() { 50 } else { 70 };
        let mtu = underlay
            .1
            .checked_sub(overhead)
            .filter(|m| *m >= 1280)
            .ok_or_else(|| {
                Fatal(format!(
                    "underlay MTU {} leaves no room for VXLAN (needs >= {})",
                    underlay.1,
                    1280 + overhead
                ))
            })?;
        let nets: Vec<Net> = cfg
            .networks
            .iter()
            .map(|spec| {
                let (bridge, vxlan) = device_names(spec);
                Net {
                    spec: spec.clone(),
                    local: LocalNet {
                        name: spec.name.clone(),
                        subnets: spec.subnets(),
                        vni: spec.vni,
                        bridge,
                        vxlan,
                        mtu,
                        underlay_ip: cfg.underlay_ip,
                        underlay_index: underlay.0,
                    },
                    mac: None,
                    blocks: Vec::new(),
                    reported: BTreeMap::new(),
                    short_logged: false,
                }
            })
            .collect();
        let (tx, rx) = channel();
        let targets = Targets::new(
            nets.iter()
                .map(|n: &Net| Target {
                    local: n.local.clone(),
                    mac: None,
                    blocks: Vec::new(),
                    want: None,
                })
                .collect(),
        );
        Ok(Agent {
            cfg,
            kv,
            dp,
            nets,
            tx,
            rx,
            view: SharedView::default(),
            session: None,
            last_gc: Instant::now(),
            targets,
            names: None,
        })
    }

    /// This agent also publishes this host's container names and feeds
    /// the other hosts' to `names`' record store.
    pub fn with_names(mut self, names: Names) -> Self {
        self.names = Some(names);
        self
    }

    /// What the kernel should hold, for the kernel monitor.
    pub fn targets(&self) -> Targets {
        self.targets.clone()
    }

    /// Sets network `i`'s VTEP MAC (and the monitor's copy).
    fn set_mac(&mut self, i: usize, mac: [u8; 6]) {
        self.nets[i].mac = Some(mac);
        self.targets.update(i, |t| t.mac = Some(mac));
    }

    /// The cluster store.
    pub fn cluster(&self) -> &C {
        &self.kv
    }

    /// Where helpers (signals, the kernel monitor) send their events.
    pub fn sender(&self) -> Sender<Event> {
        self.tx.clone()
    }

    /// Runs the one-shot commands (release-block, gc-blocks).
    pub fn command(&mut self) -> Result<String, Fatal> {
        match self.cfg.command.clone() {
            Command::Run => Err(Fatal("not a one-shot command".into())),
            Command::ReleaseBlock { network, block } => {
                let spec = self
                    .nets
                    .iter()
                    .find(|n| n.spec.name == network)
                    .map(|n| n.spec.clone())
                    .ok_or_else(|| Fatal(format!("network {network:?} is not configured")))?;
                let plan = spec
                    .plans()
                    .map_err(|e| Fatal(e.to_string()))?
                    .into_iter()
                    .find(|p| p.subnet().contains(&block))
                    .ok_or_else(|| Fatal(format!("{block} is not in network {network:?}")))?;
                // First take the block out of the state file, so no ADD
                // allocates in it any more; then look at its usage; put it
                // back when the release is refused.
                let state = HostState::load(&self.cfg.state_dir, &network).ok();
                if let Some(st) = &state {
                    let mut without = st.clone();
                    without.blocks.retain(|b| *b != block);
                    without
                        .store(&self.cfg.state_dir)
                        .map_err(|e| Fatal(e.to_string()))?;
                }
                let restore = |why: String| {
                    if let Some(st) = &state {
                        if let Err(e) = st.store(&self.cfg.state_dir) {
                            return Fatal(format!("{why}; restoring the state file: {e}"));
                        }
                    }
                    Fatal(why)
                };
                let usage = local::usage(&self.cfg.data_dir, &network, &plan)
                    .map_err(|e| restore(e.to_string()))?;
                let used = usage.get(&block).copied().unwrap_or(0);
                let mut c = Claimer::new(&mut self.kv, &self.cfg.prefix, spec, &self.cfg.host)
                    .map_err(|e| restore(e.to_string()))?;
                c.release(&block, used)
                    .map_err(|e| restore(e.to_string()))?;
                Ok(format!("released block {block} of network {network:?}"))
            }
            Command::GcBlocks { network } => {
                let released = gc_blocks(&mut self.kv, &self.cfg.prefix, &network)
                    .map_err(|e| Fatal(e.to_string()))?;
                Ok(format!(
                    "released {} block(s) of network {network:?}: {released:?}",
                    released.len()
                ))
            }
        }
    }

    /// Runs until [`Event::Stop`].
    pub fn run(&mut self) -> Result<(), Fatal> {
        self.adopt_local_state()?;
        let mut ticks: u32 = 0;
        let mut last_attempt: Option<Instant> = None;
        let mut next_tick = Instant::now() + self.cfg.tick;
        loop {
            if self.session.is_none() && last_attempt.is_none_or(|t| t.elapsed() >= self.cfg.tick) {
                last_attempt = Some(Instant::now());
                self.connect()?;
            }
            let wait = next_tick.saturating_duration_since(Instant::now());
            let first = match self.rx.recv_timeout(wait) {
                Ok(ev) => Some(ev),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => return Ok(()),
            };
            match first {
                Some(ev) => {
                    let mut batch = Batch::default();
                    if matches!(ev, Event::Kernel(_)) {
                        // A deletion by hand comes as several notifications.
                        std::thread::sleep(KERNEL_COALESCE);
                    }
                    batch.add(ev);
                    while let Ok(ev) = self.rx.try_recv() {
                        batch.add(ev);
                    }
                    if self.handle(batch) {
                        return Ok(());
                    }
                }
                None => {
                    next_tick = Instant::now() + self.cfg.tick;
                    ticks = ticks.wrapping_add(1);
                    let full = ticks.is_multiple_of(RESYNC_TICKS);
                    if let Err(e) = self.tick(full) {
                        warn!("{e}");
                    }
                }
            }
        }
    }

    /// One session attempt; a refusal by the cluster is fatal.
    pub fn connect(&mut self) -> Result<(), Fatal> {
        match self.start_session() {
            Ok(s) => {
                info!(
                    "connected to etcd; host {:?} registered (lease {:x})",
                    self.cfg.host, s.lease
                );
                self.session = Some(s);
                Ok(())
            }
            Err(SessionError::Fatal(f)) => Err(f),
            Err(SessionError::Retry(e)) => {
                warn!("etcd: {e}; retrying");
                Ok(())
            }
        }
    }

    /// Handles one batch of events; true when the agent must stop.
    fn handle(&mut self, batch: Batch) -> bool {
        if batch.stop {
            if let Some(s) = self.session.take() {
                // Leave at once: the others drop our routes now, not at lease expiry.
                if let Err(e) = self.kv.revoke(s.lease) {
                    warn!("revoking the lease: {e}");
                }
            }
            info!("stopped");
            return true;
        }
        if let Some(why) = batch.lost {
            if self.session.take().is_some() {
                warn!("etcd session lost: {why}; keeping the kernel state, registering again");
            }
        }
        if batch.local_names {
            self.publish_names();
        }
        if batch.names {
            if let Some(n) = self.names.as_mut() {
                n.sync_remote();
            }
        }
        let all = batch.kernel.contains(&None);
        let records = if batch.changed { self.records() } else { None };
        for i in 0..self.nets.len() {
            if all || batch.kernel.contains(&Some(self.nets[i].spec.name.clone())) {
                // Devices, gateways, then the routes from the view.
                self.heal(i);
            } else if let Some(r) = &records {
                self.reconcile_net(i, r);
            }
        }
        false
    }

    /// After a restart: networks with a state file get their devices and
    /// blocks back before etcd answers, so ADDs keep working without it.
    fn adopt_local_state(&mut self) -> Result<(), Fatal> {
        for (i, n) in self.nets.iter_mut().enumerate() {
            let Ok(st) = HostState::load(&self.cfg.state_dir, &n.spec.name) else {
                continue;
            };
            if st.network != n.spec || st.host != self.cfg.host {
                continue;
            }
            let mac = self
                .dp
                .ensure_local(&n.local)
                .map_err(|e| Fatal(format!("network {:?}: {e}", n.spec.name)))?;
            n.mac = Some(mac);
            let blocks = st.blocks.clone();
            self.targets.update(i, |t| {
                t.mac = Some(mac);
                t.blocks = blocks;
            });
            n.blocks = st
                .blocks
                .iter()
                .map(|b| Claimed {
                    block: *b,
                    record: cnm_cluster_ipam::BlockRecord {
                        host: self.cfg.host.clone(),
                        used: 0,
                        claimed_at: 0,
                    },
                    raw: Vec::new(),
                })
                .collect();
            info!(
                "network {:?}: adopted {} block(s) from the local state",
                n.spec.name,
                n.blocks.len()
            );
        }
        Ok(())
    }

    fn start_session(&mut self) -> Result<Session, SessionError> {
        for i in 0..self.nets.len() {
            let spec = self.nets[i].spec.clone();
            define_network(&mut self.kv, &self.cfg.prefix, &spec).map_err(|e| match e {
                ClusterIpamError::Config { .. } => SessionError::Fatal(Fatal(e.to_string())),
                other => SessionError::Retry(other.to_string()),
            })?;
            if self.nets[i].mac.is_none() {
                let mac = self.dp.ensure_local(&self.nets[i].local).map_err(|e| {
                    SessionError::Fatal(Fatal(format!("network {:?}: {e}", spec.name)))
                })?;
                info!(
                    "network {:?}: bridge {} with vxlan {} (vni {}, mtu {}, vtep {})",
                    spec.name,
                    self.nets[i].local.bridge,
                    self.nets[i].local.vxlan,
                    spec.vni,
                    self.nets[i].local.mtu,
                    format_mac(&mac)
                );
                self.set_mac(i, mac);
            }
            let held =
                Claimer::new(&mut self.kv, &self.cfg.prefix, spec, &self.cfg.host)?.held()?;
            self.nets[i].blocks = held;
            self.nets[i].reported = self.nets[i]
                .blocks
                .iter()
                .map(|c| (c.block, c.record.used))
                .collect();
            self.claim_ahead(i)?;
        }
        let lease = self.kv.grant(self.cfg.lease_ttl)?;
        self.put_record(lease)?;
        if let Some(n) = self.names.as_mut() {
            // Everything again under the new lease (a key of an earlier
            // lease that has not expired yet is replaced or deleted).
            n.new_session();
            if let Err(e) = n.publish(&mut self.kv, lease, true) {
                warn!("publishing this host's names: {e}; trying again");
            }
        }
        let prefix = keys::hosts(&self.cfg.prefix);
        let (kvs, rev) = self.kv.list_at(&prefix)?;
        {
            let mut v = self.view.lock();
            v.loaded = false;
            v.reset(rev, kvs);
        }
        let mut watches = vec![Watch {
            prefix,
            view: self.view.clone(),
            event: Event::Changed,
        }];
        if let Some(n) = &self.names {
            let names_prefix = n.watch_prefix();
            let (kvs, rev) = self.kv.list_at(&names_prefix)?;
            let view = n.view();
            {
                let mut v = view.lock();
                v.loaded = false;
                v.reset(rev, kvs);
            }
            watches.push(Watch {
                prefix: names_prefix,
                view: n.view(),
                event: Event::Names,
            });
        }
        let tasks = self
            .kv
            .start(lease, self.cfg.lease_ttl, watches, self.tx.clone());
        self.reconcile_all();
        if let Some(n) = self.names.as_mut() {
            n.sync_remote();
        }
        Ok(Session {
            lease,
            _tasks: tasks,
        })
    }

    /// Publishes this host's names when they changed (no session: owed
    /// until the next one).
    fn publish_names(&mut self) {
        let lease = self.session.as_ref().map(|s| s.lease);
        let Some(n) = self.names.as_mut() else {
            return;
        };
        match lease {
            Some(lease) => {
                if let Err(e) = n.publish(&mut self.kv, lease, false) {
                    warn!("publishing this host's names: {e}; trying again");
                }
            }
            None => n.owe_publication(),
        }
    }

    /// The names part of a tick: what failed is tried again; with `full`,
    /// etcd's copy of this host's names is checked and the others' names
    /// read afresh (a safety net under the watch).
    fn tick_names(&mut self, full: bool) {
        let lease = self.session.as_ref().map(|s| s.lease);
        let Some(n) = self.names.as_mut() else {
            return;
        };
        if let Some(lease) = lease {
            let done = if full {
                n.verify(&mut self.kv, lease).map(|_| ())
            } else if n.publish_pending() {
                n.publish(&mut self.kv, lease, false).map(|_| ())
            } else {
                Ok(())
            };
            if let Err(e) = done {
                warn!("publishing this host's names: {e}; trying again");
            }
            if full {
                match self.kv.list_at(&n.watch_prefix()) {
                    Ok((kvs, rev)) => {
                        if n.view().lock().reset(rev, kvs) {
                            n.sync_remote();
                        }
                    }
                    Err(e) => warn!("reading the other hosts' names: {e}"),
                }
            }
        }
        if n.remote_pending() {
            n.sync_remote();
        }
    }

    fn record(&self) -> HostRecord {
        HostRecord {
            host: self.cfg.host.clone(),
            underlay: self.cfg.underlay_ip,
            networks: self
                .nets
                .iter()
                .filter_map(|n| {
                    Some((
                        n.spec.name.clone(),
                        HostNetwork {
                            vtep_mac: format_mac(&n.mac?),
                            blocks: n.block_nets(),
                        },
                    ))
                })
                .collect(),
        }
    }

    fn put_record(&mut self, lease: i64) -> Result<(), ClusterIpamError> {
        let value =
            serde_json::to_vec(&self.record()).map_err(|e| ClusterIpamError::Malformed {
                key: self.cfg.host.clone(),
                msg: e.to_string(),
            })?;
        self.kv
            .put_leased(&keys::host(&self.cfg.prefix, &self.cfg.host), &value, lease)?;
        Ok(())
    }

    /// Writes the host record again when there is a session (a new VTEP
    /// MAC, other blocks).
    fn republish(&mut self) -> Result<(), ClusterIpamError> {
        match self.session.as_ref().map(|s| s.lease) {
            Some(lease) => self.put_record(lease),
            None => Ok(()),
        }
    }

    /// Free addresses per plan of network `i` and the current usage.
    fn free(&self, i: usize) -> Result<FreeByPlan, ClusterIpamError> {
        let n = &self.nets[i];
        let mut out = Vec::new();
        for plan in n.spec.plans()? {
            let usage = local::usage(&self.cfg.data_dir, &n.spec.name, &plan)?;
            let mine: Vec<IpNet> = n
                .block_nets()
                .into_iter()
                .filter(|b| plan.is_block(b))
                .collect();
            let free = local::free_in(&plan, &mine, &usage);
            out.push((plan, free, usage));
        }
        Ok(out)
    }

    /// Claims blocks until at least `min_free` addresses are free in the
    /// held blocks of every address family of the network; then gateways
    /// and the state file follow. Returns how many blocks were claimed.
    fn claim_ahead(&mut self, i: usize) -> Result<usize, ClusterIpamError> {
        let mut claimed = 0;
        let mut result = Ok(());
        for (pi, (plan, mut free, usage)) in self.free(i)?.into_iter().enumerate() {
            while free < self.cfg.min_free && claimed < MAX_CLAIMS_PER_TICK {
                let mut c = Claimer::new(
                    &mut self.kv,
                    &self.cfg.prefix,
                    self.nets[i].spec.clone(),
                    &self.cfg.host,
                )?;
                match c.claim_in(pi) {
                    Ok(b) => {
                        info!("network {:?}: claimed block {b}", self.nets[i].spec.name);
                        claimed += 1;
                        self.nets[i].blocks = c.held()?;
                        let mine: Vec<IpNet> = self.nets[i]
                            .block_nets()
                            .into_iter()
                            .filter(|b| plan.is_block(b))
                            .collect();
                        free = local::free_in(&plan, &mine, &usage);
                    }
                    Err(e) => {
                        result = Err(e);
                        break;
                    }
                }
            }
        }
        self.publish_local(i)?;
        result.map(|_| claimed)
    }

    /// Gateways on the bridge and the state file, from the held blocks.
    fn publish_local(&mut self, i: usize) -> Result<(), ClusterIpamError> {
        let n = &self.nets[i];
        let blocks = n.block_nets();
        let b = blocks.clone();
        self.targets.update(i, |t| t.blocks = b);
        if let Err(e) = self.dp.ensure_gateways(&n.local, &blocks) {
            warn!("network {:?}: gateways: {e}", n.spec.name);
        }
        HostState {
            version: STATE_VERSION,
            network: n.spec.clone(),
            host: self.cfg.host.clone(),
            blocks,
            mtu: n.local.mtu,
            data_dir: self.cfg.data_dir.clone(),
            bridge: n.local.bridge.clone(),
            vxlan: n.local.vxlan.clone(),
        }
        .store(&self.cfg.state_dir)
    }

    /// The live host records of the view (None before any was read).
    fn records(&self) -> Option<Vec<HostRecord>> {
        let v = self.view.lock();
        if !v.loaded {
            return None;
        }
        let prefix = keys::hosts(&self.cfg.prefix);
        let mut out = Vec::new();
        for (k, val) in &v.records {
            match serde_json::from_slice::<HostRecord>(val) {
                Ok(r) if k.get(prefix.len()..) == Some(r.host.as_str()) => out.push(r),
                Ok(_) => warn!("{k}: record names another host; ignored"),
                Err(e) => warn!("{k}: malformed host record ignored: {e}"),
            }
        }
        Some(out)
    }

    /// Reconciles network `i`'s routes, neighbours and FDB entries with the
    /// view (nothing is removed before the view was read once).
    fn reconcile_net(&mut self, i: usize, records: &[HostRecord]) {
        let n = &self.nets[i];
        if n.mac.is_none() {
            return;
        }
        let want = desired(&n.local, &self.cfg.host, records);
        let w = want.clone();
        self.targets.update(i, |t| t.want = Some(w));
        match reconcile(&mut self.dp, &n.local, &want) {
            Ok(0) => {}
            Ok(changes) => info!(
                "network {:?}: {changes} kernel change(s); {} remote host(s), {} route(s)",
                n.spec.name,
                want.fdb.len(),
                want.routes.len()
            ),
            Err(e) => warn!("network {:?}: reconcile: {e}", n.spec.name),
        }
    }

    /// Reconciles every network with the view.
    fn reconcile_all(&mut self) {
        let Some(records) = self.records() else {
            return;
        };
        for i in 0..self.nets.len() {
            self.reconcile_net(i, &records);
        }
    }

    /// Restores network `i`'s devices, gateways, routes, neighbours and FDB
    /// entries after a change behind our back; a VXLAN device re-created
    /// with another MAC is published at once.
    fn heal(&mut self, i: usize) {
        if self.nets[i].mac.is_none() {
            return;
        }
        match self.dp.ensure_local(&self.nets[i].local) {
            Ok(mac) if Some(mac) != self.nets[i].mac => {
                info!(
                    "network {:?}: vtep MAC now {}; publishing it",
                    self.nets[i].spec.name,
                    format_mac(&mac)
                );
                self.set_mac(i, mac);
                if let Err(e) = self.republish() {
                    warn!("publishing the new vtep MAC: {e}");
                }
            }
            Ok(_) => {}
            Err(e) => warn!("network {:?}: {e}", self.nets[i].spec.name),
        }
        let n = &self.nets[i];
        if let Err(e) = self.dp.ensure_gateways(&n.local, &n.block_nets()) {
            warn!("network {:?}: gateways: {e}", n.spec.name);
        }
        if let Some(records) = self.records() {
            self.reconcile_net(i, &records);
        }
    }

    /// One tick: claim ahead when the held blocks run low, report usage,
    /// GC when due; with `full`, re-read the view, repair the devices and
    /// reconcile.
    pub fn tick(&mut self, full: bool) -> Result<(), ClusterIpamError> {
        self.tick_names(full);
        if full {
            for i in 0..self.nets.len() {
                self.heal(i);
            }
        }
        let lease = self.session.as_ref().map(|s| s.lease);
        for i in 0..self.nets.len() {
            if self.nets[i].mac.is_none() {
                continue;
            }
            let free = self.free(i)?;
            let short = free.iter().any(|(_, f, _)| *f < self.cfg.min_free);
            let Some(lease) = lease else {
                if short && !self.nets[i].short_logged {
                    warn!(
                        "network {:?}: fewer than {} free address(es) left in the held blocks and etcd is unreachable",
                        self.nets[i].spec.name, self.cfg.min_free
                    );
                    self.nets[i].short_logged = true;
                }
                continue;
            };
            if !short {
                self.nets[i].short_logged = false;
            }
            if full {
                // Blocks released explicitly (cnmd release-block) leave here too.
                let held = Claimer::new(
                    &mut self.kv,
                    &self.cfg.prefix,
                    self.nets[i].spec.clone(),
                    &self.cfg.host,
                )?
                .held()?;
                let nets: Vec<IpNet> = held.iter().map(|c| c.block).collect();
                if nets != self.nets[i].block_nets() {
                    info!(
                        "network {:?}: held blocks now {nets:?}",
                        self.nets[i].spec.name
                    );
                    self.nets[i].blocks = held;
                    self.publish_local(i)?;
                    self.put_record(lease)?;
                }
            }
            if short {
                match self.claim_ahead(i) {
                    Ok(0) => {}
                    Ok(_) => self.put_record(lease)?,
                    Err(ClusterIpamError::Kv(e)) => {
                        if !self.nets[i].short_logged {
                            warn!(
                                "network {:?}: fewer than {} free address(es) left in the held blocks and etcd is unreachable ({e})",
                                self.nets[i].spec.name, self.cfg.min_free
                            );
                            self.nets[i].short_logged = true;
                        }
                        return Err(ClusterIpamError::Kv(e));
                    }
                    Err(e) => {
                        self.put_record(lease)?;
                        return Err(e);
                    }
                }
            }
            // Usage reports (for the GC of a dead host's empty blocks).
            let usage: BTreeMap<IpNet, u64> = free
                .into_iter()
                .flat_map(|(_, _, u)| u.into_iter())
                .collect();
            for c in self.nets[i].blocks.clone() {
                let used = usage.get(&c.block).copied().unwrap_or(0);
                if self.nets[i].reported.get(&c.block) == Some(&used) {
                    continue;
                }
                let mut cl = Claimer::new(
                    &mut self.kv,
                    &self.cfg.prefix,
                    self.nets[i].spec.clone(),
                    &self.cfg.host,
                )?;
                let fresh = cl.held()?;
                if let Some(f) = fresh.iter().find(|f| f.block == c.block) {
                    if cl.report_usage(f, used)? {
                        self.nets[i].reported.insert(c.block, used);
                    }
                }
            }
            if let Some(every) = self.cfg.gc_interval {
                if self.last_gc.elapsed() >= every {
                    self.last_gc = Instant::now();
                    let released =
                        gc_blocks(&mut self.kv, &self.cfg.prefix, &self.nets[i].spec.name)?;
                    if !released.is_empty() {
                        info!(
                            "network {:?}: collected blocks of gone hosts: {released:?}",
                            self.nets[i].spec.name
                        );
                    }
                }
            }
        }
        if full {
            if let Some(lease) = lease {
                // Rewrite the record only when it is not what it should be
                // (every write wakes every agent's watch).
                let key = keys::host(&self.cfg.prefix, &self.cfg.host);
                let want = serde_json::to_vec(&self.record()).ok();
                if self.kv.get(&key)? != want {
                    warn!("host record {key} missing or changed; writing it again");
                    self.put_record(lease)?;
                }
                let (kvs, rev) = self.kv.list_at(&keys::hosts(&self.cfg.prefix))?;
                let fresh = self.view.lock().reset(rev, kvs);
                if fresh {
                    self.reconcile_all();
                }
            }
        }
        Ok(())
    }
}

enum SessionError {
    Fatal(Fatal),
    Retry(String),
}

impl From<ClusterIpamError> for SessionError {
    fn from(e: ClusterIpamError) -> Self {
        SessionError::Retry(e.to_string())
    }
}

impl From<cnm_cluster_ipam::KvError> for SessionError {
    fn from(e: cnm_cluster_ipam::KvError) -> Self {
        SessionError::Retry(e.to_string())
    }
}

#[cfg(test)]
#[path = "agent_tests.rs"]
mod tests;
