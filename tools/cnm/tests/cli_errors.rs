//! The `cnm` binary's error paths that need no root: usage, environment,
//! configuration lookup, missing plugins. Nothing here touches the network.

use std::process::{Command, Output};

fn cnm(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cnm"));
    cmd.args(args);
    for k in [
        "NETCONFPATH",
        "CNI_PATH",
        "CNI_ARGS",
        "CAP_ARGS",
        "CNI_IFNAME",
        "CNI_CACHE_DIR",
        "CNI_CONTAINERID",
    ] {
        cmd.env_remove(k);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A temp dir (`tempfile`) removed on drop; `.0` is its path.
struct Dir(std::path::PathBuf, #[allow(dead_code)] tempfile::TempDir);
fn tempdir(tag: &str) -> Dir {
    let d = tempfile::Builder::new()
        .prefix(&format!("cnm-cli-{tag}-"))
        .tempdir()
        .unwrap();
    Dir(d.path().to_path_buf(), d)
}

#[test]
fn usage_and_environment_errors() {
    let o = cnm(&[], &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("cnm add    <net> <netns>"));
    let o = cnm(&["--help"], &[]);
    assert!(o.status.success() && String::from_utf8_lossy(&o.stdout).contains("CNI_CONTAINERID"));
    let o = cnm(&["add", "n", "/run/netns/x"], &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("CNI_PATH is not set"), "{}", stderr(&o));
    let o = cnm(
        &["add", "n", "/x"],
        &[("CNI_PATH", "/x"), ("CAP_ARGS", "nope")],
    );
    assert!(
        stderr(&o).contains("CAP_ARGS is not valid JSON"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn config_lookup_errors() {
    let d = tempdir("conf");
    let dir = d.0.to_str().unwrap();
    std::fs::write(
        d.0.join("10-a.conflist"),
        r#"{"cniVersion":"1.0.0","name":"a","plugins":[{"type":"no-such-plugin"}]}"#,
    )
    .unwrap();
    let env = [
        ("NETCONFPATH", dir),
        ("CNI_PATH", "/nonexistent1:/nonexistent2"),
        ("CNI_CACHE_DIR", dir),
    ];
    let o = cnm(&["add", "missing", "/run/netns/x"], &env);
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(
        e.contains("no network configuration named \"missing\"")
            && e.contains("\"a\"")
            && e.contains("10-a.conflist"),
        "{e}"
    );

    let o = cnm(&["add", "a", "/run/netns/x"], &env);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        e.contains("no-such-plugin") && e.contains("/nonexistent1") && e.contains("/nonexistent2"),
        "{e}"
    );

    std::fs::write(d.0.join("05-broken.conflist"), "{\"name\": 1,").unwrap();
    let o = cnm(&["status", "a"], &env);
    let e = stderr(&o);
    assert!(
        e.contains("05-broken.conflist") && e.contains("invalid JSON"),
        "{e}"
    );
}
