//! Result conversion: `CniResult::from_json` with every version hint, then
//! `to_json` to each of the 7 versions, and a re-parse of what was printed.
#![no_main]

use cni_protocol::{CniResult, SUPPORTED_VERSIONS};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    for hint in SUPPORTED_VERSIONS
        .iter()
        .chain(["", "9.9.9", "garbage"].iter())
    {
        let Ok(res) = CniResult::from_json(&v, hint) else {
            continue;
        };
        for target in SUPPORTED_VERSIONS {
            if let Ok(out) = res.to_json(target) {
                // what we print must parse back in its own version
                let back = CniResult::from_json(&out, target);
                assert!(back.is_ok(), "{target} output does not re-parse: {out}");
            }
        }
    }
});
