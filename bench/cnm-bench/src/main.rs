//! cnm-bench: measures simplebridge + ipam-host-local against the reference
//! bridge + host-local in the same run, alternating, each in its own throwaway
//! host namespace; prints medians, p95 and ratios and writes them to
//! docs/performance.md. Run by hand as root; not part of the test suite.

mod cli;
mod doc;
mod floor;
mod machine;
mod masq;
mod ns;
mod report;
mod run;
mod scenario;
mod side;
mod signal;
mod stats;
mod watchdog;

use std::path::{Path, PathBuf};

use ns::{Mover, Namespaces};
use scenario::Ctx;
use side::Side;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let opts = match cli::parse(args.get(1..).unwrap_or(&[])) {
        Ok(o) => o,
        Err(msg) => {
            let help = msg == cli::USAGE;
            eprint!("{msg}");
            std::process::exit(if help { 0 } else { 2 });
        }
    };
    if let Err(e) = bench(&opts, &command_line(&args)) {
        eprintln!("cnm-bench: {e}");
        std::process::exit(1);
    }
}

/// The command as typed, shell-quoted where needed.
fn command_line(args: &[String]) -> String {
    args.iter()
        .map(|a| {
            if !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:".contains(c))
            {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Removes the scratch directory (IPAM data dirs) when dropped.
struct TmpDir(PathBuf);

impl Drop for TmpDir {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.0) {
            eprintln!("cnm-bench: removing {}: {e}", self.0.display());
        }
    }
}

fn require_file(p: &Path, hint: &str) -> Result<u64, String> {
    std::fs::metadata(p)
        .map(|m| m.len())
        .map_err(|e| format!("{}: {e} ({hint})", p.display()))
}

fn bench(opts: &cli::Options, command: &str) -> Result<(), String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err("needs root (creates network namespaces)".to_owned());
    }
    signal::install()?;
    let build_hint = "build with: bash scripts/build-release.sh";
    let ours = Side::ours(&opts.ours_dir);
    let refs = match &opts.baseline_dir {
        Some(dir) => Side::baseline(dir),
        None => Side::reference(&opts.ref_dir),
    };
    let mut sizes = Vec::new();
    for (o, r) in [
        (&ours.plugin, &refs.plugin),
        (&ours.ipam_bin, &refs.ipam_bin),
    ] {
        let ob = require_file(o, build_hint)?;
        let rb = require_file(
            r,
            if opts.baseline_dir.is_some() {
                "build the baseline with scripts/build-release.sh in its worktree"
            } else {
                "install Debian's containernetworking-plugins"
            },
        )?;
        let name = |p: &Path| {
            p.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        sizes.push((name(o), ob, name(r), rb));
    }
    let ip = floor::which("ip").ok_or("`ip` (iproute2) not found in PATH")?;
    ns::remove_stale();

    let tmp = TmpDir(std::env::temp_dir().join(format!("cnmb-{}", std::process::id())));
    std::fs::create_dir_all(&tmp.0).map_err(|e| format!("creating {}: {e}", tmp.0.display()))?;
    let mut namespaces = Namespaces::new();
    let mover = Mover::new()?;
    let mut ctx = Ctx {
        ns: &mut namespaces,
        mover: &mover,
        sides: [&ours, &refs],
        tmp: &tmp.0,
        ip: &ip,
    };

    eprintln!("cnm-bench: ADD/DEL cycles, ipMasq=false (with the ip floor)");
    let plain = scenario::cycles::run(&mut ctx, false, opts.cycles, true)?;

    eprintln!("cnm-bench: ADD/DEL cycles, ipMasq=true");
    let masq = match (floor::which("iptables"), floor::which("nft")) {
        (None, _) => {
            let msg = "iptables not installed (Debian package `iptables`), needed by the reference's ipMasq";
            eprintln!("cnm-bench: {msg}; skipping the ipMasq=true row");
            Err(msg.to_owned())
        }
        (_, None) => {
            let msg = "nft not installed (Debian package `nftables`), needed by our ipMasq";
            eprintln!("cnm-bench: {msg}; skipping the ipMasq=true row");
            Err(msg.to_owned())
        }
        _ => soft(scenario::cycles::run(&mut ctx, true, opts.cycles, false))?,
    };

    let burst = if opts.burst == 0 {
        Err("--burst 0".to_owned())
    } else {
        eprintln!("cnm-bench: burst of {} concurrent ADDs", opts.burst);
        soft(scenario::burst::run(
            &mut ctx,
            opts.burst,
            opts.burst_rounds,
        ))?
    };

    let scale = if opts.scale == 0 {
        Err("--scale 0".to_owned())
    } else {
        eprintln!("cnm-bench: scale, {} containers per side", opts.scale);
        soft(scenario::scale::run(&mut ctx, opts.scale))?
    };

    let results = report::Results {
        command: command.to_owned(),
        machine: machine::describe(),
        cycles: opts.cycles,
        plain,
        masq,
        scale,
        burst,
        sizes,
    };
    let md = match &opts.baseline_dir {
        Some(dir) => report::relabel_for_baseline(&report::render(&results), dir),
        None => report::render(&results),
    };
    println!("{md}");
    if let Some(path) = &opts.doc {
        doc::write(path, &md)?;
        eprintln!("cnm-bench: wrote {}", path.display());
    }
    Ok(())
}

/// A failed optional scenario becomes a skipped row, unless we were interrupted.
fn soft<T>(r: Result<T, String>) -> Result<Result<T, String>, String> {
    match r {
        Err(e) if signal::check().is_err() => Err(e),
        Err(e) => {
            eprintln!("cnm-bench: scenario failed: {e}");
            Ok(Err(e))
        }
        ok => Ok(ok),
    }
}
