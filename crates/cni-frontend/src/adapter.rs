//! [`CniAdapter`]: a `cni_protocol::Plugin` over the model. One adapter
//! serves one network driver (the bridge for `simplebridge`, the overlay
//! for `simpleoverlay`); addresses always come through the network's IPAM
//! driver ([`IpamPolicy`]). Each verb converts the request into model calls
//! once and the model's answer into a CNI result or error once.

use std::sync::Arc;

use cni_protocol::{CniError, CniResult, Plugin, Request};
use cnm_kernel::FaultPoints;
use cnm_model::{
    Controller, EndpointInterface, EndpointSpec, ModelError, Network, OwnerKey, SandboxPlacement,
};

use super::errors::cni_error;
use super::ids::endpoint_id;
use super::ipam::{IpamPolicy, Resolved};
use super::reply::{cni_dns, result_of};
use super::request::{
    attachment, check_layer2_version, container_mac, eid, endpoint_from_prev, in_process_ipam_args,
    ipam_type, netns, network_record, owner, placement,
};

/// A CNI plugin over the model.
pub struct CniAdapter {
    controller: Controller,
    driver: String,
    ipam: IpamPolicy,
    faults: Arc<dyn FaultPoints>,
    about: String,
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

/// What an undo that failed could not undo, as rollback failures.
fn failures_of(e: ModelError) -> Vec<String> {
    let one = |e: &ModelError| match e {
        ModelError::Ipam { source, .. } => format!("release IPAM: {source}"),
        other => other.to_string(),
    };
    match e {
        ModelError::List(list) => list.errors().iter().map(one).collect(),
        other => vec![one(&other)],
    }
}

/// A network of a request and whether its IPAM runs in-process.
struct RequestNetwork {
    network: Network,
    in_process: bool,
}

impl CniAdapter {
    /// An adapter calling `driver` (a registered network driver name) of
    /// `controller`, with addresses from `ipam`; `faults` marks ADD's steps
    /// (test builds crash there); `about` is the plugin's VERSION text.
    pub fn new(
        controller: Controller,
        driver: &str,
        ipam: IpamPolicy,
        faults: Arc<dyn FaultPoints>,
        about: &str,
    ) -> Self {
        CniAdapter {
            controller,
            driver: driver.to_string(),
            ipam,
            faults,
            about: about.to_string(),
        }
    }

    /// The controller.
    pub fn controller(&self) -> &Controller {
        &self.controller
    }

    /// The network of `req`, with its IPAM binding: `validate` has the
    /// driver accept it again (ADD, CHECK, STATUS); otherwise it is only
    /// attached (DEL, GC: options that no longer validate still tear down).
    fn network(&self, req: &Request, validate: bool) -> Result<RequestNetwork, CniError> {
        let ipam_type = ipam_type(&req.conf);
        let resolved = self.ipam.resolve(req, ipam_type, &self.faults);
        let record = network_record(&req.conf, &self.driver, resolved.name(ipam_type).as_deref());
        let in_process = matches!(resolved, Resolved::InProcess(_));
        let network = match (resolved, validate) {
            (Resolved::Exec(d), true) => self.controller.restore_network_with_ipam(record, d),
            (Resolved::Exec(d), false) => self.controller.attach_network_with_ipam(record, d),
            (_, true) => self.controller.restore_network(record),
            (_, false) => self.controller.attach_network(record),
        }
        .map_err(|e| cni_error(&e))?;
        Ok(RequestNetwork {
            network,
            in_process,
        })
    }
}

impl Plugin for CniAdapter {
    fn add(&self, req: &Request) -> Result<CniResult, CniError> {
        // Parse and validate.
        let (cid, ifname) = attachment(req)?;
        let eid = endpoint_id(cid, ifname);
        req.env.args.check_known(&["MAC", "IP"])?;
        let RequestNetwork {
            network,
            in_process,
        } = self.network(req, true)?;
        let mac = container_mac(req)?;
        check_layer2_version(&req.conf, network.ipam_driver().is_some())?;
        let key = netns(req)?;
        let sandbox = self
            .controller
            .open_sandbox(key, req.env.netns_override)
            .map_err(|e| cni_error(&e))?;
        let requested = if in_process {
            in_process_ipam_args(req)?
        } else {
            Vec::new()
        };
        let owner = owner(req)?;

        // Allocate (the network's IPAM driver) and create the endpoint,
        // directly in the sandbox.
        let spec = EndpointSpec {
            interface: EndpointInterface {
                mac,
                ..EndpointInterface::default()
            },
            sandbox: Some(SandboxPlacement {
                key: key.to_string(),
                ifname: ifname.to_string(),
                allow_own: req.env.netns_override,
            }),
            owner: Some(owner.clone()),
            requested,
            ..Default::default()
        };
        let mut endpoint = match network.create_endpoint(&eid, spec) {
            Ok(ep) => ep,
            Err(e @ ModelError::Ipam { .. }) => {
                // A repeated ADD of a live attachment: host-local refuses
                // the owner's second allocation, and the DEL the spec asks
                // for below would free the live attachment's address. Only
                // on this failure path is the sandbox looked at.
                let err = cni_error(&e);
                if sandbox.has_interface(ifname).unwrap_or(false) {
                    return Err(CniError::new(
                        cni_protocol::code::KERNEL,
                        format!("container interface {ifname:?} already exists"),
                        format!(
                            "an interface named {ifname:?} is already in {key} \
                             (a repeated ADD?); IPAM: {err}"
                        ),
                    ));
                }
                // The spec wants the delegate DELed when its ADD fails, e.g.
                // when it allocated but its reply was bad.
                return Err(release(&network, &owner, err));
            }
            // The model released what it allocated (or, for a live
            // attachment, kept it).
            Err(e) => return Err(cni_error(&e)),
        };
        let undo = |endpoint: cnm_model::Endpoint, err: CniError| {
            let failures = endpoint.delete().err().map(failures_of).unwrap_or_default();
            with_rollback(err, failures)
        };
        let joined = endpoint
            .join(&sandbox)
            .and_then(|info| sandbox.apply(&eid, &info));
        if let Err(e) = joined {
            return Err(undo(endpoint, cni_error(&e)));
        }

        // Reply. A result the config's version cannot express must fail
        // here, while everything can still be undone.
        let dns = match req.conf.dns.clone().filter(|d| !d.is_empty()) {
            Some(d) => d,
            None => cni_dns(endpoint.dns()),
        };
        let result = result_of(&endpoint, &req.conf.cni_version, dns);
        if let Err(e) = result.to_json(&req.conf.cni_version) {
            return Err(undo(endpoint, e));
        }
        Ok(result)
    }

    fn del(&self, req: &Request) -> Result<(), CniError> {
        let eid = eid(req)?;
        let owner = owner(req)?;
        let network = self.network(req, false)?.network;
        // IPAM first (the address must be released whatever else fails),
        // then leave and delete; every error is reported.
        let placement = placement(req);
        let endpoint = network.endpoint_by_id(&eid, placement.clone(), Some(owner));
        let sandbox = placement
            .as_ref()
            .map(|p| self.controller.sandbox_for_teardown(&p.key, p.allow_own));
        endpoint
            .teardown(sandbox.as_ref())
            .map_err(|e| cni_error(&e))
    }

    fn check(&self, req: &Request) -> Result<(), CniError> {
        let eid = eid(req)?;
        let RequestNetwork {
            network,
            in_process,
        } = self.network(req, true)?;
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
        if in_process {
            in_process_ipam_args(req)?;
        }
        let placement = SandboxPlacement {
            key: key.to_string(),
            ifname: req.env.ifname.clone().unwrap_or_default(),
            allow_own: req.env.netns_override,
        };
        let record = endpoint_from_prev(network.id(), &eid, placement, prev, mac, owner(req)?);
        // IPAM's check, then the driver's against the kernel.
        network
            .restore_endpoint(record)
            .and_then(|ep| ep.check())
            .map_err(|e| cni_error(&e))
    }

    fn gc(&self, req: &Request) -> Result<(), CniError> {
        // Without the list, "nothing is valid" would tear down every container.
        let valid = req.conf.valid_attachments.clone().ok_or_else(|| {
            CniError::invalid_config(
                "GC needs cni.dev/valid-attachments",
                "neither \"cni.dev/valid-attachments\" nor \"cni.dev/attachments\" is in the config",
            )
        })?;
        let network = self.network(req, false)?.network;
        let valid_ids: Vec<String> = valid
            .iter()
            .map(|a| endpoint_id(&a.container_id, &a.ifname))
            .collect();
        let owners: Vec<OwnerKey> = valid
            .iter()
            .map(|a| OwnerKey {
                container_id: a.container_id.clone(),
                ifname: a.ifname.clone(),
            })
            .collect();
        network.gc(&valid_ids, &owners).map_err(|e| cni_error(&e))
    }

    fn status(&self, req: &Request) -> Result<(), CniError> {
        let RequestNetwork {
            network,
            in_process,
        } = self.network(req, true)?;
        if in_process {
            in_process_ipam_args(req)?;
        }
        network.status().map_err(|e| cni_error(&e))
    }

    fn about(&self) -> String {
        self.about.clone()
    }
}

/// Release what `owner` holds after a failed allocation (the DEL the spec
/// asks for); a failure is added to the error's details.
fn release(network: &Network, owner: &OwnerKey, err: CniError) -> CniError {
    let failures = network
        .release_addresses(owner)
        .err()
        .map(failures_of)
        .unwrap_or_default();
    with_rollback(err, failures)
}
