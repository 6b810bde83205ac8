//! Root-only tests: create throwaway named namespaces, enter them, and check what the
//! kernel shows. Nothing is created or changed in the machine's own network namespace.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use netns::{create_at, create_named, remove_at, remove_named, NetNs, NetnsError};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// True when root; otherwise reports a counted skip (cnm-test-support).
fn is_root() -> bool {
    cnm_test_support::require_root("netns root test")
}

/// A named namespace removed on drop, also when the test fails.
struct NsGuard {
    name: String,
    path: PathBuf,
}

impl NsGuard {
    fn new() -> NsGuard {
        let name = format!(
            "netnstest-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        let path = create_named(&name).unwrap();
        NsGuard { name, path }
    }
}

impl Drop for NsGuard {
    fn drop(&mut self) {
        if let Err(e) = remove_named(&self.name) {
            eprintln!("cleanup of {}: {e}", self.name);
        }
    }
}

/// A scratch directory (`tempfile`) removed on drop, after unbinding anything left in it (a
/// bind-mounted namespace file would make the removal fail).
struct TempDir(PathBuf, Option<tempfile::TempDir>);

impl TempDir {
    fn new() -> TempDir {
        let dir = tempfile::Builder::new()
            .prefix("netnstest-dir-")
            .tempdir()
            .unwrap();
        TempDir(dir.path().to_path_buf(), Some(dir))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if let Ok(entries) = fs::read_dir(&self.0) {
            for e in entries.flatten() {
                let _ = remove_at(e.path());
                let _ = fs::remove_file(e.path());
                let _ = fs::remove_dir_all(e.path());
            }
        }
        // The tempfile handle removes the (now unbound) directory.
        drop(self.1.take());
    }
}

/// Interface names listed in a /proc/.../net/dev file.
fn dev_names(text: &str) -> Vec<String> {
    text.lines()
        .skip(2)
        .filter_map(|l| l.split(':').next())
        .map(|s| s.trim().to_owned())
        .collect()
}

#[test]
fn create_named_open_and_run_in() {
    if !is_root() {
        return;
    }
    let before = NetNs::current().unwrap();
    let g = NsGuard::new();
    assert_eq!(g.path, Path::new("/run/netns").join(&g.name));
    let ns = NetNs::open(&g.path).unwrap();
    assert_eq!(ns.path(), g.path);
    assert!(!ns.is_same(&before));
    ns.check_not_own(false).unwrap();

    let (inode, devs) = ns
        .run_in(|| {
            let inode = NetNs::current().unwrap().inode();
            let devs = fs::read_to_string("/proc/thread-self/net/dev").unwrap();
            (inode, dev_names(&devs))
        })
        .unwrap();
    assert_eq!(inode, ns.inode());
    assert_eq!(devs, vec!["lo".to_owned()], "a fresh netns has only lo");

    // The calling thread never moved.
    let after = NetNs::current().unwrap();
    assert!(after.is_same(&before));
    assert_ne!(after.inode(), ns.inode());
}

#[test]
fn is_same_compares_namespaces_not_files() {
    if !is_root() {
        return;
    }
    let a = NsGuard::new();
    let b = NsGuard::new();
    let a1 = NetNs::open(&a.path).unwrap();
    let a2 = NetNs::open(&a.path).unwrap();
    let b1 = NetNs::open(&b.path).unwrap();
    assert!(a1.is_same(&a2));
    assert!(!a1.is_same(&b1));
    // The same namespace reached through /proc of a thread inside it.
    let via_proc = a1.run_in(|| NetNs::current().unwrap()).unwrap();
    assert!(via_proc.is_same(&a1));
    assert_eq!(via_proc.inode(), a1.inode());
}

#[test]
fn check_not_own_refuses_own_namespace_only() {
    if !is_root() {
        return;
    }
    let own = NetNs::open("/proc/self/ns/net").unwrap();
    assert!(matches!(
        own.check_not_own(false),
        Err(NetnsError::IsOwnNamespace { .. })
    ));
    own.check_not_own(true).unwrap();
    let g = NsGuard::new();
    NetNs::open(&g.path).unwrap().check_not_own(false).unwrap();
}

#[test]
fn not_netns_and_not_found() {
    if !is_root() {
        return;
    }
    let dir = TempDir::new();
    let plain = dir.0.join("plain");
    fs::write(&plain, b"").unwrap();
    match NetNs::open(&plain) {
        Err(NetnsError::NotNetns { path, magic }) => {
            assert_eq!(path, plain);
            assert_ne!(magic, 0x6e736673);
        }
        other => panic!("expected NotNetns, got {other:?}"),
    }
    let missing = dir.0.join("missing");
    match NetNs::open(&missing) {
        Err(NetnsError::NotFound { path }) => assert_eq!(path, missing),
        other => panic!("expected NotFound, got {other:?}"),
    }
    // A placeholder whose bind mount went away (stale) is no namespace either.
    let stale = dir.0.join("stale");
    create_at(&stale).unwrap();
    NetNs::open(&stale).unwrap();
    nix::mount::umount2(&stale, nix::mount::MntFlags::MNT_DETACH).unwrap();
    assert!(matches!(
        NetNs::open(&stale),
        Err(NetnsError::NotNetns { .. })
    ));
    // remove_at still cleans up the empty placeholder.
    remove_at(&stale).unwrap();
    assert!(!stale.exists());
}

#[test]
fn create_twice_fails_remove_twice_ok() {
    if !is_root() {
        return;
    }
    let g = NsGuard::new();
    match create_named(&g.name) {
        Err(NetnsError::AlreadyExists { path }) => assert_eq!(path, g.path),
        other => panic!("expected AlreadyExists, got {other:?}"),
    }
    // The failed attempt left the existing namespace intact.
    NetNs::open(&g.path).unwrap();
    remove_named(&g.name).unwrap();
    assert!(!g.path.exists());
    remove_named(&g.name).unwrap();
    assert!(matches!(
        remove_named("../etc"),
        Err(NetnsError::InvalidName { .. })
    ));
}

#[test]
fn create_at_and_remove_at_arbitrary_path() {
    if !is_root() {
        return;
    }
    let dir = TempDir::new();
    let p = dir.0.join("ns");
    create_at(&p).unwrap();
    let ns = NetNs::open(&p).unwrap();
    ns.check_not_own(false).unwrap();
    // Still alive through the open fd after removal of the mount.
    remove_at(&p).unwrap();
    assert!(!p.exists());
    let devs = ns
        .run_in(|| dev_names(&fs::read_to_string("/proc/thread-self/net/dev").unwrap()))
        .unwrap();
    assert_eq!(devs, vec!["lo".to_owned()]);
    remove_at(&p).unwrap();

    // Parent must exist.
    let orphan = dir.0.join("no-such-dir").join("ns");
    match create_at(&orphan) {
        Err(NetnsError::NotFound { path }) => assert_eq!(path, dir.0.join("no-such-dir")),
        other => panic!("expected NotFound, got {other:?}"),
    }
    // remove_at refuses what it did not create.
    let data = dir.0.join("data");
    fs::write(&data, b"keep me").unwrap();
    assert!(matches!(
        remove_at(&data),
        Err(NetnsError::NotRemovable { .. })
    ));
    assert_eq!(fs::read(&data).unwrap(), b"keep me");
    assert!(matches!(
        remove_at(&dir.0),
        Err(NetnsError::NotRemovable { .. })
    ));
}

/// The /proc/sys/net question: it follows the netns of the thread that opens it.
#[test]
fn proc_sys_net_follows_the_thread_inside_run_in() {
    if !is_root() {
        return;
    }
    let key = "/proc/sys/net/ipv6/conf/lo/hop_limit";
    if !Path::new(key).exists() {
        eprintln!("skipped: no IPv6 sysctls");
        return;
    }
    let g = NsGuard::new();
    let ns = NetNs::open(&g.path).unwrap();
    // Read-only in the root namespace.
    let host = fs::read_to_string(key).unwrap().trim().to_owned();
    let want = if host == "42" { "43" } else { "42" };

    // Opened by the calling thread before entering: keeps pointing at the old netns.
    let mut pre_opened = fs::File::open(key).unwrap();
    let (pre_value, fresh_default) = ns
        .run_in(|| {
            let mut s = String::new();
            pre_opened.read_to_string(&mut s).unwrap();
            let fresh = fs::read_to_string(key).unwrap();
            fs::write(key, want).unwrap();
            (s.trim().to_owned(), fresh.trim().to_owned())
        })
        .unwrap();
    assert_eq!(pre_value, host);
    assert_eq!(
        fresh_default, "64",
        "fresh namespace has the kernel default"
    );

    // The write landed in the target namespace (seen by another, new thread) ...
    let seen = ns
        .run_in(|| fs::read_to_string(key).unwrap().trim().to_owned())
        .unwrap();
    assert_eq!(seen, want);
    // ... and not in ours.
    assert_eq!(fs::read_to_string(key).unwrap().trim(), host);

    // The helpers do the same.
    ns.sysctl_write("net/ipv6/conf/lo/hop_limit", "77").unwrap();
    assert_eq!(ns.sysctl_read("net.ipv6.conf.lo.hop_limit").unwrap(), "77");
    assert_eq!(fs::read_to_string(key).unwrap().trim(), host);
    match ns.sysctl_read("net/ipv6/conf/nosuchif0/hop_limit") {
        Err(e @ NetnsError::Io { .. }) => assert!(e.to_string().contains("nosuchif0"), "{e}"),
        other => panic!("expected Io, got {other:?}"),
    }
}

/// Documents what else a run_in thread sees: /proc/self/net and sysfs do NOT follow it.
#[test]
fn proc_self_net_and_sysfs_do_not_follow_the_thread() {
    if !is_root() {
        return;
    }
    let host_devs = dev_names(&fs::read_to_string("/proc/self/net/dev").unwrap());
    let Some(host_only) = host_devs.iter().find(|d| *d != "lo").cloned() else {
        eprintln!("skipped: the host namespace has only lo");
        return;
    };
    let g = NsGuard::new();
    let ns = NetNs::open(&g.path).unwrap();
    let (thread_devs, self_devs, sysfs_has) = ns
        .run_in(|| {
            let t = dev_names(&fs::read_to_string("/proc/thread-self/net/dev").unwrap());
            let s = dev_names(&fs::read_to_string("/proc/self/net/dev").unwrap());
            let sys = Path::new("/sys/class/net").join(&host_only).exists();
            (t, s, sys)
        })
        .unwrap();
    assert_eq!(thread_devs, vec!["lo".to_owned()]);
    assert!(self_devs.contains(&host_only), "{self_devs:?}");
    assert!(sysfs_has, "/sys/class/net shows the mounter's namespace");
}

#[test]
fn run_in_returns_value_and_propagates_panics() {
    if !is_root() {
        return;
    }
    let own = NetNs::open("/proc/self/ns/net").unwrap();
    assert_eq!(own.run_in(|| 6 * 7).unwrap(), 42);
    let r = std::panic::catch_unwind(|| own.run_in(|| panic!("boom in netns")));
    assert!(r.is_err());
    // The caller is still fine and in its namespace.
    assert!(NetNs::current().unwrap().is_same(&own));
}

#[test]
fn a_fifo_is_refused_without_blocking() {
    let dir = tempfile::tempdir().expect("tmp dir");
    let fifo = dir.path().join("fifo");
    let c = std::ffi::CString::new(fifo.to_string_lossy().as_bytes()).expect("path");
    // SAFETY: mkfifo(3) with a valid NUL-terminated path; no memory is shared.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
    let err = netns::NetNs::open(&fifo).expect_err("a FIFO is not a namespace");
    assert!(matches!(err, netns::NetnsError::NotNetns { .. }), "{err:?}");
}
