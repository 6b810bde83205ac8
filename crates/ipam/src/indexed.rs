//! Using the attachment index ([`crate::index`]) under the store lock: the
//! addresses an attachment holds (checked against the reservation files), and
//! rebuilding the index from a full scan.

use std::collections::HashMap;
use std::net::IpAddr;

use crate::index::{is_key, key, Entry, IndexDir, Slot};
use crate::owner::{Match, Owner};
use crate::store::{Locked, Scanned};

/// The index as one operation sees it.
pub(crate) struct View {
    pub idx: Option<IndexDir>,
    /// `Some(recorded sets)`: every reservation is indexed.
    pub trusted: Option<Vec<usize>>,
}

impl View {
    /// What the index says about `(container_id, ifname)`, or `None` when it
    /// cannot answer (untrusted, missing directory, unusable entry).
    pub fn lookup(&self, container_id: &str, ifname: &str) -> Option<Vec<IpAddr>> {
        let idx = self.idx.as_ref()?;
        self.trusted.as_ref()?;
        match idx.lookup(container_id, ifname) {
            Slot::Missing => Some(Vec::new()),
            Slot::Mine(ips) => Some(ips),
            Slot::Unusable => None,
        }
    }
}

impl Locked<'_> {
    /// Opens the index (creating it with `create`) and checks whether it is trusted
    /// for range sets `sets`.
    pub(crate) fn index_view(&self, create: bool, sets: &[usize]) -> View {
        let idx = self.index_dir(create);
        let trusted = idx.as_ref().and_then(|i| self.index_trusted(i, sets));
        View { idx, trusted }
    }

    /// The addresses of `ips` whose reservation file still holds exactly
    /// `(container_id, ifname)` (others were released, possibly by another
    /// implementation, and maybe re-used).
    pub(crate) fn verified(&self, ips: &[IpAddr], container_id: &str, ifname: &str) -> Vec<IpAddr> {
        ips.iter()
            .copied()
            .filter(|ip| {
                self.owner(&ip.to_string())
                    .is_some_and(|o| o.matches(container_id, ifname) == Match::Exact)
            })
            .collect()
    }

    /// Rewrites the index from a full scan: one entry per attachment with its
    /// addresses; entries of attachments without reservations and leftover temp
    /// files go. `false` when the index is not complete afterwards (legacy
    /// ID-only files, a key collision, a write failure).
    pub(crate) fn reindex(&self, idx: &IndexDir, scanned: &[Scanned]) -> bool {
        let mut complete = true;
        let mut by_key: HashMap<String, Entry> = HashMap::new();
        for f in scanned {
            match &f.owner {
                Some(Owner::Attachment {
                    container_id,
                    ifname,
                }) => {
                    let k = key(container_id, ifname);
                    let e = by_key.entry(k).or_insert_with(|| Entry {
                        container_id: container_id.clone(),
                        ifname: ifname.clone(),
                        ips: Vec::new(),
                    });
                    if e.is_for(container_id, ifname) {
                        e.ips.push(f.ip);
                    } else {
                        complete = false;
                    }
                }
                Some(Owner::Legacy { .. }) => complete = false,
                // Unreadable or empty: nobody's DEL can match it.
                None => {}
            }
        }
        let Ok(names) = idx.names() else {
            return false;
        };
        for name in names {
            let stale = is_key(&name) && !by_key.contains_key(&name);
            if (stale || IndexDir::is_temp(&name)) && idx.remove(&name).is_err() {
                complete = false;
            }
        }
        for (k, mut e) in by_key {
            e.ips.sort_unstable();
            let current = idx.read(&k).ok().flatten().and_then(|c| Entry::parse(&c));
            let same = current.is_some_and(|mut c| {
                c.ips.sort_unstable();
                c == e
            });
            if !same && idx.write(&k, e.encode().as_bytes()).is_err() {
                complete = false;
            }
        }
        complete
    }
}
