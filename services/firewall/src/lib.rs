//! `cnm-firewall`: brings the project's nftables rules back after someone removed them (a
//! firewall reload, `nft flush ruleset`, an administrator's clean-up), without any runtime
//! call and without touching containers (docs/firewall.md, docs/adr/0016).
//!
//! Part of the firewall layer (it may use `cnm-nft` directly; front-ends may not, ADR 0013):
//! - [`cli`]: the command line (`reload`, `watch`, `--netns`);
//! - [`liveness`]: what host-local's reservations say about port-mapping owners;
//! - [`watch`]: the service loop over `cnm_nft::Monitor` (nf_tables change notifications),
//!   restoring within milliseconds of a loss.

pub mod cli;
pub mod liveness;
pub mod watch;
