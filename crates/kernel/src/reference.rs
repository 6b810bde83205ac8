//! The reference `bridge` plugin's rules in the host namespace, for
//! attachments it made before its binary was swapped for ours
//! (docs/migration.md): its `ipMasq` state is an iptables chain per
//! container, its `macspoofchk` state nftables `bridge nat` chains
//! (`cnm_refcompat`). The bridge driver's CHECK accepts them, DEL and GC
//! remove them.

use cnm_refcompat::{Kind, RefRules};

use crate::types::KernelError;

/// The reference's per-container masquerade rules in the host namespace.
pub trait ReferenceRules {
    /// True when the reference's masquerade chain of this container exists.
    fn masq_present(&self, network: &str, container_id: &str) -> bool;
    /// Remove that chain and its jump; cheap (one probe per family, no
    /// process) when there is none.
    fn remove_masq(&self, network: &str, container_id: &str) -> Result<(), KernelError>;
    /// Remove the masquerade chains of this network's containers that `keep` rejects.
    fn gc_masq(&self, network: &str, keep: &dyn Fn(&str) -> bool) -> Result<(), KernelError>;
    /// True when the reference's MAC spoof check of this attachment exists.
    fn spoof_present(&self, container_id: &str, ifname: &str) -> bool;
    /// Remove it (one probe when there is none).
    fn remove_spoof(&self, container_id: &str, ifname: &str) -> Result<(), KernelError>;
}

/// No reference state anywhere (the default of the `ReferenceState` trait).
pub struct NoReferenceRules;

impl ReferenceRules for NoReferenceRules {
    fn masq_present(&self, _: &str, _: &str) -> bool {
        false
    }
    fn remove_masq(&self, _: &str, _: &str) -> Result<(), KernelError> {
        Ok(())
    }
    fn gc_masq(&self, _: &str, _: &dyn Fn(&str) -> bool) -> Result<(), KernelError> {
        Ok(())
    }
    fn spoof_present(&self, _: &str, _: &str) -> bool {
        false
    }
    fn remove_spoof(&self, _: &str, _: &str) -> Result<(), KernelError> {
        Ok(())
    }
}

/// The real rules: iptables (nftables backend) in the calling thread's namespace.
#[derive(Default)]
pub struct IptablesReferenceRules {
    pub rules: RefRules,
}

fn ref_err(op: &str, network: &str, e: cnm_refcompat::RefError) -> KernelError {
    KernelError::new(op, format!("reference iptables rules of {network}"), e)
}

impl ReferenceRules for IptablesReferenceRules {
    fn masq_present(&self, network: &str, container_id: &str) -> bool {
        !self
            .rules
            .present(Kind::Masq, network, container_id)
            .is_empty()
    }
    fn remove_masq(&self, network: &str, container_id: &str) -> Result<(), KernelError> {
        self.rules
            .remove(Kind::Masq, network, container_id)
            .map(|_| ())
            .map_err(|e| ref_err("remove", network, e))
    }
    fn gc_masq(&self, network: &str, keep: &dyn Fn(&str) -> bool) -> Result<(), KernelError> {
        self.rules
            .gc(Kind::Masq, network, keep)
            .map(|_| ())
            .map_err(|e| ref_err("garbage-collect", network, e))
    }
    fn spoof_present(&self, container_id: &str, ifname: &str) -> bool {
        self.rules.spoof_present(container_id, ifname)
    }
    fn remove_spoof(&self, container_id: &str, ifname: &str) -> Result<(), KernelError> {
        self.rules
            .remove_spoof(container_id, ifname)
            .map(|_| ())
            .map_err(|e| KernelError::new("remove", "the reference plugin's MAC spoof check", e))
    }
}
