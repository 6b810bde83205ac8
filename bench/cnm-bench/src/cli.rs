//! Command-line options.

use std::path::PathBuf;

pub const USAGE: &str = "\
usage: cnm-bench [options]   (root; run by hand, not part of the test suite)
  --cycles N        recorded ADD/DEL cycles per ipMasq setting (default 100, min 1)
  --scale N         containers attached to one bridge per side (default 1000; 0 skips)
  --burst M         concurrent ADDs (default 64; 0 skips)
  --burst-rounds R  burst rounds, sides alternating (default 3)
  --ours-dir DIR    our release binaries (default: target/dist, from scripts/build-release.sh)
  --ref-dir DIR     reference plugins (default /usr/lib/cni)
  --baseline-dir DIR  compare against an earlier build of ours in DIR (same
                    configs, e.g. a static build of another commit) instead
                    of the reference: before/after; implies --no-doc
  --doc PATH        markdown file whose generated section is replaced
                    (default: docs/performance.md of the workspace)
  --no-doc          print only
";

/// Parsed options.
#[derive(Debug)]
pub struct Options {
    pub cycles: usize,
    pub scale: usize,
    pub burst: usize,
    pub burst_rounds: usize,
    pub ours_dir: PathBuf,
    pub ref_dir: PathBuf,
    /// Our earlier build to compare against instead of the reference.
    pub baseline_dir: Option<PathBuf>,
    pub doc: Option<PathBuf>,
}

/// Parse `args` (without the program name).
pub fn parse(args: &[String]) -> Result<Options, String> {
    // What users install: scripts/build-release.sh puts it in target/dist.
    let ours_dir = PathBuf::from("target/dist");
    let mut o = Options {
        cycles: 100,
        scale: 1000,
        burst: 64,
        burst_rounds: 3,
        ours_dir,
        ref_dir: PathBuf::from("/usr/lib/cni"),
        baseline_dir: None,
        doc: Some(PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../docs/performance.md"
        ))),
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value\n{USAGE}"))
        };
        let num = |name: &str, v: String| {
            v.parse::<usize>()
                .map_err(|_| format!("{name}: not a number: {v}"))
        };
        match a.as_str() {
            "--cycles" => o.cycles = num(a, val(a)?)?.max(1),
            "--scale" => o.scale = num(a, val(a)?)?,
            "--burst" => o.burst = num(a, val(a)?)?,
            "--burst-rounds" => o.burst_rounds = num(a, val(a)?)?.max(1),
            "--ours-dir" => o.ours_dir = PathBuf::from(val(a)?),
            "--ref-dir" => o.ref_dir = PathBuf::from(val(a)?),
            "--baseline-dir" => o.baseline_dir = Some(PathBuf::from(val(a)?)),
            "--doc" => o.doc = Some(PathBuf::from(val(a)?)),
            "--no-doc" => o.doc = None,
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown option {other}\n{USAGE}")),
        }
    }
    if o.scale == 1 {
        return Err("--scale must be 0 or at least 2".to_owned());
    }
    if o.baseline_dir.is_some() {
        o.doc = None;
    }
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn defaults_and_flags() {
        let o = parse(&[]).unwrap();
        assert_eq!((o.cycles, o.scale, o.burst), (100, 1000, 64));
        assert!(o.doc.is_some());
        let o = parse(&s(&["--cycles", "5", "--scale", "0", "--no-doc"])).unwrap();
        assert_eq!((o.cycles, o.scale), (5, 0));
        assert!(o.doc.is_none());
        assert!(parse(&s(&["--cycles"])).is_err());
        assert!(parse(&s(&["--cycles", "x"])).is_err());
        assert!(parse(&s(&["--bogus"])).is_err());
        assert!(parse(&s(&["--scale", "1"])).is_err());
    }
}
