//! Kernel (netlink) encoding of our port-mapping element keys, as nft 1.0.6 sends them
//! (checked against `nft --debug=netlink,mnl`): every field of a concatenation takes whole
//! 4-byte registers, `inet_proto` is 1 byte and `inet_service` 2 bytes big-endian, each zero
//! padded to 4; addresses are in network order. Elements of the interval sets `pmsnat4`/
//! `pmsnat6` whose source is a prefix also carry a key end (last address of the prefix);
//! a plain source address is sent as the key alone, like nft does.

use std::net::IpAddr;

use ipnet::IpNet;

/// The bytes of one element's key, and of its key end for a range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyBytes {
    /// `NFTA_SET_ELEM_KEY` data.
    pub key: Vec<u8>,
    /// `NFTA_SET_ELEM_KEY_END` data (interval elements given as a prefix).
    pub key_end: Option<Vec<u8>>,
}

fn proto(text: &str) -> Option<[u8; 4]> {
    let p = match text {
        "tcp" => libc::IPPROTO_TCP,
        "udp" => libc::IPPROTO_UDP,
        "sctp" => libc::IPPROTO_SCTP,
        _ => return None,
    };
    Some([u8::try_from(p).ok()?, 0, 0, 0])
}

fn service(text: &str) -> Option<[u8; 4]> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let [hi, lo] = text.parse::<u16>().ok()?.to_be_bytes();
    Some([hi, lo, 0, 0])
}

fn addr(text: &str, want_v4: bool) -> Option<Vec<u8>> {
    match text.parse::<IpAddr>().ok()? {
        IpAddr::V4(a) if want_v4 => Some(a.octets().to_vec()),
        IpAddr::V6(a) if !want_v4 => Some(a.octets().to_vec()),
        _ => None,
    }
}

/// A SNAT source: (first, Some(last)) for a prefix, (addr, None) for a plain address.
fn source(text: &str, want_v4: bool) -> Option<(Vec<u8>, Option<Vec<u8>>)> {
    if !text.contains('/') {
        return Some((addr(text, want_v4)?, None));
    }
    let net: IpNet = text.parse().ok()?;
    if net.trunc() != net {
        return None;
    }
    match net {
        IpNet::V4(n) if want_v4 => Some((
            n.network().octets().to_vec(),
            Some(n.broadcast().octets().to_vec()),
        )),
        IpNet::V6(n) if !want_v4 => Some((
            n.network().octets().to_vec(),
            Some(n.broadcast().octets().to_vec()),
        )),
        _ => None,
    }
}

/// Encode `key` (canonical text as recorded by ADD) for set `set`; None when the key does not
/// fit the set's type.
pub fn encode(set: &str, key: &str) -> Option<KeyBytes> {
    let parts: Vec<&str> = key.split(" . ").collect();
    let plain = |fields: &[&[u8]]| KeyBytes {
        key: fields.concat(),
        key_end: None,
    };
    match (set, parts.as_slice()) {
        ("pm4any" | "pm6any", [p, port]) => Some(plain(&[&proto(p)?, &service(port)?])),
        ("pm4", [a, p, port]) => Some(plain(&[&addr(a, true)?, &proto(p)?, &service(port)?])),
        ("pm6", [a, p, port]) => Some(plain(&[&addr(a, false)?, &proto(p)?, &service(port)?])),
        ("pmsnat4" | "pmsnat6", [src, dst]) => {
            let v4 = set == "pmsnat4";
            let (first, last) = source(src, v4)?;
            let dst = addr(dst, v4)?;
            Some(KeyBytes {
                key: [first.as_slice(), &dst].concat(),
                key_end: last.map(|l| [l.as_slice(), &dst].concat()),
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    // Golden values: `nft --debug=netlink,mnl -f` of the same `delete element` lines (nft
    // 1.0.6, kernel 6.18), NFTA_DATA_VALUE payloads.
    #[test]
    fn golden_keys() {
        let k = |set, key| encode(set, key).unwrap();
        assert_eq!(hex(&k("pm4any", "tcp . 8080").key), "060000001f900000");
        assert_eq!(hex(&k("pm6any", "udp . 8080").key), "110000001f900000");
        assert_eq!(k("pm6any", "udp . 8080").key_end, None);
        assert_eq!(
            hex(&k("pm4", "192.168.1.1 . udp . 53").key),
            "c0a801011100000000350000"
        );
        assert_eq!(
            hex(&k("pm6", "fd00::1 . tcp . 53").key),
            "fd0000000000000000000000000000010600000000350000"
        );
        assert_eq!(hex(&k("pm4any", "sctp . 1").key), "8400000000010000");
        let s = k("pmsnat4", "10.1.0.0/24 . 10.1.0.5");
        assert_eq!(hex(&s.key), "0a0100000a010005");
        assert_eq!(hex(&s.key_end.unwrap()), "0a0100ff0a010005");
        let s = k("pmsnat4", "127.0.0.0/8 . 10.1.0.5");
        assert_eq!(hex(&s.key), "7f0000000a010005");
        assert_eq!(hex(&s.key_end.unwrap()), "7fffffff0a010005");
        let s = k("pmsnat4", "10.9.9.9 . 10.1.0.5");
        assert_eq!((hex(&s.key), s.key_end), ("0a0909090a010005".into(), None));
        let s = k("pmsnat4", "10.9.9.9/32 . 10.1.0.5");
        assert_eq!(hex(&s.key_end.unwrap()), "0a0909090a010005");
        let s = k("pmsnat4", "0.0.0.0/0 . 10.1.0.6");
        assert_eq!(hex(&s.key_end.unwrap()), "ffffffff0a010006");
        let s = k("pmsnat6", "fd00::/64 . fd00::5");
        assert_eq!(
            hex(&s.key),
            "fd000000000000000000000000000000fd000000000000000000000000000005"
        );
        assert_eq!(
            hex(&s.key_end.unwrap()),
            "fd00000000000000fffffffffffffffffd000000000000000000000000000005"
        );
    }

    #[test]
    fn rejects_keys_that_do_not_fit() {
        for (set, key) in [
            ("pm4any", "icmp . 1"),
            ("pm4any", "tcp . 70000"),
            ("pm4any", "tcp . +1"),
            ("pm4any", "tcp"),
            ("pm4", "fd00::1 . tcp . 1"),
            ("pm6", "10.0.0.1 . tcp . 1"),
            ("pmsnat4", "10.1.0.1/24 . 10.1.0.5"),
            ("pmsnat4", "fd00::/64 . 10.1.0.5"),
            ("pmsnat6", "fd00::/64 . 10.1.0.5"),
            ("masq4", "10.0.0.0/8"),
        ] {
            assert_eq!(encode(set, key), None, "{set} {key}");
        }
    }
}
