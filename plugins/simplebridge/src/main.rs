//! CNI bridge plugin: libnetwork's bridge driver as a drop-in for the
//! reference `bridge`. The CNI front-end (`cnm_cni::simplebridge`) turns
//! each request into calls on the model (controller, network, endpoint,
//! sandbox) with the bridge driver and host-local registered; `main()` is
//! the only place that reads the environment and stdin, prints and exits.

use std::io::Write;
use std::sync::Arc;

use cnm_cni::Settings;
use cnm_kernel::LinuxSystem;

fn main() {
    // One malloc arena: the short-lived thread that opens the sandbox's
    // netlink socket then needs no arena of its own (less memory per ADD).
    // SAFETY: mallopt(3) only tunes glibc's allocator; called before any
    // other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
    let system = LinuxSystem {
        crash_after: if cfg!(feature = "fault-injection") {
            std::env::var("CNM_FAULT_POINT").ok()
        } else {
            None
        },
    };
    let settings = Settings {
        // Exec our host-local as a binary too (for comparison and debugging).
        force_exec_ipam: std::env::var_os("CNM_IPAM_EXEC").is_some(),
        // Where `host-local` is looked up when it may be ours (drop-in install).
        cni_path: std::env::var_os("CNI_PATH")
            .map(|p| std::env::split_paths(&p).collect())
            .unwrap_or_default(),
        ipam_lock_timeout: cnm_ipam::lock_timeout_from(
            std::env::var(cnm_ipam::LOCK_TIMEOUT_ENV).ok().as_deref(),
        ),
    };
    let about = format!("simplebridge {}", env!("CARGO_PKG_VERSION"));
    let outcome = match cnm_cni::simplebridge(Arc::new(system), settings, &about) {
        Ok(plugin) => cni_protocol::run(
            &plugin,
            |key| std::env::var(key).ok(),
            &mut std::io::stdin().lock(),
        ),
        Err(e) => cni_protocol::Outcome {
            stdout: serde_json::to_vec(&cnm_cni::cni_error(&e).to_json("1.1.0"))
                .unwrap_or_default(),
            stderr: Vec::new(),
            exit_code: 1,
        },
    };
    // Nothing useful can be done if stdout or stderr are closed.
    let _ = std::io::stdout().write_all(&outcome.stdout);
    let _ = std::io::stderr().write_all(&outcome.stderr);
    std::process::exit(outcome.exit_code);
}
