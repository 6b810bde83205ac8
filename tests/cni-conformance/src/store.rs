//! Inspecting a host-local `dataDir`: reservation files `<dataDir>/<net>/<ip>`
//! holding `<containerID>\r\n<ifname>`, plus `lock` and `last_reserved_ip.<N>`.

use std::path::Path;

/// One reservation file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    /// File name: the IP address.
    pub ip: String,
    /// Raw content.
    pub content: Vec<u8>,
}

/// True for the store's bookkeeping files (not reservations).
pub fn is_bookkeeping(name: &str) -> bool {
    name == "lock" || name.starts_with("last_reserved_ip")
}

/// Reservation files of network `net` in `data_dir`, sorted by name. A missing
/// directory means no reservations.
pub fn reservations(data_dir: &Path, net: &str) -> Vec<Reservation> {
    let dir = data_dir.join(net);
    let Ok(rd) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut out: Vec<Reservation> = rd
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            if is_bookkeeping(&name) {
                return None;
            }
            let content = std::fs::read(e.path()).unwrap_or_default();
            Some(Reservation { ip: name, content })
        })
        .collect();
    out.sort_by(|a, b| a.ip.cmp(&b.ip));
    out
}

/// Every file name (bookkeeping included) in `<data_dir>/<net>`, sorted.
pub fn all_files(data_dir: &Path, net: &str) -> Vec<String> {
    let Ok(rd) = std::fs::read_dir(data_dir.join(net)) else {
        return Vec::new();
    };
    let mut v: Vec<String> = rd
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Content of `last_reserved_ip.<idx>`, if present.
pub fn last_reserved(data_dir: &Path, net: &str, idx: usize) -> Option<String> {
    std::fs::read_to_string(data_dir.join(net).join(format!("last_reserved_ip.{idx}"))).ok()
}

/// The byte-exact content host-local writes: `<id>\r\n<ifname>`.
pub fn expected_content(id: &str, ifname: &str) -> Vec<u8> {
    format!("{id}\r\n{ifname}").into_bytes()
}
