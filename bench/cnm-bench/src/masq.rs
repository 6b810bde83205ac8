//! Making the ipMasq rows honest: our plugin remembers an applied masquerade in
//! a marker file under /run/cnm/nft that is not tied to a network namespace, so
//! a marker left by an earlier run would make it skip nft in a fresh host
//! namespace. The benchmark forgets its networks' markers before and after, and
//! checks that both implementations really installed their NAT rules.

use std::path::Path;

use crate::floor::which;
use crate::run::{run_ok, Spec};
use crate::side::CHILD_PATH;

/// Remove our marker for `network` (best effort: absent is fine).
pub fn forget_marker(network: &str) {
    let p = Path::new(cnm_nft::DEFAULT_STATE_DIR).join(cnm_nft::masq_chain(network));
    match std::fs::remove_file(&p) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => eprintln!("cnm-bench: removing marker {}: {e}", p.display()),
    }
}

fn output(prog: &str, args: &[&str]) -> Result<String, String> {
    let path = which(prog).ok_or_else(|| format!("{prog} not found in PATH"))?;
    let env = vec![("PATH".to_owned(), CHILD_PATH.to_owned())];
    let o = run_ok(
        &Spec {
            program: &path,
            args,
            env: &env,
            stdin: b"",
        },
        &format!("{prog} {}", args.join(" ")),
    )?;
    Ok(String::from_utf8_lossy(&o.stdout).into_owned())
}

/// In the current (our host) namespace: table `inet cnm` has `network`'s rule.
pub fn verify_ours(network: &str) -> Result<(), String> {
    let table = output("nft", &["list", "table", "inet", "cnm"])?;
    if table.contains(&format!("cnm:{network}")) && table.contains("masquerade") {
        Ok(())
    } else {
        Err(format!(
            "our masquerade rule for {network} is missing from table inet cnm after ADD"
        ))
    }
}

/// In the current (reference host) namespace: a CNI- chain hangs off POSTROUTING.
pub fn verify_ref() -> Result<(), String> {
    let rules = output("iptables", &["-t", "nat", "-S", "POSTROUTING"])?;
    if rules.contains("CNI-") {
        Ok(())
    } else {
        Err(
            "the reference's CNI- masquerade chain is missing from nat POSTROUTING after ADD"
                .to_owned(),
        )
    }
}
