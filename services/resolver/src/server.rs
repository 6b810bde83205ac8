//! The sockets and the event loop: one thread (tokio's current-thread
//! runtime with a `LocalSet`, ADR 0015), so the whole state is `Rc`/`RefCell`
//! and no lock is ever taken on the query path.
//!
//! - Per listen address one UDP socket and one TCP listener on port 53,
//!   bound with `IP_FREEBIND` (an IPv6 gateway still in DAD, or a bridge
//!   whose address comes a moment later, does not fail the bind) and
//!   `SO_REUSEADDR`. A reload binds new addresses and closes removed ones;
//!   sockets of addresses that stay are never closed, so no query is lost to
//!   a reload.
//! - UDP: a datagram over [`MAX_UDP_QUERY`] bytes is dropped; forwarded
//!   queries run as their own tasks, at most [`Limits::max_forwards`] at a
//!   time (beyond: SERVFAIL at once).
//! - TCP: at most [`Limits::max_tcp`] connections (a new one evicts the
//!   oldest, so idle connections cannot lock clients out), each closed
//!   after [`Limits::tcp_idle`] without a query, a message over
//!   [`MAX_TCP_QUERY`] bytes, a message not complete within
//!   [`Limits::tcp_message`], or [`Limits::tcp_queries`] queries.
//! - The control socket (`cnm_dns_records::control`): ping, reload, stop.
//! - Every [`Limits::rescan`] the store's fingerprint is compared with the
//!   one of the last load: a change made around the API is picked up too.
//! - SIGHUP reloads; SIGTERM and SIGINT stop cleanly (pid file, socket and
//!   log removed).

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;

use cnm_dns_records::control::{Request, Status, MAX_LINE};
use cnm_dns_records::launcher::PidFile;
use cnm_dns_records::store::Fingerprint;
use cnm_dns_records::{layout, Store};
use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream, UdpSocket, UnixListener, UnixStream};
use tokio::task::{AbortHandle, JoinHandle};
use tokio::time::timeout;

use crate::answer::{self, Action, Transport};
use crate::upstream::{self, HostResolvers};
use crate::view::View;

/// Largest UDP query accepted (bigger datagrams are dropped).
pub const MAX_UDP_QUERY: usize = 4096;
/// Largest TCP query accepted (a bigger length prefix closes the connection).
pub const MAX_TCP_QUERY: usize = 4096;

/// The resource bounds.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Open TCP connections, all listen addresses together.
    pub max_tcp: usize,
    /// A TCP connection without a query for this long is closed.
    pub tcp_idle: Duration,
    /// A TCP message must arrive (and its answer leave) within this.
    pub tcp_message: Duration,
    /// Queries one TCP connection may send.
    pub tcp_queries: usize,
    /// UDP queries being forwarded at once.
    pub max_forwards: usize,
    /// How often the store is checked for changes made around the API.
    pub rescan: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_tcp: 128,
            tcp_idle: Duration::from_secs(5),
            tcp_message: Duration::from_secs(5),
            tcp_queries: 256,
            max_forwards: 256,
            rescan: Duration::from_secs(2),
        }
    }
}

/// How the resolver runs.
#[derive(Debug, Clone)]
pub struct Config {
    /// The store directory (`/run/cnm/dns/<netns key>`).
    pub store_root: PathBuf,
    /// The host's resolv.conf.
    pub resolv_conf: PathBuf,
    /// The port to listen on (53; tests may use another).
    pub port: u16,
    /// The bounds.
    pub limits: Limits,
}

/// Writes a log line to stderr (the store's `resolver.log`).
#[macro_export]
macro_rules! log {
    ($($arg:tt)*) => {{
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        eprintln!(
            "{}.{:03} cnm-resolver[{}]: {}",
            now.as_secs(),
            now.subsec_millis(),
            std::process::id(),
            format_args!($($arg)*)
        );
    }};
}

/// The sockets of one listen address; dropping it closes them.
struct Listener {
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

#[derive(Default)]
struct TcpTable {
    next: u64,
    conns: BTreeMap<u64, AbortHandle>,
}

struct State {
    config: Config,
    store: Store,
    view: RefCell<Rc<View>>,
    generation: Cell<u64>,
    listeners: RefCell<BTreeMap<IpAddr, Listener>>,
    tcp: RefCell<TcpTable>,
    forwards: Cell<usize>,
    host: RefCell<HostResolvers>,
    fingerprint: RefCell<Fingerprint>,
    stop: RefCell<Option<tokio::sync::oneshot::Sender<()>>>,
    last_forward_log: Cell<Option<std::time::Instant>>,
    /// One reload at a time (a reload may wait while an address is released).
    reload_lock: tokio::sync::Mutex<()>,
    /// The store warnings of the last reload (logged once each).
    warned: RefCell<BTreeSet<String>>,
}

impl State {
    fn status(&self) -> Status {
        Status {
            pid: std::process::id(),
            generation: self.generation.get(),
            listening: self.listeners.borrow().keys().copied().collect(),
        }
    }

    /// Logs a forwarding failure, at most once every 10 seconds.
    fn forward_failed(&self, why: &str) {
        let now = std::time::Instant::now();
        if self
            .last_forward_log
            .get()
            .is_none_or(|t| now.duration_since(t) >= Duration::from_secs(10))
        {
            self.last_forward_log.set(Some(now));
            log!("forwarding failed (SERVFAIL; logged at most every 10 s): {why}");
        }
    }

    fn request_stop(&self) {
        if let Some(tx) = self.stop.borrow_mut().take() {
            let _ = tx.send(());
        }
    }

    /// The host's servers, without our own addresses.
    fn host_servers(&self) -> Vec<SocketAddr> {
        let own: Vec<IpAddr> = self.listeners.borrow().keys().copied().collect();
        self.host.borrow_mut().servers(&own)
    }
}

fn bind_udp(addr: SocketAddr) -> io::Result<UdpSocket> {
    let s = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    prepare(&s, &addr)?;
    s.bind(&addr.into())?;
    UdpSocket::from_std(s.into())
}

fn bind_tcp(addr: SocketAddr) -> io::Result<TcpListener> {
    let s = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    prepare(&s, &addr)?;
    s.bind(&addr.into())?;
    s.listen(128)?;
    TcpListener::from_std(s.into())
}

fn prepare(s: &Socket, addr: &SocketAddr) -> io::Result<()> {
    s.set_reuse_address(true)?;
    s.set_nonblocking(true)?;
    if addr.is_ipv6() {
        s.set_only_v6(true)?;
        s.set_freebind_v6(true)?;
    } else {
        s.set_freebind_v4(true)?;
    }
    Ok(())
}

/// Binds UDP and TCP on `ip`, retrying briefly while a just-closed socket
/// of the same address is still being dropped.
async fn bind_both(state: &Rc<State>, ip: IpAddr) -> io::Result<Listener> {
    let addr = SocketAddr::new(ip, state.config.port);
    let mut tries = 0;
    let (udp, tcp) = loop {
        let bound = bind_udp(addr).and_then(|u| bind_tcp(addr).map(|t| (u, t)));
        match bound {
            Ok(pair) => break pair,
            Err(e) if e.kind() == io::ErrorKind::AddrInUse && tries < 5 => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => return Err(e),
        }
    };
    let udp = Rc::new(udp);
    let tasks = vec![
        tokio::task::spawn_local(udp_loop(state.clone(), udp, ip)),
        tokio::task::spawn_local(tcp_loop(state.clone(), tcp, ip)),
    ];
    Ok(Listener { tasks })
}

/// Reads the store and puts it in use: new view, new listeners, removed ones closed.
async fn reload(state: &Rc<State>) -> Result<Status, String> {
    let _one = state.reload_lock.lock().await;
    let fingerprint = state.store.fingerprint();
    let snap = state.store.snapshot();
    // Each skipped file is logged once, not at every reload.
    {
        let mut seen = state.warned.borrow_mut();
        for w in snap.warnings.iter().filter(|w| !seen.contains(*w)) {
            log!("store: {w}");
        }
        *seen = snap.warnings.iter().cloned().collect();
    }
    let view = View::build(&snap);
    let want: BTreeSet<IpAddr> = view.listen_addresses().into_iter().collect();
    let gone: Vec<IpAddr> = state
        .listeners
        .borrow()
        .keys()
        .filter(|a| !want.contains(a))
        .copied()
        .collect();
    for a in gone {
        state.listeners.borrow_mut().remove(&a);
        log!("closed {a}:{}", state.config.port);
    }
    let mut errors = Vec::new();
    for a in want {
        if state.listeners.borrow().contains_key(&a) {
            continue;
        }
        match bind_both(state, a).await {
            Ok(l) => {
                state.listeners.borrow_mut().insert(a, l);
                log!("listening on {a}:{} (udp, tcp)", state.config.port);
            }
            Err(e) => {
                let msg = format!(
                    "cannot listen on {}: {e}",
                    SocketAddr::new(a, state.config.port)
                );
                log!("{msg}");
                errors.push(msg);
            }
        }
    }
    *state.view.borrow_mut() = Rc::new(view);
    *state.fingerprint.borrow_mut() = fingerprint;
    state.generation.set(state.generation.get() + 1);
    if errors.is_empty() {
        Ok(state.status())
    } else {
        Err(errors.join("; "))
    }
}

/// Decrements the forward counter however the task ends.
struct ForwardSlot(Rc<State>);

impl Drop for ForwardSlot {
    fn drop(&mut self) {
        self.0.forwards.set(self.0.forwards.get().saturating_sub(1));
    }
}

async fn udp_loop(state: Rc<State>, sock: Rc<UdpSocket>, local: IpAddr) {
    let mut buf = vec![0u8; MAX_UDP_QUERY + 1];
    loop {
        let (n, src) = match sock.recv_from(&mut buf).await {
            Ok(x) => x,
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        if n > MAX_UDP_QUERY {
            continue;
        }
        let view = state.view.borrow().clone();
        match answer::handle(&buf[..n], src.ip(), local, &view, Transport::Udp) {
            Action::Reply(out) => {
                let _ = sock.try_send_to(&out, src);
            }
            Action::Drop => {}
            Action::Forward(upstreams) => {
                if state.forwards.get() >= state.config.limits.max_forwards {
                    if let Some(out) = answer::servfail(&buf[..n], true) {
                        let _ = sock.try_send_to(&out, src);
                    }
                    continue;
                }
                state.forwards.set(state.forwards.get() + 1);
                let slot = ForwardSlot(state.clone());
                let query = buf[..n].to_vec();
                let sock = sock.clone();
                tokio::task::spawn_local(async move {
                    let servers = if upstreams.is_empty() {
                        slot.0.host_servers()
                    } else {
                        upstreams
                    };
                    let out = match upstream::forward_udp(&query, &servers).await {
                        Ok(r) => Some(r),
                        Err(why) => {
                            slot.0.forward_failed(&why);
                            answer::servfail(&query, true)
                        }
                    };
                    if let Some(out) = out {
                        let _ = sock.send_to(&out, src).await;
                    }
                    drop(slot);
                });
            }
        }
    }
}

async fn tcp_loop(state: Rc<State>, listener: TcpListener, local: IpAddr) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(_) => {
                // EMFILE and friends: do not spin.
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        admit(&state, stream, peer, local);
    }
}

/// Starts a connection's task; evicts the oldest connections beyond the bound.
fn admit(state: &Rc<State>, stream: TcpStream, peer: SocketAddr, local: IpAddr) {
    let mut evicted = Vec::new();
    let id = {
        let mut table = state.tcp.borrow_mut();
        while table.conns.len() >= state.config.limits.max_tcp.max(1) {
            match table.conns.pop_first() {
                Some((_, h)) => evicted.push(h),
                None => break,
            }
        }
        table.next += 1;
        table.next
    };
    for h in evicted {
        h.abort();
    }
    let handle = tokio::task::spawn_local(tcp_conn(state.clone(), stream, peer, local, id));
    state
        .tcp
        .borrow_mut()
        .conns
        .insert(id, handle.abort_handle());
}

/// Removes a connection from the table however its task ends.
struct TcpSlot(Rc<State>, u64);

impl Drop for TcpSlot {
    fn drop(&mut self) {
        if let Ok(mut t) = self.0.tcp.try_borrow_mut() {
            t.conns.remove(&self.1);
        }
    }
}

async fn tcp_conn(
    state: Rc<State>,
    mut stream: TcpStream,
    peer: SocketAddr,
    local: IpAddr,
    id: u64,
) {
    let _slot = TcpSlot(state.clone(), id);
    let limits = state.config.limits;
    for _ in 0..limits.tcp_queries {
        let mut len = [0u8; 2];
        match timeout(limits.tcp_idle, stream.read_exact(&mut len)).await {
            Ok(Ok(_)) => {}
            _ => return,
        }
        let n = usize::from(u16::from_be_bytes(len));
        if !(12..=MAX_TCP_QUERY).contains(&n) {
            return;
        }
        let mut query = vec![0u8; n];
        match timeout(limits.tcp_message, stream.read_exact(&mut query)).await {
            Ok(Ok(_)) => {}
            _ => return,
        }
        let view = state.view.borrow().clone();
        let out = match answer::handle(&query, peer.ip(), local, &view, Transport::Tcp) {
            Action::Reply(out) => out,
            Action::Drop => return,
            Action::Forward(upstreams) => {
                let servers = if upstreams.is_empty() {
                    state.host_servers()
                } else {
                    upstreams
                };
                match upstream::forward_tcp(&query, &servers).await {
                    Ok(r) => r,
                    Err(why) => {
                        state.forward_failed(&why);
                        match answer::servfail(&query, true) {
                            Some(sf) => sf,
                            None => return,
                        }
                    }
                }
            }
        };
        let Ok(len) = u16::try_from(out.len()) else {
            return;
        };
        let mut framed = Vec::with_capacity(out.len() + 2);
        framed.extend_from_slice(&len.to_be_bytes());
        framed.extend_from_slice(&out);
        match timeout(limits.tcp_message, stream.write_all(&framed)).await {
            Ok(Ok(())) => {}
            _ => return,
        }
    }
}

async fn control_loop(state: Rc<State>, listener: UnixListener) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::task::spawn_local(control_conn(state.clone(), stream));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

async fn control_conn(state: Rc<State>, stream: UnixStream) {
    let (rd, mut wr) = stream.into_split();
    let mut line = String::new();
    let mut reader = BufReader::new(rd.take(MAX_LINE as u64));
    if !matches!(
        timeout(Duration::from_secs(5), reader.read_line(&mut line)).await,
        Ok(Ok(_))
    ) {
        return;
    }
    let (reply, stop) = match Request::parse(&line) {
        Some(Request::Ping) => (state.status().to_line(), false),
        Some(Request::Reload) => match reload(&state).await {
            Ok(s) => (s.to_line(), false),
            Err(msg) => (format!("err {}", msg.replace('\n', " ")), false),
        },
        Some(Request::Stop) => (state.status().to_line(), true),
        None => ("err unknown request".to_string(), false),
    };
    let _ = timeout(
        Duration::from_secs(5),
        wr.write_all(format!("{reply}\n").as_bytes()),
    )
    .await;
    if stop {
        log!("stop requested");
        state.request_stop();
    }
}

async fn rescan_loop(state: Rc<State>) {
    let period = state.config.limits.rescan;
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if !state.store.layout().root.exists() {
            log!(
                "store {} removed: stopping",
                state.store.layout().root.display()
            );
            state.request_stop();
            return;
        }
        if *state.fingerprint.borrow() != state.store.fingerprint() {
            log!("store changed outside the API: reloading");
            if let Err(e) = reload(&state).await {
                log!("reload: {e}");
            }
        }
    }
}

async fn signal_loop(state: Rc<State>) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut hup), Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::hangup()),
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        log!("cannot install signal handlers");
        return;
    };
    loop {
        tokio::select! {
            _ = hup.recv() => {
                log!("SIGHUP: reloading");
                if let Err(e) = reload(&state).await {
                    log!("reload: {e}");
                }
            }
            _ = term.recv() => { log!("SIGTERM"); state.request_stop(); return; }
            _ = int.recv() => { log!("SIGINT"); state.request_stop(); return; }
        }
    }
}

/// Runs the resolver until it is told to stop. `ready` is called once:
/// `Ok` when every listen address is bound and the control socket is up,
/// `Err` when the start failed (then this returns that error).
pub fn run(config: Config, ready: impl FnOnce(Result<(), String>)) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"));
    let rt = match rt {
        Ok(rt) => rt,
        Err(e) => {
            ready(Err(e.clone()));
            return Err(e);
        }
    };
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, serve(config, ready))
}

async fn serve(config: Config, ready: impl FnOnce(Result<(), String>)) -> Result<(), String> {
    let store = Store::at(config.store_root.clone(), None);
    let layout = store.layout().clone();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let state = Rc::new(State {
        host: RefCell::new(HostResolvers::new(&config.resolv_conf)),
        config,
        store,
        view: RefCell::new(Rc::new(View::default())),
        generation: Cell::new(0),
        listeners: RefCell::new(BTreeMap::new()),
        tcp: RefCell::new(TcpTable::default()),
        forwards: Cell::new(0),
        fingerprint: RefCell::new(Vec::new()),
        stop: RefCell::new(Some(tx)),
        last_forward_log: Cell::new(None),
        reload_lock: tokio::sync::Mutex::new(()),
        warned: RefCell::new(BTreeSet::new()),
    });
    let started = async {
        if !layout.root.is_dir() {
            return Err(format!("no store at {}", layout.root.display()));
        }
        reload(&state).await?;
        let me = PidFile::current().ok_or("cannot read my own /proc/self/stat")?;
        layout::write_json(&layout.pid_file(), &me).map_err(|e| e.to_string())?;
        let sock = layout.control_socket();
        let _ = std::fs::remove_file(&sock);
        let listener = UnixListener::bind(&sock)
            .map_err(|e| format!("cannot bind the control socket {}: {e}", sock.display()))?;
        Ok::<_, String>(listener)
    }
    .await;
    let control = match started {
        Ok(l) => l,
        Err(e) => {
            log!("start failed: {e}");
            state.listeners.borrow_mut().clear();
            cleanup(&layout, false);
            ready(Err(e.clone()));
            return Err(e);
        }
    };
    let servers = state.host_servers();
    let resolv = state.host.borrow().path().display().to_string();
    log!(
        "ready: store {}, upstreams from {resolv}: {servers:?}",
        layout.root.display()
    );
    ready(Ok(()));
    let tasks = [
        tokio::task::spawn_local(control_loop(state.clone(), control)),
        tokio::task::spawn_local(rescan_loop(state.clone())),
        tokio::task::spawn_local(signal_loop(state.clone())),
    ];
    let _ = rx.await;
    for t in &tasks {
        t.abort();
    }
    state.listeners.borrow_mut().clear();
    cleanup(&layout, true);
    log!("stopped");
    Ok(())
}

/// Removes our pid file (if it names us), the control socket and, after a
/// clean run, the log.
fn cleanup(layout: &layout::Layout, remove_log: bool) {
    let mine = PidFile::current();
    let named = cnm_dns_records::launcher::read_pid_file(layout);
    if named.is_some() && named == mine {
        let _ = std::fs::remove_file(layout.pid_file());
        let _ = std::fs::remove_file(layout.control_socket());
    }
    if remove_log {
        let _ = std::fs::remove_file(layout.log_file());
    }
}
