//! Error type of the nftables firewall crate.

use std::net::IpAddr;
use std::path::PathBuf;

/// Every failure of the firewall layer; messages name the network, owner, file or command involved.
#[derive(Debug, thiserror::Error)]
pub enum NftError {
    /// A name that would end up inside an nft script is not acceptable.
    #[error("invalid {what} {value:?}: {reason}")]
    InvalidName {
        /// Which kind of name (network, container id, interface, ...).
        what: &'static str,
        /// The offending value.
        value: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// A port mapping or address set cannot be turned into rules.
    #[error("invalid port mapping for {owner}: {reason}")]
    InvalidMapping {
        /// The owner tag (`network,container,ifname`).
        owner: String,
        /// What is wrong.
        reason: String,
    },
    /// The host port is already published by someone else.
    #[error("host port {protocol}/{host_port}{} is already published by {owner} (requested by {requester})", host_ip.map(|ip| format!(" on {ip}")).unwrap_or_default())]
    PortConflict {
        /// tcp, udp or sctp.
        protocol: &'static str,
        /// The host port.
        host_port: u16,
        /// The host address of the mapping, None for all addresses.
        host_ip: Option<IpAddr>,
        /// The owner tag currently holding the port.
        owner: String,
        /// The owner tag that asked for it.
        requester: String,
    },
    /// The nft binary could not be started.
    #[error("cannot run {program}: {source}")]
    Spawn {
        /// The program (nft or its prefix command).
        program: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// nft ran but rejected the request; nothing was changed (batches are atomic).
    #[error("nft {operation} failed (exit {status}): {stderr}")]
    Failed {
        /// What we asked nft to do.
        operation: String,
        /// Exit status, -1 when killed by a signal.
        status: i32,
        /// nft's error output.
        stderr: String,
    },
    /// nft did not finish in time and was killed.
    #[error("nft {operation} timed out after {secs}s")]
    Timeout {
        /// What we asked nft to do.
        operation: String,
        /// The limit.
        secs: u64,
    },
    /// I/O with the nft child process failed.
    #[error("nft {operation}: {source}")]
    Pipe {
        /// What we asked nft to do.
        operation: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// `nft -j list` printed something we do not understand.
    #[error("cannot parse nft JSON output of {operation}: {msg}")]
    Parse {
        /// The listing command.
        operation: String,
        /// What was wrong.
        msg: String,
    },
    /// CHECK found the ruleset differing from what it should be.
    #[error("{subject}: {what}")]
    Missing {
        /// The network or owner checked.
        subject: String,
        /// What is missing or wrong.
        what: String,
    },
    /// A masquerade state file (or its directory or lock) could not be read or written.
    #[error("state file {}: {source}", path.display())]
    State {
        /// The state path.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// No state is kept for the namespace, so nothing can be restored from it.
    #[error("{0}")]
    NoState(String),
}
