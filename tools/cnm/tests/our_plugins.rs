//! `cnm` driving the project's own plugins (target/debug/simplebridge and
//! ipam-host-local) with a cniVersion 1.1.0 list, so GC and STATUS reach the
//! plugins. Skipped when the binaries have not been built. Root; throwaway
//! namespaces only.

mod common;

use std::path::PathBuf;

use serde_json::json;

/// The directory holding the `cnm` binary, where cargo also puts the plugins.
fn bin_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_cnm"))
        .parent()
        .map(PathBuf::from)
        .unwrap_or_default()
}

fn ready() -> bool {
    if !common::is_root() {
        return false;
    }
    for bin in ["simplebridge", "ipam-host-local"] {
        if !bin_dir().join(bin).exists() {
            println!(
                "skipped: {} not built (cargo build -p {bin})",
                bin_dir().join(bin).display()
            );
            return false;
        }
    }
    true
}

#[test]
fn lifecycle_with_simplebridge_v1_1_0() {
    if !ready() {
        return;
    }
    let world = common::World::new(&bin_dir().display().to_string());
    let conf = json!({
        "cniVersion": "1.1.0",
        "name": "cnmours",
        "plugins": [{
            "type": "simplebridge",
            "bridge": "cnmo0",
            "isGateway": true,
            "ipam": {
                "type": "ipam-host-local",
                "ranges": [[{"subnet": "10.204.0.0/24"}]],
                "dataDir": world.ipam_dir(),
            }
        }]
    });
    let bytes = world.write_conf("10-cnmours.conflist", &conf);
    common::lifecycle(&world, "cnmours", &bytes, "1.1.0");
}

#[test]
fn cni_versions_selects_highest() {
    if !ready() {
        return;
    }
    // cniVersion 1.0.0 with cniVersions [.., 1.1.0]: the plugins get 1.1.0.
    let world = common::World::new(&bin_dir().display().to_string());
    let conf = json!({
        "cniVersion": "1.0.0",
        "cniVersions": ["0.4.0", "1.1.0"],
        "name": "cnmvers",
        "plugins": [{
            "type": "simplebridge",
            "bridge": "cnmo1",
            "ipam": {"type": "ipam-host-local", "ranges": [[{"subnet": "10.205.0.0/24"}]], "dataDir": world.ipam_dir()}
        }]
    });
    world.write_conf("10-cnmvers.conflist", &conf);
    let c = common::Netns::new("ctr");
    let out = common::ok(&world.cnm(&["add", "cnmvers", &c.path()], &[]), "add");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["cniVersion"], "1.1.0", "{out}");
    common::ok(&world.cnm(&["del", "cnmvers", &c.path()], &[]), "del");
}
