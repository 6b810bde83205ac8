//! The shared skeleton of table `inet cnm`: every batch starts with it, so any batch repairs the
//! static part (base chains flushed and rebuilt inside the same atomic transaction).

use std::fmt::Write as _;

use ipnet::IpNet;

use crate::state::TableState;

/// Address family of our table.
pub const FAMILY: &str = "inet";
/// Our table's name; nothing outside it is ever touched.
pub const TABLE: &str = "cnm";

/// Sets and maps of the table with their declarations.
pub const SETS: &[(&str, &str)] = &[
    ("masq4", "map inet cnm masq4 { type ipv4_addr : verdict; flags interval; }"),
    ("masq6", "map inet cnm masq6 { type ipv6_addr : verdict; flags interval; }"),
    ("pm4", "map inet cnm pm4 { type ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service; }"),
    ("pm4any", "map inet cnm pm4any { type inet_proto . inet_service : ipv4_addr . inet_service; }"),
    ("pm6", "map inet cnm pm6 { type ipv6_addr . inet_proto . inet_service : ipv6_addr . inet_service; }"),
    ("pm6any", "map inet cnm pm6any { type inet_proto . inet_service : ipv6_addr . inet_service; }"),
    ("pmsnat4", "set inet cnm pmsnat4 { type ipv4_addr . ipv4_addr; flags interval; }"),
    ("pmsnat6", "set inet cnm pmsnat6 { type ipv6_addr . ipv6_addr; flags interval; }"),
];

/// Static chains: (name, declaration suffix, rules as (script text, canonical text)).
type StaticChain = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

/// The static chains and their rules; `hostports` is a regular chain jumped to from the hooks.
pub const CHAINS: &[StaticChain] = &[
    (
        "postrouting",
        " { type nat hook postrouting priority srcnat; policy accept; }",
        &[
            (
                "ct status dnat ip saddr . ip daddr @pmsnat4 masquerade",
                "ct status dnat ip saddr . ip daddr @pmsnat4 masquerade",
            ),
            (
                "ct status dnat ip6 saddr . ip6 daddr @pmsnat6 masquerade",
                "ct status dnat ip6 saddr . ip6 daddr @pmsnat6 masquerade",
            ),
            ("ip saddr vmap @masq4", "ip saddr vmap @masq4"),
            ("ip6 saddr vmap @masq6", "ip6 saddr vmap @masq6"),
        ],
    ),
    (
        "prerouting",
        " { type nat hook prerouting priority dstnat; policy accept; }",
        &[(
            "fib daddr type local jump hostports",
            "fib daddr type local jump hostports",
        )],
    ),
    (
        "output",
        " { type nat hook output priority -100; policy accept; }",
        &[(
            "fib daddr type local jump hostports",
            "fib daddr type local jump hostports",
        )],
    ),
    (
        "hostports",
        "",
        &[
            (
                "dnat ip to ip daddr . meta l4proto . th dport map @pm4",
                "dnat ip to ip daddr . meta l4proto . th dport map @pm4",
            ),
            (
                "dnat ip6 to ip6 daddr . meta l4proto . th dport map @pm6",
                "dnat ip6 to ip6 daddr . meta l4proto . th dport map @pm6",
            ),
            (
                "meta nfproto ipv4 dnat ip to meta l4proto . th dport map @pm4any",
                "meta nfproto ipv4 dnat ip to meta l4proto . th dport map @pm4any",
            ),
            (
                "meta nfproto ipv6 dnat ip6 to meta l4proto . th dport map @pm6any",
                "meta nfproto ipv6 dnat ip6 to meta l4proto . th dport map @pm6any",
            ),
        ],
    ),
];

/// The idempotent skeleton. `extra_chains` (per-network chains) are declared before the maps:
/// nft 1.0.6 rejects a verdict element jumping to a chain created after its map in the same batch.
pub fn skeleton(extra_chains: &[&str]) -> String {
    let mut s = String::from("add table inet cnm\n");
    for (name, decl, _) in CHAINS {
        let _ = writeln!(s, "add chain inet cnm {name}{decl}");
    }
    for name in extra_chains {
        let _ = writeln!(s, "add chain inet cnm {name}");
    }
    for (_, decl) in SETS {
        let _ = writeln!(s, "add {decl}");
    }
    for (name, _, _) in CHAINS {
        let _ = writeln!(s, "flush chain inet cnm {name}");
    }
    for (name, _, rules) in CHAINS {
        for (text, _) in *rules {
            let _ = writeln!(s, "add rule inet cnm {name} {text}");
        }
    }
    s
}

/// Verify the static part of a listed table; returns what is wrong.
pub fn check_skeleton(t: &TableState) -> Result<(), String> {
    for (name, _) in SETS {
        if !t.sets.contains_key(*name) {
            return Err(format!("set/map {name} is missing from table inet cnm"));
        }
    }
    for (name, _, rules) in CHAINS {
        let chain = t
            .chains
            .get(*name)
            .ok_or_else(|| format!("chain {name} is missing from table inet cnm"))?;
        let want: Vec<&str> = rules.iter().map(|(_, canon)| *canon).collect();
        let have: Vec<&str> = chain.rules.iter().map(|r| r.text.as_str()).collect();
        if want != have {
            return Err(format!(
                "chain {name} has rules {have:?}, expected {want:?}"
            ));
        }
    }
    Ok(())
}

/// An address or prefix as nft prints it: host-length prefixes without `/len`.
pub fn net_text(net: &IpNet) -> String {
    let net = net.trunc();
    if net.prefix_len() == net.max_prefix_len() {
        net.addr().to_string()
    } else {
        net.to_string()
    }
}

/// True when `text` (a key read back from the kernel) only holds addresses, prefixes, ports and
/// protocol names joined by ` . `, so it can be pasted into a script without any injection risk.
pub fn is_safe_key(text: &str) -> bool {
    !text.is_empty()
        && text.split(" . ").all(|part| {
            part.parse::<std::net::IpAddr>().is_ok()
                || part.parse::<IpNet>().is_ok()
                || part.parse::<u16>().is_ok()
                || matches!(part, "tcp" | "udp" | "sctp")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skeleton_golden() {
        let s = skeleton(&["masq-x"]);
        let want = "add table inet cnm
add chain inet cnm postrouting { type nat hook postrouting priority srcnat; policy accept; }
add chain inet cnm prerouting { type nat hook prerouting priority dstnat; policy accept; }
add chain inet cnm output { type nat hook output priority -100; policy accept; }
add chain inet cnm hostports
add chain inet cnm masq-x
add map inet cnm masq4 { type ipv4_addr : verdict; flags interval; }
add map inet cnm masq6 { type ipv6_addr : verdict; flags interval; }
add map inet cnm pm4 { type ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service; }
add map inet cnm pm4any { type inet_proto . inet_service : ipv4_addr . inet_service; }
add map inet cnm pm6 { type ipv6_addr . inet_proto . inet_service : ipv6_addr . inet_service; }
add map inet cnm pm6any { type inet_proto . inet_service : ipv6_addr . inet_service; }
add set inet cnm pmsnat4 { type ipv4_addr . ipv4_addr; flags interval; }
add set inet cnm pmsnat6 { type ipv6_addr . ipv6_addr; flags interval; }
flush chain inet cnm postrouting
flush chain inet cnm prerouting
flush chain inet cnm output
flush chain inet cnm hostports
add rule inet cnm postrouting ct status dnat ip saddr . ip daddr @pmsnat4 masquerade
add rule inet cnm postrouting ct status dnat ip6 saddr . ip6 daddr @pmsnat6 masquerade
add rule inet cnm postrouting ip saddr vmap @masq4
add rule inet cnm postrouting ip6 saddr vmap @masq6
add rule inet cnm prerouting fib daddr type local jump hostports
add rule inet cnm output fib daddr type local jump hostports
add rule inet cnm hostports dnat ip to ip daddr . meta l4proto . th dport map @pm4
add rule inet cnm hostports dnat ip6 to ip6 daddr . meta l4proto . th dport map @pm6
add rule inet cnm hostports meta nfproto ipv4 dnat ip to meta l4proto . th dport map @pm4any
add rule inet cnm hostports meta nfproto ipv6 dnat ip6 to meta l4proto . th dport map @pm6any
";
        assert_eq!(s, want);
    }

    #[test]
    fn net_text_drops_host_prefix() {
        assert_eq!(net_text(&"10.1.0.7/24".parse().unwrap()), "10.1.0.0/24");
        assert_eq!(net_text(&"10.1.0.7/32".parse().unwrap()), "10.1.0.7");
        assert_eq!(net_text(&"fd00::1/64".parse().unwrap()), "fd00::/64");
    }

    #[test]
    fn safe_keys() {
        assert!(is_safe_key("192.168.1.1 . udp . 53"));
        assert!(is_safe_key("10.1.0.0/24 . 10.1.0.5"));
        assert!(is_safe_key("tcp . 8080"));
        assert!(!is_safe_key("tcp . 8080 }; flush ruleset"));
        assert!(!is_safe_key(""));
        assert!(!is_safe_key("icmp . 1"));
    }
}
