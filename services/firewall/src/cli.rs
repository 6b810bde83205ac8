//! The command line of `cnm-firewall`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Where host-local keeps its reservations unless a network config says otherwise.
pub const DEFAULT_IPAM_DIR: &str = "/var/lib/cni/networks";

/// Bring cnm-rs's nftables rules (masquerade, published ports, MAC spoof checks) back after a
/// firewall reload removed them. Works on the network namespace it runs in (or --netns).
#[derive(Debug, Parser)]
#[command(name = "cnm-firewall", version)]
pub struct Cli {
    /// Work in this network namespace (a path such as /run/netns/NAME) instead of ours.
    #[arg(long, global = true, value_name = "PATH")]
    pub netns: Option<PathBuf>,
    /// Base directory of the records the plugins keep (per namespace: <dir>/<inode>-<cookie>/).
    #[arg(long, global = true, value_name = "DIR", default_value = cnm_nft::DEFAULT_STATE_DIR)]
    pub state_dir: PathBuf,
    /// host-local data directories whose reservations tell whether a port-mapping owner still
    /// exists (repeatable; a network not found in any is trusted).
    #[arg(long = "ipam-dir", global = true, value_name = "DIR", default_values_t = [DEFAULT_IPAM_DIR.to_string()])]
    pub ipam_dirs: Vec<String>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Restore once: put back every recorded rule that is missing (idempotent). Exit 1 when
    /// something could not be restored.
    Reload {
        /// Change nothing; list what is missing and exit 1 when anything is.
        #[arg(long)]
        dry_run: bool,
        /// Also list what is in place.
        #[arg(long, short)]
        verbose: bool,
    },
    /// Run as a service: restore at start, then within milliseconds of every change that
    /// removed something of ours (nf_tables notifications). Stops on SIGTERM/SIGINT.
    Watch {
        /// Wait this long after the first loss before restoring, so a burst is one restore.
        #[arg(long, value_name = "MS", default_value_t = 50)]
        debounce_ms: u64,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_commands_and_globals() {
        let c = Cli::try_parse_from([
            "cnm-firewall",
            "reload",
            "--dry-run",
            "--netns",
            "/run/netns/x",
        ])
        .unwrap();
        assert!(matches!(
            c.command,
            Command::Reload {
                dry_run: true,
                verbose: false
            }
        ));
        assert_eq!(c.netns, Some(PathBuf::from("/run/netns/x")));
        assert_eq!(c.state_dir, PathBuf::from("/run/cnm/nft"));
        assert_eq!(c.ipam_dirs, [DEFAULT_IPAM_DIR]);
        let c = Cli::try_parse_from([
            "cnm-firewall",
            "--ipam-dir",
            "/a",
            "--ipam-dir",
            "/b",
            "watch",
            "--debounce-ms",
            "5",
        ])
        .unwrap();
        assert!(matches!(c.command, Command::Watch { debounce_ms: 5 }));
        assert_eq!(c.ipam_dirs, ["/a", "/b"]);
    }

    #[test]
    fn bad_input_is_refused() {
        for args in [
            vec!["cnm-firewall"],
            vec!["cnm-firewall", "restart"],
            vec!["cnm-firewall", "watch", "--debounce-ms", "soon"],
            vec!["cnm-firewall", "reload", "--bogus"],
        ] {
            assert!(Cli::try_parse_from(&args).is_err(), "{args:?}");
        }
    }
}
