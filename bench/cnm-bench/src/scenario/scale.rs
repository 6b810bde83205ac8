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
                    let (wall, series) = match who[p] {
                        Who::Side(s) => {
                            let o = ctx.sides[s].invoke(cmd, &nets[s], &cid, &netns)?;
                            let t = if phase == 0 {
                                &mut out.add[s]
                            } else {
                                &mut out.del[s]
                            };
                            (o.wall, t)
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
                            (o.wall, t)
                        }
                        Who::Floor => {
                            let Some(bin) = ctx.floor_bin else { continue };
                            if phase == 0 {
                                let o = floor.program(bin, &veth, &conts[p][i], &floor_addr(i))?;
                                (o.wall, &mut out.floor_add)
                            } else {
                                (floor.del(&veth)?, &mut out.floor_del)
                            }
                        }
                    };
                    series.push(wall);
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
