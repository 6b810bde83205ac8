//! Is there anything of the reference's? One NETLINK_NETFILTER request
//! (`NFT_MSG_GETCHAIN` or `NFT_MSG_GETTABLE`, no process) asks the kernel
//! whether a chain of `ip nat` / `ip6 nat` exists, as iptables-nft keeps
//! iptables chains as nftables chains of the same name.

use std::io;

use netlink_sys::{protocols::NETLINK_NETFILTER, Socket};

use crate::Family;

const NFNL_SUBSYS_NFTABLES: u16 = 10;
const NFT_MSG_GETTABLE: u16 = 1;
const NFT_MSG_GETCHAIN: u16 = 4;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLMSG_ERROR: u16 = 2;
const NFPROTO_IPV4: u8 = 2;
const NFPROTO_IPV6: u8 = 10;
const NFPROTO_BRIDGE: u8 = 7;
/// NFTA_CHAIN_TABLE and NFTA_TABLE_NAME.
const NFTA_TABLE: u16 = 1;
const NFTA_CHAIN_NAME: u16 = 3;
const HDRLEN: usize = 16;
/// Sequence number of the IPv4 request; the IPv6 one is SEQ + 1.
const SEQ: u32 = 1;

fn put_attr(buf: &mut Vec<u8>, kind: u16, value: &str) {
    // Names are at most a few dozen bytes.
    let len = (4 + value.len() + 1) as u16;
    buf.extend_from_slice(&len.to_ne_bytes());
    buf.extend_from_slice(&kind.to_ne_bytes());
    buf.extend_from_slice(value.as_bytes());
    buf.push(0);
    buf.resize((buf.len() + 3) & !3, 0);
}

/// The request: GETCHAIN when `chain` is given, else GETTABLE.
pub fn request(family: Family, table: &str, chain: Option<&str>) -> Vec<u8> {
    request_seq(family, table, chain, seq_of(family))
}

fn seq_of(family: Family) -> u32 {
    match family {
        Family::V4 => SEQ,
        Family::V6 => SEQ + 1,
    }
}

fn request_seq(family: Family, table: &str, chain: Option<&str>, seq: u32) -> Vec<u8> {
    let fam = match family {
        Family::V4 => NFPROTO_IPV4,
        Family::V6 => NFPROTO_IPV6,
    };
    request_raw(fam, table, chain, seq)
}

fn request_raw(fam: u8, table: &str, chain: Option<&str>, seq: u32) -> Vec<u8> {
    let mut buf = vec![0u8; HDRLEN];
    buf.extend_from_slice(&[fam, 0, 0, 0]);
    put_attr(&mut buf, NFTA_TABLE, table);
    let msg = match chain {
        Some(c) => {
            put_attr(&mut buf, NFTA_CHAIN_NAME, c);
            NFT_MSG_GETCHAIN
        }
        None => NFT_MSG_GETTABLE,
    };
    let len = buf.len() as u32;
    buf[0..4].copy_from_slice(&len.to_ne_bytes());
    buf[4..6].copy_from_slice(&((NFNL_SUBSYS_NFTABLES << 8) | msg).to_ne_bytes());
    buf[6..8].copy_from_slice(&(NLM_F_REQUEST | NLM_F_ACK).to_ne_bytes());
    buf[8..12].copy_from_slice(&seq.to_ne_bytes());
    buf
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// The answers in one datagram: for each ack or error of request `seq`
/// (ack: found; ENOENT: not found; other errno: that error).
pub fn answers(buf: &[u8]) -> io::Result<Vec<(u32, io::Result<bool>)>> {
    let bad = |why: &str| io::Error::new(io::ErrorKind::InvalidData, why.to_string());
    let mut out = Vec::new();
    let mut at = 0;
    while at + HDRLEN <= buf.len() {
        let len = u32_at(buf, at).ok_or_else(|| bad("short header"))? as usize;
        if len < HDRLEN || at + len > buf.len() {
            return Err(bad("netlink message length out of range"));
        }
        let kind = u16::from_ne_bytes([buf[at + 4], buf[at + 5]]);
        let seq = u32_at(buf, at + 8).ok_or_else(|| bad("short header"))?;
        if kind == NLMSG_ERROR {
            let code = u32_at(buf, at + HDRLEN).ok_or_else(|| bad("short nlmsgerr"))? as i32;
            out.push((
                seq,
                match -code {
                    0 => Ok(true),
                    libc::ENOENT => Ok(false),
                    errno => Err(io::Error::from_raw_os_error(errno)),
                },
            ));
        }
        at += (len + 3) & !3;
    }
    Ok(out)
}

/// The answer in one datagram: Some(found) once the ack or error of our
/// (IPv4) request is in it (ack: found; ENOENT: not found).
pub fn answer(buf: &[u8]) -> io::Result<Option<bool>> {
    answers(buf)?
        .into_iter()
        .find(|(seq, _)| *seq == SEQ)
        .map(|(_, a)| a)
        .transpose()
}

/// Ask the kernel (the calling thread's network namespace) about `<family>
/// <table>` for both families, on one socket: closing a NETLINK_NETFILTER
/// socket waits for an RCU grace period when nf_tables has destroy work
/// pending, so there is one close, not two. Never blocks: nfnetlink answers
/// inside `send`. Returns the IPv4 and the IPv6 answer.
pub fn exists_both(table: &str, chain: Option<&str>) -> [io::Result<bool>; 2] {
    match ask_both(table, chain) {
        Ok(both) => both,
        Err(e) => {
            let again = io::Error::new(e.kind(), e.to_string());
            [Err(e), Err(again)]
        }
    }
}

fn ask_both(table: &str, chain: Option<&str>) -> io::Result<[io::Result<bool>; 2]> {
    let socket = Socket::new(NETLINK_NETFILTER)?;
    socket.set_non_blocking(true)?;
    for family in Family::BOTH {
        let req = request(family, table, chain);
        if socket.send(&req, 0)? != req.len() {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "short netlink send",
            ));
        }
    }
    let mut got: [Option<io::Result<bool>>; 2] = [None, None];
    // Bounded: two objects and their acks come in at most a few datagrams.
    for _ in 0..16 {
        if got.iter().all(Option::is_some) {
            break;
        }
        let mut buf: Vec<u8> = Vec::with_capacity(16 * 1024);
        socket.recv(&mut buf, 0)?;
        for (seq, answer) in answers(&buf)? {
            let slot = Family::BOTH.iter().position(|f| seq_of(*f) == seq);
            if let Some(slot) = slot.and_then(|i| got.get_mut(i)) {
                *slot = Some(answer);
            }
        }
    }
    let missing = || {
        Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "no ack from nfnetlink",
        ))
    };
    let [v4, v6] = got;
    Ok([v4.unwrap_or_else(missing), v6.unwrap_or_else(missing)])
}

/// Does chain `chain` exist in table `bridge <table>`? One request, as above.
pub fn bridge_chain_exists(table: &str, chain: &str) -> io::Result<bool> {
    let req = request_raw(NFPROTO_BRIDGE, table, Some(chain), SEQ);
    let socket = Socket::new(NETLINK_NETFILTER)?;
    socket.set_non_blocking(true)?;
    if socket.send(&req, 0)? != req.len() {
        return Err(io::Error::new(
            io::ErrorKind::WriteZero,
            "short netlink send",
        ));
    }
    // Bounded: the chain and its ack come in at most a few datagrams.
    for _ in 0..8 {
        let mut buf: Vec<u8> = Vec::with_capacity(16 * 1024);
        socket.recv(&mut buf, 0)?;
        if let Some(found) = answer(&buf)? {
            return Ok(found);
        }
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidData,
        "no ack from nfnetlink",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_bytes() {
        let r = request(Family::V4, "nat", Some("CNI-DN-0"));
        // header 16 + nfgenmsg 4 + "nat\0" attr 8 + "CNI-DN-0\0" attr 16
        assert_eq!(r.len(), 44);
        assert_eq!(&r[4..6], &0x0a04u16.to_ne_bytes());
        assert_eq!(r[16], NFPROTO_IPV4);
        let t = request(Family::V6, "nat", None);
        assert_eq!(t.len(), 28);
        assert_eq!(&t[4..6], &0x0a01u16.to_ne_bytes());
        assert_eq!(t[16], NFPROTO_IPV6);
    }

    fn err(code: i32, seq: u32) -> Vec<u8> {
        let mut m = Vec::new();
        m.extend_from_slice(&20u32.to_ne_bytes());
        m.extend_from_slice(&NLMSG_ERROR.to_ne_bytes());
        m.extend_from_slice(&0u16.to_ne_bytes());
        m.extend_from_slice(&seq.to_ne_bytes());
        m.extend_from_slice(&0u32.to_ne_bytes());
        m.extend_from_slice(&code.to_ne_bytes());
        m
    }

    #[test]
    fn acks_and_errors() {
        assert_eq!(answer(&err(0, SEQ)).unwrap(), Some(true));
        assert_eq!(answer(&err(-libc::ENOENT, SEQ)).unwrap(), Some(false));
        assert_eq!(answer(&err(0, 7)).unwrap(), None);
        assert!(answer(&err(-libc::EPERM, SEQ)).is_err());
        let mut broken = err(0, SEQ);
        broken[0..4].copy_from_slice(&400u32.to_ne_bytes());
        assert!(answer(&broken).is_err());
        assert_eq!(answer(&[]).unwrap(), None);
        // Both families' answers in one datagram.
        let both = [err(0, SEQ), err(-libc::ENOENT, SEQ + 1)].concat();
        let got: Vec<(u32, bool)> = answers(&both)
            .unwrap()
            .into_iter()
            .map(|(s, a)| (s, a.unwrap()))
            .collect();
        assert_eq!(got, vec![(SEQ, true), (SEQ + 1, false)]);
        let v6 = request(Family::V6, "nat", Some("x"));
        assert_eq!(&v6[8..12], &(SEQ + 1).to_ne_bytes());
    }
}
