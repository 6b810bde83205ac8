//! Network config parsing: `NetConf::parse` on arbitrary bytes, then the bridge
//! and host-local configs built from it. Errors are fine; panics are not.
#![no_main]

use cni_protocol::{CniArgs, CniEnv, Command, NetConf};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(conf) = NetConf::parse(data) else {
        return;
    };
    let _ = conf.to_bytes();
    let _ = cnm_bridge::BridgeConfig::from_options(&conf.name, &conf.raw);
    let _ = cnm_bridge::config::TeardownConfig::from_options(&conf.name, &conf.raw);
    let env = CniEnv {
        command: Command::Add,
        container_id: Some("fuzz".into()),
        netns: None,
        ifname: Some("eth0".into()),
        args: CniArgs::parse("IgnoreUnknown=1;IP=10.1.2.3").unwrap_or_default(),
        path: Vec::new(),
        netns_override: false,
    };
    let _ = cnm_ipam::IpamConfig::from_netconf(&conf, &env);
    let _ = cnm_ipam::IpamConfig::from_raw(&conf.raw, &conf.name, &conf.cni_version, None);
});
