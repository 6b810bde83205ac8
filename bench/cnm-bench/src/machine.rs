//! Description of the machine the figures come from.

use std::process::Command;

/// nproc, kernel, CPU model, date and the reference plugins' package version.
pub struct Machine {
    pub nproc: usize,
    pub kernel: String,
    pub cpu: String,
    pub date: String,
    pub ref_version: String,
}

pub fn describe() -> Machine {
    let nproc = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|e| format!("unknown ({e})"));
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned());
    Machine {
        nproc,
        kernel,
        cpu,
        date: output("date", &["-u", "+%Y-%m-%d %H:%M:%S UTC"]),
        ref_version: output(
            "dpkg-query",
            &["-W", "-f", "${Version}", "containernetworking-plugins"],
        ),
    }
}

fn output(prog: &str, args: &[&str]) -> String {
    match Command::new(prog).args(args).output() {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).trim().to_owned(),
        _ => "unknown".to_owned(),
    }
}
