//! Names on `dns_enabled` networks (issue 20): netavark gives plugin
//! networks no aardvark-dns, so the plugin serves them through the model's
//! name service (`cnm_model::NameService`), implemented by the record store
//! of `cnm-dns-records` and answered by `cnm-resolver` on the network's
//! gateway addresses (one resolver per host namespace, started on demand,
//! stopped after the last name of the last network went; docs/names.md).
//!
//! - setup: the container's name (`container_name`) and its aliases
//!   (`network_options.aliases`, Podman adds the short container id) answer
//!   with its addresses, with and without the domain [`DEFAULT_DOMAIN`]
//!   (netavark's and Podman's `dns.podman`: the network JSON has no domain);
//!   the status block lists the resolver's addresses (`dns_server_ips`, the
//!   gateways) and the domain (`dns_search_domains`), which Podman writes
//!   into the container's resolv.conf;
//! - teardown: the names go (keyed by network + container id + interface,
//!   so it needs neither the namespace nor the names);
//! - `internal` networks answer their names and forward nothing;
//!   `network_dns_servers` are the network's forwarders instead of the
//!   host's resolvers.
//!
//! An overlay network (`-o driver=overlay`) with names listens on the
//! gateways of this host's blocks, and the node agent carries its names to
//! the other hosts (docs/overlay.md).

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use cnm_dns_records::{validate_dns_name, Launcher, Store};
use cnm_model::{DnsSettings, EndpointNames, NameService, NetworkNames};
use serde_json::{Map, Value};

use crate::config::{first_host, Attachment, NetworkConfig};
use crate::error::PluginError;
use crate::options::DriverKind;

/// The search domain of every `dns_enabled` network: netavark's
/// `PODMAN_DEFAULT_SEARCH_DOMAIN` (Podman 5 passes no domain to the driver).
pub const DEFAULT_DOMAIN: &str = "dns.podman";

/// Opens the name service when a `dns_enabled` network needs it (a setup
/// or teardown of a network without names never touches the store). The
/// argument says whether the names must be served from now on (setup): a
/// missing resolver is then an error; a teardown only removes names.
pub type NamesOpener = Box<dyn Fn(bool) -> Result<Arc<dyn NameService>, PluginError> + Send + Sync>;

/// The record store of the calling thread's network namespace (the host's,
/// where the gateways are) under `base`, its resolver `cnm-resolver` looked
/// for in `search` (the plugin's directory, then PATH).
pub fn store_opener(base: PathBuf, search: Vec<PathBuf>) -> NamesOpener {
    Box::new(move |serve: bool| {
        let launcher = Launcher::find(&search);
        if serve && launcher.is_none() {
            return Err(PluginError::unsupported(format!(
                "dns_enabled: cnm-resolver, which serves the names, is not installed (looked in \
                 {}); install it next to the plugin, or create the network with --disable-dns",
                search
                    .iter()
                    .map(|d| d.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let store = Store::for_current_netns(&base, launcher).map_err(|e| {
            PluginError::model(
                format!("open the name record store under {}", base.display()),
                e,
            )
        })?;
        Ok(Arc::new(store) as Arc<dyn NameService>)
    })
}

/// The container's names on a `dns_enabled` network: its name first, then
/// its aliases (case-insensitive duplicates dropped). Every one must be a
/// DNS name (letters, digits, `-`, `_`, labels of 1-63 bytes): one that is
/// not is refused, naming it, before anything is created.
pub fn endpoint_names(att: &Attachment) -> Result<EndpointNames, PluginError> {
    let check = |what: &str, n: &str| {
        validate_dns_name(n).map_err(|e| {
            PluginError::invalid(format!(
                "{what} {n:?} cannot be a name on a network with DNS enabled: {e}"
            ))
        })
    };
    check("container_name", &att.container_name)?;
    let mut seen = vec![att.container_name.to_ascii_lowercase()];
    let mut aliases = Vec::new();
    for a in &att.aliases {
        check("alias", a)?;
        let lower = a.to_ascii_lowercase();
        if !seen.contains(&lower) {
            seen.push(lower);
            aliases.push(a.clone());
        }
    }
    Ok(EndpointNames {
        name: att.container_name.clone(),
        aliases,
    })
}

/// The gateways of this host's blocks of an overlay network (the node
/// agent's state): where its resolver listens.
fn overlay_gateways(net: &NetworkConfig) -> Result<Vec<IpAddr>, PluginError> {
    let mut o = Map::new();
    if let Some(d) = &net.options.overlay_state_dir {
        o.insert("stateDir".into(), Value::from(d.display().to_string()));
    }
    let st = cnm_overlay::OverlayConfig::from_options(&net.name, &o)
        .and_then(|c| c.load_state())
        .map_err(|e| PluginError::model(format!("overlay network {:?}", net.name), e))?;
    Ok(st.blocks.iter().filter_map(first_host).collect())
}

/// A network's name settings: the domain, internal (no forwarding), its
/// forwarders, its subnets, and where the resolver listens (the subnets'
/// gateways; the overlay's: this host's blocks' gateways).
pub fn network_names(net: &NetworkConfig) -> Result<NetworkNames, PluginError> {
    let listen = match net.options.driver {
        DriverKind::Bridge => {
            let mut l: Vec<IpAddr> = Vec::new();
            for g in net.subnets.iter().filter_map(|s| s.gateway) {
                if !l.contains(&g) {
                    l.push(g);
                }
            }
            l
        }
        DriverKind::Overlay => overlay_gateways(net)?,
    };
    if listen.is_empty() {
        return Err(PluginError::invalid(format!(
            "network {:?} has DNS enabled but no gateway address for its name server to listen on",
            net.name
        )));
    }
    Ok(NetworkNames {
        domain: Some(DEFAULT_DOMAIN.to_string()),
        internal: net.internal,
        listen,
        upstreams: net
            .dns_servers
            .iter()
            .map(|a| SocketAddr::new(*a, 53))
            .collect(),
        subnets: net.subnets.iter().map(|s| s.subnet).collect(),
    })
}

/// The status block's `dns_server_ips` and `dns_search_domains` from the
/// endpoint's DNS settings (what the name service returned at join).
pub fn status_dns(dns: &DnsSettings) -> (Vec<IpAddr>, Vec<String>) {
    (
        dns.nameservers
            .iter()
            .filter_map(|s| s.parse().ok())
            .collect(),
        dns.search.clone(),
    )
}

/// Where stores live: `/run/cnm/dns` as root, `$XDG_RUNTIME_DIR/cnm/dns`
/// for a rootless Podman (as the `dnsname` plugin).
pub fn store_base(is_root: bool, xdg_runtime_dir: Option<&Path>) -> PathBuf {
    match xdg_runtime_dir {
        Some(x) if !is_root && !x.as_os_str().is_empty() => x.join("cnm/dns"),
        _ => PathBuf::from(cnm_dns_records::DEFAULT_BASE),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{check_attachment, check_network, Stage};
    use crate::types::NetworkPluginExec;
    use serde_json::json;

    fn parsed(v: serde_json::Value) -> (NetworkConfig, Attachment) {
        let exec: NetworkPluginExec = serde_json::from_value(v).expect("shape");
        let net = check_network(&exec.network, Stage::Attach).expect("network");
        let att = check_attachment(&exec, &net, "/run/netns/c1").expect("attachment");
        (net, att)
    }

    fn input(name: &str, aliases: serde_json::Value) -> serde_json::Value {
        json!({
            "container_id": "6ce776ea58b5", "container_name": name,
            "network": {"dns_enabled": true, "driver": "cnm",
                "id": "53ce4390f2adb1681eb1a90ec8b48c49c015e0a8d336c197637e7f65e365fa9e",
                "internal": true, "ipv6_enabled": true, "name": "n1",
                "subnets": [{"subnet": "10.88.0.0/24"}, {"subnet": "fd00:88::/64"}],
                "network_dns_servers": ["10.0.0.53"]},
            "network_options": {"interface_name": "eth0", "aliases": aliases}
        })
    }

    #[test]
    fn names_are_the_container_name_then_its_distinct_aliases() {
        let (_, att) = parsed(input("web", json!(["www", "WEB", "6ce776ea58b5", "www"])));
        let n = endpoint_names(&att).expect("names");
        assert_eq!(n.name, "web");
        assert_eq!(n.aliases, ["www", "6ce776ea58b5"]);
        for (name, aliases, want) in [
            ("web", json!(["bad name"]), "alias \"bad name\""),
            ("web", json!(["-x"]), "alias \"-x\""),
            ("a".repeat(64).as_str(), json!([]), "container_name"),
            ("web", json!(["a..b"]), "alias \"a..b\""),
        ] {
            let (_, att) = parsed(input(name, aliases));
            let e = endpoint_names(&att).expect_err(want);
            assert!(e.to_string().contains(want), "{e}");
        }
    }

    #[test]
    fn the_resolver_listens_on_the_gateways_and_forwards_to_the_networks_servers() {
        let (net, _) = parsed(input("web", json!(null)));
        let n = network_names(&net).expect("settings");
        assert_eq!(n.domain.as_deref(), Some("dns.podman"));
        assert!(n.internal);
        assert_eq!(
            n.listen,
            [
                "10.88.0.1".parse::<IpAddr>().expect("ip"),
                "fd00:88::1".parse().expect("ip")
            ]
        );
        assert_eq!(n.upstreams, ["10.0.0.53:53".parse().expect("sa")]);
        assert_eq!(n.subnets.len(), 2);
    }

    #[test]
    fn status_fields_and_the_store_base() {
        let dns = DnsSettings {
            nameservers: vec!["10.88.0.1".into(), "fd00:88::1".into()],
            search: vec!["dns.podman".into()],
            ..Default::default()
        };
        let (ips, search) = status_dns(&dns);
        assert_eq!(ips.len(), 2);
        assert_eq!(search, ["dns.podman"]);
        assert_eq!(
            store_base(true, Some(Path::new("/run/user/1000"))),
            PathBuf::from("/run/cnm/dns")
        );
        assert_eq!(
            store_base(false, Some(Path::new("/run/user/1000"))),
            PathBuf::from("/run/user/1000/cnm/dns")
        );
        assert_eq!(store_base(false, None), PathBuf::from("/run/cnm/dns"));
    }
}
