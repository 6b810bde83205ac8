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
    /// Container names across hosts (None: `--no-names`).
    pub names: Option<NamesConfig>,
}

/// Where the container names are and how often they are looked at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamesConfig {
    /// The record stores' base (`/run/cnm/dns`): this host's store is
    /// `<dns_dir>/<netns key>/`, the one the `dnsname` plugin writes.
    pub dns_dir: PathBuf,
    /// How often the local store is checked for changes.
    pub poll: Duration,
}

/// The record stores' default base (cnm-dns-records' `DEFAULT_BASE`).
pub const DEFAULT_DNS_DIR: &str = cnm_dns_records::DEFAULT_BASE;

/// The host-local store's default folder (the reference's).
pub const DEFAULT_DATA_DIR: &str = "/var/lib/cni/networks";

/// The command line as given (strings unparsed beyond clap's own checks);
/// [`Config::from_cli`] validates it.
#[derive(Debug, clap::Parser)]
#[command(
    name = "cnmd",
    version,
    about = "The overlay's node agent: claims address blocks in etcd, registers this host and keeps the VXLAN routes, neighbours and FDB entries to the other hosts",
    after_help = "Exit status: 0 done; 1 refused by the cluster or a kernel failure at start; 2 bad flags. Documentation: docs/overlay.md"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<CliCommand>,
    /// The host's name in the cluster ([A-Za-z0-9._-]; default: the hostname).
    #[arg(long, global = true)]
    pub host: Option<String>,
    /// The address the VXLAN traffic leaves from; its link gives the underlay MTU.
    #[arg(long, global = true)]
    pub underlay_ip: Option<String>,
    /// etcd client URLs, comma separated (all https:// exactly when --etcd-cacert is given).
    #[arg(long, global = true)]
    pub etcd_endpoints: Option<String>,
    /// PEM file: the CA that signed etcd's certificate.
    #[arg(long, global = true)]
    pub etcd_cacert: Option<PathBuf>,
    /// PEM file: the client certificate (with --etcd-key).
    #[arg(long, global = true)]
    pub etcd_cert: Option<PathBuf>,
    /// PEM file: the client key (with --etcd-cert).
    #[arg(long, global = true)]
    pub etcd_key: Option<PathBuf>,
    /// One overlay network: name=NAME,subnet=CIDR,vni=N,block=LEN[,subnet6=CIDR,block6=LEN] (repeatable).
    #[arg(long, global = true)]
    pub network: Vec<String>,
    /// Where the state files go (the CNI config's stateDir).
    #[arg(long, global = true)]
    pub state_dir: Option<PathBuf>,
    /// The host-local store.
    #[arg(long, global = true)]
    pub data_dir: Option<PathBuf>,
    /// The etcd key prefix.
    #[arg(long, global = true)]
    pub prefix: Option<String>,
    /// Seconds a dead host stays routed (2..=3600; default 10).
    #[arg(long, global = true)]
    pub lease_ttl: Option<u64>,
    /// Claim another block when fewer addresses are free (default 16).
    #[arg(long, global = true)]
    pub min_free: Option<u64>,
    /// Local checks (claims, usage reports) every this many ms; full resync every 10 ticks (50..=60000; default 1000).
    #[arg(long, global = true)]
    pub tick_ms: Option<u64>,
    /// Collect the empty blocks of hosts without a lease every this many seconds (0: off; default 300).
    #[arg(long, global = true)]
    pub gc_interval: Option<u64>,
    /// Do not publish this host's container names nor feed the other hosts' to the local resolver.
    #[arg(long, global = true)]
    pub no_names: bool,
    /// The name record stores' base directory (the dnsname plugin's; default /run/cnm/dns).
    #[arg(long, global = true)]
    pub dns_dir: Option<PathBuf>,
    /// Check the local name records for changes every this many ms (10..=10000; default 100).
    #[arg(long, global = true)]
    pub names_poll_ms: Option<u64>,
}

/// The subcommands (none: `run`).
#[derive(Debug, clap::Subcommand)]
pub enum CliCommand {
    /// Run the agent (the default).
    Run,
    /// Release one block of this host (refused while an address in it is in use).
    ReleaseBlock {
        /// The block, e.g. 10.214.1.64/26.
        #[arg(long)]
        block: String,
    },
    /// Release the empty blocks of hosts whose lease is gone.
    GcBlocks,
}

fn bad(flag: &str, msg: impl std::fmt::Display) -> String {
    format!("{flag}: {msg}")
}

/// `name=ov1,subnet=10.214.0.0/16,vni=42,block=26[,subnet6=fd00:214::/48,block6=64]`
pub fn parse_network(s: &str) -> Result<NetworkSpec, String> {
    let (mut name, mut subnet, mut vni, mut block) = (None, None, None, None);
    let (mut subnet6, mut block6) = (None, None);
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
            "subnet6" => {
                subnet6 = Some(
                    v.parse::<IpNet>()
                        .map_err(|e| bad("--network", format!("subnet6 {v:?}: {e}")))?,
                )
            }
            "block6" => {
                block6 = Some(
                    v.trim_start_matches('/')
                        .parse::<u8>()
                        .map_err(|e| bad("--network", format!("block6 {v:?}: {e}")))?,
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
        subnet6,
        block_prefix6: block6,
    };
    spec.plans().map_err(|e| bad("--network", e))?;
    Ok(spec)
}

impl Config {
    /// Parses (clap) and validates `args` (without the program name).
    #[cfg(test)]
    pub fn parse(args: &[String]) -> Result<Config, String> {
        use clap::Parser;
        let cli =
            Cli::try_parse_from(std::iter::once("cnmd".to_string()).chain(args.iter().cloned()))
                .map_err(|e| e.to_string())?;
        Config::from_cli(cli)
    }

    /// Validates the command line into a typed configuration.
    pub fn from_cli(cli: Cli) -> Result<Config, String> {
        let host = match cli.host {
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
        let underlay_ip: IpAddr = cli
            .underlay_ip
            .ok_or_else(|| bad("--underlay-ip", "is required"))?
            .parse()
            .map_err(|e| bad("--underlay-ip", e))?;
        let endpoints: Vec<String> = cli
            .etcd_endpoints
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
        let tls = match (cli.etcd_cacert, cli.etcd_cert, cli.etcd_key) {
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
        for v in &cli.network {
            let n = parse_network(v)?;
            n.check_against(&networks)
                .map_err(|e| bad("--network", e))?;
            networks.push(n);
        }
        if networks.is_empty() {
            return Err(bad("--network", "at least one is required"));
        }
        let lease_ttl = cli.lease_ttl.unwrap_or(10);
        if !(2..=3600).contains(&lease_ttl) {
            return Err(bad("--lease-ttl", "must be 2..=3600 seconds"));
        }
        let tick = cli.tick_ms.unwrap_or(1000);
        if !(50..=60_000).contains(&tick) {
            return Err(bad("--tick-ms", "must be 50..=60000"));
        }
        let gc = cli.gc_interval.unwrap_or(300);
        let names = if cli.no_names {
            if cli.dns_dir.is_some() || cli.names_poll_ms.is_some() {
                return Err(bad(
                    "--no-names",
                    "--dns-dir and --names-poll-ms need names on",
                ));
            }
            None
        } else {
            // The host becomes a file name in every other host's store.
            cnm_dns_records::records::validate_host(&host).map_err(|e| {
                bad(
                    "--host",
                    format!("{e} (to publish container names; or --no-names)"),
                )
            })?;
            let poll = cli.names_poll_ms.unwrap_or(100);
            if !(10..=10_000).contains(&poll) {
                return Err(bad("--names-poll-ms", "must be 10..=10000"));
            }
            Some(NamesConfig {
                dns_dir: cli
                    .dns_dir
                    .unwrap_or_else(|| PathBuf::from(DEFAULT_DNS_DIR)),
                poll: Duration::from_millis(poll),
            })
        };
        let prefix = cli.prefix.unwrap_or_else(|| keys::DEFAULT_ROOT.to_string());
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
        let command = match cli.command {
            None | Some(CliCommand::Run) => Command::Run,
            Some(CliCommand::ReleaseBlock { block }) => {
                let block: IpNet = block.parse().map_err(|e| bad("--block", e))?;
                let network = network_named(
                    networks
                        .iter()
                        .find(|n| n.subnets().iter().any(|s| s.contains(&block)))
                        .map(|n| n.name.clone()),
                )?;
                Command::ReleaseBlock { network, block }
            }
            Some(CliCommand::GcBlocks) => Command::GcBlocks {
                network: network_named(None)?,
            },
        };
        Ok(Config {
            command,
            host,
            underlay_ip,
            endpoints,
            tls,
            networks,
            state_dir: cli
                .state_dir
                .unwrap_or_else(|| PathBuf::from(DEFAULT_STATE_DIR)),
            data_dir: cli
                .data_dir
                .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR)),
            prefix,
            lease_ttl: lease_ttl as i64,
            min_free: u128::from(cli.min_free.unwrap_or(16)),
            tick: Duration::from_millis(tick),
            gc_interval: (gc != 0).then(|| Duration::from_secs(gc)),
            names,
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
        let d = Config::parse(&args(&format!(
            "{BASE} --network name=ov1,subnet=10.214.0.0/16,vni=42,block=26,subnet6=fd00:214::/48,block6=64"
        )))
        .unwrap();
        assert_eq!(d.networks[0].subnets().len(), 2);
        let r6 = Config::parse(&args(&format!(
            "release-block --block fd00:214:0:3::/64 {BASE} --network name=ov1,subnet=10.214.0.0/16,vni=42,block=26,subnet6=fd00:214::/48,block6=64"
        )))
        .unwrap();
        assert!(matches!(r6.command, Command::ReleaseBlock { .. }));
    }

    #[test]
    fn names_are_on_by_default_and_checked() {
        let net = "--network name=ov1,subnet=10.214.0.0/16,vni=42,block=26";
        let c = Config::parse(&args(&format!("{BASE} {net}"))).unwrap();
        assert_eq!(
            c.names,
            Some(NamesConfig {
                dns_dir: PathBuf::from("/run/cnm/dns"),
                poll: Duration::from_millis(100)
            })
        );
        let c = Config::parse(&args(&format!(
            "{BASE} {net} --dns-dir /tmp/d --names-poll-ms 20"
        )))
        .unwrap();
        assert_eq!(
            c.names.map(|n| (n.dns_dir, n.poll)),
            Some((PathBuf::from("/tmp/d"), Duration::from_millis(20)))
        );
        let c = Config::parse(&args(&format!("{BASE} {net} --no-names"))).unwrap();
        assert_eq!(c.names, None);
        for (extra, want) in [
            ("--no-names --dns-dir /x", "--no-names"),
            ("--names-poll-ms 5", "--names-poll-ms"),
        ] {
            let e = Config::parse(&args(&format!("{BASE} {net} {extra}"))).unwrap_err();
            assert!(e.contains(want), "{extra}: {e}");
        }
        // A host name that cannot be a file name elsewhere: only without names.
        let odd = format!(
            "--host .h1 --underlay-ip 10.213.0.11 --etcd-endpoints http://10.213.0.11:2379 {net}"
        );
        let e = Config::parse(&args(&odd)).unwrap_err();
        assert!(e.contains("--host") && e.contains("--no-names"), "{e}");
        assert!(Config::parse(&args(&format!("{odd} --no-names"))).is_ok());
    }

    #[test]
    fn help_and_version_are_clap_s() {
        use clap::Parser;
        let e = Cli::try_parse_from(["cnmd", "--help"]).unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::DisplayHelp);
        assert!(e.to_string().contains("--etcd-endpoints"), "{e}");
        let v = Cli::try_parse_from(["cnmd", "--version"]).unwrap_err();
        assert_eq!(v.kind(), clap::error::ErrorKind::DisplayVersion);
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
            ("--network name=a,subnet=10.214.0.0/16,vni=1,block=26 --bogus 1", "unexpected argument '--bogus'"),
            ("--network name=a,subnet=10.214.0.0/16,vni=1,block=26,subnet6=fd00::/48", "needs block6"),
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
