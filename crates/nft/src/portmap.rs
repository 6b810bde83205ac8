//! Port mappings (reference `portmap` semantics) as elements of the maps `pm4`/`pm4any`/`pm6`/
//! `pm6any` plus hairpin/localhost SNAT elements in `pmsnat4`/`pmsnat6`, each element tagged
//! with the owner in its comment.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::net::IpAddr;

use ipnet::IpNet;

use crate::error::NftError;
use crate::name::{validate_container_id, validate_ifname, validate_network, MAX_COMMENT};
use crate::script::{check_skeleton, is_safe_key, net_text, skeleton};
use crate::state::TableState;

/// Transport protocol of a mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
    /// SCTP.
    Sctp,
}

impl Protocol {
    /// The nft name.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Sctp => "sctp",
        }
    }
}

/// One published port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortMapping {
    /// Port on the host (non-zero).
    pub host_port: u16,
    /// Port in the container (non-zero).
    pub container_port: u16,
    /// Protocol.
    pub protocol: Protocol,
    /// Host address; None, 0.0.0.0 or :: mean all local addresses (of that family).
    pub host_ip: Option<IpAddr>,
}

/// Who owns a set of mappings: one attachment.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Owner {
    /// Network name.
    pub network: String,
    /// CNI container id.
    pub container_id: String,
    /// Container interface name.
    pub ifname: String,
}

impl Owner {
    /// The element comment `network,container_id,ifname`, validated (no quotes, no commas inside).
    pub fn tag(&self) -> Result<String, NftError> {
        validate_network(&self.network)?;
        validate_container_id(&self.container_id)?;
        validate_ifname("interface name", &self.ifname)?;
        let tag = format!("{},{},{}", self.network, self.container_id, self.ifname);
        if tag.len() > MAX_COMMENT {
            return Err(NftError::InvalidName {
                what: "owner (network,container id,ifname)",
                value: tag,
                reason: "longer than the 127-byte nft comment limit",
            });
        }
        Ok(tag)
    }

    /// Parse a comment written by [`Owner::tag`]; None for foreign or malformed comments.
    pub fn from_tag(tag: &str) -> Option<Owner> {
        let mut it = tag.split(',');
        let owner = Owner {
            network: it.next()?.to_string(),
            container_id: it.next()?.to_string(),
            ifname: it.next()?.to_string(),
        };
        (it.next().is_none() && owner.tag().ok().as_deref() == Some(tag)).then_some(owner)
    }
}

/// One element to install.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Entry {
    /// Set or map name.
    pub set: &'static str,
    /// Key text (script and canonical form are identical for our keys).
    pub key: String,
    /// Map value, None for set elements.
    pub value: Option<String>,
    /// The mapping it comes from (None for SNAT elements).
    pub origin: Option<(Protocol, u16, Option<IpAddr>)>,
}

/// Turn mappings into elements; fails (nothing applied) on any invalid or duplicate mapping.
pub fn plan(
    tag: &str,
    container_addrs: &[IpNet],
    mappings: &[PortMapping],
    snat: bool,
) -> Result<Vec<Entry>, NftError> {
    let invalid = |reason: String| NftError::InvalidMapping {
        owner: tag.to_string(),
        reason,
    };
    let a4 = container_addrs.iter().find(|a| matches!(a, IpNet::V4(_)));
    let a6 = container_addrs.iter().find(|a| matches!(a, IpNet::V6(_)));
    let mut out = Vec::new();
    let mut keys = BTreeSet::new();
    let (mut used4, mut used6) = (false, false);
    for m in mappings {
        if m.host_port == 0 || m.container_port == 0 {
            return Err(invalid(format!("port 0 in mapping {m:?}")));
        }
        let proto = m.protocol.name();
        let origin = Some((m.protocol, m.host_port, m.host_ip));
        let mut targets: Vec<(&'static str, String, &IpNet)> = Vec::new();
        match m.host_ip {
            None => {
                if let Some(a) = a4 {
                    targets.push(("pm4any", format!("{proto} . {}", m.host_port), a));
                }
                if let Some(a) = a6 {
                    targets.push(("pm6any", format!("{proto} . {}", m.host_port), a));
                }
            }
            Some(ip) => {
                let (addr, set) = match ip {
                    IpAddr::V4(_) => (a4, if ip.is_unspecified() { "pm4any" } else { "pm4" }),
                    IpAddr::V6(_) => (a6, if ip.is_unspecified() { "pm6any" } else { "pm6" }),
                };
                let a = addr.ok_or_else(|| {
                    invalid(format!(
                        "host IP {ip} needs a container address of the same family (have {container_addrs:?})"
                    ))
                })?;
                let key = if ip.is_unspecified() {
                    format!("{proto} . {}", m.host_port)
                } else {
                    format!("{ip} . {proto} . {}", m.host_port)
                };
                targets.push((set, key, a));
            }
        }
        if targets.is_empty() {
            return Err(invalid(format!("no container address for mapping {m:?}")));
        }
        for (set, key, a) in targets {
            if !keys.insert((set, key.clone())) {
                return Err(invalid(format!(
                    "host port {proto}/{} is listed twice",
                    m.host_port
                )));
            }
            match a {
                IpNet::V4(_) => used4 = true,
                IpNet::V6(_) => used6 = true,
            }
            out.push(Entry {
                set,
                key,
                value: Some(format!("{} . {}", a.addr(), m.container_port)),
                origin,
            });
        }
    }
    if snat {
        if let Some(a) = a4.filter(|_| used4) {
            for src in [net_text(a), "127.0.0.0/8".to_string()] {
                out.push(snat_entry("pmsnat4", src, a));
            }
        }
        if let Some(a) = a6.filter(|_| used6) {
            out.push(snat_entry("pmsnat6", net_text(a), a));
        }
    }
    Ok(out)
}

fn snat_entry(set: &'static str, src: String, a: &IpNet) -> Entry {
    Entry {
        set,
        key: format!("{src} . {}", a.addr()),
        value: None,
        origin: None,
    }
}

/// Batch installing `entries`; `create` makes an already-published host port fail the batch.
/// `delete_first` lists (set, key) to remove in the same transaction (replacing an owner's state).
pub fn add_script(tag: &str, entries: &[Entry], delete_first: &[(String, String)]) -> String {
    let mut s = skeleton(&[]);
    for (set, key) in delete_first {
        let _ = writeln!(s, "delete element inet cnm {set} {{ {key} }}");
    }
    for e in entries {
        match &e.value {
            Some(v) => {
                let _ = writeln!(
                    s,
                    "create element inet cnm {} {{ {} comment \"{tag}\" : {v} }}",
                    e.set, e.key
                );
            }
            None => {
                let _ = writeln!(
                    s,
                    "add element inet cnm {} {{ {} comment \"{tag}\" }}",
                    e.set, e.key
                );
            }
        }
    }
    s
}

/// Sets holding port-mapping state.
pub const PM_SETS: &[&str] = &["pm4", "pm4any", "pm6", "pm6any", "pmsnat4", "pmsnat6"];

/// (set, key) of every element owned by `tag`.
pub fn owned(tag: &str, t: &TableState) -> Result<Vec<(String, String)>, NftError> {
    let mut out = Vec::new();
    for set in PM_SETS {
        for e in t.sets.get(*set).into_iter().flatten() {
            if e.comment.as_deref() == Some(tag) {
                if !is_safe_key(&e.key) {
                    return Err(NftError::Parse {
                        operation: "list table inet cnm".into(),
                        msg: format!("unexpected key {:?} in set {set}", e.key),
                    });
                }
                out.push((set.to_string(), e.key.clone()));
            }
        }
    }
    Ok(out)
}

/// Batch deleting the given elements, None when there are none.
pub fn remove_script(owned: &[(String, String)]) -> Option<String> {
    let mut s = String::new();
    for (set, key) in owned {
        let _ = writeln!(s, "delete element inet cnm {set} {{ {key} }}");
    }
    (!s.is_empty()).then_some(s)
}

/// The first entry whose key is held by another owner.
pub fn find_conflict(tag: &str, entries: &[Entry], t: &TableState) -> Option<NftError> {
    for e in entries {
        let Some((protocol, host_port, host_ip)) = e.origin else {
            continue;
        };
        let Some(holder) = t
            .sets
            .get(e.set)
            .into_iter()
            .flatten()
            .find(|x| x.key == e.key)
        else {
            continue;
        };
        if holder.comment.as_deref() != Some(tag) {
            return Some(NftError::PortConflict {
                protocol: protocol.name(),
                host_port,
                host_ip,
                owner: holder
                    .comment
                    .clone()
                    .unwrap_or_else(|| "an untagged element".into()),
                requester: tag.to_string(),
            });
        }
    }
    None
}

/// Compare the owner's elements with the plan: none missing, none extra, same targets.
pub fn check(tag: &str, entries: &[Entry], t: Option<&TableState>) -> Result<(), NftError> {
    let missing = |what: String| NftError::Missing {
        subject: format!("port mappings of {tag}"),
        what,
    };
    let t = t.ok_or_else(|| missing("table inet cnm does not exist".into()))?;
    check_skeleton(t).map_err(missing)?;
    let want: BTreeSet<(String, String, Option<String>)> = entries
        .iter()
        .map(|e| (e.set.to_string(), e.key.clone(), e.value.clone()))
        .collect();
    let mut have = BTreeSet::new();
    for set in PM_SETS {
        for e in t.sets.get(*set).into_iter().flatten() {
            if e.comment.as_deref() == Some(tag) {
                have.insert((set.to_string(), e.key.clone(), e.value.clone()));
            }
        }
    }
    if let Some(w) = want.difference(&have).next() {
        return Err(missing(format!(
            "element {} {{ {} }} -> {:?} is missing",
            w.0, w.1, w.2
        )));
    }
    if let Some(h) = have.difference(&want).next() {
        return Err(missing(format!(
            "unexpected element {} {{ {} }} -> {:?}",
            h.0, h.1, h.2
        )));
    }
    Ok(())
}

/// Every owner with at least one element.
pub fn owners(t: &TableState) -> Vec<Owner> {
    let set: BTreeSet<Owner> = PM_SETS
        .iter()
        .flat_map(|s| t.sets.get(*s).into_iter().flatten())
        .filter_map(|e| Owner::from_tag(e.comment.as_deref()?))
        .collect();
    set.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::parse_table;

    fn pm(h: u16, c: u16, p: Protocol, ip: Option<&str>) -> PortMapping {
        PortMapping {
            host_port: h,
            container_port: c,
            protocol: p,
            host_ip: ip.map(|s| s.parse().unwrap()),
        }
    }

    fn addrs(a: &[&str]) -> Vec<IpNet> {
        a.iter().map(|s| s.parse().unwrap()).collect()
    }

    #[test]
    fn owner_tag_roundtrip_and_validation() {
        let o = Owner {
            network: "net1".into(),
            container_id: "abc".into(),
            ifname: "eth0".into(),
        };
        assert_eq!(o.tag().unwrap(), "net1,abc,eth0");
        assert_eq!(Owner::from_tag("net1,abc,eth0"), Some(o.clone()));
        assert_eq!(Owner::from_tag("net1,abc"), None);
        assert_eq!(Owner::from_tag("net1,abc,eth0,x"), None);
        assert_eq!(Owner::from_tag("cnm:net1"), None);
        let bad = Owner {
            ifname: "e\"th".into(),
            ..o.clone()
        };
        assert!(bad.tag().is_err());
        let long = Owner {
            container_id: "a".repeat(120),
            ..o
        };
        assert!(long.tag().is_err());
    }

    #[test]
    fn add_golden() {
        let entries = plan(
            "n,c,eth0",
            &addrs(&["10.1.0.5/24", "fd00::5/64"]),
            &[
                pm(8080, 80, Protocol::Tcp, None),
                pm(53, 5353, Protocol::Udp, Some("192.168.1.1")),
            ],
            true,
        )
        .unwrap();
        let s = add_script("n,c,eth0", &entries, &[]);
        let body = &s[skeleton(&[]).len()..];
        assert_eq!(
            body,
            "create element inet cnm pm4any { tcp . 8080 comment \"n,c,eth0\" : 10.1.0.5 . 80 }
create element inet cnm pm6any { tcp . 8080 comment \"n,c,eth0\" : fd00::5 . 80 }
create element inet cnm pm4 { 192.168.1.1 . udp . 53 comment \"n,c,eth0\" : 10.1.0.5 . 5353 }
add element inet cnm pmsnat4 { 10.1.0.0/24 . 10.1.0.5 comment \"n,c,eth0\" }
add element inet cnm pmsnat4 { 127.0.0.0/8 . 10.1.0.5 comment \"n,c,eth0\" }
add element inet cnm pmsnat6 { fd00::/64 . fd00::5 comment \"n,c,eth0\" }
"
        );
    }

    #[test]
    fn plan_rules() {
        let a = addrs(&["10.1.0.5/24"]);
        // No SNAT: only DNAT elements.
        let e = plan("t", &a, &[pm(1, 2, Protocol::Sctp, Some("0.0.0.0"))], false).unwrap();
        assert_eq!(e.len(), 1);
        assert_eq!((e[0].set, e[0].key.as_str()), ("pm4any", "sctp . 1"));
        // Invalid port, duplicate, family mismatch, no address at all.
        assert!(plan("t", &a, &[pm(0, 2, Protocol::Tcp, None)], false).is_err());
        let dup = [pm(1, 2, Protocol::Tcp, None), pm(1, 3, Protocol::Tcp, None)];
        assert!(plan("t", &a, &dup, false).is_err());
        assert!(plan("t", &a, &[pm(1, 2, Protocol::Tcp, Some("fd00::1"))], false).is_err());
        assert!(plan("t", &[], &[pm(1, 2, Protocol::Tcp, None)], false).is_err());
        // Same port, different protocols: fine.
        let ok = [pm(1, 2, Protocol::Tcp, None), pm(1, 2, Protocol::Udp, None)];
        assert_eq!(plan("t", &a, &ok, false).unwrap().len(), 2);
    }

    const LISTED: &str = r#"{"nftables":[
{"map":{"name":"pm4any","elem":[
  [{"elem":{"val":{"concat":["tcp",8080]},"comment":"n,c,eth0"}},{"concat":["10.1.0.5",80]}],
  [{"elem":{"val":{"concat":["tcp",9090]},"comment":"n,d,eth0"}},{"concat":["10.1.0.6",90]}]]}},
{"set":{"name":"pmsnat4","elem":[{"elem":{"val":{"concat":[{"prefix":{"addr":"10.1.0.0","len":24}},"10.1.0.5"]},"comment":"n,c,eth0"}}]}}
]}"#;

    #[test]
    fn remove_and_owners_and_conflict() {
        let t = parse_table(LISTED).unwrap();
        let mine = owned("n,c,eth0", &t).unwrap();
        assert_eq!(
            remove_script(&mine).unwrap(),
            "delete element inet cnm pm4any { tcp . 8080 }\ndelete element inet cnm pmsnat4 { 10.1.0.0/24 . 10.1.0.5 }\n"
        );
        assert_eq!(remove_script(&owned("n,x,eth0", &t).unwrap()), None);
        let names: Vec<String> = owners(&t).into_iter().map(|o| o.container_id).collect();
        assert_eq!(names, ["c", "d"]);
        let wanted = [
            pm(1234, 1, Protocol::Tcp, None),
            pm(9090, 1, Protocol::Tcp, None),
        ];
        let e = plan("n,x,eth0", &addrs(&["10.1.0.7/24"]), &wanted, false).unwrap();
        let err = find_conflict("n,x,eth0", &e, &t).unwrap().to_string();
        assert!(
            err.contains("tcp/9090") && err.contains("n,d,eth0"),
            "{err}"
        );
        let e = plan(
            "n,d,eth0",
            &addrs(&["10.1.0.6/24"]),
            &[pm(9090, 90, Protocol::Tcp, None)],
            false,
        )
        .unwrap();
        assert!(find_conflict("n,d,eth0", &e, &t).is_none());
    }
}
