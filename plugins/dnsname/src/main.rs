//! `cnm-dnsname`: the CNI `dnsname` plugin (installed as `dnsname` by
//! `make install MODE=dropin`). `main()` reads the environment and stdin,
//! prints and exits; everything else is in the library.
//!
//! The record store is `/run/cnm/dns/<netns key>/` as root (or
//! `$XDG_RUNTIME_DIR/cnm/dns/...` otherwise, as dnsname uses
//! `XDG_RUNTIME_DIR`); `cnm-resolver` is looked for next to this binary,
//! then in CNI_PATH, then in PATH.

#![forbid(unsafe_code)]

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use cnm_dns_records::{Launcher, Store, DEFAULT_BASE};
use cnm_dnsname::addrs::SystemAddrs;
use cnm_dnsname::names::Names;
use cnm_dnsname::DnsName;

fn search_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(d) = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(PathBuf::from))
    {
        dirs.push(d);
    }
    for var in ["CNI_PATH", "PATH"] {
        if let Some(v) = std::env::var_os(var) {
            dirs.extend(std::env::split_paths(&v));
        }
    }
    dirs
}

fn base() -> PathBuf {
    if !nix::unistd::geteuid().is_root() {
        if let Some(x) = std::env::var_os("XDG_RUNTIME_DIR").filter(|x| !x.is_empty()) {
            return PathBuf::from(x).join("cnm/dns");
        }
    }
    PathBuf::from(DEFAULT_BASE)
}

fn main() {
    let launcher = Launcher::find(&search_dirs());
    let found = launcher.is_some();
    let outcome = match Store::for_current_netns(&base(), launcher) {
        Ok(store) => {
            let plugin = DnsName::new(Names::new(Arc::new(store), found), SystemAddrs);
            let mut outcome = cni_protocol::run(
                &plugin,
                |k| std::env::var(k).ok(),
                &mut std::io::stdin().lock(),
            );
            for w in plugin.warnings.borrow().iter() {
                outcome
                    .stderr
                    .extend_from_slice(format!("dnsname: {w}\n").as_bytes());
            }
            outcome
        }
        Err(e) => {
            let e = cnm_dns_records::service::to_driver_error(e);
            let mut err = cnm_cni::driver_to_cni(&e);
            err.msg = "cannot open the record store".into();
            cni_protocol::Outcome {
                stdout: serde_json::to_vec_pretty(&err.to_json("1.1.0")).unwrap_or_default(),
                stderr: format!("dnsname: {err}\n").into_bytes(),
                exit_code: 1,
            }
        }
    };
    // Nothing useful can be done if stdout or stderr are closed.
    let _ = std::io::stdout().write_all(&outcome.stdout);
    let _ = std::io::stderr().write_all(&outcome.stderr);
    std::process::exit(outcome.exit_code);
}
