//! ADD/DEL cycles: ours, the reference, our binaries from before a change
//! (`--before-dir`) and (optionally) the floors take turns (the order
//! rotates every cycle), each in its own host namespace with one container
//! namespace reused for every cycle.

use std::time::Duration;

use super::{progress, Ctx};
use crate::floor::Floor;
use crate::masq;
use crate::signal;

/// Cycles that are run first and not recorded (bridge creation, caches).
const WARMUP: usize = 3;

/// Timings and peak RSS per side (index 0 ours, 1 reference).
#[derive(Default)]
pub struct Cycles {
    pub add: [Vec<Duration>; 2],
    pub del: [Vec<Duration>; 2],
    pub add_rss_kb: [Vec<u64>; 2],
    pub del_rss_kb: [Vec<u64>; 2],
    /// Our binaries before the change (empty without `--before-dir`).
    pub before_add: Vec<Duration>,
    pub before_del: Vec<Duration>,
    pub before_add_rss_kb: Vec<u64>,
    pub before_del_rss_kb: Vec<u64>,
    /// The `ip` floor (two processes) and its DEL (`ip link del`).
    pub floor_add: Vec<Duration>,
    pub floor_del: Vec<Duration>,
    /// The floor program (bench/cnm-floor).
    pub prog_add: Vec<Duration>,
    /// CPU time of each ADD: ours, reference, before, floor program.
    pub add_cpu: [Vec<Duration>; 4],
}

#[derive(Clone, Copy)]
enum Who {
    Side(usize),
    Before,
    Floor,
    Program,
}

/// Run `cycles` recorded ADD+DEL cycles with `ip_masq`; with `with_floor` the
/// floors take part in the rotation.
pub fn run(
    ctx: &mut Ctx,
    ip_masq: bool,
    cycles: usize,
    with_floor: bool,
) -> Result<Cycles, String> {
    let tag = if ip_masq { "cyc-masq" } else { "cyc" };
    let mut names = Vec::new();
    let result = (|| {
        let mut who = vec![Who::Side(0), Who::Side(1)];
        if ctx.before.is_some() {
            who.push(Who::Before);
        }
        if with_floor {
            who.push(Who::Floor);
            if ctx.floor_bin.is_some() {
                who.push(Who::Program);
            }
        }
        // Host and container namespace per participant, in `who` order.
        let mut hosts = Vec::new();
        let mut conts = Vec::new();
        for (i, _) in who.iter().enumerate() {
            let h = ctx.ns.create(&format!("{tag}-host-{i}"))?;
            names.push(h.clone());
            let c = ctx.ns.create(&format!("{tag}-cont-{i}"))?;
            names.push(c.clone());
            hosts.push(h);
            conts.push(c);
        }
        let floor = Floor::new(ctx.ip.to_owned(), "cnmb0", "10.88.0.1");
        for (i, w) in who.iter().enumerate() {
            if matches!(w, Who::Floor | Who::Program) {
                ctx.mover.enter(&hosts[i])?;
                floor.setup(16)?;
            }
        }
        let nets = [
            ctx.net(ctx.sides[0], tag, ip_masq),
            ctx.net(ctx.sides[1], tag, ip_masq),
        ];
        // Its own network name, so no state of ours is shared with it.
        let before_net = ctx.before.map(|b| ctx.net(b, &format!("{tag}b"), ip_masq));
        if ip_masq {
            masq::forget_marker(&nets[0].name);
            if let Some(n) = &before_net {
                masq::forget_marker(&n.name);
            }
        }
        let mut out = Cycles::default();
        let total = WARMUP + cycles;
        for i in 0..total {
            signal::check()?;
            let keep = i >= WARMUP;
            let cid = format!("cnmb-{tag}-{i}");
            let rot = i % who.len();
            let order: Vec<usize> = (rot..who.len()).chain(0..rot).collect();
            for (phase, cmd) in [(0, "ADD"), (1, "DEL")] {
                for &p in &order {
                    ctx.mover.enter(&hosts[p])?;
                    let netns = crate::ns::path(&conts[p]).to_string_lossy().into_owned();
                    match who[p] {
                        Who::Side(s) => {
                            let o = ctx.sides[s].invoke(cmd, &nets[s], &cid, &netns)?;
                            if keep && phase == 0 {
                                out.add_cpu[s].push(o.cpu);
                            }
                            if keep {
                                let (t, r) = if phase == 0 {
                                    (&mut out.add[s], &mut out.add_rss_kb[s])
                                } else {
                                    (&mut out.del[s], &mut out.del_rss_kb[s])
                                };
                                t.push(o.wall);
                                r.push(o.maxrss_kb);
                            }
                        }
                        Who::Before => {
                            let (Some(b), Some(net)) = (ctx.before, before_net.as_ref()) else {
                                continue;
                            };
                            let o = b.invoke(cmd, net, &cid, &netns)?;
                            if keep && phase == 0 {
                                out.add_cpu[2].push(o.cpu);
                            }
                            if keep {
                                let (t, r) = if phase == 0 {
                                    (&mut out.before_add, &mut out.before_add_rss_kb)
                                } else {
                                    (&mut out.before_del, &mut out.before_del_rss_kb)
                                };
                                t.push(o.wall);
                                r.push(o.maxrss_kb);
                            }
                        }
                        Who::Floor | Who::Program => {
                            let prog = matches!(who[p], Who::Program);
                            let d = match (phase, prog, ctx.floor_bin) {
                                (0, true, Some(bin)) => {
                                    let o =
                                        floor.program(bin, "vfloor", &conts[p], "10.88.0.2/16")?;
                                    if keep {
                                        out.add_cpu[3].push(o.cpu);
                                    }
                                    o.wall
                                }
                                (0, _, _) => floor.add("vfloor", &conts[p], "10.88.0.2/16")?,
                                _ => floor.del("vfloor")?,
                            };
                            if keep {
                                match (phase, prog) {
                                    (0, true) => out.prog_add.push(d),
                                    (0, false) => out.floor_add.push(d),
                                    (_, false) => out.floor_del.push(d),
                                    _ => {}
                                }
                            }
                        }
                    }
                }
                if phase == 0 && ip_masq && i == WARMUP {
                    // After the first recorded ADDs: the rules must really be there.
                    ctx.mover.enter(&hosts[0])?;
                    masq::verify_ours(&nets[0].name)?;
                    ctx.mover.enter(&hosts[1])?;
                    masq::verify_ref()?;
                }
            }
            progress(&format!("cycles ipMasq={ip_masq}"), i, total, 25);
        }
        Ok(out)
    })();
    if ip_masq {
        masq::forget_marker(&ctx.net(ctx.sides[0], tag, true).name);
        if let Some(b) = ctx.before {
            masq::forget_marker(&ctx.net(b, &format!("{tag}b"), true).name);
        }
    }
    ctx.mover.home()?;
    ctx.ns.remove(&names);
    result
}
