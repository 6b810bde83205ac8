//! Claiming, reporting, releasing and collecting blocks in the store.
//!
//! A claim is one compare-and-create of the block's key: it succeeds only if
//! nobody holds the block, so two hosts can never hold the same block; a
//! host that loses the race tries the next free block. Releases and usage
//! reports are compare-and-swap on the record this host last read, so they
//! never undo another host's write.

use std::collections::{BTreeSet, HashSet};
use std::time::{SystemTime, UNIX_EPOCH};

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::error::ClusterIpamError;
use crate::keys;
use crate::kv::Kv;
use crate::network::NetworkSpec;
use crate::plan::BlockPlan;

/// What a block's key holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockRecord {
    /// The host holding the block.
    pub host: String,
    /// Addresses in use, as last reported by the host's agent (GC only
    /// collects blocks reported empty).
    #[serde(default)]
    pub used: u64,
    /// Seconds since the epoch when the block was claimed.
    #[serde(default)]
    pub claimed_at: u64,
}

/// One claimed block as read from the store (record and its exact bytes,
/// for compare-and-swap).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimed {
    pub block: IpNet,
    pub record: BlockRecord,
    pub raw: Vec<u8>,
}

/// Defines `spec` in the cluster unless it is already defined identically;
/// refuses overlaps with other networks and shared VNIs. Nothing is written
/// when the definition is refused.
pub fn define_network<K: Kv>(
    kv: &mut K,
    root: &str,
    spec: &NetworkSpec,
) -> Result<(), ClusterIpamError> {
    spec.validate()?;
    let key = keys::network(root, &spec.name);
    // A bounded loop: another host may define a network between the list and the create.
    for _ in 0..8 {
        let mut others = Vec::new();
        for (k, v) in kv.list(&keys::networks(root))? {
            let other: NetworkSpec =
                serde_json::from_slice(&v).map_err(|e| ClusterIpamError::Malformed {
                    key: k.clone(),
                    msg: e.to_string(),
                })?;
            others.push(other);
        }
        spec.check_against(&others)?;
        if others.iter().any(|o| o == spec) {
            return Ok(());
        }
        let value = serde_json::to_vec(spec).map_err(|e| ClusterIpamError::Malformed {
            key: key.clone(),
            msg: e.to_string(),
        })?;
        if kv.create(&key, &value)? {
            return Ok(());
        }
    }
    Err(ClusterIpamError::Config {
        network: spec.name.clone(),
        msg: "the cluster's network definitions keep changing; try again".into(),
    })
}

/// Every claimed block of `network`.
pub fn list_blocks<K: Kv>(
    kv: &mut K,
    root: &str,
    network: &str,
) -> Result<Vec<Claimed>, ClusterIpamError> {
    let prefix = keys::blocks(root, network);
    let mut out = Vec::new();
    for (k, v) in kv.list(&prefix)? {
        let malformed = |msg: String| ClusterIpamError::Malformed {
            key: k.clone(),
            msg,
        };
        let block = keys::parse_block_name(&k[prefix.len()..])
            .ok_or_else(|| malformed("not a block name".into()))?;
        let record: BlockRecord =
            serde_json::from_slice(&v).map_err(|e| malformed(e.to_string()))?;
        out.push(Claimed {
            block,
            record,
            raw: v,
        });
    }
    Ok(out)
}

/// Names of the hosts with a live record (their lease holds).
pub fn live_hosts<K: Kv>(kv: &mut K, root: &str) -> Result<HashSet<String>, ClusterIpamError> {
    let prefix = keys::hosts(root);
    Ok(kv
        .list(&prefix)?
        .into_iter()
        .map(|(k, _)| k[prefix.len()..].to_string())
        .collect())
}

/// Deletes the blocks of hosts without a live record that were reported
/// empty. Returns the blocks released.
pub fn gc_blocks<K: Kv>(
    kv: &mut K,
    root: &str,
    network: &str,
) -> Result<Vec<IpNet>, ClusterIpamError> {
    let live = live_hosts(kv, root)?;
    let mut released = Vec::new();
    for c in list_blocks(kv, root, network)? {
        if live.contains(&c.record.host) || c.record.used != 0 {
            continue;
        }
        if kv.delete_if(&keys::block(root, network, &c.block), &c.raw)? {
            released.push(c.block);
        }
    }
    Ok(released)
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// One host's view of one network's blocks.
pub struct Claimer<K: Kv> {
    kv: K,
    root: String,
    spec: NetworkSpec,
    /// One plan per address family (dual stack: IPv4 then IPv6).
    plans: Vec<BlockPlan>,
    host: String,
}

impl<K: Kv> Claimer<K> {
    /// A claimer for `host` on the (validated) network `spec`.
    pub fn new(kv: K, root: &str, spec: NetworkSpec, host: &str) -> Result<Self, ClusterIpamError> {
        let plans = spec.plans()?;
        if host.is_empty() || host.contains('/') {
            return Err(ClusterIpamError::Config {
                network: spec.name.clone(),
                msg: format!("invalid host name {host:?}"),
            });
        }
        Ok(Claimer {
            kv,
            root: root.to_string(),
            spec,
            plans,
            host: host.to_string(),
        })
    }

    /// The first (IPv4 for dual stack) plan.
    pub fn plan(&self) -> &BlockPlan {
        &self.plans[0]
    }

    /// Every plan of the network.
    pub fn plans(&self) -> &[BlockPlan] {
        &self.plans
    }

    /// (plan, index in it) of `block`, when it is a block of the network.
    fn locate(&self, block: &IpNet) -> Option<(usize, u128)> {
        self.plans
            .iter()
            .enumerate()
            .find_map(|(p, plan)| plan.index_of(block).map(|i| (p, i)))
    }

    pub fn kv(&mut self) -> &mut K {
        &mut self.kv
    }

    fn key(&self, block: &IpNet) -> String {
        keys::block(&self.root, &self.spec.name, block)
    }

    /// The blocks this host holds, in address order (IPv4 first).
    pub fn held(&mut self) -> Result<Vec<Claimed>, ClusterIpamError> {
        let mut mine: Vec<(Option<(usize, u128)>, Claimed)> =
            list_blocks(&mut self.kv, &self.root, &self.spec.name)?
                .into_iter()
                .filter(|c| c.record.host == self.host)
                .map(|c| (self.locate(&c.block), c))
                .filter(|(at, _)| at.is_some())
                .collect();
        mine.sort_by_key(|(at, _)| *at);
        Ok(mine.into_iter().map(|(_, c)| c).collect())
    }

    /// Claims the lowest free block of the first plan. A lost race moves
    /// on to the next one.
    pub fn claim(&mut self) -> Result<IpNet, ClusterIpamError> {
        self.claim_in(0)
    }

    /// Claims the lowest free block of plan `p` (0: the subnet, 1: the
    /// IPv6 subnet of a dual-stack network).
    pub fn claim_in(&mut self, p: usize) -> Result<IpNet, ClusterIpamError> {
        let plan = *self.plans.get(p).ok_or_else(|| ClusterIpamError::Config {
            network: self.spec.name.clone(),
            msg: format!("no address family #{p}"),
        })?;
        let taken: BTreeSet<u128> = list_blocks(&mut self.kv, &self.root, &self.spec.name)?
            .iter()
            .filter_map(|c| plan.index_of(&c.block))
            .collect();
        let record = BlockRecord {
            host: self.host.clone(),
            used: 0,
            claimed_at: now(),
        };
        let value = serde_json::to_vec(&record).map_err(|e| ClusterIpamError::Malformed {
            key: self.host.clone(),
            msg: e.to_string(),
        })?;
        let mut i: u128 = 0;
        while i < plan.count() {
            if !taken.contains(&i) {
                let Some(block) = plan.nth(i) else { break };
                if self.kv.create(&self.key(&block), &value)? {
                    return Ok(block);
                }
            }
            i += 1;
        }
        Err(ClusterIpamError::Exhausted {
            network: self.spec.name.clone(),
            subnet: plan.subnet().to_string(),
            blocks: plan.count(),
            prefix: plan.block_prefix(),
        })
    }

    /// Records how many addresses of `block` are in use (for GC), when that
    /// changed. `Ok(false)` when the block is not this host's any more.
    pub fn report_usage(&mut self, claimed: &Claimed, used: u64) -> Result<bool, ClusterIpamError> {
        if claimed.record.host != self.host {
            return Ok(false);
        }
        if claimed.record.used == used {
            return Ok(true);
        }
        let record = BlockRecord {
            used,
            ..claimed.record.clone()
        };
        let value = serde_json::to_vec(&record).map_err(|e| ClusterIpamError::Malformed {
            key: self.key(&claimed.block),
            msg: e.to_string(),
        })?;
        Ok(self
            .kv
            .replace(&self.key(&claimed.block), &claimed.raw, &value)?)
    }

    /// Releases `block` (an explicit command). Refused when another host
    /// holds it or when `local_used` (addresses in use in this host's store)
    /// is not zero.
    pub fn release(&mut self, block: &IpNet, local_used: u64) -> Result<(), ClusterIpamError> {
        let refuse = |msg: String| ClusterIpamError::Release {
            network: self.spec.name.clone(),
            block: block.to_string(),
            msg,
        };
        if local_used != 0 {
            return Err(refuse(format!(
                "{local_used} addresses are still in use here"
            )));
        }
        let key = self.key(block);
        let Some(raw) = self.kv.get(&key)? else {
            return Err(refuse("not claimed".into()));
        };
        let record: BlockRecord =
            serde_json::from_slice(&raw).map_err(|e| ClusterIpamError::Malformed {
                key: key.clone(),
                msg: e.to_string(),
            })?;
        if record.host != self.host {
            return Err(refuse(format!(
                "held by host {:?}, not this one",
                record.host
            )));
        }
        if !self.kv.delete_if(&key, &raw)? {
            return Err(refuse("changed while releasing; try again".into()));
        }
        Ok(())
    }
}
