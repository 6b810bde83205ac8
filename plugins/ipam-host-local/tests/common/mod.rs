//! Test helpers: throwaway directories and config builders.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use serde_json::{Map, Value};

static N: AtomicU32 = AtomicU32::new(0);

/// A directory under the system temp dir (`tempfile`), removed on drop;
/// `.0` is its path.
pub struct TempDir(pub PathBuf, tempfile::TempDir);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let dir = tempfile::Builder::new()
            .prefix(&format!(
                "cnm-ipam-{tag}-{}-",
                N.fetch_add(1, Ordering::Relaxed)
            ))
            .tempdir()
            .unwrap();
        TempDir(dir.path().to_path_buf(), dir)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

pub fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => panic!("not an object"),
    }
}

/// Sorted file names of a directory.
pub fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}
