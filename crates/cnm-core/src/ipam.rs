//! IPAM through delegation: the config's `ipam.type` names a plugin. Our own
//! host-local runs in-process (identical behaviour, no second process on the
//! ADD path); any other type is executed from CNI_PATH as the spec says.

use cni_protocol::{CniError, CniResult, Plugin, Request};

/// Names under which our host-local may be configured and run in-process.
pub const IN_PROCESS_TYPES: &[&str] = &["ipam-host-local"];

/// IPAM driver: the five verbs, in-process or by exec.
pub trait Ipam {
    fn add(&self, req: &Request) -> Result<CniResult, CniError>;
    fn del(&self, req: &Request) -> Result<(), CniError>;
    fn check(&self, req: &Request) -> Result<(), CniError>;
    fn gc(&self, req: &Request) -> Result<(), CniError>;
    fn status(&self, req: &Request) -> Result<(), CniError>;
}

/// Our host-local, called as a library.
pub struct InProcess;

impl Ipam for InProcess {
    fn add(&self, req: &Request) -> Result<CniResult, CniError> {
        cnm_ipam::HostLocal.add(req)
    }
    fn del(&self, req: &Request) -> Result<(), CniError> {
        cnm_ipam::HostLocal.del(req)
    }
    fn check(&self, req: &Request) -> Result<(), CniError> {
        cnm_ipam::HostLocal.check(req)
    }
    fn gc(&self, req: &Request) -> Result<(), CniError> {
        cnm_ipam::HostLocal.gc(req)
    }
    fn status(&self, req: &Request) -> Result<(), CniError> {
        cnm_ipam::HostLocal.status(req)
    }
}

/// Any IPAM plugin binary found in CNI_PATH, given the whole config on stdin
/// and the same environment.
pub struct Exec {
    pub plugin: String,
}

impl Ipam for Exec {
    fn add(&self, req: &Request) -> Result<CniResult, CniError> {
        cni_protocol::delegate::delegate_add(
            &self.plugin,
            &req.stdin,
            &req.env,
            &req.conf.cni_version,
        )
    }
    fn del(&self, req: &Request) -> Result<(), CniError> {
        cni_protocol::delegate::delegate_del(&self.plugin, &req.stdin, &req.env)
    }
    fn check(&self, req: &Request) -> Result<(), CniError> {
        cni_protocol::delegate::delegate_check(&self.plugin, &req.stdin, &req.env)
    }
    fn gc(&self, req: &Request) -> Result<(), CniError> {
        cni_protocol::delegate::delegate_gc(&self.plugin, &req.stdin, &req.env)
    }
    fn status(&self, req: &Request) -> Result<(), CniError> {
        cni_protocol::delegate::delegate_status(&self.plugin, &req.stdin, &req.env)
    }
}

/// The IPAM driver for `ipam_type`; `force_exec` runs ours as a binary too.
pub fn for_type(ipam_type: &str, force_exec: bool) -> Box<dyn Ipam> {
    if IN_PROCESS_TYPES.contains(&ipam_type) && !force_exec {
        Box::new(InProcess)
    } else {
        Box::new(Exec {
            plugin: ipam_type.to_string(),
        })
    }
}
