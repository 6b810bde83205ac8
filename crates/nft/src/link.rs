//! Whether a network interface exists in the calling thread's network namespace, and its
//! index: what a restore checks before it puts back a bridge's masquerade or a port's spoof
//! check (`if_nametoindex(3)`, one ioctl on a socket the calling thread opens, so the answer
//! is about the thread's namespace; `/sys/class/net` would show the mounter's).

use std::ffi::CString;

/// The interface index of `name`, None when no such interface exists (or the name cannot be
/// an interface name).
pub fn index(name: &str) -> Option<u32> {
    let c = CString::new(name).ok()?;
    // SAFETY: if_nametoindex reads the NUL-terminated string `c`, which outlives the call, and
    // returns 0 when there is no such interface.
    let idx = unsafe { libc::if_nametoindex(c.as_ptr()) };
    (idx != 0).then_some(idx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_exists_and_nonsense_does_not() {
        assert!(index("lo").is_some());
        assert_eq!(index("cnm-no-such0"), None);
        assert_eq!(index("a\0b"), None);
    }
}
