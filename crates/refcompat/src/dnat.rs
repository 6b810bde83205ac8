//! Reading back the DNAT rules of the reference portmap's per-container
//! chain (`CNI-DN-<hash>`), so that CHECK verifies every mapping of an
//! attachment the reference made.

use crate::save::{words, Table};
use crate::Family;

/// One `-j DNAT` rule: `-p <protocol> ... --dport <host_port> ... --to-destination <to>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dnat {
    pub family: Family,
    pub protocol: String,
    pub host_port: u16,
    /// `addr:port` (IPv4) or `[addr]:port` (IPv6), as iptables prints it.
    pub to: String,
}

/// The DNAT rules of `chain` in a saved table of `family`.
pub fn rules(t: &Table, family: Family, chain: &str) -> Vec<Dnat> {
    t.rules_of(chain)
        .filter(|r| r.target.as_deref() == Some("DNAT"))
        .filter_map(|r| {
            let w = words(&r.spec);
            let after = |flag: &str| {
                w.iter()
                    .position(|x| x == flag)
                    .and_then(|i| w.get(i + 1))
                    .cloned()
            };
            Some(Dnat {
                family,
                protocol: after("-p")?,
                host_port: after("--dport")?.parse().ok()?,
                to: after("--to-destination")?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::save::{parse, tests::SAMPLE};

    #[test]
    fn dnat_rules_of_the_sample() {
        let t = parse(SAMPLE);
        let got = rules(&t, Family::V4, "CNI-DN-9c1503aca18ec08d1ecd9");
        assert_eq!(
            got,
            vec![
                Dnat {
                    family: Family::V4,
                    protocol: "tcp".into(),
                    host_port: 8080,
                    to: "10.251.7.2:80".into()
                },
                Dnat {
                    family: Family::V4,
                    protocol: "udp".into(),
                    host_port: 5353,
                    to: "10.251.7.2:53".into()
                },
            ]
        );
        assert!(rules(&t, Family::V4, "CNI-9c1503aca18ec08d1ecd9bfa").is_empty());
    }
}
