//! The host-local store's file parsers: reservation content (`Owner::parse`),
//! `last_reserved_ip.<n>`, boot stamps and the `/proc` boot files.
#![no_main]

use cnm_ipam::owner::{Match, Owner};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(owner) = Owner::parse(data) {
        // an owner matches itself (the reference trims the container ID it is
        // asked for, so only IDs without surrounding whitespace can match)
        match &owner {
            Owner::Legacy { container_id } => {
                assert_eq!(owner.matches(container_id, "eth0"), Match::Legacy);
            }
            Owner::Attachment {
                container_id,
                ifname,
            } if container_id.trim() == container_id => {
                assert_eq!(owner.matches(container_id, ifname), Match::Exact);
            }
            Owner::Attachment { .. } => {}
        }
    }
    let _ = cnm_ipam::store::parse_last_reserved(data);
    let _ = cnm_ipam::stamp::parse(data);
    let _ = cnm_ipam::boot::parse_boot_id(data);
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = cnm_ipam::boot::parse_btime(s);
    }
});
