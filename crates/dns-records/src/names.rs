//! The rules for the names the store accepts: container names, aliases and
//! domains. A name is what a client may type in a query, so it must fit in
//! the DNS wire format (labels of 1-63 bytes, at most 253 bytes in all) and
//! use a character set every stub resolver passes through: ASCII letters,
//! digits, `-` and `_` (Podman's container names allow `_` and `.`; a `.`
//! separates labels). Names are compared without regard to ASCII case.

/// Longest name in presentation form without the final dot (RFC 1035: 255
/// octets on the wire).
pub const MAX_NAME_LEN: usize = 253;
/// Longest label.
pub const MAX_LABEL_LEN: usize = 63;

/// Why a name is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// Empty.
    #[error("name is empty")]
    Empty,
    /// More than [`MAX_NAME_LEN`] bytes.
    #[error("name {0:?} is longer than 253 bytes")]
    TooLong(String),
    /// An empty label (`a..b`, a leading or trailing dot).
    #[error("name {0:?} has an empty label (leading, trailing or doubled dot)")]
    EmptyLabel(String),
    /// A label longer than [`MAX_LABEL_LEN`] bytes.
    #[error("name {name:?} has a label longer than 63 bytes: {label:?}")]
    LabelTooLong {
        /// The name.
        name: String,
        /// The label.
        label: String,
    },
    /// A character outside letters, digits, `-`, `_` and the dot.
    #[error("name {name:?} contains {ch:?}; names use letters, digits, '-', '_' and '.'")]
    BadChar {
        /// The name.
        name: String,
        /// The first character refused.
        ch: char,
    },
    /// A label starting with `-` (would read as an option to many tools).
    #[error("name {0:?} has a label starting with '-'")]
    LeadingHyphen(String),
}

/// Checks a container name, alias or domain.
pub fn validate_dns_name(name: &str) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if name.len() > MAX_NAME_LEN {
        return Err(NameError::TooLong(name.to_string()));
    }
    if let Some(ch) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(NameError::BadChar {
            name: name.to_string(),
            ch,
        });
    }
    for label in name.split('.') {
        if label.is_empty() {
            return Err(NameError::EmptyLabel(name.to_string()));
        }
        if label.len() > MAX_LABEL_LEN {
            return Err(NameError::LabelTooLong {
                name: name.to_string(),
                label: label.to_string(),
            });
        }
        if label.starts_with('-') {
            return Err(NameError::LeadingHyphen(name.to_string()));
        }
    }
    Ok(())
}

/// The form names are compared in: ASCII lowercase, no trailing dot.
pub fn normalize(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_container_names_and_domains() {
        for ok in [
            "web",
            "Web-1",
            "my_db",
            "a.b.c",
            "dns.podman",
            "x",
            "0day",
            &"a".repeat(63),
        ] {
            assert_eq!(validate_dns_name(ok), Ok(()), "{ok}");
        }
        let long = [
            "a".repeat(63),
            "b".repeat(63),
            "c".repeat(63),
            "d".repeat(61),
        ]
        .join(".");
        assert_eq!(long.len(), 253);
        assert_eq!(validate_dns_name(&long), Ok(()));
    }

    #[test]
    fn refuses_what_does_not_fit_the_wire_or_the_charset() {
        type Want = fn(&NameError) -> bool;
        let cases: &[(&str, Want)] = &[
            ("", |e| matches!(e, NameError::Empty)),
            ("a..b", |e| matches!(e, NameError::EmptyLabel(_))),
            (".a", |e| matches!(e, NameError::EmptyLabel(_))),
            ("a.", |e| matches!(e, NameError::EmptyLabel(_))),
            ("a b", |e| matches!(e, NameError::BadChar { ch: ' ', .. })),
            ("a/b", |e| matches!(e, NameError::BadChar { ch: '/', .. })),
            ("wéb", |e| matches!(e, NameError::BadChar { .. })),
            ("a\nb", |e| matches!(e, NameError::BadChar { .. })),
            ("-x", |e| matches!(e, NameError::LeadingHyphen(_))),
            ("a.-x", |e| matches!(e, NameError::LeadingHyphen(_))),
        ];
        for (bad, want) in cases {
            let e = validate_dns_name(bad).unwrap_err();
            assert!(want(&e), "{bad:?}: {e}");
        }
        let label = "a".repeat(64);
        assert!(matches!(
            validate_dns_name(&label),
            Err(NameError::LabelTooLong { .. })
        ));
        assert!(matches!(
            validate_dns_name(&format!("{}.x", "a.".repeat(127))),
            Err(NameError::TooLong(_))
        ));
    }

    #[test]
    fn normalize_lowercases_and_drops_the_root() {
        assert_eq!(normalize("WeB.Dns.Podman."), "web.dns.podman");
        assert_eq!(normalize("web"), "web");
    }
}
