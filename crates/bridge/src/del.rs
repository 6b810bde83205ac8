//! Endpoint deletion (CNI DEL after the adapter released IPAM): best effort
//! and idempotent. The host veth, found by its derived name (which removes
//! the container end too); only when it is not there is the sandbox entered
//! to delete the container interface. Every error is collected, none stops
//! the rest. Needs no network config.

use cnm_model::{DriverError, EndpointRef, SandboxError};

use super::names::{container_id_of_endpoint, host_veth_name_for_endpoint};
use cnm_kernel::System;

use super::error::kernel_error;

/// Delete endpoint `ep` of the network named `network`.
pub(super) fn del(sys: &dyn System, ep: &EndpointRef, network: &str) -> Result<(), DriverError> {
    let mut errors: Vec<DriverError> = Vec::new();
    let mut kernel = sys.kernel(None, false)?;

    // The host veth has a name derived from the attachment; deleting it
    // removes the container end too, with no need to enter the sandbox.
    let host_name = host_veth_name_for_endpoint(&ep.endpoint_id);
    let host_deleted = match kernel.delete_host_link(&host_name) {
        Ok(deleted) => deleted,
        Err(e) => {
            errors.push(kernel_error("failed to delete host veth", &e));
            false
        }
    };

    // Otherwise (a veth made by another plugin, or already gone) delete the
    // interface inside the sandbox, if it still exists. A sandbox that is
    // gone or a stale bind mount is fine; the host's own namespace is never
    // touched as a sandbox.
    let placement = ep.sandbox.as_ref().filter(|p| !p.key.is_empty());
    if let (false, Some(p)) = (host_deleted, placement) {
        match sys.kernel(Some(&p.key), p.allow_own) {
            Ok(mut sandbox) => {
                if let Err(e) = sandbox.delete_container_link(&p.ifname) {
                    errors.push(kernel_error("failed to delete container interface", &e));
                }
            }
            Err(e @ SandboxError::OwnNamespace(_)) => errors.insert(0, e.into()),
            Err(SandboxError::Missing(_)) | Err(SandboxError::NotNetns(..)) => {}
            Err(e @ (SandboxError::Kernel(_) | SandboxError::Invalid(_))) => errors.push(e.into()),
        }
    }
    // An attachment of the reference plugin (no host veth of ours): its own
    // masquerade chain and MAC spoof check go too. Ours never pay for the probe.
    if !host_deleted {
        let cid = container_id_of_endpoint(&ep.endpoint_id);
        let reference = sys.reference_rules();
        if let Err(e) = reference.remove_masq(network, cid) {
            errors.push(kernel_error(
                "failed to remove the reference plugin's masquerade",
                &e,
            ));
        }
        let ifname = placement.map_or("", |p| p.ifname.as_str());
        if let Err(e) = reference.remove_spoof(cid, ifname) {
            errors.push(kernel_error(
                "failed to remove the reference plugin's MAC spoof check",
                &e,
            ));
        }
    }
    // Whatever the config says now: a spoof check made by an ADD whose config
    // had `macspoofchk` must not outlive the attachment (one netlink probe
    // when there is none).
    if let Err(e) = sys.firewall().remove_mac_spoof_check(&host_name) {
        errors.push(kernel_error("failed to remove MAC spoof check", &e));
    }
    // Masquerade is per network and stays while the network exists (like the
    // bridge); GC with no valid attachment removes it.
    join(errors)
}

/// One error for many: the first one's kind, message and source, every
/// error's text in the details.
pub(super) fn join(mut errors: Vec<DriverError>) -> Result<(), DriverError> {
    match errors.len() {
        0 => Ok(()),
        1 => Err(errors.remove(0)),
        _ => {
            let all: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
            let mut first = errors.remove(0);
            first.details = all.join("; ");
            Err(first)
        }
    }
}
