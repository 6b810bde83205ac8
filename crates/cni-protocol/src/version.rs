//! CNI spec versions: the supported list, parsing/comparison and the
//! `cniVersion` ∪ `cniVersions` selection rule of spec 1.1.0.

use std::fmt;
use std::str::FromStr;

use crate::error::CniError;

/// Every spec version this implementation reads and prints, oldest first.
pub const SUPPORTED_VERSIONS: &[&str] = &[
    "0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0",
];

/// The newest supported version (used when nothing else is known).
pub const CURRENT_VERSION: &str = "1.1.0";

/// A `major.minor.patch` spec version. `""` parses as 0.1.0 (like libcni).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
}

impl Version {
    pub const V0_1_0: Version = Version::new(0, 1, 0);
    pub const V0_3_0: Version = Version::new(0, 3, 0);
    pub const V0_4_0: Version = Version::new(0, 4, 0);
    pub const V1_0_0: Version = Version::new(1, 0, 0);
    pub const V1_1_0: Version = Version::new(1, 1, 0);

    pub const fn new(major: u64, minor: u64, patch: u64) -> Self {
        Version {
            major,
            minor,
            patch,
        }
    }

    /// `self >= other`; an unparsable `other` gives `false`.
    pub fn at_least(&self, other: &str) -> bool {
        other.parse::<Version>().is_ok_and(|o| *self >= o)
    }
}

impl FromStr for Version {
    type Err = CniError;

    /// `"x"`, `"x.y"` or `"x.y.z"` with decimal parts; `""` is 0.1.0.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() {
            return Ok(Version::V0_1_0);
        }
        let bad = || {
            CniError::incompatible_version(
                "invalid CNI version",
                format!("{s:?} is not of the form major.minor.patch"),
            )
        };
        let parts: Vec<&str> = s.split('.').collect();
        if parts.len() > 3 {
            return Err(bad());
        }
        let mut nums = [0u64; 3];
        for (slot, part) in nums.iter_mut().zip(&parts) {
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            *slot = part.parse().map_err(|_| bad())?;
        }
        Ok(Version::new(nums[0], nums[1], nums[2]))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// Whether `v` is exactly one of [`SUPPORTED_VERSIONS`] (`""` is not).
pub fn is_supported(v: &str) -> bool {
    SUPPORTED_VERSIONS.contains(&v)
}

/// `true` when `v` parses and is `>= min` (`""` counts as 0.1.0).
pub fn version_at_least(v: &str, min: &str) -> bool {
    v.parse::<Version>().is_ok_and(|v| v.at_least(min))
}

/// The error for a config version the plugin cannot serve (code 1), with
/// libcni's wording.
pub fn incompatible(config_version: &str) -> CniError {
    CniError::incompatible_version(
        "incompatible CNI versions",
        format!(
            "config is {config_version:?}, plugin supports [{}]",
            SUPPORTED_VERSIONS.join(" ")
        ),
    )
}

/// Picks the highest supported version of `cni_version` ∪ `cni_versions`
/// (spec 1.1.0 §Configuration format). An empty `cni_version` means 0.1.0.
/// Unsupported entries are ignored; if none is supported: code 1.
pub fn select_version(cni_version: &str, cni_versions: &[String]) -> Result<String, CniError> {
    let first = if cni_version.is_empty() {
        "0.1.0"
    } else {
        cni_version
    };
    let best = std::iter::once(first)
        .chain(cni_versions.iter().map(String::as_str))
        .filter(|v| is_supported(v))
        .filter_map(|v| v.parse::<Version>().ok().map(|p| (p, v)))
        .max_by_key(|(p, _)| *p);
    match best {
        Some((_, v)) => Ok(v.to_string()),
        None => {
            let mut all = vec![cni_version.to_string()];
            all.extend(cni_versions.iter().cloned());
            Err(CniError::incompatible_version(
                "incompatible CNI versions",
                format!(
                    "config offers {all:?}, plugin supports [{}]",
                    SUPPORTED_VERSIONS.join(" ")
                ),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::code;

    #[test]
    fn parse_forms() {
        assert_eq!("".parse::<Version>().unwrap(), Version::V0_1_0);
        assert_eq!("1".parse::<Version>().unwrap(), Version::new(1, 0, 0));
        assert_eq!("0.4".parse::<Version>().unwrap(), Version::new(0, 4, 0));
        assert_eq!("1.1.0".parse::<Version>().unwrap(), Version::V1_1_0);
        assert_eq!(
            "10.20.30".parse::<Version>().unwrap().to_string(),
            "10.20.30"
        );
        for bad in [
            "1.2.3.4",
            "a.b.c",
            "1..0",
            "1.0.",
            "-1.0.0",
            "1.0.0-rc1",
            " 1.0.0",
        ] {
            let e = bad.parse::<Version>().unwrap_err();
            assert_eq!(e.code, code::INCOMPATIBLE_VERSION, "{bad}");
        }
    }

    #[test]
    fn ordering_and_at_least() {
        let mut vs: Vec<Version> = SUPPORTED_VERSIONS
            .iter()
            .map(|v| v.parse().unwrap())
            .collect();
        let sorted = vs.clone();
        vs.reverse();
        vs.sort();
        assert_eq!(vs, sorted);
        assert!(Version::V1_1_0.at_least("1.0.0"));
        assert!(Version::V1_1_0.at_least("1.1.0"));
        assert!(!Version::V1_0_0.at_least("1.1.0"));
        assert!(!Version::V1_0_0.at_least("garbage"));
        assert!(version_at_least("0.4.0", "0.4.0"));
        assert!(!version_at_least("0.3.1", "0.4.0"));
        assert!(!version_at_least("", "0.2.0"));
        assert!("0.10.0".parse::<Version>().unwrap() > "0.9.0".parse().unwrap());
    }

    #[test]
    fn supported() {
        assert_eq!(SUPPORTED_VERSIONS.len(), 7);
        assert!(is_supported("0.3.1"));
        assert!(!is_supported("0.5.0"));
        assert!(!is_supported(""));
        assert!(!is_supported("1.1"));
    }

    #[test]
    fn select() {
        assert_eq!(select_version("1.0.0", &[]).unwrap(), "1.0.0");
        assert_eq!(select_version("", &[]).unwrap(), "0.1.0");
        let list = vec![
            "0.4.0".to_string(),
            "1.1.0".to_string(),
            "9.9.9".to_string(),
        ];
        assert_eq!(select_version("1.0.0", &list).unwrap(), "1.1.0");
        assert_eq!(
            select_version("2.0.0", &["0.3.1".to_string()]).unwrap(),
            "0.3.1"
        );
        let e = select_version("2.0.0", &["3.0.0".to_string()]).unwrap_err();
        assert_eq!(e.code, code::INCOMPATIBLE_VERSION);
        assert!(
            e.details.contains("2.0.0") && e.details.contains("1.1.0"),
            "{e}"
        );
    }

    #[test]
    fn incompatible_wording() {
        let e = incompatible("0.5.0");
        assert_eq!(e.code, 1);
        assert_eq!(e.msg, "incompatible CNI versions");
        assert!(e
            .details
            .starts_with("config is \"0.5.0\", plugin supports [0.1.0"));
    }
}
