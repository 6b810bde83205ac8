//! CNI IPAM plugin: a drop-in for the reference host-local

fn main() {}
