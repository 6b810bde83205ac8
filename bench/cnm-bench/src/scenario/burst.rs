//! Burst: M concurrent ADDs into one network (then M concurrent DELs), per
//! side, sides alternating which goes first each round; wall time from the
//! first spawn to the last reap, and whether all succeeded with distinct
//! addresses.

use std::collections::HashSet;
use std::time::Duration;

use super::Ctx;
use crate::run;
use crate::side::result_addresses;
use crate::signal;

/// Per side (index 0 ours, 1 reference, 2 ours before the change when
/// `--before-dir` is given).
#[derive(Default)]
pub struct Burst {
    pub m: usize,
    pub rounds: usize,
    pub add_wall: [Vec<Duration>; 3],
    pub del_wall: [Vec<Duration>; 3],
    /// ADDs that failed, over all rounds.
    pub add_failed: [usize; 3],
    /// Rounds whose successful ADDs did not all get distinct addresses.
    pub duplicate_rounds: [usize; 3],
    /// First failure seen, for the report.
    pub first_error: [Option<String>; 3],
}

pub fn run(ctx: &mut Ctx, m: usize, rounds: usize) -> Result<Burst, String> {
    let mut names = Vec::new();
    let result = (|| {
        let mut sides = vec![ctx.sides[0], ctx.sides[1]];
        sides.extend(ctx.before);
        let n = sides.len();
        let mut hosts = Vec::new();
        for s in &sides {
            hosts.push(ctx.ns.create(&format!("burst-host-{}", s.label()))?);
        }
        names.extend(hosts.iter().cloned());
        let mut conts: Vec<Vec<String>> = vec![Vec::new(); n];
        for i in 0..m {
            for (s, c) in conts.iter_mut().enumerate() {
                let name = ctx.ns.create(&format!("burst-{s}-{i}"))?;
                names.push(name.clone());
                c.push(name);
            }
        }
        let nets: Vec<_> = sides
            .iter()
            .map(|s| ctx.net(s, &format!("burst-{}", s.label()), false))
            .collect();
        // Warm-up: create the bridge (and the reference's sysctls) serially.
        for s in 0..n {
            ctx.mover.enter(&hosts[s])?;
            let netns = crate::ns::path(&conts[s][0]).to_string_lossy().into_owned();
            sides[s].invoke("ADD", &nets[s], "cnmb-burst-warm", &netns)?;
            sides[s].invoke("DEL", &nets[s], "cnmb-burst-warm", &netns)?;
        }
        let mut out = Burst {
            m,
            rounds,
            ..Burst::default()
        };
        for r in 0..rounds {
            let rot = r % n;
            for s in (rot..n).chain(0..rot) {
                signal::check()?;
                ctx.mover.enter(&hosts[s])?;
                let paths: Vec<String> = conts[s]
                    .iter()
                    .map(|c| crate::ns::path(c).to_string_lossy().into_owned())
                    .collect();
                for (phase, cmd) in [(0, "ADD"), (1, "DEL")] {
                    let mut running = Vec::with_capacity(m);
                    for (i, p) in paths.iter().enumerate() {
                        let cid = format!("cnmb-burst-{r}-{i}");
                        running.push(sides[s].start(cmd, &nets[s], &cid, p)?);
                    }
                    let first = running.first().map(|x| x.start);
                    let mut outcomes = Vec::with_capacity(m);
                    for x in running {
                        outcomes.push(run::finish(x)?);
                    }
                    let last = outcomes.iter().map(|o| o.end).max();
                    let wall = match (first, last) {
                        (Some(a), Some(b)) => b - a,
                        _ => Duration::ZERO,
                    };
                    if phase == 0 {
                        out.add_wall[s].push(wall);
                        let mut seen = HashSet::new();
                        let mut dup = false;
                        for o in &outcomes {
                            if !o.ok() {
                                out.add_failed[s] += 1;
                                if out.first_error[s].is_none() {
                                    out.first_error[s] = Some(o.describe());
                                }
                                continue;
                            }
                            let addrs = result_addresses(&o.stdout);
                            if addrs.is_empty() {
                                dup = true;
                            }
                            for a in addrs {
                                dup |= !seen.insert(a);
                            }
                        }
                        if dup {
                            out.duplicate_rounds[s] += 1;
                        }
                    } else {
                        out.del_wall[s].push(wall);
                        if let Some(bad) = outcomes.iter().find(|o| !o.ok()) {
                            return Err(format!(
                                "{} burst DEL failed ({})",
                                sides[s].label(),
                                bad.describe()
                            ));
                        }
                    }
                }
            }
            eprintln!("  burst: round {}/{rounds}", r + 1);
        }
        Ok(out)
    })();
    ctx.mover.home()?;
    ctx.ns.remove(&names);
    result
}
