//! The measured scenarios and the context they share.

pub mod burst;
pub mod cycles;
pub mod scale;

use std::path::{Path, PathBuf};

use crate::ns::{Mover, Namespaces};
use crate::side::{Net, Side};

/// Everything a scenario needs.
pub struct Ctx<'a> {
    pub ns: &'a mut Namespaces,
    pub mover: &'a Mover,
    /// ours first, reference second.
    pub sides: [&'a Side; 2],
    pub tmp: &'a Path,
    pub ip: &'a Path,
}

impl Ctx<'_> {
    /// A network for `side` in scenario `tag` with its own data directory.
    pub fn net(&self, side: &Side, tag: &str, ip_masq: bool) -> Net {
        let data_dir: PathBuf = self.tmp.join(format!("{tag}-{}", side.label()));
        Net {
            // A baseline side is ours too: its own name, so the two never
            // share masquerade state.
            name: match side.kind {
                crate::side::Kind::Baseline => format!("cnmb-{}-{tag}-b", std::process::id()),
                _ => format!("cnmb-{}-{tag}", std::process::id()),
            },
            bridge: "cnmb0".to_owned(),
            subnet: "10.88.0.0/16".to_owned(),
            ip_masq,
            data_dir,
        }
    }
}

/// Print progress to stderr every `every` steps.
pub fn progress(what: &str, i: usize, n: usize, every: usize) {
    if every > 0 && (i + 1).is_multiple_of(every) {
        eprintln!("  {what}: {}/{n}", i + 1);
    }
}
