//! Parsers for `ip -j` output (links, addresses, routes) read inside a namespace.

use crate::ns::Netns;
use serde::Deserialize;
use serde_json::Value;

/// One link from `ip -j -d link show`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Link {
    pub ifindex: u32,
    pub ifname: String,
    #[serde(default)]
    pub flags: Vec<String>,
    #[serde(default)]
    pub mtu: u32,
    #[serde(default)]
    pub operstate: String,
    #[serde(default)]
    pub address: String,
    #[serde(default)]
    pub master: Option<String>,
    #[serde(default)]
    pub linkinfo: Option<Value>,
}

impl Link {
    /// `linkinfo.info_kind` (bridge, veth, ...).
    pub fn kind(&self) -> Option<String> {
        self.linkinfo
            .as_ref()
            .and_then(|l| l.get("info_kind"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    }

    /// Administratively up.
    pub fn is_up(&self) -> bool {
        self.flags.iter().any(|f| f == "UP")
    }
}

/// One address from `ip -j addr show`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Addr {
    pub family: String,
    pub local: String,
    pub prefixlen: u8,
    #[serde(default)]
    pub scope: String,
}

impl Addr {
    /// `local/prefixlen`.
    pub fn cidr(&self) -> String {
        format!("{}/{}", self.local, self.prefixlen)
    }
}

/// One route from `ip -j route show`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Route {
    pub dst: String,
    #[serde(default)]
    pub gateway: Option<String>,
    #[serde(default)]
    pub dev: Option<String>,
}

#[derive(Deserialize)]
struct AddrLink {
    ifname: String,
    #[serde(default)]
    addr_info: Vec<Addr>,
}

fn parse<T: for<'de> Deserialize<'de>>(bytes: &[u8], what: &str) -> T {
    match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(e) => panic!(
            "cannot parse `{what}` JSON: {e}: {}",
            String::from_utf8_lossy(bytes)
        ),
    }
}

/// All links of the namespace.
pub fn links(ns: &Netns) -> Vec<Link> {
    parse(&ns.ip(&["-j", "-d", "link", "show"]), "ip -j -d link show")
}

/// The link `name`, if present.
pub fn link(ns: &Netns, name: &str) -> Option<Link> {
    links(ns).into_iter().find(|l| l.ifname == name)
}

/// Addresses of `dev` (all families).
pub fn addrs(ns: &Netns, dev: &str) -> Vec<Addr> {
    let v: Vec<AddrLink> = parse(
        &ns.ip(&["-j", "addr", "show", "dev", dev]),
        "ip -j addr show dev",
    );
    v.into_iter()
        .filter(|l| l.ifname == dev)
        .flat_map(|l| l.addr_info)
        .collect()
}

/// Routes of one family (`-4` or `-6`) in the main table.
pub fn routes(ns: &Netns, family: &str) -> Vec<Route> {
    parse(&ns.ip(&["-j", family, "route", "show"]), "ip -j route show")
}
