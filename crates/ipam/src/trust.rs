//! When the index may be trusted: `<dataDir>/.cnm-index/<network>/state` says
//! "every reservation of the network is indexed", and records what the store
//! looked like after our last write: the network directory's inode and mtime,
//! and a fingerprint (inode, mtime, content) of each `last_reserved_ip.<set>`.
//!
//! Every ADD rewrites `last_reserved_ip` of every range set it allocates from,
//! in the reference too. So an ADD by another implementation (the reference
//! binary, an older cnm) changes a fingerprint and the index is no longer
//! trusted: ADD, DEL and CHECK then scan the store, and the next ADD (or GC)
//! re-indexes everything and records new fingerprints. Any other change of the
//! file list (a DEL by the reference, a file written by hand) changes the
//! directory's mtime, which has the same effect. Our own ADD and DEL record
//! the new fingerprint after their last change. Limit: mtimes are kernel-tick
//! coarse, so a foreign change within the same tick as our last one (a few ms)
//! that also leaves every cursor as it was goes unnoticed. Index entries are
//! checked against reservation files in any case.
//! An ADD removes `state` before reserving and writes it back when done, so a
//! crash in between leaves the index untrusted.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::MetadataExt;

use nix::fcntl::OFlag;
use nix::sys::stat::{fstat, Mode};

use crate::fsio::openat;
use crate::index::IndexDir;
pub use crate::store::Cursor;
use crate::store::{Locked, LAST_IP_PREFIX};

/// Name of the state file in the index directory.
pub const STATE_FILE: &str = "state";
const STATE_MAGIC: &str = "cnm-index-state 1";

/// The recorded store fingerprint.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct State {
    /// Inode and mtime (seconds, nanoseconds) of the network directory.
    pub dir: (u64, i64, i64),
    pub cursors: Vec<(usize, Cursor)>,
}

impl State {
    pub fn encode(&self) -> String {
        let (ino, sec, nsec) = self.dir;
        let mut s = format!("{STATE_MAGIC}\ndir {ino} {sec} {nsec}\n");
        for (set, c) in &self.cursors {
            match c {
                Cursor::Absent | Cursor::Unreadable => {
                    s.push_str(&format!("cursor {set} absent\n"))
                }
                Cursor::Present {
                    ino,
                    mtime,
                    content,
                } => {
                    let hex: String = content.iter().map(|b| format!("{b:02x}")).collect();
                    s.push_str(&format!(
                        "cursor {set} {ino} {} {} {hex}\n",
                        mtime.0, mtime.1
                    ));
                }
            }
        }
        s
    }

    pub fn parse(content: &[u8]) -> Option<State> {
        let text = std::str::from_utf8(content).ok()?;
        let mut lines = text.lines();
        if lines.next()? != STATE_MAGIC {
            return None;
        }
        let dir = match lines.next()?.split(' ').collect::<Vec<_>>().as_slice() {
            ["dir", ino, sec, nsec] => (ino.parse().ok()?, sec.parse().ok()?, nsec.parse().ok()?),
            _ => return None,
        };
        let mut cursors = Vec::new();
        for l in lines {
            let f: Vec<&str> = l.split(' ').collect();
            let set: usize = match f.as_slice() {
                ["cursor", set, ..] => set.parse().ok()?,
                _ => return None,
            };
            let c = match f.as_slice() {
                [_, _, "absent"] => Cursor::Absent,
                [_, _, ino, s, ns, hex] => Cursor::Present {
                    ino: ino.parse().ok()?,
                    mtime: (s.parse().ok()?, ns.parse().ok()?),
                    content: crate::index::unhex(hex)?,
                },
                _ => return None,
            };
            cursors.push((set, c));
        }
        Some(State { dir, cursors })
    }

    /// The sets recorded here plus `more`, sorted and deduplicated.
    fn sets(&self, more: &[usize]) -> Vec<usize> {
        let mut v: Vec<usize> = self
            .cursors
            .iter()
            .map(|(s, _)| *s)
            .chain(more.iter().copied())
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }
}

impl Locked<'_> {
    /// The current fingerprint of `last_reserved_ip.<set>` (read once per
    /// lock, see [`Locked::cursors`]).
    pub fn cursor(&self, set: usize) -> Cursor {
        if let Some(c) = self.cursors_mut().get(&set) {
            return c.clone();
        }
        let c = self.read_cursor(set);
        if c != Cursor::Unreadable {
            self.cursors_mut().insert(set, c.clone());
        }
        c
    }

    fn read_cursor(&self, set: usize) -> Cursor {
        let fd = match openat(
            self.dir(),
            format!("{LAST_IP_PREFIX}{set}").as_str(),
            OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC | OFlag::O_NONBLOCK,
            Mode::empty(),
        ) {
            Ok(fd) => fd,
            Err(nix::errno::Errno::ENOENT) => return Cursor::Absent,
            Err(_) => return Cursor::Unreadable,
        };
        let file = File::from(fd);
        let Ok(m) = file.metadata() else {
            return Cursor::Unreadable;
        };
        if !m.is_file() {
            return Cursor::Unreadable;
        }
        let mut content = Vec::new();
        if file.take(256).read_to_end(&mut content).is_err() {
            return Cursor::Unreadable;
        }
        Cursor::Present {
            ino: m.ino(),
            mtime: (m.mtime(), m.mtime_nsec()),
            content,
        }
    }

    fn dir_print(&self) -> Option<(u64, i64, i64)> {
        fstat(self.dir())
            .ok()
            .map(|st| (st.st_ino, st.st_mtime, st.st_mtime_nsec))
    }

    /// Whether the index in `idx` lists every reservation: its state is present
    /// and the store still looks as we left it (recorded cursors and `sets`).
    /// `Some(recorded sets)` when trusted.
    pub fn index_trusted(&self, idx: &IndexDir, sets: &[usize]) -> Option<Vec<usize>> {
        let state = idx
            .read(STATE_FILE)
            .ok()
            .flatten()
            .and_then(|c| State::parse(&c))?;
        if self.dir_print() != Some(state.dir) {
            return None;
        }
        let same = state.sets(sets).into_iter().all(|set| {
            let want = state
                .cursors
                .iter()
                .find(|(s, _)| *s == set)
                .map_or(Cursor::Absent, |(_, c)| c.clone());
            let now = self.cursor(set);
            now != Cursor::Unreadable && now == want
        });
        same.then(|| state.sets(&[]))
    }

    /// Records that the index is complete for the store as it is now; the
    /// cursors of the previously recorded sets and of `sets` are fingerprinted.
    pub fn trust_index(&self, idx: &IndexDir, previous: &[usize], sets: &[usize]) -> bool {
        let Some(dir) = self.dir_print() else {
            return false;
        };
        // Set 0 is written by every ADD (ours and the reference's): always watched.
        let mut all: Vec<usize> = [0].iter().chain(previous).chain(sets).copied().collect();
        all.sort_unstable();
        all.dedup();
        let cursors: Vec<(usize, Cursor)> = all.into_iter().map(|s| (s, self.cursor(s))).collect();
        if cursors.iter().any(|(_, c)| *c == Cursor::Unreadable) {
            return false;
        }
        let state = State { dir, cursors };
        idx.write(STATE_FILE, state.encode().as_bytes()).is_ok()
    }

    /// The sets that have a `last_reserved_ip.<set>` file (lists the directory).
    pub fn cursor_sets(&self) -> Vec<usize> {
        let mut out = Vec::new();
        let _ = self.for_each_name(|n| {
            if let Some(set) = n.strip_prefix(LAST_IP_PREFIX).and_then(|s| s.parse().ok()) {
                out.push(set);
            }
        });
        out
    }

    /// Marks the index untrusted (before a change that may not be indexed).
    pub fn distrust_index(&self, idx: &IndexDir) -> bool {
        idx.remove(STATE_FILE).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trip() {
        let s = State {
            dir: (42, 1_700_000_000, 5),
            cursors: vec![
                (0, Cursor::Absent),
                (
                    1,
                    Cursor::Present {
                        ino: 7,
                        mtime: (1_700_000_000, 123),
                        content: b"10.0.0.2 x".to_vec(),
                    },
                ),
            ],
        };
        assert_eq!(State::parse(s.encode().as_bytes()), Some(s));
        assert_eq!(State::parse(b"cnm-index-state 1\ndir 1 2\n"), None);
        assert_eq!(
            State::parse(b"cnm-index-state 1\ndir 1 2 3\ncursor 0 1 2\n"),
            None
        );
        assert_eq!(State::parse(b"other\ndir 1\n"), None);
    }
}
