//! Unique names and subnets so that tests can run in parallel (threads of one
//! binary, and several test binaries) without touching each other's state.

use ipnet::{Ipv4Net, Ipv6Net};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::atomic::{AtomicU32, Ordering};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Next value of the process-wide counter.
pub fn next() -> u32 {
    COUNTER.fetch_add(1, Ordering::Relaxed)
}

/// `<pid>-<counter>`: unique within the machine while this process lives.
pub fn unique_suffix() -> String {
    format!("{}-{}", std::process::id(), next())
}

/// A unique CNI network name (valid per the spec's name regex).
pub fn net_name() -> String {
    format!("cnmt-net-{}", unique_suffix())
}

/// A unique bridge name of at most 15 bytes: `cb<pid mod 1e5>x<counter mod 1e4>`.
pub fn bridge_name() -> String {
    let name = format!("cb{}x{}", std::process::id() % 100_000, next() % 10_000);
    debug_assert!(name.len() <= 15);
    name
}

/// A unique IPv4 /24: `10.<200 + pid mod 50>.<counter mod 256>.0/24`.
pub fn subnet_v4() -> Ipv4Net {
    let b = 200 + (std::process::id() % 50) as u8;
    let c = (next() % 256) as u8;
    Ipv4Net::new(Ipv4Addr::new(10, b, c, 0), 24).unwrap_or_default()
}

/// A unique IPv6 /64 under fd00::/8: `fd00:cafe:<pid mod 65536>:<counter>::/64`.
pub fn subnet_v6() -> Ipv6Net {
    let p = (std::process::id() % 65_536) as u16;
    let c = (next() % 65_536) as u16;
    Ipv6Net::new(Ipv6Addr::new(0xfd00, 0xcafe, p, c, 0, 0, 0, 0), 64).unwrap_or_default()
}

/// The `n`-th host address of an IPv4 subnet (network + n).
pub fn host4(net: Ipv4Net, n: u32) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(net.network()) + n)
}

/// The `n`-th host address of an IPv6 subnet (network + n).
pub fn host6(net: Ipv6Net, n: u128) -> Ipv6Addr {
    Ipv6Addr::from(u128::from(net.network()) + n)
}
