//! Per-owner port-mapping state: the exact elements an owner's ADD installed (keys and map
//! values), kept in `<state_dir>/<netns inode>-<netns cookie>/pm-<fnv1a64(owner tag) as 16 hex>`
//! together with the kernel handle of table `inet cnm` at that time, so DEL can delete exactly
//! those elements in one batch without listing the table first, and a firewall reload can put
//! them back (`restore`). The content ends up in an nft script, so every line is re-validated
//! on read and every key and value is parsed and re-rendered from typed values.
//!
//! Format (one item per line; files of older versions have no ` : <value>`, and their owners
//! are not restored):
//! ```text
//! owner <network,container id,ifname>
//! table <handle>
//! elem <set> <key>[ : <value>]
//! ```

use std::fmt::Write as _;
use std::fs;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use ipnet::IpNet;

use crate::error::NftError;
use crate::masq_state::{invalid, read_text, remove as remove_file, write_text};
use crate::name::fnv1a64;
use crate::portmap::{Owner, Protocol};

/// Prefix of every port-mapping state file name.
const PREFIX: &str = "pm-";

/// One recorded element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PmElem {
    /// Set or map name.
    pub set: String,
    /// The key in canonical form.
    pub key: String,
    /// The map value in canonical form (`addr . port`); None for set elements, and for map
    /// elements recorded by older versions.
    pub value: Option<String>,
}

/// What an owner's last ADD installed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PmState {
    /// The owner tag (`network,container id,ifname`).
    pub tag: String,
    /// Kernel handle of table `inet cnm` right after the ADD.
    pub table: u64,
    /// Every element the owner installed.
    pub elems: Vec<PmElem>,
}

impl PmState {
    /// (set, key) of every element, for the delete batch.
    pub fn keys(&self) -> Vec<(String, String)> {
        self.elems
            .iter()
            .map(|e| (e.set.clone(), e.key.clone()))
            .collect()
    }

    /// True when every map element carries its value (so the owner can be restored).
    pub fn complete(&self) -> bool {
        self.elems
            .iter()
            .all(|e| is_map(&e.set) == e.value.is_some())
    }
}

/// True for the sets that are maps (their elements have values).
pub fn is_map(set: &str) -> bool {
    matches!(set, "pm4" | "pm4any" | "pm6" | "pm6any")
}

/// The state file name of an owner tag.
pub fn file_name(tag: &str) -> String {
    format!("{PREFIX}{:016x}", fnv1a64(&[tag.as_bytes()]))
}

fn port(text: &str) -> Option<String> {
    // Digits only: `u16::from_str` would also take a leading '+'.
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<u16>()
        .ok()
        .filter(|p| *p != 0)
        .map(|p| p.to_string())
}

fn protocol(text: &str) -> Option<String> {
    let p = match text {
        "tcp" => Protocol::Tcp,
        "udp" => Protocol::Udp,
        "sctp" => Protocol::Sctp,
        _ => return None,
    };
    Some(p.name().to_string())
}

fn v4(text: &str) -> Option<String> {
    text.parse::<Ipv4Addr>().ok().map(|a| a.to_string())
}

fn v6(text: &str) -> Option<String> {
    text.parse::<Ipv6Addr>().ok().map(|a| a.to_string())
}

/// A SNAT source: an address or a prefix (with no host bits) of the given family.
fn source(text: &str, want_v4: bool) -> Option<String> {
    if text.contains('/') {
        let net: IpNet = text.parse().ok()?;
        (net.trunc() == net && matches!(net, IpNet::V4(_)) == want_v4).then(|| net.to_string())
    } else {
        let addr: IpAddr = text.parse().ok()?;
        (addr.is_ipv4() == want_v4).then(|| addr.to_string())
    }
}

/// The key re-rendered from typed values when it fits `set`'s type; None otherwise.
pub fn canonical_key(set: &str, key: &str) -> Option<String> {
    let parts: Vec<&str> = key.split(" . ").collect();
    let rendered: Vec<String> = match (set, parts.as_slice()) {
        ("pm4any" | "pm6any", [proto, p]) => vec![protocol(proto)?, port(p)?],
        ("pm4", [addr, proto, p]) => vec![v4(addr)?, protocol(proto)?, port(p)?],
        ("pm6", [addr, proto, p]) => vec![v6(addr)?, protocol(proto)?, port(p)?],
        ("pmsnat4", [src, dst]) => vec![source(src, true)?, v4(dst)?],
        ("pmsnat6", [src, dst]) => vec![source(src, false)?, v6(dst)?],
        _ => return None,
    };
    Some(rendered.join(" . "))
}

/// The value re-rendered from typed values when it fits map `set`'s type; None otherwise.
pub fn canonical_value(set: &str, value: &str) -> Option<String> {
    let parts: Vec<&str> = value.split(" . ").collect();
    let rendered = match (set, parts.as_slice()) {
        ("pm4" | "pm4any", [addr, p]) => [v4(addr)?, port(p)?],
        ("pm6" | "pm6any", [addr, p]) => [v6(addr)?, port(p)?],
        _ => return None,
    };
    Some(rendered.join(" . "))
}

/// The file text of a state.
pub fn render(state: &PmState) -> String {
    let mut s = format!("owner {}\ntable {}\n", state.tag, state.table);
    for e in &state.elems {
        match &e.value {
            Some(v) => {
                let _ = writeln!(s, "elem {} {} : {v}", e.set, e.key);
            }
            None => {
                let _ = writeln!(s, "elem {} {}", e.set, e.key);
            }
        }
    }
    s
}

/// Parse and validate a state file's text.
pub fn parse(text: &str) -> Result<PmState, String> {
    let mut lines = text.lines().enumerate();
    let tag = match lines.next() {
        Some((_, line)) => line
            .strip_prefix("owner ")
            .filter(|t| Owner::from_tag(t).is_some())
            .ok_or_else(|| format!("line 1: {line:?} is not `owner <network,container,ifname>`"))?,
        None => return Err("empty file".into()),
    };
    let table = match lines.next() {
        Some((_, line)) => line
            .strip_prefix("table ")
            .filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|h| h.parse::<u64>().ok())
            .ok_or_else(|| format!("line 2: {line:?} is not `table <handle>`"))?,
        None => return Err("line 2: the table handle is missing".into()),
    };
    let mut elems = Vec::new();
    for (i, line) in lines {
        let bad = || format!("line {}: {line:?} is not `elem <set> <key>`", i + 1);
        let rest = line.strip_prefix("elem ").ok_or_else(bad)?;
        let (set, rest) = rest.split_once(' ').ok_or_else(bad)?;
        let (key, value) = match rest.split_once(" : ") {
            Some((k, v)) if is_map(set) => (k, Some(canonical_value(set, v).ok_or_else(bad)?)),
            Some(_) => return Err(bad()),
            None => (rest, None),
        };
        let key = canonical_key(set, key).ok_or_else(bad)?;
        elems.push(PmElem {
            set: set.to_string(),
            key,
            value,
        });
    }
    Ok(PmState {
        tag: tag.to_string(),
        table,
        elems,
    })
}

/// The owner's state in `dir`; None when there is no file, or when the file belongs to another
/// owner (a hash collision). Invalid content is an error naming the file.
pub fn read(dir: &Path, tag: &str) -> Result<Option<PmState>, NftError> {
    let name = file_name(tag);
    let Some(text) = read_text(dir, &name)? else {
        return Ok(None);
    };
    let state = parse(&text).map_err(|msg| invalid(dir, &name, msg))?;
    Ok((state.tag == tag).then_some(state))
}

/// Record the owner's state (atomically, 0600 in a 0700 directory). Every key must already be
/// canonical (as [`canonical_key`] renders it), else nothing is written.
pub fn write(dir: &Path, state: &PmState) -> Result<(), NftError> {
    let name = file_name(&state.tag);
    for e in &state.elems {
        let value_ok = match &e.value {
            Some(v) => canonical_value(&e.set, v).as_deref() == Some(v.as_str()),
            None => !is_map(&e.set),
        };
        if canonical_key(&e.set, &e.key).as_deref() != Some(e.key.as_str()) || !value_ok {
            return Err(invalid(
                dir,
                &name,
                format!(
                    "refusing to record element {} {{ {} }} : {:?}",
                    e.set, e.key, e.value
                ),
            ));
        }
    }
    write_text(dir, &name, &render(state))
}

/// Forget the owner's state; a missing file is fine.
pub fn remove(dir: &Path, tag: &str) -> Result<(), NftError> {
    remove_file(dir, &file_name(tag))
}

/// Every port-mapping state file in `dir` with its owner (None when unreadable or invalid).
pub fn list(dir: &Path) -> Result<Vec<(PathBuf, Option<Owner>)>, NftError> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(NftError::State {
                path: dir.to_path_buf(),
                source,
            })
        }
    };
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if !name.starts_with(PREFIX) {
            continue;
        }
        let owner = read_text(dir, name)
            .ok()
            .flatten()
            .and_then(|t| parse(&t).ok())
            .filter(|s| file_name(&s.tag) == name)
            .and_then(|s| Owner::from_tag(&s.tag));
        out.push((entry.path(), owner));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn elem(set: &str, key: &str, value: Option<&str>) -> PmElem {
        PmElem {
            set: set.into(),
            key: key.into(),
            value: value.map(str::to_string),
        }
    }

    fn state(tag: &str) -> PmState {
        PmState {
            tag: tag.into(),
            table: 7,
            elems: vec![
                elem("pm4any", "tcp . 8080", Some("10.1.0.5 . 80")),
                elem("pm4", "192.168.1.1 . udp . 53", Some("10.1.0.5 . 53")),
                elem("pm6", "fd00::1 . sctp . 9", Some("fd00::5 . 9")),
                elem("pm6any", "udp . 1", Some("fd00::5 . 1")),
                elem("pmsnat4", "10.1.0.0/24 . 10.1.0.5", None),
                elem("pmsnat4", "127.0.0.0/8 . 10.1.0.5", None),
                elem("pmsnat6", "fd00::/64 . fd00::5", None),
            ],
        }
    }

    #[test]
    fn write_read_remove_with_modes() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("4026531840");
        assert_eq!(read(&dir, "n,c,eth0").unwrap(), None);
        let s = state("n,c,eth0");
        write(&dir, &s).unwrap();
        assert_eq!(read(&dir, "n,c,eth0").unwrap(), Some(s.clone()));
        let path = dir.join(file_name("n,c,eth0"));
        assert!(
            path.ends_with("pm-2ba7970c34a34111")
                && path.ends_with(format!("pm-{:016x}", fnv1a64(&[b"n,c,eth0"]))),
            "{path:?}"
        );
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&path), 0o600);
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1, "no temporary files");
        let owners: Vec<_> = list(&dir).unwrap().into_iter().map(|x| x.1).collect();
        assert_eq!(owners, [Owner::from_tag("n,c,eth0")]);
        // Another owner does not see this file (and a foreign tag is not read as ours).
        assert_eq!(read(&dir, "n,d,eth0").unwrap(), None);
        remove(&dir, "n,c,eth0").unwrap();
        remove(&dir, "n,c,eth0").unwrap();
        assert_eq!(read(&dir, "n,c,eth0").unwrap(), None);
    }

    #[test]
    fn keys_are_validated_and_rerendered() {
        assert_eq!(canonical_key("pm4any", "tcp . 8080").unwrap(), "tcp . 8080");
        assert_eq!(
            canonical_key("pm6", "FD00:0::1 . udp . 53").unwrap(),
            "fd00::1 . udp . 53"
        );
        for (set, key) in [
            ("pm4any", "tcp . +80"),
            ("pm4any", "tcp . 0"),
            ("pm4any", "tcp . 65536"),
            ("pm4any", "icmp . 1"),
            (
                "pm4any",
                "tcp . 80 }; flush ruleset; add element inet cnm pm4any { tcp . 81",
            ),
            ("pm4", "fd00::1 . tcp . 80"),
            ("pm6", "10.0.0.1 . tcp . 80"),
            ("pm6any", "tcp . 80 . 1"),
            ("pmsnat4", "10.1.0.5/24 . 10.1.0.5"),
            ("pmsnat4", "fd00::/64 . 10.1.0.5"),
            ("pmsnat6", "fd00::/64 . 10.1.0.5"),
            ("masq4", "10.0.0.0/8"),
            ("pm4any", ""),
        ] {
            assert_eq!(canonical_key(set, key), None, "{set} {key}");
        }
    }

    #[test]
    fn rejects_symlink_garbage_and_bad_writes() {
        let t = tempfile::tempdir().unwrap();
        let t = (t.path().to_path_buf(), t);
        let name = file_name("n,c,eth0");
        std::os::unix::fs::symlink("/etc/hostname", t.0.join(&name)).unwrap();
        let e = read(&t.0, "n,c,eth0").unwrap_err().to_string();
        assert!(e.contains(&name), "{e}");
        fs::remove_file(t.0.join(&name)).unwrap();
        for (text, want) in [
            ("", "empty"),
            ("owner n,c\ntable 1\n", "line 1"),
            ("owner n,c,eth0\ntable x\n", "line 2"),
            ("owner n,c,eth0\n", "line 2"),
            (
                "owner n,c,eth0\ntable 1\nelem pm4any tcp . 80 }\n",
                "line 3",
            ),
            ("owner n,c,eth0\ntable 1\nelem pm4any\n", "line 3"),
        ] {
            fs::write(t.0.join(&name), text).unwrap();
            let e = read(&t.0, "n,c,eth0").unwrap_err().to_string();
            assert!(e.contains(&name) && e.contains(want), "{text:?}: {e}");
        }
        let mut s = state("n,c,eth0");
        s.elems
            .push(elem("pm4any", "tcp . 080", Some("10.1.0.5 . 80")));
        assert!(write(&t.0, &s).is_err(), "non-canonical keys are refused");
        let mut s = state("n,c,eth0");
        s.elems
            .push(elem("pm4any", "tcp . 81", Some("10.1.0.5 . 080")));
        assert!(write(&t.0, &s).is_err(), "non-canonical values are refused");
        let mut s = state("n,c,eth0");
        s.elems.push(elem(
            "pmsnat4",
            "10.1.0.0/24 . 10.1.0.5",
            Some("10.1.0.5 . 1"),
        ));
        assert!(write(&t.0, &s).is_err(), "set elements have no value");
        let owners: Vec<_> = list(&t.0).unwrap().into_iter().map(|x| x.1).collect();
        assert_eq!(owners, [None], "an invalid file is listed without owner");
    }

    #[test]
    fn render_parse_roundtrip() {
        let s = state("n,c,eth0");
        let text = render(&s);
        assert!(
            text.starts_with("owner n,c,eth0\ntable 7\nelem pm4any tcp . 8080 : 10.1.0.5 . 80\n")
        );
        assert_eq!(parse(&text).unwrap(), s);
        assert!(s.complete());
    }

    #[test]
    fn older_records_without_values_parse_but_are_incomplete() {
        let s = parse("owner n,c,eth0\ntable 3\nelem pm4any tcp . 8080\nelem pmsnat4 10.1.0.0/24 . 10.1.0.5\n").unwrap();
        assert_eq!(s.elems[0], elem("pm4any", "tcp . 8080", None));
        assert!(!s.complete());
        assert_eq!(
            s.keys()[1],
            ("pmsnat4".to_string(), "10.1.0.0/24 . 10.1.0.5".to_string())
        );
        for bad in [
            "owner n,c,eth0\ntable 3\nelem pm4any tcp . 8080 : fd00::1 . 80\n",
            "owner n,c,eth0\ntable 3\nelem pm4any tcp . 8080 : 10.0.0.1 . 80 }; flush ruleset\n",
            "owner n,c,eth0\ntable 3\nelem pmsnat4 10.1.0.0/24 . 10.1.0.5 : 10.0.0.1 . 1\n",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
