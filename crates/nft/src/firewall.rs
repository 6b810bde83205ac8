//! The public entry point: [`Firewall`] turns each operation into at most one write batch
//! (`nft -f -`), preceded by one JSON listing only when the current state must be known.
//! `ensure_masquerade` skips nft entirely when the per-namespace state file already records the
//! requested subnets and a netlink probe sees the network chain in the live kernel; a subnet
//! another network holds is taken over in one batch. State lives in a directory keyed by the
//! namespace's inode and cookie (`netns_key`), never by something a new namespace can reuse.
//! Port-mapping ADD records the owner's exact elements (plus the table's kernel handle) per
//! namespace and owner, so DEL is one nfnetlink delete batch on our own socket (no nft exec, no
//! listing); it lists the table only when that record is missing, belongs to an older table,
//! or its batch fails.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::IpNet;

use crate::elem_delete;
use crate::error::NftError;
use crate::exec::NftCommand;
use crate::masq::{self, MasqNet};
use crate::masq_state::{self, MasqRecord, Subnets};
use crate::name::{masq_chain, validate_network};
use crate::netns_key;
use crate::pm_state::{self, PmElem, PmState};
use crate::portmap::{self, Entry, Owner, PortMapping};
use crate::probe;
use crate::script::{skeleton, TABLE};
use crate::spoof;
use crate::spoof_state::{self, SpoofRecord};
use crate::state::{read_named_table, read_table, TableState};

/// Default base directory of the state (`<dir>/<netns inode>-<netns cookie>/masq-<hash>` and
/// `pm-<hash>`; tmpfs, so it vanishes at reboot together with the rules).
pub const DEFAULT_STATE_DIR: &str = "/run/cnm/nft";

/// Name of the lock (`masq.lock`) every masquerade change of a namespace holds.
pub(crate) const MASQ_LOCK: &str = "masq";

/// Name of the lock (`fw.lock`) every port-mapping and spoof-check change of a namespace holds
/// shared (they run in parallel) and a restore holds exclusively: a restore never sees a
/// change half done (rules changed, state not yet), so it never puts back the rules of an
/// attachment whose DEL is running.
pub(crate) const FW_LOCK: &str = "fw";

/// What an idempotent ensure did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// A batch was sent to nft.
    Written,
    /// The state file already recorded the subnets and the chain exists in the kernel; nft was
    /// not run.
    Unchanged,
}

/// The project's firewall, confined to table `inet cnm`.
#[derive(Debug, Clone)]
pub struct Firewall {
    pub(crate) nft: NftCommand,
    state_dir: Option<PathBuf>,
}

impl Default for Firewall {
    fn default() -> Self {
        Firewall::new()
    }
}

impl Firewall {
    /// `nft` from PATH; state under [`DEFAULT_STATE_DIR`].
    pub fn new() -> Firewall {
        Firewall::with_program("nft", Vec::new())
    }

    /// Run `program prefix... <nft args>`, e.g. `ip` with `["netns","exec","ns1","nft"]`.
    /// The state directory and the netlink probe always refer to the calling thread's network
    /// namespace: when `prefix` makes nft run in another one, also call
    /// `with_state_dir(None)`.
    pub fn with_program(program: impl Into<OsString>, prefix: Vec<OsString>) -> Firewall {
        Firewall {
            nft: NftCommand::new(program.into(), prefix),
            state_dir: Some(PathBuf::from(DEFAULT_STATE_DIR)),
        }
    }

    /// Use another state base directory, or none: every ensure then lists the table (to learn
    /// the network's other subnets) and applies its batch.
    pub fn with_state_dir(mut self, dir: Option<PathBuf>) -> Firewall {
        self.state_dir = dir;
        self
    }

    /// Limit how long one nft run may take (default 30 s).
    pub fn with_timeout(mut self, timeout: Duration) -> Firewall {
        self.nft = self.nft.with_timeout(timeout);
        self
    }

    /// For STATUS: nft runs and the kernel accepts our whole skeleton (checked with `nft -c`,
    /// which validates in the kernel without committing anything).
    pub fn available(&self) -> Result<(), NftError> {
        self.nft
            .check_script("check (-c) of table inet cnm", &skeleton(&[]))
    }

    /// Current state of table `inet cnm` (None when absent).
    pub fn read_state(&self) -> Result<Option<TableState>, NftError> {
        read_table(&self.nft)
    }

    /// Install masquerade for a network (idempotent, at most one batch, no per-container state).
    /// The network chain excludes every subnet ever ensured for the network (until
    /// [`Firewall::remove_masquerade`]), so a network with several subnets stays stable.
    /// With a state dir, nothing is exec'ed when the subnets are already recorded for this
    /// network namespace and the chain exists in the live kernel. A requested subnet held by
    /// another network (reused under a new name, or shared by two live networks) is taken
    /// over atomically (two batches at most, plus one listing): the last ensure owns it.
    pub fn ensure_masquerade(&self, net: &MasqNet<'_>) -> Result<Applied, NftError> {
        let want: Subnets = net.validated()?.into_iter().collect();
        let chain = masq_chain(net.network);
        // Without a namespace key the state cannot be trusted: behave as state-less.
        let Some(dir) = self.ns_dir() else {
            let mut union = want.clone();
            if let Some(t) = self.read_state()? {
                union.extend(masq::live_subnets(net.network, &t));
            }
            self.apply_masquerade(net, &want, union)?;
            return Ok(Applied::Written);
        };
        if in_place(&dir, net, &chain, &want) {
            return Ok(Applied::Unchanged);
        }
        // One lock for every network of the namespace: a takeover touches two networks.
        let _lock = masq_state::lock(&dir, MASQ_LOCK)?;
        // A parallel ensure may have done the work while we waited for the lock.
        if in_place(&dir, net, &chain, &want) {
            return Ok(Applied::Unchanged);
        }
        let mut union = masq_state::read(&dir, &chain)?.unwrap_or_default();
        union.extend(want.iter().copied());
        let (union, displaced) = self.apply_masquerade(net, &want, union)?;
        let record = MasqRecord {
            network: Some(net.network.to_string()),
            bridge: Some(net.bridge.to_string()),
            subnets: union,
        };
        masq_state::write_record(&dir, &chain, &record)?;
        // The networks that lost a subnet no longer own it: their record keeps the rest (so a
        // firewall reload restores those), and their next ensure that asks for the subnet takes
        // the slow path and takes it back. A record of an older layout is removed.
        for other in displaced {
            match masq_state::read_record(&dir, &other) {
                Ok(Some(mut rec)) if rec.network.is_some() && rec.bridge.is_some() => {
                    rec.subnets
                        .retain(|s| !want.iter().any(|w| masq::overlaps(w, s)));
                    match rec.subnets.is_empty() {
                        true => masq_state::remove(&dir, &other)?,
                        false => masq_state::write_record(&dir, &other, &rec)?,
                    }
                }
                _ => masq_state::remove(&dir, &other)?,
            }
        }
        Ok(Applied::Written)
    }

    /// Apply the ensure batch for `union`. When the kernel refuses it because another network
    /// holds one of the subnets (a subnet reused under a new network name), list the table and
    /// take the requested subnets over in one batch (the other network's overlapping elements
    /// are deleted in the same transaction); remembered subnets another network holds now are
    /// given up. Returns the union applied and the chains (= state names) that lost subnets.
    fn apply_masquerade(
        &self,
        net: &MasqNet<'_>,
        want: &Subnets,
        mut union: Subnets,
    ) -> Result<(Subnets, Vec<String>), NftError> {
        let op = format!("ensure masquerade for network {}", net.network);
        let first = match self.nft.apply(&op, &masq::ensure_script(net, &union)?) {
            Ok(()) => return Ok((union, Vec::new())),
            Err(e) => e,
        };
        let Some(t) = self.read_state()? else {
            return Err(first);
        };
        let plan = masq::plan_takeover(net.network, want, &union, &t)?;
        if plan.displaced.is_empty() && plan.given_up.is_empty() {
            return Err(first);
        }
        union.retain(|n| !plan.given_up.contains(n));
        let script = masq::takeover_script(net, &union, &plan.displaced)?;
        self.nft
            .apply(&format!("{op} (taking over its subnets)"), &script)?;
        let mut chains: Vec<String> = plan.displaced.into_iter().map(|d| d.chain).collect();
        chains.sort();
        chains.dedup();
        Ok((union, chains))
    }

    /// Verify against the live ruleset that the network's masquerade covers `net.subnets`
    /// (the chain may also cover other subnets of the same network).
    pub fn check_masquerade(&self, net: &MasqNet<'_>) -> Result<(), NftError> {
        net.validated()?;
        masq::check(net, self.read_state()?.as_ref())
    }

    /// Remove a network's masquerade and forget its subnets (idempotent; Ok when already gone).
    /// Other networks keep theirs; a subnet this network had taken over from a network whose
    /// chain still covers it is handed back to that network in the same batch.
    pub fn remove_masquerade(&self, network: &str) -> Result<(), NftError> {
        validate_network(network)?;
        let chain = masq_chain(network);
        let dir = self.ns_dir().filter(|d| d.is_dir());
        let _lock = match &dir {
            Some(d) => Some(masq_state::lock(d, MASQ_LOCK)?),
            None => None,
        };
        // The record goes first: a firewall reload must never bring back a network whose
        // removal was interrupted (its rules then stay until the next removal or GC).
        if let Some(d) = &dir {
            masq_state::remove(d, &chain)?;
        }
        let op = format!("remove masquerade for network {network}");
        self.remove_with_retry(
            &op,
            || self.read_state(),
            |t| masq::remove_script(network, t),
        )
    }

    /// List with `read`, plan a removal batch with `plan` (None: nothing to do) and apply it.
    /// One retry covers a concurrent change between the listing and the batch.
    fn remove_with_retry(
        &self,
        op: &str,
        read: impl Fn() -> Result<Option<TableState>, NftError>,
        plan: impl Fn(&TableState) -> Result<Option<String>, NftError>,
    ) -> Result<(), NftError> {
        let mut retried = false;
        loop {
            let Some(t) = read()? else {
                return Ok(());
            };
            let Some(script) = plan(&t)? else {
                return Ok(());
            };
            match self.nft.apply(op, &script) {
                Err(_) if !retried => retried = true,
                other => return other,
            }
        }
    }

    /// Networks that currently have masquerade installed (for GC).
    pub fn list_masquerade_networks(&self) -> Result<Vec<String>, NftError> {
        Ok(self
            .read_state()?
            .map(|t| masq::networks(&t))
            .unwrap_or_default())
    }

    /// Publish `mappings` for `owner` in one atomic batch (all or nothing). A host port held by
    /// another owner gives [`NftError::PortConflict`]; repeating the same owner's add replaces
    /// its elements. `container_addrs` are the attachment's addresses with their prefixes (the
    /// prefix is the container subnet, used for hairpin SNAT).
    pub fn add_port_mappings(
        &self,
        owner: &Owner,
        container_addrs: &[IpNet],
        mappings: &[PortMapping],
        snat: bool,
    ) -> Result<(), NftError> {
        let tag = owner.tag()?;
        let entries = portmap::plan(&tag, container_addrs, mappings, snat)?;
        if entries.is_empty() {
            return Ok(());
        }
        let dir = self.ns_dir();
        let _lock = change_lock(dir.as_deref(), true)?;
        let op = format!("add port mappings of {tag}");
        let first = match self
            .nft
            .apply(&op, &portmap::add_script(&tag, &entries, &[]))
        {
            // `create` succeeded, so none of the owner's earlier DNAT keys was among these:
            // the owner now holds its earlier recorded elements plus these.
            Ok(()) => return record_port_state(dir.as_deref(), &tag, &entries, true),
            Err(e) => e,
        };
        // Slow path: find out why (conflict, or our own earlier add being repeated).
        let Some(t) = self.read_state()? else {
            return Err(first);
        };
        if let Some(conflict) = portmap::find_conflict(&tag, &entries, &t) {
            return Err(conflict);
        }
        let mine = portmap::owned(&tag, &t)?;
        if mine.is_empty() {
            return Err(first);
        }
        self.nft
            .apply(&op, &portmap::add_script(&tag, &entries, &mine))?;
        // Every element the owner held was replaced: it now holds exactly `entries`.
        record_port_state(dir.as_deref(), &tag, &entries, false)
    }

    /// The state directory of the calling thread's namespace (`<base>/<inode>-<cookie>`, see
    /// `netns_key`), if state is kept and the namespace has a cookie. When it does not exist
    /// yet, directories left by dead namespaces that held the same inode are removed first.
    pub(crate) fn ns_dir(&self) -> Option<PathBuf> {
        let base = self.state_dir.as_deref()?;
        let (dir, key) = netns_key::netns_dir(base).ok()?;
        if !dir.exists() {
            netns_key::remove_stale(base, &key);
        }
        Some(dir)
    }

    /// The state directory this firewall uses for the calling thread's network namespace
    /// (None when it keeps no state, or the kernel has no namespace cookie).
    pub fn netns_state_dir(&self) -> Option<PathBuf> {
        let base = self.state_dir.as_deref()?;
        netns_key::netns_dir(base).ok().map(|(d, _)| d)
    }

    /// Remove exactly this owner's elements (idempotent). With a record of the owner's ADD in
    /// the state directory, and table `inet cnm` still the one it was recorded for, this is one
    /// nfnetlink delete batch and no nft exec; otherwise (or when that batch fails, e.g. the elements are already gone) the
    /// owner's elements are found in a listing of the table.
    pub fn remove_port_mappings(&self, owner: &Owner) -> Result<(), NftError> {
        let tag = owner.tag()?;
        let op = format!("remove port mappings of {tag}");
        let dir = self.ns_dir();
        let _lock = change_lock(dir.as_deref(), false)?;
        if let Some(dir) = &dir {
            // The record goes first (read, then removed): a firewall reload never puts back
            // the elements of an owner being removed, even when this DEL runs while the table
            // is gone (then there is nothing to delete below) or is interrupted.
            let recorded = pm_state::read(dir, &tag).ok().flatten();
            pm_state::remove(dir, &tag)?;
            if let Some(state) = recorded {
                if self.remove_recorded(&state) {
                    return Ok(());
                }
            }
        }
        self.remove_with_retry(
            &op,
            || self.read_state(),
            |t| Ok(portmap::remove_script(&portmap::owned(&tag, t)?)),
        )
    }

    /// Delete the recorded elements in one nfnetlink batch when the table is still the recorded
    /// one (a recreated table may hold the same keys for other owners); false when that did not
    /// work (nothing was deleted: the batch is one transaction).
    fn remove_recorded(&self, state: &PmState) -> bool {
        matches!(probe::table_handle(TABLE), Ok(Some(h)) if h == state.table)
            && elem_delete::delete_elements(TABLE, &state.keys()).is_ok()
    }

    /// For GC: forget the port-mapping records of `network`'s owners that are not in `live`
    /// (owners that still hold elements), and records that cannot be read. Records of other
    /// networks are left alone.
    pub fn prune_port_mapping_state(&self, network: &str, live: &[Owner]) -> Result<(), NftError> {
        let Some(dir) = self.ns_dir() else {
            return Ok(());
        };
        for (path, owner) in pm_state::list(&dir)? {
            let stale = match &owner {
                Some(o) => o.network == network && !live.contains(o),
                None => true,
            };
            if stale {
                match std::fs::remove_file(&path) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                        return Err(NftError::State { path, source: e })
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }

    /// Verify that the owner's elements are exactly what `add_port_mappings` would install.
    pub fn check_port_mappings(
        &self,
        owner: &Owner,
        container_addrs: &[IpNet],
        mappings: &[PortMapping],
        snat: bool,
    ) -> Result<(), NftError> {
        let tag = owner.tag()?;
        let entries = portmap::plan(&tag, container_addrs, mappings, snat)?;
        portmap::check(&tag, &entries, self.read_state()?.as_ref())
    }

    /// Every owner holding port-mapping elements (for GC).
    pub fn list_owners(&self) -> Result<Vec<Owner>, NftError> {
        Ok(self
            .read_state()?
            .map(|t| portmap::owners(&t))
            .unwrap_or_default())
    }

    /// Current state of table `bridge cnm` (MAC spoof checks; None when absent).
    pub fn read_bridge_state(&self) -> Result<Option<TableState>, NftError> {
        read_named_table(&self.nft, spoof::FAMILY, spoof::TABLE)
    }

    /// Drop frames entering the bridge from host veth `port` whose source MAC is not `mac`
    /// (reference `macspoofchk`). One atomic batch; repeating it (even with another MAC)
    /// replaces the port's check.
    /// With state kept, the check is recorded (port, its interface index, the MAC) so a
    /// firewall reload can put it back.
    pub fn ensure_mac_spoof_check(&self, port: &str, mac: &[u8; 6]) -> Result<(), NftError> {
        let script = spoof::ensure_script(port, mac)?;
        let op = format!("ensure MAC spoof check on port {port}");
        let dir = self.ns_dir();
        let _lock = change_lock(dir.as_deref(), true)?;
        self.nft.apply(&op, &script)?;
        if let Some(dir) = &dir {
            let record = SpoofRecord {
                port: port.to_string(),
                ifindex: crate::link::index(port).unwrap_or(0),
                mac: *mac,
            };
            spoof_state::write(dir, &record)?;
        }
        Ok(())
    }

    /// Verify against the live ruleset that the port's check is in place with exactly `mac`.
    pub fn check_mac_spoof_check(&self, port: &str, mac: &[u8; 6]) -> Result<(), NftError> {
        spoof::validate_port(port)?;
        spoof::check(port, mac, self.read_bridge_state()?.as_ref())
    }

    /// Remove the port's check (idempotent; Ok when already gone). Other ports untouched.
    pub fn remove_mac_spoof_check(&self, port: &str) -> Result<(), NftError> {
        spoof::validate_port(port)?;
        let dir = self.ns_dir().filter(|d| d.is_dir());
        let _lock = change_lock(dir.as_deref(), false)?;
        if let Some(dir) = &dir {
            spoof_state::remove(dir, port)?;
        }
        let op = format!("remove MAC spoof check on port {port}");
        self.remove_with_retry(
            &op,
            || self.read_bridge_state(),
            |t| spoof::remove_script(port, t),
        )
    }

    /// Remove the MAC spoof check of `port` if it has one. When state is kept
    /// for the calling thread's namespace, one netlink probe for the port's
    /// chain answers "none" without running nft, so callers may use this on
    /// every teardown, whatever their config says now.
    /// The port's record goes in every case, also when the table is gone: a firewall reload
    /// never puts back the check of a port removed while the rules were missing.
    pub fn remove_mac_spoof_check_if_present(&self, port: &str) -> Result<(), NftError> {
        spoof::validate_port(port)?;
        // Most DELs have no spoof check: a record's absence costs one stat, no lock.
        let dir = self
            .ns_dir()
            .filter(|d| d.join(spoof_state::file_name(port)).exists());
        let lock = change_lock(dir.as_deref(), false)?;
        if let Some(dir) = &dir {
            spoof_state::remove(dir, port)?;
        }
        if self.state_dir.is_some()
            && matches!(
                probe::chain_exists_in(
                    probe::NFPROTO_BRIDGE,
                    spoof::TABLE,
                    &spoof::port_chain(port)
                ),
                Ok(false)
            )
        {
            return Ok(());
        }
        drop(lock);
        self.remove_mac_spoof_check(port)
    }

    /// Ports that currently have a MAC spoof check.
    pub fn list_mac_spoof_ports(&self) -> Result<Vec<String>, NftError> {
        Ok(self
            .read_bridge_state()?
            .map(|t| spoof::ports(&t))
            .unwrap_or_default())
    }
}

/// The shared lock of a port-mapping or spoof-check change (see [`FW_LOCK`]) in `dir`, None
/// when no state is kept. With `create` false and no state directory yet, nothing is locked
/// (there is no record a restore could act on).
fn change_lock(dir: Option<&Path>, create: bool) -> Result<Option<std::fs::File>, NftError> {
    match dir {
        Some(dir) if create || dir.is_dir() => masq_state::lock_shared(dir, FW_LOCK).map(Some),
        _ => Ok(None),
    }
}

/// After a successful ADD batch: record what the owner holds (`entries`, plus with `merge`
/// what its earlier record listed for the same table) with the table's kernel handle. When
/// no trustworthy record can be written, any older record is removed so DEL lists instead.
fn record_port_state(
    dir: Option<&Path>,
    tag: &str,
    entries: &[Entry],
    merge: bool,
) -> Result<(), NftError> {
    let Some(dir) = dir else {
        return Ok(());
    };
    let written = match probe::table_handle(TABLE) {
        Ok(Some(table)) => {
            let mut elems = match pm_state::read(dir, tag) {
                Ok(Some(old)) if merge && old.table == table => old.elems,
                _ => Vec::new(),
            };
            for e in entries {
                let item = PmElem {
                    set: e.set.to_string(),
                    key: e.key.clone(),
                    value: e.value.clone(),
                };
                // A key is held once: a repeated key takes the new value.
                elems.retain(|x| (&x.set, &x.key) != (&item.set, &item.key));
                elems.push(item);
            }
            let state = PmState {
                tag: tag.to_string(),
                table,
                elems,
            };
            pm_state::write(dir, &state).is_ok()
        }
        _ => false,
    };
    if written {
        Ok(())
    } else {
        pm_state::remove(dir, tag)
    }
}

/// Fast path of `ensure_masquerade`: the state records this network and bridge and every
/// wanted subnet, and the chain is in the live kernel. Any failure (unreadable state, a record
/// of an older layout, netlink error) answers false, so nft runs (and rewrites the record).
fn in_place(dir: &Path, net: &MasqNet<'_>, chain: &str, want: &Subnets) -> bool {
    matches!(masq_state::read_record(dir, chain), Ok(Some(have))
        if have.network.as_deref() == Some(net.network)
            && have.bridge.as_deref() == Some(net.bridge)
            && want.is_subset(&have.subnets))
        && matches!(probe::chain_exists(TABLE, chain), Ok(true))
}
