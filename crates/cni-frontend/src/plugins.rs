//! The CNI plugins this front-end serves, each a [`CniAdapter`] on a
//! controller with the built-in drivers it needs registered (the model
//! registers none): `simplebridge` (the bridge driver; host-local
//! in-process, any other IPAM plugin executed) and `simpleoverlay` (the
//! overlay driver and its held-blocks IPAM). `main()` builds the system and
//! the [`Settings`] from the environment.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use cnm_bridge::{BridgeDriver, DRIVER_NAMES};
use cnm_ipam::{HostLocalIpam, DEFAULT_LOCK_TIMEOUT};
use cnm_kernel::{FaultPoints, KernelSandboxes, System};
use cnm_model::{Controller, IpamDriver, ModelError, NetworkDriver};
use cnm_overlay::{OverlayDriver, HELD_BLOCKS_IPAM, OVERLAY};

use super::adapter::CniAdapter;
use super::ipam::{FaultIpam, IpamPolicy, IN_PROCESS_TYPES};

/// The names host-local runs in-process under (the native name, and the
/// reference's when the drop-in check says it is ours).
pub const HOST_LOCAL_NAMES: &[&str] = &["ipam-host-local", "host-local"];

/// What `main()` reads from the environment for a plugin.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Execute our host-local as a binary too (`CNM_IPAM_EXEC`).
    pub force_exec_ipam: bool,
    /// CNI_PATH, where a drop-in `host-local` is looked up.
    pub cni_path: Vec<PathBuf>,
    /// The IPAM store's lock wait (`CNM_IPAM_LOCK_TIMEOUT_MS`).
    pub ipam_lock_timeout: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            force_exec_ipam: false,
            cni_path: Vec::new(),
            ipam_lock_timeout: DEFAULT_LOCK_TIMEOUT,
        }
    }
}

/// A controller on `system`'s sandboxes.
fn controller<S: System + 'static>(system: &Arc<S>) -> Controller {
    Controller::new(Arc::new(KernelSandboxes::new(Arc::clone(system))))
}

/// The system's fault points (ADD's `after-ipam` is marked by the IPAM
/// driver's wrapper, the other steps by the driver).
fn faults<S: System + 'static>(system: &Arc<S>) -> Arc<dyn FaultPoints> {
    Arc::clone(system) as Arc<dyn FaultPoints>
}

/// Register the bridge driver under its names.
pub fn register_bridge<S: System + 'static>(
    controller: &Controller,
    system: &Arc<S>,
) -> Result<(), ModelError> {
    let bridge: Arc<dyn NetworkDriver> = Arc::new(BridgeDriver::new(Arc::clone(system)));
    for name in DRIVER_NAMES {
        controller.register_driver(name, Arc::clone(&bridge))?;
    }
    Ok(())
}

/// The `simplebridge` plugin on `system`.
pub fn simplebridge<S: System + 'static>(
    system: Arc<S>,
    settings: Settings,
    about: &str,
) -> Result<CniAdapter, ModelError> {
    let c = controller(&system);
    register_bridge(&c, &system)?;
    let host_local: Arc<dyn IpamDriver> = Arc::new(FaultIpam::new(
        HostLocalIpam::default().with_lock_timeout(settings.ipam_lock_timeout),
        faults(&system),
    ));
    for name in HOST_LOCAL_NAMES {
        c.register_ipam_driver(name, Arc::clone(&host_local))?;
    }
    debug_assert!(IN_PROCESS_TYPES
        .iter()
        .all(|t| HOST_LOCAL_NAMES.contains(t)));
    Ok(CniAdapter::new(
        c,
        DRIVER_NAMES[0],
        IpamPolicy::FromConfig {
            in_process: IN_PROCESS_TYPES.iter().map(|t| t.to_string()).collect(),
            force_exec: settings.force_exec_ipam,
            cni_path: settings.cni_path,
        },
        faults(&system),
        about,
    ))
}

/// The `simpleoverlay` plugin on `system`.
pub fn simpleoverlay<S: System + 'static>(
    system: Arc<S>,
    settings: Settings,
    about: &str,
) -> Result<CniAdapter, ModelError> {
    let c = controller(&system);
    let overlay = OverlayDriver::new(Arc::clone(&system));
    let blocks: Arc<dyn IpamDriver> = Arc::new(FaultIpam::new(
        overlay
            .ipam_driver()
            .with_lock_timeout(settings.ipam_lock_timeout),
        faults(&system),
    ));
    c.register_driver(OVERLAY, Arc::new(overlay))?;
    c.register_ipam_driver(HELD_BLOCKS_IPAM, blocks)?;
    Ok(CniAdapter::new(
        c,
        OVERLAY,
        IpamPolicy::Registered(HELD_BLOCKS_IPAM.to_string()),
        faults(&system),
        about,
    ))
}
