//! What the resolver knows, built from a store snapshot: per network its
//! names (lowercase) -> addresses and addresses -> primary name, and which
//! networks a client address may see.
//!
//! Visibility (as aardvark-dns): a client sees the networks of the container
//! that owns its source address, all of them (a container on two networks
//! finds names of both, whichever gateway it asks). A source address no
//! record names yet but inside a subnet of a network served on the address
//! the query arrived at sees that network. Anyone else sees no names.

use std::collections::{BTreeSet, HashMap};
use std::net::{IpAddr, SocketAddr};

use cnm_dns_records::{normalize, Snapshot};
use ipnet::IpNet;

/// One network.
#[derive(Debug, Clone, Default)]
pub struct Net {
    /// Its name.
    pub name: String,
    /// Its domain, lowercase.
    pub domain: Option<String>,
    /// No forwarding from its listen addresses.
    pub internal: bool,
    /// Its own upstreams (empty: the host's).
    pub upstreams: Vec<SocketAddr>,
    /// Its subnets.
    pub subnets: Vec<IpNet>,
    /// Lowercase name -> addresses (container names and aliases, local and remote).
    pub names: HashMap<String, Vec<IpAddr>>,
    /// Address -> primary name (for PTR).
    pub ptr: HashMap<IpAddr, String>,
}

impl Net {
    /// The fully qualified name answered for PTR: `name.domain.` or `name.`.
    pub fn ptr_target(&self, name: &str) -> String {
        match &self.domain {
            Some(d) => format!("{name}.{d}."),
            None => format!("{name}."),
        }
    }

    fn add(&mut self, name: &str, aliases: &[String], addresses: &[IpAddr]) {
        let primary = normalize(name);
        let mut all = vec![primary.clone()];
        all.extend(aliases.iter().map(|a| normalize(a)));
        for n in all {
            let entry = self.names.entry(n).or_default();
            for a in addresses {
                if !entry.contains(a) {
                    entry.push(*a);
                }
            }
        }
        for a in addresses {
            self.ptr.entry(*a).or_insert_with(|| primary.clone());
        }
    }
}

/// The resolver's whole knowledge, replaced as one value on reload.
#[derive(Debug, Clone, Default)]
pub struct View {
    /// The networks.
    pub nets: Vec<Net>,
    /// Client address -> indexes of the networks it sees.
    pub by_client: HashMap<IpAddr, Vec<usize>>,
    /// Listen address -> indexes of the networks served there.
    pub by_listen: HashMap<IpAddr, Vec<usize>>,
}

/// The result of a name lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameLookup {
    /// A name we hold: all its addresses (any family).
    Found(Vec<IpAddr>),
    /// Under one of the client's networks' domains but unknown: NXDOMAIN.
    Unknown,
    /// The domain itself: exists, holds no address.
    DomainApex,
    /// Not ours: forward.
    NotOurs,
}

/// The result of a reverse lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PtrLookup {
    /// The names to answer (fully qualified).
    Found(Vec<String>),
    /// An address of one of our networks without a name: NXDOMAIN.
    Unknown,
    /// Not ours: forward.
    NotOurs,
}

impl View {
    /// Builds the view of a snapshot.
    pub fn build(snap: &Snapshot) -> View {
        let mut view = View::default();
        // container id -> networks, and container id -> its addresses, for visibility.
        let mut ctr_nets: HashMap<&str, BTreeSet<usize>> = HashMap::new();
        let mut ctr_addrs: HashMap<&str, Vec<IpAddr>> = HashMap::new();
        for (i, n) in snap.networks.iter().enumerate() {
            let s = &n.settings;
            let mut net = Net {
                name: s.network.clone(),
                domain: s.domain.as_deref().map(normalize),
                internal: s.internal,
                upstreams: s.upstreams.iter().map(|u| u.0).collect(),
                subnets: s.subnets.clone(),
                ..Net::default()
            };
            for ep in &n.endpoints {
                net.add(&ep.name, &ep.aliases, &ep.addresses);
                ctr_nets.entry(&ep.container_id).or_default().insert(i);
                ctr_addrs
                    .entry(&ep.container_id)
                    .or_default()
                    .extend(ep.addresses.iter().copied());
            }
            for host in &n.remote {
                for e in &host.entries {
                    net.add(&e.name, &e.aliases, &e.addresses);
                }
            }
            for a in &s.listen {
                view.by_listen.entry(*a).or_default().push(i);
            }
            view.nets.push(net);
        }
        for (ctr, addrs) in &ctr_addrs {
            let nets: Vec<usize> = ctr_nets
                .get(ctr)
                .map(|s| s.iter().copied().collect())
                .unwrap_or_default();
            for a in addrs {
                let e = view.by_client.entry(*a).or_default();
                for n in &nets {
                    if !e.contains(n) {
                        e.push(*n);
                    }
                }
            }
        }
        view
    }

    /// The networks a client at `src` sees, asking at `local`.
    pub fn visible(&self, src: IpAddr, local: IpAddr) -> Vec<usize> {
        if let Some(nets) = self.by_client.get(&src) {
            return nets.clone();
        }
        self.by_listen
            .get(&local)
            .map(|nets| {
                nets.iter()
                    .copied()
                    .filter(|i| self.nets[*i].subnets.iter().any(|s| s.contains(&src)))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Looks up a lowercase name (no trailing dot) in the networks `nets`.
    pub fn lookup(&self, nets: &[usize], qname: &str) -> NameLookup {
        let mut found: Vec<IpAddr> = Vec::new();
        let mut hit = false;
        let mut under_domain = false;
        let mut apex = false;
        for net in nets.iter().filter_map(|i| self.nets.get(*i)) {
            let mut candidates = vec![qname];
            if let Some(d) = &net.domain {
                if qname == d {
                    apex = true;
                } else if let Some(host) = qname
                    .strip_suffix(d.as_str())
                    .and_then(|h| h.strip_suffix('.'))
                {
                    under_domain = true;
                    candidates.push(host);
                }
            }
            for c in candidates {
                if let Some(addrs) = net.names.get(c) {
                    hit = true;
                    for a in addrs {
                        if !found.contains(a) {
                            found.push(*a);
                        }
                    }
                }
            }
        }
        if hit {
            NameLookup::Found(found)
        } else if apex {
            NameLookup::DomainApex
        } else if under_domain {
            NameLookup::Unknown
        } else {
            NameLookup::NotOurs
        }
    }

    /// Reverse lookup of `addr` for a client seeing `nets`. An address in a
    /// subnet of any served network but without a visible name is NXDOMAIN
    /// (private addresses are never asked upstream).
    pub fn lookup_ptr(&self, nets: &[usize], addr: IpAddr) -> PtrLookup {
        let mut names: Vec<String> = Vec::new();
        for net in nets.iter().filter_map(|i| self.nets.get(*i)) {
            if let Some(n) = net.ptr.get(&addr) {
                let t = net.ptr_target(n);
                if !names.contains(&t) {
                    names.push(t);
                }
            }
        }
        if !names.is_empty() {
            PtrLookup::Found(names)
        } else if self
            .nets
            .iter()
            .any(|n| n.subnets.iter().any(|s| s.contains(&addr)) || n.ptr.contains_key(&addr))
        {
            PtrLookup::Unknown
        } else {
            PtrLookup::NotOurs
        }
    }

    /// May a query that arrived at `local` be forwarded? Only when a
    /// network served there is not internal.
    pub fn may_forward(&self, local: IpAddr) -> bool {
        self.by_listen.get(&local).is_some_and(|nets| {
            nets.iter()
                .any(|i| self.nets.get(*i).is_some_and(|n| !n.internal))
        })
    }

    /// The upstreams of the networks served at `local` (empty: use the host's).
    pub fn upstreams_at(&self, local: IpAddr) -> Vec<SocketAddr> {
        let mut out = Vec::new();
        for i in self
            .by_listen
            .get(&local)
            .map(|v| v.as_slice())
            .unwrap_or(&[])
        {
            if let Some(n) = self.nets.get(*i) {
                if n.internal {
                    continue;
                }
                for u in &n.upstreams {
                    if !out.contains(u) {
                        out.push(*u);
                    }
                }
            }
        }
        out
    }

    /// Every address the view listens on.
    pub fn listen_addresses(&self) -> Vec<IpAddr> {
        let set: BTreeSet<IpAddr> = self.by_listen.keys().copied().collect();
        set.into_iter().collect()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use cnm_dns_records::{
        EndpointRecord, NetworkSettings, NetworkSnapshot, RemoteEntry, RemoteRecords,
        FORMAT_VERSION,
    };

    fn ep(net: &str, cid: &str, name: &str, aliases: &[&str], addrs: &[&str]) -> EndpointRecord {
        EndpointRecord {
            version: FORMAT_VERSION,
            network: net.into(),
            container_id: cid.into(),
            ifname: "eth0".into(),
            name: name.into(),
            aliases: aliases.iter().map(|s| s.to_string()).collect(),
            addresses: addrs.iter().map(|s| s.parse().unwrap()).collect(),
        }
    }

    fn net(
        name: &str,
        gw: &str,
        subnet: &str,
        internal: bool,
        eps: Vec<EndpointRecord>,
    ) -> NetworkSnapshot {
        let mut s = NetworkSettings::new(name);
        s.domain = Some("dns.podman".into());
        s.listen = vec![gw.parse().unwrap()];
        s.subnets = vec![subnet.parse().unwrap()];
        s.internal = internal;
        NetworkSnapshot {
            settings: s,
            endpoints: eps,
            remote: vec![],
        }
    }

    pub(crate) fn sample() -> View {
        let mut a = net(
            "a",
            "10.1.0.1",
            "10.1.0.0/24",
            false,
            vec![
                ep("a", "c1", "Web", &["www"], &["10.1.0.2", "fd01::2"]),
                ep("a", "c2", "client", &[], &["10.1.0.3"]),
                ep("a", "c3", "both", &[], &["10.1.0.4"]),
            ],
        );
        a.remote.push(RemoteRecords {
            version: FORMAT_VERSION,
            network: "a".into(),
            host: "h3".into(),
            entries: vec![RemoteEntry {
                container_id: "r1".into(),
                ifname: "eth0".into(),
                name: "far".into(),
                aliases: vec![],
                addresses: vec!["10.1.0.30".parse().unwrap()],
            }],
        });
        let b = net(
            "b",
            "10.2.0.1",
            "10.2.0.0/24",
            true,
            vec![
                ep("b", "c9", "secret", &[], &["10.2.0.9"]),
                ep("b", "c3", "both", &["both-b"], &["10.2.0.4"]),
            ],
        );
        View::build(&Snapshot {
            networks: vec![a, b],
            warnings: vec![],
        })
    }

    fn ips(s: &[&str]) -> Vec<IpAddr> {
        s.iter().map(|a| a.parse().unwrap()).collect()
    }

    #[test]
    fn names_with_and_without_domain_case_insensitive() {
        let v = sample();
        let client: IpAddr = "10.1.0.3".parse().unwrap();
        let gw: IpAddr = "10.1.0.1".parse().unwrap();
        let nets = v.visible(client, gw);
        assert_eq!(nets, vec![0]);
        let web = NameLookup::Found(ips(&["10.1.0.2", "fd01::2"]));
        assert_eq!(v.lookup(&nets, "web"), web);
        assert_eq!(v.lookup(&nets, "web.dns.podman"), web);
        assert_eq!(v.lookup(&nets, "www.dns.podman"), web);
        assert_eq!(
            v.lookup(&nets, "far"),
            NameLookup::Found(ips(&["10.1.0.30"]))
        );
        assert_eq!(v.lookup(&nets, "nope.dns.podman"), NameLookup::Unknown);
        assert_eq!(v.lookup(&nets, "dns.podman"), NameLookup::DomainApex);
        assert_eq!(v.lookup(&nets, "example.com"), NameLookup::NotOurs);
        assert_eq!(v.lookup(&nets, "nope"), NameLookup::NotOurs);
    }

    #[test]
    fn other_networks_are_invisible() {
        let v = sample();
        let nets = v.visible("10.1.0.3".parse().unwrap(), "10.1.0.1".parse().unwrap());
        assert_eq!(v.lookup(&nets, "secret"), NameLookup::NotOurs);
        assert_eq!(v.lookup(&nets, "secret.dns.podman"), NameLookup::Unknown);
        // A container on both networks sees both, whichever address it uses.
        let both = v.visible("10.1.0.4".parse().unwrap(), "10.1.0.1".parse().unwrap());
        assert_eq!(both, vec![0, 1]);
        assert_eq!(
            v.lookup(&both, "secret"),
            NameLookup::Found(ips(&["10.2.0.9"]))
        );
        assert_eq!(
            v.lookup(&both, "both"),
            NameLookup::Found(ips(&["10.1.0.4", "10.2.0.4"]))
        );
    }

    #[test]
    fn unknown_sources_see_their_subnet_or_nothing() {
        let v = sample();
        let gw: IpAddr = "10.1.0.1".parse().unwrap();
        assert_eq!(v.visible("10.1.0.77".parse().unwrap(), gw), vec![0]);
        assert!(v.visible("192.0.2.1".parse().unwrap(), gw).is_empty());
        assert!(v
            .visible("10.1.0.77".parse().unwrap(), "10.9.9.9".parse().unwrap())
            .is_empty());
    }

    #[test]
    fn ptr_answers_visible_names_only() {
        let v = sample();
        let nets = v.visible("10.1.0.3".parse().unwrap(), "10.1.0.1".parse().unwrap());
        assert_eq!(
            v.lookup_ptr(&nets, "10.1.0.2".parse().unwrap()),
            PtrLookup::Found(vec!["web.dns.podman.".into()])
        );
        assert_eq!(
            v.lookup_ptr(&nets, "fd01::2".parse().unwrap()),
            PtrLookup::Found(vec!["web.dns.podman.".into()])
        );
        assert_eq!(
            v.lookup_ptr(&nets, "10.2.0.9".parse().unwrap()),
            PtrLookup::Unknown
        );
        assert_eq!(
            v.lookup_ptr(&nets, "10.1.0.200".parse().unwrap()),
            PtrLookup::Unknown
        );
        assert_eq!(
            v.lookup_ptr(&nets, "192.0.2.1".parse().unwrap()),
            PtrLookup::NotOurs
        );
    }

    #[test]
    fn internal_networks_do_not_forward() {
        let v = sample();
        assert!(v.may_forward("10.1.0.1".parse().unwrap()));
        assert!(!v.may_forward("10.2.0.1".parse().unwrap()));
        assert!(!v.may_forward("10.9.0.1".parse().unwrap()));
        assert_eq!(v.listen_addresses(), ips(&["10.1.0.1", "10.2.0.1"]));
    }
}
