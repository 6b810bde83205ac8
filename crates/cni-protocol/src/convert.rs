//! Per-version result shapes: printing the canonical [`CniResult`] in any
//! supported `cniVersion` and parsing any version's JSON back into it
//! (spec §Result; libcni `types/{020,040,100}` and `internal/convert.go`).

use std::net::IpAddr;

use ipnet::IpNet;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::error::{code, CniError};
use crate::result::{CniResult, Dns, Interface, IpConfig, Route};
use crate::version::{is_supported, Version, SUPPORTED_VERSIONS};

/// Keys that Go plugins may print as `""` meaning "absent".
const EMPTY_MEANS_ABSENT: &[&str] = &["gateway", "gw", "mac", "sandbox", "socketPath", "pciID"];

impl CniResult {
    /// The result JSON in `version`'s shape, `cniVersion` set to `version`
    /// (`""` means 0.1.0). Converting to 0.1.0/0.2.0 is lossy and fails
    /// when there is no IP address at all.
    pub fn to_json(&self, version: &str) -> Result<Value, CniError> {
        let target = resolve_version(version, "result")?;
        let parsed: Version = target.parse()?;
        if parsed < Version::V0_3_0 {
            self.to_json_020(target)
        } else {
            Ok(self.to_json_rich(target, parsed))
        }
    }

    /// Parses a result of any supported version. A missing or empty
    /// `cniVersion` in `v` means `version_hint` (as libcni's
    /// `fixupResultVersion`); the returned result keeps the version it was
    /// parsed as. Malformed content gives code 6, an unsupported version 1.
    pub fn from_json(v: &Value, version_hint: &str) -> Result<CniResult, CniError> {
        let obj = v.as_object().ok_or_else(|| {
            CniError::decoding(
                "failed to decode result",
                format!("expected a JSON object, got {}", kind(v)),
            )
        })?;
        let declared = match obj.get("cniVersion") {
            None | Some(Value::Null) => "",
            Some(Value::String(s)) => s.as_str(),
            Some(other) => {
                return Err(CniError::decoding(
                    "failed to decode result",
                    format!("cniVersion: expected a string, got {}", kind(other)),
                ))
            }
        };
        let chosen = if declared.is_empty() {
            version_hint
        } else {
            declared
        };
        let ver = resolve_version(chosen, "result")?;
        let parsed: Version = ver.parse()?;
        let mut res = if parsed < Version::V0_3_0 {
            parse_020(obj, ver)?
        } else {
            parse_rich(obj, ver, parsed)?
        };
        res.cni_version = ver.to_string();
        Ok(res)
    }

    fn to_json_020(&self, target: &str) -> Result<Value, CniError> {
        let ip4 = self.ips.iter().find(|ip| ip.address.addr().is_ipv4());
        let ip6 = self.ips.iter().find(|ip| ip.address.addr().is_ipv6());
        if ip4.is_none() && ip6.is_none() {
            return Err(CniError::new(
                code::INCOMPATIBLE_VERSION,
                "cannot convert: no valid IP addresses",
                format!("a {target} result needs at least one IP address; this result has none"),
            ));
        }
        let mut obj = Map::new();
        obj.insert("cniVersion".into(), json!(target));
        for (key, ip, want_v4) in [("ip4", ip4, true), ("ip6", ip6, false)] {
            let Some(ip) = ip else { continue };
            let mut entry = Map::new();
            entry.insert("ip".into(), json!(ip.address.to_string()));
            if let Some(gw) = ip.gateway {
                entry.insert("gateway".into(), json!(gw.to_string()));
            }
            let routes: Vec<Value> = self
                .routes
                .iter()
                .filter(|r| r.dst.addr().is_ipv4() == want_v4)
                .map(|r| route_json(r, false))
                .collect();
            if !routes.is_empty() {
                entry.insert("routes".into(), Value::Array(routes));
            }
            obj.insert(key.into(), Value::Object(entry));
        }
        insert_dns(&mut obj, &self.dns);
        Ok(Value::Object(obj))
    }

    fn to_json_rich(&self, target: &str, v: Version) -> Value {
        let with_version = v < Version::V1_0_0;
        let v11 = v >= Version::V1_1_0;
        let mut obj = Map::new();
        obj.insert("cniVersion".into(), json!(target));
        if !self.interfaces.is_empty() {
            let ifs = self
                .interfaces
                .iter()
                .map(|i| interface_json(i, v11))
                .collect();
            obj.insert("interfaces".into(), Value::Array(ifs));
        }
        if !self.ips.is_empty() {
            let ips = self
                .ips
                .iter()
                .map(|ip| ip_json(ip, with_version))
                .collect();
            obj.insert("ips".into(), Value::Array(ips));
        }
        if !self.routes.is_empty() {
            let routes = self.routes.iter().map(|r| route_json(r, v11)).collect();
            obj.insert("routes".into(), Value::Array(routes));
        }
        insert_dns(&mut obj, &self.dns);
        Value::Object(obj)
    }
}

/// `""` -> 0.1.0; anything not in [`SUPPORTED_VERSIONS`] -> code 1.
fn resolve_version<'a>(v: &'a str, what: &str) -> Result<&'a str, CniError> {
    let v = if v.is_empty() { "0.1.0" } else { v };
    if is_supported(v) {
        Ok(v)
    } else {
        Err(CniError::incompatible_version(
            format!("unsupported {what} version"),
            format!(
                "{what} is {v:?}, supported: [{}]",
                SUPPORTED_VERSIONS.join(" ")
            ),
        ))
    }
}

use crate::config::json_kind as kind;

fn insert_dns(obj: &mut Map<String, Value>, dns: &Dns) {
    if dns.is_empty() {
        return;
    }
    let mut d = Map::new();
    if !dns.nameservers.is_empty() {
        d.insert("nameservers".into(), json!(dns.nameservers));
    }
    if let Some(domain) = dns.domain.as_deref().filter(|d| !d.is_empty()) {
        d.insert("domain".into(), json!(domain));
    }
    if !dns.search.is_empty() {
        d.insert("search".into(), json!(dns.search));
    }
    if !dns.options.is_empty() {
        d.insert("options".into(), json!(dns.options));
    }
    obj.insert("dns".into(), Value::Object(d));
}

fn interface_json(i: &Interface, v11: bool) -> Value {
    let mut o = Map::new();
    o.insert("name".into(), json!(i.name));
    if let Some(mac) = i.mac.as_deref().filter(|m| !m.is_empty()) {
        o.insert("mac".into(), json!(mac));
    }
    if v11 {
        if let Some(mtu) = i.mtu.filter(|m| *m != 0) {
            o.insert("mtu".into(), json!(mtu));
        }
    }
    if let Some(sb) = i.sandbox.as_deref().filter(|s| !s.is_empty()) {
        o.insert("sandbox".into(), json!(sb));
    }
    if v11 {
        if let Some(sp) = i.socket_path.as_deref().filter(|s| !s.is_empty()) {
            o.insert("socketPath".into(), json!(sp));
        }
        if let Some(pci) = i.pci_id.as_deref().filter(|s| !s.is_empty()) {
            o.insert("pciID".into(), json!(pci));
        }
    }
    Value::Object(o)
}

fn ip_json(ip: &IpConfig, with_version: bool) -> Value {
    let mut o = Map::new();
    if with_version {
        let fam = if ip.address.addr().is_ipv4() {
            "4"
        } else {
            "6"
        };
        o.insert("version".into(), json!(fam));
    }
    if let Some(idx) = ip.interface {
        o.insert("interface".into(), json!(idx));
    }
    o.insert("address".into(), json!(ip.address.to_string()));
    if let Some(gw) = ip.gateway {
        o.insert("gateway".into(), json!(gw.to_string()));
    }
    Value::Object(o)
}

fn route_json(r: &Route, v11: bool) -> Value {
    let mut o = Map::new();
    o.insert("dst".into(), json!(r.dst.to_string()));
    if let Some(gw) = r.gw {
        o.insert("gw".into(), json!(gw.to_string()));
    }
    if v11 {
        let extras = [
            ("mtu", r.mtu),
            ("advmss", r.advmss),
            ("priority", r.priority),
            ("table", r.table),
            ("scope", r.scope.map(u32::from)),
        ];
        for (k, val) in extras {
            if let Some(val) = val {
                o.insert(k.into(), json!(val));
            }
        }
    }
    Value::Object(o)
}

fn decode_err(ver: &str, details: String) -> CniError {
    CniError::decoding(format!("failed to decode {ver} result"), details)
}

/// Drops `"key": ""` and `"key": null` for keys where Go prints an empty
/// string for "absent", so the typed structs accept them.
fn cleaned(v: &Value) -> Value {
    match v {
        Value::Object(o) => Value::Object(
            o.iter()
                .filter(|(k, val)| {
                    !(EMPTY_MEANS_ABSENT.contains(&k.as_str())
                        && (val.is_null() || val.as_str() == Some("")))
                })
                .map(|(k, val)| (k.clone(), val.clone()))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// The elements of an optional array member (`null`/absent = empty).
fn array<'a>(obj: &'a Map<String, Value>, key: &str, ver: &str) -> Result<&'a [Value], CniError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(a)) => Ok(a),
        Some(other) => Err(decode_err(
            ver,
            format!("{key}: expected an array, got {}", kind(other)),
        )),
    }
}

/// Deserializes an object member (serde would also accept an array for a
/// struct, positionally, which no CNI version allows).
fn typed<T: serde::de::DeserializeOwned>(v: &Value, ver: &str, at: &str) -> Result<T, CniError> {
    if !v.is_object() {
        return Err(decode_err(
            ver,
            format!("{at}: expected an object, got {}", kind(v)),
        ));
    }
    serde_json::from_value(cleaned(v)).map_err(|e| decode_err(ver, format!("{at}: {e}")))
}

fn parse_dns(obj: &Map<String, Value>, ver: &str) -> Result<Dns, CniError> {
    match obj.get("dns") {
        None | Some(Value::Null) => Ok(Dns::default()),
        Some(d) => typed(d, ver, "dns"),
    }
}

#[derive(Deserialize)]
struct Ip020 {
    ip: IpNet,
    #[serde(default)]
    gateway: Option<IpAddr>,
    #[serde(default)]
    routes: Option<Vec<Value>>,
}

fn parse_020(obj: &Map<String, Value>, ver: &str) -> Result<CniResult, CniError> {
    let mut res = CniResult::default();
    for (key, want_v4) in [("ip4", true), ("ip6", false)] {
        let Some(raw) = obj.get(key).filter(|v| !v.is_null()) else {
            continue;
        };
        let ip: Ip020 = typed(raw, ver, key)?;
        if ip.ip.addr().is_ipv4() != want_v4 {
            return Err(decode_err(
                ver,
                format!("{key}.ip: {} is of the wrong address family", ip.ip),
            ));
        }
        res.ips.push(IpConfig {
            address: ip.ip,
            gateway: ip.gateway,
            interface: None,
        });
        for (n, r) in ip.routes.unwrap_or_default().iter().enumerate() {
            let route: Route = typed(r, ver, &format!("{key}.routes[{n}]"))?;
            res.routes.push(route);
        }
    }
    res.dns = parse_dns(obj, ver)?;
    Ok(res)
}

fn parse_rich(obj: &Map<String, Value>, ver: &str, parsed: Version) -> Result<CniResult, CniError> {
    let mut res = CniResult::default();
    for (n, i) in array(obj, "interfaces", ver)?.iter().enumerate() {
        res.interfaces
            .push(typed(i, ver, &format!("interfaces[{n}]"))?);
    }
    for (n, raw) in array(obj, "ips", ver)?.iter().enumerate() {
        let at = format!("ips[{n}]");
        let ip: IpConfig = typed(raw, ver, &at)?;
        if parsed < Version::V1_0_0 {
            check_ip_version(raw, &ip, ver, &at)?;
        }
        res.ips.push(ip);
    }
    for (n, r) in array(obj, "routes", ver)?.iter().enumerate() {
        res.routes.push(typed(r, ver, &format!("routes[{n}]"))?);
    }
    res.dns = parse_dns(obj, ver)?;
    Ok(res)
}

/// 0.3.x/0.4.0: `version` is `"4"` or `"6"` and must match the address. A
/// missing (or `""`, Go's zero value) `version` is derived from the address
/// family, as libcni accepts it.
fn check_ip_version(raw: &Value, ip: &IpConfig, ver: &str, at: &str) -> Result<(), CniError> {
    let fam = match raw.get("version") {
        None | Some(Value::Null) => return Ok(()),
        Some(Value::String(s)) => match s.as_str() {
            "" => return Ok(()),
            "4" => true,
            "6" => false,
            other => {
                return Err(decode_err(
                    ver,
                    format!("{at}.version: {other:?} is neither \"4\" nor \"6\""),
                ))
            }
        },
        Some(other) => {
            return Err(decode_err(
                ver,
                format!("{at}.version: expected a string, got {}", kind(other)),
            ))
        }
    };
    if ip.address.addr().is_ipv4() != fam {
        return Err(decode_err(
            ver,
            format!("{at}.version does not match address {}", ip.address),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A result with every 1.1.0 field set, two families, two interfaces.
    fn full() -> CniResult {
        CniResult {
            cni_version: "1.1.0".into(),
            interfaces: vec![
                Interface {
                    name: "cni0".into(),
                    mac: Some("aa:bb:cc:dd:ee:01".into()),
                    mtu: Some(1500),
                    ..Default::default()
                },
                Interface {
                    name: "eth0".into(),
                    mac: Some("aa:bb:cc:dd:ee:02".into()),
                    mtu: Some(1450),
                    sandbox: Some("/run/netns/blue".into()),
                    socket_path: Some("/run/sock".into()),
                    pci_id: Some("0000:00:1f.6".into()),
                },
            ],
            ips: vec![
                IpConfig {
                    address: "10.1.0.5/16".parse().unwrap(),
                    gateway: Some("10.1.0.1".parse().unwrap()),
                    interface: Some(1),
                },
                IpConfig {
                    address: "10.1.0.6/16".parse().unwrap(),
                    gateway: None,
                    interface: Some(1),
                },
                IpConfig {
                    address: "fd00::5/64".parse().unwrap(),
                    gateway: Some("fd00::1".parse().unwrap()),
                    interface: Some(1),
                },
            ],
            routes: vec![
                Route {
                    dst: "0.0.0.0/0".parse().unwrap(),
                    gw: Some("10.1.0.1".parse().unwrap()),
                    mtu: Some(1400),
                    advmss: Some(1360),
                    priority: Some(10),
                    table: Some(100),
                    scope: Some(0),
                },
                Route {
                    dst: "::/0".parse().unwrap(),
                    gw: None,
                    mtu: None,
                    advmss: None,
                    priority: None,
                    table: None,
                    scope: Some(253),
                },
            ],
            dns: Dns {
                nameservers: vec!["10.1.0.1".into()],
                domain: Some("example.org".into()),
                search: vec!["example.org".into()],
                options: vec!["ndots:2".into()],
            },
        }
    }

    fn dns_json() -> Value {
        json!({"nameservers":["10.1.0.1"],"domain":"example.org","search":["example.org"],"options":["ndots:2"]})
    }

    #[test]
    fn golden_1_1_0() {
        let got = full().to_json("1.1.0").unwrap();
        let want = json!({
            "cniVersion": "1.1.0",
            "interfaces": [
                {"name":"cni0","mac":"aa:bb:cc:dd:ee:01","mtu":1500},
                {"name":"eth0","mac":"aa:bb:cc:dd:ee:02","mtu":1450,"sandbox":"/run/netns/blue",
                 "socketPath":"/run/sock","pciID":"0000:00:1f.6"}
            ],
            "ips": [
                {"interface":1,"address":"10.1.0.5/16","gateway":"10.1.0.1"},
                {"interface":1,"address":"10.1.0.6/16"},
                {"interface":1,"address":"fd00::5/64","gateway":"fd00::1"}
            ],
            "routes": [
                {"dst":"0.0.0.0/0","gw":"10.1.0.1","mtu":1400,"advmss":1360,"priority":10,"table":100,"scope":0},
                {"dst":"::/0","scope":253}
            ],
            "dns": dns_json()
        });
        assert_eq!(got, want);
    }

    #[test]
    fn golden_1_0_0_drops_1_1_fields() {
        let got = full().to_json("1.0.0").unwrap();
        let want = json!({
            "cniVersion": "1.0.0",
            "interfaces": [
                {"name":"cni0","mac":"aa:bb:cc:dd:ee:01"},
                {"name":"eth0","mac":"aa:bb:cc:dd:ee:02","sandbox":"/run/netns/blue"}
            ],
            "ips": [
                {"interface":1,"address":"10.1.0.5/16","gateway":"10.1.0.1"},
                {"interface":1,"address":"10.1.0.6/16"},
                {"interface":1,"address":"fd00::5/64","gateway":"fd00::1"}
            ],
            "routes": [{"dst":"0.0.0.0/0","gw":"10.1.0.1"},{"dst":"::/0"}],
            "dns": dns_json()
        });
        assert_eq!(got, want);
    }

    #[test]
    fn golden_0_3_x_and_0_4_0_have_ip_version() {
        for ver in ["0.3.0", "0.3.1", "0.4.0"] {
            let got = full().to_json(ver).unwrap();
            let want = json!({
                "cniVersion": ver,
                "interfaces": [
                    {"name":"cni0","mac":"aa:bb:cc:dd:ee:01"},
                    {"name":"eth0","mac":"aa:bb:cc:dd:ee:02","sandbox":"/run/netns/blue"}
                ],
                "ips": [
                    {"version":"4","interface":1,"address":"10.1.0.5/16","gateway":"10.1.0.1"},
                    {"version":"4","interface":1,"address":"10.1.0.6/16"},
                    {"version":"6","interface":1,"address":"fd00::5/64","gateway":"fd00::1"}
                ],
                "routes": [{"dst":"0.0.0.0/0","gw":"10.1.0.1"},{"dst":"::/0"}],
                "dns": dns_json()
            });
            assert_eq!(got, want, "{ver}");
        }
    }

    #[test]
    fn golden_0_1_0_and_0_2_0_lossy() {
        for ver in ["0.1.0", "0.2.0"] {
            let got = full().to_json(ver).unwrap();
            let want = json!({
                "cniVersion": ver,
                "ip4": {"ip":"10.1.0.5/16","gateway":"10.1.0.1",
                        "routes":[{"dst":"0.0.0.0/0","gw":"10.1.0.1"}]},
                "ip6": {"ip":"fd00::5/64","gateway":"fd00::1","routes":[{"dst":"::/0"}]},
                "dns": dns_json()
            });
            assert_eq!(got, want, "{ver}");
        }
        // "" is 0.1.0
        assert_eq!(full().to_json("").unwrap()["cniVersion"], "0.1.0");
    }

    #[test]
    fn to_0_2_0_without_ips_fails() {
        let mut r = full();
        r.ips.clear();
        let e = r.to_json("0.2.0").unwrap_err();
        assert_eq!(e.code, code::INCOMPATIBLE_VERSION);
        assert_eq!(e.msg, "cannot convert: no valid IP addresses");
        // Richer versions accept an address-less result (e.g. L2 mode).
        assert!(r.to_json("0.4.0").is_ok());
        assert!(r.to_json("1.1.0").is_ok());
    }

    #[test]
    fn to_0_2_0_routes_follow_their_family_ip() {
        let mut r = full();
        r.ips.retain(|ip| ip.address.addr().is_ipv4());
        let got = r.to_json("0.2.0").unwrap();
        assert!(got.get("ip6").is_none());
        assert_eq!(
            got["ip4"]["routes"],
            json!([{"dst":"0.0.0.0/0","gw":"10.1.0.1"}])
        );
    }

    #[test]
    fn empty_dns_and_lists_omitted() {
        let r = CniResult {
            cni_version: "1.0.0".into(),
            ips: vec![IpConfig {
                address: "10.0.0.2/24".parse().unwrap(),
                gateway: None,
                interface: None,
            }],
            ..Default::default()
        };
        for ver in ["1.1.0", "1.0.0"] {
            assert_eq!(
                r.to_json(ver).unwrap(),
                json!({"cniVersion":ver,"ips":[{"address":"10.0.0.2/24"}]})
            );
        }
        assert_eq!(
            r.to_json("0.4.0").unwrap(),
            json!({"cniVersion":"0.4.0","ips":[{"version":"4","address":"10.0.0.2/24"}]})
        );
        assert_eq!(
            r.to_json("0.2.0").unwrap(),
            json!({"cniVersion":"0.2.0","ip4":{"ip":"10.0.0.2/24"}})
        );
    }

    #[test]
    fn unsupported_target_is_code_1() {
        for v in ["0.5.0", "2.0.0", "1.1", "junk"] {
            assert_eq!(full().to_json(v).unwrap_err().code, 1, "{v}");
        }
    }

    #[test]
    fn round_trip_every_version() {
        for ver in SUPPORTED_VERSIONS {
            let printed = full().to_json(ver).unwrap();
            let back = CniResult::from_json(&printed, "1.1.0").unwrap();
            assert_eq!(back.cni_version, *ver);
            // Printing again in the same version is a fixed point.
            assert_eq!(back.to_json(ver).unwrap(), printed, "{ver}");
        }
        // 1.1.0 is lossless.
        let back = CniResult::from_json(&full().to_json("1.1.0").unwrap(), "").unwrap();
        assert_eq!(back, full());
    }

    #[test]
    fn upconvert_0_2_0_to_1_1_0() {
        let old = json!({
            "cniVersion":"0.2.0",
            "ip4":{"ip":"10.1.0.5/16","gateway":"10.1.0.1","routes":[{"dst":"0.0.0.0/0"}]},
            "ip6":{"ip":"fd00::5/64","routes":[{"dst":"::/0","gw":"fd00::1"}]},
            "dns":{}
        });
        let r = CniResult::from_json(&old, "1.1.0").unwrap();
        assert_eq!(
            r.to_json("1.1.0").unwrap(),
            json!({
                "cniVersion":"1.1.0",
                "ips":[{"address":"10.1.0.5/16","gateway":"10.1.0.1"},{"address":"fd00::5/64"}],
                "routes":[{"dst":"0.0.0.0/0"},{"dst":"::/0","gw":"fd00::1"}]
            })
        );
    }

    #[test]
    fn missing_version_uses_hint_and_empty_hint_is_0_1_0() {
        let v = json!({"ips":[{"address":"10.0.0.2/24"}]});
        assert_eq!(
            CniResult::from_json(&v, "1.0.0").unwrap().cni_version,
            "1.0.0"
        );
        // Under 0.4.0 rules a missing `version` is derived (see
        // `missing_ip_version_is_derived_from_the_address`).
        let r = CniResult::from_json(&v, "0.4.0").unwrap();
        assert_eq!(r.cni_version, "0.4.0");
        let v = json!({"ip4":{"ip":"10.0.0.2/24"}});
        let r = CniResult::from_json(&v, "").unwrap();
        assert_eq!(r.cni_version, "0.1.0");
        assert_eq!(r.ips.len(), 1);
    }

    #[test]
    fn missing_ip_version_is_derived_from_the_address() {
        for ver in ["0.3.0", "0.3.1", "0.4.0"] {
            let v = json!({"cniVersion": ver, "ips": [
                {"address": "10.0.0.2/24"},
                {"version": "", "address": "fd00::2/64"},
                {"version": null, "address": "10.0.0.3/24", "gateway": "10.0.0.1"}]});
            let r = CniResult::from_json(&v, "").unwrap();
            assert_eq!(r.ips.len(), 3, "{ver}");
            // Printed again in the same version, the version is filled in.
            let back = r.to_json(ver).unwrap();
            assert_eq!(back["ips"][0]["version"], "4", "{ver}");
            assert_eq!(back["ips"][1]["version"], "6", "{ver}");
            assert_eq!(back["ips"][2]["version"], "4", "{ver}");
        }
        // A present but wrong or mismatched version is still an error.
        for (ip, needle) in [
            (
                json!({"version": "6", "address": "10.0.0.2/24"}),
                "does not match",
            ),
            (
                json!({"version": "4", "address": "fd00::2/64"}),
                "does not match",
            ),
            (json!({"version": "7", "address": "10.0.0.2/24"}), "neither"),
            (
                json!({"version": 4, "address": "10.0.0.2/24"}),
                "expected a string",
            ),
        ] {
            let v = json!({"cniVersion": "0.4.0", "ips": [ip]});
            let e = CniResult::from_json(&v, "").unwrap_err();
            assert_eq!(e.code, code::DECODING_FAILURE, "{v}");
            assert!(e.details.contains("ips[0].version"), "{v}: {e}");
            assert!(e.details.contains(needle), "{v}: {e}");
        }
    }

    #[test]
    fn go_empty_strings_are_absent() {
        let v = json!({"cniVersion":"0.4.0",
            "interfaces":[{"name":"eth0","mac":"","sandbox":""}],
            "ips":[{"version":"4","address":"10.0.0.2/24","gateway":""}],
            "routes":[{"dst":"0.0.0.0/0","gw":""}],
            "dns":{"domain":""}});
        let r = CniResult::from_json(&v, "").unwrap();
        assert_eq!(r.interfaces[0].mac, None);
        assert_eq!(r.ips[0].gateway, None);
        assert_eq!(r.routes[0].gw, None);
        assert!(r.dns.is_empty());
        assert!(r.to_json("1.0.0").unwrap().get("dns").is_none());
    }

    #[test]
    fn parse_errors() {
        let cases = [
            (json!([1, 2]), code::DECODING_FAILURE, "object"),
            (
                json!({"cniVersion": 1}),
                code::DECODING_FAILURE,
                "cniVersion",
            ),
            (
                json!({"cniVersion": "7.0.0"}),
                code::INCOMPATIBLE_VERSION,
                "7.0.0",
            ),
            (
                json!({"cniVersion":"1.0.0","ips":{}}),
                code::DECODING_FAILURE,
                "ips",
            ),
            (
                json!({"cniVersion":"1.0.0","ips":[{"address":"nope"}]}),
                code::DECODING_FAILURE,
                "ips[0]",
            ),
            (
                json!({"cniVersion":"1.0.0","interfaces":[{"mac":"x"}]}),
                code::DECODING_FAILURE,
                "interfaces[0]",
            ),
            (
                json!({"cniVersion":"1.0.0","routes":[{"gw":"10.0.0.1"}]}),
                code::DECODING_FAILURE,
                "routes[0]",
            ),
            (
                json!({"cniVersion":"0.4.0","ips":[{"version":"5","address":"10.0.0.2/24"}]}),
                code::DECODING_FAILURE,
                "ips[0].version",
            ),
            (
                json!({"cniVersion":"0.3.1","ips":[{"version":"6","address":"10.0.0.2/24"}]}),
                code::DECODING_FAILURE,
                "does not match",
            ),
            (
                json!({"cniVersion":"0.2.0","ip4":{"ip":"fd00::1/64"}}),
                code::DECODING_FAILURE,
                "ip4.ip",
            ),
            (
                json!({"cniVersion":"0.2.0","ip4":{"gateway":"10.0.0.1"}}),
                code::DECODING_FAILURE,
                "ip4",
            ),
            (
                json!({"cniVersion":"1.1.0","dns":[]}),
                code::DECODING_FAILURE,
                "dns",
            ),
            (
                json!({"cniVersion":"1.1.0","ips":[["10.0.0.2/24"]]}),
                code::DECODING_FAILURE,
                "ips[0]: expected an object",
            ),
            (
                json!({"cniVersion":"0.2.0","ip4":["10.0.0.2/24"]}),
                code::DECODING_FAILURE,
                "ip4",
            ),
        ];
        for (v, c, needle) in cases {
            let e = CniResult::from_json(&v, "1.1.0").unwrap_err();
            assert_eq!(e.code, c, "{v}: {e}");
            assert!(e.to_string().contains(needle), "{v}: {e}");
        }
    }

    #[test]
    fn one_x_keeps_1_1_fields_when_read_as_1_0_but_does_not_print_them() {
        let v = json!({"cniVersion":"1.0.0","interfaces":[{"name":"eth0","mtu":9000}],
                       "routes":[{"dst":"10.0.0.0/8","table":5}]});
        let r = CniResult::from_json(&v, "").unwrap();
        assert_eq!(r.interfaces[0].mtu, Some(9000));
        assert_eq!(
            r.to_json("1.0.0").unwrap(),
            json!({"cniVersion":"1.0.0","interfaces":[{"name":"eth0"}],"routes":[{"dst":"10.0.0.0/8"}]})
        );
        assert_eq!(r.to_json("1.1.0").unwrap()["routes"][0]["table"], 5);
    }
}
