//! The agent's local state for one network, read by the CNI plugin: the
//! network definition, this host's blocks, the MTU and where the
//! host-local store lives. `<stateDir>/<network>.json`, written atomically
//! (temp file + rename), so a reader sees the old or the new file, never half.

use std::io::Write;
use std::path::{Path, PathBuf};

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::error::ClusterIpamError;
use crate::network::NetworkSpec;

/// Default directory of the state files.
pub const DEFAULT_STATE_DIR: &str = "/run/cnm/overlay";

/// Format version of the state file.
pub const STATE_VERSION: u32 = 1;

/// One network's state on this host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HostState {
    pub version: u32,
    pub network: NetworkSpec,
    /// This host's name in the cluster.
    pub host: String,
    /// The blocks this host holds, in address order (IPv4 first).
    pub blocks: Vec<IpNet>,
    /// The containers' MTU (underlay MTU - 50).
    pub mtu: u32,
    /// The host-local store's data directory.
    pub data_dir: PathBuf,
    /// The network's bridge and VXLAN device on this host.
    pub bridge: String,
    pub vxlan: String,
}

/// The state file of `network` in `dir`.
pub fn path(dir: &Path, network: &str) -> PathBuf {
    dir.join(format!("{network}.json"))
}

impl HostState {
    /// Reads and checks the state file of `network`.
    pub fn load(dir: &Path, network: &str) -> Result<HostState, ClusterIpamError> {
        let p = path(dir, network);
        let bytes = std::fs::read(&p).map_err(|source| ClusterIpamError::State {
            op: "reading",
            path: p.display().to_string(),
            source,
        })?;
        let bad = |msg: String| ClusterIpamError::BadState {
            path: p.display().to_string(),
            msg,
        };
        let s: HostState = serde_json::from_slice(&bytes).map_err(|e| bad(e.to_string()))?;
        if s.version != STATE_VERSION {
            return Err(bad(format!(
                "version {} (expected {STATE_VERSION})",
                s.version
            )));
        }
        if s.network.name != network {
            return Err(bad(format!("holds network {:?}", s.network.name)));
        }
        let plans = s.network.plans()?;
        if let Some(b) = s
            .blocks
            .iter()
            .find(|b| !plans.iter().any(|p| p.is_block(b)))
        {
            let subnets: Vec<String> = s.network.subnets().iter().map(|n| n.to_string()).collect();
            return Err(bad(format!(
                "{b} is not a block of {}",
                subnets.join(" or ")
            )));
        }
        Ok(s)
    }

    /// Writes the state file atomically (temp file in the same directory, rename).
    pub fn store(&self, dir: &Path) -> Result<(), ClusterIpamError> {
        let io = |op: &'static str, p: &Path, source| ClusterIpamError::State {
            op,
            path: p.display().to_string(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(|e| io("creating", dir, e))?;
        let final_path = path(dir, &self.network.name);
        let tmp = dir.join(format!(
            ".{}.json.tmp.{}",
            self.network.name,
            std::process::id()
        ));
        let bytes = serde_json::to_vec_pretty(self).map_err(|e| ClusterIpamError::BadState {
            path: final_path.display().to_string(),
            msg: e.to_string(),
        })?;
        let mut f = std::fs::File::create(&tmp).map_err(|e| io("creating", &tmp, e))?;
        f.write_all(&bytes).map_err(|e| io("writing", &tmp, e))?;
        drop(f);
        std::fs::rename(&tmp, &final_path).map_err(|e| io("renaming", &final_path, e))
    }
}
