//! Network config parsing: `NetConf::parse` on arbitrary bytes, then the bridge
//! and host-local configs built from it. Errors are fine; panics are not.
#![no_main]

use cni_protocol::NetConf;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(conf) = NetConf::parse(data) else {
        return;
    };
    let _ = conf.to_bytes();
    let _ = cnm_bridge::BridgeConfig::from_options(&conf.name, &conf.raw);
    let _ = cnm_bridge::config::TeardownConfig::from_options(&conf.name, &conf.raw);
    let requested: Vec<_> = cnm_ipam::parse_requested_ip("10.1.2.3").into_iter().collect();
    let _ = cnm_ipam::IpamConfig::from_raw(&conf.raw, &conf.name, &conf.cni_version, &requested);
    let _ = cnm_ipam::IpamConfig::from_raw(&conf.raw, &conf.name, &conf.cni_version, &[]);
    let _ = cnm_ipam::requested_addresses(&conf.raw);
});
