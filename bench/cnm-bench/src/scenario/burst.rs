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

/// Per side (index 0 ours, 1 reference).
#[derive(Default)]
pub struct Burst {
    pub m: usize,
    pub rounds: usize,
    pub add_wall: [Vec<Duration>; 2],
    pub del_wall: [Vec<Duration>; 2],
    /// ADDs that failed, over all rounds.
    pub add_failed: [usize; 2],
    /// Rounds whose successful ADDs did not all get distinct addresses.
    pub duplicate_rounds: [usize; 2],
    /// First failure seen, for the report.
    pub first_error: [Option<String>; 2],
}

pub fn run(ctx: &mut Ctx, m: usize, rounds: usize) -> Result<Burst, String> {
    let mut names = Vec::new();
    let result = (|| {
        let hosts = [
            ctx.ns.create("burst-host-ours")?,
            ctx.ns.create("burst-host-ref")?,
        ];
        names.extend(hosts.iter().cloned());
        let mut conts: [Vec<String>; 2] = [Vec::new(), Vec::new()];
        for i in 0..m {
            for (s, c) in conts.iter_mut().enumerate() {
                let name = ctx.ns.create(&format!("burst-{s}-{i}"))?;
                names.push(name.clone());
                c.push(name);
            }
        }
        let nets = [
            ctx.net(ctx.sides[0], "burst", false),
            ctx.net(ctx.sides[1], "burst", false),
        ];
        // Warm-up: create the bridge (and the reference's sysctls) serially.
        for s in 0..2 {
            ctx.mover.enter(&hosts[s])?;
            let netns = crate::ns::path(&conts[s][0]).to_string_lossy().into_owned();
            ctx.sides[s].invoke("ADD", &nets[s], "cnmb-burst-warm", &netns)?;
            ctx.sides[s].invoke("DEL", &nets[s], "cnmb-burst-warm", &netns)?;
        }
        let mut out = Burst {
            m,
            rounds,
            ..Burst::default()
        };
        for r in 0..rounds {
            let order = if r % 2 == 0 { [0, 1] } else { [1, 0] };
            for s in order {
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
                        running.push(ctx.sides[s].start(cmd, &nets[s], &cid, p)?);
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
                                ctx.sides[s].label(),
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
