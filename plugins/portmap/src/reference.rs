//! Mappings the reference `portmap` made before its binary was swapped for
//! ours (docs/migration.md): its `CNI-DN-<hash>` chain and the entries in
//! `CNI-HOSTPORT-DNAT` tagged with the container ID (`cnm_refcompat`). DEL
//! and GC remove them, CHECK accepts them. One netlink probe per family and
//! no process when there are none.

use cni_protocol::CniError;
use cnm_refcompat::{Kind, RefRules};

fn failed(msg: &str, e: cnm_refcompat::RefError) -> CniError {
    CniError::kernel(msg, e.to_string())
}

/// DEL: the reference's mappings of this container.
pub fn remove(network: &str, container_id: &str) -> Result<(), CniError> {
    RefRules::linux()
        .remove(Kind::Portmap, network, container_id)
        .map(|_| ())
        .map_err(|e| failed("failed to remove the reference portmap's rules", e))
}

/// GC: the reference's mappings of this network's containers `keep` rejects.
pub fn gc(network: &str, keep: &dyn Fn(&str) -> bool) -> Result<(), CniError> {
    RefRules::linux()
        .gc(Kind::Portmap, network, keep)
        .map(|_| ())
        .map_err(|e| failed("failed to remove the reference portmap's stale rules", e))
}

/// CHECK: the reference's DNAT chain of this container exists.
pub fn present(network: &str, container_id: &str) -> bool {
    !RefRules::linux()
        .present(Kind::Portmap, network, container_id)
        .is_empty()
}
