//! `cnm-docker-plugin`: main() only. Parses the command line, opens the
//! state, replays the recorded networks, serves until SIGTERM.

#![forbid(unsafe_code)]

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

/// The name our host-local is registered under in the controller.
const IPAM_DRIVER: &str = "docker-host-local";

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
    match run(cfg) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cnm-docker-plugin: {e}");
            ExitCode::FAILURE
        }
    }
}
