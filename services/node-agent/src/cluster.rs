//! What the agent needs from the cluster store beyond cluster IPAM's [`Kv`]:
//! leases, a read with its revision, and a session's background work (the
//! lease kept alive; the host records and the hosts' container names each
//! watched into a [`View`]). etcd implements it in `etcd.rs`; the unit
//! tests use an in-memory fake.

use std::collections::BTreeMap;
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex, MutexGuard};

use cnm_cluster_ipam::{Kv, KvError};

/// What the agent's loop is told by its helpers (session tasks, signals,
/// the kernel monitor).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The host records changed (the [`View`] holds them).
    Changed,
    /// Other hosts' container names changed (the names [`View`] holds them).
    Names,
    /// This host's record store changed (a container's names registered or
    /// removed): publish them.
    LocalNames,
    /// The session's lease is gone (expired or revoked): register again.
    Lost(String),
    /// Network `0`'s kernel state needs the loop (None: every network):
    /// its VXLAN device came back with another MAC, or the kernel monitor
    /// could not heal it; heal it here and publish the MAC.
    Kernel(Option<String>),
    /// SIGTERM / SIGINT.
    Stop,
}

/// The host records as last read, with the store revision they reflect:
/// a list at revision R, then every watch event after R applied in order.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct View {
    /// The last revision applied (the watch resumes after it).
    pub rev: i64,
    /// The revision of the last full list (events up to it are in it).
    pub floor: i64,
    pub records: BTreeMap<String, Vec<u8>>,
    /// False until the first list of this session filled it.
    pub loaded: bool,
}

impl View {
    /// Replaces the content by a list made at `rev`, unless the view is
    /// already newer (a watch event after that revision was applied).
    pub fn reset(&mut self, rev: i64, kvs: Vec<(String, Vec<u8>)>) -> bool {
        if self.loaded && rev < self.rev {
            return false;
        }
        self.rev = rev;
        self.floor = rev;
        self.records = kvs.into_iter().collect();
        self.loaded = true;
        true
    }

    /// Applies one watch event (put with a value, delete with None) made
    /// at `rev` (several events of one transaction share it); events the
    /// last list already reflects are ignored.
    pub fn apply(&mut self, rev: i64, key: String, value: Option<Vec<u8>>) -> bool {
        if rev <= self.floor {
            return false;
        }
        self.rev = self.rev.max(rev);
        match value {
            Some(v) => {
                self.records.insert(key, v);
            }
            None => {
                self.records.remove(&key);
            }
        }
        true
    }
}

/// The view shared between the watch and the agent's loop.
#[derive(Debug, Default, Clone)]
pub struct SharedView(Arc<Mutex<View>>);

impl SharedView {
    pub fn lock(&self) -> MutexGuard<'_, View> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Keys and values under a prefix, in key order.
pub type Kvs = Vec<(String, Vec<u8>)>;

/// A session's background work; dropping it stops that work.
pub trait SessionTasks: Send {}

/// One prefix a session watches: every event after `view.rev` is applied
/// to `view`, then `event` is sent.
#[derive(Debug, Clone)]
pub struct Watch {
    /// The key prefix.
    pub prefix: String,
    /// Where its keys are kept.
    pub view: SharedView,
    /// What the agent's loop is told after a change.
    pub event: Event,
}

/// The store as the agent uses it.
pub trait Cluster: Kv {
    /// A new lease of `ttl` seconds.
    fn grant(&mut self, ttl: i64) -> Result<i64, KvError>;
    /// Puts `key` under `lease`.
    fn put_leased(&mut self, key: &str, value: &[u8], lease: i64) -> Result<(), KvError>;
    /// Revokes `lease` (its keys go at once).
    fn revoke(&mut self, lease: i64) -> Result<(), KvError>;
    /// Deletes `key` (absent: nothing to do).
    fn delete(&mut self, key: &str) -> Result<(), KvError>;
    /// Every key under `prefix` and the revision of that read.
    fn list_at(&mut self, prefix: &str) -> Result<(Kvs, i64), KvError>;
    /// Keeps `lease` alive (sending [`Event::Lost`] to `tx` when it is
    /// gone) and follows every [`Watch`] from its view's revision, applying
    /// events to its view and sending its event, until the result is
    /// dropped.
    fn start(
        &mut self,
        lease: i64,
        ttl: i64,
        watches: Vec<Watch>,
        tx: Sender<Event>,
    ) -> Box<dyn SessionTasks>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_view_ignores_what_it_already_reflects() {
        let mut v = View::default();
        assert!(v.reset(5, vec![("a".into(), b"1".to_vec())]));
        assert!(
            !v.apply(5, "b".into(), Some(b"2".to_vec())),
            "listed already"
        );
        assert!(v.apply(6, "a".into(), None));
        assert!(
            v.apply(6, "b".into(), Some(b"2".to_vec())),
            "same transaction"
        );
        assert_eq!(v.rev, 6);
        assert_eq!(v.records.len(), 1);
        assert!(!v.reset(4, vec![("a".into(), b"1".to_vec())]), "older list");
        assert!(v.reset(9, vec![("c".into(), b"3".to_vec())]));
        assert_eq!(v.rev, 9);
        assert_eq!(v.records.len(), 1);
    }
}
