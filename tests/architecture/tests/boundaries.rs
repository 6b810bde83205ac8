//! The crate boundaries of ADR 0013 on this workspace: `cargo metadata`
//! read and checked (`cnm_architecture::check`); every broken rule is
//! printed with the dependency path that breaks it.

use std::path::Path;
use std::process::Command;

#[test]
fn the_workspace_keeps_the_crate_boundaries() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    // Only what builds for this machine: dependencies of other platforms
    // (never downloaded by an offline build) are not part of the graph.
    let rustc = Command::new("rustc")
        .arg("-vV")
        .output()
        .expect("run rustc -vV");
    let host = String::from_utf8_lossy(&rustc.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_string))
        .expect("rustc -vV names the host");
    let out = Command::new(cargo)
        .current_dir(&root)
        .args(["metadata", "--format-version", "1", "--offline"])
        .args(["--filter-platform", &host])
        .output()
        .expect("run cargo metadata");
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("metadata JSON");
    let graph = cnm_architecture::Graph::from_metadata(&meta).expect("graph");
    // The check must have something to check.
    for must in [
        "cnm-model",
        "cnm-kernel",
        "cnm-bridge",
        "cnm-cni",
        "simplebridge",
    ] {
        assert!(
            graph.members.contains(must),
            "{must} is not a workspace member"
        );
    }
    let violations = cnm_architecture::check(&graph);
    let text: Vec<String> = violations.iter().map(ToString::to_string).collect();
    assert!(
        violations.is_empty(),
        "ADR 0013's crate boundaries are broken:\n{}",
        text.join("\n")
    );
}
