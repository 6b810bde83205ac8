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

pub(crate) fn map_for(n: &IpNet) -> &'static str {
    match n {
        IpNet::V4(_) => "masq4",
        IpNet::V6(_) => "masq6",
    }
}

/// The whole idempotent batch for `ensure_masquerade`: the chain rebuilt from `subnets` (the
/// union of every subnet of the network) and one map element per subnet.
pub fn ensure_script(net: &MasqNet<'_>, subnets: &Subnets) -> Result<String, NftError> {
    takeover_script(net, subnets, &[])
}

/// [`ensure_script`] that first deletes `displaced` map elements (other networks' elements
/// overlapping the subnets, see [`Takeover`]) in the same transaction, so the network takes
/// those subnets over atomically.
pub fn takeover_script(
    net: &MasqNet<'_>,
    subnets: &Subnets,
    displaced: &[ForeignElem],
) -> Result<String, NftError> {
    net.validated()?;
    let subnets: Vec<IpNet> = subnets.iter().copied().collect();
    let chain = masq_chain(net.network);
    let mut s = skeleton(&[&chain]);
    for d in displaced {
        let _ = writeln!(s, "delete element inet cnm {} {{ {} }}", d.map, d.key);
    }
    s.push_str(&chain_body(net, &subnets, &subnets));
    Ok(s)
}

/// The network chain rebuilt from `subnets` (flushed, then its rules), and one map element per
/// subnet of `elems`: the part of a batch after the skeleton, which must declare the chain.
/// `net` must be validated.
pub fn chain_body(net: &MasqNet<'_>, subnets: &[IpNet], elems: &[IpNet]) -> String {
    let chain = masq_chain(net.network);
    let mut s = String::new();
    let _ = writeln!(s, "flush chain inet cnm {chain}");
    for (text, _) in chain_rules(net, subnets) {
        let _ = writeln!(s, "add rule inet cnm {chain} {text}");
    }
    for n in elems {
        let _ = writeln!(
            s,
            "add element inet cnm {} {{ {} : jump {chain} }}",
            map_for(n),
            net_text(n)
        );
    }
    s
}

/// A masquerade map element that jumps to another network's chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignElem {
    /// `masq4` or `masq6`.
    pub map: &'static str,
    /// The element's key as listed (validated with [`is_safe_key`]).
    pub key: String,
    /// The chain it jumps to (`masq-<hash>`, also the name of that network's state file).
    pub chain: String,
}

/// How an ensure that the kernel refused (a subnet held by another network) goes on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Takeover {
    /// Other networks' elements overlapping a requested subnet: deleted in the same batch.
    pub displaced: Vec<ForeignElem>,
    /// Subnets only remembered from earlier ensures that another network holds now: dropped
    /// from this network (the newer owner keeps them).
    pub given_up: Subnets,
}

fn elem_net(key: &str) -> Option<IpNet> {
    key.parse::<IpNet>()
        .ok()
        .or_else(|| key.parse::<std::net::IpAddr>().ok().map(IpNet::from))
}

/// `masq-` and 16 lowercase hex digits, as [`masq_chain`] names them (safe in a script).
fn is_masq_chain(name: &str) -> bool {
    name.strip_prefix("masq-").is_some_and(|h| {
        h.len() == 16
            && h.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

pub(crate) fn overlaps(a: &IpNet, b: &IpNet) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// Plan the takeover of `want` (the requested subnets) for `network`, whose remembered subnets
/// are `union` (a superset of `want`), from the listed table.
pub fn plan_takeover(
    network: &str,
    want: &Subnets,
    union: &Subnets,
    t: &TableState,
) -> Result<Takeover, NftError> {
    let own = format!("jump {}", masq_chain(network));
    let mut plan = Takeover::default();
    for map in ["masq4", "masq6"] {
        for e in t.sets.get(map).into_iter().flatten() {
            let Some(target) = e.value.as_deref().filter(|v| *v != own) else {
                continue;
            };
            let Some(key) = elem_net(&e.key) else {
                continue;
            };
            if want.iter().any(|w| overlaps(w, &key)) {
                let chain = target.strip_prefix("jump ").unwrap_or_default();
                if !is_safe_key(&e.key) || !is_masq_chain(chain) {
                    return Err(NftError::Parse {
                        operation: "list table inet cnm".into(),
                        msg: format!("unexpected element {:?} : {target:?} in map {map}", e.key),
                    });
                }
                plan.displaced.push(ForeignElem {
                    map,
                    key: e.key.clone(),
                    chain: chain.to_string(),
                });
            } else {
                plan.given_up.extend(
                    union
                        .iter()
                        .filter(|u| !want.contains(u) && overlaps(u, &key)),
                );
            }
        }
    }
    Ok(plan)
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
    for (map, key, heir) in hand_back(network, t) {
        let _ = writeln!(s, "add element inet cnm {map} {{ {key} : jump {heir} }}");
    }
    Ok((!s.is_empty()).then_some(s))
}

/// When `network` goes, the subnets it took over go back to networks that still have their
/// chain: a chain returning for a subnet `S` (`ip daddr S return`) that overlaps a removed
/// element gets `S` back, unless another element still covers part of `S` (first such chain in
/// name order wins). Returns (map, key, chain) of the elements to add.
fn hand_back(network: &str, t: &TableState) -> Vec<(&'static str, String, String)> {
    let chain = masq_chain(network);
    let verdict = format!("jump {chain}");
    let mut out = Vec::new();
    for (map, proto, multicast) in [("masq4", "ip", "224.0.0.0/4"), ("masq6", "ip6", "ff00::/8")] {
        let (gone, mut taken): (Vec<IpNet>, Vec<IpNet>) = {
            let elems = t.sets.get(map).into_iter().flatten();
            let (gone, kept): (Vec<_>, Vec<_>) =
                elems.partition(|e| e.value.as_deref() == Some(verdict.as_str()));
            (
                gone.iter().filter_map(|e| elem_net(&e.key)).collect(),
                kept.iter().filter_map(|e| elem_net(&e.key)).collect(),
            )
        };
        if gone.is_empty() {
            continue;
        }
        let prefix = format!("{proto} daddr ");
        for (name, c) in &t.chains {
            let heir_ok = is_masq_chain(name) && **name != chain && masquerades(t, name);
            if !heir_ok {
                continue;
            }
            for r in &c.rules {
                let Some(subnet) = r
                    .text
                    .strip_prefix(&prefix)
                    .and_then(|rest| rest.strip_suffix(" return"))
                    .filter(|s| *s != multicast)
                    .and_then(elem_net)
                else {
                    continue;
                };
                if gone.iter().any(|g| overlaps(g, &subnet))
                    && !taken.iter().any(|k| overlaps(k, &subnet))
                {
                    taken.push(subnet);
                    out.push((map, net_text(&subnet), name.clone()));
                }
            }
        }
    }
    out
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
        let elems = || t.sets.get(map_for(n)).into_iter().flatten();
        let own = elems().any(|e| e.key == key && e.value.as_deref() == Some(verdict.as_str()));
        // Shared with another live network that took the subnet over: its chain masquerades
        // this network's traffic too, as long as its element covers the whole subnet.
        let covered = || {
            elems().any(|e| {
                let target = e.value.as_deref().and_then(|v| v.strip_prefix("jump "));
                elem_net(&e.key).is_some_and(|k| k.contains(n))
                    && target.is_some_and(|c| is_masq_chain(c) && masquerades(t, c))
            })
        };
        if !own && !covered() {
            return Err(missing(format!(
                "map {} has no element {key} : {verdict}",
                map_for(n)
            )));
        }
    }
    Ok(())
}

/// True when chain `chain` ends with a masquerade rule of ours.
fn masquerades(t: &TableState, chain: &str) -> bool {
    t.chains
        .get(chain)
        .and_then(|c| c.rules.last())
        .is_some_and(|r| {
            r.text == "masquerade" && r.comment.as_deref().is_some_and(|c| c.starts_with("cnm:"))
        })
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

    fn listed(elems: &[(&str, &str)], chains: &[(&str, &[&str])]) -> TableState {
        let elems: Vec<String> = elems
            .iter()
            .map(|(net, chain)| {
                let (addr, len) = net.split_once('/').unwrap();
                format!(
                    r#"[{{"prefix":{{"addr":"{addr}","len":{len}}}}},{{"jump":{{"target":"{chain}"}}}}]"#
                )
            })
            .collect();
        let mut items = vec![format!(
            r#"{{"map":{{"name":"masq4","elem":[{}]}}}},{{"map":{{"name":"masq6"}}}}"#,
            elems.join(",")
        )];
        for (chain, returns) in chains {
            items.push(format!(r#"{{"chain":{{"name":"{chain}"}}}}"#));
            for (i, r) in returns.iter().enumerate() {
                let (addr, len) = r.split_once('/').unwrap();
                items.push(format!(
                    r#"{{"rule":{{"chain":"{chain}","handle":{i},"expr":[{{"match":{{"op":"==","left":{{"payload":{{"protocol":"ip","field":"daddr"}}}},"right":{{"prefix":{{"addr":"{addr}","len":{len}}}}}}}}},{{"return":null}}]}}}}"#
                ));
            }
            items.push(format!(
                r#"{{"rule":{{"chain":"{chain}","handle":99,"comment":"cnm:x","expr":[{{"masquerade":null}}]}}}}"#
            ));
        }
        parse_table(&format!(r#"{{"nftables":[{}]}}"#, items.join(","))).unwrap()
    }

    fn subnets(v: &[&str]) -> Subnets {
        v.iter().map(|s| s.parse().unwrap()).collect()
    }

    #[test]
    fn takeover_displaces_overlaps_and_gives_up_remembered() {
        let (a, b) = (masq_chain("a"), masq_chain("b"));
        let t = listed(
            &[
                ("10.1.0.0/16", &a),
                ("10.2.0.0/24", &a),
                ("10.3.0.0/24", &b),
            ],
            &[],
        );
        let want = subnets(&["10.1.5.0/24"]);
        let union = subnets(&["10.1.5.0/24", "10.2.0.0/24", "10.3.0.0/24"]);
        let plan = plan_takeover("b", &want, &union, &t).unwrap();
        assert_eq!(
            plan.displaced,
            [ForeignElem {
                map: "masq4",
                key: "10.1.0.0/16".into(),
                chain: a.clone()
            }]
        );
        assert_eq!(plan.given_up, subnets(&["10.2.0.0/24"]));
        let n = net("b", &["10.1.5.0/24"]);
        let s = takeover_script(&n, &subnets(&["10.1.5.0/24"]), &plan.displaced).unwrap();
        let del = s
            .find("delete element inet cnm masq4 { 10.1.0.0/16 }\n")
            .unwrap();
        let add = s
            .find(&format!(
                "add element inet cnm masq4 {{ 10.1.5.0/24 : jump {b} }}"
            ))
            .unwrap();
        assert!(del < add, "{s}");
        // Nothing foreign: an empty plan (the caller reports the original error).
        let t = listed(&[("10.3.0.0/24", &b)], &[]);
        assert_eq!(
            plan_takeover("b", &want, &union, &t).unwrap(),
            Takeover::default()
        );
    }

    #[test]
    fn remove_hands_subnets_back() {
        let (a, b, c) = (masq_chain("a"), masq_chain("b"), masq_chain("c"));
        // b took 10.1.5.0/24 (inside a's /16) and 10.9.0.0/24 (nobody else's); c still has an
        // element overlapping nothing of b's.
        let t = listed(
            &[
                ("10.1.5.0/24", &b),
                ("10.9.0.0/24", &b),
                ("10.7.0.0/24", &c),
            ],
            &[
                (&a, &["10.1.0.0/16", "10.7.0.0/24"]),
                (&b, &["10.1.5.0/24", "10.9.0.0/24"]),
                (&c, &["10.7.0.0/24"]),
            ],
        );
        let s = remove_script("b", &t).unwrap().unwrap();
        assert!(
            s.ends_with(&format!(
                "delete chain inet cnm {b}\nadd element inet cnm masq4 {{ 10.1.0.0/16 : jump {a} }}\n"
            )),
            "{s}"
        );
        assert!(!s.contains("10.7.0.0/24"), "{s}");
    }
}
