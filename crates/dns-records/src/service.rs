//! The record store as the model's name service ([`cnm_model::NameService`]):
//! the model's types in, the store's records out, the store's errors as
//! [`DriverError`]s of the matching kind (the [`RecordsError`] kept as the
//! source, so a front-end can still tell a resolver failure from a busy
//! store).

use cnm_model::{
    DnsSettings, DriverError, ErrorKind as ModelKind, NameRegistration, NameService, NetworkNames,
    OwnerKey,
};

use crate::error::{ErrorKind, RecordsError};
use crate::records::{EndpointRecord, NetworkSettings, Upstream, FORMAT_VERSION};
use crate::store::Store;

/// A store error as a driver error.
pub fn to_driver_error(e: RecordsError) -> DriverError {
    let (kind, msg) = match e.kind() {
        ErrorKind::InvalidInput => (ModelKind::InvalidConfig, "invalid name record"),
        ErrorKind::Io => (ModelKind::Io, "name record store failed"),
        ErrorKind::Busy => (ModelKind::TryAgainLater, "name record store busy"),
        ErrorKind::Resolver => (ModelKind::TryAgainLater, "name resolver failed"),
        ErrorKind::Mismatch => (ModelKind::Internal, "names check failed"),
    };
    DriverError::caused_by(kind, msg, e)
}

/// The store's kind of a driver error this module made (None for others).
pub fn records_kind(e: &DriverError) -> Option<ErrorKind> {
    e.find_source::<RecordsError>().map(RecordsError::kind)
}

fn settings_of(network: &str, n: &NetworkNames) -> NetworkSettings {
    let mut s = NetworkSettings::new(network);
    s.domain = n.domain.clone();
    s.internal = n.internal;
    s.listen = n.listen.clone();
    s.upstreams = n.upstreams.iter().copied().map(Upstream).collect();
    s.subnets = n.subnets.clone();
    s
}

fn record_of(reg: &NameRegistration<'_>) -> EndpointRecord {
    EndpointRecord {
        version: FORMAT_VERSION,
        network: reg.network.to_string(),
        container_id: reg.owner.container_id.clone(),
        ifname: reg.owner.ifname.clone(),
        name: reg.names.name.clone(),
        aliases: reg.names.aliases.clone(),
        addresses: reg.addresses.to_vec(),
    }
}

impl NameService for Store {
    fn register(
        &self,
        settings: &NetworkNames,
        reg: &NameRegistration<'_>,
    ) -> Result<DnsSettings, DriverError> {
        let done = Store::register(self, &settings_of(reg.network, settings), &record_of(reg))
            .map_err(to_driver_error)?;
        Ok(DnsSettings {
            nameservers: done.nameservers.iter().map(ToString::to_string).collect(),
            search: done.domain.into_iter().collect(),
            ..Default::default()
        })
    }

    fn unregister(&self, network: &str, owner: &OwnerKey) -> Result<(), DriverError> {
        Store::unregister(self, network, &owner.container_id, &owner.ifname)
            .map_err(to_driver_error)
    }

    fn check(&self, reg: &NameRegistration<'_>) -> Result<(), DriverError> {
        let want = record_of(reg);
        Store::check(
            self,
            reg.network,
            &want.container_id,
            &want.ifname,
            Some(&want),
        )
        .map_err(to_driver_error)
    }

    fn gc(&self, network: &str, keep: &[OwnerKey]) -> Result<(), DriverError> {
        let keep: Vec<(String, String)> = keep
            .iter()
            .map(|o| (o.container_id.clone(), o.ifname.clone()))
            .collect();
        Store::gc(self, network, &keep)
            .map(|_| ())
            .map_err(to_driver_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cnm_model::EndpointNames;

    #[test]
    fn the_store_serves_the_model() {
        let d = tempfile::tempdir().unwrap();
        let store = Store::at(d.path().join("s"), None);
        let svc: &dyn NameService = &store;
        let settings = NetworkNames {
            domain: Some("dns.podman".into()),
            listen: vec!["10.1.0.1".parse().unwrap()],
            upstreams: vec!["10.0.0.53:53".parse().unwrap()],
            ..Default::default()
        };
        let owner = OwnerKey {
            container_id: "c1".into(),
            ifname: "eth0".into(),
        };
        let names = EndpointNames {
            name: "web".into(),
            aliases: vec!["www".into()],
        };
        let addrs = ["10.1.0.2".parse().unwrap()];
        let reg = NameRegistration {
            network: "n1",
            owner: &owner,
            names: &names,
            addresses: &addrs,
        };
        let dns = svc.register(&settings, &reg).unwrap();
        assert_eq!(dns.nameservers, ["10.1.0.1"]);
        assert_eq!(dns.search, ["dns.podman"]);
        let eps = store.endpoints("n1").unwrap();
        assert_eq!((eps[0].name.as_str(), eps[0].aliases.len()), ("web", 1));
        let s = store.settings("n1").unwrap().unwrap();
        assert_eq!(s.upstreams[0].to_string(), "10.0.0.53");
        // No resolver runs (no launcher): check says so, as a driver error.
        let e = svc.check(&reg).unwrap_err();
        assert_eq!(e.kind, ModelKind::Internal);
        assert_eq!(records_kind(&e), Some(ErrorKind::Mismatch));
        // Bad names are the caller's config.
        let bad = EndpointNames {
            name: "no spaces".into(),
            aliases: vec![],
        };
        let e = svc
            .register(&settings, &NameRegistration { names: &bad, ..reg })
            .unwrap_err();
        assert_eq!(e.kind, ModelKind::InvalidConfig);
        assert!(e.details.contains("no spaces"), "{}", e.details);
        svc.gc("n1", std::slice::from_ref(&owner)).unwrap();
        assert_eq!(store.endpoints("n1").unwrap().len(), 1);
        svc.unregister("n1", &owner).unwrap();
        svc.unregister("n1", &owner).unwrap();
        assert!(!d.path().join("s").exists());
    }
}
