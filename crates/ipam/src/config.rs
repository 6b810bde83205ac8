//! The host-local configuration (the `ipam` object plus top-level `runtimeConfig`
//! and `args`), validated like the reference `LoadIPAMConfig`.

use std::net::IpAddr;
use std::path::PathBuf;

use cnm_model::StaticRoute;
use ipnet::IpNet;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::error::IpamError;
use crate::ipmath::parse_ip_maybe_prefix;
use crate::range::{RangeSet, RangeSpec};
use crate::store::DEFAULT_DATA_DIR;

/// A validated host-local configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpamConfig {
    /// The network name: the store directory under `data_dir`.
    pub name: String,
    pub cni_version: String,
    /// Range sets in final order: `runtimeConfig.ipRanges`, legacy single range, `ranges`.
    pub ranges: Vec<RangeSet>,
    pub routes: Vec<StaticRoute>,
    pub data_dir: PathBuf,
    pub resolv_conf: Option<PathBuf>,
    /// Requested addresses: the caller's (CNI_ARGS `IP`), then
    /// `args.cni.ips`, then `runtimeConfig.ips`.
    pub requested: Vec<IpAddr>,
}

/// A route of `ipam.routes`, in the CNI result format the reference reads.
#[derive(Debug, Deserialize)]
struct Route {
    dst: IpNet,
    #[serde(default)]
    gw: Option<IpAddr>,
    #[serde(default)]
    mtu: Option<u32>,
    #[serde(default)]
    advmss: Option<u32>,
    #[serde(default)]
    priority: Option<u32>,
    #[serde(default)]
    table: Option<u32>,
    #[serde(default)]
    scope: Option<u8>,
}

impl From<Route> for StaticRoute {
    fn from(r: Route) -> Self {
        StaticRoute {
            destination: r.dst,
            next_hop: r.gw,
            priority: r.priority,
            table: r.table,
            scope: r.scope,
            mtu: r.mtu,
            advmss: r.advmss,
        }
    }
}

/// An address of CNI_ARGS `IP` (or `args.cni.ips`): an address, optionally
/// with a prefix length (`10.1.2.3` or `10.1.2.3/24`).
pub fn parse_requested_ip(s: &str) -> Option<IpAddr> {
    parse_ip_maybe_prefix(s)
}

/// Reads `obj[key]` as `T`; absent or `null` is `None`; a wrong type names `path`.
fn field<T: DeserializeOwned>(
    obj: &Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<Option<T>, IpamError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => serde_json::from_value(v.clone())
            .map(Some)
            .map_err(|e| IpamError::Config(format!("invalid {path}: {e}"))),
    }
}

/// The JSON names of [`RangeSpec`]'s fields, matched as Go does (go-cni's
/// `IPRanges` capability struct has no JSON tags: `Subnet`, `RangeStart`...).
const RANGE_FIELDS: &[&str] = &["subnet", "rangeStart", "rangeEnd", "gateway"];

/// Reads `obj[key]` as range sets, each range's keys folded like Go's decoder.
fn range_sets(
    obj: &Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<Option<Vec<Vec<RangeSpec>>>, IpamError> {
    let folded = match obj.get(key) {
        Some(Value::Array(sets)) => Value::Array(
            sets.iter()
                .map(|set| match set {
                    Value::Array(ranges) => Value::Array(
                        ranges
                            .iter()
                            .map(|r| gojson::fold_keys(r, RANGE_FIELDS))
                            .collect(),
                    ),
                    other => other.clone(),
                })
                .collect(),
        ),
        _ => return field(obj, key, path),
    };
    let mut one = Map::new();
    one.insert(key.to_string(), folded);
    field(&one, key, path)
}

fn object<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<Option<&'a Map<String, Value>>, IpamError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m)),
        Some(_) => Err(IpamError::Config(format!(
            "invalid {path}: expected an object"
        ))),
    }
}

fn parse_requested(list: Vec<String>, path: &str, out: &mut Vec<IpAddr>) -> Result<(), IpamError> {
    for s in list {
        let ip = parse_ip_maybe_prefix(&s).ok_or_else(|| {
            IpamError::Config(format!("invalid {path}: cannot understand ip {s:?}"))
        })?;
        out.push(ip);
    }
    Ok(())
}

/// `true` when `version` is older than 0.3.0 (one address per family only).
fn before_0_3_0(version: &str) -> bool {
    let mut parts = version.split('.').map(|p| p.parse::<u64>().unwrap_or(0));
    let major = parts.next().unwrap_or(0);
    let minor = parts.next().unwrap_or(0);
    version.is_empty() || (major, minor) < (0, 3)
}

/// The data directory named by `ipam.dataDir` (default `/var/lib/cni/networks`).
/// Lenient: used by DEL and GC, which need nothing else from the config, so
/// invalid ranges do not block a release. A `dataDir` that is not a string is
/// still an error (guessing the directory could release someone else's addresses).
pub fn data_dir_of(raw: &Map<String, Value>) -> Result<PathBuf, IpamError> {
    let dir = match raw.get("ipam") {
        Some(Value::Object(ipam)) => field::<String>(ipam, "dataDir", "ipam.dataDir")?,
        _ => None,
    };
    Ok(dir
        .filter(|s| !s.is_empty())
        .map_or_else(|| PathBuf::from(DEFAULT_DATA_DIR), PathBuf::from))
}

/// The addresses a CNI config asks for: `args.cni.ips`, then
/// `runtimeConfig.ips` (CNI_ARGS `IP` is the caller's, before them).
pub fn requested_addresses(raw: &Map<String, Value>) -> Result<Vec<IpAddr>, IpamError> {
    let mut requested = Vec::new();
    if let Some(args) = object(raw, "args", "args")? {
        if let Some(cni) = object(args, "cni", "args.cni")? {
            if let Some(ips) = field::<Vec<String>>(cni, "ips", "args.cni.ips")? {
                parse_requested(ips, "args.cni.ips", &mut requested)?;
            }
        }
    }
    if let Some(rc) = object(raw, "runtimeConfig", "runtimeConfig")? {
        if let Some(ips) = field::<Vec<String>>(rc, "ips", "runtimeConfig.ips")? {
            parse_requested(ips, "runtimeConfig.ips", &mut requested)?;
        }
    }
    Ok(requested)
}

impl IpamConfig {
    /// Validates the full request config `raw` (the whole network config, as the
    /// runtime passes it to IPAM) of network `name`. `requested` comes first
    /// in the requested addresses (the CNI front-end's CNI_ARGS `IP`).
    pub fn from_raw(
        raw: &Map<String, Value>,
        name: &str,
        cni_version: &str,
        requested_first: &[IpAddr],
    ) -> Result<IpamConfig, IpamError> {
        let ipam = match raw.get("ipam") {
            None | Some(Value::Null) => {
                return Err(IpamError::Config("IPAM config missing 'ipam' key".into()))
            }
            Some(Value::Object(m)) => m,
            Some(_) => return Err(IpamError::Config("invalid ipam: expected an object".into())),
        };

        let mut requested = requested_first.to_vec();
        requested.extend(requested_addresses(raw)?);
        let runtime = object(raw, "runtimeConfig", "runtimeConfig")?;

        let mut specs: Vec<Vec<RangeSpec>> = Vec::new();
        if let Some(rc) = runtime {
            if let Some(r) = range_sets(rc, "ipRanges", "runtimeConfig.ipRanges")? {
                specs.extend(r);
            }
        }
        let legacy = RangeSpec {
            subnet: field(ipam, "subnet", "ipam.subnet")?,
            range_start: field(ipam, "rangeStart", "ipam.rangeStart")?,
            range_end: field(ipam, "rangeEnd", "ipam.rangeEnd")?,
            gateway: field(ipam, "gateway", "ipam.gateway")?,
        };
        if legacy.subnet.as_deref().is_some_and(|s| !s.is_empty()) {
            specs.push(vec![legacy]);
        }
        if let Some(r) = range_sets(ipam, "ranges", "ipam.ranges")? {
            specs.extend(r);
        }
        if specs.is_empty() {
            return Err(IpamError::Config(
                "no IP ranges specified (ipam.ranges, ipam.subnet or runtimeConfig.ipRanges)"
                    .into(),
            ));
        }

        let mut ranges = Vec::with_capacity(specs.len());
        for (i, set) in specs.iter().enumerate() {
            let rs = RangeSet::from_specs(set)
                .map_err(|e| IpamError::Config(format!("invalid range set {i}: {e}")))?;
            ranges.push(rs);
        }
        let v4 = ranges.iter().filter(|s| s.is_v4()).count();
        let v6 = ranges.len() - v4;
        if (v4 > 1 || v6 > 1) && before_0_3_0(cni_version) {
            return Err(IpamError::Config(format!(
                "CNI version {cni_version} does not support more than 1 address per family"
            )));
        }
        for (i, a) in ranges.iter().enumerate() {
            for (j, b) in ranges.iter().enumerate().skip(i + 1) {
                if a.overlaps(b) {
                    return Err(IpamError::Config(format!(
                        "range set {i} overlaps with {j}"
                    )));
                }
            }
        }

        let data_dir = match field::<String>(ipam, "dataDir", "ipam.dataDir")? {
            Some(d) if !d.is_empty() => PathBuf::from(d),
            _ => PathBuf::from(DEFAULT_DATA_DIR),
        };
        let resolv_conf = field::<String>(ipam, "resolvConf", "ipam.resolvConf")?
            .filter(|s| !s.is_empty())
            .map(PathBuf::from);
        let routes = field::<Vec<Route>>(ipam, "routes", "ipam.routes")?
            .unwrap_or_default()
            .into_iter()
            .map(StaticRoute::from)
            .collect();

        Ok(IpamConfig {
            name: name.to_string(),
            cni_version: cni_version.to_string(),
            ranges,
            routes,
            data_dir,
            resolv_conf,
            requested,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn load(v: Value, ip: Option<&str>) -> Result<IpamConfig, IpamError> {
        let Value::Object(m) = v else { panic!() };
        let ver = m
            .get("cniVersion")
            .and_then(Value::as_str)
            .unwrap_or("1.0.0")
            .to_string();
        let first: Vec<IpAddr> = ip.iter().filter_map(|s| parse_requested_ip(s)).collect();
        IpamConfig::from_raw(&m, "net1", &ver, &first)
    }
    fn err(v: Value) -> String {
        load(v, None).unwrap_err().to_string()
    }

    #[test]
    fn full_config_order_and_defaults() {
        let c = load(
            json!({"cniVersion":"1.0.0","name":"net1",
              "ipam":{"type":"host-local","subnet":"10.9.0.0/16","gateway":"10.9.0.254",
                "ranges":[[{"subnet":"10.1.0.0/24"}],[{"subnet":"2001:db8::/64"}]],
                "routes":[{"dst":"0.0.0.0/0"}],"dataDir":"/tmp/x"},
              "runtimeConfig":{"ipRanges":[[{"subnet":"10.2.0.0/24"}]],"ips":["10.1.0.7/24"]},
              "args":{"cni":{"ips":["2001:db8::9"]}}}),
            Some("10.2.0.5"),
        )
        .unwrap();
        let subnets: Vec<String> = c.ranges.iter().map(|s| s.0[0].subnet.to_string()).collect();
        assert_eq!(
            subnets,
            ["10.2.0.0/24", "10.9.0.0/16", "10.1.0.0/24", "2001:db8::/64"]
        );
        assert_eq!(c.ranges[1].0[0].gateway.to_string(), "10.9.0.254");
        let req: Vec<String> = c.requested.iter().map(ToString::to_string).collect();
        assert_eq!(req, ["10.2.0.5", "2001:db8::9", "10.1.0.7"]);
        assert_eq!(c.data_dir, PathBuf::from("/tmp/x"));
        assert_eq!(c.routes.len(), 1);
        let d = load(json!({"ipam":{"subnet":"10.0.0.0/24"}}), None).unwrap();
        assert_eq!(d.data_dir, PathBuf::from(DEFAULT_DATA_DIR));
        assert!(d.resolv_conf.is_none());
    }

    #[test]
    fn go_cni_ip_ranges_keys_are_accepted() {
        // containerd's go-cni `IPRanges` struct has no JSON tags.
        let c = load(
            json!({"ipam":{"type":"host-local"},
              "runtimeConfig":{"ipRanges":[[{"Subnet":"10.3.0.0/24","RangeStart":"10.3.0.10",
                "RangeEnd":"10.3.0.20","Gateway":"10.3.0.254"}]]}}),
            None,
        )
        .unwrap();
        let r = &c.ranges[0].0[0];
        assert_eq!(r.subnet.to_string(), "10.3.0.0/24");
        assert_eq!(r.range_start.to_string(), "10.3.0.10");
        assert_eq!(r.range_end.to_string(), "10.3.0.20");
        assert_eq!(r.gateway.to_string(), "10.3.0.254");
        assert!(
            err(json!({"ipam":{},"runtimeConfig":{"ipRanges":[[{"Subnet":"nope"}]]}}))
                .contains("invalid range set 0")
        );
        assert!(err(json!({"ipam":{},"runtimeConfig":{"ipRanges":[3]}})).contains("ipRanges"));
    }

    #[test]
    fn each_validation_error() {
        assert_eq!(err(json!({"name":"x"})), "IPAM config missing 'ipam' key");
        assert!(err(json!({"ipam":{"type":"host-local"}})).starts_with("no IP ranges specified"));
        assert_eq!(
            err(json!({"ipam":{"ranges":[[]]}})),
            "invalid range set 0: empty range set"
        );
        assert_eq!(
            err(json!({"ipam":{"ranges":[[{"subnet":"10.0.0.0/24"},{"subnet":"2001:db8::/64"}]]}})),
            "invalid range set 0: mixed address families"
        );
        assert!(err(json!({"ipam":{"subnet":"10.0.0.5/24"}})).contains("host bits set"));
        assert!(err(json!({"ipam":{"subnet":"10.0.0.0/31"}})).contains("too small"));
        assert!(err(json!({"ipam":{"subnet":"10.0.0.0/32"}})).contains("too small"));
        assert!(err(json!({"ipam":{"subnet":"2001:db8::/127"}})).contains("too small"));
        assert!(err(json!({"ipam":{"subnet":"2001:db8::/128"}})).contains("too small"));
        assert!(
            err(json!({"ipam":{"subnet":"10.0.0.0/24","rangeStart":"10.0.1.1"}}))
                .contains("not in network")
        );
        assert!(
            err(json!({"ipam":{"subnet":"10.0.0.0/24","rangeEnd":"10.0.1.1"}}))
                .contains("not in network")
        );
        assert!(
            err(json!({"ipam":{"subnet":"10.0.0.0/24","gateway":"10.0.1.1"}}))
                .contains("gateway 10.0.1.1 not in network")
        );
        assert!(err(
            json!({"ipam":{"subnet":"10.0.0.0/24","rangeStart":"10.0.0.9","rangeEnd":"10.0.0.3"}})
        )
        .contains("before start"));
        assert_eq!(
            err(json!({"ipam":{"ranges":[[{"subnet":"10.0.0.0/24"},{"subnet":"10.0.0.0/24"}]]}})),
            "invalid range set 0: subnets 10.0.0.1-10.0.0.254 and 10.0.0.1-10.0.0.254 overlap"
        );
        assert_eq!(
            err(json!({"ipam":{"ranges":[[{"subnet":"10.0.0.0/24"}],[{"subnet":"10.0.0.0/16"}]]}})),
            "range set 0 overlaps with 1"
        );
        assert_eq!(
            err(
                json!({"cniVersion":"0.2.0","ipam":{"ranges":[[{"subnet":"10.0.0.0/24"}],[{"subnet":"10.1.0.0/16"}]]}})
            ),
            "CNI version 0.2.0 does not support more than 1 address per family"
        );
        assert!(err(json!({"ipam":{"subnet":"10.0.0.0/24","dataDir":5}}))
            .starts_with("invalid ipam.dataDir"));
        assert!(
            err(json!({"ipam":{"subnet":"10.0.0.0/24"},"runtimeConfig":{"ips":["nope"]}}))
                .contains("runtimeConfig.ips")
        );
        assert!(
            err(json!({"ipam":{"subnet":"10.0.0.0/24"},"args":{"cni":{"ips":["1.2.3"]}}}))
                .contains("args.cni.ips")
        );
        assert!(err(json!({"ipam":"x"})).contains("invalid ipam"));
        assert!(parse_requested_ip("bad").is_none());
        assert_eq!(
            parse_requested_ip("10.1.2.3/24"),
            Some("10.1.2.3".parse().unwrap())
        );
        // every config error is an invalid config (CNI code 7)
        let e = load(json!({"ipam":{"subnet":"10.0.0.5/24"}}), None).unwrap_err();
        let d: cnm_model::DriverError = e.into();
        assert_eq!(d.kind, cnm_model::ErrorKind::InvalidConfig);
    }

    #[test]
    fn lenient_data_dir() {
        let Value::Object(m) = json!({"ipam":{"dataDir":"/d","ranges":"garbage"}}) else {
            panic!()
        };
        assert_eq!(data_dir_of(&m).unwrap(), PathBuf::from("/d"));
        let Value::Object(m) = json!({}) else {
            panic!()
        };
        assert_eq!(data_dir_of(&m).unwrap(), PathBuf::from(DEFAULT_DATA_DIR));
        let Value::Object(m) = json!({"ipam":{"dataDir":7}}) else {
            panic!()
        };
        assert!(data_dir_of(&m).is_err());
    }
}
