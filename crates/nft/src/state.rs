//! Reading our table back: `nft -j list table inet cnm` parsed into chains, rules and set elements,
//! each rendered to a canonical one-line text used for comparisons.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::error::NftError;
use crate::exec::NftCommand;
use crate::script::{FAMILY, TABLE};

/// One rule of a chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleState {
    /// Kernel handle (for `delete rule ... handle N`).
    pub handle: u64,
    /// Canonical text of the expressions (see [`render`]), comment excluded.
    pub text: String,
    /// The rule comment.
    pub comment: Option<String>,
}

/// One chain.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChainState {
    /// `Some((type, hook, prio))` for base chains.
    pub base: Option<(String, String, i64)>,
    /// Rules in order.
    pub rules: Vec<RuleState>,
}

/// One set or map element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElemState {
    /// Canonical key text.
    pub key: String,
    /// Canonical value text for maps.
    pub value: Option<String>,
    /// Element comment (our owner tag).
    pub comment: Option<String>,
}

/// The whole `inet cnm` table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableState {
    /// Chains by name.
    pub chains: BTreeMap<String, ChainState>,
    /// Elements of every set and map, by set name (present even when empty).
    pub sets: BTreeMap<String, Vec<ElemState>>,
}

const LIST_OP: &str = "list table inet cnm";

/// List the table; `Ok(None)` when it does not exist.
pub fn read_table(nft: &NftCommand) -> Result<Option<TableState>, NftError> {
    read_named_table(nft, FAMILY, TABLE)
}

/// List any table of ours (`family name`); `Ok(None)` when it does not exist.
pub fn read_named_table(
    nft: &NftCommand,
    family: &str,
    table: &str,
) -> Result<Option<TableState>, NftError> {
    let op = format!("list table {family} {table}");
    match nft.run(&op, &["-j", "list", "table", family, table], "") {
        Ok(out) => parse_table(&out.stdout).map(Some),
        Err(NftError::Failed { stderr, .. }) if stderr.contains("No such file or directory") => {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

fn parse_err(msg: impl Into<String>) -> NftError {
    NftError::Parse {
        operation: LIST_OP.to_string(),
        msg: msg.into(),
    }
}

/// Parse the JSON printed by `nft -j list table inet cnm`.
pub fn parse_table(json: &str) -> Result<TableState, NftError> {
    let v: Value = serde_json::from_str(json).map_err(|e| parse_err(e.to_string()))?;
    let items = v
        .get("nftables")
        .and_then(Value::as_array)
        .ok_or_else(|| parse_err("no \"nftables\" array"))?;
    let mut t = TableState::default();
    for item in items {
        if let Some(c) = item.get("chain") {
            let name = str_field(c, "name")?;
            let base = match (c.get("type"), c.get("hook"), c.get("prio")) {
                (Some(ty), Some(hook), Some(prio)) => Some((
                    ty.as_str().unwrap_or_default().to_string(),
                    hook.as_str().unwrap_or_default().to_string(),
                    prio.as_i64().unwrap_or_default(),
                )),
                _ => None,
            };
            t.chains.entry(name).or_default().base = base;
        } else if let Some(r) = item.get("rule") {
            let chain = str_field(r, "chain")?;
            let handle = r
                .get("handle")
                .and_then(Value::as_u64)
                .ok_or_else(|| parse_err("rule without handle"))?;
            let exprs = r
                .get("expr")
                .and_then(Value::as_array)
                .ok_or_else(|| parse_err("rule without expr"))?;
            let text = exprs.iter().map(render).collect::<Vec<_>>().join(" ");
            let comment = r.get("comment").and_then(Value::as_str).map(str::to_string);
            t.chains.entry(chain).or_default().rules.push(RuleState {
                handle,
                text,
                comment,
            });
        } else if let Some(s) = item.get("set").or_else(|| item.get("map")) {
            let name = str_field(s, "name")?;
            let is_map = item.get("map").is_some();
            let mut elems = Vec::new();
            for e in s
                .get("elem")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                elems.push(parse_elem(e, is_map)?);
            }
            t.sets.insert(name, elems);
        }
    }
    Ok(t)
}

fn str_field(v: &Value, key: &str) -> Result<String, NftError> {
    v.get(key)
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| parse_err(format!("object without {key:?}: {v}")))
}

fn parse_elem(e: &Value, is_map: bool) -> Result<ElemState, NftError> {
    let (k, value) = if is_map {
        let pair = e
            .as_array()
            .filter(|a| a.len() == 2)
            .ok_or_else(|| parse_err(format!("map element is not a [key, value] pair: {e}")))?;
        (&pair[0], Some(render(&pair[1])))
    } else {
        (e, None)
    };
    let (key, comment) = match k.get("elem") {
        Some(inner) => (
            inner.get("val").map(render).unwrap_or_default(),
            inner
                .get("comment")
                .and_then(Value::as_str)
                .map(str::to_string),
        ),
        None => (render(k), None),
    };
    Ok(ElemState {
        key,
        value,
        comment,
    })
}

/// Canonical text of one JSON expression: close to nft syntax, with `meta` always spelled out,
/// `==`/`in` omitted and comments dropped. Unknown shapes fall back to compact JSON.
pub fn render(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Array(a) => a.iter().map(render).collect::<Vec<_>>().join(" "),
        Value::Object(o) if o.len() == 1 => {
            let (k, inner) = o
                .iter()
                .next()
                .map(|(k, v)| (k.as_str(), v))
                .unwrap_or(("", v));
            render_keyed(k, inner).unwrap_or_else(|| v.to_string())
        }
        _ => v.to_string(),
    }
}

fn render_keyed(k: &str, v: &Value) -> Option<String> {
    let field = |name: &str| v.get(name).map(render).unwrap_or_default();
    Some(match k {
        "match" => {
            let op = v.get("op").and_then(Value::as_str).unwrap_or("==");
            if op == "==" || op == "in" {
                format!("{} {}", field("left"), field("right"))
            } else {
                format!("{} {op} {}", field("left"), field("right"))
            }
        }
        "payload" => format!("{} {}", field("protocol"), field("field")),
        "meta" => format!("meta {}", field("key")),
        "ct" => format!("ct {}", field("key")),
        "fib" => format!("fib {} {}", field("flags"), field("result")),
        "concat" => v
            .as_array()?
            .iter()
            .map(render)
            .collect::<Vec<_>>()
            .join(" . "),
        "prefix" => format!("{}/{}", field("addr"), field("len")),
        "range" => {
            let r = v.as_array()?;
            format!("{}-{}", render(r.first()?), render(r.get(1)?))
        }
        "set" => match v {
            Value::Array(a) => format!(
                "{{ {} }}",
                a.iter().map(render).collect::<Vec<_>>().join(", ")
            ),
            other => render(other),
        },
        "elem" => field("val"),
        "jump" | "goto" => format!("{k} {}", field("target")),
        "masquerade" | "return" | "accept" | "drop" | "continue" => k.to_string(),
        "vmap" | "map" => format!("{} {k} {}", field("key"), field("data")),
        "dnat" | "snat" => {
            let mut s = k.to_string();
            if let Some(f) = v.get("family") {
                s.push(' ');
                s.push_str(&render(f));
            }
            s.push_str(" to ");
            s.push_str(&field("addr"));
            if let Some(p) = v.get("port") {
                s.push(':');
                s.push_str(&render(p));
            }
            s
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // Captured from nft 1.0.6 (`nft -j list table inet cnm`), trimmed.
    const SAMPLE: &str = r#"{"nftables": [{"metainfo": {"version": "1.0.6", "json_schema_version": 1}},
 {"table": {"family": "inet", "name": "cnm", "handle": 46}},
 {"map": {"family": "inet", "name": "masq4", "table": "cnm", "type": "ipv4_addr", "handle": 6, "map": "verdict", "flags": ["interval"], "elem": [[{"prefix": {"addr": "10.1.0.0", "len": 24}}, {"jump": {"target": "masq-abc"}}]]}},
 {"map": {"family": "inet", "name": "pm4", "table": "cnm", "type": ["ipv4_addr", "inet_proto", "inet_service"], "handle": 7, "map": "ipv4_addr . inet_service", "elem": [[{"elem": {"val": {"concat": ["192.168.1.1", "udp", 53]}, "comment": "net1,abc,eth0"}}, {"concat": ["10.1.0.5", 53]}]]}},
 {"map": {"family": "inet", "name": "pm6any", "table": "cnm", "type": ["inet_proto", "inet_service"], "handle": 9, "map": "ipv6_addr . inet_service"}},
 {"set": {"family": "inet", "name": "pmsnat4", "table": "cnm", "type": ["ipv4_addr", "ipv4_addr"], "handle": 10, "flags": ["interval"], "elem": [{"elem": {"val": {"concat": [{"prefix": {"addr": "10.1.0.0", "len": 24}}, "10.1.0.5"]}, "comment": "net1,abc,eth0"}}]}},
 {"chain": {"family": "inet", "table": "cnm", "name": "masq-abc", "handle": 1}},
 {"chain": {"family": "inet", "table": "cnm", "name": "postrouting", "handle": 2, "type": "nat", "hook": "postrouting", "prio": 100, "policy": "accept"}},
 {"rule": {"family": "inet", "table": "cnm", "chain": "masq-abc", "handle": 12, "expr": [{"match": {"op": "==", "left": {"meta": {"key": "oifname"}}, "right": "br0"}}, {"return": null}]}},
 {"rule": {"family": "inet", "table": "cnm", "chain": "masq-abc", "handle": 14, "expr": [{"match": {"op": "!=", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": {"set": [{"prefix": {"addr": "10.9.0.0", "len": 16}}, "1.2.3.4"]}}}, {"return": null}]}},
 {"rule": {"family": "inet", "table": "cnm", "chain": "masq-abc", "handle": 15, "comment": "cnm:net1", "expr": [{"masquerade": null}]}},
 {"rule": {"family": "inet", "table": "cnm", "chain": "postrouting", "handle": 16, "expr": [{"match": {"op": "in", "left": {"ct": {"key": "status"}}, "right": "dnat"}}, {"match": {"op": "==", "left": {"concat": [{"payload": {"protocol": "ip", "field": "saddr"}}, {"payload": {"protocol": "ip", "field": "daddr"}}]}, "right": "@pmsnat4"}}, {"masquerade": null}]}},
 {"rule": {"family": "inet", "table": "cnm", "chain": "postrouting", "handle": 17, "expr": [{"vmap": {"key": {"payload": {"protocol": "ip", "field": "saddr"}}, "data": "@masq4"}}]}},
 {"rule": {"family": "inet", "table": "cnm", "chain": "hostports", "handle": 19, "expr": [{"match": {"op": "==", "left": {"meta": {"key": "nfproto"}}, "right": "ipv4"}}, {"dnat": {"family": "ip", "addr": {"map": {"key": {"concat": [{"meta": {"key": "l4proto"}}, {"payload": {"protocol": "th", "field": "dport"}}]}, "data": "@pm4any"}}}}]}},
 {"rule": {"family": "inet", "table": "cnm", "chain": "prerouting", "handle": 21, "expr": [{"match": {"op": "==", "left": {"fib": {"result": "type", "flags": ["daddr"]}}, "right": "local"}}, {"jump": {"target": "hostports"}}]}}
]}"#;

    #[test]
    fn parses_sample() {
        let t = parse_table(SAMPLE).unwrap();
        let masq = &t.chains["masq-abc"];
        assert_eq!(masq.base, None);
        let texts: Vec<_> = masq.rules.iter().map(|r| r.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "meta oifname br0 return",
                "ip daddr != { 10.9.0.0/16, 1.2.3.4 } return",
                "masquerade"
            ]
        );
        assert_eq!(masq.rules[2].comment.as_deref(), Some("cnm:net1"));
        assert_eq!(masq.rules[2].handle, 15);
        assert_eq!(
            t.chains["postrouting"].base,
            Some(("nat".into(), "postrouting".into(), 100))
        );
        let post: Vec<_> = t.chains["postrouting"]
            .rules
            .iter()
            .map(|r| r.text.as_str())
            .collect();
        assert_eq!(
            post,
            [
                "ct status dnat ip saddr . ip daddr @pmsnat4 masquerade",
                "ip saddr vmap @masq4"
            ]
        );
        assert_eq!(
            t.chains["hostports"].rules[0].text,
            "meta nfproto ipv4 dnat ip to meta l4proto . th dport map @pm4any"
        );
        assert_eq!(
            t.chains["prerouting"].rules[0].text,
            "fib daddr type local jump hostports"
        );
        assert_eq!(
            t.sets["masq4"],
            vec![ElemState {
                key: "10.1.0.0/24".into(),
                value: Some("jump masq-abc".into()),
                comment: None
            }]
        );
        assert_eq!(
            t.sets["pm4"],
            vec![ElemState {
                key: "192.168.1.1 . udp . 53".into(),
                value: Some("10.1.0.5 . 53".into()),
                comment: Some("net1,abc,eth0".into())
            }]
        );
        assert_eq!(t.sets["pm6any"], vec![]);
        assert_eq!(t.sets["pmsnat4"][0].key, "10.1.0.0/24 . 10.1.0.5");
    }

    #[test]
    fn rejects_garbage() {
        assert!(matches!(parse_table("nope"), Err(NftError::Parse { .. })));
        assert!(matches!(parse_table("{}"), Err(NftError::Parse { .. })));
        let bad_map = r#"{"nftables":[{"map":{"name":"m","elem":[["only-key"]]}}]}"#;
        assert!(parse_table(bad_map).is_err());
    }
}
