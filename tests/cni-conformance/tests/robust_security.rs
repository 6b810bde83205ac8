//! Security (issue 6, item 6): the store's folders we create are 0700 and
//! its files 0600 (through ipam-host-local and through simplebridge's
//! in-process IPAM); symlinks planted inside the store (a reservation, the
//! lock, the round-robin cursor) are never followed out of it by ADD, DEL or
//! GC. The refusal of the host's own namespace and the validation of names
//! that become paths or interface names are in `robust_hostile.rs`.

use cni_conformance::conf::bytes;
use cni_conformance::{
    require_root, run_plugin, BridgeFixture, Env, Impl, IpamFixture, Main, Output, TempDir,
};
use serde_json::{json, Value};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

fn mode(p: &Path) -> u32 {
    std::fs::symlink_metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o7777
}

/// Every folder under `root` (from `first` down) is 0700, every file 0600.
fn modes_ok(root: &Path, first: &Path, net: &str, what: &str) {
    let mut dir = first.to_path_buf();
    loop {
        assert_eq!(mode(&dir), 0o700, "{what}: folder {} mode", dir.display());
        if dir == root {
            break;
        }
        dir = dir.parent().map(Path::to_path_buf).unwrap_or_default();
        if dir.as_os_str().is_empty() {
            break;
        }
    }
    let netdir = root.join(net);
    assert_eq!(mode(&netdir), 0o700, "{what}: network folder mode");
    let mut files = 0;
    for e in std::fs::read_dir(&netdir).unwrap().flatten() {
        files += 1;
        assert_eq!(
            mode(&e.path()),
            0o600,
            "{what}: file {} mode",
            e.path().display()
        );
    }
    assert!(files >= 3, "{what}: reservation, lock and cursor expected");
}

fn no_panic(out: &Output, what: &str) {
    assert!(
        !out.stderr.contains("panicked"),
        "{what}: panicked: {}",
        out.stderr
    );
}

#[test]
fn store_modes_host_local() {
    require_root!();
    let f = IpamFixture::new(Impl::Ours);
    // A dataDir that does not exist yet: the plugin creates sub/store.
    let root = f.data.path().join("sub/store");
    let mut conf = f.conf(f.default_ranges());
    conf["ipam"]["dataDir"] = json!(root.to_string_lossy());
    f.add_ok("ctr", &conf);
    modes_ok(&root, &root, &f.net, "ipam-host-local");
    assert_eq!(mode(&f.data.path().join("sub")), 0o700, "created parent");
    f.run("DEL", "ctr", &conf).ok_empty();
}

#[test]
fn store_modes_simplebridge() {
    require_root!();
    let f = BridgeFixture::new(Main::SimpleBridge, Impl::Ours);
    let root = f.data.path().join("nested");
    let mut conf = f.conf("1.1.0");
    conf["ipam"]["dataDir"] = json!(root.to_string_lossy());
    let c = f.container("c");
    f.add("ctr", &c, &conf);
    modes_ok(&root, &root, &f.net, "simplebridge");
    f.run("DEL", &f.env("ctr", &c, "eth0"), &conf).ok_empty();
}

/// A victim file outside the store and its content.
struct Victim {
    dir: TempDir,
}

impl Victim {
    fn new() -> Victim {
        let dir = TempDir::new("victim");
        std::fs::write(dir.path().join("file"), b"keep me").unwrap();
        Victim { dir }
    }
    fn file(&self) -> std::path::PathBuf {
        self.dir.path().join("file")
    }
    fn absent(&self) -> std::path::PathBuf {
        self.dir.path().join("absent")
    }
    /// The file is intact and nothing else appeared next to it.
    fn intact(&self, what: &str) {
        assert_eq!(
            std::fs::read(self.file()).ok().as_deref(),
            Some(&b"keep me"[..]),
            "{what}: the file outside the store was changed or removed"
        );
        let names: Vec<_> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(
            names.len(),
            1,
            "{what}: created outside the store: {names:?}"
        );
    }
}

fn netdir(f: &IpamFixture) -> std::path::PathBuf {
    let d = f.data.path().join(&f.net);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o700)).unwrap();
    d
}

/// A reservation file that is a symlink out of the store: ADD does not write
/// through it (it is skipped or refused), DEL and GC do not touch its target.
#[test]
fn reservation_symlink_not_followed() {
    require_root!();
    let f = IpamFixture::new(Impl::Ours);
    let v = Victim::new();
    let planted = netdir(&f).join(f.host(2));
    std::os::unix::fs::symlink(v.file(), &planted).unwrap();
    let conf = f.conf(f.default_ranges());
    let out = f.run("ADD", "ctr", &conf);
    no_panic(&out, "ADD");
    if out.code == 0 {
        let ip = IpamFixture::first_ip(&out.ok());
        assert_ne!(ip, f.host(2), "the symlinked address was handed out");
    } else {
        out.err(None);
    }
    v.intact("ADD");
    f.run("DEL", "ctr", &conf).ok_empty();
    v.intact("DEL");
    // GC of everything: the planted link may go, its target must stay.
    let mut gc = conf.clone();
    gc["cni.dev/valid-attachments"] = json!([]);
    let out = run_plugin(
        &f.imp.host_local(),
        "GC",
        &Env {
            path: Some(f.cni_path.path_str().into()),
            ..Env::default()
        },
        &bytes(&gc),
    );
    no_panic(&out, "GC");
    v.intact("GC");
}

/// Same, with the symlink holding the ADD's own container ID reached by DEL:
/// a symlink named like an address with our ID inside is not "ours" to delete
/// through.
#[test]
fn reservation_symlink_to_matching_content_not_followed() {
    require_root!();
    let f = IpamFixture::new(Impl::Ours);
    let v = Victim::new();
    std::fs::write(v.file(), b"ctr\r\neth0").unwrap();
    let planted = netdir(&f).join(f.host(7));
    std::os::unix::fs::symlink(v.file(), &planted).unwrap();
    let conf = f.conf(f.default_ranges());
    let out = f.run("DEL", "ctr", &conf);
    no_panic(&out, "DEL");
    assert_eq!(
        std::fs::read(v.file()).ok().as_deref(),
        Some(&b"ctr\r\neth0"[..]),
        "DEL changed or removed the symlink's target"
    );
}

/// `lock` and `last_reserved_ip.0` as symlinks out of the store: nothing is
/// created or written at their targets; a symlinked lock is refused (code 5).
#[test]
fn bookkeeping_symlinks_not_followed() {
    require_root!();
    let conf_for = |f: &IpamFixture| f.conf(f.default_ranges());

    let f = IpamFixture::new(Impl::Ours);
    let v = Victim::new();
    std::os::unix::fs::symlink(v.absent(), netdir(&f).join("lock")).unwrap();
    let out = f.run("ADD", "ctr", &conf_for(&f));
    no_panic(&out, "ADD with lock symlink");
    out.err(Some(5));
    v.intact("ADD with lock symlink");
    assert!(
        f.reservations().is_empty(),
        "ADD reserved despite the refusal"
    );

    let f = IpamFixture::new(Impl::Ours);
    let v = Victim::new();
    std::os::unix::fs::symlink(v.absent(), netdir(&f).join("last_reserved_ip.0")).unwrap();
    let out = f.run("ADD", "ctr", &conf_for(&f));
    no_panic(&out, "ADD with cursor symlink");
    if out.code != 0 {
        out.err(None);
    }
    v.intact("ADD with cursor symlink");
    let out = f.run("DEL", "ctr", &conf_for(&f));
    no_panic(&out, "DEL with cursor symlink");
    v.intact("DEL with cursor symlink");
}

/// The value of a planted symlink file in the network folder of simplebridge's
/// in-process IPAM is never written either (same store code, other entry).
#[test]
fn simplebridge_store_symlink_not_followed() {
    require_root!();
    let f = BridgeFixture::new(Main::SimpleBridge, Impl::Ours);
    let v = Victim::new();
    let d = f.data.path().join(&f.net);
    std::fs::create_dir_all(&d).unwrap();
    std::os::unix::fs::symlink(v.absent(), d.join("last_reserved_ip.0")).unwrap();
    std::os::unix::fs::symlink(v.file(), d.join(f.host_ip(2))).unwrap();
    let conf: Value = f.conf("1.1.0");
    let c = f.container("c");
    let out = f.run("ADD", &f.env("ctr", &c, "eth0"), &conf);
    no_panic(&out, "simplebridge ADD");
    if out.code == 0 {
        let r = out.ok();
        assert_ne!(
            r["ips"][0]["address"],
            json!(format!("{}/24", f.host_ip(2))),
            "the symlinked address was handed out: {r}"
        );
    } else {
        out.err(None);
    }
    v.intact("simplebridge ADD");
    f.run("DEL", &f.env("ctr", &c, "eth0"), &conf).ok_empty();
    v.intact("simplebridge DEL");
}
