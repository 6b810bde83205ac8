//! Whether a port-mapping owner still exists, from host-local's reservations: when one of the
//! given data directories holds the owner's network, the owner must still hold an address
//! there (`cnm_ipam::ops::check`, the same lookup as host-local's CHECK); when none holds the
//! network (another IPAM, another data directory), nothing can be known and the record is
//! trusted (DEL removes records, so a deleted owner has none).

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use cnm_ipam::IpamError;
use cnm_nft::{Alive, Liveness, Owner};

/// How long the store's lock is waited for; past it, nothing is known.
const LOCK_WAIT: Duration = Duration::from_secs(1);

/// host-local's data directories.
#[derive(Debug, Clone, Default)]
pub struct HostLocalReservations {
    /// Looked at in order.
    pub dirs: Vec<PathBuf>,
}

impl Liveness for HostLocalReservations {
    fn port_owner(&self, owner: &Owner, addrs: &[IpAddr]) -> Alive {
        if cnm_ipam::validate_network_name(&owner.network).is_err() {
            return Alive::Unknown;
        }
        for dir in &self.dirs {
            if !dir.join(&owner.network).is_dir() {
                continue;
            }
            return match cnm_ipam::ops::check(
                dir,
                &owner.network,
                &owner.container_id,
                &owner.ifname,
                LOCK_WAIT,
            ) {
                Ok(()) => Alive::Yes,
                Err(IpamError::NotFound(_)) => Alive::No(format!(
                    "{} no longer holds an address in {} (had {})",
                    owner.container_id,
                    dir.join(&owner.network).display(),
                    addrs
                        .iter()
                        .map(IpAddr::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
                Err(_) => Alive::Unknown,
            };
        }
        Alive::Unknown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner(cid: &str) -> Owner {
        Owner {
            network: "net1".into(),
            container_id: cid.into(),
            ifname: "eth0".into(),
        }
    }

    #[test]
    fn reservations_decide_where_the_network_is_known() {
        let t = tempfile::tempdir().unwrap();
        let store = t.path().join("net1");
        std::fs::create_dir_all(&store).unwrap();
        // The reference format: `<containerID>\r\n<ifname>` in a file named by the address.
        std::fs::write(store.join("10.9.0.2"), "c1\r\neth0").unwrap();
        let l = HostLocalReservations {
            dirs: vec![t.path().join("elsewhere"), t.path().to_path_buf()],
        };
        let a: Vec<IpAddr> = vec!["10.9.0.2".parse().unwrap()];
        assert_eq!(l.port_owner(&owner("c1"), &a), Alive::Yes);
        match l.port_owner(&owner("c2"), &a) {
            Alive::No(why) => assert!(why.contains("c2") && why.contains("10.9.0.2"), "{why}"),
            other => panic!("{other:?}"),
        }
        // A network no directory knows: trusted.
        let other = Owner {
            network: "net2".into(),
            ..owner("c2")
        };
        assert_eq!(l.port_owner(&other, &a), Alive::Unknown);
        assert_eq!(
            HostLocalReservations::default().port_owner(&owner("c1"), &a),
            Alive::Unknown
        );
    }
}
