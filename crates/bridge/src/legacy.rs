//! Attachments the reference `bridge` plugin made before its binary was
//! swapped for ours (docs/migration.md). Its host veth has a random name: it
//! is found through the container veth's peer index (IFLA_LINK), as the
//! reference finds it. Its rules (`cnm_kernel::ReferenceRules`): CHECK
//! accepts them, DEL and GC remove them (GC cannot tell the network of its
//! MAC spoof checks).

use cnm_kernel::{Kernel, KernelError, LinkState};

/// The host end of the container's veth `container`: ours by its derived
/// name, else (an attachment of the reference) the link whose index is the
/// container veth's peer index and whose own peer is the container veth.
/// The flag says whether it is ours.
pub fn host_veth(
    kernel: &mut dyn Kernel,
    derived: &str,
    container: &LinkState,
) -> Result<Option<(LinkState, bool)>, KernelError> {
    // Ours by name, when it is this container interface's peer (a leftover
    // of that name paired with something else is not).
    if let Some(l) = kernel.host_link(derived)? {
        if l.peer_index.is_none() || l.peer_index == Some(container.index) {
            return Ok(Some((l, true)));
        }
        return Ok(None);
    }
    let Some(peer) = container.peer_index else {
        return Ok(None);
    };
    Ok(kernel
        .host_link_by_index(peer)?
        .filter(|l| l.kind.as_deref() == Some("veth") && l.peer_index == Some(container.index))
        .map(|l| (l, false)))
}
