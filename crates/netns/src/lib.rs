//! Open, enter, create and remove Linux network namespaces safely.
//!
//! * [`NetNs`] opens and verifies a namespace file and runs code inside it
//!   ([`NetNs::run_in`]) on a throwaway thread, never moving a long-lived thread.
//! * [`create_named`]/[`remove_named`] behave like `ip netns add/del`;
//!   [`create_at`]/[`remove_at`] do the same for an arbitrary file path.
//! * [`NetNs::sysctl_write`]/[`NetNs::sysctl_read`] access `/proc/sys/net` of a namespace.

mod bind;
mod error;
mod name;
mod ns;
mod run;
mod sysctl;
mod verify;

pub use bind::{create_at, create_named, named_path, remove_at, remove_named, NETNS_RUN_DIR};
pub use error::NetnsError;
pub use name::{validate_name, MAX_NAME_LEN};
pub use ns::{NetNs, PROCESS_NETNS, THREAD_SELF_NETNS};
pub use sysctl::{sysctl_path, write_if_differs};
