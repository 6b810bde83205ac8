//! cnmd, the overlay's node agent: main() reads the arguments, runs the
//! agent or a one-shot command, prints and exits.

#![forbid(unsafe_code)]

mod agent;
mod config;
mod dataplane;
mod etcd;
mod linux;
mod log;
mod record;

use std::process::ExitCode;

use config::{Command, Config};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{}", config::USAGE);
        return ExitCode::SUCCESS;
    }
    let cfg = match Config::parse(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("cnmd: {e}\n{}", config::USAGE);
            return ExitCode::from(2);
        }
    };
    let result = (|| {
        let mut dp = linux::LinuxDataplane::new().map_err(|e| agent::Fatal(e.to_string()))?;
        let underlay = dp
            .underlay(cfg.underlay_ip)
            .map_err(|e| agent::Fatal(e.to_string()))?;
        let one_shot = cfg.command != Command::Run;
        let mut a = agent::Agent::new(cfg, dp, underlay)?;
        if one_shot {
            let msg = a.command()?;
            println!("{msg}");
            Ok(())
        } else {
            a.run()
        }
    })();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cnmd: error: {e}");
            ExitCode::FAILURE
        }
    }
}
