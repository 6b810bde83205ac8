//! `CNI_ARGS` parsing on arbitrary strings, plus the lookups done on the result.
#![no_main]

use cni_protocol::CniArgs;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|s: &str| {
    if let Ok(args) = CniArgs::parse(s) {
        let _ = args.get("IP");
        let _ = args.get("MAC");
        let _ = args.ignore_unknown();
        let _ = args.check_known(&["IP", "MAC", "K8S_POD_NAME"]);
    }
});
