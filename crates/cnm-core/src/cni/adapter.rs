//! [`CniAdapter`]: a `cni_protocol::Plugin` over the model. One adapter
//! serves one network driver (the bridge for `simplebridge`); IPAM is the
//! config's `ipam.type`, our host-local in-process, any other by exec.

use cni_protocol::{CniError, CniResult, Plugin, Request};

use super::errors::cni_error;
use super::reply::result_of;
use super::request::{
    attachment, check_layer2_version, container_mac, eid, endpoint_from_prev, interface_from_ipam,
    ipam_type, netns, network_record, placement,
};
use crate::model::{Controller, EndpointSpec, ErrorKind, ModelError, Network, SandboxPlacement};
use crate::system::System;

/// A CNI plugin over the model.
pub struct CniAdapter<S: System + 'static> {
    controller: Controller<S>,
    driver: String,
    about: String,
}

impl<S: System + 'static> CniAdapter<S> {
    /// An adapter calling `driver` (a registered network driver name) of
    /// `controller`; `about` is the plugin's VERSION text.
    pub fn new(controller: Controller<S>, driver: &str, about: &str) -> Self {
        CniAdapter {
            controller,
            driver: driver.to_string(),
            about: about.to_string(),
        }
    }

    /// The controller.
    pub fn controller(&self) -> &Controller<S> {
        &self.controller
    }

    fn network(&self, req: &Request) -> Result<Network, CniError> {
        self.controller
            .restore_network(network_record(&req.conf, &self.driver))
            .map_err(|e| cni_error(&e))
    }

    fn teardown_network(&self, req: &Request) -> Result<Network, CniError> {
        self.controller
            .attach_network(network_record(&req.conf, &self.driver))
            .map_err(|e| cni_error(&e))
    }
}

/// True when the sandbox at `key` already has an interface `ifname`.
fn interface_exists(sys: &dyn System, key: &str, ifname: &str, allow_own: bool) -> bool {
    sys.kernel(Some(key), allow_own)
        .ok()
        .and_then(|mut k| k.container_link(ifname).ok().flatten())
        .is_some()
}

/// One error for many: the first one's code, every message in the details.
fn join(mut errors: Vec<CniError>) -> Result<(), CniError> {
    match errors.len() {
        0 => Ok(()),
        1 => Err(errors.remove(0)),
        _ => {
            let first = errors[0].clone();
            let all: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
            Err(CniError::new(first.code, first.msg, all.join("; ")))
        }
    }
}

/// Add rollback failures to an error's details.
fn with_rollback(err: CniError, failures: Vec<String>) -> CniError {
    if failures.is_empty() {
        err
    } else {
        CniError::new(
            err.code,
            err.msg,
            format!("{}; rollback failed: {}", err.details, failures.join("; ")),
        )
    }
}

impl<S: System + 'static> Plugin for CniAdapter<S> {
    fn add(&self, req: &Request) -> Result<CniResult, CniError> {
        // Parse and validate.
        let (cid, ifname) = attachment(req)?;
        let eid = super::endpoint_id(cid, ifname);
        req.env.args.check_known(&["MAC", "IP"])?;
        let network = self.network(req)?;
        let mac = container_mac(req)?;
        check_layer2_version(&req.conf)?;
        let key = netns(req)?;
        let sandbox = self
            .controller
            .open_sandbox(key, req.env.netns_override)
            .map_err(|e| cni_error(&e))?;
        let sys = self.controller.system();

        // Allocate. The spec wants the delegate DELed when its ADD fails, e.g.
        // when it allocated but its reply was bad.
        let ipam = ipam_type(&req.conf).map(|t| sys.ipam(t));
        let release = |err: CniError, mut failures: Vec<String>| {
            if let Some(ipam) = &ipam {
                if let Err(e) = ipam.del(req) {
                    failures.push(format!("release IPAM: {e}"));
                }
            }
            with_rollback(err, failures)
        };
        let allocated = match &ipam {
            None => CniResult::default(),
            Some(ipam) => {
                let allocated = ipam.add(req).map_err(|e| {
                    // A repeated ADD of a live attachment: host-local refuses
                    // the owner's second allocation, and the DEL the spec asks
                    // for would free the live attachment's address. Only on
                    // this failure path is the sandbox looked at.
                    if interface_exists(sys.as_ref(), key, ifname, req.env.netns_override) {
                        return CniError::new(
                            cni_protocol::code::KERNEL,
                            format!("container interface {ifname:?} already exists"),
                            format!(
                                "an interface named {ifname:?} is already in {key} \
                                 (a repeated ADD?); IPAM: {e}"
                            ),
                        );
                    }
                    release(e, Vec::new())
                })?;
                sys.fault_point("after-ipam");
                if allocated.ips.is_empty() {
                    return Err(release(
                        CniError::ipam("IPAM plugin returned missing IP config", ""),
                        Vec::new(),
                    ));
                }
                allocated
            }
        };

        // The endpoint, created directly in the sandbox, and the join.
        let spec = EndpointSpec {
            interface: interface_from_ipam(&allocated, mac),
            sandbox: Some(SandboxPlacement {
                key: key.to_string(),
                ifname: ifname.to_string(),
                allow_own: req.env.netns_override,
            }),
            ..Default::default()
        };
        let mut endpoint = network.create_endpoint(&eid, spec).map_err(|e| {
            // A repeated ADD of a live attachment: IPAM handed back that
            // attachment's own reservation, which must stay.
            let live = matches!(&e, ModelError::Driver { source, .. }
                if source.kind == ErrorKind::AlreadyExists);
            if live {
                cni_error(&e)
            } else {
                release(cni_error(&e), Vec::new())
            }
        })?;
        let undo_endpoint = |endpoint: crate::model::Endpoint, err: CniError| {
            let failures = match endpoint.delete() {
                Ok(()) => Vec::new(),
                Err(e) => vec![e.to_string()],
            };
            release(err, failures)
        };
        let joined = endpoint
            .join(&sandbox)
            .and_then(|info| sandbox.apply(&eid, &info));
        if let Err(e) = joined {
            return Err(undo_endpoint(endpoint, cni_error(&e)));
        }

        // Reply. A result the config's version cannot express must fail
        // here, while everything can still be undone.
        let dns = match req.conf.dns.clone().filter(|d| !d.is_empty()) {
            Some(d) => d,
            None => allocated.dns.clone(),
        };
        let result = result_of(&endpoint, &req.conf.cni_version, dns);
        if let Err(e) = result.to_json(&req.conf.cni_version) {
            return Err(undo_endpoint(endpoint, e));
        }
        Ok(result)
    }

    fn del(&self, req: &Request) -> Result<(), CniError> {
        let eid = eid(req)?;
        let network = self.teardown_network(req)?;
        let mut errors = Vec::new();
        // IPAM first: the address must be released whatever else fails.
        if let Some(t) = ipam_type(&req.conf) {
            if let Err(e) = self.controller.system().ipam(t).del(req) {
                errors.push(e);
            }
        }
        let placement = placement(req);
        let mut endpoint = network.endpoint_by_id(&eid, placement.clone());
        if let Some(p) = &placement {
            let sandbox = self.controller.sandbox_for_teardown(&p.key, p.allow_own);
            if let Err(e) = endpoint.leave(&sandbox) {
                errors.push(cni_error(&e));
            }
        }
        if let Err(e) = endpoint.delete() {
            errors.push(cni_error(&e));
        }
        join(errors)
    }

    fn check(&self, req: &Request) -> Result<(), CniError> {
        let eid = eid(req)?;
        let network = self.network(req)?;
        let mac = container_mac(req)?;
        let key = netns(req)?;
        let prev = req.conf.prev_result.as_ref().ok_or_else(|| {
            CniError::invalid_config(
                "Required prevResult missing",
                "CHECK needs the ADD result in prevResult",
            )
        })?;
        self.controller
            .open_sandbox(key, req.env.netns_override)
            .map_err(|e| cni_error(&e))?;
        if let Some(t) = ipam_type(&req.conf) {
            self.controller.system().ipam(t).check(req)?;
        }
        let placement = SandboxPlacement {
            key: key.to_string(),
            ifname: req.env.ifname.clone().unwrap_or_default(),
            allow_own: req.env.netns_override,
        };
        let record = endpoint_from_prev(network.id(), &eid, placement, prev, mac);
        network
            .restore_endpoint(record)
            .and_then(|ep| ep.check())
            .map_err(|e: ModelError| cni_error(&e))
    }

    fn gc(&self, req: &Request) -> Result<(), CniError> {
        // Without the list, "nothing is valid" would tear down every container.
        let valid = req.conf.valid_attachments.clone().ok_or_else(|| {
            CniError::invalid_config(
                "GC needs cni.dev/valid-attachments",
                "neither \"cni.dev/valid-attachments\" nor \"cni.dev/attachments\" is in the config",
            )
        })?;
        let network = self.teardown_network(req)?;
        let mut errors = Vec::new();
        if let Some(t) = ipam_type(&req.conf) {
            if let Err(e) = self.controller.system().ipam(t).gc(req) {
                errors.push(e);
            }
        }
        let valid: Vec<String> = valid
            .iter()
            .map(|a| super::endpoint_id(&a.container_id, &a.ifname))
            .collect();
        if let Err(e) = network.gc(&valid) {
            errors.push(cni_error(&e));
        }
        join(errors)
    }

    fn status(&self, req: &Request) -> Result<(), CniError> {
        let network = self.network(req)?;
        if let Some(t) = ipam_type(&req.conf) {
            self.controller.system().ipam(t).status(req)?;
        }
        network.status().map_err(|e| cni_error(&e))
    }

    fn about(&self) -> String {
        self.about.clone()
    }
}
