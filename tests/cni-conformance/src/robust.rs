//! Helpers of the reliability and security tests (`tests/robust_*.rs`): what
//! an attachment can leave behind (our host veths, links in a namespace, the
//! `inet cnm` table, files in a store), and a small deterministic PRNG.

use crate::inspect::nft;
use crate::iproute::links;
use crate::ns::Netns;
use std::path::{Path, PathBuf};

/// True for the host veth names simplebridge derives: `veth` + 11 lowercase hex digits.
pub fn is_derived_veth(name: &str) -> bool {
    name.len() == 15
        && name.starts_with("veth")
        && name[4..]
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Host veths named like simplebridge's in `ns`.
pub fn derived_veths(ns: &Netns) -> Vec<String> {
    links(ns)
        .into_iter()
        .map(|l| l.ifname)
        .filter(|n| is_derived_veth(n))
        .collect()
}

/// Every link of `ns` except `lo`.
pub fn links_but_lo(ns: &Netns) -> Vec<String> {
    links(ns)
        .into_iter()
        .map(|l| l.ifname)
        .filter(|n| n != "lo")
        .collect()
}

/// `nft list table inet cnm` in `ns`; None when the table does not exist.
pub fn cnm_table(ns: &Netns) -> Option<String> {
    let out = nft(ns, &["list", "table", "inet", "cnm"]);
    (out.code == 0).then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Names of the `masq-*` chains of table `inet cnm` in `ns`.
pub fn masq_chains(ns: &Netns) -> Vec<String> {
    cnm_table(ns)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().strip_prefix("chain "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.starts_with("masq-"))
        .map(str::to_owned)
        .collect()
}

/// Every entry under `dir` (recursively, symlinks listed but not followed), sorted.
pub fn tree(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                todo.push(p.clone());
            }
            out.push(p);
        }
    }
    out.sort();
    out
}

/// Xorshift64*: a deterministic PRNG (no external crate), seedable per worker.
#[derive(Debug, Clone)]
pub struct XorShift(u64);

impl XorShift {
    pub fn new(seed: u64) -> XorShift {
        XorShift(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform-ish in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
}
