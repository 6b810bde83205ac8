//! Running `iptables-save` / `iptables-restore` (and the ip6 ones), found in
//! the system directories only (never through `$PATH`), each bounded in time.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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

/// Run `prog args` with `stdin`; its stdout, or an error with its stderr.
pub fn run(prog: &PathBuf, args: &[&str], stdin: &str) -> Result<String, RefError> {
    let shown = format!("{} {}", prog.display(), args.join(" "));
    let fail = |reason: String| RefError::Exec {
        command: shown.clone(),
        reason,
    };
    let mut child = Command::new(prog)
        .args(args)
        .env_clear()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| fail(e.to_string()))?;
    // Readers first: a large table does not fit in a pipe.
    let out_reader = child.stdout.take().map(|mut s| {
        std::thread::spawn(move || {
            let mut buf = String::new();
            let _ = s.read_to_string(&mut buf);
            buf
        })
    });
    let err_reader = child.stderr.take().map(|mut s| {
        std::thread::spawn(move || {
            let mut buf = String::new();
            let _ = s.read_to_string(&mut buf);
            buf
        })
    });
    if let Some(mut sin) = child.stdin.take() {
        if let Err(e) = sin.write_all(stdin.as_bytes()) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(fail(format!("write stdin: {e}")));
        }
    }
    let deadline = Instant::now() + TIMEOUT;
    let status = loop {
        match child.try_wait().map_err(|e| fail(e.to_string()))? {
            Some(st) => break st,
            None if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(fail(format!("no answer within {}s", TIMEOUT.as_secs())));
            }
            None => std::thread::sleep(Duration::from_millis(1)),
        }
    };
    let out = out_reader.and_then(|h| h.join().ok()).unwrap_or_default();
    let err = err_reader.and_then(|h| h.join().ok()).unwrap_or_default();
    if status.success() {
        Ok(out)
    } else {
        Err(fail(format!("{status}: {}", err.trim())))
    }
}
