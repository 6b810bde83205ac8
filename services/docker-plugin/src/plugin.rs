//! [`Plugin`]: the daemon's state (the model's drivers, the store, one lock)
//! and its start-up recovery. The calls themselves are in [`crate::network`]
//! and [`crate::ipam`]; [`crate::router`] dispatches HTTP paths to them.

use std::sync::{Arc, Mutex, MutexGuard};

use cnm_model::{DriverError, IpamDriver, NetworkDriver};

use crate::error::PluginError;
use crate::publish::Publisher;
use crate::records::NetworkRecord;
use crate::store::{Kind, Store};

/// The plugin: a front-end over one network driver and one IPAM driver of the model.
pub struct Plugin {
    pub(crate) driver: Arc<dyn NetworkDriver>,
    pub(crate) ipam: Arc<dyn IpamDriver>,
    /// Publishes ports when the driver does not (`program_external_connectivity` not
    /// supported).
    pub(crate) publisher: Arc<dyn Publisher>,
    pub(crate) store: Store,
    /// Serialises every call that reads and writes the store: Docker's calls are few and
    /// each is short, so one lock keeps every record consistent with the kernel.
    lock: Mutex<()>,
}

/// How a driver error reads in a reply.
pub(crate) fn model_err(op: &str, e: DriverError) -> PluginError {
    PluginError::Model(format!("{op}: {e}"))
}

impl Plugin {
    /// A plugin over `driver` and `ipam` (ports through `publisher` when the driver does not
    /// publish them), keeping its state in `store`. Networks recorded by
    /// an earlier run are given to the driver again (its create is idempotent), so their
    /// bridges, addresses and masquerade are back in place before the first request.
    pub fn open(
        driver: Arc<dyn NetworkDriver>,
        ipam: Arc<dyn IpamDriver>,
        publisher: Arc<dyn Publisher>,
        store: Store,
    ) -> Result<(Plugin, Vec<String>), PluginError> {
        let plugin = Plugin {
            driver,
            ipam,
            publisher,
            store,
            lock: Mutex::new(()),
        };
        let warnings = plugin.restore()?;
        Ok((plugin, warnings))
    }

    /// Replay the recorded networks; a network the driver refuses now is reported, not fatal
    /// (Docker can still delete it).
    fn restore(&self) -> Result<Vec<String>, PluginError> {
        let mut warnings = Vec::new();
        for (id, rec) in self.store.list::<NetworkRecord>(Kind::Network)? {
            if let Err(e) = self.driver.create_network(&rec.create) {
                warnings.push(format!("restoring network {id}: {e}"));
            }
        }
        Ok(warnings)
    }

    /// Take the state lock (a panic in another call cannot poison it for good: the store on
    /// disk is the truth, so the guard is recovered).
    pub(crate) fn locked(&self) -> MutexGuard<'_, ()> {
        self.lock.lock().unwrap_or_else(|p| p.into_inner())
    }
}
