//! [`MacAddr`]: a MAC address that prints and parses as `aa:bb:cc:dd:ee:ff`
//! (also in serde), shared by every driver and front-end.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A MAC address (parsed ones are unicast and not zero; the default is
/// all zeros, "unknown").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct MacAddr(pub [u8; 6]);

/// Why a MAC address did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct MacParseError(pub String);

impl MacAddr {
    /// The six octets.
    pub fn octets(&self) -> [u8; 6] {
        self.0
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            m[0], m[1], m[2], m[3], m[4], m[5]
        )
    }
}

impl FromStr for MacAddr {
    type Err = MacParseError;

    /// `aa:bb:cc:dd:ee:ff` or `aa-bb-..`; must be unicast and not zero.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = text.split([':', '-']).collect();
        if parts.len() != 6 {
            return Err(MacParseError(format!(
                "{text:?} is not a MAC address (6 hex octets)"
            )));
        }
        let mut mac = [0u8; 6];
        for (slot, part) in mac.iter_mut().zip(&parts) {
            if part.len() != 2 {
                return Err(MacParseError(format!(
                    "{text:?} is not a MAC address (octet {part:?})"
                )));
            }
            *slot = u8::from_str_radix(part, 16).map_err(|_| {
                MacParseError(format!("{text:?} is not a MAC address (octet {part:?})"))
            })?;
        }
        if mac[0] & 1 == 1 {
            return Err(MacParseError(format!(
                "{text:?} is a multicast MAC address"
            )));
        }
        if mac == [0; 6] {
            return Err(MacParseError(format!("{text:?} is the zero MAC address")));
        }
        Ok(MacAddr(mac))
    }
}

impl Serialize for MacAddr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for MacAddr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_format_and_serde() {
        let m: MacAddr = "C2:11:22:33:44:55".parse().expect("valid");
        assert_eq!(m.to_string(), "c2:11:22:33:44:55");
        assert_eq!(
            serde_json::to_string(&m).expect("json"),
            "\"c2:11:22:33:44:55\""
        );
        let back: MacAddr = serde_json::from_str("\"c2-11-22-33-44-55\"").expect("json");
        assert_eq!(back, m);
        for bad in [
            "01:00:00:00:00:01",
            "00:00:00:00:00:00",
            "c2:11:22:33:44",
            "c2:11:22:33:44:zz",
        ] {
            assert!(bad.parse::<MacAddr>().is_err(), "{bad}");
        }
    }
}
