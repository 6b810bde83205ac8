//! `cnm-resolver --store DIR [--resolv-conf FILE] [--port N]`: the name
//! resolver of one network namespace. Started by the record store
//! (`cnm_dns_records::Launcher`) when the first network needs it; prints
//! `ready` or `error <message>` on stdout once, then detaches (new session,
//! stdout to /dev/null; stderr is the store's `resolver.log`).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use cnm_resolver::server::{self, Config, Limits};

const USAGE: &str =
    "usage: cnm-resolver --store DIR [--resolv-conf FILE] [--port N]   (normally started by the record store)";

fn parse(args: &[String]) -> Result<Config, String> {
    let mut store = None;
    let mut resolv_conf = PathBuf::from("/etc/resolv.conf");
    let mut port = 53u16;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match a.as_str() {
            "--store" => store = Some(PathBuf::from(value("--store")?)),
            "--resolv-conf" => resolv_conf = PathBuf::from(value("--resolv-conf")?),
            "--port" => {
                let v = value("--port")?;
                port = v
                    .parse()
                    .map_err(|_| format!("--port {v:?} is not a port"))?;
            }
            "-h" | "--help" => return Err(USAGE.to_string()),
            other => return Err(format!("unknown argument {other:?}; {USAGE}")),
        }
    }
    Ok(Config {
        store_root: store.ok_or_else(|| format!("--store is required; {USAGE}"))?,
        resolv_conf,
        port,
        limits: Limits::default(),
    })
}

/// Closes every inherited descriptor above stderr: a daemon must not keep
/// its starter's pipes or locks open (a runtime's lock file held by a
/// resolver that outlives the run would block every later run).
fn close_inherited_fds() {
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return;
    };
    // Listed first, closed after: the listing holds a descriptor of its own.
    let fds: Vec<i32> = dir
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse().ok()))
        .filter(|fd| *fd > 2)
        .collect();
    for fd in fds {
        // The listing's own descriptor is closed by now: EBADF, ignored.
        let _ = nix::unistd::close(fd);
    }
}

fn main() -> ExitCode {
    close_inherited_fds();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let config = match parse(&args) {
        Ok(c) => c,
        Err(e) => {
            println!("error {e}");
            return ExitCode::from(2);
        }
    };
    // Our own session: a terminal's hangup or Ctrl-C of the runtime that
    // started us must not stop the names of every network.
    let _ = nix::unistd::setsid();
    let result = server::run(config, |ready| {
        let mut out = std::io::stdout();
        let _ = match &ready {
            Ok(()) => writeln!(out, "ready"),
            Err(e) => writeln!(out, "error {}", e.replace('\n', " ")),
        };
        let _ = out.flush();
        // Nobody reads stdout after this line.
        if let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") {
            let _ = nix::unistd::dup2_stdout(&null);
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) => ExitCode::FAILURE,
    }
}
