//! CNI bridge plugin: libnetwork's bridge driver as a drop-in for the
//! reference `bridge`. The CNI front-end (`cnm_core::cni::CniAdapter`) turns
//! each request into calls on the model (controller, network, endpoint,
//! sandbox) with the built-in bridge driver; `main()` is the only place that
//! reads the environment and stdin, prints and exits.

use std::io::Write;

use cnm_core::cni::CniAdapter;
use cnm_core::model::Controller;
use cnm_core::system::LinuxSystem;

fn main() {
    // One malloc arena: the short-lived thread that opens the sandbox's
    // netlink socket then needs no arena of its own (less memory per ADD).
    // SAFETY: mallopt(3) only tunes glibc's allocator; called before any
    // other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
    let system = LinuxSystem {
        // Exec our host-local as a binary too (for comparison and debugging).
        force_exec_ipam: std::env::var_os("CNM_IPAM_EXEC").is_some(),
        crash_after: if cfg!(feature = "fault-injection") {
            std::env::var("CNM_FAULT_POINT").ok()
        } else {
            None
        },
    };
    let plugin = CniAdapter::new(
        Controller::with_system(system),
        "bridge",
        &format!("simplebridge {}", env!("CARGO_PKG_VERSION")),
    );
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
