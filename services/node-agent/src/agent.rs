//! The agent's loop. A *session* is one connection to etcd with a lease:
//! the networks are defined (or checked), blocks claimed as needed, the host
//! record put under the lease, and a watch on the host records started.
//! Every change of the records, every tick and every new session
//! reconciles the kernel with the live records. When etcd fails the
//! session is dropped and retried; the kernel state and the local state
//! files stay as they are, so containers keep talking and the CNI plugin
//! keeps allocating from the held blocks.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use cnm_cluster_ipam::claim::{define_network, gc_blocks, Claimed};
use cnm_cluster_ipam::state::STATE_VERSION;
use cnm_cluster_ipam::{keys, local, Claimer, ClusterIpamError, HostState, Kv, NetworkSpec};
use etcd_client::{EventType, WatchOptions};
use ipnet::IpNet;
use tokio::runtime::Runtime;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
use tokio::task::JoinHandle;

use crate::config::{device_names, Command, Config};
use crate::dataplane::{desired, reconcile, Dataplane, LocalNet};
use crate::etcd::{connect, tls_options, EtcdKv};
use crate::record::{format_mac, HostNetwork, HostRecord};
use crate::{info, warn};

/// At most this many claims per tick (a burst larger than that waits a tick).
const MAX_CLAIMS_PER_TICK: usize = 64;
/// Every this many ticks: full reconcile and device repair even without events.
const RESYNC_TICKS: u32 = 10;

enum Event {
    Changed,
    Lost(String),
    Stop,
}

/// A fatal error: the agent stops (bad config, kernel refusal at start).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Fatal(pub String);

struct Net {
    spec: NetworkSpec,
    local: LocalNet,
    mac: Option<[u8; 6]>,
    blocks: Vec<Claimed>,
    /// Usage last reported to etcd, per block.
    reported: BTreeMap<IpNet, u64>,
    short_logged: bool,
}

impl Net {
    fn block_nets(&self) -> Vec<IpNet> {
        self.blocks.iter().map(|c| c.block).collect()
    }
}

struct Session {
    kv: EtcdKv,
    lease: i64,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Session {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// The running agent.
pub struct Agent<D: Dataplane> {
    cfg: Config,
    dp: D,
    nets: Vec<Net>,
    rt: Runtime,
    tx: UnboundedSender<Event>,
    rx: UnboundedReceiver<Event>,
    tls: Option<etcd_client::TlsOptions>,
    last_gc: Instant,
}

fn runtime() -> Result<Runtime, Fatal> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| Fatal(format!("starting the async runtime: {e}")))
}

impl<D: Dataplane> Agent<D> {
    /// An agent for `cfg` on `dp`; `underlay` is the underlay link's index and MTU.
    pub fn new(cfg: Config, dp: D, underlay: (u32, u32)) -> Result<Self, Fatal> {
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
        let nets = cfg
            .networks
            .iter()
            .map(|spec| {
                let (bridge, vxlan) = device_names(spec);
                Net {
                    spec: spec.clone(),
                    local: LocalNet {
                        name: spec.name.clone(),
                        subnet: spec.subnet,
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
        let tls = cfg
            .tls
            .as_ref()
            .map(tls_options)
            .transpose()
            .map_err(Fatal)?;
        let (tx, rx) = unbounded_channel();
        Ok(Agent {
            cfg,
            dp,
            nets,
            rt: runtime()?,
            tx,
            rx,
            tls,
            last_gc: Instant::now(),
        })
    }

    fn kv(&self) -> Result<EtcdKv, ClusterIpamError> {
        let client = self
            .rt
            .block_on(connect(&self.cfg.endpoints, self.tls.as_ref()))?;
        Ok(EtcdKv {
            client,
            rt: self.rt.handle().clone(),
        })
    }

    /// Runs the one-shot commands (release-block, gc-blocks).
    pub fn command(&mut self) -> Result<String, Fatal> {
        let mut kv = self.kv().map_err(|e| Fatal(e.to_string()))?;
        match self.cfg.command.clone() {
            Command::Run => Err(Fatal("not a one-shot command".into())),
            Command::ReleaseBlock { network, block } => {
                let spec = self
                    .nets
                    .iter()
                    .find(|n| n.spec.name == network)
                    .map(|n| n.spec.clone())
                    .ok_or_else(|| Fatal(format!("network {network:?} is not configured")))?;
                let plan = spec.validate().map_err(|e| Fatal(e.to_string()))?;
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
                let mut c = Claimer::new(&mut kv, &self.cfg.prefix, spec, &self.cfg.host)
                    .map_err(|e| restore(e.to_string()))?;
                c.release(&block, used)
                    .map_err(|e| restore(e.to_string()))?;
                Ok(format!("released block {block} of network {network:?}"))
            }
            Command::GcBlocks { network } => {
                let released = gc_blocks(&mut kv, &self.cfg.prefix, &network)
                    .map_err(|e| Fatal(e.to_string()))?;
                Ok(format!(
                    "released {} block(s) of network {network:?}: {released:?}",
                    released.len()
                ))
            }
        }
    }

    /// Runs until SIGTERM/SIGINT.
    pub fn run(&mut self) -> Result<(), Fatal> {
        let tx = self.tx.clone();
        self.rt.spawn(async move {
            use tokio::signal::unix::{signal, SignalKind};
            let (Ok(mut term), Ok(mut int)) = (
                signal(SignalKind::terminate()),
                signal(SignalKind::interrupt()),
            ) else {
                return;
            };
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
            let _ = tx.send(Event::Stop);
        });
        self.adopt_local_state()?;
        let mut session: Option<Session> = None;
        let mut ticks: u32 = 0;
        let mut last_attempt: Option<Instant> = None;
        loop {
            if session.is_none() && last_attempt.is_none_or(|t| t.elapsed() >= self.cfg.tick) {
                last_attempt = Some(Instant::now());
                match self.start_session() {
                    Ok(s) => {
                        info!(
                            "connected to etcd; host {:?} registered (lease {:x})",
                            self.cfg.host, s.lease
                        );
                        session = Some(s);
                    }
                    Err(SessionError::Fatal(f)) => return Err(f),
                    Err(SessionError::Retry(e)) => warn!("etcd: {e}; retrying"),
                }
            }
            let tick = self.cfg.tick;
            let ev = self.rt.block_on(async {
                tokio::select! {
                    ev = self.rx.recv() => ev,
                    _ = tokio::time::sleep(tick) => None,
                }
            });
            match ev {
                Some(Event::Stop) => {
                    if let Some(mut s) = session.take() {
                        // Leave at once: the others drop our routes now, not at lease expiry.
                        if let Err(e) = s.kv.revoke(s.lease) {
                            warn!("revoking the lease: {e}");
                        }
                    }
                    info!("stopped");
                    return Ok(());
                }
                Some(Event::Changed) => {
                    // Coalesce a burst of changes into one reconcile.
                    while let Ok(ev) = self.rx.try_recv() {
                        if let Event::Stop = ev {
                            let _ = self.tx.send(Event::Stop);
                            break;
                        }
                    }
                    if let Some(s) = session.as_mut() {
                        if let Err(e) = self.resync(&mut s.kv) {
                            warn!("resync: {e}");
                        }
                    }
                }
                Some(Event::Lost(why)) => {
                    if session.take().is_some() {
                        warn!("etcd session lost: {why}; keeping the kernel state, reconnecting");
                    }
                }
                None => {
                    ticks = ticks.wrapping_add(1);
                    let full = ticks.is_multiple_of(RESYNC_TICKS);
                    if let Err(e) = self.tick(session.as_mut(), full) {
                        warn!("{e}");
                    }
                }
            }
        }
    }

    /// After a restart: networks with a state file get their devices and
    /// blocks back before etcd answers, so ADDs keep working without it.
    fn adopt_local_state(&mut self) -> Result<(), Fatal> {
        for n in &mut self.nets {
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
        let mut kv = self.kv()?;
        for i in 0..self.nets.len() {
            let spec = self.nets[i].spec.clone();
            define_network(&mut kv, &self.cfg.prefix, &spec).map_err(|e| match e {
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
                self.nets[i].mac = Some(mac);
            }
            let held =
                Claimer::new(&mut kv, &self.cfg.prefix, spec.clone(), &self.cfg.host)?.held()?;
            self.nets[i].blocks = held;
            self.nets[i].reported = self.nets[i]
                .blocks
                .iter()
                .map(|c| (c.block, c.record.used))
                .collect();
            self.claim_ahead(&mut kv, i)?;
        }
        let lease = kv.grant(self.cfg.lease_ttl)?;
        let mut s = Session {
            kv,
            lease,
            tasks: Vec::new(),
        };
        self.put_record(&mut s)?;
        s.tasks.push(self.spawn_keepalive(&s));
        s.tasks.push(self.spawn_watch(&s));
        self.resync(&mut s.kv)?;
        Ok(s)
    }

    fn spawn_keepalive(&self, s: &Session) -> JoinHandle<()> {
        let mut client = s.kv.client.clone();
        let lease = s.lease;
        let every = Duration::from_millis((self.cfg.lease_ttl as u64 * 1000 / 3).max(300));
        let tx = self.tx.clone();
        self.rt.spawn(async move {
            let lost = |why: String| {
                let _ = tx.send(Event::Lost(why));
            };
            let (mut keeper, mut stream) =
                match crate::etcd::bounded(client.lease_keep_alive(lease)).await {
                    Ok(k) => k,
                    Err(e) => return lost(format!("lease keepalive: {e}")),
                };
            loop {
                if let Err(e) = crate::etcd::bounded(keeper.keep_alive()).await {
                    return lost(format!("lease keepalive: {e}"));
                }
                match crate::etcd::bounded(stream.message()).await {
                    Ok(Some(r)) if r.ttl() > 0 => {}
                    Ok(Some(_)) => return lost("the lease expired".into()),
                    Ok(None) => return lost("keepalive stream closed".into()),
                    Err(e) => return lost(format!("lease keepalive: {e}")),
                }
                tokio::time::sleep(every).await;
            }
        })
    }

    fn spawn_watch(&self, s: &Session) -> JoinHandle<()> {
        let mut client = s.kv.client.clone();
        let prefix = keys::hosts(&self.cfg.prefix);
        let tx = self.tx.clone();
        self.rt.spawn(async move {
            let lost = |why: String| {
                let _ = tx.send(Event::Lost(why));
            };
            let opts = WatchOptions::new().with_prefix().with_progress_notify();
            let mut stream = match crate::etcd::bounded(client.watch(prefix, Some(opts))).await {
                Ok(w) => w,
                Err(e) => return lost(format!("watch: {e}")),
            };
            loop {
                match stream.message().await {
                    Ok(Some(r)) => {
                        if r.canceled() {
                            return lost("watch canceled".into());
                        }
                        if r.events()
                            .iter()
                            .any(|e| matches!(e.event_type(), EventType::Put | EventType::Delete))
                            && tx.send(Event::Changed).is_err()
                        {
                            return;
                        }
                    }
                    Ok(None) => return lost("watch stream closed".into()),
                    Err(e) => return lost(format!("watch: {e}")),
                }
            }
        })
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

    fn put_record(&self, s: &mut Session) -> Result<(), ClusterIpamError> {
        let value =
            serde_json::to_vec(&self.record()).map_err(|e| ClusterIpamError::Malformed {
                key: self.cfg.host.clone(),
                msg: e.to_string(),
            })?;
        s.kv.put_leased(
            &keys::host(&self.cfg.prefix, &self.cfg.host),
            &value,
            s.lease,
        )?;
        Ok(())
    }

    /// Claims blocks until at least `min_free` addresses are free in the
    /// held blocks; then gateways and the state file follow. Returns how
    /// many blocks were claimed.
    fn claim_ahead<K: Kv>(&mut self, kv: &mut K, i: usize) -> Result<usize, ClusterIpamError> {
        let plan = self.nets[i].spec.validate()?;
        let usage = local::usage(&self.cfg.data_dir, &self.nets[i].spec.name, &plan)?;
        let mut claimed = 0;
        let mut result = Ok(());
        while local::free_in(&plan, &self.nets[i].block_nets(), &usage) < self.cfg.min_free
            && claimed < MAX_CLAIMS_PER_TICK
        {
            let mut c = Claimer::new(
                &mut *kv,
                &self.cfg.prefix,
                self.nets[i].spec.clone(),
                &self.cfg.host,
            )?;
            match c.claim() {
                Ok(b) => {
                    info!("network {:?}: claimed block {b}", self.nets[i].spec.name);
                    claimed += 1;
                    self.nets[i].blocks = c.held()?;
                }
                Err(e) => {
                    result = Err(e);
                    break;
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

    /// Reconciles every network with the live host records.
    fn resync(&mut self, kv: &mut EtcdKv) -> Result<(), ClusterIpamError> {
        let prefix = keys::hosts(&self.cfg.prefix);
        let mut records = Vec::new();
        for (k, v) in kv.list(&prefix)? {
            match serde_json::from_slice::<HostRecord>(&v) {
                Ok(r) if k[prefix.len()..] == r.host => records.push(r),
                Ok(_) => warn!("{k}: record names another host; ignored"),
                Err(e) => warn!("{k}: malformed host record ignored: {e}"),
            }
        }
        for n in &self.nets {
            if n.mac.is_none() {
                continue;
            }
            let want = desired(&n.local, &self.cfg.host, &records);
            match reconcile(&mut self.dp, &n.local, &want) {
                Ok(0) => {}
                Ok(changes) => info!(
                    "network {:?}: {changes} kernel change(s); {} remote host(s), {} route(s)",
                    n.spec.name,
                    want.neighs.len(),
                    want.routes.len()
                ),
                Err(e) => warn!("network {:?}: reconcile: {e}", n.spec.name),
            }
        }
        Ok(())
    }

    /// One tick: claim ahead when the held blocks run low, report usage,
    /// GC when due; with `full`, repair the devices and reconcile.
    fn tick(
        &mut self,
        mut session: Option<&mut Session>,
        full: bool,
    ) -> Result<(), ClusterIpamError> {
        for i in 0..self.nets.len() {
            if self.nets[i].mac.is_none() {
                continue;
            }
            if full {
                if let Err(e) = self.dp.ensure_local(&self.nets[i].local) {
                    warn!("network {:?}: {e}", self.nets[i].spec.name);
                }
            }
            let plan = self.nets[i].spec.validate()?;
            let usage = local::usage(&self.cfg.data_dir, &self.nets[i].spec.name, &plan)?;
            let free = local::free_in(&plan, &self.nets[i].block_nets(), &usage);
            let Some(s) = session.as_deref_mut() else {
                if free < self.cfg.min_free && !self.nets[i].short_logged {
                    warn!(
                        "network {:?}: {free} free address(es) left in the held blocks and etcd is unreachable",
                        self.nets[i].spec.name
                    );
                    self.nets[i].short_logged = true;
                }
                continue;
            };
            self.nets[i].short_logged = false;
            if full {
                // Blocks released explicitly (cnmd release-block) leave here too.
                let held = Claimer::new(
                    &mut s.kv,
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
                    self.put_record(s)?;
                }
            }
            if free < self.cfg.min_free {
                let claimed = self.claim_ahead(&mut s.kv, i);
                match claimed {
                    Ok(0) => {}
                    Ok(_) => self.put_record(s)?,
                    Err(e) => {
                        self.put_record(s)?;
                        return Err(e);
                    }
                }
            }
            // Usage reports (for the GC of a dead host's empty blocks).
            for c in self.nets[i].blocks.clone() {
                let used = usage.get(&c.block).copied().unwrap_or(0);
                if self.nets[i].reported.get(&c.block) == Some(&used) {
                    continue;
                }
                let mut cl = Claimer::new(
                    &mut s.kv,
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
                    let released = gc_blocks(&mut s.kv, &self.cfg.prefix, &self.nets[i].spec.name)?;
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
            if let Some(s) = session {
                // Rewrite the record only when it is not what it should be
                // (every write wakes every agent's watch).
                let key = keys::host(&self.cfg.prefix, &self.cfg.host);
                let want = serde_json::to_vec(&self.record()).ok();
                if s.kv.get(&key)? != want {
                    warn!("host record {key} missing or changed; writing it again");
                    self.put_record(s)?;
                }
                self.resync(&mut s.kv)?;
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
