//! An overlay network's cluster-wide definition, validated before anything
//! is created: subnet (and, for dual stack, an IPv6 subnet), VNI, block
//! sizes, and no overlap with other networks.

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::error::ClusterIpamError;
use crate::plan::BlockPlan;

/// The largest VXLAN network identifier (24 bits).
pub const MAX_VNI: u32 = (1 << 24) - 1;

/// The definition every host of the cluster shares (stored in etcd).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NetworkSpec {
    pub name: String,
    pub subnet: IpNet,
    pub vni: u32,
    /// Prefix length of a block (e.g. 26).
    pub block_prefix: u8,
    /// Dual stack: the IPv6 subnet, cut into blocks of `block_prefix6`
    /// (absent from the stored JSON when not set, so single-stack
    /// definitions read as before).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet6: Option<IpNet>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_prefix6: Option<u8>,
}

impl NetworkSpec {
    fn invalid(&self, msg: impl Into<String>) -> ClusterIpamError {
        ClusterIpamError::Config {
            network: self.name.clone(),
            msg: msg.into(),
        }
    }

    /// Checks the definition on its own and returns its (first) block plan.
    pub fn validate(&self) -> Result<BlockPlan, ClusterIpamError> {
        let plans = self.plans()?;
        plans
            .into_iter()
            .next()
            .ok_or_else(|| self.invalid("no subnet"))
    }

    /// Every block plan of the network: the subnet's, then the IPv6
    /// subnet's (dual stack), each checked.
    pub fn plans(&self) -> Result<Vec<BlockPlan>, ClusterIpamError> {
        cnm_ipam::validate_network_name(&self.name).map_err(|e| self.invalid(e.to_string()))?;
        if self.vni == 0 || self.vni > MAX_VNI {
            return Err(self.invalid(format!("vni {} is out of range (1..={MAX_VNI})", self.vni)));
        }
        let mut plans =
            vec![BlockPlan::new(self.subnet, self.block_prefix).map_err(|m| self.invalid(m))?];
        match (self.subnet6, self.block_prefix6) {
            (None, None) => {}
            (Some(s6), Some(b6)) => {
                if !matches!(s6, IpNet::V6(_)) {
                    return Err(self.invalid(format!("subnet6 {s6} is not an IPv6 subnet")));
                }
                if !matches!(self.subnet, IpNet::V4(_)) {
                    return Err(self.invalid(format!(
                        "subnet6 needs an IPv4 subnet beside it ({} is IPv6)",
                        self.subnet
                    )));
                }
                plans.push(
                    BlockPlan::new(s6, b6).map_err(|m| self.invalid(format!("subnet6: {m}")))?,
                );
            }
            (Some(_), None) => {
                return Err(self.invalid("subnet6 needs block6 (the IPv6 block size)"))
            }
            (None, Some(_)) => return Err(self.invalid("block6 needs subnet6")),
        }
        Ok(plans)
    }

    /// The subnets of the network (one, or two for dual stack).
    pub fn subnets(&self) -> Vec<IpNet> {
        std::iter::once(self.subnet).chain(self.subnet6).collect()
    }

    /// Checks the definition against the other networks of the cluster:
    /// distinct subnets (no overlap) and distinct VNIs. A network with the
    /// same name must be identical.
    pub fn check_against(&self, others: &[NetworkSpec]) -> Result<(), ClusterIpamError> {
        for o in others {
            if o.name == self.name {
                if o != self {
                    return Err(self.invalid(format!(
                        "already defined differently in the cluster (subnet {}, vni {}, block /{})",
                        o.subnet, o.vni, o.block_prefix
                    )));
                }
                continue;
            }
            for mine in self.subnets() {
                for theirs in o.subnets() {
                    if theirs.contains(&mine) || mine.contains(&theirs) {
                        return Err(self.invalid(format!(
                            "subnet {mine} overlaps {theirs} of network {:?}",
                            o.name
                        )));
                    }
                }
            }
            if o.vni == self.vni {
                return Err(
                    self.invalid(format!("vni {} is used by network {:?}", self.vni, o.name))
                );
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str, subnet: &str, vni: u32, block: u8) -> NetworkSpec {
        NetworkSpec {
            name: name.into(),
            subnet: subnet.parse().unwrap(),
            vni,
            block_prefix: block,
            subnet6: None,
            block_prefix6: None,
        }
    }

    #[test]
    fn dual_stack_definitions() {
        let mut a = spec("a", "10.214.0.0/16", 42, 26);
        a.subnet6 = Some("fd00:214::/48".parse().unwrap());
        a.block_prefix6 = Some(64);
        let plans = a.plans().unwrap();
        assert_eq!(plans.len(), 2);
        assert_eq!(plans[1].block_prefix(), 64);
        assert_eq!(a.subnets().len(), 2);
        let j = serde_json::to_string(&a).unwrap();
        assert_eq!(serde_json::from_str::<NetworkSpec>(&j).unwrap(), a);
        assert!(!serde_json::to_string(&spec("b", "10.1.0.0/16", 1, 26))
            .unwrap()
            .contains("subnet6"));
        let mut b = spec("b", "10.215.0.0/16", 43, 26);
        b.subnet6 = Some("fd00:214:0:100::/56".parse().unwrap());
        b.block_prefix6 = Some(64);
        let e = b.check_against(std::slice::from_ref(&a)).unwrap_err();
        assert!(e.to_string().contains("overlaps fd00:214::/48"), "{e}");
        let mut c = spec("c", "10.216.0.0/16", 44, 26);
        c.subnet6 = Some("10.9.0.0/16".parse().unwrap());
        c.block_prefix6 = Some(24);
        assert!(c
            .plans()
            .unwrap_err()
            .to_string()
            .contains("not an IPv6 subnet"));
        c.subnet6 = Some("fd01::/48".parse().unwrap());
        c.block_prefix6 = None;
        assert!(c.plans().unwrap_err().to_string().contains("needs block6"));
    }

    #[test]
    fn validates_vni_and_blocks() {
        assert!(spec("a", "10.214.0.0/16", 42, 26).validate().is_ok());
        let e = spec("a", "10.214.0.0/16", 0, 26).validate().unwrap_err();
        assert!(e.to_string().contains("vni 0 is out of range"), "{e}");
        let e = spec("a", "10.214.0.0/16", 1 << 24, 26)
            .validate()
            .unwrap_err();
        assert!(e.to_string().contains("out of range"), "{e}");
        let e = spec("a", "10.214.0.0/24", 1, 20).validate().unwrap_err();
        assert!(e.to_string().contains("larger than the subnet"), "{e}");
        let e = spec("../x", "10.214.0.0/24", 1, 26).validate().unwrap_err();
        assert!(e.to_string().contains("invalid network name"), "{e}");
    }

    #[test]
    fn refuses_overlaps_and_shared_vnis() {
        let a = spec("a", "10.214.0.0/16", 42, 26);
        let b = spec("b", "10.214.128.0/17", 43, 26);
        let e = b.check_against(std::slice::from_ref(&a)).unwrap_err();
        assert!(e.to_string().contains("overlaps 10.214.0.0/16"), "{e}");
        let c = spec("c", "10.215.0.0/16", 42, 26);
        let e = c.check_against(std::slice::from_ref(&a)).unwrap_err();
        assert!(e.to_string().contains("vni 42 is used"), "{e}");
        let a2 = spec("a", "10.214.0.0/16", 42, 25);
        assert!(a2.check_against(std::slice::from_ref(&a)).is_err());
        assert!(a.check_against(std::slice::from_ref(&a)).is_ok());
        assert!(spec("d", "10.216.0.0/16", 44, 26)
            .check_against(&[a, b])
            .is_ok());
    }

    #[test]
    fn json_round_trip_and_unknown_fields() {
        let a = spec("a", "10.214.0.0/16", 42, 26);
        let j = serde_json::to_string(&a).unwrap();
        assert_eq!(serde_json::from_str::<NetworkSpec>(&j).unwrap(), a);
        assert!(serde_json::from_str::<NetworkSpec>(
            r#"{"name":"a","subnet":"10.0.0.0/8","vni":1,"blockPrefix":26,"x":1}"#
        )
        .is_err());
    }
}
