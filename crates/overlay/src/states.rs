//! The agent's state of a network as one request reads it: the driver's
//! `create_network` reads the state file and leaves what it read here; the
//! held-blocks IPAM driver's next call on that network takes it, so an ADD
//! reads the file once. A call with nothing left here (a DEL or GC, which
//! never create the network, or a daemon's later request) reads the file.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use cnm_cluster_ipam::HostState;
use cnm_model::{DriverError, NetworkOptions};

use crate::config::OverlayConfig;

/// A network's options and its state on this host.
#[derive(Debug)]
pub(crate) struct Loaded {
    pub cfg: OverlayConfig,
    pub state: HostState,
}

/// States read by `create_network`, by network name, not yet taken.
#[derive(Debug, Default)]
pub(crate) struct States(Mutex<HashMap<String, Arc<Loaded>>>);

impl States {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Loaded>>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Read network `name`'s options and state file (strict: missing state
    /// is "try again later").
    pub fn read(name: &str, options: &NetworkOptions) -> Result<Arc<Loaded>, DriverError> {
        let cfg = OverlayConfig::from_options(name, &options.0)?;
        let state = cfg.load_state()?;
        Ok(Arc::new(Loaded { cfg, state }))
    }

    /// [`States::read`], leaving what was read for the IPAM driver.
    pub fn load(&self, name: &str, options: &NetworkOptions) -> Result<Arc<Loaded>, DriverError> {
        let loaded = Self::read(name, options)?;
        self.map().insert(name.to_string(), Arc::clone(&loaded));
        Ok(loaded)
    }

    /// What `load` left for `name`, or the file read now (strict).
    pub fn take(&self, name: &str, options: &NetworkOptions) -> Result<Arc<Loaded>, DriverError> {
        match self.map().remove(name) {
            Some(l) => Ok(l),
            None => Self::read(name, options),
        }
    }
}
