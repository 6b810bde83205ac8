//! Validation of named-namespace names (`ip netns add NAME`) before they become a path.

use crate::NetnsError;

/// Longest accepted name in bytes (NAME_MAX).
pub const MAX_NAME_LEN: usize = 255;

/// Check that `name` is a single, safe file name: non-empty, at most 255 bytes,
/// no '/', no NUL, and not "." or "..".
pub fn validate_name(name: &str) -> Result<(), NetnsError> {
    let reason = if name.is_empty() {
        Some("empty name")
    } else if name.len() > MAX_NAME_LEN {
        Some("longer than 255 bytes")
    } else if name.contains('/') {
        Some("contains '/'")
    } else if name.contains('\0') {
        Some("contains a NUL byte")
    } else if name == "." || name == ".." {
        Some("'.' and '..' are not names")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(NetnsError::InvalidName {
            name: name.to_owned(),
            reason,
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(name: &str) -> &'static str {
        match validate_name(name) {
            Err(NetnsError::InvalidName { reason, .. }) => reason,
            other => panic!("{name:?}: expected InvalidName, got {other:?}"),
        }
    }

    #[test]
    fn accepts_ordinary_names() {
        for n in ["a", "cni-1234", "ns.1", "...", ".hidden", "x y", "é"] {
            assert!(validate_name(n).is_ok(), "{n:?}");
        }
        assert!(validate_name(&"n".repeat(255)).is_ok());
    }

    #[test]
    fn rejects_bad_names() {
        assert_eq!(reason(""), "empty name");
        assert_eq!(reason("."), "'.' and '..' are not names");
        assert_eq!(reason(".."), "'.' and '..' are not names");
        assert_eq!(reason("a/b"), "contains '/'");
        assert_eq!(reason("/abs"), "contains '/'");
        assert_eq!(reason("../x"), "contains '/'");
        assert_eq!(reason("a\0b"), "contains a NUL byte");
        assert_eq!(reason(&"n".repeat(256)), "longer than 255 bytes");
        // 128 two-byte characters = 256 bytes: the limit is in bytes, not chars.
        assert_eq!(reason(&"é".repeat(128)), "longer than 255 bytes");
    }

    #[test]
    fn error_message_names_the_name() {
        let msg = validate_name("a/b").map_err(|e| e.to_string());
        assert_eq!(
            msg,
            Err("invalid network namespace name \"a/b\": contains '/'".to_owned())
        );
    }
}
