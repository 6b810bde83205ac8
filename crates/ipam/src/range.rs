//! One address range (subnet, rangeStart, rangeEnd, gateway) and range sets, validated
//! exactly like the reference `Range.Canonicalize` / `RangeSet.Canonicalize`.

use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::ipmath::{canonical, from_u128, parse_ip, to_u128};

/// A range as written in the config (every field optional, strings unparsed).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RangeSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet: Option<String>,
    #[serde(
        rename = "rangeStart",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub range_start: Option<String>,
    #[serde(rename = "rangeEnd", default, skip_serializing_if = "Option::is_none")]
    pub range_end: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<String>,
}

impl RangeSpec {
    /// Go decodes `""` as an absent `net.IP`; so do we.
    fn field(v: &Option<String>) -> Option<&str> {
        v.as_deref().filter(|s| !s.is_empty())
    }
}

/// A validated range: `subnet` is the network address, `range_start <= range_end`,
/// both and `gateway` inside `subnet`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Range {
    pub subnet: IpNet,
    pub range_start: IpAddr,
    pub range_end: IpAddr,
    pub gateway: IpAddr,
}

/// Why a range or range set is invalid (the message matches the reference).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RangeError(pub String);

impl From<String> for RangeError {
    fn from(s: String) -> Self {
        RangeError(s)
    }
}

impl From<&str> for RangeError {
    fn from(s: &str) -> Self {
        RangeError(s.to_string())
    }
}

impl RangeError {
    /// True when the message contains `part`.
    pub fn contains(&self, part: &str) -> bool {
        self.0.contains(part)
    }
}

impl PartialEq<&str> for RangeError {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl Range {
    /// Validates and fills in defaults (start = network+1; end = broadcast-1 for
    /// IPv4, last address for IPv6; gateway = network+1). Messages match the reference.
    pub fn from_spec(spec: &RangeSpec) -> Result<Range, RangeError> {
        let subnet_s = RangeSpec::field(&spec.subnet).ok_or("missing subnet")?;
        let subnet: IpNet = subnet_s
            .trim()
            .parse()
            .map_err(|_| format!("invalid CIDR address: {subnet_s}"))?;
        let subnet = match subnet {
            IpNet::V6(n) => match n.addr().to_ipv4_mapped() {
                Some(v4) if n.prefix_len() >= 96 => {
                    IpNet::new(IpAddr::V4(v4), n.prefix_len() - 96).map_err(|e| e.to_string())?
                }
                _ => IpNet::V6(n),
            },
            v4 => v4,
        };
        let (ones, bits) = (subnet.prefix_len(), subnet.max_prefix_len());
        if ones > bits - 2 {
            return Err(RangeError(format!(
                "Network {subnet} too small to allocate from"
            )));
        }
        if subnet.addr() != subnet.network() {
            return Err(RangeError(format!(
                "Network has host bits set. For a subnet mask of length {ones} the network address is {}",
                subnet.network()
            )));
        }
        let v4 = subnet.addr().is_ipv4();
        let net_plus_one = from_u128(to_u128(subnet.network()) + 1, v4);
        let mut r = Range {
            subnet,
            range_start: net_plus_one,
            range_end: last_ip(&subnet),
            gateway: net_plus_one,
        };
        if let Some(g) = RangeSpec::field(&spec.gateway) {
            let gw = parse_ip(g).ok_or_else(|| format!("invalid gateway address {g:?}"))?;
            if !subnet.contains(&gw) {
                return Err(RangeError(format!("gateway {gw} not in network {subnet}")));
            }
            r.gateway = gw;
        }
        if let Some(s) = RangeSpec::field(&spec.range_start) {
            let start = parse_ip(s).ok_or_else(|| format!("invalid rangeStart address {s:?}"))?;
            in_subnet(&subnet, start)?;
            r.range_start = start;
        }
        if let Some(e) = RangeSpec::field(&spec.range_end) {
            let end = parse_ip(e).ok_or_else(|| format!("invalid rangeEnd address {e:?}"))?;
            in_subnet(&subnet, end)?;
            if to_u128(end) < to_u128(r.range_start) {
                return Err(RangeError(format!(
                    "{end} is in network {subnet} but before start {}",
                    r.range_start
                )));
            }
            r.range_end = end;
        } else if to_u128(r.range_end) < to_u128(r.range_start) {
            return Err(RangeError(format!(
                "rangeStart {} is after the last address {} of network {subnet}",
                r.range_start, r.range_end
            )));
        }
        Ok(r)
    }

    pub fn is_v4(&self) -> bool {
        self.subnet.addr().is_ipv4()
    }

    /// `ip` lies in the subnet and between rangeStart and rangeEnd (inclusive).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        ip.is_ipv4() == self.is_v4()
            && self.subnet.contains(&ip)
            && (to_u128(self.range_start)..=to_u128(self.range_end)).contains(&to_u128(ip))
    }

    /// Never handed out: the gateway, the network address and (IPv4) the broadcast.
    pub fn is_reserved(&self, ip: IpAddr) -> bool {
        ip == self.gateway
            || ip == self.subnet.network()
            || (self.is_v4() && ip == self.subnet.broadcast())
    }

    /// `contains(ip)` and not `is_reserved(ip)`.
    pub fn is_allocatable(&self, ip: IpAddr) -> bool {
        self.contains(ip) && !self.is_reserved(ip)
    }

    /// Number of addresses this range can hand out.
    pub fn capacity(&self) -> u128 {
        let (s, e) = (to_u128(self.range_start), to_u128(self.range_end));
        let total = e - s + 1;
        let mut reserved = vec![self.gateway, self.subnet.network()];
        if self.is_v4() {
            reserved.push(self.subnet.broadcast());
        }
        reserved.sort();
        reserved.dedup();
        let inside = reserved.iter().filter(|ip| self.contains(**ip)).count() as u128;
        total.saturating_sub(inside)
    }

    /// The reference `Range.Overlaps`: either range holds the other's start or end.
    pub fn overlaps(&self, other: &Range) -> bool {
        self.is_v4() == other.is_v4()
            && (self.contains(other.range_start)
                || self.contains(other.range_end)
                || other.contains(self.range_start)
                || other.contains(self.range_end))
    }
}

impl fmt::Display for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.range_start, self.range_end)
    }
}

fn in_subnet(subnet: &IpNet, ip: IpAddr) -> Result<(), RangeError> {
    if ip.is_ipv4() != subnet.addr().is_ipv4() {
        return Err(RangeError(format!(
            "IP {ip} is not the same protocol as subnet {subnet}"
        )));
    }
    if !subnet.contains(&ip) {
        return Err(RangeError(format!("{ip} not in network {subnet}")));
    }
    Ok(())
}

/// Last address of the subnet; for IPv4 the one before the broadcast.
fn last_ip(subnet: &IpNet) -> IpAddr {
    match subnet {
        IpNet::V4(n) => from_u128(u128::from(u32::from(n.broadcast())) - 1, true),
        IpNet::V6(n) => IpAddr::V6(n.broadcast()),
    }
}

/// A pool of ranges of one family; yields one address per ADD.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeSet(pub Vec<Range>);

impl RangeSet {
    /// Validates every range, the family and overlaps inside the set.
    pub fn from_specs(specs: &[RangeSpec]) -> Result<RangeSet, RangeError> {
        if specs.is_empty() {
            return Err("empty range set".into());
        }
        let mut ranges = Vec::with_capacity(specs.len());
        for spec in specs {
            let r = Range::from_spec(spec)?;
            if let Some(first) = ranges.first() {
                let first: &Range = first;
                if first.is_v4() != r.is_v4() {
                    return Err("mixed address families".into());
                }
            }
            ranges.push(r);
        }
        for (i, r1) in ranges.iter().enumerate() {
            for r2 in &ranges[i + 1..] {
                if r1.overlaps(r2) {
                    return Err(RangeError(format!("subnets {r1} and {r2} overlap")));
                }
            }
        }
        Ok(RangeSet(ranges))
    }

    pub fn is_v4(&self) -> bool {
        self.0.first().is_some_and(Range::is_v4)
    }

    /// The first range containing `ip`.
    pub fn range_for(&self, ip: IpAddr) -> Option<&Range> {
        self.0.iter().find(|r| r.contains(ip))
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        self.range_for(ip).is_some()
    }

    /// `ip` could be handed out by this set.
    pub fn is_allocatable(&self, ip: IpAddr) -> bool {
        self.range_for(ip).is_some_and(|r| !r.is_reserved(ip))
    }

    /// Addresses this set can hand out (saturating).
    pub fn capacity(&self) -> u128 {
        self.0
            .iter()
            .fold(0u128, |acc, r| acc.saturating_add(r.capacity()))
    }

    pub fn overlaps(&self, other: &RangeSet) -> bool {
        self.0.iter().any(|a| other.0.iter().any(|b| a.overlaps(b)))
    }

    /// Candidate addresses in the reference round-robin order: the one after
    /// `last_reserved` (when the set holds it), else rangeStart of the first range;
    /// wraps across ranges and stops after one full turn. Reserved addresses are skipped.
    pub fn iter_from(&self, last_reserved: Option<IpAddr>) -> RangeIter<'_> {
        let mut it = RangeIter {
            set: self,
            idx: 0,
            cur: None,
            start: None,
        };
        if let Some(last) = last_reserved {
            if let Some(i) = self.0.iter().position(|r| r.contains(last)) {
                it.idx = i;
                it.cur = Some(to_u128(canonical(last)));
            }
        }
        it
    }
}

impl fmt::Display for RangeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

/// The reference `RangeIter`, as a Rust iterator yielding `(range index, address)`.
pub struct RangeIter<'a> {
    set: &'a RangeSet,
    idx: usize,
    cur: Option<u128>,
    start: Option<u128>,
}

impl Iterator for RangeIter<'_> {
    type Item = (usize, IpAddr);

    fn next(&mut self) -> Option<(usize, IpAddr)> {
        let ranges = &self.set.0;
        if ranges.is_empty() {
            return None;
        }
        loop {
            let r = &ranges[self.idx];
            let v4 = r.is_v4();
            match self.cur {
                None => {
                    let c = to_u128(r.range_start);
                    self.cur = Some(c);
                    self.start = Some(c);
                }
                Some(c) => {
                    let next = if c == to_u128(r.range_end) {
                        self.idx = (self.idx + 1) % ranges.len();
                        to_u128(ranges[self.idx].range_start)
                    } else {
                        c + 1
                    };
                    self.cur = Some(next);
                    match self.start {
                        None => self.start = Some(next),
                        Some(s) if s == next => return None,
                        Some(_) => {}
                    }
                }
            }
            let r = &ranges[self.idx];
            let ip = from_u128(self.cur.unwrap_or_default(), v4);
            if !r.is_reserved(ip) {
                return Some((self.idx, ip));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(subnet: &str, start: Option<&str>, end: Option<&str>, gw: Option<&str>) -> RangeSpec {
        RangeSpec {
            subnet: Some(subnet.into()),
            range_start: start.map(Into::into),
            range_end: end.map(Into::into),
            gateway: gw.map(Into::into),
        }
    }
    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn defaults_v4_and_v6() {
        let r = Range::from_spec(&spec("10.1.0.0/24", None, None, None)).unwrap();
        assert_eq!(r.range_start, ip("10.1.0.1"));
        assert_eq!(r.range_end, ip("10.1.0.254"));
        assert_eq!(r.gateway, ip("10.1.0.1"));
        assert_eq!(r.capacity(), 253);
        assert_eq!(r.to_string(), "10.1.0.1-10.1.0.254");
        let r6 = Range::from_spec(&spec("2001:db8::/126", None, None, None)).unwrap();
        assert_eq!(r6.range_end, ip("2001:db8::3"));
        assert_eq!(r6.capacity(), 2);
    }

    #[test]
    fn validation_errors() {
        let e = |s: RangeSpec| Range::from_spec(&s).unwrap_err();
        assert_eq!(
            e(spec("10.0.0.0/31", None, None, None)),
            "Network 10.0.0.0/31 too small to allocate from"
        );
        assert!(e(spec("10.0.0.1/32", None, None, None)).contains("too small"));
        assert!(e(spec("2001:db8::/127", None, None, None)).contains("too small"));
        assert!(e(spec("2001:db8::/128", None, None, None)).contains("too small"));
        assert!(e(spec("10.0.0.5/24", None, None, None)).contains("network address is 10.0.0.0"));
        assert_eq!(
            e(spec("10.0.0.0/24", None, None, Some("10.0.1.1"))),
            "gateway 10.0.1.1 not in network 10.0.0.0/24"
        );
        assert_eq!(
            e(spec("10.0.0.0/24", Some("10.0.1.1"), None, None)),
            "10.0.1.1 not in network 10.0.0.0/24"
        );
        assert_eq!(
            e(spec("10.0.0.0/24", None, Some("10.0.1.1"), None)),
            "10.0.1.1 not in network 10.0.0.0/24"
        );
        assert_eq!(
            e(spec(
                "10.0.0.0/24",
                Some("10.0.0.9"),
                Some("10.0.0.5"),
                None
            )),
            "10.0.0.5 is in network 10.0.0.0/24 but before start 10.0.0.9"
        );
        assert!(e(spec("10.0.0.0/24", Some("2001:db8::1"), None, None))
            .contains("not the same protocol"));
        assert_eq!(e(RangeSpec::default()), "missing subnet");
        assert!(e(spec("bogus", None, None, None)).contains("invalid CIDR"));
        assert!(e(spec("10.0.0.0/24", None, None, Some("x"))).contains("gateway"));
    }

    #[test]
    fn set_validation() {
        let err = RangeSet::from_specs(&[]).unwrap_err();
        assert_eq!(err, "empty range set");
        let err = RangeSet::from_specs(&[
            spec("10.0.0.0/24", None, None, None),
            spec("2001:db8::/64", None, None, None),
        ])
        .unwrap_err();
        assert_eq!(err, "mixed address families");
        let err = RangeSet::from_specs(&[
            spec("10.0.0.0/24", None, None, None),
            spec("10.0.0.0/25", None, None, None),
        ])
        .unwrap_err();
        assert_eq!(
            err,
            "subnets 10.0.0.1-10.0.0.254 and 10.0.0.1-10.0.0.126 overlap"
        );
        // same subnet, disjoint ranges: allowed (reference compares ranges, not subnets)
        assert!(RangeSet::from_specs(&[
            spec("10.0.0.0/24", Some("10.0.0.10"), Some("10.0.0.19"), None),
            spec("10.0.0.0/24", Some("10.0.0.20"), Some("10.0.0.29"), None),
        ])
        .is_ok());
    }

    #[test]
    fn iteration_order_skips_gateway_network_broadcast() {
        let set = RangeSet::from_specs(&[spec(
            "10.0.0.0/29",
            Some("10.0.0.0"),
            Some("10.0.0.7"),
            Some("10.0.0.3"),
        )])
        .unwrap();
        let all: Vec<IpAddr> = set.iter_from(None).map(|(_, a)| a).collect();
        let want: Vec<IpAddr> = ["10.0.0.1", "10.0.0.2", "10.0.0.4", "10.0.0.5", "10.0.0.6"]
            .iter()
            .map(|s| ip(s))
            .collect();
        assert_eq!(all, want);
        assert_eq!(set.capacity(), 5);
        // round robin: starts after the last reserved, wraps, ends with it
        let rr: Vec<IpAddr> = set
            .iter_from(Some(ip("10.0.0.4")))
            .map(|(_, a)| a)
            .collect();
        let want: Vec<IpAddr> = ["10.0.0.5", "10.0.0.6", "10.0.0.1", "10.0.0.2", "10.0.0.4"]
            .iter()
            .map(|s| ip(s))
            .collect();
        assert_eq!(rr, want);
        // a last reserved address outside the set is ignored
        let first = set.iter_from(Some(ip("192.168.0.1"))).next().unwrap();
        assert_eq!(first, (0, ip("10.0.0.1")));
    }

    #[test]
    fn iteration_across_ranges() {
        let set = RangeSet::from_specs(&[
            spec("10.0.0.0/24", Some("10.0.0.10"), Some("10.0.0.11"), None),
            spec("10.0.1.0/24", Some("10.0.1.1"), Some("10.0.1.3"), None),
        ])
        .unwrap();
        let all: Vec<(usize, IpAddr)> = set.iter_from(Some(ip("10.0.0.11"))).collect();
        assert_eq!(
            all,
            vec![
                (1, ip("10.0.1.2")),
                (1, ip("10.0.1.3")),
                (0, ip("10.0.0.10")),
                (0, ip("10.0.0.11"))
            ]
        );
        assert_eq!(set.to_string(), "10.0.0.10-10.0.0.11,10.0.1.1-10.0.1.3");
    }
}
