//! CNI overlay plugin: the model's overlay driver. It never talks to etcd:
//! the node agent (cnmd) keeps the network's bridge, VXLAN device, blocks
//! and routes and writes a state file this plugin reads, so its start-up
//! cost is simplebridge's. `main()` is the only place that reads the
//! environment and stdin, prints and exits.

use std::io::Write;
use std::sync::Arc;

use cnm_cni::Settings;
use cnm_kernel::LinuxSystem;

fn main() {
    // One malloc arena, as simplebridge (less memory per ADD).
    // SAFETY: mallopt(3) only tunes glibc's allocator; called before any
    // other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
    let about = format!("simpleoverlay {}", env!("CARGO_PKG_VERSION"));
    let settings = Settings {
        ipam_lock_timeout: cnm_ipam::lock_timeout_from(
            std::env::var(cnm_ipam::LOCK_TIMEOUT_ENV).ok().as_deref(),
        ),
        ..Settings::default()
    };
    let outcome = match cnm_cni::simpleoverlay(Arc::new(LinuxSystem::default()), settings, &about) {
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
