//! What to remove: from a saved `nat` table and a selection (the chains and
//! rule comments of some containers), the `iptables-restore --noflush`
//! script that deletes the rules jumping to those chains or tagged with those
//! comments, then flushes and deletes the chains.

use std::collections::BTreeSet;

use crate::names::{
    dnat_chain, dnat_comment, masq_chain, masq_comment, old_snat_chain, parse_comment,
};
use crate::save::Table;

/// Which reference plugin's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The reference bridge's `ipMasq` chain and its POSTROUTING jump.
    Masq,
    /// The reference portmap's DNAT chain and its entries in `CNI-HOSTPORT-DNAT`.
    Portmap,
}

/// The chains and comments of some containers' state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    pub chains: BTreeSet<String>,
    pub comments: BTreeSet<String>,
}

impl Selection {
    /// The state of one container of `network`.
    pub fn of(kind: Kind, network: &str, container_id: &str) -> Selection {
        let mut s = Selection::default();
        s.add(kind, network, container_id);
        s
    }

    pub fn add(&mut self, kind: Kind, network: &str, container_id: &str) {
        match kind {
            Kind::Masq => {
                self.chains.insert(masq_chain(network, container_id));
                self.comments.insert(masq_comment(network, container_id));
            }
            Kind::Portmap => {
                self.chains.insert(dnat_chain(network, container_id));
                self.chains.insert(old_snat_chain(network, container_id));
                self.comments.insert(dnat_comment(network, container_id));
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.chains.is_empty() && self.comments.is_empty()
    }
}

/// Container IDs of `network` whose `kind` state is in the table and for
/// which `keep` says no (GC).
pub fn stale_ids(
    t: &Table,
    kind: Kind,
    network: &str,
    keep: &dyn Fn(&str) -> bool,
) -> BTreeSet<String> {
    t.rules
        .iter()
        .filter_map(|r| parse_comment(r.comment.as_deref()?, network))
        .filter(|(dnat, _)| *dnat == (kind == Kind::Portmap))
        .map(|(_, id)| id)
        .filter(|id| !keep(id))
        .collect()
}

/// The restore script removing `sel` from table `table` (saved as `t`), or
/// None when none of it is there.
pub fn removal_script(table: &str, t: &Table, sel: &Selection) -> Option<String> {
    let doomed: Vec<&String> = t
        .chains
        .iter()
        .filter(|c| sel.chains.contains(*c))
        .collect();
    let mut lines = Vec::new();
    for r in &t.rules {
        if doomed.iter().any(|c| **c == r.chain) {
            continue;
        }
        let jumps = r.target.as_ref().is_some_and(|x| doomed.contains(&x));
        let tagged = r.comment.as_ref().is_some_and(|c| sel.comments.contains(c));
        if jumps || tagged {
            lines.push(format!("-D {} {}", r.chain, r.spec));
        }
    }
    for c in &doomed {
        lines.push(format!("-F {c}"));
    }
    for c in &doomed {
        lines.push(format!("-X {c}"));
    }
    if lines.is_empty() {
        return None;
    }
    Some(format!("*{table}\n{}\nCOMMIT\n", lines.join("\n")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::save::{parse, tests::SAMPLE};

    #[test]
    fn masq_of_one_container() {
        let t = parse(SAMPLE);
        let s = removal_script("nat", &t, &Selection::of(Kind::Masq, "refnet", "ctr-abc"))
            .expect("something to remove");
        assert_eq!(
            s,
            "*nat\n\
             -D POSTROUTING -s 10.251.7.2/32 -m comment --comment \"name: \\\"refnet\\\" id: \\\"ctr-abc\\\"\" -j CNI-9c1503aca18ec08d1ecd9bfa\n\
             -F CNI-9c1503aca18ec08d1ecd9bfa\n\
             -X CNI-9c1503aca18ec08d1ecd9bfa\n\
             COMMIT\n"
        );
    }

    #[test]
    fn portmap_of_one_container() {
        let t = parse(SAMPLE);
        let s = removal_script(
            "nat",
            &t,
            &Selection::of(Kind::Portmap, "refnet", "ctr-abc"),
        )
        .expect("something to remove");
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(lines.len(), 6, "{s}");
        assert!(lines[1].starts_with("-D CNI-HOSTPORT-DNAT -p tcp"));
        assert!(lines[2].starts_with("-D CNI-HOSTPORT-DNAT -p udp"));
        assert_eq!(lines[3], "-F CNI-DN-9c1503aca18ec08d1ecd9");
        assert_eq!(lines[4], "-X CNI-DN-9c1503aca18ec08d1ecd9");
        // Shared chains stay.
        assert!(!s.contains("CNI-HOSTPORT-SETMARK\n"));
    }

    #[test]
    fn other_containers_are_left_alone() {
        let t = parse(SAMPLE);
        assert_eq!(
            removal_script("nat", &t, &Selection::of(Kind::Masq, "refnet", "other")),
            None
        );
        assert_eq!(
            removal_script("nat", &t, &Selection::of(Kind::Portmap, "net2", "ctr-abc")),
            None
        );
    }

    #[test]
    fn stale_ids_by_kind() {
        let t = parse(SAMPLE);
        let all = stale_ids(&t, Kind::Masq, "refnet", &|_| false);
        assert_eq!(
            all.into_iter().collect::<Vec<_>>(),
            vec!["ctr-abc".to_string()]
        );
        assert!(stale_ids(&t, Kind::Masq, "refnet", &|id| id == "ctr-abc").is_empty());
        assert_eq!(stale_ids(&t, Kind::Portmap, "refnet", &|_| false).len(), 1);
        assert!(stale_ids(&t, Kind::Portmap, "other", &|_| false).is_empty());
    }
}
