//! The crate boundaries of ADR 0013, checked against `cargo metadata`
//! (`tests/boundaries.rs` runs it on this workspace; the unit tests below
//! feed the checker graphs that break each rule, so a rule that stopped
//! working would fail here):
//!
//! 1. `cnm-model` depends, directly or not, on none of `cni-protocol`,
//!    `cnm-nft`, `cnm-netlink`, `netns`, `cnm-kernel`, any driver crate or
//!    any front-end;
//! 2. a driver crate depends (directly or not) on no front-end and not on
//!    `cni-protocol`;
//! 3. a front-end depends on neither `cnm-nft` nor `cnm-netlink` directly;
//! 4. `cnm-kernel`'s `fake` feature is enabled by no normal dependency (and
//!    by no feature of another crate).
//!
//! Dependencies are the normal and build ones (dev-dependencies are tests').
//! Known exceptions (a rule another branch of the round removes) are listed
//! in [`EXCEPTIONS`] with the reason; an exception that is no longer needed
//! is itself an error, so the list can only shrink.

#![forbid(unsafe_code)]

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde_json::Value;

/// The model crate.
pub const MODEL: &str = "cnm-model";
/// The kernel seam.
pub const KERNEL: &str = "cnm-kernel";
/// The kernel seam's test fakes.
pub const FAKE_FEATURE: &str = "fake";
/// Low-level kernel access the model and front-ends must not reach.
pub const LOW_LEVEL: &[&str] = &["cnm-nft", "cnm-netlink", "netns"];
/// The CNI protocol crate.
pub const CNI_PROTOCOL: &str = "cni-protocol";
/// Driver crates (network and IPAM drivers).
pub const DRIVERS: &[&str] = &["cnm-bridge", "cnm-overlay", "cnm-ipam", "cnm-cluster-ipam"];
/// Front-ends named here; besides them, every package under `plugins/`.
pub const FRONT_ENDS: &[&str] = &["cnm-cni", "cnm-docker-plugin"];
/// The crates a front-end must not depend on directly.
pub const FRONT_END_FORBIDDEN: &[&str] = &["cnm-nft", "cnm-netlink"];

/// A rule broken on purpose until another piece of the round lands:
/// (rule, package, dependency, why).
pub const EXCEPTIONS: &[(u8, &str, &str, &str)] = &[
    (
        3,
        "portmap",
        "cnm-nft",
        "issue 18 item 4: the portmap plugin moves to cnm-kernel's port-mapping API",
    ),
    (
        3,
        "cnm-docker-plugin",
        "cnm-nft",
        "issue 18 items 4-5: the Docker front-end publishes ports through the bridge driver",
    ),
];

/// One package of the graph.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Package {
    /// Its name.
    pub name: String,
    /// Its manifest, relative to the workspace root (`plugins/x/Cargo.toml`).
    pub manifest: String,
    /// Names of its normal and build dependencies as resolved.
    pub deps: BTreeSet<String>,
    /// Its declared normal and build dependencies on `cnm-kernel` and the
    /// features each asks for.
    pub kernel_features: Vec<Vec<String>>,
    /// Its `[features]` table (`name -> what it enables`).
    pub features: BTreeMap<String, Vec<String>>,
}

/// The workspace's dependency graph (workspace members and what they pull).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Graph {
    /// Every package by name (workspace members carry a manifest).
    pub packages: BTreeMap<String, Package>,
    /// The names of the workspace members.
    pub members: BTreeSet<String>,
}

/// A broken rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The rule (1-4; 0: a stale exception).
    pub rule: u8,
    /// The package that breaks it.
    pub package: String,
    /// What it reaches that it must not (for 4: the feature's origin).
    pub target: String,
    /// The path of dependencies, package first.
    pub path: Vec<String>,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "rule {}: {} -> {} (via {})",
            self.rule,
            self.package,
            self.target,
            self.path.join(" -> ")
        )
    }
}

fn str_of<'a>(v: &'a Value, key: &str) -> Result<&'a str, String> {
    v.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("cargo metadata: no string {key:?}"))
}

fn array_of<'a>(v: &'a Value, key: &str) -> Result<&'a Vec<Value>, String> {
    v.get(key)
        .and_then(Value::as_array)
        .ok_or_else(|| format!("cargo metadata: no array {key:?}"))
}

/// A dependency kind that counts (normal or build; not dev).
fn counts(kind: &Value) -> bool {
    matches!(kind.as_str(), None | Some("build"))
}

impl Graph {
    /// The graph of `cargo metadata --format-version 1` output.
    pub fn from_metadata(meta: &Value) -> Result<Graph, String> {
        let root = str_of(meta, "workspace_root")?
            .trim_end_matches('/')
            .to_string();
        let members: BTreeSet<&str> = array_of(meta, "workspace_members")?
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let mut by_id: BTreeMap<&str, &str> = BTreeMap::new();
        let mut g = Graph::default();
        for p in array_of(meta, "packages")? {
            let id = str_of(p, "id")?;
            let name = str_of(p, "name")?;
            by_id.insert(id, name);
            let manifest = str_of(p, "manifest_path")?;
            let mut pkg = Package {
                name: name.to_string(),
                manifest: manifest
                    .strip_prefix(&root)
                    .map(|m| m.trim_start_matches('/').to_string())
                    .unwrap_or_default(),
                ..Package::default()
            };
            for d in array_of(p, "dependencies")? {
                if str_of(d, "name")? == KERNEL && counts(d.get("kind").unwrap_or(&Value::Null)) {
                    let features = array_of(d, "features")?
                        .iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect();
                    pkg.kernel_features.push(features);
                }
            }
            if let Some(Value::Object(fs)) = p.get("features") {
                for (k, v) in fs {
                    let list = v
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .filter_map(Value::as_str)
                                .map(str::to_string)
                                .collect()
                        })
                        .unwrap_or_default();
                    pkg.features.insert(k.clone(), list);
                }
            }
            if members.contains(id) {
                g.members.insert(name.to_string());
            }
            g.packages.insert(name.to_string(), pkg);
        }
        let resolve = meta
            .get("resolve")
            .ok_or("cargo metadata: no resolve graph")?;
        for node in array_of(resolve, "nodes")? {
            let Some(name) = by_id.get(str_of(node, "id")?) else {
                continue;
            };
            let mut deps = BTreeSet::new();
            for d in array_of(node, "deps")? {
                let kinds = array_of(d, "dep_kinds")?;
                if kinds
                    .iter()
                    .any(|k| counts(k.get("kind").unwrap_or(&Value::Null)))
                {
                    if let Some(dep) = by_id.get(str_of(d, "pkg")?) {
                        deps.insert(dep.to_string());
                    }
                }
            }
            if let Some(p) = g.packages.get_mut(*name) {
                p.deps = deps;
            }
        }
        Ok(g)
    }

    /// True for a front-end: named in [`FRONT_ENDS`], or under `plugins/`.
    pub fn is_front_end(&self, name: &str) -> bool {
        FRONT_ENDS.contains(&name)
            || (self.members.contains(name)
                && self
                    .packages
                    .get(name)
                    .is_some_and(|p| p.manifest.starts_with("plugins/")))
    }

    /// The shortest dependency path from `from` to a package `target`
    /// accepts (`from` excluded from the match).
    fn path_to(&self, from: &str, target: &dyn Fn(&str) -> bool) -> Option<Vec<String>> {
        let mut prev: BTreeMap<String, String> = BTreeMap::new();
        let mut queue = VecDeque::from([from.to_string()]);
        let mut seen = BTreeSet::from([from.to_string()]);
        while let Some(at) = queue.pop_front() {
            if at != from && target(&at) {
                let mut path = vec![at.clone()];
                let mut cur = at;
                while let Some(p) = prev.get(&cur) {
                    path.push(p.clone());
                    cur = p.clone();
                }
                path.reverse();
                return Some(path);
            }
            let Some(p) = self.packages.get(&at) else {
                continue;
            };
            for d in &p.deps {
                if seen.insert(d.clone()) {
                    prev.insert(d.clone(), at.clone());
                    queue.push_back(d.clone());
                }
            }
        }
        None
    }

    /// Every package `from` reaches that `bad` accepts, with a path each.
    fn reaches(&self, from: &str, bad: &dyn Fn(&str) -> bool) -> Vec<Vec<String>> {
        let mut out = Vec::new();
        let mut found: BTreeSet<String> = BTreeSet::new();
        for name in self.packages.keys() {
            if name != from && bad(name) && !found.contains(name) {
                if let Some(path) = self.path_to(from, &|n| n == name) {
                    found.insert(name.clone());
                    out.push(path);
                }
            }
        }
        out
    }
}

/// Check the four rules; an exception of [`EXCEPTIONS`] hides its
/// violation, and an exception with no violation to hide is reported
/// (rule 0).
pub fn check(g: &Graph) -> Vec<Violation> {
    let mut out = Vec::new();
    let mut push = |rule: u8, package: &str, path: Vec<String>| {
        let target = path.last().cloned().unwrap_or_default();
        out.push(Violation {
            rule,
            package: package.to_string(),
            target,
            path,
        });
    };
    // 1. The model.
    if g.packages.contains_key(MODEL) {
        let bad = |n: &str| {
            n == CNI_PROTOCOL
                || n == KERNEL
                || LOW_LEVEL.contains(&n)
                || DRIVERS.contains(&n)
                || g.is_front_end(n)
        };
        for path in g.reaches(MODEL, &bad) {
            push(1, MODEL, path);
        }
    }
    // 2. Drivers.
    for d in DRIVERS {
        if !g.packages.contains_key(*d) {
            continue;
        }
        let bad = |n: &str| n == CNI_PROTOCOL || g.is_front_end(n);
        for path in g.reaches(d, &bad) {
            push(2, d, path);
        }
    }
    // 3. Front-ends, direct dependencies.
    for name in &g.members {
        if !g.is_front_end(name) {
            continue;
        }
        if let Some(p) = g.packages.get(name) {
            for f in FRONT_END_FORBIDDEN {
                if p.deps.contains(*f) {
                    push(3, name, vec![name.clone(), f.to_string()]);
                }
            }
        }
    }
    // 4. The fakes: no normal dependency and no feature turns them on.
    let fake = format!("{KERNEL}/{FAKE_FEATURE}");
    let weak = format!("{KERNEL}?/{FAKE_FEATURE}");
    for name in &g.members {
        let Some(p) = g.packages.get(name) else {
            continue;
        };
        if p.kernel_features
            .iter()
            .flatten()
            .any(|f| f == FAKE_FEATURE)
        {
            push(4, name, vec![name.clone(), fake.clone()]);
        }
        for (feature, enables) in &p.features {
            let own_fake = name == KERNEL
                && feature != FAKE_FEATURE
                && enables.iter().any(|e| e == FAKE_FEATURE);
            if own_fake || enables.iter().any(|e| *e == fake || *e == weak) {
                push(4, name, vec![format!("{name}/{feature}"), fake.clone()]);
            }
        }
    }
    // Exceptions hide their violation; an exception hiding nothing is stale.
    let mut result = Vec::new();
    let mut used = vec![false; EXCEPTIONS.len()];
    for v in out {
        let hit = EXCEPTIONS
            .iter()
            .position(|(r, p, t, _)| *r == v.rule && *p == v.package && *t == v.target);
        match hit {
            Some(i) => used[i] = true,
            None => result.push(v),
        }
    }
    for (i, (rule, p, t, why)) in EXCEPTIONS.iter().enumerate() {
        if !used[i] && g.packages.contains_key(*p) {
            result.push(Violation {
                rule: 0,
                package: p.to_string(),
                target: t.to_string(),
                path: vec![format!(
                    "the exception to rule {rule} is no longer needed ({why}): remove it from EXCEPTIONS"
                )],
            });
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A graph of (name, manifest, deps).
    fn graph(pkgs: &[(&str, &str, &[&str])]) -> Graph {
        let mut g = Graph::default();
        for (name, manifest, deps) in pkgs {
            g.members.insert(name.to_string());
            g.packages.insert(
                name.to_string(),
                Package {
                    name: name.to_string(),
                    manifest: manifest.to_string(),
                    deps: deps.iter().map(|d| d.to_string()).collect(),
                    ..Package::default()
                },
            );
        }
        g
    }

    /// The cut as ADR 0013 draws it, with today's exceptions.
    fn good() -> Graph {
        graph(&[
            ("cnm-names", "crates/names/Cargo.toml", &[]),
            (
                "cnm-model",
                "crates/model/Cargo.toml",
                &["cnm-names", "serde"],
            ),
            ("serde", "", &[]),
            ("cnm-netlink", "crates/netlink/Cargo.toml", &[]),
            ("cnm-nft", "crates/nft/Cargo.toml", &[]),
            ("netns", "crates/netns/Cargo.toml", &[]),
            (
                "cni-protocol",
                "crates/cni-protocol/Cargo.toml",
                &["cnm-names"],
            ),
            (
                "cnm-kernel",
                "crates/kernel/Cargo.toml",
                &["cnm-model", "cnm-netlink", "cnm-nft", "netns"],
            ),
            (
                "cnm-bridge",
                "crates/bridge/Cargo.toml",
                &["cnm-model", "cnm-kernel"],
            ),
            ("cnm-ipam", "crates/ipam/Cargo.toml", &["cnm-model"]),
            (
                "cnm-cluster-ipam",
                "crates/cluster-ipam/Cargo.toml",
                &["cnm-ipam"],
            ),
            (
                "cnm-overlay",
                "crates/overlay/Cargo.toml",
                &["cnm-bridge", "cnm-cluster-ipam"],
            ),
            (
                "cnm-cni",
                "crates/cni-frontend/Cargo.toml",
                &["cni-protocol", "cnm-bridge", "cnm-overlay"],
            ),
            (
                "simplebridge",
                "plugins/simplebridge/Cargo.toml",
                &["cnm-cni"],
            ),
            (
                "portmap",
                "plugins/portmap/Cargo.toml",
                &["cnm-nft", "cni-protocol"],
            ),
            (
                "cnm-docker-plugin",
                "services/docker-plugin/Cargo.toml",
                &["cnm-bridge", "cnm-nft"],
            ),
        ])
    }

    fn rules(v: &[Violation]) -> Vec<(u8, String, String)> {
        v.iter()
            .map(|v| (v.rule, v.package.clone(), v.target.clone()))
            .collect()
    }

    #[test]
    fn the_intended_cut_passes() {
        assert_eq!(check(&good()), Vec::new());
    }

    #[test]
    fn rule_1_the_model_reaching_cni_or_the_kernel_directly_or_not() {
        let mut g = good();
        g.packages
            .get_mut("cnm-names")
            .map(|p| p.deps.insert("cni-protocol".into()));
        let v = check(&g);
        let model: Vec<&Violation> = v.iter().filter(|v| v.rule == 1).collect();
        assert_eq!(model.len(), 1, "{v:?}");
        assert_eq!(model[0].path, ["cnm-model", "cnm-names", "cni-protocol"]);
        // Every driver reaches it through the model as well.
        assert!(v.iter().all(|v| v.rule == 1 || v.rule == 2), "{v:?}");
        for bad in [
            "cnm-netlink",
            "cnm-nft",
            "netns",
            "cnm-kernel",
            "cnm-bridge",
            "cnm-cni",
            "simplebridge",
        ] {
            let mut g = good();
            g.packages
                .get_mut("cnm-model")
                .map(|p| p.deps.insert(bad.into()));
            let v = check(&g);
            assert!(
                v.iter()
                    .any(|v| v.rule == 1 && v.path == ["cnm-model", bad]),
                "{bad}: {v:?}"
            );
        }
    }

    #[test]
    fn rule_2_a_driver_reaching_a_front_end_or_cni() {
        let mut g = good();
        g.packages
            .get_mut("cnm-ipam")
            .map(|p| p.deps.insert("cni-protocol".into()));
        let v = rules(&check(&g));
        assert!(
            v.contains(&(2, "cnm-ipam".into(), "cni-protocol".into())),
            "{v:?}"
        );
        // Through another driver, too.
        assert!(
            v.contains(&(2, "cnm-cluster-ipam".into(), "cni-protocol".into())),
            "{v:?}"
        );
        let mut g = good();
        g.packages
            .get_mut("cnm-bridge")
            .map(|p| p.deps.insert("simplebridge".into()));
        let v = rules(&check(&g));
        assert!(
            v.contains(&(2, "cnm-bridge".into(), "simplebridge".into())),
            "{v:?}"
        );
    }

    #[test]
    fn rule_3_a_front_end_on_nft_or_netlink_directly() {
        let mut g = good();
        g.packages
            .get_mut("cnm-cni")
            .map(|p| p.deps.insert("cnm-netlink".into()));
        g.packages
            .get_mut("simplebridge")
            .map(|p| p.deps.insert("cnm-nft".into()));
        let v = rules(&check(&g));
        assert!(
            v.contains(&(3, "cnm-cni".into(), "cnm-netlink".into())),
            "{v:?}"
        );
        assert!(
            v.contains(&(3, "simplebridge".into(), "cnm-nft".into())),
            "{v:?}"
        );
        // A new plugin is a front-end by where it lives.
        let mut g = good();
        g.members.insert("newplugin".into());
        g.packages.insert(
            "newplugin".into(),
            Package {
                name: "newplugin".into(),
                manifest: "plugins/newplugin/Cargo.toml".into(),
                deps: ["cnm-netlink".to_string()].into(),
                ..Package::default()
            },
        );
        let v = rules(&check(&g));
        assert!(
            v.contains(&(3, "newplugin".into(), "cnm-netlink".into())),
            "{v:?}"
        );
    }

    #[test]
    fn rule_4_the_fakes_enabled_by_a_normal_dependency_or_a_feature() {
        let mut g = good();
        if let Some(p) = g.packages.get_mut("cnm-cni") {
            p.kernel_features.push(vec!["fake".into()]);
        }
        assert_eq!(
            rules(&check(&g)),
            [(4, "cnm-cni".into(), "cnm-kernel/fake".into())]
        );
        let mut g = good();
        if let Some(p) = g.packages.get_mut("simplebridge") {
            p.features
                .insert("testing".into(), vec!["cnm-kernel/fake".into()]);
        }
        assert_eq!(
            rules(&check(&g)),
            [(4, "simplebridge".into(), "cnm-kernel/fake".into())]
        );
        let mut g = good();
        if let Some(p) = g.packages.get_mut("cnm-kernel") {
            p.features.insert("default".into(), vec!["fake".into()]);
        }
        assert_eq!(
            rules(&check(&g)),
            [(4, "cnm-kernel".into(), "cnm-kernel/fake".into())]
        );
    }

    #[test]
    fn a_stale_exception_is_an_error() {
        let mut g = good();
        g.packages
            .get_mut("portmap")
            .map(|p| p.deps.remove("cnm-nft"));
        let v = check(&g);
        assert_eq!(rules(&v), [(0, "portmap".into(), "cnm-nft".into())]);
        assert!(v[0].to_string().contains("no longer needed"), "{}", v[0]);
    }

    #[test]
    fn metadata_is_read_with_dev_dependencies_left_out() {
        let meta = serde_json::json!({
            "workspace_root": "/w",
            "workspace_members": ["a 1", "k 1"],
            "packages": [
                {"id": "a 1", "name": "cnm-cni", "manifest_path": "/w/crates/cni-frontend/Cargo.toml",
                 "dependencies": [
                    {"name": "cnm-kernel", "kind": "dev", "features": ["fake"]},
                    {"name": "cnm-kernel", "kind": null, "features": []}],
                 "features": {}},
                {"id": "k 1", "name": "cnm-kernel", "manifest_path": "/w/crates/kernel/Cargo.toml",
                 "dependencies": [], "features": {"fake": []}},
                {"id": "n 1", "name": "cnm-netlink", "manifest_path": "/w/crates/netlink/Cargo.toml",
                 "dependencies": [], "features": {}}
            ],
            "resolve": {"nodes": [
                {"id": "a 1", "deps": [
                    {"pkg": "k 1", "dep_kinds": [{"kind": null}, {"kind": "dev"}]},
                    {"pkg": "n 1", "dep_kinds": [{"kind": "dev"}]}]},
                {"id": "k 1", "deps": []}
            ]}
        });
        let g = Graph::from_metadata(&meta).expect("graph");
        let cni = &g.packages["cnm-cni"];
        assert_eq!(cni.manifest, "crates/cni-frontend/Cargo.toml");
        assert_eq!(
            cni.deps,
            ["cnm-kernel".to_string()].into(),
            "dev-only netlink left out"
        );
        assert_eq!(
            cni.kernel_features,
            [Vec::<String>::new()],
            "the dev dependency's fake left out"
        );
        assert!(g.is_front_end("cnm-cni"));
        assert!(!g.is_front_end("cnm-kernel"));
        assert_eq!(check(&g), Vec::new());
    }
}
