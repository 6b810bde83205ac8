//! Config builders for host-local requests, and result normalisation used by
//! the differential (ours vs reference) comparisons.

use serde_json::{json, Value};

/// A single-plugin request config for host-local: `{cniVersion, name, type,
/// ipam: {type, dataDir, ranges}}`. `ranges` is the list of range sets.
pub fn host_local_conf(
    imp: crate::Impl,
    version: &str,
    net: &str,
    data_dir: &str,
    ranges: Value,
) -> Value {
    json!({
        "cniVersion": version,
        "name": net,
        "type": imp.host_local_type(),
        "ipam": {
            "type": imp.host_local_type(),
            "dataDir": data_dir,
            "ranges": ranges,
        }
    })
}

/// Serialize a config for stdin.
pub fn bytes(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).unwrap_or_default()
}

/// Drop what legitimately differs between implementations: an empty `dns`
/// object (Go prints `"dns": {}`, the spec allows omitting it).
pub fn normalize_result(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(obj) = v.as_object_mut() {
        let empty_dns = match obj.get("dns") {
            Some(Value::Object(d)) => d.values().all(|x| match x {
                Value::Null => true,
                Value::String(s) => s.is_empty(),
                Value::Array(a) => a.is_empty(),
                _ => false,
            }),
            Some(Value::Null) => true,
            _ => false,
        };
        if empty_dns {
            obj.remove("dns");
        }
    }
    v
}
