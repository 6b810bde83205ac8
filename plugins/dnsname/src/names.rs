//! The plugin's one way to the names: register at ADD, unregister at DEL,
//! check at CHECK, gc at GC, in the record store (`cnm-dns-records`). Kept
//! in this one module so that moving the calls behind the model's name
//! service (issue 20, after the crate cut of issue 18) changes nothing else.

use cni_protocol::{code, CniError};
use cnm_dns_records::{
    EndpointRecord, ErrorKind, NetworkSettings, RecordsError, Registration, Store,
};

/// The names of this network namespace.
#[derive(Debug, Clone)]
pub struct Names {
    store: Store,
    resolver_found: bool,
}

impl Names {
    /// Names kept in `store`; `resolver_found` tells STATUS whether a
    /// `cnm-resolver` binary was found to serve them.
    pub fn new(store: Store, resolver_found: bool) -> Names {
        Names {
            store,
            resolver_found,
        }
    }

    /// The store (tests look at its files).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// ADD.
    pub fn register(
        &self,
        settings: &NetworkSettings,
        record: &EndpointRecord,
    ) -> Result<Registration, CniError> {
        if !self.resolver_found && !settings.listen.is_empty() {
            return Err(CniError::not_available(
                "cnm-resolver not found",
                "the names could not be served: install cnm-resolver next to this plugin or in CNI_PATH",
            ));
        }
        self.store
            .register(settings, record)
            .map_err(|e| to_cni("failed to register the container's names", e))
    }

    /// DEL: the record is removed or the error returned; a resolver that
    /// could not reload afterwards is no reason to fail DEL (its periodic
    /// rescan drops the name within seconds, and a failing DEL would stop the
    /// runtime from running the other plugins' DEL).
    pub fn unregister(
        &self,
        network: &str,
        container_id: &str,
        ifname: &str,
    ) -> Result<Option<String>, CniError> {
        match self.store.unregister(network, container_id, ifname) {
            Ok(()) => Ok(None),
            Err(e) if e.kind() == ErrorKind::Resolver => Ok(Some(e.to_string())),
            Err(e) => Err(to_cni("failed to remove the container's names", e)),
        }
    }

    /// CHECK.
    pub fn check(&self, record: &EndpointRecord) -> Result<(), CniError> {
        self.store
            .check(
                &record.network,
                &record.container_id,
                &record.ifname,
                Some(record),
            )
            .map_err(|e| to_cni("names check failed", e))
    }

    /// GC: drop the records of attachments not in `keep`.
    pub fn gc(&self, network: &str, keep: &[(String, String)]) -> Result<(), CniError> {
        match self.store.gc(network, keep) {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == ErrorKind::Resolver => Ok(()),
            Err(e) => Err(to_cni("failed to remove stale names", e)),
        }
    }

    /// STATUS.
    pub fn status(&self) -> Result<(), CniError> {
        if self.resolver_found {
            Ok(())
        } else {
            Err(CniError::not_available(
                "cnm-resolver not found",
                "install cnm-resolver next to this plugin or in CNI_PATH",
            ))
        }
    }
}

/// The store's error kinds as CNI codes.
pub fn to_cni(msg: &str, e: RecordsError) -> CniError {
    let code = match e.kind() {
        ErrorKind::InvalidInput => code::INVALID_NETWORK_CONFIG,
        ErrorKind::Io => code::IO_FAILURE,
        ErrorKind::Busy | ErrorKind::Resolver => code::TRY_AGAIN_LATER,
        ErrorKind::Mismatch => code::INTERNAL,
    };
    CniError::new(code, msg, e.to_string())
}
