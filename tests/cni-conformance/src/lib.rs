//! Shared harness for the conformance suite: throwaway namespaces and plugin execution.
//!
//! Every test drives built plugin binaries exactly as a container runtime does:
//! exec with a cleared environment, the request config on stdin, the result or
//! CNI error on stdout and the exit status. Kernel state is read back with
//! `ip -j` inside throwaway network namespaces that are removed on drop.
//!
//! Binaries: ours from `$CNM_PLUGIN_DIR` (default `<workspace>/target/debug`;
//! build them first with `cargo build --workspace`, or point the variable at
//! `target/release`), the reference Go plugins from `$REF_PLUGIN_DIR` (default
//! `/usr/lib/cni`). Tests need root and skip ("skipped: needs root") otherwise.

#![forbid(unsafe_code)]

pub mod alloc;
pub mod bins;
pub mod bridge;
pub mod conf;
pub mod exec;
pub mod fault;
pub mod fixture;
pub mod fresh;
pub mod inspect;
pub mod iproute;
pub mod ns;
pub mod proc;
pub mod robust;
pub mod root;
pub mod store;
pub mod tmp;

pub use alloc::{bridge_name, net_name, subnet_v4, subnet_v6, unique_suffix};
pub use bins::{our_dir, ours, ref_available, ref_dir, reference, CniPath, Impl};
pub use bridge::{BridgeFixture, Main};
pub use conf::{host_local_conf, normalize_result};
pub use exec::{run_plugin, Env, Output};
pub use fixture::IpamFixture;
pub use ns::Netns;
pub use root::is_root;
pub use store::{reservations, Reservation};
pub use tmp::TempDir;

/// Return early from a test (printing "skipped: needs root") unless running as root.
#[macro_export]
macro_rules! require_root {
    () => {
        if !cnm_test_support::require_root(module_path!()) {
            return;
        }
    };
}

/// Generate `ours` and `reference` test functions running `$body(Impl)` for both
/// implementations: the reference plugin is the oracle for ours.
#[macro_export]
macro_rules! for_both_impls {
    ($name:ident, $body:ident) => {
        mod $name {
            #[test]
            fn ours() {
                $crate::require_root!();
                super::$body($crate::Impl::Ours)
            }
            #[test]
            fn reference() {
                $crate::require_root!();
                super::$body($crate::Impl::Reference)
            }
        }
    };
}
