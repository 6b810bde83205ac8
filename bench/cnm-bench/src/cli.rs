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
  --before-dir DIR  our binaries from before a change, timed alongside in the
                    cycles and the scale run (e.g. target/dist-before)
  --floor PATH      the floor program (default: target/dist/cnm-floor if built)
  --scale-with LIST who takes part in the scale run, comma-separated from
                    ours,ref,before,floor (default: all available); e.g.
                    ours,floor to time ours without the reference's (and the
                    old binaries') IPv6 multicast loading the same CPUs
  --doc PATH        markdown file whose generated section is replaced
                    (default: docs/performance.md of the workspace)
  --no-doc          print only (no chart either)
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
    pub before_dir: Option<PathBuf>,
    pub floor: Option<PathBuf>,
    pub doc: Option<PathBuf>,
    /// Participants of the scale run (None: all available).
    pub scale_with: Option<Vec<String>>,
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
        before_dir: None,
        scale_with: None,
        floor: Some(PathBuf::from("target/dist/cnm-floor")).filter(|p| p.is_file()),
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
            "--before-dir" => o.before_dir = Some(PathBuf::from(val(a)?)),
            "--floor" => o.floor = Some(PathBuf::from(val(a)?)),
            "--scale-with" => {
                let list: Vec<String> = val(a)?.split(',').map(str::to_owned).collect();
                if let Some(bad) = list
                    .iter()
                    .find(|w| !["ours", "ref", "before", "floor"].contains(&w.as_str()))
                {
                    return Err(format!(
                        "--scale-with: unknown participant {bad:?}\n{USAGE}"
                    ));
                }
                o.scale_with = Some(list);
            }
            "--doc" => o.doc = Some(PathBuf::from(val(a)?)),
            "--no-doc" => o.doc = None,
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown option {other}\n{USAGE}")),
        }
    }
    if o.scale == 1 {
        return Err("--scale must be 0 or at least 2".to_owned());
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
        let o = parse(&s(&["--scale-with", "ours,floor"])).unwrap();
        assert_eq!(
            o.scale_with,
            Some(vec!["ours".to_owned(), "floor".to_owned()])
        );
        assert!(parse(&s(&["--scale-with", "ours,x"])).is_err());
    }
}
