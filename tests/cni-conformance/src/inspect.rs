//! Extra read-back helpers for the bridge cases: raw `ip -j` address info
//! (flags such as `tentative`), bridge ports, host veths, `nft` and
//! `bridge vlan` inside a namespace, a kernel feature probe, bounded pings.

use crate::iproute::{links, Link};
use crate::ns::Netns;
use crate::proc::{tool_status, RawOutput};
use serde_json::Value;

/// Raw `addr_info` entries of `dev` (`ip -j <family> addr show dev <dev>`),
/// with every flag the kernel reports (`tentative`, `dadfailed`, `nodad`, ...).
pub fn addr_info_raw(ns: &Netns, family: &str, dev: &str) -> Vec<Value> {
    let out = ns.ip(&["-j", family, "addr", "show", "dev", dev]);
    let v: Value = serde_json::from_slice(&out).unwrap_or(Value::Null);
    v.as_array()
        .into_iter()
        .flatten()
        .filter(|l| l["ifname"] == dev)
        .flat_map(|l| l["addr_info"].as_array().cloned().unwrap_or_default())
        .collect()
}

/// Links of `kind` (`veth`, `bridge`, ...) in the namespace.
pub fn links_of_kind(ns: &Netns, kind: &str) -> Vec<Link> {
    links(ns)
        .into_iter()
        .filter(|l| l.kind().as_deref() == Some(kind))
        .collect()
}

/// Links enslaved to `bridge`.
pub fn bridge_ports(ns: &Netns, bridge: &str) -> Vec<Link> {
    links(ns)
        .into_iter()
        .filter(|l| l.master.as_deref() == Some(bridge))
        .collect()
}

/// `linkinfo.info_slave_data.<key>` of a bridge port (e.g. `hairpin`).
pub fn brport_attr(link: &Link, key: &str) -> Value {
    link.linkinfo
        .as_ref()
        .map(|li| li["info_slave_data"][key].clone())
        .unwrap_or(Value::Null)
}

/// `nft <args>` inside the namespace, whatever its status.
pub fn nft(ns: &Netns, args: &[&str]) -> RawOutput {
    let mut all = vec!["nft"];
    all.extend_from_slice(args);
    ns.exec(&all)
}

/// `bridge -j vlan show dev <dev>` inside the namespace (Null on failure).
pub fn bridge_vlans(ns: &Netns, dev: &str) -> Value {
    let out = ns.exec(&["bridge", "-j", "vlan", "show", "dev", dev]);
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

/// True when the kernel can create a VLAN-filtering bridge (probed in a
/// throwaway namespace).
pub fn vlan_filtering_supported() -> bool {
    let ns = Netns::new("vlanprobe");
    let out = tool_status(&[
        "ip",
        "-n",
        ns.name(),
        "link",
        "add",
        "vprobe0",
        "type",
        "bridge",
        "vlan_filtering",
        "1",
    ]);
    out.code == 0
}

/// Ping (`-c1 -W2`) at most `attempts` times; true on a reply.
pub fn ping_w2(ns: &Netns, ip: &str, attempts: u32) -> bool {
    let ping = if ip.contains(':') { "ping6" } else { "ping" };
    (0..attempts.max(1)).any(|_| ns.exec(&[ping, "-c1", "-W2", ip]).code == 0)
}

/// `ip -j <family> route` as sorted `(dst, gateway, dev)` triples.
pub fn route_triples(ns: &Netns, family: &str) -> Vec<(String, String, String)> {
    let mut v: Vec<_> = crate::iproute::routes(ns, family)
        .into_iter()
        .map(|r| {
            (
                r.dst,
                r.gateway.unwrap_or_default(),
                r.dev.unwrap_or_default(),
            )
        })
        .collect();
    v.sort();
    v
}
