//! cri-client: plays the kubelet's part for pod sandboxes against a CRI
//! runtime (containerd 1.6's CRI plugin, API v1) over its unix socket.
//! Test-only: driven by tests/runtimes/cri.sh and bench/cri-bench.sh.

mod args;
mod connect;
mod error;
mod ops;
mod pod;
mod status;

use std::process::ExitCode;

fn main() -> ExitCode {
    let words: Vec<String> = std::env::args().skip(1).collect();
    if words.iter().any(|w| w == "-h" || w == "--help") {
        println!("{}", args::USAGE);
        return ExitCode::SUCCESS;
    }
    match execute(&words) {
        Ok(lines) => {
            for l in lines {
                println!("{l}");
            }
            ExitCode::SUCCESS
        }
        Err(e @ error::Error::Usage(_)) => {
            eprintln!("cri-client: {e}\n{}", args::USAGE);
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("cri-client: {e}");
            ExitCode::FAILURE
        }
    }
}

fn execute(words: &[String]) -> Result<Vec<String>, error::Error> {
    let inv = args::parse(words)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(error::Error::Runtime)?;
    rt.block_on(async {
        let mut cri = connect::connect(inv.socket, inv.timeout).await?;
        ops::run(&mut cri, inv.command).await
    })
}
