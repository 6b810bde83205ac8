//! A synchronous NETLINK_ROUTE socket for links, addresses and routes.
//!
//! A [`Handle`] belongs to the network namespace it was created in
//! ([`Handle::new`] for the current one, [`Handle::new_in`] for another) and
//! can then be used from any thread. Every operation sends one request,
//! waits for the kernel's ack and reports failures as [`NetlinkError`]
//! naming the operation and the link, address or route involved;
//! [`Handle::pipeline`] sends several [`Request`]s in one datagram;
//! a [`Monitor`] receives the kernel's notifications (multicast groups).

#![forbid(unsafe_code)]

mod addr;
mod bridge;
mod error;
mod ext_ack;
mod handle;
mod link;
mod link_ops;
mod monitor;
mod neigh;
mod pipeline;
mod route;
mod vxlan;

pub use addr::{
    AddrInfo, IFA_F_DADFAILED, IFA_F_NODAD, IFA_F_OPTIMISTIC, IFA_F_PERMANENT, IFA_F_TENTATIVE,
};
pub use bridge::{BridgeVlan, BrportInfo, MAX_VID};
pub use error::NetlinkError;
pub use handle::Handle;
pub use link::{LinkInfo, LinkRef, OperState, MAX_IFNAME_LEN};
pub use link_ops::VethSpec;
pub use monitor::{Change, Group, Monitor, Notification};
pub use neigh::NeighEntry;
pub use pipeline::{Reply, Request};
pub use route::{
    IpFamily, RouteSpec, SCOPE_HOST, SCOPE_LINK, SCOPE_UNIVERSE, TABLE_LOCAL, TABLE_MAIN,
};
pub use vxlan::VxlanSpec;
