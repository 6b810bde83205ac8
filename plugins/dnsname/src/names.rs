//! The plugin's one way to the names: through the model's name service
//! (`cnm_model::NameService`, implemented by the record store of
//! `cnm-dns-records`): register at ADD, unregister at DEL, check at CHECK,
//! gc at GC. Errors come back as the model's driver errors and are mapped
//! to CNI errors once, by the CNI front-end's map (`cnm_cni::driver_to_cni`).

use std::sync::Arc;

use cni_protocol::CniError;
use cnm_dns_records::service::records_kind;
use cnm_dns_records::ErrorKind;
use cnm_model::{DnsSettings, NameRegistration, NameService, NetworkNames, OwnerKey};

/// The names of this network namespace.
#[derive(Clone)]
pub struct Names {
    service: Arc<dyn NameService>,
    resolver_found: bool,
}

impl Names {
    /// Names kept by `service`; `resolver_found` tells whether a
    /// `cnm-resolver` binary was found to serve them.
    pub fn new(service: Arc<dyn NameService>, resolver_found: bool) -> Names {
        Names {
            service,
            resolver_found,
        }
    }

    /// ADD.
    pub fn register(
        &self,
        settings: &NetworkNames,
        reg: &NameRegistration<'_>,
    ) -> Result<DnsSettings, CniError> {
        if !self.resolver_found && !settings.listen.is_empty() {
            return Err(CniError::not_available(
                "cnm-resolver not found",
                "the names could not be served: install cnm-resolver next to this plugin or in CNI_PATH",
            ));
        }
        self.service
            .register(settings, reg)
            .map_err(|e| cnm_cni::driver_to_cni(&e))
    }

    /// DEL: the record is removed or the error returned; a resolver that
    /// could not reload afterwards is no reason to fail DEL (its periodic
    /// rescan drops the name within seconds, and a failing DEL would stop the
    /// runtime from running the other plugins' DEL): that comes back as a
    /// warning.
    pub fn unregister(&self, network: &str, owner: &OwnerKey) -> Result<Option<String>, CniError> {
        match self.service.unregister(network, owner) {
            Ok(()) => Ok(None),
            Err(e) if records_kind(&e) == Some(ErrorKind::Resolver) => Ok(Some(e.to_string())),
            Err(e) => Err(cnm_cni::driver_to_cni(&e)),
        }
    }

    /// CHECK.
    pub fn check(&self, reg: &NameRegistration<'_>) -> Result<(), CniError> {
        self.service
            .check(reg)
            .map_err(|e| cnm_cni::driver_to_cni(&e))
    }

    /// GC: drop the records of attachments not in `keep`.
    pub fn gc(&self, network: &str, keep: &[OwnerKey]) -> Result<(), CniError> {
        match self.service.gc(network, keep) {
            Ok(()) => Ok(()),
            Err(e) if records_kind(&e) == Some(ErrorKind::Resolver) => Ok(()),
            Err(e) => Err(cnm_cni::driver_to_cni(&e)),
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
