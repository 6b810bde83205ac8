//! Network options (`podman network create -d cnm -o key=value`): each key
//! netavark's own bridge knows is either supported with the same meaning
//! or refused by name with the reason; our own keys are listed in
//! [`KNOWN`]; any other key is refused (a typo must never be ignored).
//! docs/podman.md has the table.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::error::PluginError;

/// Which of our drivers serves the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DriverKind {
    /// The bridge driver (`simplebridge`'s).
    Bridge,
    /// The overlay driver: the cluster's VXLAN network through the node
    /// agent's bridge and address blocks (docs/overlay.md).
    Overlay,
}

impl DriverKind {
    /// The option value.
    pub fn name(self) -> &'static str {
        match self {
            DriverKind::Bridge => "bridge",
            DriverKind::Overlay => "overlay",
        }
    }
}

/// The options, parsed and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkOptions {
    /// `driver`.
    pub driver: DriverKind,
    /// `mtu` / `com.docker.network.driver.mtu`.
    pub mtu: Option<u32>,
    /// `vlan` (0: none).
    pub vlan: u16,
    /// `metric`: of the default routes (netavark's default: 100).
    pub metric: u32,
    /// `no_default_route`.
    pub no_default_route: bool,
    /// `macspoofchk`: drop frames from the container with another source MAC.
    pub mac_spoof_check: bool,
    /// `com.docker.network.bridge.name` (create moves it to
    /// `network_interface`).
    pub bridge_name: Option<String>,
    /// `overlay_state_dir`: where the node agent writes its state (overlay).
    pub overlay_state_dir: Option<PathBuf>,
}

/// netavark's default route metric.
pub const DEFAULT_METRIC: u32 = 100;
/// MTU bounds the kernel accepts for Ethernet-like links.
pub const MTU_RANGE: std::ops::RangeInclusive<u32> = 68..=65535;

/// Every key this plugin accepts.
pub const KNOWN: &[&str] = &[
    "driver",
    "mtu",
    "com.docker.network.driver.mtu",
    "vlan",
    "metric",
    "no_default_route",
    "isolate",
    "mode",
    "macspoofchk",
    "com.docker.network.bridge.name",
    "overlay_state_dir",
];

/// Keys of netavark's drivers this plugin refuses, with the reason.
const REFUSED: &[(&str, &str)] = &[
    (
        "vrf",
        "the cnm bridge is not put into a VRF; leave the option out",
    ),
    (
        "outbound_addr4",
        "the cnm bridge masquerades (source address chosen by the kernel) and cannot SNAT to a fixed address",
    ),
    (
        "outbound_addr6",
        "the cnm bridge masquerades (source address chosen by the kernel) and cannot SNAT to a fixed address",
    ),
    ("bclim", "bclim is a macvlan option"),
    (
        "host_interface_name",
        "the host veth's name is derived from the container id and interface name (teardown finds it without the container's namespace)",
    ),
    ("parent", "parent is a macvlan/ipvlan option"),
];

/// Go's `strconv.ParseBool`, which Podman uses for boolean options.
pub fn parse_bool(key: &str, v: &str) -> Result<bool, PluginError> {
    match v {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err(PluginError::invalid(format!(
            "option {key}={v:?}: expected true or false"
        ))),
    }
}

fn parse_u32(key: &str, v: &str) -> Result<u32, PluginError> {
    v.parse::<u32>().map_err(|_| {
        PluginError::invalid(format!(
            "option {key}={v:?}: expected a non-negative integer"
        ))
    })
}

fn parse_mtu(key: &str, v: &str) -> Result<Option<u32>, PluginError> {
    let mtu = parse_u32(key, v)?;
    if mtu == 0 {
        return Ok(None);
    }
    if !MTU_RANGE.contains(&mtu) {
        return Err(PluginError::invalid(format!(
            "option {key}={v}: the MTU must be between {} and {} (0: the default)",
            MTU_RANGE.start(),
            MTU_RANGE.end()
        )));
    }
    Ok(Some(mtu))
}

impl NetworkOptions {
    /// Parse and check `options` (absent: all defaults).
    pub fn parse(options: Option<&BTreeMap<String, String>>) -> Result<Self, PluginError> {
        let mut o = NetworkOptions {
            driver: DriverKind::Bridge,
            mtu: None,
            vlan: 0,
            metric: DEFAULT_METRIC,
            no_default_route: false,
            mac_spoof_check: false,
            bridge_name: None,
            overlay_state_dir: None,
        };
        let Some(options) = options else {
            return Ok(o);
        };
        if options.contains_key("mtu") && options.contains_key("com.docker.network.driver.mtu") {
            return Err(PluginError::invalid(
                "options mtu and com.docker.network.driver.mtu are both set: give one",
            ));
        }
        for (key, v) in options {
            let key = key.as_str();
            match key {
                "driver" => {
                    o.driver = match v.as_str() {
                        "bridge" | "" => DriverKind::Bridge,
                        "overlay" => DriverKind::Overlay,
                        _ => {
                            return Err(PluginError::invalid(format!(
                                "option driver={v:?}: expected bridge or overlay"
                            )))
                        }
                    }
                }
                "mtu" | "com.docker.network.driver.mtu" => o.mtu = parse_mtu(key, v)?,
                "vlan" => {
                    let id = parse_u32(key, v)?;
                    if id > 4094 {
                        return Err(PluginError::invalid(format!(
                            "option vlan={v}: the VLAN ID must be between 0 and 4094"
                        )));
                    }
                    o.vlan = id as u16;
                }
                "metric" => o.metric = parse_u32(key, v)?,
                "no_default_route" => o.no_default_route = parse_bool(key, v)?,
                "macspoofchk" => o.mac_spoof_check = parse_bool(key, v)?,
                "isolate" => {
                    // Only "false" is what this plugin does.
                    if v != "false" && parse_bool(key, v).ok() != Some(false) {
                        return Err(PluginError::unsupported(format!(
                            "option isolate={v}: not supported: cnm networks are not isolated \
                             from each other by firewall rules (only isolate=false is accepted)"
                        )));
                    }
                }
                "mode" => {
                    if v != "managed" {
                        return Err(PluginError::unsupported(format!(
                            "option mode={v}: not supported: the cnm bridge is always managed \
                             (it creates the bridge and gives it the gateway address)"
                        )));
                    }
                }
                "com.docker.network.bridge.name" => {
                    cnm_names::validate_ifname_strict(v).map_err(|e| {
                        PluginError::invalid(format!("option com.docker.network.bridge.name: {e}"))
                    })?;
                    o.bridge_name = Some(v.clone());
                }
                "overlay_state_dir" => {
                    if v.is_empty() || !v.starts_with('/') {
                        return Err(PluginError::invalid(format!(
                            "option overlay_state_dir={v:?}: expected an absolute path"
                        )));
                    }
                    o.overlay_state_dir = Some(PathBuf::from(v));
                }
                other => {
                    if let Some((_, why)) = REFUSED.iter().find(|(k, _)| *k == other) {
                        return Err(PluginError::unsupported(format!(
                            "option {other}: not supported: {why}"
                        )));
                    }
                    return Err(PluginError::invalid(format!(
                        "unknown option {other:?}: the cnm driver accepts {}",
                        KNOWN.join(", ")
                    )));
                }
            }
        }
        if o.overlay_state_dir.is_some() && o.driver != DriverKind::Overlay {
            return Err(PluginError::invalid(
                "option overlay_state_dir needs driver=overlay",
            ));
        }
        if o.driver == DriverKind::Overlay {
            for (set, key) in [
                (o.vlan != 0, "vlan"),
                (o.bridge_name.is_some(), "com.docker.network.bridge.name"),
                (o.mtu.is_some(), "mtu"),
            ] {
                if set {
                    return Err(PluginError::invalid(format!(
                        "option {key} cannot be used with driver=overlay: the node agent \
                         chooses the overlay's bridge, MTU and VNI"
                    )));
                }
            }
        }
        Ok(o)
    }
}

/// Check a container's own options on the network (`--network
/// net:key=value`): netavark's bridge knows only `host_interface_name`,
/// refused here; anything else is unknown.
pub fn check_container_options(
    options: Option<&BTreeMap<String, String>>,
) -> Result<(), PluginError> {
    let Some(options) = options else {
        return Ok(());
    };
    if let Some(key) = options.keys().next() {
        if let Some((_, why)) = REFUSED.iter().find(|(k, _)| *k == key) {
            return Err(PluginError::unsupported(format!(
                "container network option {key}: not supported: {why}"
            )));
        }
        return Err(PluginError::invalid(format!(
            "unknown container network option {key:?}: the cnm driver has none"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn parse(pairs: &[(&str, &str)]) -> Result<NetworkOptions, PluginError> {
        NetworkOptions::parse(Some(&opts(pairs)))
    }

    #[test]
    fn defaults() {
        let o = NetworkOptions::parse(None).expect("none");
        assert_eq!(o.driver, DriverKind::Bridge);
        assert_eq!(o.metric, 100);
        assert_eq!(o.vlan, 0);
        assert_eq!(o, parse(&[]).expect("empty"));
    }

    #[test]
    fn supported_options() {
        let o = parse(&[
            ("mtu", "1400"),
            ("vlan", "42"),
            ("metric", "200"),
            ("no_default_route", "1"),
            ("isolate", "false"),
            ("mode", "managed"),
            ("macspoofchk", "true"),
            ("com.docker.network.bridge.name", "br-x"),
        ])
        .expect("valid");
        assert_eq!(o.mtu, Some(1400));
        assert_eq!(o.vlan, 42);
        assert_eq!(o.metric, 200);
        assert!(o.no_default_route && o.mac_spoof_check);
        assert_eq!(o.bridge_name.as_deref(), Some("br-x"));
        let o = parse(&[("com.docker.network.driver.mtu", "9000")]).expect("docker mtu");
        assert_eq!(o.mtu, Some(9000));
        let o = parse(&[("driver", "overlay"), ("overlay_state_dir", "/run/x")]).expect("ov");
        assert_eq!(o.driver, DriverKind::Overlay);
    }

    #[test]
    fn refused_by_name_or_unknown() {
        for (pairs, want) in [
            (vec![("vrf", "blue")], "option vrf: not supported"),
            (vec![("outbound_addr4", "1.2.3.4")], "cannot SNAT"),
            (vec![("isolate", "true")], "isolate=true: not supported"),
            (vec![("isolate", "strict")], "isolate=strict: not supported"),
            (vec![("mode", "unmanaged")], "mode=unmanaged: not supported"),
            (vec![("colour", "red")], "unknown option \"colour\""),
            (vec![("mtu", "12")], "between 68 and 65535"),
            (vec![("mtu", "x")], "non-negative integer"),
            (vec![("vlan", "4095")], "between 0 and 4094"),
            (
                vec![("no_default_route", "maybe")],
                "expected true or false",
            ),
            (vec![("driver", "macvlan")], "expected bridge or overlay"),
            (
                vec![("com.docker.network.bridge.name", "a-name-far-too-long")],
                "longer than 15",
            ),
            (
                vec![("mtu", "1500"), ("com.docker.network.driver.mtu", "1500")],
                "both set",
            ),
            (vec![("overlay_state_dir", "/x")], "needs driver=overlay"),
            (
                vec![("driver", "overlay"), ("vlan", "3")],
                "cannot be used with driver=overlay",
            ),
        ] {
            let e = parse(&pairs).expect_err(want);
            assert!(e.to_string().contains(want), "{pairs:?}: {e}");
        }
    }

    #[test]
    fn container_options() {
        assert!(check_container_options(None).is_ok());
        assert!(check_container_options(Some(&opts(&[]))).is_ok());
        let e = check_container_options(Some(&opts(&[("host_interface_name", "v0")])))
            .expect_err("refused");
        assert!(
            e.to_string().contains("host_interface_name: not supported"),
            "{e}"
        );
        let e = check_container_options(Some(&opts(&[("x", "y")]))).expect_err("unknown");
        assert!(
            e.to_string().contains("unknown container network option"),
            "{e}"
        );
    }
}
