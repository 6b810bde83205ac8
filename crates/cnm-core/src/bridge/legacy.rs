//! Attachments the reference `bridge` plugin made before its binary was
//! swapped for ours (docs/migration.md). Its host veth has a random name: it
//! is found through the container veth's peer index (IFLA_LINK), as the
//! reference finds it. Its `ipMasq` state is an iptables chain per container
//! (`cnm_refcompat`): CHECK accepts it, DEL and GC remove it. Its
//! `macspoofchk` chains (nftables `bridge nat`): CHECK accepts them, DEL
//! removes them (GC cannot tell their network).

use cnm_refcompat::{Kind, RefRules};

use crate::kernel::{Kernel, KernelError, LinkState};

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

/// No reference state anywhere (the default of [`super::System`]).
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

/// The host end of the container's veth `container`: ours by its derived
/// name, else (an attachment of the reference) the link whose index is the
/// container veth's peer index and whose own peer is the container veth.
/// The flag says whether it is ours.
pub(super) fn host_veth(
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

#[cfg(test)]
mod tests {
    use cni_protocol::{CniEnv, NetConf, Plugin, Request};
    use serde_json::json;

    use crate::cni::CniAdapter;
    use crate::kernel::fake::FakeSystem;
    use crate::model::Controller;

    const NETNS: &str = "/run/netns/test-legacy";

    fn request(cmd: &str, conf: &serde_json::Value) -> Request {
        let bytes = serde_json::to_vec(conf).expect("json");
        let env = CniEnv::from_lookup(|k| {
            match k {
                "CNI_COMMAND" => Some(cmd),
                "CNI_CONTAINERID" => Some("c1"),
                "CNI_NETNS" => Some(NETNS),
                "CNI_IFNAME" => Some("eth0"),
                "CNI_PATH" => Some("/opt/cni/bin"),
                _ => None,
            }
            .map(String::from)
        })
        .expect("env");
        Request {
            env,
            conf: NetConf::parse(&bytes).expect("conf"),
            stdin: bytes,
        }
    }

    /// Give the host veth a random name, as the reference plugin does.
    fn rename_host_veth(system: &FakeSystem, to: &str) {
        let mut st = system.state.borrow_mut();
        let ours = st
            .host
            .keys()
            .find(|k| k.starts_with("veth"))
            .cloned()
            .expect("host veth");
        let mut link = st.host.remove(&ours).expect("host veth");
        link.state.name = to.to_string();
        st.host.insert(to.to_string(), link);
    }

    #[test]
    fn check_finds_a_randomly_named_host_veth_through_the_peer_index() {
        let controller = Controller::with_system(FakeSystem::new(NETNS));
        let system = controller.system().clone();
        let p = CniAdapter::new(controller, "bridge", "test");
        let mut conf = json!({
            "cniVersion": "1.0.0", "name": "n", "type": "bridge",
            "bridge": "br-l", "isGateway": true, "ipam": {"type": "fake"}
        });
        let r = p.add(&request("ADD", &conf)).expect("add");
        conf["prevResult"] = r.to_json("1.0.0").expect("json");
        rename_host_veth(&system, "veth1befa9f4");
        p.check(&request("CHECK", &conf)).expect("check");

        // A host link with the peer's index that is not the peer is refused.
        system
            .state
            .borrow_mut()
            .host
            .get_mut("veth1befa9f4")
            .expect("veth")
            .state
            .peer_index = Some(999);
        let e = p.check(&request("CHECK", &conf)).expect_err("not the peer");
        assert!(e.msg.contains("not found"), "{e:?}");
    }
}
