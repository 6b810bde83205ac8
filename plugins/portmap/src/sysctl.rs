//! `route_localnet=1` on the host-side interface (reference `enableLocalnetRouting`), so that
//! connections to 127.0.0.1:<hostPort> can be DNATed out of the loopback range (IPv4 only).

use std::path::{Path, PathBuf};

use cni_protocol::CniError;

/// Path of the interface's `route_localnet` under `proc_sys` (normally `/proc/sys`); the name is
/// validated so that it cannot leave the `conf` directory.
pub fn route_localnet_path(proc_sys: &Path, iface: &str) -> Result<PathBuf, CniError> {
    cni_protocol::validate_ifname(iface).map_err(|e| {
        CniError::invalid_config(
            "invalid host interface in prevResult",
            format!("interface {iface:?}: {e}"),
        )
    })?;
    Ok(proc_sys
        .join("net/ipv4/conf")
        .join(iface)
        .join("route_localnet"))
}

/// Set `route_localnet` to 1 unless it already is (written only when needed).
pub fn enable_route_localnet(proc_sys: &Path, iface: &str) -> Result<(), CniError> {
    let path = route_localnet_path(proc_sys, iface)?;
    let fail = |what: &str, e: std::io::Error| {
        CniError::kernel(
            "unable to enable route_localnet",
            format!("{what} {}: {e}", path.display()),
        )
    };
    netns::write_if_differs(&path, "1")
        .map(drop)
        .map_err(|e| fail("writing", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_only_when_needed_and_validates_name() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().to_path_buf();
        let dir = root.join("net/ipv4/conf/cni0");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("route_localnet"), "0\n").unwrap();
        enable_route_localnet(&root, "cni0").unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.join("route_localnet")).unwrap(),
            "1"
        );
        enable_route_localnet(&root, "cni0").unwrap();
        let e = enable_route_localnet(&root, "nope0").unwrap_err();
        assert!(e.details.contains("nope0"), "{e}");
        assert!(route_localnet_path(&root, "../x").is_err());
        assert!(route_localnet_path(&root, "a/b").is_err());
    }
}
