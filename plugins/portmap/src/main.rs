//! CNI portmap plugin: publishes container ports on the host with nftables, a
//! drop-in for the reference `portmap`. All logic lives in the library part of
//! this crate; `main()` is the only place that reads the environment and
//! stdin, prints and exits.

#![forbid(unsafe_code)]

use std::io::Write;

fn main() {
    let plugin = portmap::Portmap::default();
    let outcome = cni_protocol::run(
        &plugin,
        |key| std::env::var(key).ok(),
        &mut std::io::stdin().lock(),
    );
    // Nothing useful can be done if stdout or stderr are closed.
    let _ = std::io::stdout().write_all(&outcome.stdout);
    let _ = std::io::stderr().write_all(&outcome.stderr);
    std::process::exit(outcome.exit_code);
}
