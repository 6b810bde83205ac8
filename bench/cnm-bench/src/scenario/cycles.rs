//! ADD/DEL cycles: ours, the reference and (optionally) the `ip` floor take
//! turns (the order rotates every cycle), each in its own host namespace with
//! one container namespace reused for every cycle.

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
    pub floor_add: Vec<Duration>,
    pub floor_del: Vec<Duration>,
}

#[derive(Clone, Copy)]
enum Who {
    Side(usize),
    Floor,
}

/// Run `cycles` recorded ADD+DEL cycles with `ip_masq`; with `with_floor` the
/// `ip` floor takes part in the rotation.
pub fn run(
    ctx: &mut Ctx,
    ip_masq: bool,
    cycles: usize,
    with_floor: bool,
) -> Result<Cycles, String> {
    let tag = if ip_masq { "cyc-masq" } else { "cyc" };
    let mut names = Vec::new();
    let result = (|| {
        let mut hosts = Vec::new();
        let mut conts = Vec::new();
        for role in ["ours", "ref", "floor"] {
            let h = ctx.ns.create(&format!("{tag}-host-{role}"))?;
            names.push(h.clone());
            let c = ctx.ns.create(&format!("{tag}-cont-{role}"))?;
            names.push(c.clone());
            hosts.push(h);
            conts.push(c);
        }
        let floor = Floor::new(ctx.ip.to_owned(), "cnmb0", "10.88.0.1");
        if with_floor {
            ctx.mover.enter(&hosts[2])?;
            floor.setup(16)?;
        }
        let nets = [
            ctx.net(ctx.sides[0], tag, ip_masq),
            ctx.net(ctx.sides[1], tag, ip_masq),
        ];
        let mut who = vec![Who::Side(0), Who::Side(1)];
        if with_floor {
            who.push(Who::Floor);
        }
        if ip_masq {
            masq::forget_marker(&nets[0].name);
        }
        let mut out = Cycles::default();
        let total = WARMUP + cycles;
        for i in 0..total {
            signal::check()?;
            let keep = i >= WARMUP;
            let cid = format!("cnmb-{tag}-{i}");
            let rot = i % who.len();
            let order: Vec<Who> = who[rot..].iter().chain(&who[..rot]).copied().collect();
            for (phase, cmd) in [(0, "ADD"), (1, "DEL")] {
                for w in &order {
                    match *w {
                        Who::Side(s) => {
                            ctx.mover.enter(&hosts[s])?;
                            let netns = crate::ns::path(&conts[s]);
                            let o = ctx.sides[s].invoke(
                                cmd,
                                &nets[s],
                                &cid,
                                &netns.to_string_lossy(),
                            )?;
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
                        Who::Floor => {
                            ctx.mover.enter(&hosts[2])?;
                            let d = if phase == 0 {
                                floor.add("vfloor", &conts[2], "10.88.0.2/16")?
                            } else {
                                floor.del("vfloor")?
                            };
                            if keep {
                                if phase == 0 {
                                    out.floor_add.push(d);
                                } else {
                                    out.floor_del.push(d);
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
                    if ctx.sides[1].kind == crate::side::Kind::Baseline {
                        masq::verify_ours(&nets[1].name)?;
                    } else {
                        masq::verify_ref()?;
                    }
                }
            }
            progress(&format!("cycles ipMasq={ip_masq}"), i, total, 25);
        }
        Ok(out)
    })();
    if ip_masq {
        masq::forget_marker(&ctx.net(ctx.sides[0], tag, true).name);
        masq::forget_marker(&ctx.net(ctx.sides[1], tag, true).name);
    }
    ctx.mover.home()?;
    ctx.ns.remove(&names);
    result
}
