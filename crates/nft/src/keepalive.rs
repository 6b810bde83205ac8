//! Keeping NAT alive for established connections while our table is gone.
//!
//! The kernel translates the packets of an established NATed connection (a published port's
//! DNAT, masquerade's SNAT) in hooks it registers only while at least one nat chain exists in
//! the namespace. `nft flush ruleset` removes every nat chain, so for the moment until our
//! table is restored, packets of connections that were running are no longer translated: a
//! published port's connection reaches the host itself and is reset. Conntrack still holds
//! every binding; only the hooks are missing.
//!
//! Conntrack itself runs in a namespace only while some rule needs it (a `ct`, `nat` or
//! `masquerade` expression holds a reference): with our table gone, packets are not even
//! associated with their connection any more.
//!
//! [`NatKeepalive`] holds table `inet cnm-keep` with one nat chain (policy accept) per NAT
//! hook, the first with one rule that only reads the conntrack state (`ct state != 0`, no
//! verdict: it holds conntrack's reference), created with `NFT_TABLE_F_OWNER` on its own
//! NETLINK_NETFILTER socket:
//! the kernel skips owned tables in `flush ruleset` from any other socket, refuses to delete
//! them from another socket, and removes the table when the socket closes. So the hooks stay
//! registered exactly as long as the holder (the watcher) lives, and established connections
//! keep flowing through any flush. A nat chain is only seen by a connection's first packet,
//! and these change nothing. Needs Linux >= 5.12.

use std::io;

use netlink_sys::{protocols::NETLINK_NETFILTER, Socket};

use crate::nfnl::{
    messages, nft_kind, push_message, Attr, Head, NFNL_SUBSYS_NFTABLES, NFPROTO_INET, NLMSG_ERROR,
    NLM_F_ACK, NLM_F_REQUEST,
};

/// The keepalive table's name (family inet).
pub const KEEP_TABLE: &str = "cnm-keep";

const NFNL_MSG_BATCH_BEGIN: u16 = 0x10;
const NFNL_MSG_BATCH_END: u16 = 0x11;
const NFT_MSG_NEWTABLE: u16 = 0;
const NFT_MSG_NEWCHAIN: u16 = 3;
const NLM_F_CREATE: u16 = 0x400;
const NFTA_TABLE_NAME: u16 = 1;
const NFTA_TABLE_FLAGS: u16 = 2;
const NFT_TABLE_F_OWNER: u32 = 2;
const NFTA_CHAIN_TABLE: u16 = 1;
const NFTA_CHAIN_NAME: u16 = 3;
const NFTA_CHAIN_HOOK: u16 = 4;
const NFTA_CHAIN_POLICY: u16 = 5;
const NFTA_CHAIN_TYPE: u16 = 7;
const NFTA_HOOK_HOOKNUM: u16 = 1;
const NFTA_HOOK_PRIORITY: u16 = 2;
const NF_ACCEPT: u32 = 1;
const NFT_MSG_NEWRULE: u16 = 6;
const NLM_F_APPEND: u16 = 0x800;
const NFTA_RULE_TABLE: u16 = 1;
const NFTA_RULE_CHAIN: u16 = 2;
const NFTA_RULE_EXPRESSIONS: u16 = 4;
const NFTA_LIST_ELEM: u16 = 1;
const NFTA_EXPR_NAME: u16 = 1;
const NFTA_EXPR_DATA: u16 = 2;
const NFTA_CT_DREG: u16 = 1;
const NFTA_CT_KEY: u16 = 2;
const NFT_CT_STATE: u32 = 0;
const NFT_REG_1: u32 = 1;
const NFTA_CMP_SREG: u16 = 1;
const NFTA_CMP_OP: u16 = 2;
const NFTA_CMP_DATA: u16 = 3;
const NFT_CMP_NEQ: u32 = 1;
const NFTA_DATA_VALUE: u16 = 1;

/// (chain, hook number, priority): the four hooks NAT works in, at the usual priorities.
const CHAINS: [(&str, u32, i32); 4] = [
    ("prerouting", 0, -100),
    ("input", 1, 100),
    ("output", 3, -100),
    ("postrouting", 4, 100),
];

/// The batch creating the owned table and its chains: (bytes, sequence numbers to be acked).
pub fn keepalive_batch() -> io::Result<(Vec<u8>, Vec<u32>)> {
    let mut buf = Vec::new();
    let mark = |buf: &mut Vec<u8>, kind, seq| {
        let head = Head {
            kind,
            flags: NLM_F_REQUEST,
            seq,
            family: 0,
            res_id: NFNL_SUBSYS_NFTABLES,
        };
        push_message(buf, head, &[])
    };
    let head = |kind, seq| Head {
        kind: nft_kind(kind),
        flags: NLM_F_REQUEST | NLM_F_CREATE | NLM_F_ACK,
        seq,
        family: NFPROTO_INET,
        res_id: 0,
    };
    mark(&mut buf, NFNL_MSG_BATCH_BEGIN, 1)?;
    let owner = NFT_TABLE_F_OWNER.to_be_bytes();
    push_message(
        &mut buf,
        head(NFT_MSG_NEWTABLE, 2),
        &[
            Attr::Str(NFTA_TABLE_NAME, KEEP_TABLE),
            Attr::Bytes(NFTA_TABLE_FLAGS, &owner),
        ],
    )?;
    let mut acked = vec![2];
    let policy = NF_ACCEPT.to_be_bytes();
    for (i, (name, hook, prio)) in CHAINS.iter().enumerate() {
        let seq = 3 + i as u32;
        let hooknum = hook.to_be_bytes();
        let priority = prio.to_be_bytes();
        push_message(
            &mut buf,
            head(NFT_MSG_NEWCHAIN, seq),
            &[
                Attr::Str(NFTA_CHAIN_TABLE, KEEP_TABLE),
                Attr::Str(NFTA_CHAIN_NAME, name),
                Attr::Nested(
                    NFTA_CHAIN_HOOK,
                    vec![
                        Attr::Bytes(NFTA_HOOK_HOOKNUM, &hooknum),
                        Attr::Bytes(NFTA_HOOK_PRIORITY, &priority),
                    ],
                ),
                Attr::Bytes(NFTA_CHAIN_POLICY, &policy),
                Attr::Str(NFTA_CHAIN_TYPE, "nat"),
            ],
        )?;
        acked.push(seq);
    }
    // `ct state != 0` in the first chain: holds conntrack's reference for the namespace.
    let seq = 3 + CHAINS.len() as u32;
    let (reg, key, op, zero) = (
        NFT_REG_1.to_be_bytes(),
        NFT_CT_STATE.to_be_bytes(),
        NFT_CMP_NEQ.to_be_bytes(),
        0u32.to_be_bytes(),
    );
    push_message(
        &mut buf,
        Head {
            flags: NLM_F_REQUEST | NLM_F_CREATE | NLM_F_APPEND | NLM_F_ACK,
            ..head(NFT_MSG_NEWRULE, seq)
        },
        &[
            Attr::Str(NFTA_RULE_TABLE, KEEP_TABLE),
            Attr::Str(NFTA_RULE_CHAIN, CHAINS[0].0),
            Attr::Nested(
                NFTA_RULE_EXPRESSIONS,
                vec![
                    Attr::Nested(
                        NFTA_LIST_ELEM,
                        vec![
                            Attr::Str(NFTA_EXPR_NAME, "ct"),
                            Attr::Nested(
                                NFTA_EXPR_DATA,
                                vec![
                                    Attr::Bytes(NFTA_CT_DREG, &reg),
                                    Attr::Bytes(NFTA_CT_KEY, &key),
                                ],
                            ),
                        ],
                    ),
                    Attr::Nested(
                        NFTA_LIST_ELEM,
                        vec![
                            Attr::Str(NFTA_EXPR_NAME, "cmp"),
                            Attr::Nested(
                                NFTA_EXPR_DATA,
                                vec![
                                    Attr::Bytes(NFTA_CMP_SREG, &reg),
                                    Attr::Bytes(NFTA_CMP_OP, &op),
                                    Attr::Nested(
                                        NFTA_CMP_DATA,
                                        vec![Attr::Bytes(NFTA_DATA_VALUE, &zero)],
                                    ),
                                ],
                            ),
                        ],
                    ),
                ],
            ),
        ],
    )?;
    acked.push(seq);
    mark(&mut buf, NFNL_MSG_BATCH_END, seq + 1)?;
    Ok((buf, acked))
}

/// The owned keepalive table; dropping it (or the process ending) removes the table.
#[derive(Debug)]
pub struct NatKeepalive {
    // Kept open: the table lives as long as this socket.
    _socket: Socket,
}

impl NatKeepalive {
    /// Create table `inet cnm-keep` owned by a new socket of the calling thread's namespace.
    /// An error when the kernel refuses (before Linux 5.12, no permission, or a table of that
    /// name someone else holds).
    pub fn hold() -> io::Result<NatKeepalive> {
        let mut socket = Socket::new(NETLINK_NETFILTER)?;
        // The owner is the socket's port id: bound before the batch is sent.
        socket.bind_auto()?;
        let (batch, acked) = keepalive_batch()?;
        if socket.send(&batch, 0)? != batch.len() {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "short netlink send",
            ));
        }
        socket.set_non_blocking(true)?;
        let mut pending = acked;
        // nfnetlink answers inside `send`: every reply is queued (bounded reads).
        for _ in 0..pending.len() + 8 {
            let mut buf: Vec<u8> = Vec::with_capacity(64 * 1024);
            match socket.recv(&mut buf, 0) {
                Ok(_) => {
                    for m in messages(&buf)? {
                        if m.kind != NLMSG_ERROR {
                            continue;
                        }
                        match -m.error_code()? {
                            0 => pending.retain(|s| *s != m.seq),
                            errno => {
                                let os = io::Error::from_raw_os_error(errno);
                                return Err(io::Error::new(
                                    os.kind(),
                                    format!("creating the owned table inet {KEEP_TABLE}: {os}"),
                                ));
                            }
                        }
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            }
        }
        if !pending.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("no ack for creating table inet {KEEP_TABLE}"),
            ));
        }
        Ok(NatKeepalive { _socket: socket })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_layout() {
        let (b, acked) = keepalive_batch().unwrap();
        assert_eq!(acked, [2, 3, 4, 5, 6, 7]);
        let msgs = messages(&b).unwrap();
        let kinds: Vec<u16> = msgs.iter().map(|m| m.kind).collect();
        assert_eq!(
            kinds,
            [0x10, 0x0a00, 0x0a03, 0x0a03, 0x0a03, 0x0a03, 0x0a06, 0x11]
        );
        assert_eq!(
            msgs[1].attr(NFTA_TABLE_NAME).unwrap(),
            Some(&b"cnm-keep\0"[..])
        );
        assert_eq!(
            msgs[1].attr(NFTA_TABLE_FLAGS).unwrap(),
            Some(&[0, 0, 0, 2][..])
        );
        assert_eq!(msgs[2].attr(NFTA_CHAIN_TYPE).unwrap(), Some(&b"nat\0"[..]));
        // prerouting: hook 0, priority -100 (big-endian two's complement).
        let hook = msgs[2].attr(NFTA_CHAIN_HOOK).unwrap().unwrap();
        assert_eq!(
            hook,
            [8, 0, 1, 0, 0, 0, 0, 0, 8, 0, 2, 0, 0xff, 0xff, 0xff, 0x9c]
        );
    }
}
