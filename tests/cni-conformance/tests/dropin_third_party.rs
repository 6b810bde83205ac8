//! Third-party network configs, unchanged (conf-examples/third-party/, see
//! its README for the sources), through the drop-in install: a node root
//! whose /opt/cni/bin held the reference plugins, `install.sh install
//! MODE=dropin`, then the installed `cnm` CLI runs each config's whole chain
//! (bridge/host-local/portmap are ours; loopback, firewall, tuning and
//! bandwidth stay the reference's) for two containers: ADD, ping both ways,
//! CHECK, DEL; afterwards no veth, no reservation, no iptables rule naming a
//! container address and no nft element of either container. Paths fixed in
//! the configs (/var/lib/cni, a dataDir) are per-test directories mounted
//! over them (over /var/lib for the first) in a private mount namespace; a
//! dataDir that does not exist is created as the mount point (an empty
//! directory, e.g. /tmp/foo).

use cni_conformance::bins::workspace_root;
use cni_conformance::dropin::{iptables_save, run_private, Node};
use cni_conformance::inspect::{links_of_kind, nft};
use cni_conformance::proc::RawOutput;
use cni_conformance::{ref_available, require_root, reservations, Netns, TempDir};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

struct Case {
    file: PathBuf,
    conf: Value,
    node: Node,
    confdir: TempDir,
    state: TempDir,
    data: TempDir,
    host: Netns,
}

impl Case {
    fn new(file: &Path) -> Case {
        let text = std::fs::read(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let conf: Value = serde_json::from_slice(&text)
            .unwrap_or_else(|e| panic!("{} is not JSON: {e}", file.display()));
        let node = Node::with_reference_plugins();
        node.run_script("install", "dropin");
        let confdir = TempDir::new("netconf");
        let name = file.file_name().unwrap_or_default();
        std::fs::write(confdir.path().join(name), &text).expect("copy config");
        Case {
            file: file.to_path_buf(),
            conf,
            node,
            confdir,
            state: TempDir::new("varlibcni"),
            data: TempDir::new("datadir"),
            host: Netns::new("3p"),
        }
    }

    fn plugins(&self) -> Vec<Value> {
        match self.conf["plugins"].as_array() {
            Some(list) => list.clone(),
            None => vec![self.conf.clone()],
        }
    }

    fn types(&self) -> Vec<String> {
        self.plugins()
            .iter()
            .filter_map(|p| p["type"].as_str().map(String::from))
            .collect()
    }

    fn data_dir(&self) -> Option<String> {
        self.plugins()
            .iter()
            .find_map(|p| p["ipam"]["dataDir"].as_str().map(String::from))
    }

    /// Where host-local keeps this network's reservations (outside the mount namespace).
    fn store(&self) -> PathBuf {
        match self.data_dir() {
            Some(_) => self.data.path().to_path_buf(),
            None => self.state.path().join("cni/networks"),
        }
    }

    fn name(&self) -> String {
        self.conf["name"].as_str().unwrap_or_default().to_string()
    }

    fn cnm(&self, verb: &str, id: &str, ctr: &Netns, port: u16) -> RawOutput {
        let data_dir = self.data_dir();
        // /var/lib itself (it exists), so that no /var/lib/cni is made on the host.
        let mut binds: Vec<(&Path, &str)> = vec![(self.state.path(), "/var/lib")];
        if let Some(d) = data_dir.as_deref() {
            binds.push((self.data.path(), d));
        }
        let cap =
            json!({"portMappings": [{"hostPort": port, "containerPort": 80, "protocol": "tcp"}]})
                .to_string();
        let bin = self.node.bin_dir();
        let env = [
            ("NETCONFPATH", self.confdir.path_str()),
            ("CNI_PATH", bin.to_str().unwrap_or_default()),
            ("CNI_CONTAINERID", id),
            ("CAP_ARGS", cap.as_str()),
        ];
        let cnm = self.node.cnm();
        let name = self.name();
        run_private(
            &self.host,
            &binds,
            &env,
            &[
                cnm.to_str().unwrap_or_default(),
                verb,
                &name,
                ctr.path_str(),
            ],
        )
    }

    fn ok(&self, out: &RawOutput, what: &str) -> String {
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert_eq!(
            out.code,
            0,
            "{}: {what} failed: {stdout}{}",
            self.file.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }
}

fn addresses(result: &str) -> Vec<String> {
    let v: Value = serde_json::from_str(result).unwrap_or(Value::Null);
    v["ips"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|ip| ip["address"].as_str())
        .filter_map(|a| a.split('/').next().map(String::from))
        .collect()
}

fn lifecycle(file: &Path) {
    let case = Case::new(file);
    let what = file.display().to_string();
    let types = case.types();
    assert!(
        types.iter().any(|t| t == "bridge"),
        "{what}: no bridge plugin"
    );
    let (c1, c2) = (Netns::new("3pc1"), Netns::new("3pc2"));
    let r1 = case.ok(&case.cnm("add", "tpctr1", &c1, 18580), "ADD c1");
    let r2 = case.ok(&case.cnm("add", "tpctr2", &c2, 18581), "ADD c2");
    let (a1, a2) = (addresses(&r1), addresses(&r2));
    assert!(
        !a1.is_empty() && a1.len() == a2.len(),
        "{what}: {r1} / {r2}"
    );

    // Ours run under the reference's names: host veths carry our derived
    // names (veth + 11 hex digits), port mappings are in our nft table.
    let veths = links_of_kind(&case.host, "veth");
    assert_eq!(veths.len(), 2, "{what}: {veths:?}");
    assert!(
        veths.iter().all(|l| l.ifname.len() == 15),
        "{what}: {veths:?}"
    );
    let table = || {
        String::from_utf8_lossy(&nft(&case.host, &["list", "table", "inet", "cnm"]).stdout)
            .into_owned()
    };
    if types.iter().any(|t| t == "portmap") {
        assert!(
            table().contains("tpctr1"),
            "{what}: no port mapping of ours"
        );
    }

    for (from, to) in [(&c1, &a2), (&c2, &a1)] {
        for ip in to {
            assert!(from.ping(ip, 5), "{what}: {} cannot ping {ip}", from.name());
        }
    }
    // CHECK exists from cniVersion 0.4.0 on (libcni refuses it before).
    let version = case.conf["cniVersion"].as_str().unwrap_or_default();
    let check =
        !version.starts_with("0.1") && !version.starts_with("0.2") && !version.starts_with("0.3");
    if check {
        case.ok(&case.cnm("check", "tpctr1", &c1, 18580), "CHECK c1");
        case.ok(&case.cnm("check", "tpctr2", &c2, 18581), "CHECK c2");
    }
    case.ok(&case.cnm("del", "tpctr1", &c1, 18580), "DEL c1");
    case.ok(&case.cnm("del", "tpctr2", &c2, 18581), "DEL c2");

    assert!(
        links_of_kind(&case.host, "veth").is_empty(),
        "{what}: veth left"
    );
    let left = reservations(&case.store(), &case.name());
    assert!(
        left.is_empty(),
        "{what}: reservations left in {}",
        case.store().display()
    );
    let rules = iptables_save(&case.host);
    for ip in a1.iter().chain(&a2) {
        let hit = rules
            .lines()
            .find(|l| l.contains(&format!("{ip}/")) || l.contains(&format!("{ip} ")));
        assert!(
            hit.is_none(),
            "{what}: iptables rule left for {ip}: {hit:?}"
        );
    }
    let t = table();
    assert!(
        !t.contains("tpctr1") && !t.contains("tpctr2"),
        "{what}: nft elements left: {t}"
    );
    let checked = if check { "CHECK, " } else { "" };
    eprintln!("{what}: {types:?} ADD, ping {a1:?} <-> {a2:?}, {checked}DEL: ok");
}

#[test]
fn third_party_configs_run_unchanged_through_the_drop_in_names() {
    require_root!();
    if [
        "bridge",
        "host-local",
        "portmap",
        "firewall",
        "tuning",
        "bandwidth",
        "loopback",
    ]
    .iter()
    .any(|p| !ref_available(p))
    {
        eprintln!("skipped: reference plugins not installed");
        return;
    }
    let dir = workspace_root().join("conf-examples/third-party");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.extension()
                .is_some_and(|x| x == "conf" || x == "conflist")
        })
        .collect();
    files.sort();
    assert!(
        files.len() >= 3,
        "at least three third-party configs: {files:?}"
    );
    for f in &files {
        lifecycle(f);
    }
}
