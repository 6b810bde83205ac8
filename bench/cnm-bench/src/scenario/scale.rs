//! Scale: N containers attached to one bridge per participant (ours, the
//! reference, our binaries before a change and the floor program take turns
//! per container); every ADD is timed, then every DEL in the same order (so
//! the first DELs run with the bridge full). The report takes the first and
//! last K and the chart the whole series.

use std::time::Duration;

use super::{progress, Ctx};
use crate::floor::Floor;
use crate::signal;

/// Every timing, in ADD order, per participant.
#[derive(Default)]
pub struct Scale {
    pub n: usize,
    pub k: usize,
    /// Index 0 ours, 1 reference.
    pub add: [Vec<Duration>; 2],
    pub del: [Vec<Duration>; 2],
    /// Empty without `--before-dir`.
    pub before_add: Vec<Duration>,
    pub before_del: Vec<Duration>,
    /// The floor program's ADD and `ip link del` (empty without it).
    pub floor_add: Vec<Duration>,
    pub floor_del: Vec<Duration>,
    /// CPU time (user + system, wait4) of every ADD and DEL: ours,
    /// reference, before, floor program (its DEL is `ip link del`).
    pub add_cpu: [Vec<Duration>; 4],
    pub del_cpu: [Vec<Duration>; 4],
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Who {
    Side(usize),
    Before,
    Floor,
}

/// Address of container `i` in the floor's 10.88.0.0/16.
fn floor_addr(i: usize) -> String {
    let host = i + 2;
    format!("10.88.{}.{}/16", host / 256, host % 256)
}

pub fn run(ctx: &mut Ctx, n: usize) -> Result<Scale, String> {
    let k = 50.min(n / 2);
    let mut names = Vec::new();
    let result = (|| {
        let mut who = vec![Who::Side(0), Who::Side(1)];
        if ctx.before.is_some() {
            who.push(Who::Before);
        }
        if ctx.floor_bin.is_some() {
            who.push(Who::Floor);
        }
        if let Some(names) = ctx.scale_with {
            who.retain(|w| {
                let name = match w {
                    Who::Side(0) => "ours",
                    Who::Side(_) => "ref",
                    Who::Before => "before",
                    Who::Floor => "floor",
                };
                names.iter().any(|n| n == name)
            });
        }
        if who.is_empty() {
            return Err("--scale-with selects nobody available".to_owned());
        }
        let mut hosts = Vec::new();
        for (p, _) in who.iter().enumerate() {
            let h = ctx.ns.create(&format!("scale-host-{p}"))?;
            names.push(h.clone());
            hosts.push(h);
        }
        let mut conts: Vec<Vec<String>> = vec![Vec::new(); who.len()];
        eprintln!("  scale: creating {} container namespaces", who.len() * n);
        for i in 0..n {
            signal::check()?;
            for (p, c) in conts.iter_mut().enumerate() {
                let name = ctx.ns.create(&format!("scale-{p}-{i}"))?;
                names.push(name.clone());
                c.push(name);
            }
            progress("netns created (per participant)", i, n, 250);
        }
        let floor = Floor::new(ctx.ip.to_owned(), "cnmb0", "10.88.0.1");
        if let Some(p) = who.iter().position(|w| *w == Who::Floor) {
            ctx.mover.enter(&hosts[p])?;
            floor.setup(16)?;
        }
        let nets = [
            ctx.net(ctx.sides[0], "scale", false),
            ctx.net(ctx.sides[1], "scale", false),
        ];
        let before_net = ctx.before.map(|b| ctx.net(b, "scaleb", false));
        let mut out = Scale {
            n,
            k,
            ..Scale::default()
        };
        for (phase, cmd) in [(0, "ADD"), (1, "DEL")] {
            #[allow(clippy::needless_range_loop)] // i indexes every participant's list
            for i in 0..n {
                signal::check()?;
                let rot = i % who.len();
                for p in (rot..who.len()).chain(0..rot) {
                    ctx.mover.enter(&hosts[p])?;
                    let netns = crate::ns::path(&conts[p][i]).to_string_lossy().into_owned();
                    let cid = format!("cnmb-scale-{i}");
                    let veth = format!("vf{i}");
                    let (wall, cpu, slot, series) = match who[p] {
                        Who::Side(s) => {
                            let o = ctx.sides[s].invoke(cmd, &nets[s], &cid, &netns)?;
                            let t = if phase == 0 {
                                &mut out.add[s]
                            } else {
                                &mut out.del[s]
                            };
                            (o.wall, o.cpu, s, t)
                        }
                        Who::Before => {
                            let (Some(b), Some(net)) = (ctx.before, before_net.as_ref()) else {
                                continue;
                            };
                            let o = b.invoke(cmd, net, &cid, &netns)?;
                            let t = if phase == 0 {
                                &mut out.before_add
                            } else {
                                &mut out.before_del
                            };
                            (o.wall, o.cpu, 2, t)
                        }
                        Who::Floor => {
                            let Some(bin) = ctx.floor_bin else { continue };
                            if phase == 0 {
                                let o = floor.program(bin, &veth, &conts[p][i], &floor_addr(i))?;
                                (o.wall, o.cpu, 3, &mut out.floor_add)
                            } else {
                                let o = floor.del_outcome(&veth)?;
                                (o.wall, o.cpu, 3, &mut out.floor_del)
                            }
                        }
                    };
                    series.push(wall);
                    if phase == 0 {
                        out.add_cpu[slot].push(cpu);
                    } else {
                        out.del_cpu[slot].push(cpu);
                    }
                }
                progress(&format!("scale {cmd}"), i, n, 100);
            }
        }
        Ok(out)
    })();
    ctx.mover.home()?;
    ctx.ns.remove(&names);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floor_addresses_stay_in_the_subnet() {
        assert_eq!(floor_addr(0), "10.88.0.2/16");
        assert_eq!(floor_addr(254), "10.88.1.0/16");
        assert_eq!(floor_addr(999), "10.88.3.233/16");
    }
}
