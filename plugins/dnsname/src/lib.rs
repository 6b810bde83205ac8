//! CNI `dnsname` plugin (chained), a drop-in for Podman 4's `dnsname`
//! (containers/dnsname): the container's name (CNI_ARGS `K8S_POD_NAME`) and
//! its aliases (`runtimeConfig.aliases[<network>]`) answer with its
//! addresses from the previous result, under and without `domainName`, on
//! the network's gateway addresses, served by `cnm-resolver` (started on
//! demand, stopped when the last name of the last network goes) instead of
//! one dnsmasq per network.
//!
//! - ADD registers the names and passes the previous result through with
//!   the resolver's addresses put first in `dns.nameservers` and the domain
//!   appended to `dns.search`, as dnsname does.
//! - DEL unregisters by network + container id + interface; it needs
//!   neither the namespace nor a valid prevResult, and succeeds when there
//!   is nothing to remove.
//! - CHECK verifies the record equals what ADD would write and the resolver
//!   listens on the network's gateway addresses.
//! - GC drops the records of attachments not in `cni.dev/valid-attachments`.
//!
//! The names go through the model's name service (`cnm_model::NameService`,
//! the record store of `cnm-dns-records`); the only kernel state read is
//! the bridge's addresses (`getifaddrs`).

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod addrs;
pub mod config;
pub mod names;

use std::net::IpAddr;

use cni_protocol::{CniError, CniResult, Plugin, Request};
use cnm_model::{EndpointNames, NameRegistration, NetworkNames, OwnerKey};

use crate::addrs::{container_addrs, gateway_addrs, HostAddrs};
use crate::config::{aliases, container_name, Config};
use crate::names::Names;

/// ADD/CHECK without `prevResult` (dnsname's wording).
pub const NOT_CHAINED: &str = "must be called as chained plugin";

/// The plugin.
pub struct DnsName<H: HostAddrs> {
    /// Where the names go.
    pub names: Names,
    /// The host's interface addresses.
    pub host: H,
    /// What went wrong without failing the call (main prints it to stderr).
    pub warnings: std::cell::RefCell<Vec<String>>,
}

impl<H: HostAddrs> DnsName<H> {
    /// The plugin over `names` and `host`.
    pub fn new(names: Names, host: H) -> Self {
        DnsName {
            names,
            host,
            warnings: std::cell::RefCell::new(Vec::new()),
        }
    }
}

/// What ADD registers and CHECK expects.
struct Plan {
    prev: CniResult,
    network: String,
    settings: NetworkNames,
    owner: OwnerKey,
    names: EndpointNames,
    addresses: Vec<IpAddr>,
}

impl Plan {
    fn registration(&self) -> NameRegistration<'_> {
        NameRegistration {
            network: &self.network,
            owner: &self.owner,
            names: &self.names,
            addresses: &self.addresses,
        }
    }
}

fn attachment(req: &Request) -> Result<OwnerKey, CniError> {
    let missing = |var: &str| {
        CniError::invalid_env(
            format!("required env variables [{var}] missing"),
            format!("dnsname keys names by {var}"),
        )
    };
    Ok(OwnerKey {
        container_id: req
            .env
            .container_id
            .clone()
            .ok_or_else(|| missing("CNI_CONTAINERID"))?,
        ifname: req
            .env
            .ifname
            .clone()
            .ok_or_else(|| missing("CNI_IFNAME"))?,
    })
}

impl<H: HostAddrs> DnsName<H> {
    fn plan(&self, req: &Request) -> Result<Plan, CniError> {
        let cfg = Config::from_conf(&req.conf)?;
        let prev = req.conf.prev_result.clone().ok_or_else(|| {
            CniError::invalid_config(
                NOT_CHAINED,
                "dnsname needs the previous plugin's result (prevResult) in its configuration",
            )
        })?;
        let name = container_name(req)?;
        let aliases = aliases(&req.conf)?;
        let owner = attachment(req)?;
        let addrs = container_addrs(&prev);
        if addrs.is_empty() {
            return Err(CniError::invalid_config(
                "no ip address was found in the network",
                "the previous result has no address on a container interface",
            ));
        }
        let settings = NetworkNames {
            domain: Some(cfg.domain.clone()),
            internal: cfg.internal,
            upstreams: cfg.upstreams.iter().map(|u| u.0).collect(),
            listen: gateway_addrs(&self.host, &prev, &addrs),
            subnets: addrs.iter().map(|a| a.trunc()).collect(),
        };
        Ok(Plan {
            prev,
            network: cfg.network,
            settings,
            owner,
            names: EndpointNames { name, aliases },
            addresses: addrs.iter().map(|a| a.addr()).collect(),
        })
    }
}

impl<H: HostAddrs> Plugin for DnsName<H> {
    fn add(&self, req: &Request) -> Result<CniResult, CniError> {
        let p = self.plan(req)?;
        let mut dns = self.names.register(&p.settings, &p.registration())?;
        let mut result = p.prev;
        dns.nameservers.append(&mut result.dns.nameservers);
        result.dns.nameservers = dns.nameservers;
        result.dns.search.append(&mut dns.search);
        Ok(result)
    }

    fn del(&self, req: &Request) -> Result<(), CniError> {
        let owner = attachment(req)?;
        if let Some(warning) = self.names.unregister(&req.conf.name, &owner)? {
            // Not an error for the runtime (see Names::unregister).
            self.warnings
                .borrow_mut()
                .push(format!("names removed, but {warning}"));
        }
        Ok(())
    }

    fn check(&self, req: &Request) -> Result<(), CniError> {
        if req.conf.prev_result.is_none() {
            return Err(CniError::invalid_config(
                "Required prevResult missing",
                "CHECK needs the previous plugin's result",
            ));
        }
        let p = self.plan(req)?;
        self.names.check(&p.registration())
    }

    fn gc(&self, req: &Request) -> Result<(), CniError> {
        // Without the list, "nothing is valid" would drop every name.
        let valid = req.conf.valid_attachments.clone().ok_or_else(|| {
            CniError::invalid_config(
                "GC needs cni.dev/valid-attachments",
                "neither \"cni.dev/valid-attachments\" nor \"cni.dev/attachments\" is in the config",
            )
        })?;
        let keep: Vec<OwnerKey> = valid
            .into_iter()
            .map(|a| OwnerKey {
                container_id: a.container_id,
                ifname: a.ifname,
            })
            .collect();
        self.names.gc(&req.conf.name, &keep)
    }

    fn status(&self, req: &Request) -> Result<(), CniError> {
        Config::from_conf(&req.conf)?;
        self.names.status()
    }

    fn about(&self) -> String {
        format!("dnsname (cnm) {}", env!("CARGO_PKG_VERSION"))
    }
}

#[cfg(test)]
mod tests;
