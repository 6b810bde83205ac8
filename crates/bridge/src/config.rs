//! The bridge network's config: the raw JSON fields of the reference bridge
//! plugin, validated into a typed [`BridgeConfig`]. Errors are invalid
//! configs (CNI code 7 through the CNI front-end).

use cnm_model::{DnsSettings, DriverError};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::names::validate_link_name;

/// Highest VLAN ID a bridge port accepts.
pub const MAX_VLAN: i64 = 4094;
/// MTU bounds accepted by the kernel for Ethernet-like links.
pub const MIN_MTU: i64 = 68;
pub const MAX_MTU: i64 = 65535;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawTrunk {
    id: Option<i64>,
    #[serde(rename = "minID")]
    min_id: Option<i64>,
    #[serde(rename = "maxID")]
    max_id: Option<i64>,
}

/// The fields of the reference bridge plugin, as they come in.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawBridgeConf {
    #[serde(default)]
    bridge: Option<String>,
    #[serde(default)]
    is_gateway: bool,
    #[serde(default)]
    is_default_gateway: bool,
    #[serde(default)]
    force_address: bool,
    #[serde(default)]
    ip_masq: bool,
    #[serde(default)]
    ip_masq_backend: Option<String>,
    #[serde(default)]
    mtu: Option<i64>,
    #[serde(default)]
    hairpin_mode: bool,
    #[serde(default)]
    promisc_mode: bool,
    #[serde(default)]
    vlan: Option<i64>,
    #[serde(default)]
    vlan_trunk: Option<Vec<RawTrunk>>,
    #[serde(default)]
    preserve_default_vlan: bool,
    #[serde(default, rename = "enabledad")]
    enable_dad: bool,
    #[serde(default)]
    macspoofchk: bool,
    #[serde(default)]
    disable_container_interface: bool,
    #[serde(default)]
    port_isolation: bool,
    #[serde(default)]
    ipv6_link_local: bool,
    #[serde(default)]
    ipam: Option<Value>,
    // Validated (a wrong type is refused), not used: front-ends report DNS.
    #[serde(default)]
    #[allow(dead_code)]
    dns: Option<DnsSettings>,
}

/// A validated bridge network config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeConfig {
    pub network: String,
    pub bridge: String,
    pub is_gateway: bool,
    pub is_default_gateway: bool,
    pub force_address: bool,
    pub ip_masq: bool,
    pub mtu: Option<u32>,
    pub hairpin: bool,
    pub promisc: bool,
    /// 0 means no VLAN.
    pub vlan: u16,
    /// Sorted, de-duplicated tagged VLANs.
    pub vlan_trunk: Vec<u16>,
    pub preserve_default_vlan: bool,
    pub enable_dad: bool,
    pub mac_spoof_check: bool,
    pub disable_container_interface: bool,
    pub port_isolation: bool,
    /// `ipv6LinkLocal`: leave IPv6 (link-local address) on the interface of
    /// an IPv4-only endpoint; off by default, as libnetwork does.
    pub ipv6_link_local: bool,
    /// `None` is layer-2 mode (no IPAM).
    pub ipam_type: Option<String>,
}

impl BridgeConfig {
    /// Parse and validate the options of network `network` (the fields of
    /// the reference bridge plugin's config; other keys are ignored).
    pub fn from_options(network: &str, options: &Map<String, Value>) -> Result<Self, DriverError> {
        let raw: RawBridgeConf = serde_json::from_value(Value::Object(options.clone()))
            .map_err(|e| DriverError::invalid_config("failed to load netconf", e.to_string()))?;

        let bridge = raw.bridge.unwrap_or_else(|| "cni0".to_string());
        validate_link_name(&bridge).map_err(|why| {
            DriverError::invalid_config("invalid field \"bridge\"", why.to_string())
        })?;

        if let Some(backend) = raw.ip_masq_backend.as_deref() {
            if backend != "nftables" && backend != "iptables" {
                return Err(DriverError::invalid_config(
                    "invalid field \"ipMasqBackend\"",
                    format!("unknown ipmasq backend {backend:?}: use \"nftables\" or \"iptables\""),
                ));
            }
        }
        let mtu = match raw.mtu {
            None | Some(0) => None,
            Some(m) if (MIN_MTU..=MAX_MTU).contains(&m) => Some(m as u32),
            Some(m) => {
                return Err(DriverError::invalid_config(
                    "invalid field \"mtu\"",
                    format!("mtu {m} is outside {MIN_MTU}..={MAX_MTU}"),
                ))
            }
        };
        let vlan = match raw.vlan {
            None => 0,
            Some(v) if (0..=MAX_VLAN).contains(&v) => v as u16,
            Some(v) => {
                return Err(DriverError::invalid_config(
                    "invalid field \"vlan\"",
                    format!("invalid VLAN ID {v} (must be between 0 and {MAX_VLAN})"),
                ))
            }
        };
        let vlan_trunk = trunk_ids(raw.vlan_trunk.as_deref().unwrap_or(&[]))?;

        if raw.hairpin_mode && raw.promisc_mode {
            return Err(DriverError::invalid_config(
                "cannot set hairpin mode and promiscuous mode at the same time",
                "fields \"hairpinMode\" and \"promiscMode\" are both true",
            ));
        }
        let ipam_type = raw
            .ipam
            .as_ref()
            .and_then(|v| v.get("type"))
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .map(str::to_string);
        if ipam_type.is_some() && raw.disable_container_interface {
            return Err(DriverError::invalid_config(
                "cannot use IPAM when disableContainerInterface flag is set",
                "fields \"ipam.type\" and \"disableContainerInterface\" are both set",
            ));
        }

        let is_gateway = raw.is_gateway || raw.is_default_gateway;
        if is_gateway && vlan != 0 {
            let helper = format!("{bridge}.{vlan}");
            validate_link_name(&helper).map_err(|why| {
                DriverError::invalid_config(
                    "invalid fields \"bridge\" and \"vlan\"",
                    format!("the VLAN gateway interface name is invalid: {why}"),
                )
            })?;
        }
        Ok(BridgeConfig {
            network: network.to_string(),
            bridge,
            is_gateway,
            is_default_gateway: raw.is_default_gateway,
            force_address: raw.force_address,
            ip_masq: raw.ip_masq,
            mtu,
            hairpin: raw.hairpin_mode,
            promisc: raw.promisc_mode,
            vlan,
            vlan_trunk,
            preserve_default_vlan: raw.preserve_default_vlan,
            enable_dad: raw.enable_dad,
            mac_spoof_check: raw.macspoofchk,
            disable_container_interface: raw.disable_container_interface,
            port_isolation: raw.port_isolation,
            ipv6_link_local: raw.ipv6_link_local,
            ipam_type,
        })
    }

    /// True when the bridge does VLAN filtering.
    pub fn vlan_filtering(&self) -> bool {
        self.vlan != 0 || !self.vlan_trunk.is_empty()
    }
}

fn trunk_ids(trunks: &[RawTrunk]) -> Result<Vec<u16>, DriverError> {
    let bad = |why: String| DriverError::invalid_config("invalid field \"vlanTrunk\"", why);
    let check = |v: i64| -> Result<u16, DriverError> {
        if (1..=MAX_VLAN).contains(&v) {
            Ok(v as u16)
        } else {
            Err(bad(format!(
                "incorrect trunk VLAN ID {v} (must be 1..={MAX_VLAN})"
            )))
        }
    };
    let mut ids = Vec::new();
    for t in trunks {
        match (t.id, t.min_id, t.max_id) {
            (Some(id), None, None) => ids.push(check(id)?),
            (None, Some(lo), Some(hi)) => {
                let (lo, hi) = (check(lo)?, check(hi)?);
                if lo > hi {
                    return Err(bad(format!("minID {lo} is greater than maxID {hi}")));
                }
                ids.extend(lo..=hi);
            }
            (Some(id), Some(_), _) | (Some(id), _, Some(_)) => {
                return Err(bad(format!("entry with id {id} also has minID/maxID")))
            }
            (None, Some(_), None) | (None, None, Some(_)) => {
                return Err(bad("minID and maxID must be given together".to_string()))
            }
            (None, None, None) => return Err(bad("empty trunk entry".to_string())),
        }
    }
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

/// The few fields DEL and GC need, read leniently: a config that ADD would
/// refuse (a bad MAC, hairpin with promisc, an MTU out of range) must not
/// stop DEL from releasing what an earlier ADD made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeardownConfig {
    pub network: String,
    pub bridge: String,
    pub ipam_type: Option<String>,
}

impl TeardownConfig {
    /// Read leniently from network `network`'s options.
    pub fn from_options(network: &str, options: &Map<String, Value>) -> Result<Self, DriverError> {
        let bridge = match options.get("bridge") {
            None | Some(Value::Null) => "cni0".to_string(),
            Some(Value::String(s)) => s.clone(),
            Some(other) => {
                return Err(DriverError::invalid_config(
                    "invalid field \"bridge\"",
                    format!("expected a string, got {other}"),
                ))
            }
        };
        validate_link_name(&bridge).map_err(|why| {
            DriverError::invalid_config("invalid field \"bridge\"", why.to_string())
        })?;
        let ipam_type = options
            .get("ipam")
            .and_then(|v| v.get("type"))
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .map(str::to_string);
        Ok(TeardownConfig {
            network: network.to_string(),
            bridge,
            ipam_type,
        })
    }
}
