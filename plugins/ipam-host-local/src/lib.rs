//! host-local as a CNI IPAM plugin: the model's [`HostLocalIpam`] served by
//! the CNI front-end's [`IpamPlugin`] (the same conversions `simplebridge`
//! uses when it runs host-local in-process).

#![forbid(unsafe_code)]

use std::time::Duration;

pub use cnm_cni::IpamPlugin;
pub use cnm_ipam::HostLocalIpam;
use cnm_ipam::{BootSource, SystemBoot};

/// The plugin's VERSION text.
pub fn about() -> String {
    format!(
        "ipam-host-local {} (cnm host-local IPAM)",
        env!("CARGO_PKG_VERSION")
    )
}

/// The plugin in boot `boot` (tests simulate reboots), waiting up to
/// `lock_timeout` for a store's lock.
pub fn plugin_in(
    boot: impl BootSource + 'static,
    lock_timeout: Duration,
) -> IpamPlugin<HostLocalIpam> {
    IpamPlugin::new(
        HostLocalIpam::default()
            .with_boot(boot)
            .with_lock_timeout(lock_timeout),
        &about(),
    )
}

/// The plugin in the running boot.
pub fn plugin(lock_timeout: Duration) -> IpamPlugin<HostLocalIpam> {
    plugin_in(SystemBoot, lock_timeout)
}
