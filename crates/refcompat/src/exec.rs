//! Running `iptables-save` / `iptables-restore` (and the ip6 ones), found in
//! the system directories only (never through `$PATH`), each bounded in time (`cnm-exec`).

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use cnm_exec::{Exec, ExecError};

use crate::{Family, RefError};

/// Where the Debian iptables package installs its programs.
const DIRS: &[&str] = &["/usr/sbin", "/sbin", "/usr/local/sbin", "/usr/bin", "/bin"];
/// Longest wait for one iptables program.
const TIMEOUT: Duration = Duration::from_secs(20);

/// The program for `family` and `verb` ("save" or "restore"): the nftables
/// backend first (its chains are what the probe sees), then the default one.
pub fn program(family: Family, verb: &str) -> Option<PathBuf> {
    let base = match family {
        Family::V4 => "iptables",
        Family::V6 => "ip6tables",
    };
    [format!("{base}-nft-{verb}"), format!("{base}-{verb}")]
        .iter()
        .flat_map(|name| DIRS.iter().map(move |d| PathBuf::from(d).join(name)))
        .find(|p| p.is_file())
}

/// Run `prog args` with `stdin` (cleared environment, bounded by [`TIMEOUT`] through
/// `cnm-exec`); its stdout, or an error with its stderr.
pub fn run(prog: &PathBuf, args: &[&str], stdin: &str) -> Result<String, RefError> {
    let shown = format!("{} {}", prog.display(), args.join(" "));
    let fail = |reason: String| RefError::Exec {
        command: shown.clone(),
        reason,
    };
    let mut cmd = Command::new(prog);
    cmd.args(args).env_clear();
    let done =
        cnm_exec::run(&mut cmd, stdin.as_bytes(), &Exec::bounded(TIMEOUT)).map_err(
            |e| match e {
                ExecError::Timeout { .. } => {
                    fail(format!("no answer within {}s", TIMEOUT.as_secs()))
                }
                other => fail(other.to_string()),
            },
        )?;
    if done.status.success() {
        Ok(done.stdout_text())
    } else {
        Err(fail(format!("{}: {}", done.status, done.stderr_text())))
    }
}
