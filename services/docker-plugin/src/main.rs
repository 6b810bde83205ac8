//! `cnm-docker-plugin`: main() only. Parses the command line, makes /proc/sys
//! writable when asked (the managed plugin), opens the state, replays the
//! recorded networks, serves until SIGTERM.

#![forbid(unsafe_code)]

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use cnm_bridge::BridgeDriver;
use cnm_docker_plugin::cli::{self, Command};
use cnm_docker_plugin::http::{self, Limits};
use cnm_docker_plugin::publish::NftPublisher;
use cnm_docker_plugin::store::Store;
use cnm_docker_plugin::{Plugin, PluginError};
use cnm_ipam::HostLocalIpam;
use cnm_kernel::{KernelSandboxes, LinuxSystem};
use cnm_model::Controller;
use nix::mount::{mount, MsFlags};
use nix::sys::statvfs::{statvfs, FsFlags};

/// The name our host-local is registered under in the controller.
const IPAM_DRIVER: &str = "docker-host-local";

/// `--writable-proc-sys`: Docker starts a managed plugin with /proc/sys bind-mounted
/// read-only (the read-only paths of its default OCI spec, which a plugin's config.json
/// cannot change), but the bridge driver writes network sysctls (`route_localnet` of a
/// bridge with published ports, `ip_forward`, IPv6 settings of an interface). The plugin has
/// its own mount namespace there, so clearing the read-only flag of that bind mount (keeping
/// nosuid, nodev, noexec) changes nothing outside it. A writable /proc/sys is left alone.
fn make_proc_sys_writable() -> Result<(), String> {
    let path = Path::new("/proc/sys");
    let flags = |what: &str| {
        statvfs(path)
            .map(|s| s.flags())
            .map_err(|e| format!("{what}: statvfs /proc/sys: {e}"))
    };
    let before = flags("--writable-proc-sys")?;
    if !before.contains(FsFlags::ST_RDONLY) {
        return Ok(());
    }
    let mut ms = MsFlags::MS_REMOUNT | MsFlags::MS_BIND;
    for (st, m) in [
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
    ] {
        if before.contains(st) {
            ms |= m;
        }
    }
    mount(None::<&str>, path, None::<&str>, ms, None::<&str>).map_err(|e| {
        format!("--writable-proc-sys: remounting /proc/sys read-write: {e} (the plugin needs CAP_SYS_ADMIN)")
    })?;
    if flags("--writable-proc-sys")?.contains(FsFlags::ST_RDONLY) {
        return Err("--writable-proc-sys: /proc/sys is still read-only after the remount".into());
    }
    eprintln!("cnm-docker-plugin: remounted /proc/sys read-write (own mount namespace)");
    Ok(())
}

fn run(cfg: cli::Config) -> Result<(), PluginError> {
    let store = Store::open(&cfg.state_dir)?;
    // The front-end registers the drivers it serves (the model registers none).
    let system = Arc::new(LinuxSystem::default());
    let controller = Controller::new(Arc::new(KernelSandboxes::new(Arc::clone(&system))));
    controller
        .register_driver("bridge", Arc::new(BridgeDriver::new(system)))
        .map_err(|e| PluginError::Model(format!("bridge driver: {e}")))?;
    let driver = controller
        .driver("bridge")
        .map_err(|e| PluginError::Model(format!("bridge driver: {e}")))?;
    // host-local with its store in our state dir (not the CNI plugins' /var/lib/cni/networks).
    let host_local = Arc::new(HostLocalIpam::new(cfg.state_dir.join("ipam")));
    controller
        .register_ipam_driver(IPAM_DRIVER, host_local)
        .map_err(|e| PluginError::Model(format!("host-local IPAM: {e}")))?;
    let ipam = controller
        .ipam_driver(IPAM_DRIVER)
        .map_err(|e| PluginError::Model(format!("host-local IPAM: {e}")))?;
    let publisher = Arc::new(NftPublisher::default());
    let (plugin, warnings) = Plugin::open(driver, ipam, publisher, store)?;
    for w in warnings {
        eprintln!("cnm-docker-plugin: {w}");
    }
    let listener = http::bind(&cfg.socket)?;
    eprintln!(
        "cnm-docker-plugin: serving {} (state in {})",
        cfg.socket.display(),
        cfg.state_dir.display()
    );
    http::serve(listener, cfg.socket, Arc::new(plugin), Limits::default())
}

fn main() -> ExitCode {
    let cfg = match cli::parse(std::env::args().skip(1)) {
        Ok(Command::Run(cfg)) => cfg,
        Ok(Command::Help) => {
            print!("{}", cli::USAGE);
            return ExitCode::SUCCESS;
        }
        Ok(Command::Version) => {
            println!("cnm-docker-plugin {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("cnm-docker-plugin: {e}\n\n{}", cli::USAGE);
            return ExitCode::from(2);
        }
    };
    if cfg.writable_proc_sys {
        if let Err(e) = make_proc_sys_writable() {
            eprintln!("cnm-docker-plugin: {e}");
            return ExitCode::FAILURE;
        }
    }
    match run(cfg) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cnm-docker-plugin: {e}");
            ExitCode::FAILURE
        }
    }
}
