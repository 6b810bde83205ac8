//! The portmap configuration: plugin options (reference `PortMapConf` fields and validation) and
//! `runtimeConfig.portMappings`, turned into validated [`PortMapping`]s.

use std::net::IpAddr;

use cni_protocol::{CniError, NetConf};
use cnm_nft::{PortMapping, Protocol};
use serde::Deserialize;
use serde_json::Value;

/// Plugin options as the reference reads them; unknown keys are ignored.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawOptions {
    snat: Option<bool>,
    mark_masq_bit: Option<i64>,
    external_set_mark_chain: Option<String>,
    masq_all: Option<bool>,
    #[serde(rename = "conditionsV4")]
    conditions_v4: Option<Value>,
    #[serde(rename = "conditionsV6")]
    conditions_v6: Option<Value>,
    backend: Option<String>,
}

/// Validated plugin options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Masquerade hairpin and localhost connections (default true).
    pub snat: bool,
    /// Accepted and validated (0..=31, default 13) but unused: our SNAT matches on conntrack
    /// DNAT status and a per-container set, not on a packet mark.
    pub mark_masq_bit: u8,
    /// Accepted but unused (no mark chain is needed, see `mark_masq_bit`).
    pub external_set_mark_chain: Option<String>,
    /// Accepted but unused (reference: masquerade all hairpin traffic, not only from the subnet).
    pub masq_all: bool,
    /// `iptables` or `nftables`; either way this plugin uses nftables.
    pub backend: Option<String>,
}

/// One mapping as it appears in `runtimeConfig.portMappings` (reference `PortMapEntry`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawMapping {
    #[serde(default)]
    host_port: i64,
    #[serde(default)]
    container_port: i64,
    #[serde(default)]
    protocol: Option<String>,
    #[serde(default, rename = "hostIP")]
    host_ip: Option<String>,
}

/// The JSON names of [`RawMapping`]'s fields: keys are matched to them as Go
/// does (containerd 1.6 sends `HostPort`, `ContainerPort`, `Protocol`, `HostIP`).
const MAPPING_FIELDS: &[&str] = &["hostPort", "containerPort", "protocol", "hostIP"];

/// Reference default of `markMasqBit`.
pub const DEFAULT_MARK_MASQ_BIT: u8 = 13;

fn invalid(msg: &str, details: String) -> CniError {
    CniError::invalid_config(msg, details)
}

/// `conditionsV4`/`conditionsV6` are iptables match arguments this plugin cannot apply:
/// absent, null or `[]` is fine; anything else is refused with code 2 (the message names the
/// key and its value, as the spec requires), never silently ignored.
fn refuse_conditions(key: &str, value: Option<&Value>) -> Result<(), CniError> {
    match value {
        None | Some(Value::Null) => Ok(()),
        Some(Value::Array(a)) if a.is_empty() => Ok(()),
        Some(v) => Err(CniError::unsupported_field(
            format!("unsupported field {key}: {v}"),
            format!(
                "{key} = {v}: iptables match arguments are not supported by this nftables portmap; \
                 remove {key} (ports would otherwise be published more widely than configured)"
            ),
        )),
    }
}

impl Options {
    /// Read and validate the options of `conf`: code 7 on an invalid field, code 2 on a
    /// non-empty `conditionsV4`/`conditionsV6`.
    pub fn from_conf(conf: &NetConf) -> Result<Options, CniError> {
        let raw: RawOptions = conf.typed()?;
        refuse_conditions("conditionsV4", raw.conditions_v4.as_ref())?;
        refuse_conditions("conditionsV6", raw.conditions_v6.as_ref())?;
        if raw.mark_masq_bit.is_some() && raw.external_set_mark_chain.is_some() {
            return Err(invalid(
                "invalid portmap configuration",
                "cannot specify externalSetMarkChain and markMasqBit".into(),
            ));
        }
        let bit = raw
            .mark_masq_bit
            .unwrap_or(i64::from(DEFAULT_MARK_MASQ_BIT));
        let mark_masq_bit = u8::try_from(bit).ok().filter(|b| *b <= 31).ok_or_else(|| {
            invalid(
                "invalid portmap configuration",
                format!("markMasqBit: MasqMarkBit must be between 0 and 31, got {bit}"),
            )
        })?;
        if let Some(b) = raw.backend.as_deref() {
            if !matches!(b, "iptables" | "nftables") {
                return Err(invalid(
                    "invalid portmap configuration",
                    format!("backend: {b:?} is neither \"iptables\" nor \"nftables\""),
                ));
            }
        }
        Ok(Options {
            snat: raw.snat.unwrap_or(true),
            mark_masq_bit,
            external_set_mark_chain: raw.external_set_mark_chain,
            masq_all: raw.masq_all.unwrap_or(false),
            backend: raw.backend,
        })
    }
}

fn port(value: i64, field: &str, index: usize) -> Result<u16, CniError> {
    u16::try_from(value).ok().filter(|p| *p != 0).ok_or_else(|| {
        invalid(
            "invalid port mapping",
            format!("runtimeConfig.portMappings[{index}].{field}: invalid port number {value} (must be 1..65535)"),
        )
    })
}

fn protocol(value: Option<&str>, index: usize) -> Result<Protocol, CniError> {
    match value.map(str::to_ascii_lowercase).as_deref() {
        None | Some("") | Some("tcp") => Ok(Protocol::Tcp),
        Some("udp") => Ok(Protocol::Udp),
        Some("sctp") => Ok(Protocol::Sctp),
        Some(other) => Err(invalid(
            "invalid port mapping",
            format!(
                "runtimeConfig.portMappings[{index}].protocol: unknown protocol {other:?} (tcp, udp or sctp)"
            ),
        )),
    }
}

fn host_ip(value: Option<&str>, index: usize) -> Result<Option<IpAddr>, CniError> {
    match value {
        None | Some("") => Ok(None),
        Some(s) => s.parse().map(Some).map_err(|_| {
            invalid(
                "invalid port mapping",
                format!("runtimeConfig.portMappings[{index}].hostIP: {s:?} is not an IP address"),
            )
        }),
    }
}

/// `runtimeConfig.portMappings`, every entry validated; one bad entry fails the whole list.
pub fn port_mappings(conf: &NetConf) -> Result<Vec<PortMapping>, CniError> {
    let list = match conf.runtime_config.get("portMappings") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(a)) => a,
        Some(other) => {
            return Err(invalid(
                "invalid port mapping",
                format!("runtimeConfig.portMappings: expected an array, got {other}"),
            ))
        }
    };
    list.iter()
        .enumerate()
        .map(|(i, v)| {
            let v = gojson::fold_keys(v, MAPPING_FIELDS);
            let raw: RawMapping = serde_json::from_value(v).map_err(|e| {
                invalid(
                    "invalid port mapping",
                    format!("runtimeConfig.portMappings[{i}]: {e}"),
                )
            })?;
            Ok(PortMapping {
                host_port: port(raw.host_port, "hostPort", i)?,
                container_port: port(raw.container_port, "containerPort", i)?,
                protocol: protocol(raw.protocol.as_deref(), i)?,
                host_ip: host_ip(raw.host_ip.as_deref(), i)?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use cni_protocol::code;
    use serde_json::json;

    fn conf(v: Value) -> NetConf {
        NetConf::parse(v.to_string().as_bytes()).unwrap()
    }

    fn base(extra: Value) -> NetConf {
        let mut v = json!({"cniVersion": "1.0.0", "name": "net1", "type": "portmap"});
        if let (Value::Object(m), Value::Object(e)) = (&mut v, extra) {
            m.extend(e);
        }
        conf(v)
    }

    #[test]
    fn option_defaults() {
        let o = Options::from_conf(&base(json!({}))).unwrap();
        assert!(o.snat);
        assert_eq!(o.mark_masq_bit, 13);
        assert_eq!(o.external_set_mark_chain, None);
        let o = Options::from_conf(&base(json!({"snat": false, "markMasqBit": 0,
            "conditionsV4": [], "conditionsV6": null, "backend": "nftables"})))
        .unwrap();
        assert!(!o.snat);
        assert_eq!(o.mark_masq_bit, 0);
    }

    #[test]
    fn non_empty_conditions_are_code_2_naming_key_and_value() {
        for (key, value) in [
            ("conditionsV4", json!(["!", "-d", "192.168.0.0/16"])),
            ("conditionsV6", json!(["-s", "fd00::/8"])),
            ("conditionsV4", json!("-d 10.0.0.0/8")),
        ] {
            let e = Options::from_conf(&base(json!({ key: value.clone() }))).unwrap_err();
            assert_eq!(e.code, code::UNSUPPORTED_FIELD, "{key}: {e}");
            assert!(
                e.msg.contains(key) && e.msg.contains(&value.to_string()),
                "{e}"
            );
            assert!(
                e.details.contains(key) && e.details.contains(&value.to_string()),
                "{e}"
            );
        }
    }

    #[test]
    fn option_validation() {
        for bad in [
            json!({"markMasqBit": 32}),
            json!({"markMasqBit": -1}),
            json!({"markMasqBit": 5, "externalSetMarkChain": "X"}),
            json!({"backend": "ebpf"}),
            json!({"snat": "yes"}),
        ] {
            let e = Options::from_conf(&base(bad.clone())).unwrap_err();
            assert_eq!(e.code, code::INVALID_NETWORK_CONFIG, "{bad}: {e}");
        }
        let e = Options::from_conf(&base(
            json!({"markMasqBit": 5, "externalSetMarkChain": "X"}),
        ))
        .unwrap_err();
        assert!(e.details.contains("externalSetMarkChain"), "{e}");
        assert!(
            Options::from_conf(&base(json!({"externalSetMarkChain": "X"})))
                .unwrap()
                .external_set_mark_chain
                .is_some()
        );
        assert_eq!(
            Options::from_conf(&base(json!({"markMasqBit": 31})))
                .unwrap()
                .mark_masq_bit,
            31
        );
    }

    fn maps(v: Value) -> Result<Vec<PortMapping>, CniError> {
        port_mappings(&base(json!({"runtimeConfig": {"portMappings": v}})))
    }

    #[test]
    fn mappings_parse() {
        let m = maps(json!([
            {"hostPort": 8080, "containerPort": 80},
            {"hostPort": 53, "containerPort": 5353, "protocol": "UDP", "hostIP": "192.168.1.1"},
            {"hostPort": 9, "containerPort": 9, "protocol": "sctp", "hostIP": "::"},
            {"hostPort": 10, "containerPort": 10, "protocol": "", "hostIP": ""}
        ]))
        .unwrap();
        assert_eq!(
            m[0],
            PortMapping {
                host_port: 8080,
                container_port: 80,
                protocol: Protocol::Tcp,
                host_ip: None
            }
        );
        assert_eq!(m[1].protocol, Protocol::Udp);
        assert_eq!(m[1].host_ip, Some("192.168.1.1".parse().unwrap()));
        assert_eq!(m[2].protocol, Protocol::Sctp);
        assert_eq!(m[2].host_ip, Some("::".parse().unwrap()));
        assert_eq!((m[3].protocol, m[3].host_ip), (Protocol::Tcp, None));
        assert!(maps(Value::Null).unwrap().is_empty());
        assert!(port_mappings(&base(json!({}))).unwrap().is_empty());
    }

    #[test]
    fn go_cni_field_names_are_accepted() {
        // containerd 1.6 (go-cni structs without JSON tags) sends these keys.
        let m = maps(json!([
            {"HostPort": 8080, "ContainerPort": 80, "Protocol": "tcp", "HostIP": ""},
            {"HostPort": 5353, "ContainerPort": 53, "Protocol": "udp", "HostIP": "10.0.0.1"}
        ]))
        .unwrap();
        assert_eq!((m[0].host_port, m[0].container_port), (8080, 80));
        assert_eq!((m[0].protocol, m[0].host_ip), (Protocol::Tcp, None));
        assert_eq!(m[1].protocol, Protocol::Udp);
        assert_eq!(m[1].host_ip, Some("10.0.0.1".parse().unwrap()));
        let e = maps(json!([{"HostPort": 0, "ContainerPort": 80}])).unwrap_err();
        assert!(e.details.contains("hostPort"), "{e}");
    }

    #[test]
    fn invalid_mappings_fail_whole_list() {
        for (bad, field) in [
            (json!({"hostPort": 0, "containerPort": 80}), "hostPort"),
            (json!({"hostPort": 70000, "containerPort": 80}), "hostPort"),
            (json!({"hostPort": -1, "containerPort": 80}), "hostPort"),
            (json!({"containerPort": 80}), "hostPort"),
            (json!({"hostPort": 80, "containerPort": 0}), "containerPort"),
            (
                json!({"hostPort": 80, "containerPort": 80, "protocol": "icmp"}),
                "protocol",
            ),
            (
                json!({"hostPort": 80, "containerPort": 80, "hostIP": "nope"}),
                "hostIP",
            ),
            (json!({"hostPort": "80", "containerPort": 80}), "[1]"),
        ] {
            let list = json!([{"hostPort": 8080, "containerPort": 80}, bad]);
            let e = maps(list).unwrap_err();
            assert_eq!(e.code, code::INVALID_NETWORK_CONFIG, "{e}");
            assert!(e.details.contains(field), "{field}: {e}");
            assert!(e.details.contains("[1]"), "{e}");
        }
        assert!(maps(json!({"hostPort": 1})).is_err());
    }
}
