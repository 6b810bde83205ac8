//! nfnetlink messages on netlink-packet-core's buffers: building a request (nlmsghdr, nfgenmsg,
//! attributes, nested attributes) with its `Emitable`/`Nla` traits, and splitting a received
//! datagram into messages with `NetlinkBuffer`/`ErrorBuffer`/`NlasIterator`, every length
//! checked by those types. Shared by the probes (`probe`) and the element deletion
//! (`elem_delete`); nothing here talks to the kernel.

use std::io;

use netlink_packet_core::{
    Emitable, ErrorBuffer, NetlinkBuffer, NetlinkHeader, Nla, NlaBuffer, NlasIterator, NLA_F_NESTED,
};

pub(crate) use netlink_packet_core::{NLMSG_ERROR, NLM_F_ACK, NLM_F_REQUEST};

/// `NFNL_SUBSYS_NFTABLES`: the high byte of every nf_tables message type.
pub(crate) const NFNL_SUBSYS_NFTABLES: u16 = 10;
/// nfgenmsg family of `inet` tables.
pub(crate) const NFPROTO_INET: u8 = 1;
/// nfgenmsg family of `bridge` tables.
pub(crate) const NFPROTO_BRIDGE: u8 = 7;
/// nlmsghdr length.
const HDR_LEN: usize = 16;
/// nfgenmsg length (family, version, res_id).
const NFGEN_LEN: usize = 4;

/// One attribute of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Attr<'a> {
    /// A NUL-terminated string.
    Str(u16, &'a str),
    /// Raw bytes.
    Bytes(u16, &'a [u8]),
    /// Nested attributes (`NLA_F_NESTED` is added).
    Nested(u16, Vec<Attr<'a>>),
}

impl Attr<'_> {
    /// True when this attribute and every nested one fits a u16 length.
    fn fits(&self) -> bool {
        self.value_len() + 4 <= usize::from(u16::MAX)
            && match self {
                Attr::Nested(_, inner) => inner.iter().all(Attr::fits),
                _ => true,
            }
    }
}

impl Nla for Attr<'_> {
    fn value_len(&self) -> usize {
        match self {
            Attr::Str(_, s) => s.len() + 1,
            Attr::Bytes(_, b) => b.len(),
            Attr::Nested(_, inner) => inner.as_slice().buffer_len(),
        }
    }

    fn kind(&self) -> u16 {
        match self {
            Attr::Str(k, _) | Attr::Bytes(k, _) => *k,
            Attr::Nested(k, _) => *k | NLA_F_NESTED,
        }
    }

    fn emit_value(&self, buffer: &mut [u8]) {
        match self {
            Attr::Str(_, s) => {
                let (text, nul) = buffer.split_at_mut(s.len());
                text.copy_from_slice(s.as_bytes());
                nul.fill(0);
            }
            Attr::Bytes(_, b) => buffer.copy_from_slice(b),
            Attr::Nested(_, inner) => inner.as_slice().emit(buffer),
        }
    }
}

/// The fixed part of one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Head {
    /// nlmsg_type.
    pub kind: u16,
    /// nlmsg_flags.
    pub flags: u16,
    /// nlmsg_seq.
    pub seq: u32,
    /// nfgenmsg family.
    pub family: u8,
    /// nfgenmsg res_id (host order; sent big-endian).
    pub res_id: u16,
}

/// `kind` of an nf_tables message.
pub(crate) fn nft_kind(msg: u16) -> u16 {
    (NFNL_SUBSYS_NFTABLES << 8) | msg
}

fn too_big(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("netlink {what} too long"),
    )
}

/// Append one message (nlmsghdr with port id 0 for the kernel to fill in, nfgenmsg version 0,
/// the attributes) to `buf`. An attribute or message too long for its length field is an
/// error and `buf` is left unchanged.
pub(crate) fn push_message(buf: &mut Vec<u8>, head: Head, attrs: &[Attr<'_>]) -> io::Result<()> {
    if !attrs.iter().all(Attr::fits) {
        return Err(too_big("attribute"));
    }
    let len = HDR_LEN + NFGEN_LEN + attrs.buffer_len();
    let length = u32::try_from(len).map_err(|_| too_big("message"))?;
    let mut header = NetlinkHeader::default();
    header.length = length;
    header.message_type = head.kind;
    header.flags = head.flags;
    header.sequence_number = head.seq;
    let start = buf.len();
    buf.resize(start + len, 0);
    let msg = &mut buf[start..];
    header.emit(&mut msg[..HDR_LEN]);
    msg[HDR_LEN] = head.family;
    msg[HDR_LEN + 2..HDR_LEN + 4].copy_from_slice(&head.res_id.to_be_bytes());
    attrs.emit(&mut msg[HDR_LEN + NFGEN_LEN..]);
    Ok(())
}

/// One message of a received datagram.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Msg<'a> {
    /// nlmsg_type.
    pub kind: u16,
    /// nlmsg_seq.
    pub seq: u32,
    /// Everything after the nlmsghdr.
    pub payload: &'a [u8],
}

fn bad(what: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

impl<'a> Msg<'a> {
    /// The errno of an NLMSG_ERROR message, negative as the kernel sends it (0 for an ack).
    pub(crate) fn error_code(&self) -> io::Result<i32> {
        let e = ErrorBuffer::new_checked(self.payload).map_err(bad)?;
        Ok(e.code().map_or(0, |c| c.get()))
    }

    /// The attributes after the nfgenmsg (an empty iterator when the payload is shorter).
    pub(crate) fn attrs(&self) -> NlasIterator<&'a [u8]> {
        NlasIterator::new(self.payload.get(NFGEN_LEN..).unwrap_or_default())
    }

    /// The value of the first attribute of type `kind` (flags ignored); an error when an
    /// attribute is malformed.
    pub(crate) fn attr(&self, kind: u16) -> io::Result<Option<&'a [u8]>> {
        for nla in self.attrs() {
            let nla: NlaBuffer<&'a [u8]> = nla.map_err(bad)?;
            if nla.kind() == kind {
                return Ok(Some(value(nla)));
            }
        }
        Ok(None)
    }
}

/// The value of an attribute, borrowed for the datagram's lifetime.
fn value(nla: NlaBuffer<&[u8]>) -> &[u8] {
    let len = usize::from(nla.length());
    &nla.into_inner()[4..len]
}

/// Split a datagram into its messages, checking every length (a trailing fragment shorter
/// than a header is ignored, as the kernel never sends one).
pub(crate) fn messages(buf: &[u8]) -> io::Result<Vec<Msg<'_>>> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + HDR_LEN <= buf.len() {
        let nl = NetlinkBuffer::new_checked(&buf[at..]).map_err(bad)?;
        out.push(Msg {
            kind: nl.message_type(),
            seq: nl.sequence_number(),
            payload: nl.payload(),
        });
        at += (nl.length() as usize + 3) & !3;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_layout_and_parse_back() {
        let mut buf = Vec::new();
        let head = Head {
            kind: nft_kind(1),
            flags: NLM_F_REQUEST | NLM_F_ACK,
            seq: 9,
            family: NFPROTO_INET,
            res_id: 10,
        };
        let attrs = [
            Attr::Str(1, "cnm"),
            Attr::Nested(3, vec![Attr::Bytes(1, &[1, 2, 3])]),
        ];
        push_message(&mut buf, head, &attrs).unwrap();
        // 16 + 4 + (4 + 4) + (4 + (4 + 3 + 1 pad)).
        assert_eq!(buf.len(), 40);
        assert_eq!(&buf[0..4], &40u32.to_ne_bytes());
        assert_eq!(&buf[16..20], &[1, 0, 0, 10]);
        assert_eq!(&buf[20..28], &[8, 0, 1, 0, b'c', b'n', b'm', 0]);
        assert_eq!(&buf[28..32], &[12, 0, 3, 0x80]);
        assert_eq!(&buf[32..40], &[7, 0, 1, 0, 1, 2, 3, 0]);
        let msgs = messages(&buf).unwrap();
        assert_eq!(msgs.len(), 1);
        assert_eq!((msgs[0].kind, msgs[0].seq), (0x0a01, 9));
        assert_eq!(msgs[0].attr(1).unwrap(), Some(&b"cnm\0"[..]));
        assert_eq!(
            msgs[0].attr(3).unwrap(),
            Some(&[7, 0, 1, 0, 1, 2, 3, 0][..])
        );
        assert_eq!(msgs[0].attr(2).unwrap(), None);
    }

    #[test]
    fn oversized_attribute_is_refused() {
        let big = vec![0u8; 70_000];
        let mut buf = vec![1, 2, 3];
        let e = push_message(
            &mut buf,
            Head {
                kind: 0,
                flags: 0,
                seq: 0,
                family: 0,
                res_id: 0,
            },
            &[Attr::Nested(1, vec![Attr::Bytes(1, &big)])],
        )
        .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        assert_eq!(buf, [1, 2, 3]);
    }

    #[test]
    fn malformed_input_is_an_error() {
        let mut buf = Vec::new();
        push_message(
            &mut buf,
            Head {
                kind: 2,
                flags: 0,
                seq: 1,
                family: 0,
                res_id: 0,
            },
            &[],
        )
        .unwrap();
        let mut long = buf.clone();
        long[0..4].copy_from_slice(&400u32.to_ne_bytes());
        assert!(messages(&long).is_err());
        let mut short = buf.clone();
        short[0..4].copy_from_slice(&8u32.to_ne_bytes());
        assert!(messages(&short).is_err());
        // An error message without its code, and an attribute overrunning its message.
        let m = messages(&buf).unwrap()[0];
        let cut = Msg {
            payload: &m.payload[..2],
            ..m
        };
        assert!(cut.error_code().is_err());
        let broken = Msg {
            payload: &[1, 0, 0, 0, 40, 0, 1, 0, 0, 0],
            ..m
        };
        assert!(broken.attr(1).is_err());
    }
}
