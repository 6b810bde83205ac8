//! Per-network masquerade: one chain `masq-<hash>` per network, entered through the verdict maps
//! `masq4`/`masq6` keyed by the network's subnets. Nothing here is per container.

use std::fmt::Write as _;

use ipnet::IpNet;

use crate::error::NftError;
use crate::masq_state::Subnets;
use crate::name::{masq_chain, masq_comment, validate_ifname, validate_network};
use crate::script::{check_skeleton, is_safe_key, net_text, skeleton};
use crate::state::TableState;

/// What to masquerade for one network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MasqNet<'a> {
    /// Network name (`[a-zA-Z0-9][a-zA-Z0-9_.-]*`).
    pub network: &'a str,
    /// The bridge; traffic leaving through it again is not masqueraded (libnetwork `! -o bridge`).
    pub bridge: &'a str,
    /// The container subnets of the network (any host bits are ignored).
    pub subnets: Vec<IpNet>,
}

impl MasqNet<'_> {
    /// Validate names and subnets; returns the normalised, de-duplicated subnets.
    pub fn validated(&self) -> Result<Vec<IpNet>, NftError> {
        validate_network(self.network)?;
        validate_ifname("bridge name", self.bridge)?;
        let mut nets: Vec<IpNet> = self.subnets.iter().map(IpNet::trunc).collect();
        nets.dedup();
        if nets.is_empty() {
            return Err(NftError::InvalidMapping {
                owner: self.network.to_string(),
                reason: "masquerade needs at least one subnet".into(),
            });
        }
        Ok(nets)
    }
}

/// The rules of the network chain as (script text, canonical text); the last one carries the comment.
pub fn chain_rules(net: &MasqNet<'_>, subnets: &[IpNet]) -> Vec<(String, String)> {
    let mut rules = vec![(
        format!("oifname \"{}\" return", net.bridge),
        format!("meta oifname {} return", net.bridge),
    )];
    for (proto, multicast) in [("ip", "224.0.0.0/4"), ("ip6", "ff00::/8")] {
        let fam: Vec<&IpNet> = subnets
            .iter()
            .filter(|n| matches!(n, IpNet::V4(_)) == (proto == "ip"))
            .collect();
        if fam.is_empty() {
            continue;
        }
        for n in fam {
            let r = format!("{proto} daddr {} return", net_text(n));
            rules.push((r.clone(), r));
        }
        let r = format!("{proto} daddr {multicast} return");
        rules.push((r.clone(), r));
    }
    rules.push((
        format!("masquerade comment \"{}\"", masq_comment(net.network)),
        "masquerade".to_string(),
    ));
    rules
}

fn map_for(n: &IpNet) -> &'static str {
    match n {
        IpNet::V4(_) => "masq4",
        IpNet::V6(_) => "masq6",
    }
}

/// The whole idempotent batch for `ensure_masquerade`: the chain rebuilt from `subnets` (the
/// union of every subnet of the network) and one map element per subnet.
pub fn ensure_script(net: &MasqNet<'_>, subnets: &Subnets) -> Result<String, NftError> {
    net.validated()?;
    let subnets: Vec<IpNet> = subnets.iter().copied().collect();
    let chain = masq_chain(net.network);
    let mut s = skeleton(&[&chain]);
    let _ = writeln!(s, "flush chain inet cnm {chain}");
    for (text, _) in chain_rules(net, &subnets) {
        let _ = writeln!(s, "add rule inet cnm {chain} {text}");
    }
    for n in &subnets {
        let _ = writeln!(
            s,
            "add element inet cnm {} {{ {} : jump {chain} }}",
            map_for(n),
            net_text(n)
        );
    }
    Ok(s)
}

/// Subnets whose map elements currently jump to the network's chain.
pub fn live_subnets(network: &str, t: &TableState) -> Subnets {
    let verdict = format!("jump {}", masq_chain(network));
    ["masq4", "masq6"]
        .iter()
        .flat_map(|map| t.sets.get(*map).into_iter().flatten())
        .filter(|e| e.value.as_deref() == Some(verdict.as_str()))
        .filter_map(|e| {
            e.key
                .parse::<IpNet>()
                .ok()
                .or_else(|| e.key.parse::<std::net::IpAddr>().ok().map(IpNet::from))
        })
        .collect()
}

/// The batch removing a network's chain and map elements, or None when nothing is left.
pub fn remove_script(network: &str, t: &TableState) -> Result<Option<String>, NftError> {
    validate_network(network)?;
    let chain = masq_chain(network);
    let verdict = format!("jump {chain}");
    let mut s = String::new();
    for map in ["masq4", "masq6"] {
        for e in t.sets.get(map).into_iter().flatten() {
            if e.value.as_deref() == Some(verdict.as_str()) {
                if !is_safe_key(&e.key) {
                    return Err(NftError::Parse {
                        operation: "list table inet cnm".into(),
                        msg: format!("unexpected key {:?} in map {map}", e.key),
                    });
                }
                let _ = writeln!(s, "delete element inet cnm {map} {{ {} }}", e.key);
            }
        }
    }
    if t.chains.contains_key(&chain) {
        let _ = writeln!(s, "flush chain inet cnm {chain}");
        let _ = writeln!(s, "delete chain inet cnm {chain}");
    }
    Ok((!s.is_empty()).then_some(s))
}

/// Verify that the listed table masquerades `net`: the chain exists, starts with the bridge
/// exception, ends with the commented masquerade, returns for every requested subnet (other
/// subnets of the network may be there too) and the maps send every requested subnet to it.
pub fn check(net: &MasqNet<'_>, t: Option<&TableState>) -> Result<(), NftError> {
    let subnets = net.validated()?;
    let missing = |what: String| NftError::Missing {
        subject: format!("masquerade for network {}", net.network),
        what,
    };
    let t = t.ok_or_else(|| missing("table inet cnm does not exist".into()))?;
    check_skeleton(t).map_err(missing)?;
    let chain = masq_chain(net.network);
    let c = t
        .chains
        .get(&chain)
        .ok_or_else(|| missing(format!("chain {chain} does not exist")))?;
    let have: Vec<&str> = c.rules.iter().map(|r| r.text.as_str()).collect();
    let want = chain_rules(net, &subnets);
    let (first, last) = match (want.first(), want.last()) {
        (Some(f), Some(l)) => (f.1.as_str(), l.1.as_str()),
        _ => return Err(missing("no rules planned".into())),
    };
    if have.first() != Some(&first) || have.last() != Some(&last) {
        return Err(missing(format!(
            "chain {chain} has rules {have:?}, expected {first:?} first and {last:?} last"
        )));
    }
    if let Some((_, absent)) = want
        .iter()
        .find(|(_, canon)| !have.contains(&canon.as_str()))
    {
        return Err(missing(format!(
            "chain {chain} has rules {have:?}, lacking {absent:?}"
        )));
    }
    let comment = masq_comment(net.network);
    if c.rules.last().and_then(|r| r.comment.as_deref()) != Some(comment.as_str()) {
        return Err(missing(format!(
            "masquerade rule in {chain} lacks comment {comment:?}"
        )));
    }
    let verdict = format!("jump {chain}");
    for n in &subnets {
        let key = net_text(n);
        let found = t
            .sets
            .get(map_for(n))
            .into_iter()
            .flatten()
            .any(|e| e.key == key && e.value.as_deref() == Some(verdict.as_str()));
        if !found {
            return Err(missing(format!(
                "map {} has no element {key} : {verdict}",
                map_for(n)
            )));
        }
    }
    Ok(())
}

/// Networks that have a masquerade chain, read from the rule comments.
pub fn networks(t: &TableState) -> Vec<String> {
    let mut out: Vec<String> = t
        .chains
        .iter()
        .filter(|(name, _)| name.starts_with("masq-"))
        .filter_map(|(_, c)| c.rules.last()?.comment.as_deref()?.strip_prefix("cnm:"))
        .map(str::to_string)
        .collect();
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::parse_table;

    fn net<'a>(name: &'a str, subnets: &[&str]) -> MasqNet<'a> {
        MasqNet {
            network: name,
            bridge: "cnm0",
            subnets: subnets.iter().map(|s| s.parse().unwrap()).collect(),
        }
    }

    fn script(n: &MasqNet<'_>) -> Result<String, NftError> {
        ensure_script(n, &n.subnets.iter().map(IpNet::trunc).collect())
    }

    #[test]
    fn ensure_golden_dual_stack() {
        let s = script(&net("net1", &["10.1.0.1/24", "fd00:1::/64"])).unwrap();
        let chain = masq_chain("net1");
        let tail = format!(
            "flush chain inet cnm {chain}
add rule inet cnm {chain} oifname \"cnm0\" return
add rule inet cnm {chain} ip daddr 10.1.0.0/24 return
add rule inet cnm {chain} ip daddr 224.0.0.0/4 return
add rule inet cnm {chain} ip6 daddr fd00:1::/64 return
add rule inet cnm {chain} ip6 daddr ff00::/8 return
add rule inet cnm {chain} masquerade comment \"cnm:net1\"
add element inet cnm masq4 {{ 10.1.0.0/24 : jump {chain} }}
add element inet cnm masq6 {{ fd00:1::/64 : jump {chain} }}
"
        );
        assert!(s.starts_with(&skeleton(&[&chain])), "{s}");
        assert_eq!(&s[skeleton(&[&chain]).len()..], tail);
    }

    #[test]
    fn v4_only_has_no_v6_rules() {
        let s = script(&net("n", &["10.2.0.0/16"])).unwrap();
        let body = &s[skeleton(&[&masq_chain("n")]).len()..];
        assert!(body.contains("ip daddr 10.2.0.0/16 return"), "{body}");
        assert!(!body.contains("ip6 daddr"), "{body}");
        assert!(!body.contains("masq6 {"), "{body}");
    }

    #[test]
    fn rejects_bad_input() {
        assert!(script(&net("bad name", &["10.0.0.0/8"])).is_err());
        assert!(script(&net("n", &[])).is_err());
        let mut n = net("n", &["10.0.0.0/8"]);
        n.bridge = "br\"; flush ruleset";
        assert!(script(&n).is_err());
    }

    fn table_with(chain: &str, extra_elem: &str) -> String {
        format!(
            r#"{{"nftables":[
{{"map":{{"name":"masq4","elem":[[{{"prefix":{{"addr":"10.1.0.0","len":24}}}},{{"jump":{{"target":"{chain}"}}}}]{extra_elem}]}}}},
{{"map":{{"name":"masq6"}}}},
{{"chain":{{"name":"{chain}"}}}},
{{"rule":{{"chain":"{chain}","handle":3,"comment":"cnm:net1","expr":[{{"masquerade":null}}]}}}}
]}}"#
        )
    }

    #[test]
    fn remove_golden_and_other_network_untouched() {
        let chain = masq_chain("net1");
        let other = r#",[{"prefix":{"addr":"10.2.0.0","len":24}},{"jump":{"target":"masq-0000000000000000"}}]"#;
        let t = parse_table(&table_with(&chain, other)).unwrap();
        let s = remove_script("net1", &t).unwrap().unwrap();
        assert_eq!(
            s,
            format!(
                "delete element inet cnm masq4 {{ 10.1.0.0/24 }}\nflush chain inet cnm {chain}\ndelete chain inet cnm {chain}\n"
            )
        );
        assert_eq!(remove_script("absent", &t).unwrap(), None);
        assert_eq!(networks(&t), vec!["net1".to_string()]);
    }

    #[test]
    fn check_reports_missing_pieces() {
        let n = net("net1", &["10.1.0.0/24"]);
        let e = check(&n, None).unwrap_err().to_string();
        assert!(e.contains("net1") && e.contains("does not exist"), "{e}");
        let t = parse_table(&table_with(&masq_chain("net1"), "")).unwrap();
        // The sample lacks the skeleton, so check must fail on it.
        assert!(check(&n, Some(&t)).is_err());
    }

    #[test]
    fn union_covers_every_subnet() {
        let n = net("net1", &["10.1.1.0/24"]);
        let union: Subnets = ["10.1.1.0/24", "10.1.0.0/24", "fd00::/64"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        let s = ensure_script(&n, &union).unwrap();
        let chain = masq_chain("net1");
        for want in [
            format!("add rule inet cnm {chain} ip daddr 10.1.0.0/24 return"),
            format!("add rule inet cnm {chain} ip daddr 10.1.1.0/24 return"),
            format!("add rule inet cnm {chain} ip6 daddr fd00::/64 return"),
            format!("add element inet cnm masq4 {{ 10.1.0.0/24 : jump {chain} }}"),
            format!("add element inet cnm masq4 {{ 10.1.1.0/24 : jump {chain} }}"),
            format!("add element inet cnm masq6 {{ fd00::/64 : jump {chain} }}"),
        ] {
            assert!(s.contains(&format!("{want}\n")), "{want} missing from {s}");
        }
    }

    #[test]
    fn live_subnets_of_one_network() {
        let chain = masq_chain("net1");
        let other = r#",[{"prefix":{"addr":"10.2.0.0","len":24}},{"jump":{"target":"masq-0000000000000000"}}],[{"prefix":{"addr":"10.3.0.0","len":24}},{"jump":{"target":"CHAIN"}}]"#
            .replace("CHAIN", &chain);
        let t = parse_table(&table_with(&chain, &other)).unwrap();
        let got: Vec<String> = live_subnets("net1", &t)
            .iter()
            .map(|n| n.to_string())
            .collect();
        assert_eq!(got, ["10.1.0.0/24", "10.3.0.0/24"]);
        assert!(live_subnets("absent", &t).is_empty());
    }
}
