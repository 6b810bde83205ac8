//! Per-network-namespace sysctls (`/proc/sys/net/...`) read and written inside a [`NetNs`].
//!
//! `/proc/sys/net` is resolved against the netns of the thread that opens the file,
//! so opening it inside [`NetNs::run_in`] reaches the target namespace.

use std::path::{Path, PathBuf};

use crate::{NetNs, NetnsError};

/// Map a network sysctl key to its `/proc/sys` path.
///
/// The key is either slash-separated (`net/ipv6/conf/eth0.100/accept_dad`, needed when
/// an interface name contains a dot) or dot-separated (`net.ipv4.ip_forward`). It must
/// start with `net` (only those are per-namespace) and contain no empty, `.`, `..` or
/// NUL-bearing component.
pub fn sysctl_path(key: &str) -> Result<PathBuf, NetnsError> {
    let invalid = |reason| NetnsError::InvalidSysctlKey {
        key: key.to_owned(),
        reason,
    };
    let sep = if key.contains('/') { '/' } else { '.' };
    let parts: Vec<&str> = key.split(sep).collect();
    if parts.first() != Some(&"net") {
        return Err(invalid(
            "not under net (only net sysctls are per-namespace)",
        ));
    }
    if parts.len() < 2 {
        return Err(invalid("names no sysctl under net"));
    }
    for p in &parts {
        if p.is_empty() || *p == "." || *p == ".." || p.contains('\0') {
            return Err(invalid("empty, '.', '..' or NUL in a component"));
        }
    }
    let mut path = PathBuf::from("/proc/sys");
    path.extend(parts);
    Ok(path)
}

/// Write `value` to the sysctl file `path` (of the calling thread's
/// namespace) unless it already holds it (surrounding whitespace ignored):
/// the one home of "write a sysctl if it differs". `Ok(true)` when written.
pub fn write_if_differs(path: &Path, value: &str) -> std::io::Result<bool> {
    if let Ok(current) = std::fs::read_to_string(path) {
        if current.trim() == value {
            return Ok(false);
        }
    }
    std::fs::write(path, value).map(|()| true)
}

impl NetNs {
    /// Write `value` to the network sysctl `key` of this namespace.
    pub fn sysctl_write(&self, key: &str, value: &str) -> Result<(), NetnsError> {
        let path = sysctl_path(key)?;
        self.run_in(|| std::fs::write(&path, value))?
            .map_err(|source| sysctl_io("write sysctl", &path, source))
    }

    /// Read the network sysctl `key` of this namespace (trailing newline removed).
    pub fn sysctl_read(&self, key: &str) -> Result<String, NetnsError> {
        let path = sysctl_path(key)?;
        let text = self
            .run_in(|| std::fs::read_to_string(&path))?
            .map_err(|source| sysctl_io("read sysctl", &path, source))?;
        Ok(text.trim_end_matches('\n').to_owned())
    }
}

fn sysctl_io(op: &'static str, path: &Path, source: std::io::Error) -> NetnsError {
    NetnsError::Io {
        op,
        path: path.to_owned(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotted_and_slashed_keys() {
        assert_eq!(
            sysctl_path("net.ipv4.ip_forward").unwrap(),
            Path::new("/proc/sys/net/ipv4/ip_forward")
        );
        assert_eq!(
            sysctl_path("net/ipv6/conf/eth0.100/accept_dad").unwrap(),
            Path::new("/proc/sys/net/ipv6/conf/eth0.100/accept_dad")
        );
    }

    #[test]
    fn rejects_non_net_and_traversal() {
        for k in [
            "kernel.hostname",
            "net",
            "",
            "net..x",
            "net/ipv4/../../kernel/hostname",
            "net/./ipv4",
            "net/ipv4/",
            "/net/ipv4/ip_forward",
            "net.ip\0v4",
        ] {
            assert!(
                matches!(sysctl_path(k), Err(NetnsError::InvalidSysctlKey { .. })),
                "{k:?} accepted"
            );
        }
    }
}
