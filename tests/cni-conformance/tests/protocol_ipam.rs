//! Protocol conformance of our ipam-host-local binary: VERSION, and each
//! malformed input gets the right CNI error code as a JSON object on stdout
//! (code/msg/details), exit status 1, and no reservation in the store. Cases
//! where Debian's reference host-local (libcni 1.1.2) raises the same code are
//! also run against it, as an oracle for the expectation.

use cni_conformance::{require_root, Env, Impl, IpamFixture};
use serde_json::{json, Value};

/// How a case alters a valid ADD request.
struct Case {
    name: &'static str,
    command: &'static str,
    /// Mutates (env, config bytes).
    mutate: fn(&IpamFixture, &mut Env, &mut Vec<u8>),
    ours: u64,
    /// The reference's code when it agrees (None: reference differs, e.g. 999).
    reference: Option<u64>,
}

fn conf_bytes(_f: &IpamFixture, c: Value) -> Vec<u8> {
    serde_json::to_vec(&c).unwrap()
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "empty stdin",
            command: "ADD",
            mutate: |_, _, b| b.clear(),
            ours: 6,
            reference: Some(6),
        },
        Case {
            name: "bad JSON",
            command: "ADD",
            mutate: |_, _, b| *b = b"{not json".to_vec(),
            ours: 6,
            reference: Some(6),
        },
        Case {
            name: "truncated JSON",
            command: "ADD",
            mutate: |_, _, b| {
                let n = b.len() / 2;
                b.truncate(n)
            },
            ours: 6,
            reference: Some(6),
        },
        Case {
            name: "JSON array",
            command: "ADD",
            mutate: |_, _, b| *b = b"[1,2,3]".to_vec(),
            ours: 6,
            reference: Some(6),
        },
        Case {
            name: "JSON string",
            command: "ADD",
            mutate: |_, _, b| *b = b"\"x\"".to_vec(),
            ours: 6,
            reference: Some(6),
        },
        Case {
            name: "unsupported version 9.9.9",
            command: "ADD",
            mutate: |f, _, b| {
                let mut c = f.conf(f.default_ranges());
                c["cniVersion"] = json!("9.9.9");
                *b = conf_bytes(f, c)
            },
            ours: 1,
            reference: Some(1),
        },
        Case {
            name: "container ID -abc",
            command: "ADD",
            mutate: |_, e, _| e.containerid = Some("-abc".into()),
            ours: 4,
            reference: Some(4),
        },
        Case {
            name: "container ID a/b",
            command: "ADD",
            mutate: |_, e, _| e.containerid = Some("a/b".into()),
            ours: 4,
            reference: Some(4),
        },
        Case {
            name: "container ID empty",
            command: "ADD",
            mutate: |_, e, _| e.containerid = Some(String::new()),
            ours: 4,
            reference: Some(4),
        },
        Case {
            name: "ifname 16 bytes",
            command: "ADD",
            mutate: |_, e, _| e.ifname = Some("abcdefghijklmnop".into()),
            ours: 4,
            reference: Some(4),
        },
        Case {
            name: "ifname ..",
            command: "ADD",
            mutate: |_, e, _| e.ifname = Some("..".into()),
            ours: 4,
            reference: Some(4),
        },
        Case {
            name: "ifname a:b",
            command: "ADD",
            mutate: |_, e, _| e.ifname = Some("a:b".into()),
            ours: 4,
            reference: Some(4),
        },
        Case {
            name: "ifname with space",
            command: "ADD",
            mutate: |_, e, _| e.ifname = Some("a b".into()),
            ours: 4,
            reference: Some(4),
        },
        Case {
            name: "CNI_ARGS IP (no =)",
            command: "ADD",
            mutate: |_, e, _| e.args = Some("IP".into()),
            ours: 4,
            reference: None,
        },
        Case {
            name: "CNI_ARGS unknown key",
            command: "ADD",
            mutate: |_, e, _| e.args = Some("FOO=bar".into()),
            ours: 4,
            reference: None,
        },
        Case {
            name: "CNI_ARGS a=b=c",
            command: "ADD",
            mutate: |_, e, _| e.args = Some("IgnoreUnknown=1;A=b=c".into()),
            ours: 4,
            reference: None,
        },
        Case {
            name: "missing CNI_CONTAINERID",
            command: "ADD",
            mutate: |_, e, _| e.containerid = None,
            ours: 4,
            reference: Some(4),
        },
        Case {
            name: "missing CNI_IFNAME",
            command: "ADD",
            mutate: |_, e, _| e.ifname = None,
            ours: 4,
            reference: Some(4),
        },
        Case {
            name: "missing CNI_NETNS on ADD",
            command: "ADD",
            mutate: |_, e, _| e.netns = None,
            ours: 4,
            reference: Some(4),
        },
        Case {
            name: "missing CNI_PATH",
            command: "ADD",
            mutate: |_, e, _| e.path = None,
            ours: 4,
            reference: Some(4),
        },
        Case {
            name: "unknown CNI_COMMAND",
            command: "BOGUS",
            mutate: |_, _, _| {},
            ours: 4,
            reference: Some(4),
        },
        Case {
            name: "missing name",
            command: "ADD",
            mutate: |f, _, b| {
                let mut c = f.conf(f.default_ranges());
                c.as_object_mut().unwrap().remove("name");
                *b = conf_bytes(f, c)
            },
            ours: 7,
            reference: Some(7),
        },
        Case {
            name: "missing ipam",
            command: "ADD",
            mutate: |f, _, b| {
                let mut c = f.conf(f.default_ranges());
                c.as_object_mut().unwrap().remove("ipam");
                *b = conf_bytes(f, c)
            },
            ours: 7,
            reference: None,
        },
        Case {
            name: "missing ranges and subnet",
            command: "ADD",
            mutate: |f, _, b| {
                let mut c = f.conf(f.default_ranges());
                c["ipam"].as_object_mut().unwrap().remove("ranges");
                *b = conf_bytes(f, c)
            },
            ours: 7,
            reference: None,
        },
        Case {
            name: "range without subnet",
            command: "ADD",
            mutate: |f, _, b| {
                let c = f.conf(json!([[{"rangeStart": f.host(5)}]]));
                *b = conf_bytes(f, c)
            },
            ours: 7,
            reference: None,
        },
        Case {
            name: "subnet with host bits",
            command: "ADD",
            mutate: |f, _, b| {
                let c = f.conf(json!([[{"subnet": format!("{}/24", f.host(5))}]]));
                *b = conf_bytes(f, c)
            },
            ours: 7,
            reference: None,
        },
        Case {
            name: "gateway outside subnet",
            command: "ADD",
            mutate: |f, _, b| {
                let c = f.conf(json!([[{"subnet": f.v4.to_string(), "gateway": "192.0.2.1"}]]));
                *b = conf_bytes(f, c)
            },
            ours: 7,
            reference: None,
        },
        Case {
            name: "rangeStart after rangeEnd",
            command: "ADD",
            mutate: |f, _, b| {
                let c = f.conf(json!([[{"subnet": f.v4.to_string(), "rangeStart": f.host(9), "rangeEnd": f.host(5)}]]));
                *b = conf_bytes(f, c)
            },
            ours: 7,
            reference: None,
        },
        Case {
            name: "rangeStart outside subnet",
            command: "ADD",
            mutate: |f, _, b| {
                let c = f.conf(json!([[{"subnet": f.v4.to_string(), "rangeStart": "192.0.2.5"}]]));
                *b = conf_bytes(f, c)
            },
            ours: 7,
            reference: None,
        },
        Case {
            name: "mixed families in one set",
            command: "ADD",
            mutate: |f, _, b| {
                let c =
                    f.conf(json!([[{"subnet": f.v4.to_string()}, {"subnet": "fd00:dead::/64"}]]));
                *b = conf_bytes(f, c)
            },
            ours: 7,
            reference: None,
        },
        Case {
            name: "overlapping range sets",
            command: "ADD",
            mutate: |f, _, b| {
                let c =
                    f.conf(json!([[{"subnet": f.v4.to_string()}], [{"subnet": f.v4.to_string()}]]));
                *b = conf_bytes(f, c)
            },
            ours: 7,
            reference: None,
        },
        Case {
            name: "CHECK on 0.3.1",
            command: "CHECK",
            mutate: |f, _, b| {
                let c = f.conf_v("0.3.1", f.default_ranges());
                *b = conf_bytes(f, c)
            },
            ours: 1,
            reference: Some(1),
        },
    ]
}

fn run_cases(imp: Impl) {
    let mut failures = Vec::new();
    let mut checked = 0;
    for case in cases() {
        let want = match imp {
            Impl::Ours => case.ours,
            Impl::Reference => match case.reference {
                Some(c) => c,
                None => continue,
            },
        };
        let f = IpamFixture::new(imp);
        let mut env = f.env("ctr1", "eth0");
        let mut stdin = serde_json::to_vec(&f.conf(f.default_ranges())).unwrap();
        (case.mutate)(&f, &mut env, &mut stdin);
        let out = f.run_env_raw(case.command, &env, &stdin);
        checked += 1;
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let v = if imp == Impl::Ours {
                out.err_full(want)
            } else {
                out.err(Some(want))
            };
            if imp == Impl::Ours {
                assert!(
                    v.get("cniVersion").map(Value::is_string).unwrap_or(false),
                    "error without cniVersion: {v}"
                );
            }
            assert!(
                f.reservations().is_empty(),
                "store not empty: {:?}",
                f.reserved_ips()
            );
        }));
        if let Err(e) = r {
            let msg = e.downcast_ref::<String>().cloned().unwrap_or_default();
            failures.push(format!("[{}] {msg}", case.name));
        }
    }
    assert!(checked > 0);
    assert!(
        failures.is_empty(),
        "{} of {checked} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn malformed_inputs_ours() {
    require_root!();
    run_cases(Impl::Ours);
}

#[test]
fn malformed_inputs_reference() {
    require_root!();
    run_cases(Impl::Reference);
}

fn version(imp: Impl) -> Value {
    let out = cni_conformance::run_plugin(
        &imp.host_local(),
        "VERSION",
        &Env::default(),
        br#"{"cniVersion":"0.4.0"}"#,
    );
    out.ok()
}

#[test]
fn version_lists_all_versions_ours() {
    require_root!();
    let v = version(Impl::Ours);
    assert_eq!(v["supportedVersions"], json!(Impl::Ours.versions()), "{v}");
    // The spec: cniVersion of the reply echoes the input.
    assert_eq!(v["cniVersion"], json!("0.4.0"), "{v}");
    // VERSION ignores stdin and needs no other variable.
    let out =
        cni_conformance::run_plugin(&Impl::Ours.host_local(), "VERSION", &Env::default(), b"");
    assert_eq!(out.ok()["supportedVersions"], json!(Impl::Ours.versions()));
}

#[test]
fn version_reference() {
    require_root!();
    let v = version(Impl::Reference);
    assert_eq!(
        v["supportedVersions"],
        json!(Impl::Reference.versions()),
        "{v}"
    );
}

#[test]
fn empty_command_prints_about_ours() {
    require_root!();
    let out = cni_conformance::run_plugin(&Impl::Ours.host_local(), "", &Env::default(), b"");
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stderr.contains("1.1.0"),
        "about text lists versions: {}",
        out.stderr
    );
}
