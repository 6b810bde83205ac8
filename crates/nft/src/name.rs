//! Validation of every name that ends up inside an nft script, and the stable names derived from them.

use crate::error::NftError;

/// Longest comment nft stores (NFTNL_UDATA_COMMENT_MAXLEN is 128 including the NUL).
pub const MAX_COMMENT: usize = 127;

/// FNV-1a 64-bit hash (stable across versions and platforms).
pub fn fnv1a64(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in data {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Name of the per-network masquerade chain: `masq-<fnv1a64(network) as 16 hex>`.
pub fn masq_chain(network: &str) -> String {
    format!("masq-{:016x}", fnv1a64(network.as_bytes()))
}

/// Comment carried by the masquerade rule of a network.
pub fn masq_comment(network: &str) -> String {
    format!("cnm:{network}")
}

fn check_chars(
    what: &'static str,
    value: &str,
    first_ok: fn(u8) -> bool,
    rest_ok: fn(u8) -> bool,
) -> Result<(), NftError> {
    let bad = |reason| NftError::InvalidName {
        what,
        value: value.to_string(),
        reason,
    };
    let bytes = value.as_bytes();
    let Some(first) = bytes.first() else {
        return Err(bad("empty"));
    };
    if !first_ok(*first) {
        return Err(bad("must start with a letter or digit"));
    }
    if !bytes.iter().all(|b| rest_ok(*b)) {
        return Err(bad("contains a character outside the allowed set"));
    }
    Ok(())
}

fn id_rest(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-')
}

/// Network names: `[a-zA-Z0-9][a-zA-Z0-9_.-]*`, and short enough for the rule comment.
pub fn validate_network(name: &str) -> Result<(), NftError> {
    check_chars("network name", name, |b| b.is_ascii_alphanumeric(), id_rest)?;
    if masq_comment(name).len() > MAX_COMMENT {
        return Err(NftError::InvalidName {
            what: "network name",
            value: name.to_string(),
            reason: "too long for an nft comment (max 123 bytes)",
        });
    }
    Ok(())
}

/// Container ids: the CNI rule `[a-zA-Z0-9][a-zA-Z0-9_.-]*`.
pub fn validate_container_id(id: &str) -> Result<(), NftError> {
    check_chars("container id", id, |b| b.is_ascii_alphanumeric(), id_rest)
}

/// Interface names (bridge or container side): 1..=15 bytes of `[a-zA-Z0-9_.@+-]`, not `.`/`..`.
pub fn validate_ifname(what: &'static str, name: &str) -> Result<(), NftError> {
    check_chars(
        what,
        name,
        |b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'@' | b'+' | b'-'),
        |b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'@' | b'+' | b'-'),
    )?;
    if name.len() > 15 || name == "." || name == ".." {
        return Err(NftError::InvalidName {
            what,
            value: name.to_string(),
            reason: "must be 1..15 bytes and not . or ..",
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_known_vectors() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
        assert_eq!(masq_chain("a"), "masq-af63dc4c8601ec8c");
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
}
