//! Cheap look-ups in table `inet cnm` of the calling thread's network namespace, each a single
//! NETLINK_NETFILTER request and no nft exec: does a chain exist (`NFT_MSG_GETCHAIN`), and what
//! is the table's kernel handle (`NFT_MSG_GETTABLE`; handles are never reused within a
//! namespace, so a changed handle means the table was deleted and created again).

use std::io;

use netlink_sys::{protocols::NETLINK_NETFILTER, Socket};

use crate::nfnl::{
    messages, nft_kind, push_message, Attr, Head, NFPROTO_INET, NLMSG_ERROR, NLM_F_ACK,
    NLM_F_REQUEST,
};

pub(crate) use crate::nfnl::NFPROTO_BRIDGE;

const NFT_MSG_NEWTABLE: u16 = 0;
const NFT_MSG_GETTABLE: u16 = 1;
const NFT_MSG_NEWCHAIN: u16 = 3;
const NFT_MSG_GETCHAIN: u16 = 4;
const NFTA_CHAIN_TABLE: u16 = 1;
const NFTA_CHAIN_NAME: u16 = 3;
const NFTA_TABLE_NAME: u16 = 1;
const NFTA_TABLE_HANDLE: u16 = 4;
/// Sequence number of our single request.
const SEQ: u32 = 1;

/// The request bytes: nlmsghdr, nfgenmsg (family inet), NFTA_CHAIN_TABLE, NFTA_CHAIN_NAME.
#[cfg(test)]
pub fn getchain_request(table: &str, chain: &str) -> io::Result<Vec<u8>> {
    getchain_request_in(NFPROTO_INET, table, chain)
}

fn getchain_request_in(family: u8, table: &str, chain: &str) -> io::Result<Vec<u8>> {
    request_in(
        family,
        NFT_MSG_GETCHAIN,
        &[
            Attr::Str(NFTA_CHAIN_TABLE, table),
            Attr::Str(NFTA_CHAIN_NAME, chain),
        ],
    )
}

/// The request bytes: nlmsghdr, nfgenmsg (family inet), NFTA_TABLE_NAME.
pub fn gettable_request(table: &str) -> io::Result<Vec<u8>> {
    request_in(
        NFPROTO_INET,
        NFT_MSG_GETTABLE,
        &[Attr::Str(NFTA_TABLE_NAME, table)],
    )
}

fn request_in(family: u8, msg: u16, attrs: &[Attr<'_>]) -> io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    let head = Head {
        kind: nft_kind(msg),
        flags: NLM_F_REQUEST | NLM_F_ACK,
        seq: SEQ,
        family,
        res_id: 0,
    };
    push_message(&mut buf, head, attrs)?;
    Ok(buf)
}

/// What a batch of reply messages told us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// The final ack or error arrived: Some(true) chain seen, Some(false) ENOENT.
    Done(bool),
    /// Only the chain so far; its ack is still to come.
    SawChain,
    /// Nothing relevant yet.
    Pending,
}

/// Parse one datagram of replies; `seen` says whether a NEWCHAIN came in an earlier datagram.
pub fn parse_reply(buf: &[u8], mut seen: bool) -> io::Result<Reply> {
    for m in messages(buf)?.iter().filter(|m| m.seq == SEQ) {
        if m.kind == NLMSG_ERROR {
            return match -m.error_code()? {
                0 => Ok(Reply::Done(seen)),
                libc::ENOENT => Ok(Reply::Done(false)),
                errno => Err(io::Error::from_raw_os_error(errno)),
            };
        }
        if m.kind == nft_kind(NFT_MSG_NEWCHAIN) {
            seen = true;
        }
    }
    Ok(if seen {
        Reply::SawChain
    } else {
        Reply::Pending
    })
}

/// A fresh non-blocking NETLINK_NETFILTER socket with `req` sent on it; its
/// replies are queued when this returns (nfnetlink answers inside `send`).
fn send_request(req: &[u8]) -> io::Result<Socket> {
    let socket = Socket::new(NETLINK_NETFILTER)?;
    socket.set_non_blocking(true)?;
    if socket.send(req, 0)? != req.len() {
        return Err(io::Error::new(
            io::ErrorKind::WriteZero,
            "short netlink send",
        ));
    }
    Ok(socket)
}

/// True when chain `chain` exists in table `inet <table>` of the calling thread's network
/// namespace. Any failure (no permission, unexpected reply, nothing queued) is an error and
/// the caller falls back to nft. Never blocks: nfnetlink answers inside `send`.
pub fn chain_exists(table: &str, chain: &str) -> io::Result<bool> {
    chain_exists_in(NFPROTO_INET, table, chain)
}

/// [`chain_exists`] for a table of another family (e.g. [`NFPROTO_BRIDGE`]).
pub(crate) fn chain_exists_in(family: u8, table: &str, chain: &str) -> io::Result<bool> {
    let socket = send_request(&getchain_request_in(family, table, chain)?)?;
    let mut seen = false;
    // Bounded: a chain reply plus its ack, at most a few datagrams.
    for _ in 0..8 {
        let mut buf: Vec<u8> = Vec::with_capacity(16 * 1024);
        socket.recv(&mut buf, 0)?;
        match parse_reply(&buf, seen)? {
            Reply::Done(found) => return Ok(found),
            Reply::SawChain => seen = true,
            Reply::Pending => {}
        }
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidData,
        "no ack for NFT_MSG_GETCHAIN",
    ))
}

/// What the replies to a GETTABLE told us so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableReply {
    /// The ack or error arrived: Some(handle) table seen, None ENOENT.
    Done(Option<u64>),
    /// The table (with this handle, if it carried one) came; its ack is still to come.
    Seen(Option<u64>),
    /// Nothing relevant yet.
    Pending,
}

/// NFTA_TABLE_HANDLE (a big-endian u64) of a NEWTABLE message; None when absent or malformed.
fn table_handle_attr(m: &crate::nfnl::Msg<'_>) -> Option<u64> {
    let value = m.attr(NFTA_TABLE_HANDLE).ok()??;
    Some(u64::from_be_bytes(value.try_into().ok()?))
}

/// Parse one datagram of GETTABLE replies; `seen` carries what an earlier datagram said.
pub fn parse_table_reply(buf: &[u8], mut seen: Option<Option<u64>>) -> io::Result<TableReply> {
    for m in messages(buf)?.iter().filter(|m| m.seq == SEQ) {
        if m.kind == NLMSG_ERROR {
            return match (-m.error_code()?, seen) {
                (0, Some(Some(handle))) => Ok(TableReply::Done(Some(handle))),
                (0, Some(None)) => Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "table reply without NFTA_TABLE_HANDLE",
                )),
                (0, None) | (libc::ENOENT, _) => Ok(TableReply::Done(None)),
                (errno, _) => Err(io::Error::from_raw_os_error(errno)),
            };
        }
        if m.kind == nft_kind(NFT_MSG_NEWTABLE) {
            seen = Some(table_handle_attr(m));
        }
    }
    Ok(match seen {
        Some(h) => TableReply::Seen(h),
        None => TableReply::Pending,
    })
}

/// The kernel handle of table `inet <table>` in the calling thread's network namespace, None
/// when the table does not exist. Any failure is an error (the caller then trusts nothing).
pub fn table_handle(table: &str) -> io::Result<Option<u64>> {
    let socket = send_request(&gettable_request(table)?)?;
    let mut seen = None;
    // Bounded: a table reply plus its ack, at most a few datagrams.
    for _ in 0..8 {
        let mut buf: Vec<u8> = Vec::with_capacity(16 * 1024);
        socket.recv(&mut buf, 0)?;
        match parse_table_reply(&buf, seen)? {
            TableReply::Done(handle) => return Ok(handle),
            TableReply::Seen(h) => seen = Some(h),
            TableReply::Pending => {}
        }
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidData,
        "no ack for NFT_MSG_GETTABLE",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_golden() {
        let r = getchain_request("cnm", "masq-0123456789abcdef").unwrap();
        let mut want = Vec::new();
        want.extend_from_slice(&56u32.to_ne_bytes());
        want.extend_from_slice(&0x0a04u16.to_ne_bytes());
        want.extend_from_slice(&5u16.to_ne_bytes());
        want.extend_from_slice(&1u32.to_ne_bytes());
        want.extend_from_slice(&0u32.to_ne_bytes());
        want.extend_from_slice(&[1, 0, 0, 0]);
        want.extend_from_slice(&8u16.to_ne_bytes());
        want.extend_from_slice(&1u16.to_ne_bytes());
        want.extend_from_slice(b"cnm\0");
        want.extend_from_slice(&26u16.to_ne_bytes());
        want.extend_from_slice(&3u16.to_ne_bytes());
        want.extend_from_slice(b"masq-0123456789abcdef\0\0\0");
        assert_eq!(r, want);
        assert_eq!(r.len(), 56);
    }

    fn align4(n: usize) -> usize {
        (n + 3) & !3
    }

    fn msg(kind: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
        let mut m = Vec::new();
        m.extend_from_slice(&((16 + payload.len()) as u32).to_ne_bytes());
        m.extend_from_slice(&kind.to_ne_bytes());
        m.extend_from_slice(&0u16.to_ne_bytes());
        m.extend_from_slice(&seq.to_ne_bytes());
        m.extend_from_slice(&7u32.to_ne_bytes());
        m.extend_from_slice(payload);
        m.resize(align4(m.len()), 0);
        m
    }

    fn err(code: i32) -> Vec<u8> {
        msg(NLMSG_ERROR, 1, &code.to_ne_bytes())
    }

    #[test]
    fn replies() {
        let chain = msg(0x0a03, 1, &[1, 0, 0, 0]);
        let both = [chain.clone(), err(0)].concat();
        assert_eq!(parse_reply(&both, false).unwrap(), Reply::Done(true));
        assert_eq!(parse_reply(&chain, false).unwrap(), Reply::SawChain);
        assert_eq!(parse_reply(&err(0), true).unwrap(), Reply::Done(true));
        assert_eq!(parse_reply(&err(0), false).unwrap(), Reply::Done(false));
        let enoent = err(-libc::ENOENT);
        assert_eq!(parse_reply(&enoent, false).unwrap(), Reply::Done(false));
        let eperm = parse_reply(&err(-libc::EPERM), false).unwrap_err();
        assert_eq!(eperm.raw_os_error(), Some(libc::EPERM));
        // Another sequence number is ignored; garbage lengths are errors.
        assert_eq!(
            parse_reply(&msg(0x0a03, 9, &[]), false).unwrap(),
            Reply::Pending
        );
        let mut broken = err(0);
        broken[0..4].copy_from_slice(&400u32.to_ne_bytes());
        assert!(parse_reply(&broken, false).is_err());
    }

    #[test]
    fn table_replies() {
        let req = gettable_request("cnm").unwrap();
        assert_eq!(req.len(), 28);
        assert_eq!(&req[4..6], &0x0a01u16.to_ne_bytes());
        assert_eq!(&req[20..28], &[8, 0, 1, 0, b'c', b'n', b'm', 0]);
        // NEWTABLE: nfgenmsg, NFTA_TABLE_NAME "cnm", NFTA_TABLE_HANDLE (big-endian u64).
        let mut payload = vec![1, 0, 0, 0];
        payload.extend_from_slice(&8u16.to_ne_bytes());
        payload.extend_from_slice(&1u16.to_ne_bytes());
        payload.extend_from_slice(b"cnm\0");
        payload.extend_from_slice(&12u16.to_ne_bytes());
        payload.extend_from_slice(&(4u16 | 0x4000).to_ne_bytes());
        payload.extend_from_slice(&0x0102_0304_0506_0708u64.to_be_bytes());
        let table = msg(0x0a00, 1, &payload);
        let both = [table.clone(), err(0)].concat();
        let h = Some(0x0102_0304_0506_0708);
        assert_eq!(parse_table_reply(&both, None).unwrap(), TableReply::Done(h));
        assert_eq!(
            parse_table_reply(&table, None).unwrap(),
            TableReply::Seen(h)
        );
        assert_eq!(
            parse_table_reply(&err(0), Some(h)).unwrap(),
            TableReply::Done(h)
        );
        let enoent = err(-libc::ENOENT);
        assert_eq!(
            parse_table_reply(&enoent, None).unwrap(),
            TableReply::Done(None)
        );
        // A table without a handle attribute is not trusted.
        let bare = [msg(0x0a00, 1, &[1, 0, 0, 0]), err(0)].concat();
        assert!(parse_table_reply(&bare, None).is_err());
        let eperm = parse_table_reply(&err(-libc::EPERM), None).unwrap_err();
        assert_eq!(eperm.raw_os_error(), Some(libc::EPERM));
    }
}
