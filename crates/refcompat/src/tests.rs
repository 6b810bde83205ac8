//! [`RefRules`] over a fake backend: an in-memory saved table that applies
//! the restore scripts, and a probe that answers from it.

use std::cell::RefCell;
use std::io;

use super::*;
use crate::save::tests::SAMPLE;

#[derive(Default)]
struct Fake {
    /// The v4 nat table as iptables-save prints it; None: no iptables.
    v4: RefCell<Option<String>>,
    probe_fails: bool,
    saves: RefCell<usize>,
    scripts: RefCell<Vec<String>>,
}

impl Backend for Fake {
    fn exists(&self, _table: &str, chain: Option<&str>) -> [io::Result<bool>; 2] {
        if self.probe_fails {
            let eperm = || Err(io::Error::from_raw_os_error(libc::EPERM));
            return [eperm(), eperm()];
        }
        let t = self.v4.borrow();
        let v4 = match (t.as_deref(), chain) {
            (None, _) => false,
            (Some(_), None) => true,
            (Some(text), Some(c)) => save::parse(text).has_chain(c),
        };
        [Ok(v4), Ok(false)]
    }
    fn save(&self, family: Family, _table: &str) -> Result<Option<String>, RefError> {
        *self.saves.borrow_mut() += 1;
        Ok(match family {
            Family::V4 => self.v4.borrow().clone(),
            Family::V6 => None,
        })
    }
    fn restore(&self, _family: Family, script: &str) -> Result<(), RefError> {
        self.scripts.borrow_mut().push(script.to_string());
        let mut t = self.v4.borrow_mut();
        let mut lines: Vec<String> = t
            .as_deref()
            .unwrap_or("")
            .lines()
            .map(String::from)
            .collect();
        for cmd in script.lines() {
            if let Some(rule) = cmd.strip_prefix("-D ") {
                let want = format!("-A {rule}");
                let before = lines.len();
                lines.retain(|l| *l != want);
                assert_eq!(before, lines.len() + 1, "no rule {want}");
            } else if let Some(chain) = cmd.strip_prefix("-X ") {
                let decl = format!(":{chain} ");
                lines.retain(|l| !l.starts_with(&decl) && !l.starts_with(&format!("-A {chain} ")));
            }
        }
        *t = Some(lines.join("\n"));
        Ok(())
    }
}

fn fake(text: &str) -> RefRules<Fake> {
    RefRules {
        backend: Fake {
            v4: RefCell::new(Some(text.to_string())),
            ..Fake::default()
        },
    }
}

#[test]
fn remove_takes_one_container_and_leaves_shared_chains() {
    let r = fake(SAMPLE);
    assert_eq!(r.present(Kind::Masq, "refnet", "ctr-abc"), vec![Family::V4]);
    assert!(r.remove(Kind::Masq, "refnet", "ctr-abc").unwrap());
    assert!(r.remove(Kind::Portmap, "refnet", "ctr-abc").unwrap());
    let left = r.backend.v4.borrow().clone().unwrap();
    assert!(!left.contains("ctr-abc"), "{left}");
    assert!(!left.contains("9c1503aca18ec08d1ecd9"), "{left}");
    assert!(left.contains(":CNI-HOSTPORT-DNAT"), "{left}");
    // Nothing left: the probe says so and no iptables runs.
    let saves = *r.backend.saves.borrow();
    assert!(!r.remove(Kind::Masq, "refnet", "ctr-abc").unwrap());
    assert_eq!(*r.backend.saves.borrow(), saves);
    assert!(r.present(Kind::Portmap, "refnet", "ctr-abc").is_empty());
}

#[test]
fn nothing_of_the_reference_runs_nothing() {
    let r = fake(":POSTROUTING ACCEPT [0:0]\nCOMMIT\n");
    assert!(!r.remove(Kind::Masq, "n", "c").unwrap());
    assert_eq!(*r.backend.saves.borrow(), 0);
}

#[test]
fn chain_without_iptables_is_an_error() {
    // The probe sees the chain, but no iptables-save is installed.
    struct NoBin;
    impl Backend for NoBin {
        fn exists(&self, _: &str, _: Option<&str>) -> [io::Result<bool>; 2] {
            [Ok(true), Ok(false)]
        }
        fn save(&self, _: Family, _: &str) -> Result<Option<String>, RefError> {
            Ok(None)
        }
        fn restore(&self, _: Family, _: &str) -> Result<(), RefError> {
            unreachable!("nothing to restore")
        }
    }
    let r = RefRules { backend: NoBin };
    let e = r.remove(Kind::Masq, "refnet", "ctr-abc").unwrap_err();
    assert!(
        matches!(
            e,
            RefError::NoIptables {
                family: Family::V4,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("CNI-9c1503aca18ec08d1ecd9bfa"));
}

#[test]
fn failed_probe_falls_back_to_iptables() {
    let mut r = fake(SAMPLE);
    r.backend.probe_fails = true;
    assert!(r.remove(Kind::Masq, "refnet", "ctr-abc").unwrap());
    assert!(!r
        .backend
        .v4
        .borrow()
        .clone()
        .unwrap()
        .contains("CNI-9c1503aca18ec08d1ecd9bfa"));
}

#[test]
fn gc_keeps_valid_containers() {
    let r = fake(SAMPLE);
    assert_eq!(
        r.gc(Kind::Masq, "refnet", &|id| id == "ctr-abc").unwrap(),
        0
    );
    assert!(r.backend.scripts.borrow().is_empty());
    assert_eq!(r.gc(Kind::Masq, "other-net", &|_| false).unwrap(), 0);
    assert_eq!(r.gc(Kind::Portmap, "refnet", &|_| false).unwrap(), 1);
    assert_eq!(r.gc(Kind::Masq, "refnet", &|_| false).unwrap(), 1);
    let left = r.backend.v4.borrow().clone().unwrap();
    assert!(!left.contains("ctr-abc"), "{left}");
}

#[test]
fn dnat_rules_for_check() {
    let r = fake(SAMPLE);
    let got = r.dnat_rules("refnet", "ctr-abc").unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(
        (got[0].host_port, got[0].to.as_str()),
        (8080, "10.251.7.2:80")
    );
    assert!(r.dnat_rules("refnet", "other").unwrap().is_empty());
}
