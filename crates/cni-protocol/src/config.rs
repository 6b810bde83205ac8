//! The plugin request configuration (stdin): the well-known keys typed, every
//! key kept in `raw` so unknown ones pass through unchanged.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::env::{validate_network_name, Command};
use crate::error::CniError;
use crate::result::{CniResult, Dns};
use crate::version::{incompatible, is_supported, select_version};

/// One still-valid attachment of a GC request.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Attachment {
    #[serde(rename = "containerID")]
    pub container_id: String,
    pub ifname: String,
}

/// A parsed plugin configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct NetConf {
    /// The whole configuration object, keys and order unchanged.
    pub raw: Map<String, Value>,
    /// The version in use: `cniVersion` (missing = 0.1.0), or the highest
    /// supported one of `cniVersion` ∪ `cniVersions`.
    pub cni_version: String,
    pub name: String,
    /// `type` (empty when absent).
    pub plugin_type: String,
    /// `ipam.type`, when there is an `ipam` section with a type.
    pub ipam_type: Option<String>,
    pub dns: Option<Dns>,
    pub runtime_config: Map<String, Value>,
    /// `args` (Null when absent).
    pub args: Value,
    pub prev_result: Option<CniResult>,
    /// Why `prevResult` could not be decoded, when [`NetConf::parse_for`]
    /// tolerated it (DEL and GC do not need it): `prev_result` is then
    /// `None`. Always `None` after a strict parse.
    pub prev_result_error: Option<CniError>,
    /// `cni.dev/valid-attachments`, or `cni.dev/attachments` as a fallback.
    pub valid_attachments: Option<Vec<Attachment>>,
}

/// The JSON type of `v`, for error messages ("a string", "an array", ...).
pub fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

use json_kind as kind;

fn decode_err(details: String) -> CniError {
    CniError::decoding("failed to decode network configuration", details)
}

/// A present, non-null member of `raw`.
fn member<'a>(raw: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    raw.get(key).filter(|v| !v.is_null())
}

fn string_member(raw: &Map<String, Value>, key: &str) -> Result<Option<String>, CniError> {
    match member(raw, key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(decode_err(format!(
            "{key}: expected a string, got {}",
            kind(other)
        ))),
    }
}

fn typed_member<T: DeserializeOwned>(
    raw: &Map<String, Value>,
    key: &str,
) -> Result<Option<T>, CniError> {
    member(raw, key)
        .map(|v| serde_json::from_value(v.clone()).map_err(|e| decode_err(format!("{key}: {e}"))))
        .transpose()
}

/// A list of `{containerID, ifname}` objects (arrays are not accepted as
/// positional structs).
fn attachments(raw: &Map<String, Value>, key: &str) -> Result<Option<Vec<Attachment>>, CniError> {
    match member(raw, key) {
        None => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(n, item)| match item {
                Value::Object(_) => serde_json::from_value(item.clone())
                    .map_err(|e| decode_err(format!("{key}[{n}]: {e}"))),
                other => Err(decode_err(format!(
                    "{key}[{n}]: expected an object, got {}",
                    kind(other)
                ))),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(other) => Err(decode_err(format!(
            "{key}: expected an array, got {}",
            kind(other)
        ))),
    }
}

impl NetConf {
    /// Parses stdin strictly. Empty, not JSON, or not an object -> 6; a
    /// well-known key of the wrong type -> 6; an unsupported version -> 1;
    /// `name` missing or invalid, or `type` with a path separator -> 7; a
    /// malformed `prevResult` (read in the config's version) -> 6.
    pub fn parse(bytes: &[u8]) -> Result<NetConf, CniError> {
        Self::parse_with(bytes, false)
    }

    /// Parses stdin for `command`: as [`NetConf::parse`], except that for
    /// DEL and GC a `prevResult` that cannot be decoded does not fail the
    /// request (cleanup must not depend on it): `prev_result` is `None`
    /// and the error is kept in `prev_result_error`.
    pub fn parse_for(bytes: &[u8], command: Command) -> Result<NetConf, CniError> {
        Self::parse_with(bytes, matches!(command, Command::Del | Command::Gc))
    }

    fn parse_with(bytes: &[u8], lenient_prev_result: bool) -> Result<NetConf, CniError> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(decode_err("the configuration on stdin is empty".into()));
        }
        let value: Value =
            serde_json::from_slice(bytes).map_err(|e| decode_err(format!("invalid JSON: {e}")))?;
        let raw = match value {
            Value::Object(m) => m,
            other => {
                return Err(decode_err(format!(
                    "expected a JSON object, got {}",
                    kind(&other)
                )))
            }
        };
        let cni_version = Self::version_of(&raw)?;
        let name = string_member(&raw, "name")?.unwrap_or_default();
        validate_network_name(&name)?;
        let plugin_type = string_member(&raw, "type")?.unwrap_or_default();
        if plugin_type.contains(['/', '\\']) {
            return Err(CniError::invalid_config(
                "invalid plugin type",
                format!("type {plugin_type:?} must be a file name without a path separator"),
            ));
        }
        let ipam_type = match member(&raw, "ipam") {
            None => None,
            Some(Value::Object(ipam)) => string_member(ipam, "type")
                .map_err(|e| decode_err(format!("ipam.{}", e.details)))?,
            Some(other) => {
                return Err(decode_err(format!(
                    "ipam: expected an object, got {}",
                    kind(other)
                )))
            }
        };
        let dns = match member(&raw, "dns") {
            None | Some(Value::Object(_)) => typed_member::<Dns>(&raw, "dns")?,
            Some(other) => {
                return Err(decode_err(format!(
                    "dns: expected an object, got {}",
                    kind(other)
                )))
            }
        };
        let runtime_config =
            typed_member::<Map<String, Value>>(&raw, "runtimeConfig")?.unwrap_or_default();
        let args = raw.get("args").cloned().unwrap_or(Value::Null);
        let decoded = member(&raw, "prevResult")
            .map(|v| {
                CniResult::from_json(v, &cni_version)
                    .map_err(|e| CniError::decoding("failed to decode prevResult", e.to_string()))
            })
            .transpose();
        let (prev_result, prev_result_error) = match decoded {
            Ok(p) => (p, None),
            Err(e) if lenient_prev_result => (None, Some(e)),
            Err(e) => return Err(e),
        };
        let valid_attachments = match attachments(&raw, "cni.dev/valid-attachments")? {
            Some(list) => Some(list),
            None => attachments(&raw, "cni.dev/attachments")?,
        };
        Ok(NetConf {
            raw,
            cni_version,
            name,
            plugin_type,
            ipam_type,
            dns,
            runtime_config,
            args,
            prev_result,
            prev_result_error,
            valid_attachments,
        })
    }

    /// The version in use (see [`NetConf::cni_version`]); code 1 if unsupported.
    fn version_of(raw: &Map<String, Value>) -> Result<String, CniError> {
        let declared = string_member(raw, "cniVersion")?.unwrap_or_default();
        let list: Vec<String> = typed_member(raw, "cniVersions")?.unwrap_or_default();
        if !list.is_empty() {
            return select_version(&declared, &list);
        }
        let v = if declared.is_empty() {
            "0.1.0".to_string()
        } else {
            declared
        };
        if is_supported(&v) {
            Ok(v)
        } else {
            Err(incompatible(&v))
        }
    }

    /// The configuration bytes (the `raw` map, keys unchanged), e.g. for
    /// delegation when the original stdin is not at hand.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(&self.raw).unwrap_or_default()
    }

    /// The plugin-specific configuration: `raw` deserialized into `T`.
    /// Errors are code 7 naming the field path (`ipam.ranges[0]: ...`).
    pub fn typed<T: DeserializeOwned>(&self) -> Result<T, CniError> {
        serde_path_to_error::deserialize(Value::Object(self.raw.clone())).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            let details = if path == "." {
                inner.to_string()
            } else {
                format!("{path}: {inner}")
            };
            CniError::invalid_config("invalid network configuration", details)
        })
    }

    /// A member of the raw configuration.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.raw.get(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::code;
    use serde_json::json;

    fn parse(v: Value) -> Result<NetConf, CniError> {
        NetConf::parse(v.to_string().as_bytes())
    }

    #[test]
    fn well_known_keys_and_raw_kept() {
        let c = parse(json!({
            "cniVersion": "1.0.0", "name": "net1", "type": "simplebridge",
            "bridge": "cni0", "ipMasq": true,
            "ipam": {"type": "host-local", "subnet": "10.1.0.0/16"},
            "dns": {"nameservers": ["10.1.0.1"]},
            "runtimeConfig": {"mac": "aa:bb:cc:dd:ee:ff"},
            "args": {"cni": {"ips": ["10.1.0.9"]}},
            "x-unknown": {"deep": [1, 2]}
        }))
        .unwrap();
        assert_eq!(c.cni_version, "1.0.0");
        assert_eq!(c.name, "net1");
        assert_eq!(c.plugin_type, "simplebridge");
        assert_eq!(c.ipam_type.as_deref(), Some("host-local"));
        assert_eq!(c.dns.as_ref().unwrap().nameservers, vec!["10.1.0.1"]);
        assert_eq!(c.runtime_config["mac"], "aa:bb:cc:dd:ee:ff");
        assert_eq!(c.args["cni"]["ips"][0], "10.1.0.9");
        assert_eq!(c.get("x-unknown"), Some(&json!({"deep": [1, 2]})));
        assert_eq!(c.prev_result, None);
        assert_eq!(c.valid_attachments, None);
        // to_bytes keeps every key, in order.
        let back: Value = serde_json::from_slice(&c.to_bytes()).unwrap();
        let keys: Vec<&String> = back.as_object().unwrap().keys().collect();
        assert_eq!(keys[0], "cniVersion");
        assert_eq!(keys[9], "x-unknown");
        assert_eq!(back["x-unknown"], json!({"deep": [1, 2]}));
    }

    #[test]
    fn missing_version_is_0_1_0_and_cni_versions_select() {
        assert_eq!(parse(json!({"name": "n"})).unwrap().cni_version, "0.1.0");
        let c = parse(
            json!({"cniVersion": "1.0.0", "cniVersions": ["0.4.0", "1.1.0", "5.0.0"], "name": "n"}),
        )
        .unwrap();
        assert_eq!(c.cni_version, "1.1.0");
        let e = parse(json!({"cniVersion": "5.0.0", "cniVersions": ["6.0.0"], "name": "n"}))
            .unwrap_err();
        assert_eq!(e.code, code::INCOMPATIBLE_VERSION);
    }

    #[test]
    fn unsupported_version_is_code_1() {
        for v in ["0.5.0", "2.0.0", "1.1", "abc"] {
            let e = parse(json!({"cniVersion": v, "name": "n"})).unwrap_err();
            assert_eq!(e.code, code::INCOMPATIBLE_VERSION, "{v}");
            assert_eq!(e.msg, "incompatible CNI versions");
            assert!(e.details.contains(v));
        }
    }

    #[test]
    fn decode_errors_are_code_6() {
        let cases: &[&[u8]] = &[
            b"",
            b"  \n",
            b"[1,2]",
            b"\"str\"",
            b"{\"cniVersion\":\"1.0.0\",\"name\":",
            b"not json",
            b"{\"cniVersion\":1,\"name\":\"n\"}",
            b"{\"cniVersion\":\"1.0.0\",\"name\":5}",
            b"{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":[]}",
            b"{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"ipam\":\"host-local\"}",
            b"{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"ipam\":{\"type\":1}}",
            b"{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"dns\":[]}",
            b"{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"runtimeConfig\":3}",
            b"{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"cniVersions\":\"1.1.0\"}",
            b"{\"cniVersion\":\"1.1.0\",\"name\":\"n\",\"cni.dev/valid-attachments\":[{\"ifname\":\"eth0\"}]}",
            br#"{"cniVersion":"1.1.0","name":"n","cni.dev/valid-attachments":[["c1","eth0"]]}"#,
            br#"{"cniVersion":"1.1.0","name":"n","cni.dev/attachments":{}}"#,
        ];
        for bytes in cases {
            let e = NetConf::parse(bytes).unwrap_err();
            assert_eq!(
                e.code,
                code::DECODING_FAILURE,
                "{}: {e}",
                String::from_utf8_lossy(bytes)
            );
        }
        let e = NetConf::parse(b"").unwrap_err();
        assert!(e.details.contains("empty"));
        let e = NetConf::parse(b"{\"name\":").unwrap_err();
        assert!(e.details.contains("EOF"), "{e}");
        let e = NetConf::parse(b"[]").unwrap_err();
        assert!(e.details.contains("an array"), "{e}");
        let e = NetConf::parse(br#"{"name":"n","ipam":{"type":1}}"#).unwrap_err();
        assert!(e.details.starts_with("ipam.type"), "{e}");
    }

    #[test]
    fn name_errors_are_code_7() {
        let e = parse(json!({"cniVersion": "1.0.0"})).unwrap_err();
        assert_eq!(
            (e.code, e.msg.as_str()),
            (code::INVALID_NETWORK_CONFIG, "missing network name")
        );
        let e = parse(json!({"cniVersion": "1.0.0", "name": ""})).unwrap_err();
        assert_eq!(e.code, code::INVALID_NETWORK_CONFIG);
        let e = parse(json!({"cniVersion": "1.0.0", "name": "a/b"})).unwrap_err();
        assert_eq!(e.code, code::INVALID_NETWORK_CONFIG);
        let e =
            parse(json!({"cniVersion": "1.0.0", "name": "n", "type": "../bin/sh"})).unwrap_err();
        assert_eq!(e.code, code::INVALID_NETWORK_CONFIG);
    }

    #[test]
    fn prev_result_typed_in_config_version() {
        let c = parse(json!({"cniVersion": "0.4.0", "name": "n",
            "prevResult": {"ips": [{"version": "4", "address": "10.0.0.2/24"}]}}))
        .unwrap();
        let p = c.prev_result.unwrap();
        assert_eq!(p.cni_version, "0.4.0");
        assert_eq!(p.ips[0].address.to_string(), "10.0.0.2/24");
        // Missing ips[].version under 0.4.0 rules: derived from the address.
        let c = parse(json!({"cniVersion": "0.4.0", "name": "n",
            "prevResult": {"ips": [{"address": "10.0.0.2/24"}]}}))
        .unwrap();
        assert_eq!(
            c.prev_result.unwrap().ips[0].address.to_string(),
            "10.0.0.2/24"
        );
        // A mismatched version: malformed -> 6.
        let e = parse(json!({"cniVersion": "0.4.0", "name": "n",
            "prevResult": {"ips": [{"version": "6", "address": "10.0.0.2/24"}]}}))
        .unwrap_err();
        assert_eq!(e.code, code::DECODING_FAILURE);
        assert_eq!(e.msg, "failed to decode prevResult");
        assert!(e.details.contains("ips[0].version"));
        let e = parse(json!({"cniVersion": "1.0.0", "name": "n", "prevResult": [1]})).unwrap_err();
        assert_eq!(e.code, code::DECODING_FAILURE);
        let c = parse(json!({"cniVersion": "1.0.0", "name": "n", "prevResult": null})).unwrap();
        assert_eq!(c.prev_result, None);
    }

    #[test]
    fn malformed_prev_result_is_tolerated_for_del_and_gc_only() {
        let bytes = json!({"cniVersion": "1.1.0", "name": "n",
            "prevResult": {"ips": [{"address": "not-an-ip"}]}})
        .to_string();
        for cmd in [Command::Del, Command::Gc] {
            let c = NetConf::parse_for(bytes.as_bytes(), cmd).unwrap();
            assert_eq!(c.prev_result, None, "{cmd}");
            let e = c.prev_result_error.expect("the decode error is kept");
            assert_eq!(e.code, code::DECODING_FAILURE);
            assert_eq!(e.msg, "failed to decode prevResult");
            assert!(e.details.contains("ips[0]"), "{e}");
        }
        for cmd in [Command::Add, Command::Check, Command::Status] {
            let e = NetConf::parse_for(bytes.as_bytes(), cmd).unwrap_err();
            assert_eq!(e.code, code::DECODING_FAILURE, "{cmd}");
        }
        assert_eq!(
            NetConf::parse(bytes.as_bytes()).unwrap_err().code,
            code::DECODING_FAILURE,
            "parse stays strict"
        );
        // A good prevResult under DEL: decoded, no error.
        let ok = json!({"cniVersion": "1.1.0", "name": "n",
            "prevResult": {"ips": [{"address": "10.0.0.2/24"}]}})
        .to_string();
        let c = NetConf::parse_for(ok.as_bytes(), Command::Del).unwrap();
        assert!(c.prev_result.is_some() && c.prev_result_error.is_none());
        // Other decode errors still fail DEL.
        let bad_name = json!({"cniVersion": "1.1.0", "prevResult": 5}).to_string();
        assert_eq!(
            NetConf::parse_for(bad_name.as_bytes(), Command::Del)
                .unwrap_err()
                .code,
            code::INVALID_NETWORK_CONFIG
        );
    }

    #[test]
    fn attachments_key_and_fallback() {
        let a = json!([{"containerID": "c1", "ifname": "eth0"}]);
        let c = parse(
            json!({"cniVersion": "1.1.0", "name": "n", "cni.dev/valid-attachments": a,
            "cni.dev/attachments": [{"containerID": "other", "ifname": "eth9"}]}),
        )
        .unwrap();
        let want = vec![Attachment {
            container_id: "c1".into(),
            ifname: "eth0".into(),
        }];
        assert_eq!(c.valid_attachments.as_ref(), Some(&want));
        let c =
            parse(json!({"cniVersion": "1.1.0", "name": "n", "cni.dev/attachments": a})).unwrap();
        assert_eq!(c.valid_attachments, Some(want));
        let c = parse(json!({"cniVersion": "1.1.0", "name": "n", "cni.dev/valid-attachments": []}))
            .unwrap();
        assert_eq!(c.valid_attachments, Some(vec![]));
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Plug {
        bridge: String,
        #[serde(default)]
        mtu: Option<u32>,
        ipam: Ipam,
    }
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Ipam {
        ranges: Vec<Vec<RangeCfg>>,
    }
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct RangeCfg {
        subnet: ipnet::IpNet,
    }

    #[test]
    fn typed_plugin_config_with_error_paths() {
        let ok = parse(
            json!({"cniVersion": "1.0.0", "name": "n", "bridge": "cni0", "mtu": 1400,
            "ipam": {"ranges": [[{"subnet": "10.0.0.0/24"}]]}}),
        )
        .unwrap();
        let p: Plug = ok.typed().unwrap();
        assert_eq!((p.bridge.as_str(), p.mtu), ("cni0", Some(1400)));
        assert_eq!(p.ipam.ranges[0][0].subnet.to_string(), "10.0.0.0/24");

        let bad = parse(json!({"cniVersion": "1.0.0", "name": "n", "bridge": "cni0",
            "ipam": {"ranges": [[{"subnet": "10.0.0.300/24"}]]}}))
        .unwrap();
        let e = bad.typed::<Plug>().unwrap_err();
        assert_eq!(e.code, code::INVALID_NETWORK_CONFIG);
        assert!(e.details.starts_with("ipam.ranges[0][0].subnet: "), "{e}");

        let bad = parse(
            json!({"cniVersion": "1.0.0", "name": "n", "bridge": "cni0", "mtu": "big",
            "ipam": {"ranges": []}}),
        )
        .unwrap();
        let e = bad.typed::<Plug>().unwrap_err();
        assert!(e.details.starts_with("mtu: invalid type"), "{e}");

        let bad =
            parse(json!({"cniVersion": "1.0.0", "name": "n", "ipam": {"ranges": []}})).unwrap();
        let e = bad.typed::<Plug>().unwrap_err();
        assert!(e.details.contains("missing field `bridge`"), "{e}");
    }
}
