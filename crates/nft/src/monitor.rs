//! nf_tables change notifications (`NFNLGRP_NFTABLES` on a NETLINK_NETFILTER socket): what a
//! watcher needs to notice, within milliseconds, that something of ours was removed.
//!
//! [`Monitor`] is the subscribed socket of the calling thread's network namespace. [`Tracker`]
//! reads its datagrams and, per transaction (the kernel ends each committed batch's
//! notifications with `NFT_MSG_NEWGEN`), says what in tables `inet cnm` / `bridge cnm` was
//! taken away, as [`Suspect`]s:
//! - [`Suspect::Structural`]: the table, one of its sets, or a base chain (or its rules) went;
//!   nothing of ours removes those, so a restore is due.
//! - [`Suspect::Record`]: a network's or port's chain or map element, or an attachment's
//!   port-mapping element went, named by its record file (`masq-…`, `spoof-…`, `pm-…`). Our own
//!   DELs do that too, but they remove the record first (under the lock a restore takes), so
//!   a restore is due only while the record still exists ([`crate::Trigger::IfRecorded`]).
//!
//! Rules deleted and re-added in the same transaction (every batch of ours flushes and
//! rebuilds its base chains) are not a loss: only chains that lost more rules than they got
//! count. Anything not understood in our tables counts as structural (a needless restore costs
//! one listing; a missed one costs connectivity).

use std::collections::BTreeMap;
use std::io;
use std::os::fd::AsRawFd;
use std::time::Duration;

use netlink_packet_core::{NlaBuffer, NlasIterator};
use netlink_sys::{protocols::NETLINK_NETFILTER, Socket};

use crate::nfnl::{messages, Msg, NFNL_SUBSYS_NFTABLES, NFPROTO_BRIDGE, NFPROTO_INET};
use crate::pm_state;
use crate::portmap::PM_SETS;
use crate::script::{CHAINS, TABLE};
use crate::spoof;

/// `NFNLGRP_NFTABLES`: the multicast group of nf_tables changes.
pub const NFNLGRP_NFTABLES: u32 = 7;
/// Receive buffer asked for (root may exceed `rmem_max` with `SO_RCVBUFFORCE`).
const RCVBUF: libc::c_int = 8 << 20;
/// `SO_RCVBUFFORCE` (asm-generic and x86).
const SO_RCVBUFFORCE: libc::c_int = 33;

const NFT_MSG_DELTABLE: u8 = 2;
const NFT_MSG_NEWCHAIN: u8 = 3;
const NFT_MSG_DELCHAIN: u8 = 5;
const NFT_MSG_NEWRULE: u8 = 6;
const NFT_MSG_DELRULE: u8 = 8;
const NFT_MSG_DELSET: u8 = 11;
const NFT_MSG_DELSETELEM: u8 = 14;
const NFT_MSG_NEWGEN: u8 = 15;
/// `NFTA_{TABLE_NAME,CHAIN_TABLE,RULE_TABLE,SET_TABLE,SET_ELEM_LIST_TABLE}`: all 1.
const ATTR_TABLE: u16 = 1;
const NFTA_CHAIN_NAME: u16 = 3;
const NFTA_RULE_CHAIN: u16 = 2;
const NFTA_SET_NAME: u16 = 2;
const NFTA_SET_ELEM_LIST_SET: u16 = 2;
const NFTA_SET_ELEM_LIST_ELEMENTS: u16 = 3;
const NFTA_LIST_ELEM: u16 = 1;
const NFTA_SET_ELEM_DATA: u16 = 2;
const NFTA_SET_ELEM_FLAGS: u16 = 3;
const NFTA_SET_ELEM_USERDATA: u16 = 6;
const NFTA_DATA_VERDICT: u16 = 2;
const NFTA_VERDICT_CHAIN: u16 = 2;
const NFT_SET_ELEM_INTERVAL_END: u32 = 1;
/// `NFTNL_UDATA_SET_ELEM_COMMENT`: the comment's TLV type in an element's user data.
const UDATA_COMMENT: u8 = 0;

/// Why a restore may be due.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Suspect {
    /// Something no change of ours removes went (what).
    Structural(String),
    /// Something that belongs to this record file went.
    Record(String),
}

/// Which of our tables a message is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Ours {
    Inet,
    Bridge,
}

fn bad(what: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.into())
}

/// Attributes of a nested attribute's value: (type without flags, value).
fn nested(value: &[u8]) -> impl Iterator<Item = io::Result<(u16, &[u8])>> {
    NlasIterator::new(value).map(|nla| {
        let nla: NlaBuffer<&[u8]> = nla.map_err(|e| bad(e.to_string()))?;
        let kind = nla.kind();
        let len = usize::from(nla.length());
        let inner = nla.into_inner();
        Ok((kind, inner.get(4..len).unwrap_or_default()))
    })
}

fn find(value: &[u8], kind: u16) -> io::Result<Option<&[u8]>> {
    for a in nested(value) {
        let (k, v) = a?;
        if k == kind {
            return Ok(Some(v));
        }
    }
    Ok(None)
}

/// A NUL-terminated string attribute.
fn text(v: &[u8]) -> String {
    let end = v.iter().position(|b| *b == 0).unwrap_or(v.len());
    String::from_utf8_lossy(&v[..end]).into_owned()
}

fn msg_attr(m: &Msg<'_>, kind: u16) -> io::Result<Option<String>> {
    Ok(m.attr(kind)?.map(text))
}

/// The comment in an element's user data (TLVs: type u8, length u8, value).
fn comment(mut udata: &[u8]) -> Option<String> {
    while udata.len() >= 2 {
        let (t, l) = (udata[0], usize::from(udata[1]));
        let v = udata.get(2..2 + l)?;
        if t == UDATA_COMMENT {
            return Some(text(v));
        }
        udata = &udata[2 + l..];
    }
    None
}

/// Is `chain` a base chain of our table `ours`?
fn is_base_chain(ours: Ours, chain: &str) -> bool {
    match ours {
        Ours::Inet => CHAINS.iter().any(|(name, _, _)| *name == chain),
        Ours::Bridge => chain == "prerouting",
    }
}

/// A per-network or per-port chain of ours, named like its record file.
fn is_record_chain(ours: Ours, chain: &str) -> bool {
    let hex16 = |h: &str| {
        h.len() == 16
            && h.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    match ours {
        Ours::Inet => chain.strip_prefix("masq-").is_some_and(hex16),
        Ours::Bridge => chain.strip_prefix("spoof-").is_some_and(hex16),
    }
}

/// Follows the notifications of one socket, transaction by transaction.
#[derive(Debug, Default)]
pub struct Tracker {
    /// Rules deleted and added per (table, chain) in the open transaction.
    rules: BTreeMap<(Ours, String), (u32, u32)>,
    /// What the open transaction took away so far.
    open: Vec<Suspect>,
    /// True once the open transaction touched one of our tables.
    touched: bool,
}

impl Tracker {
    /// A tracker with no open transaction.
    pub fn new() -> Tracker {
        Tracker::default()
    }

    /// Read one datagram; returns the suspects of every transaction it completed (sorted,
    /// without duplicates). An unparsable datagram is an error: treat it as structural.
    pub fn feed(&mut self, datagram: &[u8]) -> io::Result<Vec<Suspect>> {
        let mut done = Vec::new();
        for m in messages(datagram)? {
            if m.kind >> 8 != NFNL_SUBSYS_NFTABLES {
                continue;
            }
            let msg = (m.kind & 0xff) as u8;
            if msg == NFT_MSG_NEWGEN {
                done.extend(self.finish());
                continue;
            }
            let ours = match (m.payload.first().copied(), msg_attr(&m, ATTR_TABLE)?) {
                (Some(NFPROTO_INET), Some(t)) if t == TABLE => Ours::Inet,
                (Some(NFPROTO_BRIDGE), Some(t)) if t == spoof::TABLE => Ours::Bridge,
                _ => continue,
            };
            self.touched = true;
            self.message(ours, msg, &m)?;
        }
        done.sort();
        done.dedup();
        Ok(done)
    }

    /// Close the open transaction (its NEWGEN came, or it never will: the caller's timer).
    pub fn finish(&mut self) -> Vec<Suspect> {
        let mut out = std::mem::take(&mut self.open);
        for ((ours, chain), (del, add)) in std::mem::take(&mut self.rules) {
            if del <= add {
                continue;
            }
            if is_base_chain(ours, &chain) {
                out.push(Suspect::Structural(format!(
                    "rules of chain {chain} removed"
                )));
            } else if is_record_chain(ours, &chain) {
                out.push(Suspect::Record(chain));
            }
        }
        self.touched = false;
        out.sort();
        out.dedup();
        out
    }

    /// True while a transaction that touched our tables is open.
    pub fn pending(&self) -> bool {
        self.touched
    }

    fn message(&mut self, ours: Ours, msg: u8, m: &Msg<'_>) -> io::Result<()> {
        let table = match ours {
            Ours::Inet => "inet cnm",
            Ours::Bridge => "bridge cnm",
        };
        match msg {
            NFT_MSG_DELTABLE => self
                .open
                .push(Suspect::Structural(format!("table {table} deleted"))),
            NFT_MSG_DELSET => {
                let name = msg_attr(m, NFTA_SET_NAME)?.unwrap_or_default();
                self.open.push(Suspect::Structural(format!(
                    "set {name} of table {table} deleted"
                )));
            }
            NFT_MSG_DELCHAIN | NFT_MSG_NEWCHAIN => {
                let chain = msg_attr(m, NFTA_CHAIN_NAME)?.unwrap_or_default();
                if msg == NFT_MSG_NEWCHAIN {
                    return Ok(());
                }
                if is_base_chain(ours, &chain) {
                    self.open.push(Suspect::Structural(format!(
                        "chain {chain} of table {table} deleted"
                    )));
                } else if is_record_chain(ours, &chain) {
                    self.open.push(Suspect::Record(chain));
                }
            }
            NFT_MSG_DELRULE | NFT_MSG_NEWRULE => {
                let chain = msg_attr(m, NFTA_RULE_CHAIN)?.unwrap_or_default();
                let counts = self.rules.entry((ours, chain)).or_default();
                match msg {
                    NFT_MSG_DELRULE => counts.0 += 1,
                    _ => counts.1 += 1,
                }
            }
            NFT_MSG_DELSETELEM => self.deleted_elements(ours, m)?,
            _ => {}
        }
        Ok(())
    }

    fn deleted_elements(&mut self, ours: Ours, m: &Msg<'_>) -> io::Result<()> {
        let set = msg_attr(m, NFTA_SET_ELEM_LIST_SET)?.unwrap_or_default();
        let by_comment = ours == Ours::Inet && PM_SETS.contains(&set.as_str());
        let by_verdict = match ours {
            Ours::Inet => set == "masq4" || set == "masq6",
            Ours::Bridge => set == "spoof",
        };
        if !by_comment && !by_verdict {
            return Ok(());
        }
        let Some(list) = m.attr(NFTA_SET_ELEM_LIST_ELEMENTS)? else {
            return Ok(());
        };
        for elem in nested(list) {
            let (kind, elem) = elem?;
            if kind != NFTA_LIST_ELEM {
                continue;
            }
            let flags = find(elem, NFTA_SET_ELEM_FLAGS)?
                .and_then(|v| v.try_into().ok())
                .map(u32::from_be_bytes)
                .unwrap_or(0);
            if flags & NFT_SET_ELEM_INTERVAL_END != 0 {
                continue;
            }
            let record = if by_comment {
                find(elem, NFTA_SET_ELEM_USERDATA)?
                    .and_then(comment)
                    .map(|tag| pm_state::file_name(&tag))
            } else {
                let verdict = match find(elem, NFTA_SET_ELEM_DATA)? {
                    Some(data) => find(data, NFTA_DATA_VERDICT)?,
                    None => None,
                };
                match verdict {
                    Some(v) => find(v, NFTA_VERDICT_CHAIN)?
                        .map(text)
                        .filter(|c| is_record_chain(ours, c)),
                    None => None,
                }
            };
            self.open.push(match record {
                Some(name) => Suspect::Record(name),
                None => Suspect::Structural(format!("an element of set {set} removed")),
            });
        }
        Ok(())
    }
}

/// What [`Monitor::recv`] got.
#[derive(Debug)]
pub enum Received {
    /// One datagram of notifications.
    Datagram(Vec<u8>),
    /// The kernel dropped notifications (the socket's buffer overflowed): anything may have
    /// changed.
    Overrun,
    /// Nothing within the wait.
    Timeout,
}

/// A NETLINK_NETFILTER socket subscribed to nf_tables changes in the network namespace of the
/// thread that made it.
#[derive(Debug)]
pub struct Monitor {
    socket: Socket,
}

impl Monitor {
    /// Subscribe (needs CAP_NET_ADMIN in the namespace). The receive buffer is made large so a
    /// big ruleset flush rarely overflows it.
    pub fn subscribe() -> io::Result<Monitor> {
        let mut socket = Socket::new(NETLINK_NETFILTER)?;
        socket.bind_auto()?;
        socket.add_membership(NFNLGRP_NFTABLES)?;
        let size = RCVBUF;
        // SAFETY: setsockopt(2) on our own socket, reading `size`, a live c_int of the given
        // length.
        let forced = unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                libc::SOL_SOCKET,
                SO_RCVBUFFORCE,
                (&size as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if forced != 0 {
            // Without CAP_NET_ADMIN over the buffer limit: as large as rmem_max allows.
            socket.set_rx_buf_sz(size as usize)?;
        }
        socket.set_non_blocking(true)?;
        Ok(Monitor { socket })
    }

    /// Wait up to `wait` (None: indefinitely) for the next datagram.
    pub fn recv(&self, wait: Option<Duration>) -> io::Result<Received> {
        let timeout: libc::c_int = match wait {
            None => -1,
            Some(d) => libc::c_int::try_from(d.as_millis()).unwrap_or(libc::c_int::MAX),
        };
        let mut pfd = libc::pollfd {
            fd: self.socket.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: poll(2) on one pollfd that lives across the call.
        let n = unsafe { libc::poll(&mut pfd, 1, timeout) };
        if n < 0 {
            let e = io::Error::last_os_error();
            return match e.kind() {
                io::ErrorKind::Interrupted => Ok(Received::Timeout),
                _ => Err(e),
            };
        }
        if n == 0 {
            return Ok(Received::Timeout);
        }
        let mut buf: Vec<u8> = Vec::with_capacity(256 * 1024);
        match self.socket.recv(&mut buf, 0) {
            Ok(_) => Ok(Received::Datagram(buf)),
            Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => Ok(Received::Overrun),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(Received::Timeout),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nfnl::{nft_kind, push_message, Attr, Head};

    fn push(buf: &mut Vec<u8>, msg: u16, family: u8, attrs: &[Attr<'_>]) {
        let head = Head {
            kind: nft_kind(msg),
            flags: 0,
            seq: 0,
            family,
            res_id: 0,
        };
        push_message(buf, head, attrs).unwrap();
    }

    fn newgen(buf: &mut Vec<u8>) {
        push(buf, u16::from(NFT_MSG_NEWGEN), 0, &[]);
    }

    fn rule(buf: &mut Vec<u8>, msg: u8, family: u8, table: &str, chain: &str) {
        push(
            buf,
            u16::from(msg),
            family,
            &[Attr::Str(1, table), Attr::Str(NFTA_RULE_CHAIN, chain)],
        );
    }

    #[test]
    fn our_own_rebuild_of_base_chains_is_no_loss() {
        let mut b = Vec::new();
        for _ in 0..4 {
            rule(&mut b, NFT_MSG_DELRULE, NFPROTO_INET, "cnm", "postrouting");
        }
        for _ in 0..4 {
            rule(&mut b, NFT_MSG_NEWRULE, NFPROTO_INET, "cnm", "postrouting");
        }
        newgen(&mut b);
        let mut t = Tracker::new();
        assert_eq!(t.feed(&b).unwrap(), []);
        assert!(!t.pending());
    }

    #[test]
    fn flushed_base_chain_and_deleted_table_are_structural() {
        let mut b = Vec::new();
        rule(&mut b, NFT_MSG_DELRULE, NFPROTO_INET, "cnm", "hostports");
        let mut t = Tracker::new();
        assert_eq!(t.feed(&b).unwrap(), [], "the transaction is still open");
        assert!(t.pending());
        let mut end = Vec::new();
        push(
            &mut end,
            u16::from(NFT_MSG_DELTABLE),
            NFPROTO_BRIDGE,
            &[Attr::Str(1, "cnm")],
        );
        newgen(&mut end);
        let got = t.feed(&end).unwrap();
        assert_eq!(
            got,
            [
                Suspect::Structural("rules of chain hostports removed".into()),
                Suspect::Structural("table bridge cnm deleted".into()),
            ]
        );
    }

    #[test]
    fn other_tables_and_families_are_ignored() {
        let mut b = Vec::new();
        push(
            &mut b,
            u16::from(NFT_MSG_DELTABLE),
            NFPROTO_INET,
            &[Attr::Str(1, "filter")],
        );
        push(
            &mut b,
            u16::from(NFT_MSG_DELTABLE),
            2,
            &[Attr::Str(1, "cnm")],
        );
        rule(
            &mut b,
            NFT_MSG_DELRULE,
            NFPROTO_INET,
            "other",
            "postrouting",
        );
        newgen(&mut b);
        let mut t = Tracker::new();
        assert_eq!(t.feed(&b).unwrap(), []);
    }

    #[test]
    fn removed_network_chain_names_its_record() {
        let chain = crate::name::masq_chain("n1");
        let mut b = Vec::new();
        rule(&mut b, NFT_MSG_DELRULE, NFPROTO_INET, "cnm", &chain);
        push(
            &mut b,
            u16::from(NFT_MSG_DELCHAIN),
            NFPROTO_INET,
            &[Attr::Str(1, "cnm"), Attr::Str(NFTA_CHAIN_NAME, &chain)],
        );
        // A chain that is not ours by name is not looked at.
        push(
            &mut b,
            u16::from(NFT_MSG_DELCHAIN),
            NFPROTO_INET,
            &[Attr::Str(1, "cnm"), Attr::Str(NFTA_CHAIN_NAME, "someones")],
        );
        newgen(&mut b);
        let mut t = Tracker::new();
        assert_eq!(t.feed(&b).unwrap(), [Suspect::Record(chain)]);
    }

    fn verdict(chain: &str) -> Attr<'_> {
        Attr::Nested(
            NFTA_SET_ELEM_DATA,
            vec![Attr::Nested(
                NFTA_DATA_VERDICT,
                vec![Attr::Str(NFTA_VERDICT_CHAIN, chain)],
            )],
        )
    }

    fn elem_msg(b: &mut Vec<u8>, family: u8, set: &str, elems: Vec<Attr<'_>>) {
        push(
            b,
            u16::from(NFT_MSG_DELSETELEM),
            family,
            &[
                Attr::Str(1, "cnm"),
                Attr::Str(NFTA_SET_ELEM_LIST_SET, set),
                Attr::Nested(NFTA_SET_ELEM_LIST_ELEMENTS, elems),
            ],
        );
    }

    #[test]
    fn deleted_elements_name_their_records() {
        let tag = "n1,c1,eth0";
        let udata: Vec<u8> = [
            &[UDATA_COMMENT, (tag.len() + 1) as u8][..],
            tag.as_bytes(),
            &[0],
        ]
        .concat();
        let spoof_chain = spoof::port_chain("veth1");
        let masq_chain = crate::name::masq_chain("n1");
        let end_flag = NFT_SET_ELEM_INTERVAL_END.to_be_bytes();
        let mut b = Vec::new();
        elem_msg(
            &mut b,
            NFPROTO_INET,
            "pm4any",
            vec![Attr::Nested(
                NFTA_LIST_ELEM,
                vec![Attr::Bytes(NFTA_SET_ELEM_USERDATA, &udata)],
            )],
        );
        elem_msg(
            &mut b,
            NFPROTO_BRIDGE,
            "spoof",
            vec![Attr::Nested(NFTA_LIST_ELEM, vec![verdict(&spoof_chain)])],
        );
        elem_msg(
            &mut b,
            NFPROTO_INET,
            "masq4",
            vec![
                Attr::Nested(NFTA_LIST_ELEM, vec![verdict(&masq_chain)]),
                // The interval's end element carries no verdict: not looked at.
                Attr::Nested(
                    NFTA_LIST_ELEM,
                    vec![Attr::Bytes(NFTA_SET_ELEM_FLAGS, &end_flag)],
                ),
            ],
        );
        // An element of ours without a comment: not understood, so structural.
        elem_msg(
            &mut b,
            NFPROTO_INET,
            "pmsnat4",
            vec![Attr::Nested(NFTA_LIST_ELEM, vec![])],
        );
        // Someone else's set in our table: ignored.
        elem_msg(
            &mut b,
            NFPROTO_INET,
            "theirs",
            vec![Attr::Nested(NFTA_LIST_ELEM, vec![])],
        );
        newgen(&mut b);
        let mut t = Tracker::new();
        let mut want = vec![
            Suspect::Record(pm_state::file_name(tag)),
            Suspect::Record(spoof_chain),
            Suspect::Record(masq_chain),
            Suspect::Structural("an element of set pmsnat4 removed".into()),
        ];
        want.sort();
        assert_eq!(t.feed(&b).unwrap(), want);
    }

    #[test]
    fn garbage_is_an_error() {
        let mut t = Tracker::new();
        let mut b = Vec::new();
        newgen(&mut b);
        b[0..4].copy_from_slice(&400u32.to_ne_bytes());
        assert!(t.feed(&b).is_err());
    }

    #[test]
    fn comment_tlv() {
        assert_eq!(comment(&[0, 3, b'a', b'b', 0]), Some("ab".into()));
        assert_eq!(comment(&[1, 1, 9, 0, 2, b'x', 0]), Some("x".into()));
        assert_eq!(comment(&[0, 9, b'a']), None);
        assert_eq!(comment(&[]), None);
    }
}
