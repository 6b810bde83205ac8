//! Container names across hosts (issue 20; docs/adr/0021-names-across-hosts.md).
//!
//! The CNI plugins never talk to etcd: a container on an overlay network
//! gets its names through the chained `dnsname` plugin (or netavark's
//! `dns_enabled`), which writes them into this host's record store
//! (`cnm-dns-records`, `/run/cnm/dns/<netns key>/`) like on any network.
//! The agent
//! - **publishes** this host's records of each overlay network it runs as
//!   one etcd key per network, `<prefix>/names/<network>/<host>`, holding
//!   the store's `RemoteRecords` (every entry of this host), put under the
//!   agent's lease: a host that dies takes its names with it when the lease
//!   expires, a host that stops (SIGTERM, lease revoked) at once. The store
//!   is polled (a fingerprint of the network's record files, see
//!   [`spawn_poller`]), so a container's names reach etcd within one poll
//!   interval of its ADD returning; a network without local records has no
//!   key.
//! - **feeds** the other hosts' keys to the local store
//!   (`Store::set_remote`, one file per network and source host;
//!   `Store::remove_remote` when the key is gone), which reloads the
//!   resolver before it returns. It follows the keys as it follows the host
//!   records: a read at revision R, then a watch from R + 1 that moves
//!   between etcd members (`etcd.rs`), re-read on every full tick. Nothing
//!   is removed before the first read of a session, and nothing while etcd
//!   cannot be read: a host's names go only when etcd says its key is gone.
//!
//! Keys and files carry the source host, so the same container id (or
//! name) on two hosts never overwrites the other: both answer.

use std::collections::BTreeMap;
use std::sync::mpsc::Sender;
use std::time::Duration;

use cnm_cluster_ipam::KvError;
use cnm_dns_records::{RemoteEntry, RemoteRecords, Store, FORMAT_VERSION};

use crate::cluster::{Cluster, Event, SharedView};
use crate::{info, warn};

/// `<prefix>/names/`: every host's names.
pub fn names_prefix(prefix: &str) -> String {
    format!("{prefix}/names/")
}

/// `<prefix>/names/<network>/<host>`: one host's names on one network.
pub fn names_key(prefix: &str, network: &str, host: &str) -> String {
    format!("{prefix}/names/{network}/{host}")
}

/// The (network, host) of a names key.
fn parse_key<'a>(names_prefix: &str, key: &'a str) -> Option<(&'a str, &'a str)> {
    let rest = key.strip_prefix(names_prefix)?;
    let (net, host) = rest.split_once('/')?;
    (!net.is_empty() && !host.is_empty() && !host.contains('/')).then_some((net, host))
}

/// The names side of the agent: what this host published under the
/// current lease, and the other hosts' names as last read.
pub struct Names {
    store: Store,
    host: String,
    prefix: String,
    networks: Vec<String>,
    view: SharedView,
    /// Network -> the value put under the current lease (absent: no key).
    published: BTreeMap<String, Vec<u8>>,
    /// A publication failed or waits for a session: try again.
    publish_pending: bool,
    /// Feeding the store failed: try again.
    remote_pending: bool,
}

impl Names {
    /// Names of `networks` for `host`, kept in `store`, under the etcd
    /// `prefix` (`/cnm/v1`).
    pub fn new(store: Store, host: &str, prefix: &str, networks: Vec<String>) -> Names {
        Names {
            store,
            host: host.to_string(),
            prefix: prefix.to_string(),
            networks,
            view: SharedView::default(),
            published: BTreeMap::new(),
            publish_pending: true,
            remote_pending: false,
        }
    }

    /// The other hosts' names as read from etcd.
    pub fn view(&self) -> SharedView {
        self.view.clone()
    }

    /// The prefix to watch.
    pub fn watch_prefix(&self) -> String {
        names_prefix(&self.prefix)
    }

    /// What this host publishes for `network`: its valid local records,
    /// sorted by container id and interface.
    pub fn local(&self, network: &str) -> RemoteRecords {
        let mut entries: Vec<RemoteEntry> = match self.store.endpoints(network) {
            Ok(eps) => eps
                .into_iter()
                .filter(|r| r.network == network && r.validate().is_ok())
                .map(|r| RemoteEntry {
                    container_id: r.container_id,
                    ifname: r.ifname,
                    name: r.name,
                    aliases: r.aliases,
                    addresses: r.addresses,
                })
                .collect(),
            Err(e) => {
                warn!("network {network:?}: reading the local names: {e}");
                Vec::new()
            }
        };
        entries.sort_by(|a, b| (&a.container_id, &a.ifname).cmp(&(&b.container_id, &b.ifname)));
        RemoteRecords {
            version: FORMAT_VERSION,
            network: network.to_string(),
            host: self.host.clone(),
            entries,
        }
    }

    /// A new session (lease): nothing is published under it yet.
    pub fn new_session(&mut self) {
        self.published.clear();
        self.publish_pending = true;
    }

    /// True when a publication must be tried again.
    pub fn publish_pending(&self) -> bool {
        self.publish_pending
    }

    /// Marks the publication as owed (no session).
    pub fn owe_publication(&mut self) {
        self.publish_pending = true;
    }

    /// Puts this host's names of every network whose records changed since
    /// the last publication under `lease`, and deletes the key of a network
    /// left without records; `force`: every network (a new lease, or a key
    /// found different in etcd). Returns how many keys were written.
    pub fn publish<C: Cluster>(
        &mut self,
        kv: &mut C,
        lease: i64,
        force: bool,
    ) -> Result<usize, KvError> {
        let mut written = 0;
        for net in self.networks.clone() {
            let records = self.local(&net);
            let key = names_key(&self.prefix, &net, &self.host);
            let result = if records.entries.is_empty() {
                if force || self.published.contains_key(&net) {
                    kv.delete(&key).map(|()| {
                        self.published.remove(&net);
                        1
                    })
                } else {
                    Ok(0)
                }
            } else {
                let value = match serde_json::to_vec(&records) {
                    Ok(v) => v,
                    Err(e) => {
                        self.publish_pending = true;
                        return Err(KvError::Other(format!("encoding {key}: {e}")));
                    }
                };
                if force || self.published.get(&net) != Some(&value) {
                    kv.put_leased(&key, &value, lease).map(|()| {
                        info!(
                            "network {net:?}: published {} name record(s) of this host",
                            records.entries.len()
                        );
                        self.published.insert(net.clone(), value);
                        1
                    })
                } else {
                    Ok(0)
                }
            };
            match result {
                Ok(n) => written += n,
                Err(e) => {
                    self.publish_pending = true;
                    return Err(e);
                }
            }
        }
        self.publish_pending = false;
        Ok(written)
    }

    /// Checks that etcd holds exactly what was published (a key deleted or
    /// changed by hand is written again); then publishes what changed
    /// locally.
    pub fn verify<C: Cluster>(&mut self, kv: &mut C, lease: i64) -> Result<usize, KvError> {
        let mut differs = false;
        for net in &self.networks {
            let have = kv.get(&names_key(&self.prefix, net, &self.host))?;
            if have.as_ref() != self.published.get(net) {
                warn!("network {net:?}: this host's names in etcd are not what it published; writing them again");
                differs = true;
            }
        }
        self.publish(kv, lease, differs)
    }

    /// The other hosts' valid records of our networks in the view (None
    /// before the first read of a session).
    fn wanted(&self) -> Option<BTreeMap<(String, String), RemoteRecords>> {
        let v = self.view.lock();
        if !v.loaded {
            return None;
        }
        let prefix = self.watch_prefix();
        let mut out = BTreeMap::new();
        for (k, val) in &v.records {
            let Some((net, host)) = parse_key(&prefix, k) else {
                warn!("{k}: not a names key (<prefix>/names/<network>/<host>); ignored");
                continue;
            };
            if host == self.host || !self.networks.iter().any(|n| n == net) {
                continue;
            }
            match serde_json::from_slice::<RemoteRecords>(val) {
                Ok(r) if r.network == net && r.host == host => match r.validate() {
                    Ok(()) if r.entries.is_empty() => {}
                    Ok(()) => {
                        out.insert((net.to_string(), host.to_string()), r);
                    }
                    Err(e) => warn!("{k}: invalid names ignored: {e}"),
                },
                Ok(_) => warn!("{k}: names of another network or host; ignored"),
                Err(e) => warn!("{k}: malformed names ignored: {e}"),
            }
        }
        Some(out)
    }

    /// True when feeding the store must be tried again.
    pub fn remote_pending(&self) -> bool {
        self.remote_pending
    }

    /// Brings the store's files of other hosts in step with the view: a
    /// host's file written when its records differ, removed when its key
    /// is gone (also files of networks no longer configured). Nothing
    /// happens before the view was read. Returns how many files changed.
    pub fn sync_remote(&mut self) -> usize {
        let Some(wanted) = self.wanted() else {
            return 0;
        };
        let mut changed = 0;
        let mut failed = false;
        let mut fail = |what: String| {
            warn!("{what}");
            failed = true;
        };
        for net in self.store.remote_networks().unwrap_or_default() {
            let hosts = match self.store.remote_hosts(&net) {
                Ok(h) => h,
                Err(e) => {
                    fail(format!("network {net:?}: listing other hosts' names: {e}"));
                    continue;
                }
            };
            for host in hosts {
                if wanted.contains_key(&(net.clone(), host.clone())) {
                    continue;
                }
                match self.store.remove_remote(&net, &host) {
                    Ok(()) => {
                        changed += 1;
                        info!("network {net:?}: names of host {host:?} removed");
                    }
                    Err(e) => fail(format!(
                        "network {net:?}: removing the names of host {host:?}: {e}"
                    )),
                }
            }
        }
        for ((net, host), records) in &wanted {
            if self.store.remote(net, host).ok().flatten().as_ref() == Some(records) {
                continue;
            }
            match self.store.set_remote(records) {
                Ok(()) => {
                    changed += 1;
                    info!(
                        "network {net:?}: {} name record(s) of host {host:?}",
                        records.entries.len()
                    );
                }
                Err(e) => fail(format!(
                    "network {net:?}: writing the names of host {host:?}: {e}"
                )),
            }
        }
        self.remote_pending = failed;
        changed
    }
}

/// Watches the local record store of `networks` every `every` (a listing
/// and a `stat` per record) and sends [`Event::LocalNames`] when it
/// changed. Ends when the agent's loop is gone.
pub fn spawn_poller(
    store: Store,
    networks: Vec<String>,
    every: Duration,
    tx: Sender<Event>,
) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("names-poll".into())
        .spawn(move || {
            let mut last = store.endpoints_fingerprint(&networks);
            loop {
                std::thread::sleep(every);
                let now = store.endpoints_fingerprint(&networks);
                if now != last {
                    last = now;
                    if tx.send(Event::LocalNames).is_err() {
                        return;
                    }
                }
            }
        })
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_name_network_and_host() {
        let k = names_key("/cnm/v1", "ov1", "h3");
        assert_eq!(k, "/cnm/v1/names/ov1/h3");
        let p = names_prefix("/cnm/v1");
        assert_eq!(parse_key(&p, &k), Some(("ov1", "h3")));
        assert_eq!(parse_key(&p, "/cnm/v1/names/ov1"), None);
        assert_eq!(parse_key(&p, "/cnm/v1/names/ov1/h3/x"), None);
        assert_eq!(parse_key(&p, "/cnm/v1/names//h3"), None);
        assert_eq!(parse_key(&p, "/cnm/v1/hosts/h3"), None);
    }
}
