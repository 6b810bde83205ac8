//! MAC spoof check (reference bridge `macspoofchk` semantics) in our own table `bridge cnm`:
//! frames entering the bridge from a host veth whose source MAC is not the container's are
//! dropped.
//!
//! Layout: base chain `prerouting` (filter, hook prerouting, priority -300) with the single rule
//! `iifname vmap @spoof`; the verdict map `spoof` sends each checked port to its own chain
//! `spoof-<fnv1a64(port)>` holding `ether saddr != <mac> drop comment "cnm-spoof:<port>"`.
//! Ensuring is one batch without any listing (chain flushed and refilled, element re-added);
//! removal lists the table once and deletes the element and the chain in one batch.

use std::fmt::Write as _;

use crate::error::NftError;
use crate::name::{fnv1a64, validate_ifname};
use crate::state::TableState;

/// Family of the spoof-check table.
pub const FAMILY: &str = "bridge";
/// Name of the spoof-check table.
pub const TABLE: &str = "cnm";
/// The dispatch rule of the base chain, as the canonical listing renders it.
const DISPATCH: &str = "meta iifname vmap @spoof";

/// Name of the per-port chain.
pub fn port_chain(port: &str) -> String {
    format!("spoof-{:016x}", fnv1a64(&[port.as_bytes()]))
}

/// Comment carried by the per-port rule.
pub fn port_comment(port: &str) -> String {
    format!("cnm-spoof:{port}")
}

/// A MAC as nft prints it (`02:00:0a:00:00:05`).
pub fn mac_text(mac: &[u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Validate the bridge port name.
pub fn validate_port(port: &str) -> Result<(), NftError> {
    validate_ifname("bridge port (host veth)", port)
}

/// The idempotent skeleton of table `bridge cnm` (every batch starts with it).
pub fn skeleton() -> String {
    let mut s = String::new();
    s.push_str("add table bridge cnm\n");
    s.push_str("add chain bridge cnm prerouting { type filter hook prerouting priority -300; policy accept; }\n");
    s.push_str("add map bridge cnm spoof { type ifname : verdict; }\n");
    s.push_str("flush chain bridge cnm prerouting\n");
    s.push_str("add rule bridge cnm prerouting iifname vmap @spoof\n");
    s
}

/// The batch installing (or replacing) the check for `port`.
pub fn ensure_script(port: &str, mac: &[u8; 6]) -> Result<String, NftError> {
    let mut s = skeleton();
    s.push_str(&port_body(port, mac)?);
    Ok(s)
}

/// The port's chain (flushed and refilled) and its map element: the part of a batch after
/// [`skeleton`].
pub fn port_body(port: &str, mac: &[u8; 6]) -> Result<String, NftError> {
    validate_port(port)?;
    let chain = port_chain(port);
    let mut s = String::new();
    let _ = writeln!(s, "add chain bridge cnm {chain}");
    let _ = writeln!(s, "flush chain bridge cnm {chain}");
    let _ = writeln!(
        s,
        "add rule bridge cnm {chain} ether saddr != {} drop comment \"{}\"",
        mac_text(mac),
        port_comment(port)
    );
    let _ = writeln!(
        s,
        "add element bridge cnm spoof {{ \"{port}\" : jump {chain} }}"
    );
    Ok(s)
}

/// The batch removing the check for `port`, None when nothing of it is left.
pub fn remove_script(port: &str, t: &TableState) -> Result<Option<String>, NftError> {
    validate_port(port)?;
    let chain = port_chain(port);
    let mut s = String::new();
    let has_elem = t
        .sets
        .get("spoof")
        .into_iter()
        .flatten()
        .any(|e| e.key == port);
    if has_elem {
        let _ = writeln!(s, "delete element bridge cnm spoof {{ \"{port}\" }}");
    }
    if t.chains.contains_key(&chain) {
        let _ = writeln!(s, "delete chain bridge cnm {chain}");
    }
    Ok((!s.is_empty()).then_some(s))
}

/// Verify that the check for `port` is in place with exactly `mac`.
pub fn check(port: &str, mac: &[u8; 6], t: Option<&TableState>) -> Result<(), NftError> {
    validate_port(port)?;
    let missing = |what: String| NftError::Missing {
        subject: format!("MAC spoof check of port {port}"),
        what,
    };
    let t = t.ok_or_else(|| missing("table bridge cnm does not exist".into()))?;
    let base = t
        .chains
        .get("prerouting")
        .ok_or_else(|| missing("chain prerouting is missing from table bridge cnm".into()))?;
    let base_rules: Vec<&str> = base.rules.iter().map(|r| r.text.as_str()).collect();
    if base_rules != [DISPATCH] {
        return Err(missing(format!(
            "chain prerouting has rules {base_rules:?}, expected [{DISPATCH:?}]"
        )));
    }
    let chain = port_chain(port);
    let want_value = format!("jump {chain}");
    let elem = t
        .sets
        .get("spoof")
        .into_iter()
        .flatten()
        .find(|e| e.key == port)
        .ok_or_else(|| missing(format!("no element for {port:?} in map spoof")))?;
    if elem.value.as_deref() != Some(want_value.as_str()) {
        return Err(missing(format!(
            "map spoof sends {port:?} to {:?}, expected {want_value:?}",
            elem.value
        )));
    }
    let rules = t
        .chains
        .get(&chain)
        .map(|c| c.rules.as_slice())
        .unwrap_or_default();
    let want_rule = format!("ether saddr != {} drop", mac_text(mac));
    let have: Vec<&str> = rules.iter().map(|r| r.text.as_str()).collect();
    if have != [want_rule.as_str()] {
        return Err(missing(format!(
            "chain {chain} has rules {have:?}, expected [{want_rule:?}]"
        )));
    }
    Ok(())
}

/// Ports that currently have a spoof check (for cleanup).
pub fn ports(t: &TableState) -> Vec<String> {
    t.sets
        .get("spoof")
        .into_iter()
        .flatten()
        .map(|e| e.key.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::parse_table;

    const MAC: [u8; 6] = [0x02, 0, 0x0a, 0, 0, 0x05];

    #[test]
    fn ensure_golden() {
        let s = ensure_script("veth1", &MAC).unwrap();
        let chain = port_chain("veth1");
        let want = format!(
            "add table bridge cnm
add chain bridge cnm prerouting {{ type filter hook prerouting priority -300; policy accept; }}
add map bridge cnm spoof {{ type ifname : verdict; }}
flush chain bridge cnm prerouting
add rule bridge cnm prerouting iifname vmap @spoof
add chain bridge cnm {chain}
flush chain bridge cnm {chain}
add rule bridge cnm {chain} ether saddr != 02:00:0a:00:00:05 drop comment \"cnm-spoof:veth1\"
add element bridge cnm spoof {{ \"veth1\" : jump {chain} }}
"
        );
        assert_eq!(s, want);
    }

    #[test]
    fn rejects_bad_ports() {
        for bad in ["", "a\"b", "x; flush ruleset", "a234567890123456", ".."] {
            assert!(ensure_script(bad, &MAC).is_err(), "{bad:?}");
            assert!(check(bad, &MAC, None).is_err(), "{bad:?}");
        }
    }

    fn listed(port: &str, mac: &str) -> String {
        let chain = port_chain(port);
        format!(
            r#"{{"nftables":[
{{"map":{{"family":"bridge","name":"spoof","table":"cnm","type":"ifname","map":"verdict","elem":[["{port}",{{"jump":{{"target":"{chain}"}}}}]]}}}},
{{"chain":{{"family":"bridge","table":"cnm","name":"prerouting","type":"filter","hook":"prerouting","prio":-300}}}},
{{"chain":{{"family":"bridge","table":"cnm","name":"{chain}"}}}},
{{"rule":{{"family":"bridge","table":"cnm","chain":"prerouting","handle":6,"expr":[{{"vmap":{{"key":{{"meta":{{"key":"iifname"}}}},"data":"@spoof"}}}}]}}}},
{{"rule":{{"family":"bridge","table":"cnm","chain":"{chain}","handle":7,"comment":"cnm-spoof:{port}","expr":[{{"match":{{"op":"!=","left":{{"payload":{{"protocol":"ether","field":"saddr"}}}},"right":"{mac}"}}}},{{"drop":null}}]}}}}
]}}"#
        )
    }

    #[test]
    fn check_and_remove_from_listing() {
        let t = parse_table(&listed("veth1", "02:00:0a:00:00:05")).unwrap();
        check("veth1", &MAC, Some(&t)).unwrap();
        let other = [0x02, 0, 0, 0, 0, 9];
        let e = check("veth1", &other, Some(&t)).unwrap_err().to_string();
        assert!(e.contains("02:00:00:00:00:09"), "{e}");
        assert!(check("veth2", &MAC, Some(&t)).is_err());
        assert!(check("veth1", &MAC, None).is_err());
        assert_eq!(ports(&t), ["veth1"]);
        let chain = port_chain("veth1");
        assert_eq!(
            remove_script("veth1", &t).unwrap().unwrap(),
            format!(
                "delete element bridge cnm spoof {{ \"veth1\" }}\ndelete chain bridge cnm {chain}\n"
            )
        );
        assert_eq!(remove_script("veth2", &t).unwrap(), None);
    }
}
