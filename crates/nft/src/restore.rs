//! Putting our rules back after someone removed them (`nft flush ruleset`, `nft delete table
//! inet cnm`, a firewall reload): [`Firewall::restore`] rebuilds, from the records of the
//! calling thread's network namespace (`<state dir>/<inode>-<cookie>/`), every masquerade,
//! port mapping and MAC spoof check that is missing from the live kernel, and nothing else.
//!
//! - Records are checked against the kernel first: a network's masquerade only while its bridge
//!   exists, a spoof check only while its host veth exists with the recorded interface index (a
//!   spoof record of a vanished veth is dropped), a port-mapping owner only while the
//!   [`Liveness`] oracle does not say it is gone (the caller's knowledge: e.g. host-local's
//!   reservations). Records of older versions that lack what a rebuild needs are reported and
//!   left alone (the next ADD rewrites them).
//! - The live tables are listed once each; only what is missing is written, in one batch per
//!   table (starting with the table's idempotent skeleton); a batch the kernel refuses is
//!   retried item by item so one bad record cannot keep the others out. Restoring twice writes
//!   nothing the second time.
//! - It holds `fw.lock` exclusively and `masq.lock`: every ADD and DEL of a port mapping or
//!   spoof check holds `fw.lock` shared and removes its record before its rules, so a restore
//!   never puts back the rules of an attachment deleted while they were gone, nor races a
//!   change half done.
//! - Port-mapping records get the new table's handle, so DEL keeps its no-listing fast path.
//! - Only tables `inet cnm` and `bridge cnm` are ever written.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::net::IpAddr;
use std::path::Path;

use ipnet::IpNet;

use crate::error::NftError;
use crate::firewall::{Firewall, FW_LOCK, MASQ_LOCK};
use crate::link;
use crate::masq::{self, MasqNet};
use crate::masq_state::{self, read_text, MasqRecord};
use crate::name::masq_chain;
use crate::pm_state::{self, PmState};
use crate::portmap::Owner;
use crate::probe;
use crate::script::{check_skeleton, skeleton, TABLE};
use crate::spoof;
use crate::spoof_state::{self, SpoofRecord};
use crate::state::TableState;

/// What the caller knows about a port-mapping owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Alive {
    /// It still exists.
    Yes,
    /// It is gone (why): its mappings are not restored.
    No(String),
    /// Nothing can be known: the record is trusted (DEL removes records, so an owner whose DEL
    /// ran has none).
    Unknown,
}

/// The caller's knowledge of port-mapping owners (the nft layer knows no IPAM).
pub trait Liveness {
    /// Whether `owner`, whose mappings lead to `addrs`, still exists.
    fn port_owner(&self, owner: &Owner, addrs: &[IpAddr]) -> Alive;
}

/// Knows nothing: every port-mapping record is trusted.
#[derive(Debug, Clone, Copy, Default)]
pub struct TrustRecords;

impl Liveness for TrustRecords {
    fn port_owner(&self, _: &Owner, _: &[IpAddr]) -> Alive {
        Alive::Unknown
    }
}

/// What a restore is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// A table's own chains, maps and base rules.
    Skeleton,
    /// A network's masquerade.
    Masquerade,
    /// An attachment's published ports.
    PortMappings,
    /// A host veth's MAC spoof check.
    SpoofCheck,
    /// A record that cannot be read.
    Record,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Skeleton => "table",
            Kind::Masquerade => "masquerade",
            Kind::PortMappings => "port mappings",
            Kind::SpoofCheck => "MAC spoof check",
            Kind::Record => "record",
        })
    }
}

/// What happened to one item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Already in the kernel as recorded.
    Present,
    /// Was missing and has been put back.
    Restored,
    /// Is missing (a dry run changes nothing).
    Missing,
    /// Not restored, on purpose (why).
    Skipped(String),
    /// Restoring it failed (why).
    Failed(String),
}

/// One item of a [`RestoreReport`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// What it is.
    pub kind: Kind,
    /// Which one: the table, network, owner tag, port or record file.
    pub subject: String,
    /// What happened.
    pub outcome: Outcome,
}

impl fmt::Display for Item {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (word, why) = match &self.outcome {
            Outcome::Present => ("present", None),
            Outcome::Restored => ("restored", None),
            Outcome::Missing => ("missing", None),
            Outcome::Skipped(w) => ("skipped", Some(w)),
            Outcome::Failed(w) => ("FAILED", Some(w)),
        };
        write!(f, "{word}: {} {}", self.kind, self.subject)?;
        match why {
            Some(w) => write!(f, ": {w}"),
            None => Ok(()),
        }
    }
}

/// Everything a restore looked at, in a stable order (kind, subject).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RestoreReport {
    /// One entry per table skeleton, network, owner, port and unreadable record.
    pub items: Vec<Item>,
    /// How many nft batches were applied.
    pub batches: usize,
}

impl RestoreReport {
    /// How many items have this outcome kind (`Skipped`/`Failed` compared by variant).
    fn count(&self, f: impl Fn(&Outcome) -> bool) -> usize {
        self.items.iter().filter(|i| f(&i.outcome)).count()
    }

    /// Items put back.
    pub fn restored(&self) -> usize {
        self.count(|o| *o == Outcome::Restored)
    }

    /// Items found missing in a dry run.
    pub fn missing(&self) -> usize {
        self.count(|o| *o == Outcome::Missing)
    }

    /// Items that failed.
    pub fn failed(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Failed(_)))
    }

    /// One line: counts per outcome.
    pub fn summary(&self) -> String {
        format!(
            "{} present, {} restored, {} missing, {} skipped, {} failed ({} batches)",
            self.count(|o| *o == Outcome::Present),
            self.restored(),
            self.missing(),
            self.count(|o| matches!(o, Outcome::Skipped(_))),
            self.failed(),
            self.batches
        )
    }
}

/// Write what is missing, or only report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Put back what is missing.
    Apply,
    /// Change nothing; report what is missing as [`Outcome::Missing`].
    DryRun,
}

/// When to restore.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger<'a> {
    /// Always look.
    Always,
    /// Only when one of these record files (`masq-…`, `pm-…`, `spoof-…`, as named by the
    /// chains and owners a change touched) still exists once the lock is held: a change whose
    /// records were removed was one of ours (a DEL), not a loss.
    IfRecorded(&'a [String]),
}

/// The records of one namespace.
#[derive(Default)]
struct Records {
    masq: Vec<(String, MasqRecord)>,
    pm: Vec<PmState>,
    spoof: Vec<SpoofRecord>,
    bad: Vec<Item>,
}

impl Records {
    fn is_empty(&self) -> bool {
        self.masq.is_empty() && self.pm.is_empty() && self.spoof.is_empty()
    }
}

/// Read every record file of `dir` (lock files and temporaries, which contain a dot, are not
/// records). Unreadable ones are reported, not fatal.
fn read_records(dir: &Path) -> Result<Records, NftError> {
    let mut names: Vec<String> = match fs::read_dir(dir) {
        Ok(entries) => entries
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| !n.contains('.'))
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(source) => {
            return Err(NftError::State {
                path: dir.to_path_buf(),
                source,
            })
        }
    };
    names.sort();
    let mut r = Records::default();
    let bad = |name: &str, e: String| Item {
        kind: Kind::Record,
        subject: dir.join(name).display().to_string(),
        outcome: Outcome::Skipped(e),
    };
    for name in names {
        if name.starts_with("masq-") {
            match masq_state::read_record(dir, &name) {
                Ok(Some(rec)) => r.masq.push((name, rec)),
                Ok(None) => {}
                Err(e) => r.bad.push(bad(&name, e.to_string())),
            }
        } else if name.starts_with("pm-") {
            let parsed = read_text(dir, &name).map(|t| t.map(|t| pm_state::parse(&t)));
            match parsed {
                Ok(Some(Ok(st))) if pm_state::file_name(&st.tag) == name => r.pm.push(st),
                Ok(Some(Ok(_))) => r.bad.push(bad(&name, "names another owner".into())),
                Ok(Some(Err(e))) => r.bad.push(bad(&name, e)),
                Ok(None) => {}
                Err(e) => r.bad.push(bad(&name, e.to_string())),
            }
        } else if name.starts_with("spoof-") {
            match spoof_state::read_file(dir, &name) {
                Ok(Some(rec)) => r.spoof.push(rec),
                Ok(None) => {}
                Err(e) => r.bad.push(bad(&name, e.to_string())),
            }
        }
    }
    Ok(r)
}

/// The container addresses a port-mapping record leads to (the map values' addresses).
fn target_addrs(st: &PmState) -> Vec<IpAddr> {
    let mut out: Vec<IpAddr> = st
        .elems
        .iter()
        .filter_map(|e| e.value.as_deref()?.split(" . ").next()?.parse().ok())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// One thing to write: its item, the chains its part needs declared, the part's text.
struct Part {
    item: usize,
    chains: Vec<String>,
    body: String,
}

/// The lines that put back the missing elements of `st`, or why it cannot be restored.
fn pm_missing(st: &PmState, t: Option<&TableState>) -> Result<String, String> {
    let mut body = String::new();
    for e in &st.elems {
        let listed = t
            .and_then(|t| t.sets.get(&e.set))
            .into_iter()
            .flatten()
            .find(|x| x.key == e.key);
        match listed {
            Some(x) if x.comment.as_deref() == Some(st.tag.as_str()) && x.value == e.value => {}
            Some(x) => {
                return Err(format!(
                    "{} {{ {} }} is held by {} now",
                    e.set,
                    e.key,
                    x.comment.as_deref().unwrap_or("an untagged element")
                ))
            }
            None => {
                body.push_str(&format!(
                    "add element inet cnm {} {{ {} comment \"{}\"",
                    e.set, e.key, st.tag
                ));
                if let Some(v) = &e.value {
                    body.push_str(&format!(" : {v}"));
                }
                body.push_str(" }\n");
            }
        }
    }
    Ok(body)
}

impl Firewall {
    /// Put back every masquerade, port mapping and MAC spoof check recorded for the calling
    /// thread's network namespace that is missing from the live kernel (see the module docs).
    /// An error only when nothing could be looked at (no state kept, the table unlistable);
    /// what failed per item is in the report.
    pub fn restore(&self, live: &dyn Liveness, mode: Mode) -> Result<RestoreReport, NftError> {
        Ok(self
            .restore_when(live, mode, Trigger::Always)?
            .unwrap_or_default())
    }

    /// [`Firewall::restore`] when `trigger` says so (None: nothing was looked at).
    pub fn restore_when(
        &self,
        live: &dyn Liveness,
        mode: Mode,
        trigger: Trigger<'_>,
    ) -> Result<Option<RestoreReport>, NftError> {
        let Some(dir) = self.ns_dir() else {
            return Err(NftError::NoState(
                "no state is kept for this network namespace (no state directory, or a kernel \
                 without namespace cookies, Linux < 5.14): there is nothing to restore from"
                    .into(),
            ));
        };
        if !dir.is_dir() {
            return Ok(matches!(trigger, Trigger::Always).then(RestoreReport::default));
        }
        // Ask the oracle before taking our locks: it may take others (an IPAM store's).
        let verdicts: BTreeMap<String, Alive> = read_records(&dir)?
            .pm
            .iter()
            .filter_map(|st| {
                let owner = Owner::from_tag(&st.tag)?;
                Some((st.tag.clone(), live.port_owner(&owner, &target_addrs(st))))
            })
            .collect();
        let _fw = masq_state::lock(&dir, FW_LOCK)?;
        let _masq = masq_state::lock(&dir, MASQ_LOCK)?;
        if let Trigger::IfRecorded(names) = trigger {
            if !names
                .iter()
                .any(|n| !n.contains(['/', '.']) && dir.join(n).is_file())
            {
                return Ok(None);
            }
        }
        let recs = read_records(&dir)?;
        let mut report = RestoreReport {
            items: recs.bad.clone(),
            batches: 0,
        };
        if recs.is_empty() {
            return Ok(Some(report));
        }
        self.restore_inet(&dir, &recs, &verdicts, mode, &mut report)?;
        self.restore_bridge(&dir, &recs, mode, &mut report)?;
        report
            .items
            .sort_by(|a, b| (a.kind, &a.subject).cmp(&(b.kind, &b.subject)));
        Ok(Some(report))
    }

    /// Masquerade and port mappings: table `inet cnm`.
    fn restore_inet(
        &self,
        dir: &Path,
        recs: &Records,
        verdicts: &BTreeMap<String, Alive>,
        mode: Mode,
        report: &mut RestoreReport,
    ) -> Result<(), NftError> {
        if recs.masq.is_empty() && recs.pm.is_empty() {
            return Ok(());
        }
        let live = self.read_state()?;
        let mut parts: Vec<Part> = Vec::new();
        let push = |report: &mut RestoreReport, kind, subject: String, outcome| {
            report.items.push(Item {
                kind,
                subject,
                outcome,
            });
            report.items.len() - 1
        };
        for (chain, rec) in &recs.masq {
            let (Some(network), Some(bridge)) = (rec.network.as_deref(), rec.bridge.as_deref())
            else {
                push(
                    report,
                    Kind::Masquerade,
                    chain.clone(),
                    Outcome::Skipped(
                        "recorded by an older version without network and bridge; the \
                         network's next ADD restores it"
                            .into(),
                    ),
                );
                continue;
            };
            let subject = format!("{network} (bridge {bridge})");
            if masq_chain(network) != *chain || rec.subnets.is_empty() {
                push(
                    report,
                    Kind::Masquerade,
                    subject,
                    Outcome::Skipped("record without subnets".into()),
                );
                continue;
            }
            if link::index(bridge).is_none() {
                let why = format!("bridge {bridge} does not exist");
                push(report, Kind::Masquerade, subject, Outcome::Skipped(why));
                continue;
            }
            let subnets: Vec<IpNet> = rec.subnets.iter().copied().collect();
            let net = MasqNet {
                network,
                bridge,
                subnets: subnets.clone(),
            };
            if net.validated().is_err() {
                push(
                    report,
                    Kind::Masquerade,
                    subject,
                    Outcome::Skipped("invalid record".into()),
                );
                continue;
            }
            if masq::check(&net, live.as_ref()).is_ok() {
                push(report, Kind::Masquerade, subject, Outcome::Present);
                continue;
            }
            // Elements already jumping to the chain stay; the rest are added.
            let verdict = format!("jump {chain}");
            let elems: Vec<IpNet> = subnets
                .iter()
                .copied()
                .filter(|n| {
                    let key = crate::script::net_text(n);
                    !live
                        .as_ref()
                        .and_then(|t| t.sets.get(masq::map_for(n)))
                        .into_iter()
                        .flatten()
                        .any(|e| e.key == key && e.value.as_deref() == Some(verdict.as_str()))
                })
                .collect();
            let item = push(report, Kind::Masquerade, subject, Outcome::Missing);
            parts.push(Part {
                item,
                chains: vec![chain.clone()],
                body: masq::chain_body(&net, &subnets, &elems),
            });
        }
        for st in &recs.pm {
            let subject = st.tag.clone();
            if !st.complete() {
                let why = "recorded by an older version without the map values; the \
                           attachment's next ADD restores it";
                push(
                    report,
                    Kind::PortMappings,
                    subject,
                    Outcome::Skipped(why.into()),
                );
                continue;
            }
            match verdicts.get(&st.tag) {
                Some(Alive::No(why)) => {
                    push(
                        report,
                        Kind::PortMappings,
                        subject,
                        Outcome::Skipped(why.clone()),
                    );
                    continue;
                }
                // Recorded after the oracle was asked: an ADD that just ran, so alive.
                Some(Alive::Yes | Alive::Unknown) | None => {}
            }
            match pm_missing(st, live.as_ref()) {
                Ok(body) if body.is_empty() => {
                    push(report, Kind::PortMappings, subject, Outcome::Present);
                }
                Ok(body) => {
                    let item = push(report, Kind::PortMappings, subject, Outcome::Missing);
                    parts.push(Part {
                        item,
                        chains: Vec::new(),
                        body,
                    });
                }
                Err(why) => {
                    push(report, Kind::PortMappings, subject, Outcome::Failed(why));
                }
            }
        }
        // The table's own layout: needed when anything of it is to be written, or when the
        // table holds live records but its base chains or maps were damaged.
        let live_items = report.items.iter().any(|i| {
            matches!(i.kind, Kind::Masquerade | Kind::PortMappings)
                && matches!(i.outcome, Outcome::Present | Outcome::Missing)
        });
        let skeleton_ok = live.as_ref().is_some_and(|t| check_skeleton(t).is_ok());
        if live_items && (!skeleton_ok || !parts.is_empty()) {
            let outcome = match skeleton_ok {
                true => Outcome::Present,
                false => Outcome::Missing,
            };
            let item = push(report, Kind::Skeleton, "inet cnm".into(), outcome);
            if !skeleton_ok {
                parts.push(Part {
                    item,
                    chains: Vec::new(),
                    body: String::new(),
                });
            }
        }
        self.apply_parts(mode, &parts, report, |chains| {
            let refs: Vec<&str> = chains.iter().map(String::as_str).collect();
            skeleton(&refs)
        });
        if mode == Mode::Apply {
            self.rehandle_port_records(dir, recs, report);
        }
        Ok(())
    }

    /// After a restore: port-mapping records whose elements are all in place again carry the
    /// (new) table's handle, so their DEL deletes them without a listing.
    fn rehandle_port_records(&self, dir: &Path, recs: &Records, report: &RestoreReport) {
        let Ok(Some(handle)) = probe::table_handle(TABLE) else {
            return;
        };
        for st in &recs.pm {
            let in_place = report.items.iter().any(|i| {
                i.kind == Kind::PortMappings
                    && i.subject == st.tag
                    && matches!(i.outcome, Outcome::Present | Outcome::Restored)
            });
            if in_place && st.table != handle {
                let mut fresh = st.clone();
                fresh.table = handle;
                if pm_state::write(dir, &fresh).is_err() {
                    // DEL then lists the table instead: correct, only slower.
                    let _ = pm_state::remove(dir, &st.tag);
                }
            }
        }
    }

    /// MAC spoof checks: table `bridge cnm`.
    fn restore_bridge(
        &self,
        dir: &Path,
        recs: &Records,
        mode: Mode,
        report: &mut RestoreReport,
    ) -> Result<(), NftError> {
        if recs.spoof.is_empty() {
            return Ok(());
        }
        let live = self.read_bridge_state()?;
        let mut parts = Vec::new();
        for rec in &recs.spoof {
            let outcome = match link::index(&rec.port) {
                None => Outcome::Skipped(format!("host veth {} does not exist", rec.port)),
                Some(i) if rec.ifindex != 0 && i != rec.ifindex => Outcome::Skipped(format!(
                    "{} is another interface now (index {i}, recorded {})",
                    rec.port, rec.ifindex
                )),
                Some(_) if spoof::check(&rec.port, &rec.mac, live.as_ref()).is_ok() => {
                    Outcome::Present
                }
                Some(_) => Outcome::Missing,
            };
            if matches!(outcome, Outcome::Skipped(_)) && mode == Mode::Apply {
                // The attachment is gone with its veth; an ADD made again records anew.
                let _ = spoof_state::remove(dir, &rec.port);
            }
            let missing = outcome == Outcome::Missing;
            report.items.push(Item {
                kind: Kind::SpoofCheck,
                subject: rec.port.clone(),
                outcome,
            });
            if missing {
                parts.push(Part {
                    item: report.items.len() - 1,
                    chains: Vec::new(),
                    body: spoof::port_body(&rec.port, &rec.mac)?,
                });
            }
        }
        self.apply_parts(mode, &parts, report, |_| spoof::skeleton());
        Ok(())
    }

    /// Apply `parts` in one batch (each batch starts with `skeleton(chains)`); when the kernel
    /// refuses it, each part alone. Marks the parts' items Restored or Failed (a dry run leaves
    /// them Missing).
    fn apply_parts(
        &self,
        mode: Mode,
        parts: &[Part],
        report: &mut RestoreReport,
        skeleton: impl Fn(&[String]) -> String,
    ) {
        if parts.is_empty() || mode == Mode::DryRun {
            return;
        }
        let all_chains: Vec<String> = parts.iter().flat_map(|p| p.chains.clone()).collect();
        let mut script = skeleton(&all_chains);
        for p in parts {
            script.push_str(&p.body);
        }
        report.batches += 1;
        if self.nft.apply("restore", &script).is_ok() {
            for p in parts {
                report.items[p.item].outcome = Outcome::Restored;
            }
            return;
        }
        for p in parts {
            let mut one = skeleton(&p.chains);
            one.push_str(&p.body);
            report.batches += 1;
            report.items[p.item].outcome = match self.nft.apply("restore", &one) {
                Ok(()) => Outcome::Restored,
                Err(e) => Outcome::Failed(e.to_string()),
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pm_state::PmElem;
    use crate::state::parse_table;

    fn state() -> PmState {
        PmState {
            tag: "n,c,eth0".into(),
            table: 3,
            elems: vec![
                PmElem {
                    set: "pm4any".into(),
                    key: "tcp . 8080".into(),
                    value: Some("10.1.0.5 . 80".into()),
                },
                PmElem {
                    set: "pmsnat4".into(),
                    key: "10.1.0.0/24 . 10.1.0.5".into(),
                    value: None,
                },
            ],
        }
    }

    #[test]
    fn missing_elements_become_add_lines() {
        let body = pm_missing(&state(), None).unwrap();
        assert_eq!(
            body,
            "add element inet cnm pm4any { tcp . 8080 comment \"n,c,eth0\" : 10.1.0.5 . 80 }\n\
             add element inet cnm pmsnat4 { 10.1.0.0/24 . 10.1.0.5 comment \"n,c,eth0\" }\n"
        );
        assert_eq!(
            target_addrs(&state()),
            ["10.1.0.5".parse::<IpAddr>().unwrap()]
        );
    }

    #[test]
    fn present_elements_are_skipped_and_foreign_ones_refused() {
        let listed = r#"{"nftables":[
{"map":{"name":"pm4any","elem":[
  [{"elem":{"val":{"concat":["tcp",8080]},"comment":"n,c,eth0"}},{"concat":["10.1.0.5",80]}]]}},
{"set":{"name":"pmsnat4","elem":[]}}
]}"#;
        let t = parse_table(listed).unwrap();
        assert_eq!(
            pm_missing(&state(), Some(&t)).unwrap(),
            "add element inet cnm pmsnat4 { 10.1.0.0/24 . 10.1.0.5 comment \"n,c,eth0\" }\n"
        );
        let taken = listed.replace("\"n,c,eth0\"", "\"n,d,eth0\"");
        let t = parse_table(&taken).unwrap();
        let e = pm_missing(&state(), Some(&t)).unwrap_err();
        assert!(e.contains("n,d,eth0"), "{e}");
    }

    #[test]
    fn report_lines_and_summary() {
        let r = RestoreReport {
            items: vec![
                Item {
                    kind: Kind::Masquerade,
                    subject: "n1 (bridge b)".into(),
                    outcome: Outcome::Restored,
                },
                Item {
                    kind: Kind::SpoofCheck,
                    subject: "veth1".into(),
                    outcome: Outcome::Skipped("gone".into()),
                },
            ],
            batches: 1,
        };
        assert_eq!(r.items[0].to_string(), "restored: masquerade n1 (bridge b)");
        assert_eq!(
            r.items[1].to_string(),
            "skipped: MAC spoof check veth1: gone"
        );
        assert_eq!(
            r.summary(),
            "0 present, 1 restored, 0 missing, 1 skipped, 0 failed (1 batches)"
        );
        assert_eq!((r.restored(), r.failed(), r.missing()), (1, 0, 0));
    }
}
