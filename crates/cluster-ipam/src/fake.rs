//! An in-memory [`Kv`] with switchable unavailability, for tests without etcd.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use crate::kv::{Kv, KvError};

#[derive(Debug, Default)]
struct Inner {
    data: BTreeMap<String, Vec<u8>>,
    down: bool,
    /// Keys whose next `create` loses to a concurrent writer (simulated race).
    steal: BTreeMap<String, Vec<u8>>,
}

/// A shared in-memory store: clones see the same data (like several hosts
/// talking to one etcd).
#[derive(Debug, Clone, Default)]
pub struct FakeKv(Arc<Mutex<Inner>>);

impl FakeKv {
    pub fn new() -> Self {
        Self::default()
    }

    /// Make every call fail with `Unavailable` (etcd down) or work again.
    pub fn set_down(&self, down: bool) {
        self.inner().down = down;
    }

    /// The next `create` of `key` finds `value` written there by someone else.
    pub fn steal_next_create(&self, key: &str, value: &[u8]) {
        self.inner().steal.insert(key.to_string(), value.to_vec());
    }

    /// Remove a key unconditionally (a lease expiring).
    pub fn remove(&self, key: &str) {
        self.inner().data.remove(key);
    }

    /// Put a key unconditionally.
    pub fn put(&self, key: &str, value: &[u8]) {
        self.inner().data.insert(key.to_string(), value.to_vec());
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn up(&self) -> Result<std::sync::MutexGuard<'_, Inner>, KvError> {
        let g = self.inner();
        if g.down {
            return Err(KvError::Unavailable("fake store is down".into()));
        }
        Ok(g)
    }
}

impl Kv for FakeKv {
    fn create(&mut self, key: &str, value: &[u8]) -> Result<bool, KvError> {
        let mut g = self.up()?;
        if let Some(v) = g.steal.remove(key) {
            g.data.insert(key.to_string(), v);
        }
        if g.data.contains_key(key) {
            return Ok(false);
        }
        g.data.insert(key.to_string(), value.to_vec());
        Ok(true)
    }

    fn replace(&mut self, key: &str, expect: &[u8], value: &[u8]) -> Result<bool, KvError> {
        let mut g = self.up()?;
        match g.data.get_mut(key) {
            Some(v) if v.as_slice() == expect => {
                *v = value.to_vec();
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    fn delete_if(&mut self, key: &str, expect: &[u8]) -> Result<bool, KvError> {
        let mut g = self.up()?;
        if g.data.get(key).is_some_and(|v| v.as_slice() == expect) {
            g.data.remove(key);
            return Ok(true);
        }
        Ok(false)
    }

    fn get(&mut self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        Ok(self.up()?.data.get(key).cloned())
    }

    fn list(&mut self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, KvError> {
        Ok(self
            .up()?
            .data
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }
}
