//! The error type of every netlink operation: it names the operation and the
//! object (link, address, route) it was applied to.

use std::io;

/// Errors returned by [`crate::Handle`] operations.
#[derive(Debug, thiserror::Error)]
pub enum NetlinkError {
    /// The netlink socket itself failed (create, bind, send, receive).
    #[error("netlink socket: {op}: {source}")]
    Socket {
        /// What was being done with the socket.
        op: String,
        /// The underlying OS error.
        #[source]
        source: io::Error,
    },
    /// The kernel answered the request with an error.
    #[error("{op} {target}: {}", kernel_detail(*.errno, .ext_ack.as_deref()))]
    Kernel {
        /// The operation, e.g. "create bridge".
        op: &'static str,
        /// The object, e.g. `link "br0"` or `link 7 (veth1)`.
        target: String,
        /// The positive errno reported by the kernel.
        errno: i32,
        /// The extended ack message (NLMSGERR_ATTR_MSG), if the kernel sent one.
        ext_ack: Option<String>,
    },
    /// A kernel reply could not be decoded.
    #[error("{op} {target}: cannot decode kernel reply: {reason}")]
    Decode {
        /// The operation.
        op: &'static str,
        /// The object.
        target: String,
        /// What was wrong with the reply.
        reason: String,
    },
    /// A dump kept being interrupted by concurrent changes.
    #[error("{op} {target}: dump interrupted by concurrent changes {attempts} times")]
    DumpInterrupted {
        /// The operation.
        op: &'static str,
        /// The object.
        target: String,
        /// How many attempts were made.
        attempts: usize,
    },
    /// The caller passed an argument the kernel would refuse or we cannot encode.
    #[error("{op} {target}: invalid argument: {reason}")]
    InvalidArgument {
        /// The operation.
        op: &'static str,
        /// The object.
        target: String,
        /// Why the argument is invalid.
        reason: String,
    },
    /// Entering the network namespace to create the socket failed.
    #[error("netlink socket in network namespace: {0}")]
    Netns(#[from] netns::NetnsError),
}

impl NetlinkError {
    /// The kernel errno, if this is a kernel error.
    pub fn errno(&self) -> Option<i32> {
        match self {
            NetlinkError::Kernel { errno, .. } => Some(*errno),
            _ => None,
        }
    }

    /// True if the kernel said the object does not exist (ENODEV, ENOENT, ESRCH, EADDRNOTAVAIL).
    pub fn is_not_found(&self) -> bool {
        matches!(
            self.errno(),
            Some(libc::ENODEV | libc::ENOENT | libc::ESRCH | libc::EADDRNOTAVAIL)
        )
    }

    /// True if the kernel said the object already exists (EEXIST).
    pub fn is_exists(&self) -> bool {
        self.errno() == Some(libc::EEXIST)
    }

    pub(crate) fn socket(op: impl Into<String>, source: io::Error) -> Self {
        NetlinkError::Socket {
            op: op.into(),
            source,
        }
    }

    /// Replace the target description of an error (used to add a link name).
    pub(crate) fn with_target(mut self, new_target: String) -> Self {
        match &mut self {
            NetlinkError::Kernel { target, .. }
            | NetlinkError::Decode { target, .. }
            | NetlinkError::DumpInterrupted { target, .. }
            | NetlinkError::InvalidArgument { target, .. } => *target = new_target,
            NetlinkError::Socket { .. } | NetlinkError::Netns(_) => {}
        }
        self
    }
}

fn kernel_detail(errno: i32, ext_ack: Option<&str>) -> String {
    let base = io::Error::from_raw_os_error(errno);
    match ext_ack {
        Some(msg) if !msg.is_empty() => format!("{base}: {msg}"),
        _ => base.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_error_names_op_target_and_ext_ack() {
        let e = NetlinkError::Kernel {
            op: "set master",
            target: "link 7 (veth1)".into(),
            errno: libc::EINVAL,
            ext_ack: Some("Device can not be enslaved".into()),
        };
        let s = e.to_string();
        assert!(s.starts_with("set master link 7 (veth1): "), "{s}");
        assert!(s.contains("Invalid argument"), "{s}");
        assert!(s.ends_with(": Device can not be enslaved"), "{s}");
        assert_eq!(e.errno(), Some(libc::EINVAL));
        assert!(!e.is_not_found());
    }

    #[test]
    fn classifies_not_found_and_exists() {
        let mk = |errno| NetlinkError::Kernel {
            op: "x",
            target: "y".into(),
            errno,
            ext_ack: None,
        };
        assert!(mk(libc::ENODEV).is_not_found());
        assert!(mk(libc::EEXIST).is_exists());
        assert!(!mk(libc::EEXIST).is_not_found());
        let renamed = mk(libc::EPERM).with_target("link 3 (eth0)".into());
        assert!(renamed.to_string().starts_with("x link 3 (eth0): "));
    }
}
