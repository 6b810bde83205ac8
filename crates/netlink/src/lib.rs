//! A synchronous NETLINK_ROUTE socket for links, addresses and routes.
