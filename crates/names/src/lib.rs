//! One home for the name rules every crate checks and for the stable hash
//! derived names come from:
//!
//! - [`validate_ifname`]: the kernel's interface-name rules (libcni's
//!   `ValidateInterfaceName`): 1-15 bytes, not `.`/`..`, no `/`, `:`, NUL or
//!   whitespace;
//! - [`validate_ifname_strict`]: the same plus letters, digits and
//!   `_ . - @ +` only, for names we create and write into nftables scripts;
//! - [`validate_network_name`]: CNI network names,
//!   `^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`, at most 255 bytes (a path component);
//! - [`fnv1a64`]: FNV-1a 64, stable across releases and platforms.

#![forbid(unsafe_code)]

/// Longest interface name the kernel accepts (IFNAMSIZ - 1).
pub const MAX_IFNAME_LEN: usize = 15;
/// Longest network name (one path component).
pub const MAX_NETWORK_NAME_LEN: usize = 255;

/// Why an interface name is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IfnameError {
    /// Empty.
    #[error("interface name is empty")]
    Empty,
    /// Longer than [`MAX_IFNAME_LEN`] bytes.
    #[error("interface name {0:?} is longer than 15 bytes")]
    TooLong(String),
    /// `.` or `..`.
    #[error("interface name {0:?} is not allowed")]
    Dot(String),
    /// Contains `/`, `:`, NUL or whitespace.
    #[error("interface name {0:?} contains / or : or whitespace characters")]
    Forbidden(String),
    /// (strict) Contains a character outside letters, digits and `_ . - @ +`.
    #[error("interface name {name:?} contains {ch:?}; use letters, digits and _ . - @ +")]
    NotPortable {
        /// The name.
        name: String,
        /// The first character outside the set.
        ch: char,
    },
}

/// The kernel's rules for an interface name.
pub fn validate_ifname(name: &str) -> Result<(), IfnameError> {
    if name.is_empty() {
        return Err(IfnameError::Empty);
    }
    if name.len() > MAX_IFNAME_LEN {
        return Err(IfnameError::TooLong(name.to_string()));
    }
    if name == "." || name == ".." {
        return Err(IfnameError::Dot(name.to_string()));
    }
    if name
        .chars()
        .any(|c| c == '/' || c == ':' || c == '\0' || c.is_whitespace())
    {
        return Err(IfnameError::Forbidden(name.to_string()));
    }
    Ok(())
}

/// The kernel's rules plus a portable character set (names we create; they
/// also end up in nftables scripts).
pub fn validate_ifname_strict(name: &str) -> Result<(), IfnameError> {
    validate_ifname(name)?;
    if let Some(ch) = name.chars().find(|c| !is_portable_ifname_char(*c)) {
        return Err(IfnameError::NotPortable {
            name: name.to_string(),
            ch,
        });
    }
    Ok(())
}

/// True for the characters [`validate_ifname_strict`] accepts: ASCII letters,
/// digits and `_ . - @ +`.
pub fn is_portable_ifname_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '@' | '+')
}

/// Why a network name is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NetworkNameError {
    /// Empty.
    #[error("network name is empty")]
    Empty,
    /// A character outside the rule, or a bad first character.
    #[error("invalid network name {0:?}: must match ^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")]
    Invalid(String),
    /// Longer than [`MAX_NETWORK_NAME_LEN`] bytes.
    #[error("network name {0:?} is longer than 255 bytes")]
    TooLong(String),
}

/// True for `^[a-zA-Z0-9][a-zA-Z0-9_.-]*$` (CNI container IDs and network
/// names).
pub fn is_cni_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphanumeric() => {
            chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        }
        _ => false,
    }
}

/// CNI's network-name rule (also safe as one path component).
pub fn validate_network_name(name: &str) -> Result<(), NetworkNameError> {
    if name.is_empty() {
        return Err(NetworkNameError::Empty);
    }
    if !is_cni_identifier(name) {
        return Err(NetworkNameError::Invalid(name.to_string()));
    }
    if name.len() > MAX_NETWORK_NAME_LEN {
        return Err(NetworkNameError::TooLong(name.to_string()));
    }
    Ok(())
}

/// FNV-1a, 64 bit, over `parts` with a 0xff separator byte between them (so
/// `("ab", "c")` and `("a", "bc")` differ; no part of valid UTF-8 holds
/// 0xff). Stable across releases and platforms (no std hasher).
pub fn fnv1a64(parts: &[&[u8]]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut h = OFFSET;
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            h ^= 0xff;
            h = h.wrapping_mul(PRIME);
        }
        for b in *part {
            h ^= u64::from(*b);
            h = h.wrapping_mul(PRIME);
        }
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interface_names() {
        assert!(validate_ifname("eth0").is_ok());
        assert!(validate_ifname("123456789012345").is_ok());
        assert_eq!(
            validate_ifname("1234567890123456"),
            Err(IfnameError::TooLong("1234567890123456".into()))
        );
        assert_eq!(validate_ifname(""), Err(IfnameError::Empty));
        assert!(matches!(validate_ifname(".."), Err(IfnameError::Dot(_))));
        for bad in ["a/b", "a:b", "a b", "a\0b", "a\tb"] {
            assert!(
                matches!(validate_ifname(bad), Err(IfnameError::Forbidden(_))),
                "{bad:?}"
            );
        }
        assert!(validate_ifname("a*b").is_ok());
        assert!(matches!(
            validate_ifname_strict("a*b"),
            Err(IfnameError::NotPortable { ch: '*', .. })
        ));
        assert!(validate_ifname_strict("br-x_1.2@+").is_ok());
        for c in ['a', 'Z', '0', '_', '.', '-', '@', '+'] {
            assert!(is_portable_ifname_char(c), "{c:?}");
        }
        for c in ['*', ' ', '/', ':', '\0', '"', 'é'] {
            assert!(!is_portable_ifname_char(c), "{c:?}");
        }
    }

    #[test]
    fn network_names() {
        assert!(validate_network_name("net-1_a.b").is_ok());
        assert_eq!(validate_network_name(""), Err(NetworkNameError::Empty));
        for bad in ["-a", ".a", "a/b", "a b", "ä"] {
            assert!(
                matches!(
                    validate_network_name(bad),
                    Err(NetworkNameError::Invalid(_))
                ),
                "{bad}"
            );
        }
        assert!(matches!(
            validate_network_name(&"a".repeat(256)),
            Err(NetworkNameError::TooLong(_))
        ));
    }

    #[test]
    fn fnv_known_vectors() {
        // FNV-1a 64 test vectors (single part).
        assert_eq!(fnv1a64(&[b""]), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(&[b"a"]), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(&[b"foobar"]), 0x8594_4171_f739_67e8);
        assert_ne!(fnv1a64(&[b"ab", b"c"]), fnv1a64(&[b"a", b"bc"]));
        // The separator is the byte 0xff.
        assert_eq!(fnv1a64(&[b"a", b"b"]), fnv1a64(&[&[b'a', 0xff, b'b']]));
    }
}
