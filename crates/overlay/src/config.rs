//! The overlay's network options: where the agent's state is and what the
//! network must be; and what the bridge driver receives, derived from the
//! state.

use std::path::PathBuf;

use cnm_cluster_ipam::{ClusterIpamError, HostState};
use cnm_model::{DriverError, ErrorKind};
use ipnet::IpNet;
use serde_json::{Map, Value};

pub use cnm_cluster_ipam::state::DEFAULT_STATE_DIR;

/// The overlay's own options (other keys of the config are ignored here).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverlayConfig {
    pub network: String,
    /// Where the agent writes the state files.
    pub state_dir: PathBuf,
    /// Masquerade traffic from the cluster subnet to anywhere outside it.
    pub ip_masq: bool,
    /// When given, the state must describe this subnet / VNI (a config that
    /// contradicts the cluster is refused before anything is created).
    pub subnet: Option<IpNet>,
    pub vni: Option<u32>,
}

fn field<'a>(o: &'a Map<String, Value>, k: &str) -> Option<&'a Value> {
    o.get(k).filter(|v| !v.is_null())
}

fn wrong(key: &str, want: &str, got: &Value) -> DriverError {
    DriverError::invalid_config(
        format!("invalid field {key:?}"),
        format!("expected {want}, got {got}"),
    )
}

impl OverlayConfig {
    /// Reads the overlay's fields of network `network`'s options.
    pub fn from_options(network: &str, o: &Map<String, Value>) -> Result<Self, DriverError> {
        let state_dir = match field(o, "stateDir") {
            None => PathBuf::from(DEFAULT_STATE_DIR),
            Some(Value::String(s)) if !s.is_empty() => PathBuf::from(s),
            Some(v) => return Err(wrong("stateDir", "a non-empty string", v)),
        };
        let ip_masq = match field(o, "ipMasq") {
            None => true,
            Some(Value::Bool(b)) => *b,
            Some(v) => return Err(wrong("ipMasq", "a boolean", v)),
        };
        let subnet = match field(o, "subnet") {
            None => None,
            Some(Value::String(s)) => Some(s.parse::<IpNet>().map_err(|e| {
                DriverError::invalid_config("invalid field \"subnet\"", format!("{s:?}: {e}"))
            })?),
            Some(v) => return Err(wrong("subnet", "a CIDR string", v)),
        };
        let vni = match field(o, "vni") {
            None => None,
            Some(v) => match v.as_u64() {
                Some(n) if (1..=u64::from(cnm_cluster_ipam::network::MAX_VNI)).contains(&n) => {
                    Some(n as u32)
                }
                _ => return Err(wrong("vni", "an integer in 1..=16777215", v)),
            },
        };
        for key in ["bridge", "mtu", "isGateway", "isDefaultGateway"] {
            if field(o, key).is_some() {
                return Err(DriverError::invalid_config(
                    format!("field {key:?} is not an overlay option"),
                    "the node agent sets the bridge, MTU and gateways of overlay networks",
                ));
            }
        }
        Ok(OverlayConfig {
            network: network.to_string(),
            state_dir,
            ip_masq,
            subnet,
            vni,
        })
    }

    /// The agent's state for this network on this host, checked against
    /// the config. Missing state is "try again later" (code 11): the agent
    /// may not have started or reached etcd yet.
    pub fn load_state(&self) -> Result<HostState, DriverError> {
        let st = HostState::load(&self.state_dir, &self.network).map_err(|e| match e {
            ClusterIpamError::State { .. } => DriverError::new(
                ErrorKind::TryAgainLater,
                format!(
                    "overlay network {:?} is not set up on this host",
                    self.network
                ),
                format!("{e}; is the node agent (cnmd) running with this network?"),
            ),
            other => DriverError::invalid_config("invalid overlay state", other.to_string()),
        })?;
        if let Some(s) = self.subnet {
            if s != st.network.subnet {
                return Err(DriverError::invalid_config(
                    "invalid field \"subnet\"",
                    format!(
                        "the cluster's network {:?} has subnet {}, the config says {s}",
                        self.network, st.network.subnet
                    ),
                ));
            }
        }
        if let Some(v) = self.vni {
            if v != st.network.vni {
                return Err(DriverError::invalid_config(
                    "invalid field \"vni\"",
                    format!(
                        "the cluster's network {:?} has vni {}, the config says {v}",
                        self.network, st.network.vni
                    ),
                ));
            }
        }
        Ok(st)
    }
}

/// The bridge driver's options for an overlay network: the caller's
/// options with the bridge, MTU and gateway role from the state; no
/// masquerade of its own (the bridge would masquerade per block, i.e. also
/// towards the other hosts' blocks).
pub fn bridge_options(options: &Map<String, Value>, st: &HostState) -> Map<String, Value> {
    let mut o = options.clone();
    o.insert("bridge".into(), Value::from(st.bridge.clone()));
    o.insert("mtu".into(), Value::from(st.mtu));
    o.insert("isGateway".into(), Value::Bool(true));
    o.insert("isDefaultGateway".into(), Value::Bool(true));
    o.insert("ipMasq".into(), Value::Bool(false));
    for k in ["stateDir", "subnet", "vni"] {
        o.remove(k);
    }
    o
}
