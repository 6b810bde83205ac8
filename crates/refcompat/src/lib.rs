//! The reference CNI plugins' own iptables state, so that our plugins can
//! take over attachments the reference `bridge` (`ipMasq`) and `portmap`
//! made before their binaries were swapped for ours (docs/migration.md).
//!
//! - [`names`]: the reference's per-container chain names and comments;
//! - [`probe`]: one NETLINK_NETFILTER request tells whether such a chain
//!   exists (iptables-nft keeps iptables chains as nftables chains), so DEL
//!   runs no process when there is nothing of the reference's;
//! - [`save`] and [`plan`]: read `iptables-save -t nat` and compute the
//!   `iptables-restore --noflush` script removing one container's rules
//!   (or, for GC, those of containers no longer valid); [`exec`] runs them;
//! - [`dnat`]: the reference portmap's DNAT rules read back (CHECK);
//! - [`spoof`]: the reference bridge's MAC spoof check (nftables `bridge nat`).
//!
//! Only the nftables backend of iptables is probed; see docs/migration.md
//! for the legacy backend.

pub mod dnat;
pub mod exec;
pub mod names;
pub mod plan;
pub mod probe;
pub mod save;
pub mod spoof;

use std::io;

pub use dnat::Dnat;
pub use plan::{Kind, Selection};

/// IP family: `iptables` or `ip6tables`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    pub const BOTH: [Family; 2] = [Family::V4, Family::V6];
}

/// A failure to read or change the reference's rules.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefError {
    #[error("`{command}` failed: {reason}")]
    Exec { command: String, reason: String },
    #[error(
        "the reference plugins' chain {chain} exists in table {family:?} nat but no \
         iptables program was found in /usr/sbin, /sbin, /usr/local/sbin, /usr/bin or /bin"
    )]
    NoIptables { family: Family, chain: String },
}

/// The kernel and the iptables programs; a fake in tests.
pub trait Backend {
    /// Does chain `chain` (or, with None, the table) exist in `<family> <table>`?
    /// (One socket for both families, see [`probe::exists_both`].)
    fn exists(&self, table: &str, chain: Option<&str>) -> [io::Result<bool>; 2];
    /// `iptables-save -t <table>`; None when no iptables program is installed.
    fn save(&self, family: Family, table: &str) -> Result<Option<String>, RefError>;
    /// `iptables-restore --noflush` with `script`.
    fn restore(&self, family: Family, script: &str) -> Result<(), RefError>;
}

/// The real kernel and programs.
#[derive(Debug, Clone, Copy, Default)]
pub struct Linux;

impl Backend for Linux {
    fn exists(&self, table: &str, chain: Option<&str>) -> [io::Result<bool>; 2] {
        probe::exists_both(table, chain)
    }
    fn save(&self, family: Family, table: &str) -> Result<Option<String>, RefError> {
        match exec::program(family, "save") {
            None => Ok(None),
            Some(p) => exec::run(&p, &["-t", table], "").map(Some),
        }
    }
    fn restore(&self, family: Family, script: &str) -> Result<(), RefError> {
        let p = exec::program(family, "restore").ok_or_else(|| RefError::NoIptables {
            family,
            chain: "(restore)".into(),
        })?;
        exec::run(&p, &["--noflush"], script).map(|_| ())
    }
}

/// The reference's rules in the calling thread's network namespace.
#[derive(Debug, Clone, Default)]
pub struct RefRules<B: Backend = Linux> {
    pub backend: B,
}

impl RefRules<Linux> {
    /// The real kernel and iptables programs.
    pub fn linux() -> Self {
        RefRules { backend: Linux }
    }
}

const NAT: &str = "nat";

fn chain_of(kind: Kind, network: &str, container_id: &str) -> String {
    match kind {
        Kind::Masq => names::masq_chain(network, container_id),
        Kind::Portmap => names::dnat_chain(network, container_id),
    }
}

impl<B: Backend> RefRules<B> {
    /// The families in which the reference's `kind` chain of this container
    /// exists (a failed probe counts as absent).
    pub fn present(&self, kind: Kind, network: &str, container_id: &str) -> Vec<Family> {
        let chain = chain_of(kind, network, container_id);
        Family::BOTH
            .into_iter()
            .zip(self.backend.exists(NAT, Some(&chain)))
            .filter(|(_, found)| matches!(found, Ok(true)))
            .map(|(f, _)| f)
            .collect()
    }

    /// CHECK: the DNAT rules of the reference portmap's chain of this
    /// container, in the families where the probe finds it (iptables-save
    /// once per such family; nothing when there is none).
    pub fn dnat_rules(&self, network: &str, container_id: &str) -> Result<Vec<Dnat>, RefError> {
        let chain = names::dnat_chain(network, container_id);
        let mut out = Vec::new();
        for family in self.present(Kind::Portmap, network, container_id) {
            if let Some(text) = self.backend.save(family, NAT)? {
                out.extend(dnat::rules(&save::parse(&text), family, &chain));
            }
        }
        Ok(out)
    }

    /// True when the reference bridge's MAC spoof check of this attachment
    /// exists (one probe; a failed probe counts as absent).
    pub fn spoof_present(&self, container_id: &str, ifname: &str) -> bool {
        matches!(
            probe::bridge_chain_exists(NAT, &spoof::chain(container_id, ifname)),
            Ok(true)
        )
    }

    /// DEL: remove the reference bridge's MAC spoof check of this
    /// attachment; one probe and no process when there is none.
    pub fn remove_spoof(&self, container_id: &str, ifname: &str) -> Result<bool, RefError> {
        if !self.spoof_present(container_id, ifname) {
            return Ok(false);
        }
        spoof::remove(container_id, ifname).map(|()| true)
    }

    /// DEL: remove the reference's `kind` state of one container. One probe
    /// (both families) and no process when there is none; true when something
    /// was removed.
    pub fn remove(&self, kind: Kind, network: &str, container_id: &str) -> Result<bool, RefError> {
        let chain = chain_of(kind, network, container_id);
        let mut removed = false;
        let probed = self.backend.exists(NAT, Some(&chain));
        for (family, probe) in Family::BOTH.into_iter().zip(probed) {
            let known = match probe {
                Ok(false) => continue,
                Ok(true) => true,
                // Cannot tell: look with iptables if it is there.
                Err(_) => false,
            };
            let sel = Selection::of(kind, network, container_id);
            match self.purge(family, &mut |_| sel.clone())? {
                Some(n) => removed |= n,
                None if known => {
                    return Err(RefError::NoIptables { family, chain });
                }
                None => {}
            }
        }
        Ok(removed)
    }

    /// GC: remove the reference's `kind` state of every container of
    /// `network` for which `keep` says no. Runs iptables only where a `nat`
    /// table exists. Returns the number of containers cleaned.
    pub fn gc(
        &self,
        kind: Kind,
        network: &str,
        keep: &dyn Fn(&str) -> bool,
    ) -> Result<usize, RefError> {
        let mut count = 0;
        let probed = self.backend.exists(NAT, None);
        for (family, probe) in Family::BOTH.into_iter().zip(probed) {
            if matches!(probe, Ok(false)) {
                continue;
            }
            let mut n = 0;
            self.purge(family, &mut |t| {
                let ids = plan::stale_ids(t, kind, network, keep);
                n = ids.len();
                let mut sel = Selection::default();
                for id in &ids {
                    sel.add(kind, network, id);
                }
                sel
            })?;
            count += n;
        }
        Ok(count)
    }

    /// Save the table, select, restore; once more on a failed restore (the
    /// table may have changed in between). None when iptables is missing.
    fn purge(
        &self,
        family: Family,
        select: &mut dyn FnMut(&save::Table) -> Selection,
    ) -> Result<Option<bool>, RefError> {
        let mut last = None;
        for _ in 0..2 {
            let Some(text) = self.backend.save(family, NAT)? else {
                return Ok(None);
            };
            let table = save::parse(&text);
            let sel = select(&table);
            let Some(script) = plan::removal_script(NAT, &table, &sel) else {
                return Ok(Some(false));
            };
            match self.backend.restore(family, &script) {
                Ok(()) => return Ok(Some(true)),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or(RefError::Exec {
            command: "iptables-restore".into(),
            reason: "failed".into(),
        }))
    }
}

#[cfg(test)]
mod tests;
