//! Root detection: tests that touch namespaces skip cleanly when not root.

/// True when the effective user is root.
pub use cnm_test_support::is_root;
