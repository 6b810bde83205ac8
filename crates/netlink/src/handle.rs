//! The synchronous NETLINK_ROUTE socket: creation (optionally inside another
//! network namespace), request framing, sequence numbers, acks and dumps.

use netlink_packet_core::{
    NetlinkBuffer, NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_DUMP,
    NLM_F_DUMP_INTR, NLM_F_REQUEST,
};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};

use crate::error::NetlinkError;
use crate::ext_ack;

/// Size of the receive buffer (twice the kernel's largest dump datagram).
const RECV_BUF: usize = 64 * 1024;
/// How many times an interrupted dump (NLM_F_DUMP_INTR) is restarted.
const DUMP_ATTEMPTS: usize = 5;
const NLMSG_HDRLEN: usize = 16;

/// What a request is about, for error messages.
pub(crate) struct Ctx {
    pub op: &'static str,
    pub target: String,
}

impl Ctx {
    pub(crate) fn new(op: &'static str, target: impl Into<String>) -> Ctx {
        Ctx {
            op,
            target: target.into(),
        }
    }

    pub(crate) fn decode(&self, reason: impl std::fmt::Display) -> NetlinkError {
        NetlinkError::Decode {
            op: self.op,
            target: self.target.clone(),
            reason: reason.to_string(),
        }
    }

    pub(crate) fn invalid(&self, reason: impl Into<String>) -> NetlinkError {
        NetlinkError::InvalidArgument {
            op: self.op,
            target: self.target.clone(),
            reason: reason.into(),
        }
    }

    fn kernel(&self, errno: i32, ext_ack: Option<String>) -> NetlinkError {
        NetlinkError::Kernel {
            op: self.op,
            target: self.target.clone(),
            errno,
            ext_ack,
        }
    }
}

/// A NETLINK_ROUTE socket bound to one network namespace.
///
/// The namespace is fixed when the socket is created; the handle can then be
/// used from any thread. Not shareable between threads concurrently (`&mut self`).
pub struct Handle {
    sock: Socket,
    seq: u32,
    buf: Vec<u8>,
}

impl std::fmt::Debug for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use std::os::fd::AsRawFd;
        f.debug_struct("Handle")
            .field("fd", &self.sock.as_raw_fd())
            .field("seq", &self.seq)
            .finish()
    }
}

impl Handle {
    /// Open a socket in the calling thread's current network namespace.
    pub fn new() -> Result<Handle, NetlinkError> {
        let sock = Socket::new(NETLINK_ROUTE)
            .map_err(|e| NetlinkError::socket("create NETLINK_ROUTE socket", e))?;
        Handle::setup(sock)
    }

    /// Open a socket inside `ns` (created on a short-lived thread that enters
    /// the namespace); the calling thread never changes namespace.
    pub fn new_in(ns: &netns::NetNs) -> Result<Handle, NetlinkError> {
        let sock = ns.run_in(|| Socket::new(NETLINK_ROUTE))?.map_err(|e| {
            NetlinkError::socket(
                format!(
                    "create NETLINK_ROUTE socket in network namespace {}",
                    ns.path().display()
                ),
                e,
            )
        })?;
        Handle::setup(sock)
    }

    /// Like [`Handle::new_in`], and run `then` on the same short-lived
    /// thread inside `ns` (e.g. per-interface sysctls, which have no
    /// netlink setter), so one thread does both.
    pub fn new_in_then<T: Send>(
        ns: &netns::NetNs,
        then: impl FnOnce() -> T + Send,
    ) -> Result<(Handle, T), NetlinkError> {
        let (sock, extra) = ns.run_in(|| (Socket::new(NETLINK_ROUTE), then()))?;
        let sock = sock.map_err(|e| {
            NetlinkError::socket(
                format!(
                    "create NETLINK_ROUTE socket in network namespace {}",
                    ns.path().display()
                ),
                e,
            )
        })?;
        Ok((Handle::setup(sock)?, extra))
    }

    /// Like [`Handle::new_in_then`] without a thread: the calling thread
    /// enters `ns`, opens the socket, runs `then` and returns to its own
    /// namespace (one `setns` each way instead of spawning and joining a
    /// thread). The caller must be the only user of its thread's namespace
    /// meanwhile (a single-threaded plugin). If the way back fails the
    /// process aborts: nothing may run in the wrong namespace.
    pub fn new_in_here<T>(
        ns: &netns::NetNs,
        then: impl FnOnce() -> T,
    ) -> Result<(Handle, T), NetlinkError> {
        use nix::sched::{setns, CloneFlags};
        let sock_err = |what: &str, e: std::io::Error| {
            NetlinkError::socket(format!("{what} {}", ns.path().display()), e)
        };
        let home = std::fs::File::open("/proc/thread-self/ns/net")
            .map_err(|e| sock_err("open own namespace to enter", e))?;
        // setns changes only this thread's namespace.
        if let Err(e) = setns(ns.fd(), CloneFlags::CLONE_NEWNET) {
            return Err(sock_err("enter", std::io::Error::from(e)));
        }
        let sock = Socket::new(NETLINK_ROUTE);
        let extra = then();
        // Back to the namespace this thread came from.
        if let Err(e) = setns(&home, CloneFlags::CLONE_NEWNET) {
            eprintln!(
                "fatal: cannot return from network namespace {}: {e}",
                ns.path().display()
            );
            std::process::abort();
        }
        let sock = sock.map_err(|e| sock_err("create NETLINK_ROUTE socket in", e))?;
        Ok((Handle::setup(sock)?, extra))
    }

    fn setup(mut sock: Socket) -> Result<Handle, NetlinkError> {
        sock.bind_auto()
            .map_err(|e| NetlinkError::socket("bind", e))?;
        sock.connect(&SocketAddr::new(0, 0))
            .map_err(|e| NetlinkError::socket("connect to the kernel", e))?;
        // Optional features: older kernels lack them, which only costs
        // error detail (ext ack) or server-side dump filtering (strict check).
        let _ = sock.set_ext_ack(true);
        let _ = sock.set_cap_ack(true);
        let _ = sock.set_netlink_get_strict_chk(true);
        Ok(Handle {
            sock,
            seq: 0,
            buf: Vec::with_capacity(RECV_BUF),
        })
    }

    /// Send a request that expects an ack (plus possibly replies before it).
    /// `extra_flags` is e.g. NLM_F_CREATE | NLM_F_EXCL.
    pub(crate) fn request(
        &mut self,
        msg: RouteNetlinkMessage,
        extra_flags: u16,
        ctx: &Ctx,
    ) -> Result<Vec<RouteNetlinkMessage>, NetlinkError> {
        let bytes = encode(msg, NLM_F_REQUEST | NLM_F_ACK | extra_flags);
        let seq = self.send(bytes, ctx)?;
        self.collect(seq, false, ctx).map(|(msgs, _)| msgs)
    }

    /// Send a dump request and gather all parts; restarts interrupted dumps.
    pub(crate) fn dump(
        &mut self,
        msg: RouteNetlinkMessage,
        ctx: &Ctx,
    ) -> Result<Vec<RouteNetlinkMessage>, NetlinkError> {
        let bytes = encode(msg, NLM_F_REQUEST | NLM_F_DUMP);
        for _ in 0..DUMP_ATTEMPTS {
            let seq = self.send(bytes.clone(), ctx)?;
            let (msgs, interrupted) = self.collect(seq, true, ctx)?;
            if !interrupted {
                return Ok(msgs);
            }
        }
        Err(NetlinkError::DumpInterrupted {
            op: ctx.op,
            target: ctx.target.clone(),
            attempts: DUMP_ATTEMPTS,
        })
    }

    /// The next sequence number (never 0).
    pub(crate) fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1).max(1);
        self.seq
    }

    fn send(&mut self, mut bytes: Vec<u8>, ctx: &Ctx) -> Result<u32, NetlinkError> {
        let seq = self.next_seq();
        if let Some(field) = bytes.get_mut(8..12) {
            field.copy_from_slice(&seq.to_ne_bytes());
        }
        self.send_raw(&bytes, ctx)?;
        Ok(seq)
    }

    /// Send one datagram (one or more framed messages) whole.
    pub(crate) fn send_raw(&mut self, bytes: &[u8], ctx: &Ctx) -> Result<(), NetlinkError> {
        loop {
            match self.sock.send(bytes, 0) {
                Ok(n) if n == bytes.len() => return Ok(()),
                Ok(n) => {
                    return Err(NetlinkError::socket(
                        format!("send {}: short write {n} of {}", ctx.op, bytes.len()),
                        std::io::Error::from(std::io::ErrorKind::WriteZero),
                    ))
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Err(NetlinkError::socket(
                        format!("send {} {}", ctx.op, ctx.target),
                        e,
                    ))
                }
            }
        }
    }

    /// Receive one datagram into `self.buf` (one recv, no peek: the buffer
    /// is larger than any datagram rtnetlink sends us, dumps included, which
    /// the kernel caps at 32 KiB; a larger one is reported, not misread).
    fn recv_datagram(&mut self, ctx: &Ctx) -> Result<(), NetlinkError> {
        self.buf.clear();
        loop {
            match self.sock.recv(&mut self.buf, libc::MSG_TRUNC) {
                Ok(n) if n > self.buf.len() => {
                    return Err(ctx.decode(format!(
                        "datagram of {n} bytes exceeds the {RECV_BUF}-byte receive buffer"
                    )))
                }
                Ok(_) => return Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Err(NetlinkError::socket(
                        format!("receive reply to {}", ctx.op),
                        e,
                    ))
                }
            }
        }
    }

    /// Read replies for `seq` until the ack/error (request) or DONE (dump).
    /// Returns the inner messages and whether the dump was interrupted.
    fn collect(
        &mut self,
        seq: u32,
        is_dump: bool,
        ctx: &Ctx,
    ) -> Result<(Vec<RouteNetlinkMessage>, bool), NetlinkError> {
        let mut out = Vec::new();
        let mut interrupted = false;
        loop {
            self.recv_datagram(ctx)?;
            let mut off = 0;
            while off + NLMSG_HDRLEN <= self.buf.len() {
                let rest = &self.buf[off..];
                let nb = NetlinkBuffer::new_checked(rest).map_err(|e| ctx.decode(e))?;
                let len = nb.length() as usize;
                if len < NLMSG_HDRLEN || len > rest.len() {
                    return Err(ctx.decode(format!(
                        "netlink message length {len} outside datagram of {} bytes",
                        rest.len()
                    )));
                }
                let raw = &rest[..len];
                off += (len + 3) & !3;
                if nb.sequence_number() != seq {
                    continue; // stale reply to an earlier request
                }
                if nb.flags() & NLM_F_DUMP_INTR != 0 {
                    interrupted = true;
                }
                let msg = NetlinkMessage::<RouteNetlinkMessage>::deserialize(raw)
                    .map_err(|e| ctx.decode(e))?;
                let flags = msg.header.flags;
                match msg.payload {
                    NetlinkPayload::InnerMessage(inner) => out.push(inner),
                    NetlinkPayload::Error(err) => match err.code {
                        None => return Ok((out, interrupted)),
                        Some(code) => {
                            let ext = ext_ack::from_error(flags, &err.header);
                            return Err(ctx.kernel(code.get().saturating_neg(), ext));
                        }
                    },
                    NetlinkPayload::Done(done) => {
                        if done.code != 0 {
                            let ext = ext_ack::from_tlvs(&done.extended_ack);
                            return Err(ctx.kernel(done.code.saturating_neg(), ext));
                        }
                        if is_dump {
                            return Ok((out, interrupted));
                        }
                    }
                    NetlinkPayload::Overrun(_) => {
                        return Err(ctx.decode("kernel reported a netlink overrun"))
                    }
                    _ => {}
                }
            }
        }
    }

    /// Read the replies of `ctxs.len()` pipelined requests numbered from
    /// `first`, until each has its ack or error. Per request: the messages
    /// it got back (e.g. an echo), or its kernel error.
    pub(crate) fn collect_many(
        &mut self,
        first: u32,
        ctxs: &[&Ctx],
    ) -> Result<Vec<PipelineOutcome>, NetlinkError> {
        let n = ctxs.len();
        let mut out: Vec<Option<PipelineOutcome>> = (0..n).map(|_| None).collect();
        let mut interrupted = vec![false; n];
        let mut got: Vec<Vec<RouteNetlinkMessage>> = (0..n).map(|_| Vec::new()).collect();
        let mut open = n;
        while open > 0 {
            self.recv_datagram(ctxs[0])?;
            let mut off = 0;
            while off + NLMSG_HDRLEN <= self.buf.len() {
                let rest = &self.buf[off..];
                let nb = NetlinkBuffer::new_checked(rest).map_err(|e| ctxs[0].decode(e))?;
                let len = nb.length() as usize;
                if len < NLMSG_HDRLEN || len > rest.len() {
                    return Err(ctxs[0].decode(format!(
                        "netlink message length {len} outside datagram of {} bytes",
                        rest.len()
                    )));
                }
                let raw = &rest[..len];
                off += (len + 3) & !3;
                let i = nb.sequence_number().wrapping_sub(first) as usize;
                if i >= n || out[i].is_some() {
                    continue; // stale reply to an earlier request
                }
                let ctx = ctxs[i];
                if nb.flags() & NLM_F_DUMP_INTR != 0 {
                    interrupted[i] = true;
                }
                let msg = NetlinkMessage::<RouteNetlinkMessage>::deserialize(raw)
                    .map_err(|e| ctx.decode(e))?;
                let flags = msg.header.flags;
                match msg.payload {
                    NetlinkPayload::InnerMessage(inner) => got[i].push(inner),
                    NetlinkPayload::Done(done) => {
                        out[i] = Some(if done.code != 0 {
                            let ext = ext_ack::from_tlvs(&done.extended_ack);
                            Err(ctx.kernel(done.code.saturating_neg(), ext))
                        } else {
                            Ok((std::mem::take(&mut got[i]), interrupted[i]))
                        });
                        open -= 1;
                    }
                    NetlinkPayload::Error(err) => {
                        out[i] = Some(match err.code {
                            None => Ok((std::mem::take(&mut got[i]), interrupted[i])),
                            Some(code) => {
                                let ext = ext_ack::from_error(flags, &err.header);
                                Err(ctx.kernel(code.get().saturating_neg(), ext))
                            }
                        });
                        open -= 1;
                    }
                    NetlinkPayload::Overrun(_) => {
                        return Err(ctx.decode("kernel reported a netlink overrun"))
                    }
                    _ => {}
                }
            }
        }
        Ok(out
            .into_iter()
            .map(|o| o.unwrap_or(Ok((Vec::new(), false))))
            .collect())
    }
}

/// What one pipelined request got: its messages and whether its dump was
/// interrupted, or its kernel error.
pub(crate) type PipelineOutcome = Result<(Vec<RouteNetlinkMessage>, bool), NetlinkError>;

pub(crate) fn encode(msg: RouteNetlinkMessage, flags: u16) -> Vec<u8> {
    let mut header = NetlinkHeader::default();
    header.flags = flags;
    let mut nl = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(msg));
    nl.finalize();
    let mut bytes = vec![0u8; nl.buffer_len()];
    nl.serialize(&mut bytes);
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handle_is_send() {
        fn assert_send<T: Send>() {}
        assert_send::<Handle>();
    }

    #[test]
    fn encode_sets_flags_and_length() {
        let bytes = encode(
            RouteNetlinkMessage::GetLink(Default::default()),
            NLM_F_REQUEST | NLM_F_ACK,
        );
        assert_eq!(bytes.len(), 32);
        assert_eq!(&bytes[0..4], &32u32.to_ne_bytes());
        assert_eq!(&bytes[4..6], &libc::RTM_GETLINK.to_ne_bytes());
        assert_eq!(&bytes[6..8], &(NLM_F_REQUEST | NLM_F_ACK).to_ne_bytes());
    }
}
