//! Docker network options (`docker network create -o key=value`, delivered as
//! strings under `com.docker.network.generic`) to the bridge driver's fields.
//!
//! Each key is accepted under the bridge driver's own name and, where Docker's
//! built-in bridge has an equivalent, under Docker's name, so commands written
//! for `-d bridge` keep working. Unknown keys are refused (a typo must not be
//! ignored silently). docs/docker.md lists every key.

use serde_json::{Map, Value};

use crate::error::PluginError;

/// How a value is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ty {
    Str,
    Int,
    Bool,
    /// A bool stored negated (Docker's `enable_icc=false` is `portIsolation=true`).
    NotBool,
}

/// (accepted keys, bridge field, type). The first key is the documented one.
const KEYS: &[(&[&str], &str, Ty)] = &[
    (
        &["bridge", "com.docker.network.bridge.name"],
        "bridge",
        Ty::Str,
    ),
    (&["mtu", "com.docker.network.driver.mtu"], "mtu", Ty::Int),
    (
        &["ipMasq", "com.docker.network.bridge.enable_ip_masquerade"],
        "ipMasq",
        Ty::Bool,
    ),
    (&["hairpinMode"], "hairpinMode", Ty::Bool),
    (&["promiscMode"], "promiscMode", Ty::Bool),
    (&["portIsolation"], "portIsolation", Ty::Bool),
    (
        &["com.docker.network.bridge.enable_icc"],
        "portIsolation",
        Ty::NotBool,
    ),
    (&["macspoofchk"], "macspoofchk", Ty::Bool),
    (&["vlan"], "vlan", Ty::Int),
    (&["preserveDefaultVlan"], "preserveDefaultVlan", Ty::Bool),
    (&["enabledad"], "enabledad", Ty::Bool),
    (&["forceAddress"], "forceAddress", Ty::Bool),
];

/// Keys read by the plugin itself (not bridge fields).
pub const HOST_BINDING_IPV4: &str = "com.docker.network.bridge.host_binding_ipv4";

/// Docker's options the plugin accepts and ignores (they concern Docker's own bridge driver
/// behaviour that has no counterpart here, or are informational).
const IGNORED: &[&str] = &["com.docker.network.bridge.default_bridge"];

fn parse_bool(key: &str, v: &str) -> Result<bool, PluginError> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(PluginError::invalid(format!(
            "option {key}={v:?}: expected true or false"
        ))),
    }
}

/// The text of a generic option value (Docker sends strings; JSON clients may send numbers or
/// booleans).
fn text(key: &str, v: &Value) -> Result<String, PluginError> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(PluginError::invalid(format!(
            "option {key}: expected a string, got {other}"
        ))),
    }
}

/// Driver options parsed from `com.docker.network.generic`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DriverOptions {
    /// Bridge driver fields (JSON, as the driver's config reads them).
    pub bridge: Map<String, Value>,
    /// Default host address for published ports without one.
    pub host_binding_ipv4: Option<std::net::Ipv4Addr>,
}

/// Parse the generic options. Later keys override earlier ones only when they name the same
/// field with the same value; two spellings with different values are an error.
pub fn parse(generic: Option<&Map<String, Value>>) -> Result<DriverOptions, PluginError> {
    let mut out = DriverOptions::default();
    let Some(generic) = generic else {
        return Ok(out);
    };
    for (key, raw) in generic {
        let v = text(key, raw)?;
        if key == HOST_BINDING_IPV4 {
            let ip = v.parse().map_err(|_| {
                PluginError::invalid(format!("option {key}={v:?}: expected an IPv4 address"))
            })?;
            out.host_binding_ipv4 = Some(ip);
            continue;
        }
        if IGNORED.contains(&key.as_str()) {
            continue;
        }
        let Some((_, field, ty)) = KEYS
            .iter()
            .find(|(names, _, _)| names.contains(&key.as_str()))
        else {
            let known: Vec<&str> = KEYS.iter().map(|(n, _, _)| n[0]).collect();
            return Err(PluginError::invalid(format!(
                "unknown network option {key:?} (known: {}, {HOST_BINDING_IPV4})",
                known.join(", ")
            )));
        };
        let value = match ty {
            Ty::Str => Value::String(v),
            Ty::Int => Value::from(v.trim().parse::<i64>().map_err(|_| {
                PluginError::invalid(format!("option {key}={v:?}: expected an integer"))
            })?),
            Ty::Bool => Value::Bool(parse_bool(key, &v)?),
            Ty::NotBool => Value::Bool(!parse_bool(key, &v)?),
        };
        if let Some(prev) = out.bridge.get(*field) {
            if prev != &value {
                return Err(PluginError::invalid(format!(
                    "option {key}: contradicts another option setting {field} to {prev}"
                )));
            }
        }
        out.bridge.insert(field.to_string(), value);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn p(v: Value) -> Result<DriverOptions, PluginError> {
        parse(v.as_object())
    }

    #[test]
    fn both_spellings_map_to_bridge_fields() {
        let o = p(json!({
            "bridge": "br-x", "com.docker.network.driver.mtu": "1400",
            "ipMasq": "false", "hairpinMode": "true", "portIsolation": "yes",
            "vlan": "7", "macspoofchk": "1",
            "com.docker.network.bridge.host_binding_ipv4": "10.0.0.5"
        }))
        .unwrap();
        assert_eq!(
            Value::Object(o.bridge),
            json!({"bridge": "br-x", "mtu": 1400, "ipMasq": false, "hairpinMode": true,
                   "portIsolation": true, "vlan": 7, "macspoofchk": true})
        );
        assert_eq!(o.host_binding_ipv4, Some("10.0.0.5".parse().unwrap()));
        let icc = p(json!({"com.docker.network.bridge.enable_icc": "false"})).unwrap();
        assert_eq!(icc.bridge.get("portIsolation"), Some(&json!(true)));
    }

    #[test]
    fn bad_values_and_unknown_keys_are_refused() {
        for bad in [
            json!({"mtu": "big"}),
            json!({"ipMasq": "maybe"}),
            json!({"nosuch": "1"}),
            json!({"bridge": {"x": 1}}),
            json!({"com.docker.network.bridge.host_binding_ipv4": "::1"}),
            json!({"portIsolation": "true", "com.docker.network.bridge.enable_icc": "true"}),
        ] {
            assert!(p(bad.clone()).is_err(), "{bad}");
        }
        let e = p(json!({"nosuch": "1"})).unwrap_err().to_string();
        assert!(e.contains("nosuch") && e.contains("mtu"), "{e}");
        assert_eq!(parse(None).unwrap(), DriverOptions::default());
    }
}
