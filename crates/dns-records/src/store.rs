//! The store's operations: what front-ends call (register, unregister,
//! check, gc), what the node agent calls (set/remove a remote host's
//! records), and what the resolver reads (snapshot, fingerprint).
//!
//! Every change runs under the store's lock and ends with the resolver in
//! step: started when the first network needs it, told to reload (and its
//! answer awaited) after each change, stopped when no network needs it. A
//! network "needs" the resolver while it has a local endpoint and an address
//! to listen on. When a change cannot be served (a listen address cannot be
//! bound), it is undone and the error returned, so no record is left that the
//! resolver does not answer.

use std::collections::BTreeSet;
use std::fs;
use std::net::IpAddr;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::control::{self, CallError, Request, Status};
use crate::error::RecordsError;
use crate::launcher::{self, Launcher};
use crate::layout::{self, Layout, NetnsKey, StoreLock};
use crate::records::{validate_host, EndpointRecord, NetworkSettings, RemoteRecords};

/// How long a control call may take (a reload reads every record file).
pub const CONTROL_TIMEOUT: Duration = Duration::from_secs(5);

/// What a registration gives the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    /// Resolver addresses for the container's resolv.conf (the network's
    /// listen addresses; empty when the network has none).
    pub nameservers: Vec<IpAddr>,
    /// The search domain (the network's domain).
    pub domain: Option<String>,
}

/// One attachment: (container id, interface name).
pub type AttachmentKey = (String, String);

/// What [`Store::gc`] removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcReport {
    /// Records removed (container id, ifname).
    pub removed: Vec<AttachmentKey>,
}

/// One network as the resolver sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkSnapshot {
    /// Its settings.
    pub settings: NetworkSettings,
    /// Its local endpoints.
    pub endpoints: Vec<EndpointRecord>,
    /// Records other hosts published for it.
    pub remote: Vec<RemoteRecords>,
}

/// Everything the store holds, read tolerantly.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Networks with settings and at least one local endpoint.
    pub networks: Vec<NetworkSnapshot>,
    /// Files skipped (unreadable, invalid, misplaced), one line each.
    pub warnings: Vec<String>,
}

impl Snapshot {
    /// The addresses the resolver must listen on.
    pub fn listen_addresses(&self) -> Vec<IpAddr> {
        let set: BTreeSet<IpAddr> = self
            .networks
            .iter()
            .flat_map(|n| n.settings.listen.iter().copied())
            .collect();
        set.into_iter().collect()
    }
}

/// A cheap identity of the store's record files, to notice changes made
/// around the API (by hand, or by a writer that died before it signalled):
/// (path, inode, size, mtime in ns) of every file, sorted.
pub type Fingerprint = Vec<(PathBuf, u64, u64, i128)>;

/// The record store of one network namespace.
#[derive(Debug, Clone)]
pub struct Store {
    layout: Layout,
    launcher: Option<Launcher>,
    lock_timeout: Duration,
}

impl Store {
    /// The store of the calling thread's network namespace under `base`
    /// (`/run/cnm/dns`); directories of dead namespaces that held the same
    /// inode are removed. `launcher: None` never starts a resolver (tools,
    /// tests); a running one is still told about changes.
    pub fn for_current_netns(
        base: &Path,
        launcher: Option<Launcher>,
    ) -> Result<Store, RecordsError> {
        let key = NetnsKey::current()
            .map_err(|e| RecordsError::io("identify", "/proc/thread-self/ns/net", e))?;
        for stale in layout::stale_dirs(base, &key) {
            let _ = fs::remove_dir_all(stale);
        }
        Ok(Store::at(base.join(key.dir_name()), launcher))
    }

    /// The store at `root`.
    pub fn at(root: impl Into<PathBuf>, launcher: Option<Launcher>) -> Store {
        Store {
            layout: Layout::new(root),
            launcher,
            lock_timeout: layout::LOCK_TIMEOUT,
        }
    }

    /// Its paths.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Waits at most `timeout` for the lock (default [`layout::LOCK_TIMEOUT`]).
    pub fn with_lock_timeout(mut self, timeout: Duration) -> Store {
        self.lock_timeout = timeout;
        self
    }

    fn lock(&self) -> Result<StoreLock, RecordsError> {
        layout::lock(&self.layout.root, self.lock_timeout)
    }

    // ----- front-ends ---------------------------------------------------------

    /// Registers an endpoint's names on a network with `settings` (merged
    /// with the settings of the network's other endpoints: listen addresses
    /// and subnets are the union, domain / internal / upstreams the latest).
    /// Registering the same attachment again replaces its record.
    pub fn register(
        &self,
        settings: &NetworkSettings,
        record: &EndpointRecord,
    ) -> Result<Registration, RecordsError> {
        settings.validate()?;
        record.validate()?;
        if settings.network != record.network {
            return Err(RecordsError::invalid(
                "network",
                format!(
                    "record of network {:?} given with settings of {:?}",
                    record.network, settings.network
                ),
            ));
        }
        let _lock = self.lock()?;
        let net = &settings.network;
        let settings_path = self.layout.settings_file(net);
        let endpoint_path = self
            .layout
            .endpoint_file(net, &record.container_id, &record.ifname);
        let old_settings: Option<NetworkSettings> =
            layout::read_json(&settings_path).ok().flatten();
        let old_record: Option<EndpointRecord> = layout::read_json(&endpoint_path).ok().flatten();
        let merged = match &old_settings {
            Some(old) if old.network == *net => old.merged_with(settings),
            _ => settings.clone(),
        };
        layout::create_dir(&self.layout.endpoints_dir(net))?;
        let written = (|| {
            if old_settings.as_ref() != Some(&merged) {
                layout::write_json(&settings_path, &merged)?;
            }
            layout::write_json(&endpoint_path, record)?;
            self.sync_resolver()
        })();
        if let Err(e) = written {
            // Undo: the previous record and settings, or nothing.
            let _ = match &old_record {
                Some(r) => layout::write_json(&endpoint_path, r),
                None => layout::remove_file(&endpoint_path),
            };
            let _ = match &old_settings {
                Some(s) => layout::write_json(&settings_path, s),
                None => layout::remove_file(&settings_path),
            };
            self.drop_network_if_empty(net);
            let _ = self.sync_resolver();
            self.drop_root_if_empty();
            return Err(e);
        }
        Ok(Registration {
            nameservers: merged.listen.clone(),
            domain: merged.domain.clone(),
        })
    }

    /// Removes an attachment's record (none: nothing to do). When it was the
    /// network's last endpoint, the network's settings go too; when no
    /// network needs the resolver any more, it is stopped; when the store is
    /// empty, its directory is removed.
    pub fn unregister(
        &self,
        network: &str,
        container_id: &str,
        ifname: &str,
    ) -> Result<(), RecordsError> {
        cnm_names::validate_network_name(network)
            .map_err(|e| RecordsError::invalid("network", e.to_string()))?;
        if !self.layout.root.exists() {
            return Ok(());
        }
        let _lock = self.lock()?;
        layout::remove_file(&self.layout.endpoint_file(network, container_id, ifname))?;
        self.drop_network_if_empty(network);
        let synced = self.sync_resolver();
        self.drop_root_if_empty();
        synced
    }

    /// Verifies an attachment: its record is there (and equals `expected`
    /// when given), its network's settings are there, and when the network
    /// has listen addresses the resolver runs and listens on all of them.
    pub fn check(
        &self,
        network: &str,
        container_id: &str,
        ifname: &str,
        expected: Option<&EndpointRecord>,
    ) -> Result<(), RecordsError> {
        let path = self.layout.endpoint_file(network, container_id, ifname);
        let record: EndpointRecord = layout::read_json(&path)?.ok_or_else(|| {
            RecordsError::Mismatch(format!(
                "no name record for container {container_id} interface {ifname} on network {network} ({})",
                path.display()
            ))
        })?;
        if let Some(want) = expected {
            if &record != want {
                return Err(RecordsError::Mismatch(format!(
                    "the name record {} differs: has {:?} {:?} {:?}, expected {:?} {:?} {:?}",
                    path.display(),
                    record.name,
                    record.aliases,
                    record.addresses,
                    want.name,
                    want.aliases,
                    want.addresses
                )));
            }
        }
        let settings: NetworkSettings = layout::read_json(&self.layout.settings_file(network))?
            .ok_or_else(|| {
                RecordsError::Mismatch(format!("no name settings for network {network}"))
            })?;
        if settings.listen.is_empty() {
            return Ok(());
        }
        let status = self.ping().ok_or_else(|| {
            RecordsError::Mismatch(format!(
                "the name resolver of {} is not running",
                self.layout.root.display()
            ))
        })?;
        let missing: Vec<String> = settings
            .listen
            .iter()
            .filter(|a| !status.listening.contains(a))
            .map(ToString::to_string)
            .collect();
        if !missing.is_empty() {
            return Err(RecordsError::Mismatch(format!(
                "the name resolver (pid {}) does not listen on {}",
                status.pid,
                missing.join(", ")
            )));
        }
        Ok(())
    }

    /// Removes the records of `network` whose attachment is not in `keep`
    /// (CNI GC's valid attachments), then as [`Store::unregister`].
    pub fn gc(&self, network: &str, keep: &[AttachmentKey]) -> Result<GcReport, RecordsError> {
        cnm_names::validate_network_name(network)
            .map_err(|e| RecordsError::invalid("network", e.to_string()))?;
        if !self.layout.root.exists() {
            return Ok(GcReport::default());
        }
        let _lock = self.lock()?;
        let keep_files: BTreeSet<String> = keep
            .iter()
            .map(|(c, i)| layout::endpoint_file_name(c, i))
            .collect();
        let dir = self.layout.endpoints_dir(network);
        let mut report = GcReport::default();
        for name in layout::json_files(&dir)? {
            if keep_files.contains(&name) {
                continue;
            }
            let path = dir.join(&name);
            let key = layout::read_json::<EndpointRecord>(&path)
                .ok()
                .flatten()
                .map(|r| (r.container_id, r.ifname))
                .unwrap_or_else(|| (name.clone(), String::new()));
            layout::remove_file(&path)?;
            report.removed.push(key);
        }
        self.drop_network_if_empty(network);
        let synced = self.sync_resolver();
        self.drop_root_if_empty();
        synced.map(|()| report)
    }

    // ----- the node agent -------------------------------------------------------

    /// Replaces everything `records.host` published for `records.network`.
    /// Never starts the resolver (remote names alone serve no local client).
    pub fn set_remote(&self, records: &RemoteRecords) -> Result<(), RecordsError> {
        records.validate()?;
        let _lock = self.lock()?;
        let dir = self.layout.remote_network_dir(&records.network);
        layout::create_dir(&dir)?;
        layout::write_json(
            &self.layout.remote_file(&records.network, &records.host),
            records,
        )?;
        self.reload_if_running()
    }

    /// Removes everything `host` published for `network` (its lease expired).
    pub fn remove_remote(&self, network: &str, host: &str) -> Result<(), RecordsError> {
        cnm_names::validate_network_name(network)
            .map_err(|e| RecordsError::invalid("network", e.to_string()))?;
        validate_host(host)?;
        if !self.layout.root.exists() {
            return Ok(());
        }
        let _lock = self.lock()?;
        layout::remove_file(&self.layout.remote_file(network, host))?;
        layout::remove_dir_if_empty(&self.layout.remote_network_dir(network));
        layout::remove_dir_if_empty(&self.layout.remote_dir());
        let synced = self.reload_if_running();
        self.drop_root_if_empty();
        synced
    }

    /// The hosts that published records for `network`.
    pub fn remote_hosts(&self, network: &str) -> Result<Vec<String>, RecordsError> {
        Ok(
            layout::json_files(&self.layout.remote_network_dir(network))?
                .into_iter()
                .filter_map(|n| n.strip_suffix(".json").map(str::to_string))
                .collect(),
        )
    }

    /// The networks other hosts' records are kept for (`remote/<network>/`).
    pub fn remote_networks(&self) -> Result<Vec<String>, RecordsError> {
        layout::subdirs(&self.layout.remote_dir())
    }

    /// What `host` published for `network`, as last written by
    /// [`Store::set_remote`] (None: no file). A file that does not parse is
    /// an error (the node agent then writes it again).
    pub fn remote(&self, network: &str, host: &str) -> Result<Option<RemoteRecords>, RecordsError> {
        cnm_names::validate_network_name(network)
            .map_err(|e| RecordsError::invalid("network", e.to_string()))?;
        validate_host(host)?;
        layout::read_json(&self.layout.remote_file(network, host))
    }

    /// The fingerprint of the local endpoint records of `networks` only
    /// (what the node agent publishes): cheap enough to take every 100 ms
    /// (one directory listing and one `stat` per record). Every write
    /// renames a new file into place, so a changed record always has a new
    /// inode.
    pub fn endpoints_fingerprint(&self, networks: &[String]) -> Fingerprint {
        let mut out = Vec::new();
        for net in networks {
            let dir = self.layout.endpoints_dir(net);
            for name in layout::json_files(&dir).unwrap_or_default() {
                let p = dir.join(name);
                if let Ok(m) = fs::metadata(&p) {
                    let mtime = i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec());
                    out.push((p, m.ino(), m.size(), mtime));
                }
            }
        }
        out
    }

    // ----- reading ----------------------------------------------------------------

    /// Networks with settings.
    pub fn networks(&self) -> Result<Vec<String>, RecordsError> {
        layout::subdirs(&self.layout.networks_dir())
    }

    /// A network's settings.
    pub fn settings(&self, network: &str) -> Result<Option<NetworkSettings>, RecordsError> {
        layout::read_json(&self.layout.settings_file(network))
    }

    /// A network's local endpoint records (files that do not parse are skipped).
    pub fn endpoints(&self, network: &str) -> Result<Vec<EndpointRecord>, RecordsError> {
        let dir = self.layout.endpoints_dir(network);
        Ok(layout::json_files(&dir)?
            .into_iter()
            .filter_map(|n| layout::read_json(&dir.join(n)).ok().flatten())
            .collect())
    }

    /// Everything, read tolerantly: a file that cannot be read, does not
    /// validate, or sits where its content says it should not (another
    /// network's record, a file name that is not its key) is skipped with a
    /// warning. Networks without settings or without a local endpoint are
    /// left out.
    pub fn snapshot(&self) -> Snapshot {
        let mut snap = Snapshot::default();
        let nets = match self.networks() {
            Ok(n) => n,
            Err(e) => {
                snap.warnings.push(e.to_string());
                return snap;
            }
        };
        for net in nets {
            let settings =
                match layout::read_json::<NetworkSettings>(&self.layout.settings_file(&net)) {
                    Ok(Some(s)) if s.network == net && s.validate().is_ok() => s,
                    Ok(Some(_)) => {
                        snap.warnings.push(format!(
                            "{}: invalid or of another network, skipped",
                            self.layout.settings_file(&net).display()
                        ));
                        continue;
                    }
                    Ok(None) => continue,
                    Err(e) => {
                        snap.warnings.push(e.to_string());
                        continue;
                    }
                };
            let dir = self.layout.endpoints_dir(&net);
            let mut endpoints = Vec::new();
            for name in layout::json_files(&dir).unwrap_or_default() {
                let path = dir.join(&name);
                match layout::read_json::<EndpointRecord>(&path) {
                    Ok(Some(r))
                        if r.network == net
                            && layout::endpoint_file_name(&r.container_id, &r.ifname) == name
                            && r.validate().is_ok() =>
                    {
                        endpoints.push(r)
                    }
                    Ok(Some(_)) => snap.warnings.push(format!(
                        "{}: invalid, or not the record its name says, skipped",
                        path.display()
                    )),
                    Ok(None) => {}
                    Err(e) => snap.warnings.push(e.to_string()),
                }
            }
            if endpoints.is_empty() {
                continue;
            }
            let rdir = self.layout.remote_network_dir(&net);
            let mut remote = Vec::new();
            for name in layout::json_files(&rdir).unwrap_or_default() {
                let path = rdir.join(&name);
                match layout::read_json::<RemoteRecords>(&path) {
                    Ok(Some(r))
                        if r.network == net
                            && format!("{}.json", r.host) == name
                            && r.validate().is_ok() =>
                    {
                        remote.push(r)
                    }
                    Ok(Some(_)) => snap.warnings.push(format!(
                        "{}: invalid, or not the host its name says, skipped",
                        path.display()
                    )),
                    Ok(None) => {}
                    Err(e) => snap.warnings.push(e.to_string()),
                }
            }
            snap.networks.push(NetworkSnapshot {
                settings,
                endpoints,
                remote,
            });
        }
        snap
    }

    /// See [`Fingerprint`].
    pub fn fingerprint(&self) -> Fingerprint {
        let mut out = Vec::new();
        let mut add = |dir: &Path| {
            for name in layout::json_files(dir).unwrap_or_default() {
                let p = dir.join(name);
                if let Ok(m) = fs::metadata(&p) {
                    let mtime = i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec());
                    out.push((p, m.ino(), m.size(), mtime));
                }
            }
        };
        for net in self.networks().unwrap_or_default() {
            add(&self.layout.network_dir(&net));
            add(&self.layout.endpoints_dir(&net));
        }
        for net in layout::subdirs(&self.layout.remote_dir()).unwrap_or_default() {
            add(&self.layout.remote_network_dir(&net));
        }
        out
    }

    // ----- the resolver -------------------------------------------------------------

    /// The running resolver's status, if one answers.
    pub fn ping(&self) -> Option<Status> {
        match control::call(
            &self.layout.control_socket(),
            Request::Ping,
            CONTROL_TIMEOUT,
        ) {
            Ok(Ok(s)) => Some(s),
            _ => None,
        }
    }

    /// Does any network need the resolver (a local endpoint and a listen address)?
    fn resolver_needed(&self) -> bool {
        self.networks().unwrap_or_default().iter().any(|net| {
            let listens = self
                .settings(net)
                .ok()
                .flatten()
                .is_some_and(|s| !s.listen.is_empty());
            listens
                && !layout::json_files(&self.layout.endpoints_dir(net))
                    .unwrap_or_default()
                    .is_empty()
        })
    }

    /// Brings the resolver in step with the files (lock held): reload a
    /// running one, start one if needed, stop one that is not needed. A
    /// resolver that does not answer is killed and, if needed, restarted.
    fn sync_resolver(&self) -> Result<(), RecordsError> {
        let needed = self.resolver_needed();
        let socket = self.layout.control_socket();
        let request = if needed {
            Request::Reload
        } else {
            Request::Stop
        };
        // Read before a stop: the resolver removes its pid file as it exits.
        let pid_file = launcher::read_pid_file(&self.layout);
        match control::call(&socket, request, CONTROL_TIMEOUT) {
            Ok(Ok(_)) if !needed => {
                if let Some(p) = pid_file {
                    launcher::wait_gone_or_kill(&p, Duration::from_secs(2));
                }
                self.forget_resolver();
                Ok(())
            }
            Ok(Ok(_)) => Ok(()),
            Ok(Err(msg)) => Err(RecordsError::Resolver(msg)),
            Err(CallError::NotRunning(_)) => {
                self.forget_resolver();
                if needed {
                    self.start_resolver()
                } else {
                    Ok(())
                }
            }
            Err(CallError::NoReply(msg)) => {
                // Stuck: kill it (by its verified pid) and start anew if needed.
                if let Some(p) = pid_file {
                    launcher::kill(&p);
                    launcher::wait_gone_or_kill(&p, Duration::from_secs(2));
                }
                self.forget_resolver();
                if needed {
                    self.start_resolver().map_err(|e| {
                        RecordsError::Resolver(format!("restarted after no reply ({msg}): {e}"))
                    })
                } else {
                    Ok(())
                }
            }
        }
    }

    fn reload_if_running(&self) -> Result<(), RecordsError> {
        match control::call(
            &self.layout.control_socket(),
            Request::Reload,
            CONTROL_TIMEOUT,
        ) {
            Ok(Ok(_)) | Err(CallError::NotRunning(_)) => Ok(()),
            Ok(Err(msg)) => Err(RecordsError::Resolver(msg)),
            Err(CallError::NoReply(_)) => self.sync_resolver(),
        }
    }

    fn start_resolver(&self) -> Result<(), RecordsError> {
        match &self.launcher {
            Some(l) => l.start(&self.layout).map(|_| ()),
            None => Ok(()),
        }
    }

    /// Removes a dead resolver's pid file and socket (lock held).
    fn forget_resolver(&self) {
        let _ = layout::remove_file(&self.layout.control_socket());
        let _ = layout::remove_file(&self.layout.pid_file());
    }

    /// Removes a network's settings and directories when it has no endpoint left.
    fn drop_network_if_empty(&self, network: &str) {
        let eps = self.layout.endpoints_dir(network);
        if !layout::json_files(&eps).unwrap_or_default().is_empty() {
            return;
        }
        // Temporaries of a writer that died are garbage too.
        if let Ok(entries) = fs::read_dir(&eps) {
            for e in entries.take(layout::MAX_ENTRIES).flatten() {
                if e.file_name().to_string_lossy().starts_with('.') {
                    let _ = fs::remove_file(e.path());
                }
            }
        }
        layout::remove_dir_if_empty(&eps);
        let _ = layout::remove_file(&self.layout.settings_file(network));
        layout::remove_dir_if_empty(&self.layout.network_dir(network));
        layout::remove_dir_if_empty(&self.layout.networks_dir());
    }

    /// Removes the store directory when nothing is left in it but a clean
    /// resolver's log (lock held; waiters notice and create a new one).
    fn drop_root_if_empty(&self) {
        let root = &self.layout.root;
        if self.layout.networks_dir().exists() || self.layout.remote_dir().exists() {
            return;
        }
        if self.layout.control_socket().exists() || self.layout.pid_file().exists() {
            return;
        }
        layout::remove_dir_if_empty(root);
    }
}

#[cfg(test)]
mod tests;
