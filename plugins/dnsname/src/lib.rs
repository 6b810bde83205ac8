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
//! The only kernel state read is the bridge's addresses (`getifaddrs`).

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod addrs;
pub mod config;
pub mod names;

use cni_protocol::{CniError, CniResult, Plugin, Request};
use cnm_dns_records::{EndpointRecord, NetworkSettings, FORMAT_VERSION};

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
    settings: NetworkSettings,
    record: EndpointRecord,
}

fn attachment(req: &Request) -> Result<(String, String), CniError> {
    let missing = |var: &str| {
        CniError::invalid_env(
            format!("required env variables [{var}] missing"),
            format!("dnsname keys names by {var}"),
        )
    };
    Ok((
        req.env
            .container_id
            .clone()
            .ok_or_else(|| missing("CNI_CONTAINERID"))?,
        req.env
            .ifname
            .clone()
            .ok_or_else(|| missing("CNI_IFNAME"))?,
    ))
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
        let (container_id, ifname) = attachment(req)?;
        let addrs = container_addrs(&prev);
        if addrs.is_empty() {
            return Err(CniError::invalid_config(
                "no ip address was found in the network",
                "the previous result has no address on a container interface",
            ));
        }
        let mut settings = NetworkSettings::new(&cfg.network);
        settings.domain = Some(cfg.domain.clone());
        settings.internal = cfg.internal;
        settings.upstreams = cfg.upstreams.clone();
        settings.listen = gateway_addrs(&self.host, &prev, &addrs);
        settings.subnets = addrs.iter().map(|a| a.trunc()).collect();
        let record = EndpointRecord {
            version: FORMAT_VERSION,
            network: cfg.network,
            container_id,
            ifname,
            name,
            aliases,
            addresses: addrs.iter().map(|a| a.addr()).collect(),
        };
        Ok(Plan {
            prev,
            settings,
            record,
        })
    }
}

impl<H: HostAddrs> Plugin for DnsName<H> {
    fn add(&self, req: &Request) -> Result<CniResult, CniError> {
        let p = self.plan(req)?;
        let reg = self.names.register(&p.settings, &p.record)?;
        let mut result = p.prev;
        let mut nameservers: Vec<String> =
            reg.nameservers.iter().map(ToString::to_string).collect();
        nameservers.append(&mut result.dns.nameservers);
        result.dns.nameservers = nameservers;
        if let Some(d) = reg.domain {
            result.dns.search.push(d);
        }
        Ok(result)
    }

    fn del(&self, req: &Request) -> Result<(), CniError> {
        let (container_id, ifname) = attachment(req)?;
        if let Some(warning) = self
            .names
            .unregister(&req.conf.name, &container_id, &ifname)?
        {
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
        self.names.check(&p.record)
    }

    fn gc(&self, req: &Request) -> Result<(), CniError> {
        // Without the list, "nothing is valid" would drop every name.
        let valid = req.conf.valid_attachments.clone().ok_or_else(|| {
            CniError::invalid_config(
                "GC needs cni.dev/valid-attachments",
                "neither \"cni.dev/valid-attachments\" nor \"cni.dev/attachments\" is in the config",
            )
        })?;
        let keep: Vec<(String, String)> = valid
            .into_iter()
            .map(|a| (a.container_id, a.ifname))
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
