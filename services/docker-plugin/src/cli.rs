//! The command line: `cnm-docker-plugin [--socket PATH] [--state-dir DIR] [--writable-proc-sys]`.
//! Parsed into a typed [`Config`]; printing and exiting are main()'s.

use std::path::PathBuf;

/// Default socket: Docker finds plugins in /run/docker/plugins and names the driver after the
/// socket file (`cnm`).
pub const DEFAULT_SOCKET: &str = "/run/docker/plugins/cnm.sock";
/// Default state dir.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/cnm/docker";

/// Usage text.
pub const USAGE: &str = "\
Usage: cnm-docker-plugin [--socket PATH] [--state-dir DIR] [--writable-proc-sys]

Serves Docker's remote network driver and IPAM driver protocols on a unix socket.

  --socket PATH     socket to listen on (default /run/docker/plugins/cnm.sock;
                    Docker names the driver after the file: -d cnm --ipam-driver cnm)
  --state-dir DIR   where networks, endpoints and address pools are kept
                    (default /var/lib/cnm/docker)
  --writable-proc-sys
                    first remount /proc/sys read-write in the plugin's own mount
                    namespace (for the Docker managed plugin, whose /proc/sys Docker
                    mounts read-only; docs/adr/0017-docker-managed-plugin.md)
  -h, --help        this text
  -V, --version     the version
";

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Serve.
    Run(Config),
    /// Print the usage.
    Help,
    /// Print the version.
    Version,
}

/// The daemon's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The socket path.
    pub socket: PathBuf,
    /// The state dir.
    pub state_dir: PathBuf,
    /// Remount /proc/sys read-write before anything else (managed plugin).
    pub writable_proc_sys: bool,
}

/// Parse the arguments (without the program name).
pub fn parse<I: IntoIterator<Item = String>>(args: I) -> Result<Command, String> {
    let mut socket = PathBuf::from(DEFAULT_SOCKET);
    let mut state_dir = PathBuf::from(DEFAULT_STATE_DIR);
    let mut writable_proc_sys = false;
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = |what: &str| -> Result<PathBuf, String> {
            let v = match inline.clone() {
                Some(v) => v,
                None => it.next().ok_or_else(|| format!("{what} needs a value"))?,
            };
            if v.is_empty() {
                return Err(format!("{what} needs a non-empty value"));
            }
            Ok(PathBuf::from(v))
        };
        match name.as_str() {
            "--socket" => socket = value("--socket")?,
            "--state-dir" => state_dir = value("--state-dir")?,
            "--writable-proc-sys" if inline.is_none() => writable_proc_sys = true,
            "--writable-proc-sys" => return Err("--writable-proc-sys takes no value".into()),
            "-h" | "--help" => return Ok(Command::Help),
            "-V" | "--version" => return Ok(Command::Version),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if !socket.is_absolute() || !state_dir.is_absolute() {
        return Err("--socket and --state-dir must be absolute paths".into());
    }
    Ok(Command::Run(Config {
        socket,
        state_dir,
        writable_proc_sys,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(a: &[&str]) -> Result<Command, String> {
        parse(a.iter().map(|s| s.to_string()))
    }

    #[test]
    fn defaults_and_flags() {
        assert_eq!(
            p(&[]).unwrap(),
            Command::Run(Config {
                socket: DEFAULT_SOCKET.into(),
                state_dir: DEFAULT_STATE_DIR.into(),
                writable_proc_sys: false,
            })
        );
        assert_eq!(
            p(&["--socket", "/tmp/x.sock", "--state-dir=/tmp/s"]).unwrap(),
            Command::Run(Config {
                socket: "/tmp/x.sock".into(),
                state_dir: "/tmp/s".into(),
                writable_proc_sys: false,
            })
        );
        assert_eq!(
            p(&["--writable-proc-sys"]).unwrap(),
            Command::Run(Config {
                socket: DEFAULT_SOCKET.into(),
                state_dir: DEFAULT_STATE_DIR.into(),
                writable_proc_sys: true,
            })
        );
        assert_eq!(p(&["-h"]).unwrap(), Command::Help);
        assert_eq!(p(&["--version"]).unwrap(), Command::Version);
        for bad in [
            &["--socket"][..],
            &["--nope"],
            &["--socket", "rel.sock"],
            &["--state-dir="],
            &["--writable-proc-sys=yes"],
        ] {
            assert!(p(bad).is_err(), "{bad:?}");
        }
    }
}
