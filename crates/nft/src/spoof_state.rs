//! Per-port MAC spoof-check state: which host veth is checked against which MAC, kept in
//! `<state_dir>/<netns inode>-<netns cookie>/spoof-<fnv1a64(port) as 16 hex>` (the same name as
//! the port's chain in table `bridge cnm`), so a firewall reload can put the check back
//! (`restore`). The veth's interface index is recorded too: a link of the same name made later
//! by someone else (another index) is not mistaken for it. The content ends up in an nft
//! script, so it is re-validated on read.
//!
//! Format:
//! ```text
//! port <host veth>
//! ifindex <index, 0 when unknown>
//! mac <aa:bb:cc:dd:ee:ff>
//! ```

use std::path::Path;

use crate::error::NftError;
use crate::masq_state::{invalid, read_text, remove as remove_file, write_text};
use crate::spoof::{mac_text, port_chain, validate_port};

/// What is recorded for one checked port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpoofRecord {
    /// The host veth (bridge port).
    pub port: String,
    /// Its interface index when the check was made (0: unknown).
    pub ifindex: u32,
    /// The only source MAC allowed in.
    pub mac: [u8; 6],
}

/// The state file name of a port (its chain's name).
pub fn file_name(port: &str) -> String {
    port_chain(port)
}

fn parse_mac(text: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut parts = text.split(':');
    for b in &mut mac {
        let p = parts.next()?;
        if p.len() != 2 {
            return None;
        }
        *b = u8::from_str_radix(p, 16).ok()?;
    }
    parts.next().is_none().then_some(mac)
}

/// Parse and validate a state file's text.
pub fn parse(text: &str) -> Result<SpoofRecord, String> {
    let mut lines = text.lines();
    let mut field = |name: &str, n: usize| {
        let line = lines.next().unwrap_or_default();
        line.strip_prefix(name)
            .and_then(|r| r.strip_prefix(' '))
            .map(str::to_string)
            .ok_or_else(|| format!("line {n}: {line:?} is not `{name} ...`"))
    };
    let port = field("port", 1)?;
    let ifindex = field("ifindex", 2)?;
    let mac = field("mac", 3)?;
    validate_port(&port).map_err(|e| format!("line 1: {e}"))?;
    let ifindex = Some(ifindex.as_str())
        .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|t| t.parse::<u32>().ok())
        .ok_or_else(|| format!("line 2: {ifindex:?} is not an interface index"))?;
    let mac = parse_mac(&mac).ok_or_else(|| format!("line 3: {mac:?} is not a MAC address"))?;
    Ok(SpoofRecord { port, ifindex, mac })
}

/// The file text of a record.
pub fn render(r: &SpoofRecord) -> String {
    format!(
        "port {}\nifindex {}\nmac {}\n",
        r.port,
        r.ifindex,
        mac_text(&r.mac)
    )
}

/// The record in file `name`, None when there is none; invalid content is an error naming the
/// file, and so is a record whose port does not hash to `name`.
pub fn read_file(dir: &Path, name: &str) -> Result<Option<SpoofRecord>, NftError> {
    let Some(text) = read_text(dir, name)? else {
        return Ok(None);
    };
    let r = parse(&text).map_err(|msg| invalid(dir, name, msg))?;
    if file_name(&r.port) != name {
        return Err(invalid(
            dir,
            name,
            format!("port {:?} does not belong to this file", r.port),
        ));
    }
    Ok(Some(r))
}

/// Record a port's check (atomically, 0600 in a 0700 directory).
pub fn write(dir: &Path, r: &SpoofRecord) -> Result<(), NftError> {
    validate_port(&r.port)?;
    write_text(dir, &file_name(&r.port), &render(r))
}

/// Forget a port's check; a missing file is fine.
pub fn remove(dir: &Path, port: &str) -> Result<(), NftError> {
    remove_file(dir, &file_name(port))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    const MAC: [u8; 6] = [0x02, 0x42, 0x0a, 0, 0, 0x05];

    #[test]
    fn write_read_remove() {
        let t = tempfile::tempdir().unwrap();
        let r = SpoofRecord {
            port: "veth1234".into(),
            ifindex: 17,
            mac: MAC,
        };
        write(t.path(), &r).unwrap();
        let name = file_name("veth1234");
        assert!(name.starts_with("spoof-") && name.len() == 22, "{name}");
        assert_eq!(
            fs::read_to_string(t.path().join(&name)).unwrap(),
            "port veth1234\nifindex 17\nmac 02:42:0a:00:00:05\n"
        );
        assert_eq!(read_file(t.path(), &name).unwrap(), Some(r));
        remove(t.path(), "veth1234").unwrap();
        remove(t.path(), "veth1234").unwrap();
        assert_eq!(read_file(t.path(), &name).unwrap(), None);
    }

    #[test]
    fn rejects_garbage_and_foreign_files() {
        let t = tempfile::tempdir().unwrap();
        let name = file_name("veth1");
        for text in [
            "",
            "port veth1\n",
            "port veth1\nifindex x\nmac 02:42:0a:00:00:05\n",
            "port veth1\nifindex 1\nmac 02:42:0a:00:00\n",
            "port veth1\nifindex 1\nmac 02:42:0a:00:00:5\n",
            "port a\"b\nifindex 1\nmac 02:42:0a:00:00:05\n",
            "port veth2\nifindex 1\nmac 02:42:0a:00:00:05\n",
        ] {
            fs::write(t.path().join(&name), text).unwrap();
            let e = read_file(t.path(), &name).unwrap_err().to_string();
            assert!(e.contains(&name), "{text:?}: {e}");
        }
    }
}
