//! CNI IPAM plugin: a drop-in for the reference host-local. All logic lives
//! in `cnm_ipam::HostLocalIpam`, served through the CNI front-end
//! (`ipam_host_local::plugin`); `main()` is the only place that reads the
//! environment and stdin, prints and exits.

#![forbid(unsafe_code)]

use std::io::Write;

fn main() {
    let timeout =
        cnm_ipam::lock_timeout_from(std::env::var(cnm_ipam::LOCK_TIMEOUT_ENV).ok().as_deref());
    let outcome = cni_protocol::run(
        &ipam_host_local::plugin(timeout),
        |key| std::env::var(key).ok(),
        &mut std::io::stdin().lock(),
    );
    // Nothing useful can be done if stdout or stderr are closed.
    let _ = std::io::stdout().write_all(&outcome.stdout);
    let _ = std::io::stderr().write_all(&outcome.stderr);
    std::process::exit(outcome.exit_code);
}
