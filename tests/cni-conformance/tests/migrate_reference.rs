//! Moving a running node from the reference plugins to ours (issue 10,
//! point 3; docs/migration.md). Attachments made by the reference `bridge`
//! (ipMasq) + `host-local` + `portmap` (iptables), then the binaries swapped
//! by the drop-in install: CHECK passes, DEL leaves nothing of the
//! reference's (no CNI- rule of the container, no veth, no reservation), GC
//! removes only what is no longer valid; the reference's MAC spoof check is
//! taken over too. The other way: after our ADD, the reference's CHECK
//! passes and its DEL succeeds (with ipMasq on a retry, see
//! docs/migration.md), and our DEL removes the nft elements it leaves.

use cni_conformance::dropin::{iptables_save, Node};
use cni_conformance::exec::{run_plugin, Env, Output};
use cni_conformance::inspect::{links_of_kind, nft};
use cni_conformance::iproute::link;
use cni_conformance::{
    bridge_name, net_name, ref_available, ref_dir, require_root, reservations, subnet_v4, Netns,
    TempDir,
};
use ipnet::Ipv4Net;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// One host namespace, its network and the two plugin directories.
struct Site {
    host: Netns,
    data: TempDir,
    net: String,
    bridge: String,
    v4: Ipv4Net,
    /// The node after the swap (drop-in install over the reference plugins).
    node: Node,
}

impl Site {
    fn new() -> Site {
        let node = Node::with_reference_plugins();
        node.run_script("install", "dropin");
        Site {
            host: Netns::new("mig"),
            data: TempDir::new("data"),
            net: net_name(),
            bridge: bridge_name(),
            v4: subnet_v4(),
            node,
        }
    }

    fn bridge_conf(&self, version: &str) -> Value {
        json!({
            "cniVersion": version, "name": self.net, "type": "bridge",
            "bridge": self.bridge, "isGateway": true, "ipMasq": true,
            "ipam": {"type": "host-local", "dataDir": self.data.path_str(),
                     "ranges": [[{"subnet": self.v4.to_string()}]]}
        })
    }

    fn portmap_conf(&self, version: &str, host_port: u16, prev: &Value) -> Value {
        json!({
            "cniVersion": version, "name": self.net, "type": "portmap",
            "capabilities": {"portMappings": true}, "snat": true,
            "runtimeConfig": {"portMappings": [
                {"hostPort": host_port, "containerPort": 80, "protocol": "tcp"},
                {"hostPort": host_port + 1, "containerPort": 53, "protocol": "udp"}
            ]},
            "prevResult": prev
        })
    }

    /// Run plugin `name` from `dir` for container `id` in `ctr`.
    fn run(
        &self,
        dir: &Path,
        name: &str,
        cmd: &str,
        id: &str,
        ctr: &Netns,
        conf: &Value,
    ) -> Output {
        let env = Env::attach(id, ctr.path_str(), "eth0", dir.to_str().unwrap_or_default())
            .in_ns(self.host.path());
        run_plugin(&dir.join(name), cmd, &env, conf.to_string().as_bytes())
    }

    fn ours(&self) -> PathBuf {
        self.node.bin_dir()
    }

    /// The reference's ADD of bridge then portmap; returns the bridge result.
    fn reference_add(&self, id: &str, ctr: &Netns, port: u16) -> Value {
        let r = self
            .run(
                &ref_dir(),
                "bridge",
                "ADD",
                id,
                ctr,
                &self.bridge_conf("1.0.0"),
            )
            .ok();
        self.run(
            &ref_dir(),
            "portmap",
            "ADD",
            id,
            ctr,
            &self.portmap_conf("1.0.0", port, &r),
        )
        .ok();
        r
    }

    /// CHECK, then DEL of portmap and bridge (a conflist's order) with `dir`'s plugins.
    fn check(&self, dir: &Path, id: &str, ctr: &Netns, r: &Value, port: u16) {
        let mut b = self.bridge_conf("1.0.0");
        b["prevResult"] = r.clone();
        self.run(dir, "bridge", "CHECK", id, ctr, &b).ok_empty();
        self.run(
            dir,
            "portmap",
            "CHECK",
            id,
            ctr,
            &self.portmap_conf("1.0.0", port, r),
        )
        .ok_empty();
    }

    fn del(&self, dir: &Path, id: &str, ctr: &Netns, r: &Value, port: u16) {
        self.run(
            dir,
            "portmap",
            "DEL",
            id,
            ctr,
            &self.portmap_conf("1.0.0", port, r),
        )
        .ok_empty();
        let mut b = self.bridge_conf("1.0.0");
        b["prevResult"] = r.clone();
        self.run(dir, "bridge", "DEL", id, ctr, &b).ok_empty();
    }

    fn iptables_lines_of(&self, id: &str) -> Vec<String> {
        let tag = format!("id: \\\"{id}\\\"");
        iptables_save(&self.host)
            .lines()
            .filter(|l| l.contains(&tag))
            .map(String::from)
            .collect()
    }

    /// Per-container chains (`:CNI-...` but the shared CNI-HOSTPORT-*).
    fn container_chains(&self) -> Vec<String> {
        iptables_save(&self.host)
            .lines()
            .filter(|l| l.starts_with(":CNI-") && !l.starts_with(":CNI-HOSTPORT-"))
            .map(String::from)
            .collect()
    }

    fn reserved_ids(&self) -> Vec<String> {
        reservations(self.data.path(), &self.net)
            .into_iter()
            .map(|r| {
                let text = String::from_utf8_lossy(&r.content).into_owned();
                text.lines().next().unwrap_or_default().trim().to_string()
            })
            .collect()
    }
}

fn refs_missing() -> bool {
    let missing = ["bridge", "host-local", "portmap"]
        .iter()
        .any(|p| !ref_available(p));
    if missing {
        eprintln!("skipped: reference plugins not installed");
    }
    missing
}

#[test]
fn reference_attachment_check_and_del_after_the_swap() {
    require_root!();
    if refs_missing() {
        return;
    }
    let s = Site::new();
    let c = Netns::new("migc");
    let r = s.reference_add("refctr1", &c, 18080);
    // Tagged: the POSTROUTING jump and two masquerade rules, two DNAT entries.
    assert_eq!(
        s.iptables_lines_of("refctr1").len(),
        5,
        "the reference made its rules"
    );
    let host_veth = r["interfaces"][1]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(host_veth.len(), 12, "the reference's random veth name: {r}");

    s.check(&s.ours(), "refctr1", &c, &r, 18080);
    // The reference's DNAT rules are read back: a mapping it never made fails.
    let wrong = s.portmap_conf("1.0.0", 18090, &r);
    let e = s.run(&s.ours(), "portmap", "CHECK", "refctr1", &c, &wrong);
    assert!(e.err_text().contains("18090"), "{}", e.err_text());
    e.err(Some(100));
    s.del(&s.ours(), "refctr1", &c, &r, 18080);

    assert_eq!(s.iptables_lines_of("refctr1"), Vec::<String>::new());
    assert_eq!(s.container_chains(), Vec::<String>::new());
    assert!(links_of_kind(&s.host, "veth").is_empty(), "a veth is left");
    assert!(link(&c, "eth0").is_none(), "eth0 left in the container");
    assert!(
        s.reserved_ids().is_empty(),
        "reservation left: {:?}",
        s.reserved_ids()
    );
    // DEL stays idempotent.
    s.del(&s.ours(), "refctr1", &c, &r, 18080);
}

#[test]
fn gc_after_the_swap_removes_only_stale_reference_attachments() {
    require_root!();
    if refs_missing() {
        return;
    }
    let s = Site::new();
    let (c1, c2) = (Netns::new("migg1"), Netns::new("migg2"));
    let r1 = s.reference_add("keepme", &c1, 18180);
    let r2 = s.reference_add("goneid", &c2, 18280);
    assert!(!s.iptables_lines_of("goneid").is_empty());
    // The second container is gone (its namespace and veth with it).
    drop(c2);

    let valid = json!([{"containerID": "keepme", "ifname": "eth0"}]);
    let mut gc = s.bridge_conf("1.1.0");
    gc["cni.dev/valid-attachments"] = valid.clone();
    let env = Env {
        path: Some(s.ours().display().to_string()),
        exec_in: Some(s.host.path().to_path_buf()),
        ..Env::default()
    };
    run_plugin(
        &s.ours().join("bridge"),
        "GC",
        &env,
        gc.to_string().as_bytes(),
    )
    .ok_empty();
    let mut pgc = json!({"cniVersion": "1.1.0", "name": s.net, "type": "portmap",
                         "capabilities": {"portMappings": true}});
    pgc["cni.dev/valid-attachments"] = valid;
    run_plugin(
        &s.ours().join("portmap"),
        "GC",
        &env,
        pgc.to_string().as_bytes(),
    )
    .ok_empty();

    assert_eq!(s.iptables_lines_of("goneid"), Vec::<String>::new());
    assert_eq!(
        s.iptables_lines_of("keepme").len(),
        5,
        "a valid attachment lost rules"
    );
    assert_eq!(s.reserved_ids(), vec!["keepme".to_string()]);
    assert_eq!(links_of_kind(&s.host, "veth").len(), 1);
    let _ = r2;

    s.check(&s.ours(), "keepme", &c1, &r1, 18180);
    s.del(&s.ours(), "keepme", &c1, &r1, 18180);
    assert_eq!(s.container_chains(), Vec::<String>::new());
    assert!(s.reserved_ids().is_empty());
    assert!(links_of_kind(&s.host, "veth").is_empty());
}

#[test]
fn reference_del_after_our_add_succeeds() {
    require_root!();
    if refs_missing() {
        return;
    }
    let s = Site::new();
    let (c1, c2) = (Netns::new("migr1"), Netns::new("migr2"));
    let ours = s.ours();
    let table = |ns: &Netns| {
        String::from_utf8_lossy(&nft(ns, &["list", "table", "inet", "cnm"]).stdout).into_owned()
    };
    // c1 without ipMasq, c2 with it; both with port mappings.
    let mut plain = s.bridge_conf("1.0.0");
    plain["ipMasq"] = json!(false);
    let r1 = s.run(&ours, "bridge", "ADD", "ours1", &c1, &plain).ok();
    s.run(
        &ours,
        "portmap",
        "ADD",
        "ours1",
        &c1,
        &s.portmap_conf("1.0.0", 18380, &r1),
    )
    .ok();
    let r2 = s
        .run(
            &ours,
            "bridge",
            "ADD",
            "ours2",
            &c2,
            &s.bridge_conf("1.0.0"),
        )
        .ok();
    s.run(
        &ours,
        "portmap",
        "ADD",
        "ours2",
        &c2,
        &s.portmap_conf("1.0.0", 18480, &r2),
    )
    .ok();
    assert!(
        table(&s.host).contains("ours1"),
        "our portmap elements are in place"
    );

    // Rolled back to the reference: its CHECK passes, its DEL must not fail.
    let refd = ref_dir();
    let mut k1 = plain.clone();
    k1["prevResult"] = r1.clone();
    s.run(&refd, "bridge", "CHECK", "ours1", &c1, &k1)
        .ok_empty();
    let mut k2 = s.bridge_conf("1.0.0");
    k2["prevResult"] = r2.clone();
    s.run(&refd, "bridge", "CHECK", "ours2", &c2, &k2)
        .ok_empty();
    s.run(
        &refd,
        "portmap",
        "DEL",
        "ours1",
        &c1,
        &s.portmap_conf("1.0.0", 18380, &r1),
    )
    .ok_empty();
    let mut d1 = plain.clone();
    d1["prevResult"] = r1.clone();
    s.run(&refd, "bridge", "DEL", "ours1", &c1, &d1).ok_empty();
    assert!(
        link(&c1, "eth0").is_none(),
        "the reference DEL removed eth0"
    );

    // With ipMasq, the reference (1.1.1 over iptables-nft) fails its first
    // DEL on the masquerade chain it never made (go-iptables does not take
    // iptables-nft's "Chain ... does not exist", exit 2, as "not found"),
    // after removing the interface and the address; the runtime's retry
    // succeeds. docs/migration.md says so.
    s.run(
        &refd,
        "portmap",
        "DEL",
        "ours2",
        &c2,
        &s.portmap_conf("1.0.0", 18480, &r2),
    )
    .ok_empty();
    let mut d2 = s.bridge_conf("1.0.0");
    d2["prevResult"] = r2.clone();
    let first = s.run(&refd, "bridge", "DEL", "ours2", &c2, &d2);
    if first.code != 0 {
        let why = first.err_text();
        assert!(
            why.contains("does not exist"),
            "unexpected reference DEL failure: {why}"
        );
    }
    assert!(
        link(&c2, "eth0").is_none(),
        "the reference DEL removed eth0"
    );
    s.run(&refd, "bridge", "DEL", "ours2", &c2, &d2).ok_empty();
    assert!(
        s.reserved_ids().is_empty(),
        "the reference DEL released the addresses"
    );
    assert!(links_of_kind(&s.host, "veth").is_empty());

    // Documented limit: our nft elements outlive the reference's DEL ...
    assert!(table(&s.host).contains("ours1"));
    // ... until our DEL (or GC) runs.
    s.del(&ours, "ours1", &c1, &r1, 18380);
    s.del(&ours, "ours2", &c2, &r2, 18480);
    let left = table(&s.host);
    assert!(!left.contains("ours1") && !left.contains("ours2"), "{left}");
}

#[test]
fn reference_mac_spoof_check_is_taken_over() {
    require_root!();
    if refs_missing() {
        return;
    }
    let s = Site::new();
    let c = Netns::new("migs");
    let mut conf = s.bridge_conf("1.0.0");
    conf["macspoofchk"] = json!(true);
    let r = s
        .run(&ref_dir(), "bridge", "ADD", "spoofctr", &c, &conf)
        .ok();
    let bridge_nat = || {
        String::from_utf8_lossy(&nft(&s.host, &["list", "table", "bridge", "nat"]).stdout)
            .into_owned()
    };
    assert!(
        bridge_nat().contains("macspoofchk-spoofctr-eth0"),
        "the reference made its check"
    );

    let mut chk = conf.clone();
    chk["prevResult"] = r;
    s.run(&s.ours(), "bridge", "CHECK", "spoofctr", &c, &chk)
        .ok_empty();
    s.run(&s.ours(), "bridge", "DEL", "spoofctr", &c, &chk)
        .ok_empty();
    let left = bridge_nat();
    assert!(!left.contains("spoofctr"), "{left}");
    assert!(s.iptables_lines_of("spoofctr").is_empty());
    assert!(links_of_kind(&s.host, "veth").is_empty());
    assert!(s.reserved_ids().is_empty());
}
