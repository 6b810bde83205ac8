//! `cnm-netavark`: the netavark plugin binary. Install it in a directory
//! listed in `netavark_plugin_dirs` (containers.conf) under the name users
//! give to `podman network create -d <name>`: `make install` puts it in
//! PREFIX/libexec/netavark as `cnm-netavark` (docs/podman.md).
//! main() is the only place that reads the arguments, the environment
//! (`CNM_NETAVARK_STATE_DIR`; `XDG_RUNTIME_DIR` and `PATH` for the names of
//! `dns_enabled` networks) and stdin, prints and exits.

use std::io::{Read, Write};
use std::path::PathBuf;

use cnm_netavark::backend::Backend;
use cnm_netavark::names::{store_base, store_opener};
use cnm_netavark::registry::DEFAULT_STATE_DIR;
use cnm_netavark::{error_json, info, run_create, run_setup, run_teardown, Command, PluginError};

const USAGE: &str = "usage: cnm-netavark info | create | setup <netns> | teardown <netns>
A netavark plugin: netavark runs it with the network JSON on stdin.
Environment: CNM_NETAVARK_STATE_DIR (default /run/cnm/netavark).";

fn parse_args() -> Result<Option<Command>, PluginError> {
    use lexopt::prelude::*;
    let usage = |e: lexopt::Error| PluginError::Usage(e.to_string());
    let mut parser = lexopt::Parser::from_env();
    let mut words: Vec<String> = Vec::new();
    while let Some(arg) = parser.next().map_err(usage)? {
        match arg {
            Long("help") | Short('h') => {
                println!("{USAGE}");
                return Ok(None);
            }
            Long("version") | Short('V') => {
                println!("cnm-netavark {}", env!("CARGO_PKG_VERSION"));
                return Ok(None);
            }
            Value(v) => words.push(v.string().map_err(usage)?),
            other => return Err(usage(other.unexpected())),
        }
    }
    let mut words = words.into_iter();
    let cmd = match (words.next().as_deref(), words.next()) {
        // netavark's own plugin interface prints the info without a subcommand too.
        (None | Some("info"), None) => Command::Info,
        (Some("create"), None) => Command::Create,
        (Some("setup"), Some(ns)) => Command::Setup(ns),
        (Some("teardown"), Some(ns)) => Command::Teardown(ns),
        (Some(w @ ("setup" | "teardown")), None) => {
            return Err(PluginError::Usage(format!(
                "{w}: the network namespace path argument is missing"
            )))
        }
        (Some(w), _) => {
            return Err(PluginError::Usage(format!(
                "unknown subcommand or extra argument {w:?}"
            )))
        }
        (None, Some(_)) => {
            return Err(PluginError::Usage(format!(
                "unexpected arguments; {}",
                USAGE.lines().next().unwrap_or_default()
            )))
        }
    };
    if let Some(extra) = words.next() {
        return Err(PluginError::Usage(format!("unexpected argument {extra:?}")));
    }
    Ok(Some(cmd))
}

fn stdin() -> Result<Vec<u8>, PluginError> {
    let mut buf = Vec::new();
    std::io::stdin()
        .lock()
        .read_to_end(&mut buf)
        .map_err(|source| PluginError::State {
            op: "reading",
            path: "stdin".into(),
            source,
        })?;
    Ok(buf)
}

fn run() -> Result<Vec<u8>, PluginError> {
    let Some(cmd) = parse_args()? else {
        return Ok(Vec::new());
    };
    let state_dir = std::env::var_os("CNM_NETAVARK_STATE_DIR")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_STATE_DIR));
    match cmd {
        Command::Info => serde_json::to_vec(&info())
            .map_err(|e| PluginError::invalid(format!("encoding the info: {e}"))),
        Command::Create => run_create(&stdin()?),
        Command::Setup(ns) => run_setup(&backend(&state_dir)?, &ns, &stdin()?),
        Command::Teardown(ns) => run_teardown(&backend(&state_dir)?, &ns, &stdin()?),
    }
}

/// The real backend; names of `dns_enabled` networks in the record store
/// of this namespace, served by the `cnm-resolver` found next to this
/// binary, in /opt/cni/bin or /usr/lib/cni, or on PATH.
fn backend(state_dir: &std::path::Path) -> Result<Backend, PluginError> {
    let mut search: Vec<PathBuf> = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(PathBuf::from))
        .into_iter()
        .collect();
    // Where `make install` puts it (CNI_BIN_DIR), and Debian's CNI directory.
    search.extend(["/opt/cni/bin", "/usr/lib/cni"].map(PathBuf::from));
    if let Some(path) = std::env::var_os("PATH") {
        search.extend(std::env::split_paths(&path));
    }
    let xdg = std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from);
    let base = store_base(nix::unistd::geteuid().is_root(), xdg.as_deref());
    Ok(Backend::linux(state_dir)?.with_names(store_opener(base, search)))
}

fn main() {
    // One malloc arena: the short-lived thread that opens the sandbox's
    // netlink socket then needs no arena of its own.
    // SAFETY: mallopt(3) only tunes glibc's allocator; called before any
    // other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
    let mut out = std::io::stdout().lock();
    match run() {
        Ok(bytes) => {
            // Nothing useful can be done if stdout is closed.
            let _ = out.write_all(&bytes);
            let _ = out.flush();
        }
        Err(e) => {
            let _ = out.write_all(&error_json(&e));
            let _ = out.write_all(b"\n");
            let _ = out.flush();
            drop(out);
            std::process::exit(1);
        }
    }
}
