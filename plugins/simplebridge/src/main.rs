//! CNI bridge plugin: libnetwork's bridge driver as a drop-in for the reference bridge

fn main() {}
