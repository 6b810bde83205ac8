//! `cnm-firewall`: `reload` puts back every recorded rule that is missing, once; `watch` is
//! the service that does it within milliseconds of a firewall reload (docs/firewall.md).
//! Only this function reads the command line, prints and exits.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use cnm_firewall::cli::{Cli, Command};
use cnm_firewall::liveness::HostLocalReservations;
use cnm_firewall::watch;
use cnm_nft::{Firewall, Mode};

fn say(line: String) {
    eprintln!("cnm-firewall: {line}");
}

/// Enter the network namespace at `path` (this thread, before any other exists, so every
/// thread and nft child started later is in it too).
fn enter(path: &PathBuf) -> Result<(), String> {
    let ns = netns::NetNs::open(path).map_err(|e| format!("--netns {}: {e}", path.display()))?;
    nix::sched::setns(ns.fd(), nix::sched::CloneFlags::CLONE_NEWNET)
        .map_err(|e| format!("--netns {}: setns: {e}", path.display()))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(path) = &cli.netns {
        if let Err(e) = enter(path) {
            say(e);
            return ExitCode::FAILURE;
        }
    }
    let fw = Firewall::new().with_state_dir(Some(cli.state_dir.clone()));
    let live = HostLocalReservations {
        dirs: cli.ipam_dirs.iter().map(PathBuf::from).collect(),
    };
    match cli.command {
        Command::Reload { dry_run, verbose } => {
            let mode = if dry_run { Mode::DryRun } else { Mode::Apply };
            match fw.restore(&live, mode) {
                Ok(r) => {
                    for item in &r.items {
                        if verbose || item.outcome != cnm_nft::Outcome::Present {
                            println!("{item}");
                        }
                    }
                    println!("{}", r.summary());
                    if r.failed() > 0 || (dry_run && r.missing() > 0) {
                        ExitCode::FAILURE
                    } else {
                        ExitCode::SUCCESS
                    }
                }
                Err(e) => {
                    say(format!("reload failed: {e}"));
                    ExitCode::FAILURE
                }
            }
        }
        Command::Watch { debounce_ms } => {
            let mut log = say;
            match watch::run(&fw, &live, Duration::from_millis(debounce_ms), &mut log) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    say(format!("cannot watch nf_tables changes: {e}"));
                    ExitCode::FAILURE
                }
            }
        }
    }
}
