//! Cutting a subnet into equal blocks, and the addresses a block lends.

use std::net::IpAddr;

use ipnet::IpNet;

/// An address as a number (IPv4 in the low 32 bits).
fn to_u128(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}

/// The inverse of [`to_u128`] for the given family.
fn from_u128(v: u128, v4: bool) -> IpAddr {
    if v4 {
        IpAddr::from(std::net::Ipv4Addr::from(v as u32))
    } else {
        IpAddr::from(std::net::Ipv6Addr::from(v))
    }
}

/// A subnet cut into blocks of prefix length `block_prefix`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockPlan {
    subnet: IpNet,
    block_prefix: u8,
}

impl BlockPlan {
    /// The plan, or why not: the subnet must be its network address, the
    /// block no larger than the subnet and large enough for a gateway and
    /// at least two containers (IPv4: /29 at most; IPv6: /125 at most).
    pub fn new(subnet: IpNet, block_prefix: u8) -> Result<BlockPlan, String> {
        if subnet.trunc() != subnet {
            return Err(format!(
                "subnet {subnet} is not a network address (did you mean {}?)",
                subnet.trunc()
            ));
        }
        let (max_len, smallest) = match subnet {
            IpNet::V4(_) => (32, 29),
            IpNet::V6(_) => (128, 125),
        };
        if block_prefix > max_len {
            return Err(format!("block size /{block_prefix} is not a prefix length"));
        }
        if block_prefix < subnet.prefix_len() {
            return Err(format!(
                "block size /{block_prefix} is larger than the subnet {subnet}"
            ));
        }
        if block_prefix > smallest {
            return Err(format!(
                "block size /{block_prefix} is too small: at most /{smallest} (a gateway and two containers)"
            ));
        }
        Ok(BlockPlan {
            subnet,
            block_prefix,
        })
    }

    pub fn subnet(&self) -> IpNet {
        self.subnet
    }

    pub fn block_prefix(&self) -> u8 {
        self.block_prefix
    }

    /// How many blocks the subnet holds.
    pub fn count(&self) -> u128 {
        let bits = u32::from(self.block_prefix - self.subnet.prefix_len());
        1u128.checked_shl(bits).unwrap_or(u128::MAX)
    }

    fn block_bits(&self) -> u32 {
        u32::from(self.subnet.max_prefix_len() - self.block_prefix)
    }

    /// The `i`-th block, if `i < count()`.
    pub fn nth(&self, i: u128) -> Option<IpNet> {
        if i >= self.count() {
            return None;
        }
        let base = to_u128(self.subnet.network());
        let start = base + (i << self.block_bits());
        IpNet::new(
            from_u128(start, self.subnet.addr().is_ipv4()),
            self.block_prefix,
        )
        .ok()
    }

    /// The index of `block` when it is one of this plan's blocks.
    pub fn index_of(&self, block: &IpNet) -> Option<u128> {
        if block.prefix_len() != self.block_prefix
            || block.trunc() != *block
            || !self.subnet.contains(block)
        {
            return None;
        }
        Some((to_u128(block.network()) - to_u128(self.subnet.network())) >> self.block_bits())
    }

    /// True when `block` is one of this plan's blocks.
    pub fn is_block(&self, block: &IpNet) -> bool {
        self.index_of(block).is_some()
    }

    /// The block holding `ip`, if the subnet does.
    pub fn block_of(&self, ip: IpAddr) -> Option<IpNet> {
        if !self.subnet.contains(&ip) {
            return None;
        }
        IpNet::new(ip, self.block_prefix).ok().map(|n| n.trunc())
    }

    /// Addresses a block lends to containers: all but the network address,
    /// the gateway (first address) and, for IPv4, the broadcast address.
    pub fn usable_per_block(&self) -> u128 {
        let all = 1u128 << self.block_bits();
        match self.subnet {
            IpNet::V4(_) => all - 3,
            IpNet::V6(_) => all - 2,
        }
    }
}

/// The gateway of a block: its first address after the network address.
pub fn gateway_of(block: &IpNet) -> IpAddr {
    from_u128(to_u128(block.network()) + 1, block.addr().is_ipv4())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    #[test]
    fn cuts_a_subnet_into_blocks() {
        let p = BlockPlan::new(net("10.214.0.0/16"), 26).unwrap();
        assert_eq!(p.count(), 1024);
        assert_eq!(p.nth(0), Some(net("10.214.0.0/26")));
        assert_eq!(p.nth(5), Some(net("10.214.1.64/26")));
        assert_eq!(p.nth(1023), Some(net("10.214.255.192/26")));
        assert_eq!(p.nth(1024), None);
        assert_eq!(p.index_of(&net("10.214.1.64/26")), Some(5));
        assert_eq!(p.index_of(&net("10.214.1.65/26")), None);
        assert_eq!(p.index_of(&net("10.214.1.64/27")), None);
        assert_eq!(p.index_of(&net("10.215.0.0/26")), None);
        assert_eq!(
            p.block_of("10.214.1.100".parse().unwrap()),
            Some(net("10.214.1.64/26"))
        );
        assert_eq!(p.block_of("10.215.0.1".parse().unwrap()), None);
        assert_eq!(p.usable_per_block(), 61);
        assert_eq!(
            gateway_of(&net("10.214.1.64/26")).to_string(),
            "10.214.1.65"
        );
    }

    #[test]
    fn ipv6_plans() {
        let p = BlockPlan::new(net("fd00:214::/48"), 64).unwrap();
        assert_eq!(p.count(), 65536);
        assert_eq!(p.nth(1), Some(net("fd00:214:0:1::/64")));
        let whole = BlockPlan::new(net("fd00::/8"), 120).unwrap();
        assert_eq!(whole.count(), 1u128 << 112);
    }

    #[test]
    fn refuses_bad_plans() {
        assert!(BlockPlan::new(net("10.214.0.0/24"), 16)
            .unwrap_err()
            .contains("larger than the subnet"));
        assert!(BlockPlan::new(net("10.214.0.1/24"), 26)
            .unwrap_err()
            .contains("not a network address"));
        assert!(BlockPlan::new(net("10.214.0.0/24"), 30)
            .unwrap_err()
            .contains("too small"));
        assert!(BlockPlan::new(net("10.214.0.0/24"), 33).is_err());
        assert!(BlockPlan::new(net("10.214.0.0/24"), 24).is_ok());
    }
}
