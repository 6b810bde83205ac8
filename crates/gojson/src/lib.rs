//! Go's `encoding/json` key matching for objects the runtime fills in: Go
//! decodes a key into the struct field whose JSON name matches exactly or,
//! failing that, case-insensitively. containerd's go-cni sends capability
//! arguments from structs without JSON tags (`{"HostPort": 8080,
//! "ContainerPort": 80, "Protocol": "tcp", "HostIP": ""}`), which the reference
//! plugins accept that way; [`fold_keys`] renames such keys to the canonical
//! names before serde sees them.

#![forbid(unsafe_code)]

use serde_json::{Map, Value};

/// A copy of `value` in which every key of a top-level object that equals one
/// of `fields` ignoring ASCII case is renamed to that field. Keys in document
/// order: when two keys fold to the same field the later one wins, as in Go.
/// Anything that is not an object is returned unchanged (the caller's typed
/// decoding reports it).
pub fn fold_keys(value: &Value, fields: &[&str]) -> Value {
    let Value::Object(map) = value else {
        return value.clone();
    };
    let mut out = Map::with_capacity(map.len());
    for (k, v) in map {
        let canonical = fields
            .iter()
            .find(|f| **f == k.as_str())
            .or_else(|| fields.iter().find(|f| f.eq_ignore_ascii_case(k)))
            .map_or_else(|| k.clone(), |f| (*f).to_string());
        out.insert(canonical, v.clone());
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const F: &[&str] = &["hostPort", "containerPort", "protocol", "hostIP"];

    #[test]
    fn go_cni_capitalised_keys_map_to_the_tags() {
        let v = json!({"HostPort": 8080, "ContainerPort": 80, "Protocol": "tcp", "HostIP": ""});
        assert_eq!(
            fold_keys(&v, F),
            json!({"hostPort": 8080, "containerPort": 80, "protocol": "tcp", "hostIP": ""})
        );
        assert_eq!(
            fold_keys(&json!({"HOSTIP": "::"}), F),
            json!({"hostIP": "::"})
        );
    }

    #[test]
    fn exact_keys_and_unknown_keys_stay() {
        let v = json!({"hostPort": 1, "other": 2, "Other": 3});
        assert_eq!(fold_keys(&v, F), v);
    }

    #[test]
    fn later_duplicate_wins_like_go() {
        let v = json!({"hostPort": 1, "HostPort": 2});
        assert_eq!(fold_keys(&v, F), json!({"hostPort": 2}));
        let v = json!({"HostPort": 2, "hostPort": 1});
        assert_eq!(fold_keys(&v, F), json!({"hostPort": 1}));
    }

    #[test]
    fn non_objects_are_untouched() {
        for v in [json!(3), json!("x"), json!([{"HostPort": 1}]), Value::Null] {
            assert_eq!(fold_keys(&v, F), v);
        }
    }
}
