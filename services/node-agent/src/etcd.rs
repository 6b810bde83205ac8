//! etcd through the `etcd-client` crate (docs/adr/0012-etcd-client-and-cluster-blocks.md)
//! with our own endpoint layer (docs/adr/0018-etcd-failover.md): one
//! single-endpoint client per member, a health state per member, every
//! request sent to a healthy member and moved to the next one at once when
//! its member fails (connection refused, no answer within the attempt
//! timeout, no leader). The lease keep-alive and the watch follow the
//! preferred member: when it is marked down they move at once, the
//! keep-alive before the lease's TTL runs out, the watch from the revision
//! after the last one it applied. Members marked down are probed quietly
//! (one log line when a member goes down, one when it is back); the member
//! list is learned from the cluster, so a replaced member is found.

use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use cnm_cluster_ipam::{Kv, KvError};
use etcd_client::{
    Certificate, Client, Compare, CompareOp, ConnectOptions, EventType, GetOptions, Identity,
    PutOptions, TlsOptions, Txn, TxnOp, WatchOptions,
};
use tokio::runtime::Runtime;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::cluster::{Cluster, Event, Kvs, SessionTasks, SharedView, Watch};
use crate::config::Tls;
use crate::{info, warn};

/// Bound of one request, failovers included.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(3);
/// Bound of one attempt on one member (a request normally takes a few
/// milliseconds; one held by a member waiting for a leader that is gone
/// moves on after this).
const ATTEMPT_TIMEOUT: Duration = Duration::from_millis(600);
/// TCP connect timeout per member.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
/// HTTP/2 keep-alive: a ping every interval, the connection dropped when
/// the answer takes longer than the timeout (a member cut off silently).
const H2_PING: Duration = Duration::from_millis(300);
const H2_PING_TIMEOUT: Duration = Duration::from_millis(600);
/// How often members marked down are probed (doubling up to the max).
const PROBE_FIRST: Duration = Duration::from_millis(500);
const PROBE_MAX: Duration = Duration::from_secs(4);
/// How often the member list is read from the cluster.
const MEMBER_SYNC: Duration = Duration::from_secs(30);

/// An etcd failure as cluster IPAM sees it.
pub fn kv_error(e: etcd_client::Error) -> KvError {
    match &e {
        etcd_client::Error::GRpcStatus(s)
            if !matches!(
                s.code(),
                tonic::Code::Unavailable | tonic::Code::DeadlineExceeded | tonic::Code::Unknown
            ) =>
        {
            KvError::Other(e.to_string())
        }
        _ => KvError::Unavailable(e.to_string()),
    }
}

/// True when `e` says the member (or the cluster through it) cannot serve
/// now: another member should be tried.
fn member_failed(e: &KvError) -> bool {
    matches!(e, KvError::Unavailable(_))
}

/// True when `e` says the member could not be reached at all (connection
/// refused, no route, TLS or HTTP/2 failure), as opposed to an answer from
/// etcd ("etcdserver: no leader", "leader changed", ...).
fn not_reached(e: &etcd_client::Error) -> bool {
    match e {
        etcd_client::Error::TransportError(_) | etcd_client::Error::IoError(_) => true,
        etcd_client::Error::GRpcStatus(s) => {
            s.code() == tonic::Code::Unavailable && !s.message().starts_with("etcdserver:")
        }
        _ => false,
    }
}

/// Reads the PEM files and builds the TLS options.
pub fn tls_options(tls: &Tls) -> Result<TlsOptions, String> {
    let read =
        |p: &std::path::Path| std::fs::read(p).map_err(|e| format!("reading {}: {e}", p.display()));
    let mut o = TlsOptions::new().ca_certificate(Certificate::from_pem(read(&tls.ca)?));
    if let Some((cert, key)) = &tls.identity {
        o = o.identity(Identity::from_pem(read(cert)?, read(key)?));
    }
    Ok(o)
}

fn options(tls: Option<&TlsOptions>) -> ConnectOptions {
    let mut opts = ConnectOptions::new()
        .with_connect_timeout(CONNECT_TIMEOUT)
        .with_timeout(CALL_TIMEOUT)
        .with_keep_alive(H2_PING, H2_PING_TIMEOUT)
        .with_keep_alive_while_idle(true)
        // A member without a leader cancels our watch instead of keeping
        // it silent.
        .with_require_leader(true);
    if let Some(t) = tls {
        opts = opts.with_tls(t.clone());
    }
    opts
}

/// Runs `fut` with `bound`.
async fn bounded<T>(
    bound: Duration,
    fut: impl std::future::Future<Output = Result<T, etcd_client::Error>>,
) -> Result<T, KvError> {
    tokio::time::timeout(bound, fut)
        .await
        .map_err(|_| KvError::Unavailable(format!("no answer within {bound:?}")))?
        .map_err(kv_error)
}

struct Member {
    url: String,
    client: Client,
    /// Marked down until this instant (then probed).
    down_until: Option<Instant>,
    backoff: Duration,
}

struct PoolInner {
    members: Vec<Member>,
    /// The member requests, the keep-alive and the watch go to.
    current: usize,
    last_sync: Option<Instant>,
}

/// The members of one etcd cluster and their health.
#[derive(Clone)]
pub struct Pool {
    inner: Arc<Mutex<PoolInner>>,
    tls: Option<TlsOptions>,
    /// Bumped whenever the current member changes.
    moved: watch::Sender<usize>,
}

impl Pool {
    /// Clients for `endpoints` (connected lazily).
    pub async fn new(endpoints: &[String], tls: Option<TlsOptions>) -> Result<Pool, KvError> {
        let mut members = Vec::new();
        for url in endpoints {
            members.push(Member {
                url: url.clone(),
                client: connect_one(url, tls.as_ref()).await?,
                down_until: None,
                backoff: PROBE_FIRST,
            });
        }
        let (moved, _) = watch::channel(0);
        Ok(Pool {
            inner: Arc::new(Mutex::new(PoolInner {
                members,
                current: 0,
                last_sync: None,
            })),
            tls,
            moved,
        })
    }

    fn lock(&self) -> MutexGuard<'_, PoolInner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The current member, moved to a healthy one when it is marked down;
    /// when every member is down, the one whose mark ends first.
    pub fn pick(&self) -> (usize, String, Client) {
        let mut g = self.lock();
        let n = g.members.len();
        let now = Instant::now();
        let healthy = |m: &Member| m.down_until.is_none_or(|t| t <= now);
        let cur = g.current % n.max(1);
        let idx = (0..n)
            .map(|k| (cur + k) % n)
            .find(|&i| healthy(&g.members[i]))
            .or_else(|| (0..n).min_by_key(|&i| g.members[i].down_until))
            .unwrap_or(0);
        if idx != g.current {
            g.current = idx;
            self.moved.send_replace(idx);
        }
        let m = &g.members[idx];
        (idx, m.url.clone(), m.client.clone())
    }

    /// Asks every member at once for its status and makes the first that
    /// answers with a leader the current one (a member that is down or cut
    /// off costs nothing at start).
    pub async fn choose(&self) {
        let members: Vec<(usize, Client)> = self
            .lock()
            .members
            .iter()
            .enumerate()
            .map(|(i, m)| (i, m.client.clone()))
            .collect();
        let mut set = tokio::task::JoinSet::new();
        for (i, mut c) in members {
            set.spawn(async move {
                let ok =
                    matches!(bounded(ATTEMPT_TIMEOUT, c.status()).await, Ok(s) if s.leader() != 0);
                (i, ok)
            });
        }
        while let Some(r) = set.join_next().await {
            if let Ok((i, true)) = r {
                self.lock().current = i;
                self.moved.send_replace(i);
                return;
            }
        }
    }

    /// A watch of the current member's index, to follow moves.
    pub fn subscribe(&self) -> watch::Receiver<usize> {
        self.moved.subscribe()
    }

    /// Marks `url` down (an attempt on it failed) and moves on.
    pub fn mark_down(&self, url: &str, why: &str) {
        let mut g = self.lock();
        let now = Instant::now();
        let Some(i) = g.members.iter().position(|m| m.url == url) else {
            return;
        };
        let m = &mut g.members[i];
        if m.down_until.is_none() {
            warn!("etcd member {url} unavailable ({why}); using the others");
            m.backoff = PROBE_FIRST;
        }
        m.down_until = Some(now + m.backoff);
        if g.current == i {
            let n = g.members.len();
            let next = (1..n)
                .map(|k| (i + k) % n)
                .find(|&j| g.members[j].down_until.is_none_or(|t| t <= now))
                .unwrap_or(i);
            g.current = next;
            drop(g);
            self.moved.send_replace(next);
        }
    }

    fn mark_up(&self, url: &str) {
        let mut g = self.lock();
        if let Some(m) = g.members.iter_mut().find(|m| m.url == url) {
            if m.down_until.take().is_some() {
                info!("etcd member {url} is back");
            }
            m.backoff = PROBE_FIRST;
        }
    }

    /// Runs `op` on a healthy member; a member that fails is marked down
    /// and the next one tried at once. Bounded by [`CALL_TIMEOUT`].
    pub async fn call<T, F, Fut>(&self, op: F) -> Result<T, KvError>
    where
        F: Fn(Client) -> Fut,
        Fut: std::future::Future<Output = Result<T, etcd_client::Error>>,
    {
        let end = Instant::now() + CALL_TIMEOUT;
        let mut last = KvError::Unavailable("no etcd member answered".into());
        let mut tried = 0usize;
        // Whether every attempt of this round failed to reach its member at
        // all (refused, unreachable): then etcd is down, not electing, and
        // waiting longer helps nobody.
        let mut round_unreachable = true;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(last);
            }
            let (_, url, client) = self.pick();
            let attempt = tokio::time::timeout(left.min(ATTEMPT_TIMEOUT), op(client)).await;
            let (e, unreachable) = match attempt {
                Ok(Ok(v)) => {
                    self.mark_up(&url);
                    return Ok(v);
                }
                Ok(Err(e)) => {
                    let unreachable = not_reached(&e);
                    (kv_error(e), unreachable)
                }
                Err(_) => (
                    KvError::Unavailable(format!(
                        "no answer within {:?}",
                        left.min(ATTEMPT_TIMEOUT)
                    )),
                    false,
                ),
            };
            if !member_failed(&e) {
                return Err(e);
            }
            self.mark_down(&url, &e.to_string());
            last = KvError::Unavailable(format!("{url}: {e}"));
            round_unreachable &= unreachable;
            tried += 1;
            if tried.is_multiple_of(self.len()) {
                if round_unreachable {
                    return Err(last);
                }
                // Every member failed once and some answered (no leader,
                // leader changed): an election; wait a little, try again.
                round_unreachable = true;
                tokio::time::sleep(Duration::from_millis(100).min(left)).await;
            }
        }
    }

    fn len(&self) -> usize {
        self.lock().members.len().max(1)
    }

    /// Probes the members marked down whose mark ended (a status request:
    /// it must answer and know a leader) and, every [`MEMBER_SYNC`], learns
    /// the member list. Runs for ever.
    pub async fn maintain(self) {
        loop {
            tokio::time::sleep(Duration::from_millis(250)).await;
            let now = Instant::now();
            let due: Vec<(String, Client)> = self
                .lock()
                .members
                .iter()
                .filter(|m| m.down_until.is_some_and(|t| t <= now))
                .map(|m| (m.url.clone(), m.client.clone()))
                .collect();
            for (url, mut c) in due {
                let ok = matches!(
                    bounded(ATTEMPT_TIMEOUT, c.status()).await,
                    Ok(s) if s.leader() != 0
                );
                if ok {
                    self.mark_up(&url);
                } else {
                    let mut g = self.lock();
                    if let Some(m) = g.members.iter_mut().find(|m| m.url == url) {
                        m.backoff = (m.backoff * 2).min(PROBE_MAX);
                        m.down_until = Some(Instant::now() + m.backoff);
                    }
                }
            }
            let sync_due = self
                .lock()
                .last_sync
                .is_none_or(|t| t.elapsed() >= MEMBER_SYNC);
            if sync_due {
                self.lock().last_sync = Some(Instant::now());
                if let Err(e) = self.sync_members().await {
                    warn!("etcd: reading the member list: {e}");
                }
            }
        }
    }

    /// Replaces the endpoints by the client URLs the cluster lists (a
    /// member removed and one added elsewhere are followed); keeps the
    /// current ones when the list names none.
    async fn sync_members(&self) -> Result<(), KvError> {
        let r = self
            .call(|mut c| async move { c.member_list().await })
            .await?;
        let https = self.tls.is_some();
        let mut urls: Vec<String> = r
            .members()
            .iter()
            .flat_map(|m| m.client_urls().iter().cloned())
            .filter(|u| u.starts_with(if https { "https://" } else { "http://" }))
            .collect();
        urls.sort();
        urls.dedup();
        if urls.is_empty() {
            return Ok(());
        }
        let known: Vec<String> = self.lock().members.iter().map(|m| m.url.clone()).collect();
        let mut added = Vec::new();
        for u in urls.iter().filter(|u| !known.contains(u)) {
            added.push(Member {
                url: u.clone(),
                client: connect_one(u, self.tls.as_ref()).await?,
                down_until: None,
                backoff: PROBE_FIRST,
            });
        }
        let mut g = self.lock();
        let cur_url = g.members.get(g.current).map(|m| m.url.clone());
        let before = g.members.len();
        g.members.retain(|m| urls.contains(&m.url));
        let removed = before - g.members.len();
        let n_added = added.len();
        g.members.extend(added);
        if n_added + removed > 0 {
            info!(
                "etcd members now {:?}",
                g.members.iter().map(|m| m.url.as_str()).collect::<Vec<_>>()
            );
        }
        g.current = cur_url
            .and_then(|u| g.members.iter().position(|m| m.url == u))
            .unwrap_or(0);
        let cur = g.current;
        drop(g);
        if removed > 0 {
            self.moved.send_replace(cur);
        }
        Ok(())
    }
}

async fn connect_one(url: &str, tls: Option<&TlsOptions>) -> Result<Client, KvError> {
    tokio::time::timeout(CALL_TIMEOUT, Client::connect([url], Some(options(tls))))
        .await
        .map_err(|_| KvError::Unavailable(format!("{url}: connecting timed out")))?
        .map_err(kv_error)
}

/// The synchronous store over the pool, for the agent's loop.
pub struct EtcdCluster {
    pool: Pool,
    rt: Arc<Runtime>,
}

impl EtcdCluster {
    /// The pool of `endpoints` on `rt`; starts its maintenance task.
    pub fn new(
        rt: Arc<Runtime>,
        endpoints: &[String],
        tls: Option<TlsOptions>,
    ) -> Result<EtcdCluster, KvError> {
        let pool = rt.block_on(Pool::new(endpoints, tls))?;
        rt.block_on(pool.choose());
        rt.spawn(pool.clone().maintain());
        Ok(EtcdCluster { pool, rt })
    }

    fn run<T, F, Fut>(&mut self, op: F) -> Result<T, KvError>
    where
        F: Fn(Client) -> Fut,
        Fut: std::future::Future<Output = Result<T, etcd_client::Error>>,
    {
        self.rt.block_on(self.pool.call(op))
    }

    fn txn(&mut self, txn: Txn) -> Result<bool, KvError> {
        self.run(|mut c| {
            let t = txn.clone();
            async move { c.txn(t).await }
        })
        .map(|r| r.succeeded())
    }
}

impl Kv for EtcdCluster {
    fn create(&mut self, key: &str, value: &[u8]) -> Result<bool, KvError> {
        self.txn(
            Txn::new()
                .when([Compare::create_revision(key, CompareOp::Equal, 0)])
                .and_then([TxnOp::put(key, value, None)]),
        )
    }

    fn replace(&mut self, key: &str, expect: &[u8], value: &[u8]) -> Result<bool, KvError> {
        self.txn(
            Txn::new()
                .when([Compare::value(key, CompareOp::Equal, expect)])
                .and_then([TxnOp::put(key, value, None)]),
        )
    }

    fn delete_if(&mut self, key: &str, expect: &[u8]) -> Result<bool, KvError> {
        self.txn(
            Txn::new()
                .when([Compare::value(key, CompareOp::Equal, expect)])
                .and_then([TxnOp::delete(key, None)]),
        )
    }

    fn get(&mut self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        let key = key.to_string();
        let r = self.run(|mut c| {
            let k = key.clone();
            async move { c.get(k, None).await }
        })?;
        Ok(r.kvs().first().map(|kv| kv.value().to_vec()))
    }

    fn list(&mut self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, KvError> {
        self.list_at(prefix).map(|(kvs, _)| kvs)
    }
}

impl Cluster for EtcdCluster {
    fn grant(&mut self, ttl: i64) -> Result<i64, KvError> {
        self.run(|mut c| async move { c.lease_grant(ttl, None).await })
            .map(|r| r.id())
    }

    fn put_leased(&mut self, key: &str, value: &[u8], lease: i64) -> Result<(), KvError> {
        let (key, value) = (key.to_string(), value.to_vec());
        self.run(|mut c| {
            let (k, v) = (key.clone(), value.clone());
            async move { c.put(k, v, Some(PutOptions::new().with_lease(lease))).await }
        })
        .map(|_| ())
    }

    fn revoke(&mut self, lease: i64) -> Result<(), KvError> {
        self.run(|mut c| async move { c.lease_revoke(lease).await })
            .map(|_| ())
    }

    fn delete(&mut self, key: &str) -> Result<(), KvError> {
        let key = key.to_string();
        self.run(|mut c| {
            let k = key.clone();
            async move { c.delete(k, None).await }
        })
        .map(|_| ())
    }

    fn list_at(&mut self, prefix: &str) -> Result<(Kvs, i64), KvError> {
        let prefix = prefix.to_string();
        let r =
            self.run(|mut c| {
                let p = prefix.clone();
                async move {
                    c.get(
                        p,
                        Some(GetOptions::new().with_prefix().with_sort(
                            etcd_client::SortTarget::Key,
                            etcd_client::SortOrder::Ascend,
                        )),
                    )
                    .await
                }
            })?;
        let rev = r.header().map_or(0, |h| h.revision());
        Ok((
            r.kvs()
                .iter()
                .map(|kv| {
                    (
                        String::from_utf8_lossy(kv.key()).into_owned(),
                        kv.value().to_vec(),
                    )
                })
                .collect(),
            rev,
        ))
    }

    fn start(
        &mut self,
        lease: i64,
        ttl: i64,
        watches: Vec<Watch>,
        tx: Sender<Event>,
    ) -> Box<dyn SessionTasks> {
        let mut tasks = vec![self
            .rt
            .spawn(keepalive(self.pool.clone(), lease, ttl, tx.clone()))];
        for w in watches {
            tasks.push(self.rt.spawn(watch_prefix(
                self.pool.clone(),
                w.prefix,
                w.view,
                w.event,
                tx.clone(),
            )));
        }
        Box::new(Tasks(tasks))
    }
}

impl EtcdCluster {
    /// Sends [`Event::Stop`] on SIGTERM or SIGINT.
    pub fn on_signals(&self, tx: Sender<Event>) {
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
    }
}

struct Tasks(Vec<JoinHandle<()>>);

impl SessionTasks for Tasks {}

impl Drop for Tasks {
    fn drop(&mut self) {
        for t in &self.0 {
            t.abort();
        }
    }
}

/// Keeps `lease` alive through the current member, every third of the TTL
/// and at least every 500 ms (its answer is also how a member that lost
/// the cluster is noticed); moves with the pool. Ends only when etcd says
/// the lease is gone.
async fn keepalive(pool: Pool, lease: i64, ttl: i64, tx: Sender<Event>) {
    let every = Duration::from_millis((ttl.max(1) as u64 * 1000 / 3).clamp(200, 500));
    let mut moved = pool.subscribe();
    loop {
        let (idx, url, mut client) = pool.pick();
        let opened = bounded(ATTEMPT_TIMEOUT, client.lease_keep_alive(lease)).await;
        let (mut keeper, mut stream) = match opened {
            Ok(k) => k,
            Err(e) => {
                pool.mark_down(&url, &format!("lease keep-alive: {e}"));
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        loop {
            let sent = tokio::time::timeout(ATTEMPT_TIMEOUT, keeper.keep_alive()).await;
            if !matches!(sent, Ok(Ok(()))) {
                pool.mark_down(&url, "lease keep-alive: the stream broke");
                break;
            }
            match bounded(ATTEMPT_TIMEOUT, stream.message()).await {
                Ok(Some(r)) if r.ttl() > 0 => {}
                Ok(Some(_)) => {
                    let _ = tx.send(Event::Lost("the lease expired".into()));
                    return;
                }
                Ok(None) => {
                    pool.mark_down(&url, "lease keep-alive: stream closed");
                    break;
                }
                Err(e) => {
                    pool.mark_down(&url, &format!("lease keep-alive: {e}"));
                    break;
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = moved.changed() => {
                    if *moved.borrow_and_update() != idx {
                        break;
                    }
                }
            }
        }
    }
}

/// Watches `prefix` through the current member from the revision after the
/// view's, applying events to the view and sending `event` after each
/// change; on a broken stream or a move, resumes on another member from
/// where it was. A compacted revision re-reads the whole prefix.
async fn watch_prefix(
    pool: Pool,
    prefix: String,
    view: SharedView,
    event: Event,
    tx: Sender<Event>,
) {
    let mut moved = pool.subscribe();
    loop {
        let (idx, url, mut client) = pool.pick();
        let from = view.lock().rev + 1;
        let opts = WatchOptions::new()
            .with_prefix()
            .with_progress_notify()
            .with_start_revision(from);
        let mut stream =
            match bounded(ATTEMPT_TIMEOUT, client.watch(prefix.clone(), Some(opts))).await {
                Ok(w) => w,
                Err(e) => {
                    pool.mark_down(&url, &format!("watch: {e}"));
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
        loop {
            tokio::select! {
                msg = stream.message() => match msg {
                    Ok(Some(r)) => {
                        if r.canceled() {
                            if r.compact_revision() > 0 {
                                // Fell behind a compaction: read everything again.
                                match pool
                                    .call(|mut c| {
                                        let p = prefix.clone();
                                        async move { c.get(p, Some(GetOptions::new().with_prefix())).await }
                                    })
                                    .await
                                {
                                    Ok(g) => {
                                        let rev = g.header().map_or(0, |h| h.revision());
                                        let kvs = g.kvs().iter().map(|kv| (String::from_utf8_lossy(kv.key()).into_owned(), kv.value().to_vec())).collect();
                                        let mut v = view.lock();
                                        v.loaded = false;
                                        v.reset(rev, kvs);
                                        drop(v);
                                        let _ = tx.send(event.clone());
                                    }
                                    Err(e) => warn!("watch: re-reading after compaction: {e}"),
                                }
                            } else {
                                pool.mark_down(&url, &format!("watch canceled: {}", r.cancel_reason()));
                            }
                            break;
                        }
                        let mut changed = false;
                        {
                            let mut v = view.lock();
                            for e in r.events() {
                                let Some(kv) = e.kv() else { continue };
                                let key = String::from_utf8_lossy(kv.key()).into_owned();
                                let value = match e.event_type() {
                                    EventType::Put => Some(kv.value().to_vec()),
                                    EventType::Delete => None,
                                };
                                changed |= v.apply(kv.mod_revision(), key, value);
                            }
                            // A progress notification: nothing before this revision is pending.
                            if r.events().is_empty() {
                                if let Some(h) = r.header() {
                                    v.rev = v.rev.max(h.revision());
                                }
                            }
                        }
                        if changed && tx.send(event.clone()).is_err() {
                            return;
                        }
                    }
                    Ok(None) => {
                        pool.mark_down(&url, "watch: stream closed");
                        break;
                    }
                    Err(e) => {
                        pool.mark_down(&url, &format!("watch: {}", kv_error(e)));
                        break;
                    }
                },
                _ = moved.changed() => {
                    if *moved.borrow_and_update() != idx {
                        break;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: tonic::Code, msg: &str) -> etcd_client::Error {
        etcd_client::Error::GRpcStatus(tonic::Status::new(code, msg))
    }

    #[test]
    fn an_unreachable_member_is_told_from_an_answer_of_etcd() {
        // A dead member: the connection itself failed.
        assert!(not_reached(&status(
            tonic::Code::Unavailable,
            "tcp connect error"
        )));
        // A member without a leader answered: try another, but etcd is up.
        let no_leader = status(tonic::Code::Unavailable, "etcdserver: no leader");
        assert!(!not_reached(&no_leader));
        assert!(member_failed(&kv_error(no_leader)));
        // A refusal (bad request): no other member would do better.
        let bad = status(
            tonic::Code::InvalidArgument,
            "etcdserver: key is not provided",
        );
        assert!(!member_failed(&kv_error(bad)));
        assert!(member_failed(&kv_error(status(
            tonic::Code::DeadlineExceeded,
            "context deadline exceeded"
        ))));
    }
}
