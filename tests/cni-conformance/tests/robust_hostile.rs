//! Hostile and broken input (issue 6, item 4), against simplebridge and
//! ipam-host-local where the input applies. Each case expects a CNI error
//! with a given code, exit status 1, no panic on stderr, and nothing created:
//! the dataDir (and any symlink target) unchanged, no link but `lo` in the
//! plugin's (throwaway host) namespace or in the container namespace.
//! A few inputs are valid and must succeed cleanly (10 MB config, layer-2
//! mode, a /0 subnet, `ipam` without `type` for host-local).

use cni_conformance::conf::bytes;
use cni_conformance::robust::{links_but_lo, tree};
use cni_conformance::{
    host_local_conf, reference, require_root, run_plugin, BridgeFixture, Env, Impl, Main, Netns,
    Output, TempDir,
};
use serde_json::{json, Value};
use std::path::PathBuf;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum P {
    Bridge,
    HostLocal,
}

const BOTH: &[P] = &[P::Bridge, P::HostLocal];
const BRIDGE: &[P] = &[P::Bridge];
const HOSTLOCAL: &[P] = &[P::HostLocal];

/// One request, as a case may change it.
struct Req {
    command: String,
    env: Env,
    conf: Value,
    /// Raw stdin; when None the config is serialised.
    stdin: Option<Vec<u8>>,
    /// Directories that must stay exactly as they were (symlink targets).
    watch: Vec<PathBuf>,
    /// Kept alive for the request (symlink targets, plain files).
    _keep: Vec<TempDir>,
}

struct World {
    f: BridgeFixture,
    c: Netns,
    p: P,
}

impl World {
    fn new(p: P) -> World {
        let f = BridgeFixture::new(Main::SimpleBridge, Impl::Ours);
        let c = f.container("c");
        World { f, c, p }
    }

    fn request(&self) -> Req {
        let conf = match self.p {
            P::Bridge => self.f.conf("1.1.0"),
            P::HostLocal => host_local_conf(
                Impl::Ours,
                "1.1.0",
                &self.f.net,
                self.f.data.path_str(),
                json!([[{"subnet": self.f.v4.to_string()}]]),
            ),
        };
        Req {
            command: "ADD".into(),
            env: self.f.env("hostile", &self.c, "eth0"),
            conf,
            stdin: None,
            watch: Vec::new(),
            _keep: Vec::new(),
        }
    }

    fn bin(&self) -> PathBuf {
        self.f.cni_path.bin(match self.p {
            P::Bridge => "simplebridge",
            P::HostLocal => "ipam-host-local",
        })
    }

    fn run(&self, req: &Req) -> Output {
        let stdin = req.stdin.clone().unwrap_or_else(|| bytes(&req.conf));
        run_plugin(&self.bin(), &req.command, &req.env, &stdin)
    }
}

type Setup = fn(&World, &mut Req);

struct Case {
    name: &'static str,
    plugins: &'static [P],
    code: u64,
    /// Text the error (msg + details) must contain.
    mentions: &'static str,
    setup: Setup,
}

fn set_range(r: &mut Req, range: Value) {
    r.conf["ipam"]["ranges"] = json!([[range]]);
}

fn padding(r: &mut Req, n: usize) {
    r.conf["padding"] = json!("x".repeat(n));
}

fn cases() -> Vec<Case> {
    let c = |name, plugins, code, setup| Case {
        name,
        plugins,
        code,
        mentions: "",
        setup,
    };
    vec![
        c("empty stdin", BOTH, 6, |_, r| r.stdin = Some(Vec::new())),
        c("truncated JSON", BOTH, 6, |_, r| {
            let b = bytes(&r.conf);
            r.stdin = Some(b[..b.len() / 2].to_vec());
        }),
        c("a JSON array", BOTH, 6, |_, r| {
            r.stdin = Some(b"[{\"cniVersion\":\"1.1.0\"}]".to_vec())
        }),
        c("a JSON string", BOTH, 6, |_, r| {
            r.stdin = Some(b"\"x\"".to_vec())
        }),
        c("a 20 MB config", BOTH, 5, |_, r| padding(r, 20 << 20)),
        c("network name a/b", BOTH, 7, |_, r| {
            r.conf["name"] = json!("a/b")
        }),
        c("network name ..", BOTH, 7, |_, r| {
            r.conf["name"] = json!("..")
        }),
        c("network name -net", BOTH, 7, |_, r| {
            r.conf["name"] = json!("-net")
        }),
        c("container ID a/b", BOTH, 4, |_, r| {
            r.env.containerid = Some("a/b".into())
        }),
        c("container ID ..", BOTH, 4, |_, r| {
            r.env.containerid = Some("..".into())
        }),
        c("container ID -ctr", BOTH, 4, |_, r| {
            r.env.containerid = Some("-ctr".into())
        }),
        c("ifname ..", BOTH, 4, |_, r| {
            r.env.ifname = Some("..".into())
        }),
        c("ifname of 16 bytes", BOTH, 4, |_, r| {
            r.env.ifname = Some("0123456789abcdef".into())
        }),
        c("ifname with :", BOTH, 4, |_, r| {
            r.env.ifname = Some("eth:0".into())
        }),
        c("CNI_NETNS a plain file", BRIDGE, 4, |_, r| {
            let d = TempDir::new("plainns");
            let file = d.path().join("ns");
            std::fs::write(&file, b"not a namespace").unwrap();
            r.env.netns = Some(file.to_string_lossy().into_owned());
            r._keep.push(d);
        }),
        c("CNI_NETNS that does not exist", BRIDGE, 4, |_, r| {
            r.env.netns = Some(format!("/run/netns/cnmt-missing-{}", std::process::id()))
        }),
        c("CNI_NETNS the plugin's own ns (path)", BRIDGE, 8, |w, r| {
            r.env.netns = Some(w.f.host.path_str().into())
        }),
        c("CNI_NETNS /proc/self/ns/net", BRIDGE, 8, |_, r| {
            r.env.netns = Some("/proc/self/ns/net".into())
        }),
        c(
            "DEL with CNI_NETNS the plugin's own ns",
            BRIDGE,
            8,
            |w, r| {
                r.command = "DEL".into();
                r.env.netns = Some(w.f.host.path_str().into());
            },
        ),
        c(
            "CHECK with CNI_NETNS the plugin's own ns",
            BRIDGE,
            8,
            |w, r| {
                r.command = "CHECK".into();
                r.env.netns = Some(w.f.host.path_str().into());
                r.conf["prevResult"] = json!({
                    "cniVersion": "1.1.0",
                    "interfaces": [{"name": "eth0", "sandbox": w.f.host.path_str()}],
                    "ips": [{"address": format!("{}/24", w.f.host_ip(2)), "interface": 0}],
                });
            },
        ),
        c("dataDir a symlink", BOTH, 5, |w, r| {
            let target = TempDir::new("symtarget");
            let link = w.f.data.path().join("link");
            std::os::unix::fs::symlink(target.path(), &link).unwrap();
            r.conf["ipam"]["dataDir"] = json!(link.to_string_lossy());
            r.watch.push(target.path().to_path_buf());
            r._keep.push(target);
        }),
        c("network folder a symlink", BOTH, 5, |w, r| {
            let target = TempDir::new("symtarget");
            let link = w.f.data.path().join(&w.f.net);
            std::os::unix::fs::symlink(target.path(), &link).unwrap();
            r.watch.push(target.path().to_path_buf());
            r._keep.push(target);
        }),
        c("subnet /32", BOTH, 7, |_, r| {
            set_range(r, json!({"subnet": "10.99.0.1/32"}))
        }),
        c("subnet IPv6 /127", BOTH, 7, |_, r| {
            set_range(r, json!({"subnet": "fd00:99::/127"}))
        }),
        c("gateway outside the subnet", BOTH, 7, |w, r| {
            set_range(
                r,
                json!({"subnet": w.f.v4.to_string(), "gateway": "192.0.2.1"}),
            )
        }),
        c("rangeStart after rangeEnd", BOTH, 7, |w, r| {
            set_range(
                r,
                json!({"subnet": w.f.v4.to_string(), "rangeStart": w.f.host_ip(200), "rangeEnd": w.f.host_ip(100)}),
            )
        }),
        Case {
            name: "ipam.type not in CNI_PATH",
            plugins: BRIDGE,
            code: 7,
            mentions: "nosuchipam",
            setup: |_, r| r.conf["ipam"]["type"] = json!("nosuchipam"),
        },
        c("no ipam key (host-local)", HOSTLOCAL, 7, |_, r| {
            if let Some(o) = r.conf.as_object_mut() {
                o.remove("ipam");
            }
        }),
        c("empty CNI_PATH", BOTH, 4, |_, r| {
            r.env.path = Some(String::new())
        }),
        c("prevResult a string (CHECK)", BOTH, 6, |_, r| {
            r.command = "CHECK".into();
            r.conf["prevResult"] = json!("garbage");
        }),
        c("prevResult with a bad address (CHECK)", BOTH, 6, |_, r| {
            r.command = "CHECK".into();
            r.conf["prevResult"] =
                json!({"cniVersion": "1.1.0", "ips": [{"address": "not-an-ip"}]});
        }),
        c("unknown CNI_COMMAND", BOTH, 4, |_, r| {
            r.command = "FROB".into()
        }),
        c("mtu -1", BRIDGE, 7, |_, r| r.conf["mtu"] = json!(-1)),
        c("mtu 100000", BRIDGE, 7, |_, r| {
            r.conf["mtu"] = json!(100000)
        }),
        c("vlan 5000", BRIDGE, 7, |_, r| r.conf["vlan"] = json!(5000)),
    ]
}

/// Nothing was created: watched dirs and the dataDir unchanged, no links.
fn run_case(case: &Case, p: P) {
    let w = World::new(p);
    let mut req = w.request();
    (case.setup)(&w, &mut req);
    let data_before = tree(w.f.data.path());
    let watch_before: Vec<_> = req.watch.iter().map(|d| tree(d)).collect();
    let out = w.run(&req);
    let what = format!("{} ({p:?})", case.name);
    assert!(
        !out.stderr.contains("panicked"),
        "{what}: the plugin panicked: {}",
        out.stderr
    );
    let err = out.err(Some(case.code));
    if !case.mentions.is_empty() {
        assert!(
            out.err_text().contains(case.mentions),
            "{what}: error does not name {:?}: {err}",
            case.mentions
        );
    }
    assert_eq!(
        tree(w.f.data.path()),
        data_before,
        "{what}: the dataDir changed"
    );
    for (d, before) in req.watch.iter().zip(watch_before) {
        assert_eq!(tree(d), before, "{what}: written through a symlink");
    }
    let host = links_but_lo(&w.f.host);
    assert!(host.is_empty(), "{what}: links in the host ns: {host:?}");
    let inside = links_but_lo(&w.c);
    assert!(
        inside.is_empty(),
        "{what}: links in the container: {inside:?}"
    );
}

#[test]
fn hostile_inputs_get_clean_errors() {
    require_root!();
    let mut failures = Vec::new();
    let mut count = 0;
    for case in cases() {
        for p in case.plugins {
            count += 1;
            let res =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run_case(&case, *p)));
            if let Err(e) = res {
                let msg = e
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                failures.push(format!("- {} ({p:?}): {msg}", case.name));
            }
        }
    }
    eprintln!("hostile inputs (error cases): {count}");
    assert!(
        failures.is_empty(),
        "{} of {count} hostile inputs failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// ADD must succeed; then DEL with the same request leaves nothing.
fn add_then_del(w: &World, req: &Req, what: &str) -> Value {
    let out = w.run(req);
    assert!(!out.stderr.contains("panicked"), "{what}: {}", out.stderr);
    let r = out.ok();
    let mut del = Req {
        command: "DEL".into(),
        env: req.env.clone(),
        conf: req.conf.clone(),
        stdin: req.stdin.clone(),
        watch: Vec::new(),
        _keep: Vec::new(),
    };
    del.conf["prevResult"] = r.clone();
    if del.stdin.is_some() {
        del.stdin = Some(bytes(&del.conf));
    }
    w.run(&del).ok_empty();
    assert!(w.f.reservations().is_empty(), "{what}: reservation left");
    assert!(
        links_but_lo(&w.c).is_empty(),
        "{what}: links left in container"
    );
    r
}

/// MAX_STDIN is 16 MiB: a 10 MB config parses and works.
#[test]
fn ten_megabyte_config_works() {
    require_root!();
    for p in BOTH {
        let w = World::new(*p);
        let mut req = w.request();
        padding(&mut req, 10_000_000);
        let r = add_then_del(&w, &req, &format!("10 MB config ({p:?})"));
        assert!(r["ips"][0]["address"].is_string(), "{p:?}: {r}");
    }
}

/// Without `ipam.type` simplebridge is a layer-2 bridge: no IP, success.
#[test]
fn bridge_without_ipam_type_is_layer2() {
    require_root!();
    let w = World::new(P::Bridge);
    let mut req = w.request();
    if let Some(o) = req.conf.as_object_mut() {
        o.remove("ipam");
    }
    req.conf["isGateway"] = json!(false);
    req.conf["isDefaultGateway"] = json!(false);
    let r = add_then_del(&w, &req, "layer-2");
    assert!(
        r["ips"].as_array().is_none_or(Vec::is_empty),
        "layer-2 mode gives no IP: {r}"
    );
}

/// host-local agrees with the reference on `ipam` without `type`: both
/// accept it (the type is the runtime's business).
#[test]
fn host_local_matches_reference_without_ipam_type() {
    require_root!();
    let w = World::new(P::HostLocal);
    let mut req = w.request();
    if let Some(o) = req.conf["ipam"].as_object_mut() {
        o.remove("type");
    }
    let data = TempDir::new("refdata");
    let mut rconf = req.conf.clone();
    rconf["cniVersion"] = json!("1.0.0");
    rconf["ipam"]["dataDir"] = json!(data.path_str());
    let theirs = run_plugin(&reference("host-local"), "ADD", &req.env, &bytes(&rconf));
    let r = add_then_del(&w, &req, "ipam without type");
    assert_eq!(
        theirs.ok()["ips"],
        r["ips"],
        "same address as the reference"
    );
}

/// A /0 subnet is not "too small" (the only size rule of host-local), so our
/// host-local allocates from it (0.0.0.2/0, gateway 0.0.0.1). The Debian
/// reference fails here with code 999 "no IP addresses available in range
/// set" (an overflow of its range end), so it is not used as the oracle.
#[test]
fn host_local_subnet_slash_zero() {
    require_root!();
    let w = World::new(P::HostLocal);
    let mut req = w.request();
    set_range(&mut req, json!({"subnet": "0.0.0.0/0"}));
    let r = add_then_del(&w, &req, "subnet /0");
    assert_eq!(r["ips"][0]["address"], json!("0.0.0.2/0"), "{r}");
    assert_eq!(r["ips"][0]["gateway"], json!("0.0.0.1"), "{r}");
}
