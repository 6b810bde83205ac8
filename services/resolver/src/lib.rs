//! `cnm-resolver`: one name resolver per network namespace for the
//! container networks whose records are in the store of
//! `cnm-dns-records` (issue 20, ADR 0015).
//!
//! - [`view`]: what the records say, as lookup tables (visibility by source
//!   address, names with and without domain, PTR);
//! - [`answer`]: one query's bytes -> an answer, "forward", or "drop" (pure,
//!   fuzzed);
//! - [`upstream`]: the host's resolvers (`/etc/resolv.conf`, re-read when it
//!   changes) and forwarding over UDP and TCP;
//! - [`server`]: the sockets: UDP and TCP port 53 on each listen address,
//!   bounded TCP, the control socket, reloads without closing sockets.

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod answer;
pub mod server;
pub mod upstream;
pub mod view;
