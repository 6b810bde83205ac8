//! `CNI_ARGS` (`K=V;K=V`) parsing with libcni's `IgnoreUnknown` rule
//! (`pkg/types/args.go` `LoadArgs`).

use crate::error::CniError;

/// The key that lets a runtime pass keys a plugin does not know.
pub const IGNORE_UNKNOWN: &str = "IgnoreUnknown";

/// How strictly [`split_pairs`] reads `KEY=VALUE;KEY=VALUE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgsSyntax {
    /// A plugin reading CNI_ARGS (libcni's `LoadArgs`): empty segments are
    /// skipped, values may be empty.
    Plugin,
    /// cnitool setting CNI_ARGS: every segment is `KEY=VALUE` with both
    /// parts non-empty.
    Cnitool,
}

/// The `KEY=VALUE` segment [`split_pairs`] refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid pair {0:?}")]
pub struct BadPair(pub String);

/// Split `KEY=VALUE;KEY=VALUE` (exactly one `=` per pair, keys non-empty):
/// the one home of CNI_ARGS splitting, for plugins and for cnitool.
pub fn split_pairs(s: &str, syntax: ArgsSyntax) -> Result<Vec<(String, String)>, BadPair> {
    let mut pairs = Vec::new();
    if s.is_empty() {
        return Ok(pairs);
    }
    for pair in s.split(';') {
        if pair.is_empty() && syntax == ArgsSyntax::Plugin {
            continue;
        }
        let mut parts = pair.split('=');
        match (parts.next(), parts.next(), parts.next()) {
            (Some(k), Some(v), None)
                if !k.is_empty() && (syntax == ArgsSyntax::Plugin || !v.is_empty()) =>
            {
                pairs.push((k.to_string(), v.to_string()))
            }
            _ => return Err(BadPair(pair.to_string())),
        }
    }
    Ok(pairs)
}

/// Parsed `CNI_ARGS`, in their original order. Keys are case-sensitive.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CniArgs {
    pairs: Vec<(String, String)>,
}

impl CniArgs {
    /// Splits on `;`; each pair must split on `=` into exactly two parts
    /// (so values cannot contain `=`), else code 4 `ARGS: invalid pair`.
    /// Empty segments (`A=1;;B=2`, a trailing `;`) are skipped.
    pub fn parse(s: &str) -> Result<CniArgs, CniError> {
        let pairs = split_pairs(s, ArgsSyntax::Plugin).map_err(|BadPair(pair)| {
            CniError::invalid_env(
                format!("ARGS: invalid pair {pair:?}"),
                format!("CNI_ARGS={s:?}: every pair must be KEY=VALUE with exactly one '='"),
            )
        })?;
        Ok(CniArgs { pairs })
    }

    /// The value of `key` (the last one when repeated, like libcni).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// All pairs in order.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }

    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// `IgnoreUnknown` is `1` or `true` (case-insensitive).
    pub fn ignore_unknown(&self) -> bool {
        self.get(IGNORE_UNKNOWN)
            .is_some_and(|v| v == "1" || v.eq_ignore_ascii_case("true"))
    }

    /// Code 4 `ARGS: unknown args [...]` if a key is neither in `known` nor
    /// `IgnoreUnknown`, unless `IgnoreUnknown` is set.
    pub fn check_known(&self, known: &[&str]) -> Result<(), CniError> {
        if self.ignore_unknown() {
            return Ok(());
        }
        let unknown: Vec<&str> = self
            .pairs
            .iter()
            .map(|(k, _)| k.as_str())
            .filter(|k| *k != IGNORE_UNKNOWN && !known.contains(k))
            .collect();
        if unknown.is_empty() {
            Ok(())
        } else {
            Err(CniError::invalid_env(
                format!("ARGS: unknown args {unknown:?}"),
                format!("CNI_ARGS keys this plugin understands: {known:?}; set IgnoreUnknown=1 to pass others"),
            ))
        }
    }

    /// The `K=V;K=V` form, as passed on to delegated plugins.
    pub fn to_env_string(&self) -> String {
        self.pairs
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(";")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::code;

    #[test]
    fn parse_and_get() {
        let a = CniArgs::parse("IgnoreUnknown=1;K8S_POD_NAME=web-0;IP=10.0.0.5/24").unwrap();
        assert_eq!(a.get("K8S_POD_NAME"), Some("web-0"));
        assert_eq!(a.get("IP"), Some("10.0.0.5/24"));
        assert_eq!(a.get("ip"), None, "keys are case-sensitive");
        assert_eq!(a.pairs().len(), 3);
        assert_eq!(
            a.to_env_string(),
            "IgnoreUnknown=1;K8S_POD_NAME=web-0;IP=10.0.0.5/24"
        );
    }

    #[test]
    fn empty_and_empty_segments() {
        assert!(CniArgs::parse("").unwrap().is_empty());
        let a = CniArgs::parse("A=1;;B=;").unwrap();
        assert_eq!(a.get("A"), Some("1"));
        assert_eq!(a.get("B"), Some(""));
        assert_eq!(a.pairs().len(), 2);
    }

    #[test]
    fn last_value_wins() {
        let a = CniArgs::parse("A=1;A=2").unwrap();
        assert_eq!(a.get("A"), Some("2"));
    }

    #[test]
    fn invalid_pairs_are_code_4() {
        for bad in ["A", "A=1=2", "=1", "A=1;B", "MAC=aa=bb"] {
            let e = CniArgs::parse(bad).unwrap_err();
            assert_eq!(e.code, code::INVALID_ENV, "{bad}");
            assert!(e.msg.starts_with("ARGS: invalid pair"), "{bad}: {e}");
        }
    }

    #[test]
    fn ignore_unknown_values() {
        for (s, want) in [
            ("IgnoreUnknown=1", true),
            ("IgnoreUnknown=true", true),
            ("IgnoreUnknown=TRUE", true),
            ("IgnoreUnknown=0", false),
            ("IgnoreUnknown=yes", false),
            ("ignoreunknown=1", false),
            ("", false),
        ] {
            assert_eq!(CniArgs::parse(s).unwrap().ignore_unknown(), want, "{s}");
        }
    }

    #[test]
    fn check_known_rules() {
        let a = CniArgs::parse("IP=10.0.0.5;FOO=1;BAR=2").unwrap();
        let e = a.check_known(&["IP"]).unwrap_err();
        assert_eq!(e.code, code::INVALID_ENV);
        assert_eq!(e.msg, r#"ARGS: unknown args ["FOO", "BAR"]"#);
        assert!(a.check_known(&["IP", "FOO", "BAR"]).is_ok());
        let a = CniArgs::parse("IgnoreUnknown=1;FOO=1").unwrap();
        assert!(a.check_known(&[]).is_ok());
        // IgnoreUnknown=0 is itself a known key but does not ignore.
        let a = CniArgs::parse("IgnoreUnknown=0").unwrap();
        assert!(a.check_known(&[]).is_ok());
        let a = CniArgs::parse("IgnoreUnknown=0;X=1").unwrap();
        assert!(a.check_known(&[]).is_err());
    }
}
