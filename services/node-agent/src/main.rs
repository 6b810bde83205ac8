//! cnmd, the overlay's node agent: main() reads the arguments (clap), runs
//! the agent or a one-shot command, prints and exits.

#![forbid(unsafe_code)]

mod agent;
mod cluster;
mod config;
mod dataplane;
mod etcd;
#[cfg(test)]
mod fake;
mod linux;
mod log;
mod names;
mod record;

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use config::{Cli, Command, Config};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        // --help and --version exit 0, bad flags 2 (clap's codes).
        Err(e) => e.exit(),
    };
    let cfg = match Config::from_cli(cli) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("cnmd: {e}\n(cnmd --help lists the flags)");
            return ExitCode::from(2);
        }
    };
    match run(cfg) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cnmd: error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cfg: Config) -> Result<(), agent::Fatal> {
    let fatal = |e: &dyn std::fmt::Display| agent::Fatal(e.to_string());
    let mut dp = linux::LinuxDataplane::new().map_err(|e| fatal(&e))?;
    let underlay = dp.underlay(cfg.underlay_ip).map_err(|e| fatal(&e))?;
    let rt = Arc::new(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|e| agent::Fatal(format!("starting the async runtime: {e}")))?,
    );
    let tls = cfg
        .tls
        .as_ref()
        .map(etcd::tls_options)
        .transpose()
        .map_err(agent::Fatal)?;
    let kv = etcd::EtcdCluster::new(rt, &cfg.endpoints, tls).map_err(|e| fatal(&e))?;
    let one_shot = cfg.command != Command::Run;
    let devices: Vec<(String, String, String)> = cfg
        .networks
        .iter()
        .map(|n| {
            let (br, vx) = config::device_names(n);
            (n.name.clone(), br, vx)
        })
        .collect();
    let names_cfg = cfg.names.clone();
    let (host, prefix) = (cfg.host.clone(), cfg.prefix.clone());
    let overlay_networks: Vec<String> = cfg.networks.iter().map(|n| n.name.clone()).collect();
    let mut a = agent::Agent::new(cfg, kv, dp, underlay)?;
    if one_shot {
        let msg = a.command()?;
        println!("{msg}");
        return Ok(());
    }
    if let Some(nc) = names_cfg {
        // This namespace's store: the one dnsname (and cnm-netavark) write.
        // No launcher: the agent never starts the resolver (remote names
        // alone serve no local container).
        let store = cnm_dns_records::Store::for_current_netns(&nc.dns_dir, None).map_err(|e| {
            agent::Fatal(format!(
                "the name record store under {}: {e}",
                nc.dns_dir.display()
            ))
        })?;
        info!(
            "names: publishing this host's and reading the others' through {}",
            store.layout().root.display()
        );
        if let Err(e) =
            names::spawn_poller(store.clone(), overlay_networks.clone(), nc.poll, a.sender())
        {
            // The full resync (every 10 ticks) still publishes, only later.
            warn!("names: store watcher not started: {e}; publishing waits for the periodic check");
        }
        a = a.with_names(names::Names::new(store, &host, &prefix, overlay_networks));
    }
    a.cluster().on_signals(a.sender());
    if let Err(e) = linux::spawn_monitor(devices, a.targets(), a.sender()) {
        // The periodic check (every 10 ticks) still repairs, only later.
        warn!("kernel monitor not started: {e}; repairs wait for the periodic check");
    }
    a.run()
}
