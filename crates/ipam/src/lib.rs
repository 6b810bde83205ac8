//! host-local IPAM: the reference on-disk store, allocation, release and GC.
