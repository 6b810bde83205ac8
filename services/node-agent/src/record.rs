//! A host's record in etcd (`<prefix>/hosts/<host>`, under the agent's
//! lease): its underlay address and, per network, its VTEP MAC and blocks.

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// One network on one host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HostNetwork {
    /// The VXLAN device's MAC, `aa:bb:cc:dd:ee:ff`.
    pub vtep_mac: String,
    pub blocks: Vec<IpNet>,
}

/// What `<prefix>/hosts/<host>` holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HostRecord {
    pub host: String,
    pub underlay: IpAddr,
    pub networks: BTreeMap<String, HostNetwork>,
}

/// `aa:bb:cc:dd:ee:ff`
pub fn format_mac(m: &[u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// The inverse of [`format_mac`].
pub fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let mut out = [0u8; 6];
    let mut parts = s.split(':');
    for b in &mut out {
        *b = u8::from_str_radix(parts.next()?, 16).ok()?;
    }
    parts.next().is_none().then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs_round_trip() {
        let m = [0x02, 0xab, 0, 1, 0xff, 9];
        assert_eq!(parse_mac(&format_mac(&m)), Some(m));
        assert_eq!(parse_mac("02:ab:00:01:ff"), None);
        assert_eq!(parse_mac("02:ab:00:01:ff:09:00"), None);
        assert_eq!(parse_mac("zz:ab:00:01:ff:09"), None);
    }
}
