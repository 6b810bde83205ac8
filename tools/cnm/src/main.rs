//! `cnm`: a drop-in for the reference `cnitool`. The only place that reads
//! the environment, the arguments and the working directory, prints, and exits.

#![forbid(unsafe_code)]

use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if matches!(
        args.first().map(String::as_str),
        Some("-h" | "--help" | "help")
    ) {
        println!("{}", cnm::USAGE);
        return ExitCode::SUCCESS;
    }
    let outcome = cnm::parse_cli(&args).and_then(|inv| {
        let settings = cnm::Settings::from_lookup(|k| std::env::var(k).ok())?;
        let cwd = std::env::current_dir()
            .map_err(|e| cnm::CnmError::Usage(format!("cannot read the current directory: {e}")))?;
        cnm::run(&inv, &settings, &cwd)
    });
    match outcome {
        Ok(out) => {
            if let Some(text) = out {
                let mut stdout = std::io::stdout().lock();
                if writeln!(stdout, "{text}")
                    .and_then(|()| stdout.flush())
                    .is_err()
                {
                    return ExitCode::FAILURE;
                }
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("cnm: {e}");
            ExitCode::FAILURE
        }
    }
}
