//! The CNI protocol layer (spec 0.1.0 to 1.1.0) shared by every binary of the project:
//! errors, results in every version, `CNI_*` environment, request config,
//! delegation to other plugins, and the plugin skeleton.

#![forbid(unsafe_code)]

pub mod args;
pub mod config;
pub mod convert;
pub mod delegate;
pub mod env;
pub mod error;
pub mod result;
pub mod skel;
pub mod version;

#[cfg(any(test, feature = "test-util"))]
pub mod testutil;

pub use args::CniArgs;
pub use config::*;
pub use delegate::{
    delegate_add, delegate_check, delegate_del, delegate_gc, delegate_status, find_in_path,
    Delegate,
};
pub use env::*;
pub use error::{code, CniError};
pub use result::*;
pub use skel::{run, Outcome, Plugin, Request, MAX_STDIN};
pub use version::*;
