//! Validation of every name that ends up inside an nft script, and the stable names derived from them.
//!
//! The rules themselves live in `cnm-names` (the workspace's one home for name rules and FNV-1a);
//! this module adds the nft comment length limit and reports refusals as [`NftError::InvalidName`].

use cnm_names::{IfnameError, NetworkNameError};

use crate::error::NftError;

pub use cnm_names::fnv1a64;

/// Longest comment nft stores (NFTNL_UDATA_COMMENT_MAXLEN is 128 including the NUL).
pub const MAX_COMMENT: usize = 127;

const START: &str = "must start with a letter or digit";
const CHARSET: &str = "contains a character outside the allowed set";

/// Name of the per-network masquerade chain: `masq-<fnv1a64(network) as 16 hex>`.
pub fn masq_chain(network: &str) -> String {
    format!("masq-{:016x}", fnv1a64(&[network.as_bytes()]))
}

/// Comment carried by the masquerade rule of a network.
pub fn masq_comment(network: &str) -> String {
    format!("cnm:{network}")
}

fn invalid(what: &'static str, value: &str, reason: &'static str) -> NftError {
    NftError::InvalidName {
        what,
        value: value.to_string(),
        reason,
    }
}

/// Why a non-empty string is not a CNI identifier (`[a-zA-Z0-9][a-zA-Z0-9_.-]*`): its first
/// character, or a later one.
fn identifier_reason(value: &str) -> &'static str {
    if value.get(..1).is_some_and(cnm_names::is_cni_identifier) {
        CHARSET
    } else {
        START
    }
}

/// Network names: `[a-zA-Z0-9][a-zA-Z0-9_.-]*`, and short enough for the rule comment.
pub fn validate_network(name: &str) -> Result<(), NftError> {
    const WHAT: &str = "network name";
    match cnm_names::validate_network_name(name) {
        // Longer than 255 bytes is also too long for the comment, reported below.
        Ok(()) | Err(NetworkNameError::TooLong(_)) => {}
        Err(NetworkNameError::Empty) => return Err(invalid(WHAT, name, "empty")),
        Err(NetworkNameError::Invalid(_)) => {
            return Err(invalid(WHAT, name, identifier_reason(name)))
        }
    }
    if masq_comment(name).len() > MAX_COMMENT {
        return Err(invalid(
            WHAT,
            name,
            "too long for an nft comment (max 123 bytes)",
        ));
    }
    Ok(())
}

/// Container ids: the CNI rule `[a-zA-Z0-9][a-zA-Z0-9_.-]*`.
pub fn validate_container_id(id: &str) -> Result<(), NftError> {
    if cnm_names::is_cni_identifier(id) {
        return Ok(());
    }
    let reason = if id.is_empty() {
        "empty"
    } else {
        identifier_reason(id)
    };
    Err(invalid("container id", id, reason))
}

/// Interface names (bridge or container side): 1..=15 bytes of `[a-zA-Z0-9_.@+-]`, not `.`/`..`
/// (`cnm_names::validate_ifname_strict`).
pub fn validate_ifname(what: &'static str, name: &str) -> Result<(), NftError> {
    let reason = match cnm_names::validate_ifname_strict(name) {
        Ok(()) => return Ok(()),
        Err(IfnameError::Empty) => "empty",
        // A bad character is reported before the length, as it always was.
        Err(_) => match name
            .chars()
            .position(|c| !cnm_names::is_portable_ifname_char(c))
        {
            Some(0) => START,
            Some(_) => CHARSET,
            None => "must be 1..15 bytes and not . or ..",
        },
    };
    Err(invalid(what, name, reason))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_known_vectors() {
        assert_eq!(fnv1a64(&[b""]), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(&[b"a"]), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(&[b"foobar"]), 0x8594_4171_f739_67e8);
        assert_eq!(masq_chain("a"), "masq-af63dc4c8601ec8c");
        // Names on disk and in the kernel, pinned (computed independently of this crate).
        assert_eq!(masq_chain("net1"), "masq-e53f29baa031bbab");
        assert_eq!(crate::spoof::port_chain("veth1"), "spoof-b147edb711d2fdfb");
    }

    #[test]
    fn network_names() {
        for ok in ["a", "net1", "my-net.v2_x", "0abc"] {
            assert!(validate_network(ok).is_ok(), "{ok}");
        }
        for bad in [
            "", "-a", ".a", "a b", "a\"b", "a;b", "a\nb", "a}", "a/b", "é", "a,b",
        ] {
            assert!(validate_network(bad).is_err(), "{bad:?}");
        }
        assert!(validate_network(&"a".repeat(123)).is_ok());
        assert!(validate_network(&"a".repeat(124)).is_err());
    }

    #[test]
    fn ifnames_and_ids() {
        assert!(validate_ifname("bridge", "cni0").is_ok());
        assert!(validate_ifname("bridge", "br-0.1@x+").is_ok());
        assert!(validate_ifname("bridge", "").is_err());
        assert!(validate_ifname("bridge", "..").is_err());
        assert!(validate_ifname("bridge", "a234567890123456").is_err());
        assert!(validate_ifname("bridge", "e\"th").is_err());
        assert!(validate_ifname("bridge", "e,th").is_err());
        assert!(validate_container_id("abc-1.2_3").is_ok());
        assert!(validate_container_id("_abc").is_err());
        assert!(validate_container_id("a b").is_err());
    }

    #[test]
    fn error_names_the_value() {
        let e = validate_network("a;b").unwrap_err().to_string();
        assert!(e.contains("network name") && e.contains("a;b"), "{e}");
    }

    /// The reason of every rejection, pinned (including which rule wins when several fail).
    #[test]
    fn rejection_reasons() {
        fn reason(r: Result<(), NftError>) -> &'static str {
            match r {
                Err(NftError::InvalidName { reason, .. }) => reason,
                other => panic!("expected InvalidName, got {other:?}"),
            }
        }
        const START: &str = "must start with a letter or digit";
        const SET: &str = "contains a character outside the allowed set";
        const IFLEN: &str = "must be 1..15 bytes and not . or ..";
        const COMMENT: &str = "too long for an nft comment (max 123 bytes)";
        let long = "a".repeat(124);
        let long_bad = format!("{}!", "a".repeat(300));
        for (name, want) in [
            ("", "empty"),
            ("-a", START),
            ("é", START),
            ("a b", SET),
            ("aé", SET),
            (long.as_str(), COMMENT),
            (&"a".repeat(256), COMMENT),
            (long_bad.as_str(), SET),
            ("-a".repeat(100).as_str(), START),
        ] {
            assert_eq!(reason(validate_network(name)), want, "network {name:?}");
            if name.len() <= 123 {
                assert_eq!(reason(validate_container_id(name)), want, "id {name:?}");
            }
        }
        assert!(validate_container_id(&"a".repeat(300)).is_ok());
        for (name, want) in [
            ("", "empty"),
            (".", IFLEN),
            ("..", IFLEN),
            ("a234567890123456", IFLEN),
            ("a23456789012345!", SET),
            ("-a", "ok"),
            ("@x", "ok"),
            ("a b", SET),
            ("a/b", SET),
            ("a:b", SET),
            ("a\0b", SET),
            ("é", START),
            (" a", START),
            ("!234567890123456", START),
            ("a\u{a0}", SET),
            ("...", "ok"),
        ] {
            let got = match validate_ifname("bridge name", name) {
                Ok(()) => "ok",
                r => reason(r),
            };
            assert_eq!(got, want, "ifname {name:?}");
        }
        let e = validate_ifname("bridge name", "a b")
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "invalid bridge name \"a b\": contains a character outside the allowed set"
        );
    }
}
