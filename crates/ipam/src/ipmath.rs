//! Address arithmetic: IPv4 and IPv6 addresses as `u128`, canonical forms and parsing.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The address as an integer (IPv4 in the low 32 bits).
pub fn to_u128(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

/// The address of family `v4` (true: IPv4) with integer value `v`.
/// For IPv4 only the low 32 bits are used.
pub fn from_u128(v: u128, v4: bool) -> IpAddr {
    if v4 {
        // Truncation is intended: callers only pass values inside an IPv4 subnet.
        IpAddr::V4(Ipv4Addr::from((v & 0xffff_ffff) as u32))
    } else {
        IpAddr::V6(Ipv6Addr::from(v))
    }
}

/// IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) become IPv4, like Go's `To4()`.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

/// Parses a plain address (no prefix), canonicalised.
pub fn parse_ip(s: &str) -> Option<IpAddr> {
    s.trim().parse::<IpAddr>().ok().map(canonical)
}

/// Parses `ip` or `ip/prefix`; the prefix is checked but dropped (host-local
/// takes the mask from the range, not from the request).
pub fn parse_ip_maybe_prefix(s: &str) -> Option<IpAddr> {
    let s = s.trim();
    match s.split_once('/') {
        None => parse_ip(s),
        Some((addr, prefix)) => {
            let ip = parse_ip(addr)?;
            let max = if ip.is_ipv4() { 32 } else { 128 };
            match prefix.parse::<u8>() {
                Ok(p) if p <= max => Some(ip),
                _ => None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_canonical() {
        let v4: IpAddr = "10.1.2.3".parse().unwrap();
        assert_eq!(from_u128(to_u128(v4), true), v4);
        let v6: IpAddr = "2001:db8::5".parse().unwrap();
        assert_eq!(from_u128(to_u128(v6), false), v6);
        assert_eq!(parse_ip("::ffff:10.0.0.1"), Some(v4_of("10.0.0.1")));
        assert_eq!(parse_ip_maybe_prefix("10.1.2.3/24"), Some(v4));
        assert_eq!(parse_ip_maybe_prefix("10.1.2.3/33"), None);
        assert_eq!(parse_ip_maybe_prefix("2001:db8::5/64"), Some(v6));
        assert_eq!(parse_ip("nonsense"), None);
    }

    fn v4_of(s: &str) -> IpAddr {
        s.parse().unwrap()
    }
}
