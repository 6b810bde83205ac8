//! The agent's command line, parsed into raw strings first and then
//! validated into a typed [`Config`]; every refusal names the flag.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use cnm_cluster_ipam::state::DEFAULT_STATE_DIR;
use cnm_cluster_ipam::{keys, NetworkSpec};
use ipnet::IpNet;

/// What the agent was asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Run the agent (the default).
    Run,
    /// Release one block of this host (explicitly; refused while in use).
    ReleaseBlock { network: String, block: IpNet },
    /// Release the empty blocks of hosts whose lease is gone.
    GcBlocks { network: String },
}

/// TLS material for etcd (PEM files).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tls {
    pub ca: PathBuf,
    /// Client certificate and key (both or neither).
    pub identity: Option<(PathBuf, PathBuf)>,
}

/// The validated configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub command: Command,
    pub host: String,
    pub underlay_ip: IpAddr,
    pub endpoints: Vec<String>,
    pub tls: Option<Tls>,
    pub networks: Vec<NetworkSpec>,
    pub state_dir: PathBuf,
    pub data_dir: PathBuf,
    pub prefix: String,
    pub lease_ttl: i64,
    /// Claim another block when fewer free addresses than this are left.
    pub min_free: u128,
    /// How often local usage is checked (claims ahead) and everything resynced.
    pub tick: Duration,
    /// How often the empty blocks of dead hosts are collected (None: never).
    pub gc_interval: Option<Duration>,
}

/// The host-local store's default folder (the reference's).
pub const DEFAULT_DATA_DIR: &str = "/var/lib/cni/networks";

pub const USAGE: &str = "usage: cnmd [run|release-block --block CIDR|gc-blocks] \
--host NAME --underlay-ip IP --etcd-endpoints URL[,URL...] \
[--etcd-cacert PEM [--etcd-cert PEM --etcd-key PEM]] \
--network name=NAME,subnet=CIDR,vni=N,block=PREFIXLEN [--network ...] \
[--state-dir DIR] [--data-dir DIR] [--prefix /cnm/v1] [--lease-ttl SECS] \
[--min-free N] [--tick-ms MS] [--gc-interval SECS]";

fn bad(flag: &str, msg: impl std::fmt::Display) -> String {
    format!("{flag}: {msg}")
}

/// `name=ov1,subnet=10.214.0.0/16,vni=42,block=26`
pub fn parse_network(s: &str) -> Result<NetworkSpec, String> {
    let (mut name, mut subnet, mut vni, mut block) = (None, None, None, None);
    for part in s.split(',') {
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| bad("--network", format!("{part:?} is not key=value")))?;
        match k {
            "name" => name = Some(v.to_string()),
            "subnet" => {
                subnet = Some(
                    v.parse::<IpNet>()
                        .map_err(|e| bad("--network", format!("subnet {v:?}: {e}")))?,
                )
            }
            "vni" => {
                vni = Some(
                    v.parse::<u32>()
                        .map_err(|e| bad("--network", format!("vni {v:?}: {e}")))?,
                )
            }
            "block" => {
                block = Some(
                    v.trim_start_matches('/')
                        .parse::<u8>()
                        .map_err(|e| bad("--network", format!("block {v:?}: {e}")))?,
                )
            }
            other => return Err(bad("--network", format!("unknown key {other:?}"))),
        }
    }
    let spec = NetworkSpec {
        name: name.ok_or_else(|| bad("--network", "name= is required"))?,
        subnet: subnet.ok_or_else(|| bad("--network", "subnet= is required"))?,
        vni: vni.ok_or_else(|| bad("--network", "vni= is required"))?,
        block_prefix: block.ok_or_else(|| bad("--network", "block= is required"))?,
    };
    spec.validate().map_err(|e| bad("--network", e))?;
    Ok(spec)
}

impl Config {
    /// Parses and validates `args` (without the program name).
    pub fn parse(args: &[String]) -> Result<Config, String> {
        let mut it = args.iter().peekable();
        let command_word = match it.peek() {
            Some(w) if !w.starts_with("--") => it.next().cloned(),
            _ => None,
        };
        let mut flags: Vec<(String, String)> = Vec::new();
        while let Some(flag) = it.next() {
            if !flag.starts_with("--") {
                return Err(format!("unexpected argument {flag:?}"));
            }
            let (k, v) = match flag.split_once('=') {
                Some((k, v)) => (k.to_string(), v.to_string()),
                None => (
                    flag.clone(),
                    it.next()
                        .cloned()
                        .ok_or_else(|| bad(flag, "needs a value"))?,
                ),
            };
            flags.push((k, v));
        }
        let one = |name: &str| -> Result<Option<String>, String> {
            let mut vals = flags.iter().filter(|(k, _)| k == name).map(|(_, v)| v);
            let first = vals.next().cloned();
            if vals.next().is_some() {
                return Err(bad(name, "given more than once"));
            }
            Ok(first)
        };
        const KNOWN: &[&str] = &[
            "--host",
            "--underlay-ip",
            "--etcd-endpoints",
            "--etcd-cacert",
            "--etcd-cert",
            "--etcd-key",
            "--network",
            "--state-dir",
            "--data-dir",
            "--prefix",
            "--lease-ttl",
            "--min-free",
            "--tick-ms",
            "--gc-interval",
            "--block",
        ];
        if let Some((k, _)) = flags.iter().find(|(k, _)| !KNOWN.contains(&k.as_str())) {
            return Err(format!("unknown flag {k}"));
        }

        let host = match one("--host")? {
            Some(h) => h,
            None => std::fs::read_to_string("/proc/sys/kernel/hostname")
                .map(|s| s.trim().to_string())
                .map_err(|e| bad("--host", format!("not given and no hostname: {e}")))?,
        };
        if host.is_empty()
            || !host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return Err(bad("--host", format!("{host:?} is not a valid host name")));
        }
        let underlay_ip: IpAddr = one("--underlay-ip")?
            .ok_or_else(|| bad("--underlay-ip", "is required"))?
            .parse()
            .map_err(|e| bad("--underlay-ip", e))?;
        let endpoints: Vec<String> = one("--etcd-endpoints")?
            .ok_or_else(|| bad("--etcd-endpoints", "is required"))?
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect();
        if endpoints.is_empty() {
            return Err(bad("--etcd-endpoints", "is empty"));
        }
        let https = endpoints
            .iter()
            .filter(|e| e.starts_with("https://"))
            .count();
        if let Some(e) = endpoints
            .iter()
            .find(|e| !e.starts_with("http://") && !e.starts_with("https://"))
        {
            return Err(bad(
                "--etcd-endpoints",
                format!("{e:?} must start with http:// or https://"),
            ));
        }
        let ca = one("--etcd-cacert")?.map(PathBuf::from);
        let cert = one("--etcd-cert")?.map(PathBuf::from);
        let key = one("--etcd-key")?.map(PathBuf::from);
        let tls = match (ca, cert, key) {
            (None, None, None) => None,
            (Some(ca), None, None) => Some(Tls { ca, identity: None }),
            (Some(ca), Some(c), Some(k)) => Some(Tls {
                ca,
                identity: Some((c, k)),
            }),
            (None, _, _) => {
                return Err(bad(
                    "--etcd-cacert",
                    "is required with --etcd-cert/--etcd-key",
                ))
            }
            _ => return Err(bad("--etcd-cert", "--etcd-cert and --etcd-key go together")),
        };
        if tls.is_some() != (https == endpoints.len()) || (https != 0 && https != endpoints.len()) {
            return Err(bad(
                "--etcd-endpoints",
                "use https:// endpoints exactly when --etcd-cacert is given",
            ));
        }
        let mut networks = Vec::new();
        for (_, v) in flags.iter().filter(|(k, _)| k == "--network") {
            let n = parse_network(v)?;
            n.check_against(&networks)
                .map_err(|e| bad("--network", e))?;
            networks.push(n);
        }
        if networks.is_empty() {
            return Err(bad("--network", "at least one is required"));
        }
        let num = |name: &str, default: u64| -> Result<u64, String> {
            one(name)?
                .map(|v| v.parse::<u64>().map_err(|e| bad(name, e)))
                .transpose()
                .map(|v| v.unwrap_or(default))
        };
        let lease_ttl = num("--lease-ttl", 10)?;
        if !(2..=3600).contains(&lease_ttl) {
            return Err(bad("--lease-ttl", "must be 2..=3600 seconds"));
        }
        let tick = num("--tick-ms", 1000)?;
        if !(50..=60_000).contains(&tick) {
            return Err(bad("--tick-ms", "must be 50..=60000"));
        }
        let gc = num("--gc-interval", 300)?;
        let prefix = one("--prefix")?.unwrap_or_else(|| keys::DEFAULT_ROOT.to_string());
        if !prefix.starts_with('/') || prefix.ends_with('/') {
            return Err(bad("--prefix", "must start with '/' and not end with one"));
        }
        let network_named = |name: Option<String>| -> Result<String, String> {
            match name {
                Some(n) if networks.iter().any(|s| s.name == n) => Ok(n),
                Some(n) => Err(bad("--network", format!("{n:?} is not configured"))),
                None if networks.len() == 1 => Ok(networks[0].name.clone()),
                None => Err(bad(
                    "--network",
                    "name the network (several are configured)",
                )),
            }
        };
        let command = match command_word.as_deref() {
            None | Some("run") => Command::Run,
            Some("release-block") => {
                let block: IpNet = one("--block")?
                    .ok_or_else(|| bad("--block", "is required"))?
                    .parse()
                    .map_err(|e| bad("--block", e))?;
                let network = network_named(
                    networks
                        .iter()
                        .find(|n| n.subnet.contains(&block))
                        .map(|n| n.name.clone()),
                )?;
                Command::ReleaseBlock { network, block }
            }
            Some("gc-blocks") => Command::GcBlocks {
                network: network_named(None)?,
            },
            Some(other) => return Err(format!("unknown command {other:?}")),
        };
        Ok(Config {
            command,
            host,
            underlay_ip,
            endpoints,
            tls,
            networks,
            state_dir: one("--state-dir")?
                .map_or_else(|| PathBuf::from(DEFAULT_STATE_DIR), PathBuf::from),
            data_dir: one("--data-dir")?
                .map_or_else(|| PathBuf::from(DEFAULT_DATA_DIR), PathBuf::from),
            prefix,
            lease_ttl: lease_ttl as i64,
            min_free: u128::from(num("--min-free", 16)?),
            tick: Duration::from_millis(tick),
            gc_interval: (gc != 0).then(|| Duration::from_secs(gc)),
        })
    }
}

/// The bridge and VXLAN device names of a network (by VNI: unique in the cluster).
pub fn device_names(spec: &NetworkSpec) -> (String, String) {
    (format!("cnmb{}", spec.vni), format!("cnmx{}", spec.vni))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    const BASE: &str =
        "--host h1 --underlay-ip 10.213.0.11 --etcd-endpoints http://10.213.0.11:2379";

    #[test]
    fn parses_a_full_command_line() {
        let c = Config::parse(&args(&format!(
            "{BASE} --network name=ov1,subnet=10.214.0.0/16,vni=42,block=26 --min-free 100 --tick-ms 200"
        )))
        .unwrap();
        assert_eq!(c.command, Command::Run);
        assert_eq!(c.networks[0].vni, 42);
        assert_eq!(c.min_free, 100);
        assert_eq!(c.tick, Duration::from_millis(200));
        assert_eq!(
            device_names(&c.networks[0]),
            ("cnmb42".into(), "cnmx42".into())
        );
        let r = Config::parse(&args(&format!(
            "release-block {BASE} --network name=ov1,subnet=10.214.0.0/16,vni=42,block=26 --block 10.214.0.64/26"
        )))
        .unwrap();
        assert_eq!(
            r.command,
            Command::ReleaseBlock {
                network: "ov1".into(),
                block: "10.214.0.64/26".parse().unwrap()
            }
        );
    }

    #[test]
    fn refuses_bad_configs_with_the_flag_named() {
        for (extra, want) in [
            ("--network name=ov1,subnet=10.214.0.0/16,vni=0,block=26", "vni 0 is out of range"),
            ("--network name=ov1,subnet=10.214.0.0/24,vni=1,block=16", "larger than the subnet"),
            (
                "--network name=a,subnet=10.214.0.0/16,vni=1,block=26 --network name=b,subnet=10.214.3.0/24,vni=2,block=26",
                "overlaps",
            ),
            ("--network name=a,subnet=10.214.0.0/16,vni=1", "block= is required"),
            ("", "at least one is required"),
            ("--network name=a,subnet=10.214.0.0/16,vni=1,block=26 --lease-ttl 1", "--lease-ttl"),
            ("--network name=a,subnet=10.214.0.0/16,vni=1,block=26 --bogus 1", "unknown flag"),
            (
                "--network name=a,subnet=10.214.0.0/16,vni=1,block=26 --etcd-cacert /x",
                "https:// endpoints",
            ),
        ] {
            let e = Config::parse(&args(&format!("{BASE} {extra}"))).unwrap_err();
            assert!(e.contains(want), "{extra}: {e}");
        }
    }
}
