//! The plugin's configuration: dnsname's keys, read raw first, then
//! validated into [`Config`].
//!
//! - `domainName` (required): names are answered with and without it;
//!   Podman writes `"dns.podman"`.
//! - `capabilities: {"aliases": true}` makes the runtime pass
//!   `runtimeConfig.aliases`: `{"<network name>": ["alias", ...]}`; only the
//!   list under this network's name applies (as dnsname).
//! - Ours, ignored by the original: `internal` (bool, no forwarding from
//!   this network) and `upstreams` (resolvers to forward to instead of the
//!   host's `/etc/resolv.conf`: `"10.0.0.53"`, `"[fd00::53]:5353"`).
//!
//! The container's name is CNI_ARGS `K8S_POD_NAME`, which is how Podman 4
//! passes it (`IgnoreUnknown=1;K8S_POD_NAME=<name>`), as dnsname reads it.

use std::collections::BTreeMap;

use cni_protocol::{CniError, NetConf, Request};
use cnm_dns_records::{validate_dns_name, Upstream};
use serde::Deserialize;

/// The CNI_ARGS key holding the container's name.
pub const NAME_ARG: &str = "K8S_POD_NAME";
/// CNI_ARGS keys this plugin reads (others need `IgnoreUnknown=1`, as libcni's `LoadArgs`).
pub const KNOWN_ARGS: &[&str] = &[NAME_ARG];

/// The keys as they come.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Raw {
    #[serde(default)]
    domain_name: Option<String>,
    #[serde(default)]
    internal: Option<bool>,
    #[serde(default)]
    upstreams: Option<Vec<String>>,
}

/// The validated configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The network.
    pub network: String,
    /// `domainName`.
    pub domain: String,
    /// `internal`.
    pub internal: bool,
    /// `upstreams`.
    pub upstreams: Vec<Upstream>,
}

impl Config {
    /// Reads and validates the keys (code 7 naming the key on any error).
    pub fn from_conf(conf: &NetConf) -> Result<Config, CniError> {
        let raw: Raw = conf.typed()?;
        let domain = match raw.domain_name {
            None => {
                return Err(CniError::invalid_config(
                    "missing domainName",
                    "dnsname needs \"domainName\" (Podman writes \"dns.podman\")",
                ))
            }
            Some(d) => {
                let d = d.trim_end_matches('.').to_string();
                validate_dns_name(&d)
                    .map_err(|e| CniError::invalid_config("invalid domainName", e.to_string()))?;
                d
            }
        };
        let upstreams = raw
            .upstreams
            .unwrap_or_default()
            .iter()
            .map(|u| {
                u.parse::<Upstream>()
                    .map_err(|e| CniError::invalid_config("invalid upstreams", e))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Config {
            network: conf.name.clone(),
            domain,
            internal: raw.internal.unwrap_or(false),
            upstreams,
        })
    }
}

/// The aliases the runtime passed for this network (`runtimeConfig.aliases[<network>]`),
/// each checked (code 7 naming the alias).
pub fn aliases(conf: &NetConf) -> Result<Vec<String>, CniError> {
    let Some(value) = conf.runtime_config.get("aliases") else {
        return Ok(Vec::new());
    };
    let map: BTreeMap<String, Vec<String>> =
        serde_json::from_value(value.clone()).map_err(|e| {
            CniError::invalid_config(
                "invalid runtimeConfig.aliases",
                format!("expected {{\"<network>\": [\"alias\", ...]}}: {e}"),
            )
        })?;
    let mut out = Vec::new();
    for a in map.get(&conf.name).cloned().unwrap_or_default() {
        validate_dns_name(&a)
            .map_err(|e| CniError::invalid_config("invalid alias", e.to_string()))?;
        if !out.contains(&a) {
            out.push(a);
        }
    }
    Ok(out)
}

/// The container's name from CNI_ARGS (code 4 when missing or not a name).
pub fn container_name(req: &Request) -> Result<String, CniError> {
    let args = &req.env.args;
    args.check_known(KNOWN_ARGS)?;
    let name = args.get(NAME_ARG).unwrap_or_default();
    if name.is_empty() {
        return Err(CniError::invalid_env(
            "missing container name",
            format!("CNI_ARGS must carry {NAME_ARG}=<container name> (Podman passes it)"),
        ));
    }
    validate_dns_name(name).map_err(|e| {
        CniError::invalid_env(
            "invalid container name",
            format!("CNI_ARGS {NAME_ARG}: {e}"),
        )
    })?;
    Ok(name.to_string())
}
