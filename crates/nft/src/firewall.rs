//! The public entry point: [`Firewall`] turns each operation into at most one write batch
//! (`nft -f -`), preceded by one JSON listing only when the current state must be known.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;

use crate::error::NftError;
use crate::exec::NftCommand;
use crate::marker;
use crate::masq::{self, MasqNet};
use crate::name::{fnv1a64, masq_chain, validate_network};
use crate::portmap::{self, Owner, PortMapping};
use crate::script::skeleton;
use crate::spoof;
use crate::state::{read_named_table, read_table, TableState};

/// Default directory of the ensure markers.
pub const DEFAULT_STATE_DIR: &str = "/run/cnm/nft";

/// What an idempotent ensure did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// A batch was sent to nft.
    Written,
    /// A marker showed the identical batch was already applied; nft was not run.
    Unchanged,
}

/// The project's firewall, confined to table `inet cnm`.
#[derive(Debug, Clone)]
pub struct Firewall {
    nft: NftCommand,
    state_dir: Option<PathBuf>,
}

impl Default for Firewall {
    fn default() -> Self {
        Firewall::new()
    }
}

impl Firewall {
    /// nft from `$CNM_NFT` or `nft` on PATH; markers under [`DEFAULT_STATE_DIR`].
    pub fn new() -> Firewall {
        let program = std::env::var_os("CNM_NFT")
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| OsString::from("nft"));
        Firewall::with_program(program, Vec::new())
    }

    /// Run `program prefix... <nft args>`, e.g. `ip` with `["netns","exec","ns1","nft"]`.
    pub fn with_program(program: impl Into<OsString>, prefix: Vec<OsString>) -> Firewall {
        Firewall {
            nft: NftCommand::new(program.into(), prefix),
            state_dir: Some(PathBuf::from(DEFAULT_STATE_DIR)),
        }
    }

    /// Use another marker directory, or none (every ensure then runs nft once).
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

    /// Install masquerade for a network (idempotent, one batch, no per-container state).
    /// With a state dir, an identical earlier apply is remembered and nft is not run again.
    pub fn ensure_masquerade(&self, net: &MasqNet<'_>) -> Result<Applied, NftError> {
        let script = masq::ensure_script(net)?;
        let chain = masq_chain(net.network);
        let digest = format!("{:016x}\n", fnv1a64(script.as_bytes()));
        if let Some(dir) = &self.state_dir {
            if marker::read(dir, &chain).as_deref() == Some(digest.as_str()) {
                return Ok(Applied::Unchanged);
            }
        }
        let op = format!("ensure masquerade for network {}", net.network);
        self.nft.apply(&op, &script)?;
        if let Some(dir) = &self.state_dir {
            // Best effort: without the marker the next ensure simply runs nft again.
            let _ = marker::write(dir, &chain, &digest);
        }
        Ok(Applied::Written)
    }

    /// Verify against the live ruleset that the network's masquerade is exactly in place.
    pub fn check_masquerade(&self, net: &MasqNet<'_>) -> Result<(), NftError> {
        net.validated()?;
        masq::check(net, self.read_state()?.as_ref())
    }

    /// Remove a network's masquerade (idempotent; Ok when already gone). Other networks untouched.
    pub fn remove_masquerade(&self, network: &str) -> Result<(), NftError> {
        validate_network(network)?;
        if let Some(dir) = &self.state_dir {
            marker::remove(dir, &masq_chain(network))?;
        }
        let op = format!("remove masquerade for network {network}");
        // One retry covers a concurrent change between the listing and the batch.
        let mut attempt = 0;
        loop {
            let Some(t) = self.read_state()? else {
                return Ok(());
            };
            let Some(script) = masq::remove_script(network, &t)? else {
                return Ok(());
            };
            match self.nft.apply(&op, &script) {
                Err(_) if attempt == 0 => attempt += 1,
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
        let op = format!("add port mappings of {tag}");
        let first = match self
            .nft
            .apply(&op, &portmap::add_script(&tag, &entries, &[]))
        {
            Ok(()) => return Ok(()),
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
            .apply(&op, &portmap::add_script(&tag, &entries, &mine))
    }

    /// Remove exactly this owner's elements (idempotent).
    pub fn remove_port_mappings(&self, owner: &Owner) -> Result<(), NftError> {
        let tag = owner.tag()?;
        let op = format!("remove port mappings of {tag}");
        let mut attempt = 0;
        loop {
            let Some(t) = self.read_state()? else {
                return Ok(());
            };
            let Some(script) = portmap::remove_script(&portmap::owned(&tag, &t)?) else {
                return Ok(());
            };
            match self.nft.apply(&op, &script) {
                Err(_) if attempt == 0 => attempt += 1,
                other => return other,
            }
        }
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
    pub fn ensure_mac_spoof_check(&self, port: &str, mac: &[u8; 6]) -> Result<(), NftError> {
        let script = spoof::ensure_script(port, mac)?;
        let op = format!("ensure MAC spoof check on port {port}");
        self.nft.apply(&op, &script)
    }

    /// Verify against the live ruleset that the port's check is in place with exactly `mac`.
    pub fn check_mac_spoof_check(&self, port: &str, mac: &[u8; 6]) -> Result<(), NftError> {
        spoof::validate_port(port)?;
        spoof::check(port, mac, self.read_bridge_state()?.as_ref())
    }

    /// Remove the port's check (idempotent; Ok when already gone). Other ports untouched.
    pub fn remove_mac_spoof_check(&self, port: &str) -> Result<(), NftError> {
        spoof::validate_port(port)?;
        let op = format!("remove MAC spoof check on port {port}");
        let mut attempt = 0;
        loop {
            let Some(t) = self.read_bridge_state()? else {
                return Ok(());
            };
            let Some(script) = spoof::remove_script(port, &t)? else {
                return Ok(());
            };
            match self.nft.apply(&op, &script) {
                Err(_) if attempt == 0 => attempt += 1,
                other => return other,
            }
        }
    }

    /// Ports that currently have a MAC spoof check.
    pub fn list_mac_spoof_ports(&self) -> Result<Vec<String>, NftError> {
        Ok(self
            .read_bridge_state()?
            .map(|t| spoof::ports(&t))
            .unwrap_or_default())
    }
}
