//! nftables firewall for the project: masquerade and port mappings in one table, `inet cnm`.
//!
//! Design:
//! - Every operation is one atomic `nft -f -` batch (argv only, no shell). Each batch starts with
//!   the idempotent skeleton (table, base chains `postrouting`/`prerouting`/`output`, regular chain
//!   `hostports`, maps and sets), flushing and rebuilding the static base-chain rules inside the
//!   same transaction, so any batch repairs the static part and none ever drops per-network or
//!   per-container state.
//! - Masquerade is per network: chain `masq-<fnv1a64(network)>` (`oifname <bridge> return`,
//!   `daddr <subnet> return`, multicast return, `masquerade comment "cnm:<network>"`) entered from
//!   `postrouting` through the interval verdict maps `masq4`/`masq6` keyed by the subnets. A
//!   subnet held by another network (reused under a new name, or shared by two live networks)
//!   is taken over in the ensure's own batch (the other network's overlapping element deleted
//!   in the same transaction); removing a network hands such subnets back to a network whose
//!   chain still covers them.
//! - Port mappings are elements of `pm4`/`pm4any`/`pm6`/`pm6any` (`[hostip .] proto . port :
//!   addr . port`) and hairpin/localhost SNAT elements of `pmsnat4`/`pmsnat6`
//!   (`source-subnet . container-addr`), each tagged `network,container,ifname` in its comment.
//! - Port-mapping ADD records the owner's exact elements and the table's kernel handle in
//!   `<state dir>/<netns inode>-<netns cookie>/pm-<fnv1a64(owner tag)>` (the cookie is never
//!   reused, so a new namespace never reads a dead one's state; see `netns_key`); DEL then deletes exactly those in one
//!   nfnetlink batch sent on our own NETLINK_NETFILTER socket (no nft exec, no listing) while the
//!   table handle is unchanged, else (or when that batch fails) it lists the table.
//! - State is read back with `nft -j list table inet cnm`. `ensure_masquerade` also keeps, per
//!   network namespace and network, the union of the network's subnets in a state file and skips
//!   nft when that file covers the request and a NETLINK_NETFILTER probe sees the chain.
//! - MAC spoof checks live in a second table, `bridge cnm` (see the `spoof` module); each is
//!   recorded (`spoof-<hash>`: veth, its index, MAC).
//! - After a firewall reload removed our tables, [`Firewall::restore`] rebuilds every recorded
//!   masquerade, port mapping and spoof check that is missing (records checked against the
//!   kernel first; ADD/DEL hold `fw.lock` shared, a restore exclusively, and DEL removes its
//!   record before its rules, so nothing deleted comes back). [`Monitor`]/[`Tracker`] read
//!   nf_tables change notifications and tell a loss from our own changes; [`NatKeepalive`]
//!   holds an owned table that keeps established NAT connections flowing through a flush.
//!   `cnm-firewall` (services/firewall) is the command and service over them (ADR 0016).

mod elem_delete;
mod elem_key;
mod error;
mod exec;
mod firewall;
mod keepalive;
mod link;
mod masq;
mod masq_state;
mod monitor;
mod name;
mod netns_key;
mod nfnl;
mod pm_state;
mod portmap;
mod probe;
mod restore;
mod script;
mod spoof;
mod spoof_state;
mod state;

pub use error::NftError;
pub use exec::NftCommand;
pub use firewall::{Applied, Firewall, DEFAULT_STATE_DIR};
pub use keepalive::{NatKeepalive, KEEP_TABLE};
pub use masq::MasqNet;
pub use monitor::{Monitor, Received, Suspect, Tracker};
pub use name::{fnv1a64, masq_chain, validate_network};
pub use portmap::{Owner, PortMapping, Protocol};
pub use restore::{
    Alive, Item, Kind, Liveness, Mode, Outcome, RestoreReport, Trigger, TrustRecords,
};
pub use state::{ChainState, ElemState, RuleState, TableState};
