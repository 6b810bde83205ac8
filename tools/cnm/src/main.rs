//! A cnitool-compatible CLI over the project's libcni-style runtime

fn main() {}
