//! The narrow key-value interface cluster IPAM needs; etcd implements it in
//! the node agent, [`crate::fake::FakeKv`] in tests.

/// A store failure. `Unavailable` means the store could not be reached (the
/// caller may retry later); `Other` is any other refusal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KvError {
    #[error("key-value store unavailable: {0}")]
    Unavailable(String),
    #[error("key-value store error: {0}")]
    Other(String),
}

/// The operations blocks need: compare-and-create, conditional delete, list.
pub trait Kv {
    /// Write `key` only if it does not exist (etcd: `create_revision == 0`).
    /// `Ok(false)` when it exists already (someone else won).
    fn create(&mut self, key: &str, value: &[u8]) -> Result<bool, KvError>;
    /// Replace `key` only if it currently holds `expect` (a compare on the value).
    /// `Ok(false)` when it does not (changed or deleted meanwhile).
    fn replace(&mut self, key: &str, expect: &[u8], value: &[u8]) -> Result<bool, KvError>;
    /// Delete `key` only if it currently holds `expect`. `Ok(false)` otherwise.
    fn delete_if(&mut self, key: &str, expect: &[u8]) -> Result<bool, KvError>;
    /// One key's value, if any.
    fn get(&mut self, key: &str) -> Result<Option<Vec<u8>>, KvError>;
    /// Every key under `prefix`, with its value, in key order.
    fn list(&mut self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, KvError>;
}

/// A borrowed store is a store (so a [`crate::Claimer`] can borrow one).
impl<K: Kv + ?Sized> Kv for &mut K {
    fn create(&mut self, key: &str, value: &[u8]) -> Result<bool, KvError> {
        (**self).create(key, value)
    }
    fn replace(&mut self, key: &str, expect: &[u8], value: &[u8]) -> Result<bool, KvError> {
        (**self).replace(key, expect, value)
    }
    fn delete_if(&mut self, key: &str, expect: &[u8]) -> Result<bool, KvError> {
        (**self).delete_if(key, expect)
    }
    fn get(&mut self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        (**self).get(key)
    }
    fn list(&mut self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, KvError> {
        (**self).list(prefix)
    }
}
