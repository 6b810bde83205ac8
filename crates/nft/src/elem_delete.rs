//! Deleting recorded set elements without running nft: one nfnetlink batch
//! (`NFNL_MSG_BATCH_BEGIN`, one `NFT_MSG_DELSETELEM` per set, `NFNL_MSG_BATCH_END`) sent on our
//! own NETLINK_NETFILTER socket in the calling thread's network namespace. The batch is one
//! transaction: when any element is missing the kernel applies none of it, and the caller falls
//! back to listing the table. Every DELSETELEM asks for an ack; success means every ack came
//! back zero and no error was reported for any message of the batch.

use std::collections::BTreeSet;
use std::io;
use std::os::fd::AsRawFd;

use netlink_sys::{protocols::NETLINK_NETFILTER, Socket};

use crate::elem_key::{self, KeyBytes};
use crate::nfnl::{
    messages, nft_kind, push_message, Attr, Head, NFNL_SUBSYS_NFTABLES, NFPROTO_INET, NLMSG_ERROR,
    NLM_F_ACK, NLM_F_REQUEST,
};

const NFNL_MSG_BATCH_BEGIN: u16 = 0x10;
const NFNL_MSG_BATCH_END: u16 = 0x11;
const NFT_MSG_DELSETELEM: u16 = 14;
const NFTA_SET_ELEM_LIST_TABLE: u16 = 1;
const NFTA_SET_ELEM_LIST_SET: u16 = 2;
const NFTA_SET_ELEM_LIST_ELEMENTS: u16 = 3;
const NFTA_LIST_ELEM: u16 = 1;
const NFTA_SET_ELEM_KEY: u16 = 1;
const NFTA_SET_ELEM_KEY_END: u16 = 10;
const NFTA_DATA_VALUE: u16 = 1;
/// Elements per DELSETELEM: keeps the nested element list far below the u16 attribute limit
/// (an element is at most 84 bytes).
const MAX_PER_MSG: usize = 128;
/// Receive buffer: an error ack echoes its whole request (at most about 11 KiB here).
const RECV_BUF: usize = 64 * 1024;

/// `kind` { NFTA_DATA_VALUE data }.
fn data(kind: u16, value: &[u8]) -> Attr<'_> {
    Attr::Nested(kind, vec![Attr::Bytes(NFTA_DATA_VALUE, value)])
}

/// NFTA_LIST_ELEM { NFTA_SET_ELEM_KEY, [NFTA_SET_ELEM_KEY_END] }.
fn list_elem(k: &KeyBytes) -> Attr<'_> {
    let mut inner = vec![data(NFTA_SET_ELEM_KEY, &k.key)];
    if let Some(end) = &k.key_end {
        inner.push(data(NFTA_SET_ELEM_KEY_END, end));
    }
    Attr::Nested(NFTA_LIST_ELEM, inner)
}

/// A batch begin or end message (nfgenmsg AF_UNSPEC, res_id NFNL_SUBSYS_NFTABLES).
fn batch_mark(buf: &mut Vec<u8>, kind: u16, seq: u32) -> io::Result<()> {
    let head = Head {
        kind,
        flags: NLM_F_REQUEST,
        seq,
        family: 0,
        res_id: NFNL_SUBSYS_NFTABLES,
    };
    push_message(buf, head, &[])
}

/// A ready batch and what to expect back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// The datagram: begin, DELSETELEMs, end.
    pub bytes: Vec<u8>,
    /// Sequence numbers of the batch begin and end (every message lies in between).
    pub seqs: (u32, u32),
    /// (sequence number, set) of every DELSETELEM; each must be acked.
    pub requests: Vec<(u32, String)>,
}

/// Group `elems` (set, canonical key) by set (in order of first appearance) and encode the
/// batch, numbering messages from `first_seq`. A key that does not fit its set is an error.
pub fn delete_batch(table: &str, elems: &[(String, String)], first_seq: u32) -> io::Result<Batch> {
    let mut groups: Vec<(&str, Vec<KeyBytes>)> = Vec::new();
    for (set, key) in elems {
        let bytes = elem_key::encode(set, key).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("cannot encode element {set} {{ {key} }}"),
            )
        })?;
        match groups.iter_mut().find(|(s, _)| s == set) {
            Some((_, keys)) => keys.push(bytes),
            None => groups.push((set, vec![bytes])),
        }
    }
    let mut buf = Vec::new();
    let mut seq = first_seq;
    batch_mark(&mut buf, NFNL_MSG_BATCH_BEGIN, seq)?;
    let mut requests = Vec::new();
    for (set, keys) in &groups {
        for chunk in keys.chunks(MAX_PER_MSG) {
            seq += 1;
            let head = Head {
                kind: nft_kind(NFT_MSG_DELSETELEM),
                flags: NLM_F_REQUEST | NLM_F_ACK,
                seq,
                family: NFPROTO_INET,
                res_id: 0,
            };
            let attrs = [
                Attr::Str(NFTA_SET_ELEM_LIST_TABLE, table),
                Attr::Str(NFTA_SET_ELEM_LIST_SET, set),
                Attr::Nested(
                    NFTA_SET_ELEM_LIST_ELEMENTS,
                    chunk.iter().map(list_elem).collect(),
                ),
            ];
            push_message(&mut buf, head, &attrs)?;
            requests.push((seq, set.to_string()));
        }
    }
    seq += 1;
    batch_mark(&mut buf, NFNL_MSG_BATCH_END, seq)?;
    Ok(Batch {
        bytes: buf,
        seqs: (first_seq, seq),
        requests,
    })
}

/// Account for one datagram of replies: acks leave `pending`, any error of a message of the
/// batch (including the begin, where the kernel reports commit and permission failures) is
/// returned, naming the set when it was a DELSETELEM.
pub fn parse_acks(buf: &[u8], batch: &Batch, pending: &mut BTreeSet<u32>) -> io::Result<()> {
    let ours = |seq: u32| (batch.seqs.0..=batch.seqs.1).contains(&seq);
    for m in messages(buf)?
        .iter()
        .filter(|m| ours(m.seq) && m.kind == NLMSG_ERROR)
    {
        let code = m.error_code()?;
        if code != 0 {
            let os = io::Error::from_raw_os_error(code.saturating_neg());
            let what = match batch.requests.iter().find(|(s, _)| *s == m.seq) {
                Some((_, set)) => format!("delete elements of set {set}"),
                None => "nfnetlink batch".to_string(),
            };
            return Err(io::Error::new(os.kind(), format!("{what}: {os}")));
        }
        pending.remove(&m.seq);
    }
    Ok(())
}

/// Delete `elems` (set, canonical key) from table `inet <table>` of the calling thread's
/// network namespace in one transaction. Any failure (an element already gone, a key that does
/// not fit, no permission, a missing ack) is an error and nothing was deleted, except when the
/// kernel acked every request and then failed to report (not observed: nfnetlink answers
/// inside `send`).
pub fn delete_elements(table: &str, elems: &[(String, String)]) -> io::Result<()> {
    if elems.is_empty() {
        return Ok(());
    }
    let batch = delete_batch(table, elems, 1)?;
    let socket = Socket::new(NETLINK_NETFILTER)?;
    socket.set_non_blocking(true)?;
    if socket.send(&batch.bytes, 0)? != batch.bytes.len() {
        return Err(io::Error::new(
            io::ErrorKind::WriteZero,
            "short netlink send",
        ));
    }
    let mut pending: BTreeSet<u32> = batch.requests.iter().map(|(s, _)| *s).collect();
    // nfnetlink processes the whole batch inside `send`, so every reply is queued by now:
    // read until the queue is empty (bounded: one datagram per request, plus a few).
    for _ in 0..batch.requests.len() + 8 {
        let mut buf: Vec<u8> = Vec::with_capacity(RECV_BUF);
        match socket.recv(&mut buf, 0) {
            Ok(_) => parse_acks(&buf, &batch, &mut pending)?,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) => return Err(e),
        }
    }
    match pending.first() {
        None => {
            close_detached(socket);
            Ok(())
        }
        Some(seq) => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "no ack for DELSETELEM seq {seq} ({} missing)",
                pending.len()
            ),
        )),
    }
}

/// Close `socket` without making this process wait.
///
/// Releasing the last reference to a NETLINK_NETFILTER socket makes
/// nf_tables flush its pending destroy work, which waits for an RCU grace
/// period (6-22 ms measured) after a commit that deleted objects. The deletion
/// is already committed at this point, so a forked child holds the last
/// reference and pays that wait instead: it closes its standard streams at
/// once (a runtime reading our output sees EOF when we exit), waits until
/// this process has closed its own copy, then closes the socket and exits.
/// The child is reaped by a detached thread blocked in waitpid(2), so a
/// long-lived caller collects no zombie and nobody waits for the grace period
/// (a short-lived caller exits first; its orphaned child is then reaped by
/// init or the subreaper). If fork fails, the socket is closed here, the slow
/// way; if the thread cannot be started, the child is reaped here, also slow.
fn close_detached(socket: Socket) {
    let sock = socket.as_raw_fd();
    let mut pipe = [0i32; 2];
    // SAFETY: pipe2(2) fills the two-element array on success.
    if unsafe { libc::pipe2(pipe.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return;
    }
    let [read_end, write_end] = pipe;
    // SAFETY: fork(2). The child calls only async-signal-safe functions
    // (close, read, _exit) and never returns into Rust code, so no lock or
    // allocator state copied from other threads is touched.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // SAFETY: in the child; only async-signal-safe calls on descriptors it
        // inherited, then _exit (no Rust code, no destructors, no allocation).
        unsafe {
            // Everything but the socket and the pipe's read end: standard
            // streams first, no lock file (flock) outlives the parent, and no
            // other child's pipe end keeps that child waiting (whatever the
            // descriptor limit: close_range, a plain system call).
            let (lo, hi) = (i64::from(sock.min(read_end)), i64::from(sock.max(read_end)));
            for (first, last) in [(0, lo - 1), (lo + 1, hi - 1), (hi + 1, i64::from(u32::MAX))] {
                if first > last {
                    continue;
                }
                if libc::close_range(first as libc::c_uint, last as libc::c_uint, 0) != 0 {
                    // Kernels before 5.9: the descriptors a process normally has.
                    for fd in first..=last.min(4095) {
                        libc::close(fd as libc::c_int);
                    }
                }
            }
            let mut byte = 0u8;
            // Returns 0 (EOF) once the parent closed its write end.
            while libc::read(read_end, (&mut byte as *mut u8).cast(), 1) < 0
                && *libc::__errno_location() == libc::EINTR
            {}
            libc::close(sock);
            libc::_exit(0);
        }
    }
    // Parent (or fork failed): our copy goes first, then the child may close
    // the last one.
    drop(socket);
    // SAFETY: closing the pipe ends this function created.
    unsafe {
        libc::close(read_end);
        libc::close(write_end);
    }
    if pid > 0 {
        let reaper = std::thread::Builder::new()
            .name("cnm-nft-reaper".into())
            .spawn(move || reap(pid));
        if reaper.is_err() {
            reap(pid);
        }
    }
}

/// Wait for our child `pid` to exit (retrying on EINTR). ECHILD (someone else
/// reaped it, or SIGCHLD is ignored) ends the wait too.
fn reap(pid: libc::pid_t) {
    loop {
        let mut status = 0;
        // SAFETY: waitpid(2) on a pid this process forked, with a valid
        // pointer for the status.
        let rc = unsafe { libc::waitpid(pid, &mut status, 0) };
        if rc >= 0 || io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_u32(b: &[u8], at: usize) -> Option<u32> {
        Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
    }

    fn nlhdr(len: u32, kind: u16, flags: u16, seq: u32) -> Vec<u8> {
        [
            &len.to_ne_bytes()[..],
            &kind.to_ne_bytes(),
            &flags.to_ne_bytes(),
            &seq.to_ne_bytes(),
            &0u32.to_ne_bytes(),
        ]
        .concat()
    }

    fn attr(len: u16, kind: u16, data: &[u8]) -> Vec<u8> {
        [&len.to_ne_bytes()[..], &kind.to_ne_bytes(), data].concat()
    }

    const N: u16 = netlink_packet_core::NLA_F_NESTED;

    fn elems(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(s, k)| (s.to_string(), k.to_string()))
            .collect()
    }

    /// Transcribed from `nft --debug=mnl -f` of `delete element inet cnm pm4any { tcp . 8080 }`
    /// (nft sends NLM_F_REQUEST only; we also ask for the ack).
    #[test]
    fn golden_pm4any_batch() {
        let b = delete_batch("cnm", &elems(&[("pm4any", "tcp . 8080")]), 1).unwrap();
        let want = [
            // NFNL_MSG_BATCH_BEGIN, nfgenmsg AF_UNSPEC, res_id htons(NFNL_SUBSYS_NFTABLES).
            nlhdr(20, 0x10, 1, 1),
            vec![0, 0, 0, 0x0a],
            nlhdr(64, 0x0a0e, 5, 2),
            vec![1, 0, 0, 0],
            attr(8, 1, b"cnm\0"),
            attr(11, 2, b"pm4any\0\0"),
            attr(24, 3 | N, &[]),
            attr(20, 1 | N, &[]),
            attr(16, 1 | N, &[]),
            attr(12, 1, &[0x06, 0, 0, 0, 0x1f, 0x90, 0, 0]),
            nlhdr(20, 0x11, 1, 3),
            vec![0, 0, 0, 0x0a],
        ]
        .concat();
        assert_eq!(b.bytes, want);
        assert_eq!(b.seqs, (1, 3));
        assert_eq!(b.requests, [(2, "pm4any".to_string())]);
    }

    /// Transcribed from nft's `delete element inet cnm pmsnat4 { 10.1.0.0/24 . 10.1.0.5 }`.
    #[test]
    fn golden_pmsnat4_range_message() {
        let b = delete_batch("cnm", &elems(&[("pmsnat4", "10.1.0.0/24 . 10.1.0.5")]), 7).unwrap();
        let msg = [
            nlhdr(80, 0x0a0e, 5, 8),
            vec![1, 0, 0, 0],
            attr(8, 1, b"cnm\0"),
            attr(12, 2, b"pmsnat4\0"),
            attr(40, 3 | N, &[]),
            attr(36, 1 | N, &[]),
            attr(16, 1 | N, &[]),
            attr(12, 1, &[10, 1, 0, 0, 10, 1, 0, 5]),
            attr(16, 10 | N, &[]),
            attr(12, 1, &[10, 1, 0, 255, 10, 1, 0, 5]),
        ]
        .concat();
        assert_eq!(&b.bytes[20..100], msg.as_slice());
        assert_eq!(b.bytes.len(), 120);
        assert_eq!(b.seqs, (7, 9));
    }

    /// Transcribed from nft's `delete element inet cnm pm6 { fd00::1 . tcp . 53 }` and
    /// `... pmsnat6 { fd00::/64 . fd00::5 }`.
    #[test]
    fn golden_v6_messages() {
        let b = delete_batch(
            "cnm",
            &elems(&[
                ("pm6", "fd00::1 . tcp . 53"),
                ("pmsnat6", "fd00::/64 . fd00::5"),
            ]),
            1,
        )
        .unwrap();
        let fd00 = |last: u8| {
            let mut a = [0u8; 16];
            a[0] = 0xfd;
            a[15] = last;
            a
        };
        let pm6 = [
            nlhdr(76, 0x0a0e, 5, 2),
            vec![1, 0, 0, 0],
            attr(8, 1, b"cnm\0"),
            attr(8, 2, b"pm6\0"),
            attr(40, 3 | N, &[]),
            attr(36, 1 | N, &[]),
            attr(32, 1 | N, &[]),
            attr(
                28,
                1,
                &[&fd00(1)[..], &[6, 0, 0, 0, 0, 0x35, 0, 0]].concat(),
            ),
        ]
        .concat();
        let mut end = fd00(0);
        end[8..].fill(0xff);
        let snat6 = [
            nlhdr(128, 0x0a0e, 5, 3),
            vec![1, 0, 0, 0],
            attr(8, 1, b"cnm\0"),
            attr(12, 2, b"pmsnat6\0"),
            attr(88, 3 | N, &[]),
            attr(84, 1 | N, &[]),
            attr(40, 1 | N, &[]),
            attr(36, 1, &[fd00(0), fd00(5)].concat()),
            attr(40, 10 | N, &[]),
            attr(36, 1, &[end, fd00(5)].concat()),
        ]
        .concat();
        assert_eq!(&b.bytes[20..20 + 76], pm6.as_slice());
        assert_eq!(&b.bytes[96..96 + 128], snat6.as_slice());
        assert_eq!(b.bytes.len(), 20 + 76 + 128 + 20);
    }

    #[test]
    fn groups_by_set_and_chunks() {
        let list = elems(&[
            ("pm4any", "tcp . 1"),
            ("pmsnat4", "10.9.9.9 . 10.1.0.5"),
            ("pm4any", "udp . 2"),
        ]);
        let b = delete_batch("cnm", &list, 1).unwrap();
        assert_eq!(
            b.requests,
            [(2, "pm4any".to_string()), (3, "pmsnat4".to_string())]
        );
        // pm4any: two LIST_ELEMs of 20 bytes; pmsnat4: a plain address, no key end.
        assert_eq!(read_u32(&b.bytes, 20), Some(20 + 8 + 12 + 4 + 40));
        let snat = 20 + 84;
        // 64 bytes, as nft sent `delete element inet cnm pmsnat4 { 10.9.9.9 . 10.1.0.5 }`.
        assert_eq!(read_u32(&b.bytes, snat), Some(20 + 8 + 12 + 24));
        let many: Vec<(String, String)> = (1..=300u16)
            .map(|p| ("pm4any".to_string(), format!("tcp . {p}")))
            .collect();
        let b = delete_batch("cnm", &many, 1).unwrap();
        let seqs: Vec<u32> = b.requests.iter().map(|r| r.0).collect();
        assert_eq!(seqs, [2, 3, 4], "300 elements in chunks of 128");
        assert_eq!(b.seqs, (1, 5));
        let e = delete_batch("cnm", &elems(&[("pm4", "tcp . 1")]), 1).unwrap_err();
        assert!(e.to_string().contains("pm4 { tcp . 1 }"), "{e}");
    }

    fn err(seq: u32, code: i32) -> Vec<u8> {
        let mut m = nlhdr(36, NLMSG_ERROR, 0, seq);
        m.extend_from_slice(&code.to_ne_bytes());
        m.extend_from_slice(&nlhdr(16, 0, 0, seq));
        m
    }

    #[test]
    fn acks() {
        let list = elems(&[("pm4any", "tcp . 1"), ("pm6any", "tcp . 1")]);
        let b = delete_batch("cnm", &list, 1).unwrap();
        let mut pending: BTreeSet<u32> = [2, 3].into();
        // Replies to other sequence numbers are ignored.
        parse_acks(
            &[err(2, 0), err(9, -libc::ENOENT)].concat(),
            &b,
            &mut pending,
        )
        .unwrap();
        assert_eq!(pending, [3].into());
        parse_acks(&err(3, 0), &b, &mut pending).unwrap();
        assert!(pending.is_empty());
        let e = parse_acks(&err(3, -libc::ENOENT), &b, &mut pending).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        assert!(e.to_string().contains("set pm6any"), "{e}");
        let e = parse_acks(&err(1, -libc::EPERM), &b, &mut pending).unwrap_err();
        assert!(e.to_string().contains("nfnetlink batch"), "{e}");
        let mut broken = err(2, 0);
        broken[0..4].copy_from_slice(&400u32.to_ne_bytes());
        assert!(parse_acks(&broken, &b, &mut pending).is_err());
    }
}
