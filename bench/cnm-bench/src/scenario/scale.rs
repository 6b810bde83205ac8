//! Scale: N containers attached to one bridge per side (ours and the
//! reference alternate per container); ADD of the first K against the last K,
//! then DEL in the same order (the first K deleted with the bridge full).

use std::time::Duration;

use super::{progress, Ctx};
use crate::signal;

/// First/last K timings per side (index 0 ours, 1 reference).
#[derive(Default)]
pub struct Scale {
    pub n: usize,
    pub k: usize,
    pub add_first: [Vec<Duration>; 2],
    pub add_last: [Vec<Duration>; 2],
    pub del_first: [Vec<Duration>; 2],
    pub del_last: [Vec<Duration>; 2],
}

pub fn run(ctx: &mut Ctx, n: usize) -> Result<Scale, String> {
    let k = 50.min(n / 2);
    let mut names = Vec::new();
    let result = (|| {
        let hosts = [
            ctx.ns.create("scale-host-ours")?,
            ctx.ns.create("scale-host-ref")?,
        ];
        names.extend(hosts.iter().cloned());
        let mut conts: [Vec<String>; 2] = [Vec::new(), Vec::new()];
        eprintln!("  scale: creating {} container namespaces", 2 * n);
        for i in 0..n {
            signal::check()?;
            for (s, c) in conts.iter_mut().enumerate() {
                let name = ctx.ns.create(&format!("scale-{s}-{i}"))?;
                names.push(name.clone());
                c.push(name);
            }
            progress("netns created (per side)", i, n, 250);
        }
        let nets = [
            ctx.net(ctx.sides[0], "scale", false),
            ctx.net(ctx.sides[1], "scale", false),
        ];
        let mut out = Scale {
            n,
            k,
            ..Scale::default()
        };
        for (phase, cmd) in [(0, "ADD"), (1, "DEL")] {
            for (i, pair) in conts[0].iter().zip(&conts[1]).enumerate() {
                signal::check()?;
                let cs = [pair.0, pair.1];
                let order = if i % 2 == 0 { [0, 1] } else { [1, 0] };
                for s in order {
                    ctx.mover.enter(&hosts[s])?;
                    let netns = crate::ns::path(cs[s]);
                    let cid = format!("cnmb-scale-{i}");
                    let o = ctx.sides[s].invoke(cmd, &nets[s], &cid, &netns.to_string_lossy())?;
                    let bucket = match (phase, i < k, i >= n - k) {
                        (0, true, _) => Some(&mut out.add_first[s]),
                        (0, _, true) => Some(&mut out.add_last[s]),
                        (_, true, _) => Some(&mut out.del_first[s]),
                        (_, _, true) => Some(&mut out.del_last[s]),
                        _ => None,
                    };
                    if let Some(b) = bucket {
                        b.push(o.wall);
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
