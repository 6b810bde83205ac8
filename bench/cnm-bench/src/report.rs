//! The results as markdown tables (printed and written to docs/performance.md)
//! and the PASS/MISS verdict per target (informational only).

use std::fmt::Write;
use std::time::Duration;

use crate::machine::Machine;
use crate::scenario::{burst::Burst, cycles::Cycles, scale::Scale};
use crate::stats::{median_u64, summarize, Summary};

/// Everything one run measured.
pub struct Results {
    pub command: String,
    pub machine: Machine,
    pub cycles: usize,
    pub plain: Cycles,
    pub masq: Result<Cycles, String>,
    pub scale: Result<Scale, String>,
    pub burst: Result<Burst, String>,
    /// (ours name, bytes, reference name, bytes)
    pub sizes: Vec<(String, u64, String, u64)>,
    /// Our binaries before a change were timed too (`--before-dir`).
    pub before: bool,
}

struct Target {
    name: &'static str,
    value: Option<f64>,
    limit: f64,
    note: String,
}

fn ms(s: &Summary) -> String {
    format!("{:.2} / {:.2}", s.median_ms, s.p95_ms)
}

fn ratio(a: f64, b: f64) -> Option<f64> {
    (b > 0.0).then(|| a / b)
}

fn fmt_ratio(r: Option<f64>) -> String {
    r.map_or_else(|| "n/a".to_owned(), |r| format!("{r:.2}x"))
}

fn row(out: &mut String, metric: &str, ours: &[Duration], refs: &[Duration]) -> Option<f64> {
    let (o, r) = (summarize(ours), summarize(refs));
    let q = ratio(o.median_ms, r.median_ms);
    let _ = writeln!(
        out,
        "| {metric} | {} | {} | {} | {} |",
        o.n,
        ms(&o),
        ms(&r),
        fmt_ratio(q)
    );
    q
}

const HEAD: &str = "| metric | n | ours median / p95 (ms) | reference median / p95 (ms) | ours/ref (median) |\n|---|---|---|---|---|";

/// The generated markdown section.
pub fn render(r: &Results) -> String {
    let mut t: Vec<Target> = Vec::new();
    let mut o = String::new();
    let m = &r.machine;
    let _ = writeln!(o, "## Benchmark results\n");
    let _ = writeln!(o, "Produced by:\n\n```\n{}\n```\n", r.command);
    let _ = writeln!(
        o,
        "Machine: {} CPUs ({}), kernel {}, {}. Reference plugins: /usr/lib/cni bridge + host-local, \
         Debian containernetworking-plugins {}. Ours: release build of simplebridge with \
         ipam-host-local in-process.\n",
        m.nproc, m.cpu, m.kernel, m.date, m.ref_version
    );
    let _ = writeln!(
        o,
        "Each implementation runs in its own throwaway host namespace (the harness setns()es its \
         main thread there, so plugins are plain fork/exec children, no nsenter); ours, the \
         reference, our binaries from before the change (when `--before-dir` is given) and the \
         floors (`ip` and the floor program, bench/cnm-floor) alternate within every cycle, with \
         the order rotating. Times are wall time from spawn to reap of the plugin process (the \
         reference's includes its host-local child). cniVersion 1.0.0, isGateway, one IPv4 /16 \
         range.\n"
    );

    let _ = writeln!(
        o,
        "### ADD / DEL, {} cycles after 3 warm-up cycles\n\n{HEAD}",
        r.cycles
    );
    let p = &r.plain;
    let add_plain = row(&mut o, "ADD ipMasq=false", &p.add[0], &p.add[1]);
    let del_plain = row(&mut o, "DEL ipMasq=false", &p.del[0], &p.del[1]);
    let (add_masq, del_masq, masq_note) = match &r.masq {
        Ok(c) => (
            row(&mut o, "ADD ipMasq=true", &c.add[0], &c.add[1]),
            row(&mut o, "DEL ipMasq=true", &c.del[0], &c.del[1]),
            String::new(),
        ),
        Err(e) => {
            let _ = writeln!(o, "| ipMasq=true | - | skipped: {e} | | |");
            (None, None, format!("skipped: {e}"))
        }
    };
    t.push(Target {
        name: "ADD ipMasq=false <= 0.30x ref",
        value: add_plain,
        limit: 0.30,
        note: String::new(),
    });
    t.push(Target {
        name: "ADD ipMasq=true <= 0.20x ref",
        value: add_masq,
        limit: 0.20,
        note: masq_note.clone(),
    });
    t.push(Target {
        name: "DEL ipMasq=false <= 0.95x ref",
        value: del_plain,
        limit: 0.95,
        note: String::new(),
    });
    t.push(Target {
        name: "DEL ipMasq=true <= 0.40x ref",
        value: del_masq,
        limit: 0.40,
        note: masq_note,
    });

    let fa = summarize(&p.floor_add);
    let fd = summarize(&p.floor_del);
    let (oa, od) = (summarize(&p.add[0]), summarize(&p.del[0]));
    let (ra, rd) = (summarize(&p.add[1]), summarize(&p.del[1]));
    let _ = writeln!(
        o,
        "\n### The kernel floor (same cycles, no plugin)\n\n\
         | floor | n | median / p95 (ms) | ours/floor | ref/floor |\n|---|---|---|---|---|"
    );
    let _ = writeln!(
        o,
        "| ADD: `ip -batch` in the host (veth with peer in the container netns, master, up) + `ip -n <c> -batch` (addr, up, default route); 2 processes | {} | {} | {} | {} |",
        fa.n, ms(&fa), fmt_ratio(ratio(oa.median_ms, fa.median_ms)), fmt_ratio(ratio(ra.median_ms, fa.median_ms))
    );
    let pf = summarize(&p.prog_add);
    let prog_floor = ratio(oa.median_ms, pf.median_ms);
    if pf.n > 0 {
        let _ = writeln!(
            o,
            "| ADD: the floor program `cnm-floor` (bench/cnm-floor: one static binary; bridge lookup, veth created attached and up, IPv6 off, address + up + route in one datagram; no config, no IPAM) | {} | {} | {} | {} |",
            pf.n, ms(&pf), fmt_ratio(prog_floor), fmt_ratio(ratio(ra.median_ms, pf.median_ms))
        );
    }
    let cpu: Vec<Summary> = p.add_cpu.iter().map(|v| summarize(v)).collect();
    if cpu[3].n > 0 {
        let _ = writeln!(
            o,
            "\nCPU time (user + system, from wait4) of one ADD, median: ours {:.2} ms, reference {:.2} ms{}, floor program {:.2} ms; ours/floor {}, ours/ref {}. Unlike wall time it does not include waiting for a CPU, so it is the steadier figure when other jobs load the machine.",
            cpu[0].median_ms,
            cpu[1].median_ms,
            if cpu[2].n > 0 { format!(", ours before {:.2} ms", cpu[2].median_ms) } else { String::new() },
            cpu[3].median_ms,
            fmt_ratio(ratio(cpu[0].median_ms, cpu[3].median_ms)),
            fmt_ratio(ratio(cpu[0].median_ms, cpu[1].median_ms)),
        );
    }
    t.push(Target {
        name: "ADD ipMasq=false <= 1.50x floor program",
        value: prog_floor,
        limit: 1.50,
        note: if pf.n > 0 {
            String::new()
        } else {
            "skipped: no floor program (scripts/build-release.sh builds it)".to_owned()
        },
    });
    let del_floor = ratio(od.median_ms, fd.median_ms);
    let _ = writeln!(
        o,
        "| DEL: `ip link del <veth>` (1 process) | {} | {} | {} | {} |",
        fd.n,
        ms(&fd),
        fmt_ratio(del_floor),
        fmt_ratio(ratio(rd.median_ms, fd.median_ms))
    );
    t.push(Target {
        name: "DEL ipMasq=false <= 1.10x veth-delete floor",
        value: del_floor,
        limit: 1.10,
        note: String::new(),
    });

    if r.before {
        before_table(&mut o, &mut t, p, r.masq.as_ref().ok());
    }

    let _ = writeln!(o, "\n### Scale: containers attached to one bridge\n");
    match &r.scale {
        Ok(s) => scale_section(&mut o, &mut t, s),
        Err(e) => {
            let _ = writeln!(o, "skipped: {e}");
            for name in [
                "ADD with N attached <= 1.30x ADD with none",
                "DEL with N attached <= 1.30x DEL with none",
            ] {
                t.push(Target {
                    name,
                    value: None,
                    limit: 1.30,
                    note: format!("skipped: {e}"),
                });
            }
        }
    }

    let _ = writeln!(o, "\n### Burst: concurrent ADDs into one network\n");
    match &r.burst {
        Ok(b) => {
            let (oa, ra) = (summarize(&b.add_wall[0]), summarize(&b.add_wall[1]));
            let (odl, rdl) = (summarize(&b.del_wall[0]), summarize(&b.del_wall[1]));
            let _ = writeln!(o, "{} concurrent ADDs (then {} concurrent DELs), {} rounds; wall time from the first spawn to the last reap, median over rounds.\n", b.m, b.m, b.rounds);
            let _ = writeln!(
                o,
                "| metric | ours | reference | ours/ref |\n|---|---|---|---|"
            );
            let q = ratio(oa.median_ms, ra.median_ms);
            let _ = writeln!(
                o,
                "| ADD burst wall (ms) | {:.1} | {:.1} | {} |",
                oa.median_ms,
                ra.median_ms,
                fmt_ratio(q)
            );
            let _ = writeln!(
                o,
                "| DEL burst wall (ms) | {:.1} | {:.1} | {} |",
                odl.median_ms,
                rdl.median_ms,
                fmt_ratio(ratio(odl.median_ms, rdl.median_ms))
            );
            if !b.add_wall[2].is_empty() {
                let (ba, bd) = (summarize(&b.add_wall[2]), summarize(&b.del_wall[2]));
                let _ = writeln!(
                    o,
                    "| ADD / DEL burst wall, ours before (ms) | {:.1} / {:.1} | | after/before {} / {} |",
                    ba.median_ms,
                    bd.median_ms,
                    fmt_ratio(ratio(oa.median_ms, ba.median_ms)),
                    fmt_ratio(ratio(odl.median_ms, bd.median_ms))
                );
            }
            let total = b.m * b.rounds;
            let _ = writeln!(
                o,
                "| ADDs succeeded | {}/{total} | {}/{total} | |",
                total - b.add_failed[0],
                total - b.add_failed[1]
            );
            let _ = writeln!(
                o,
                "| rounds with duplicate or missing addresses | {} | {} | |",
                b.duplicate_rounds[0], b.duplicate_rounds[1]
            );
            for (s, e) in b.first_error.iter().enumerate() {
                if let Some(e) = e {
                    let who = ["ours", "reference", "ours before"][s];
                    let _ = writeln!(o, "\nFirst {who} failure: `{e}`");
                }
            }
            let ok = b.add_failed[0] == 0 && b.duplicate_rounds[0] == 0;
            t.push(Target {
                name: "burst ADD wall <= 0.50x ref (all ok, distinct)",
                value: if ok { q } else { Some(f64::INFINITY) },
                limit: 0.5,
                note: if ok {
                    String::new()
                } else {
                    "ours had failures or duplicate addresses".to_owned()
                },
            });
        }
        Err(e) => {
            let _ = writeln!(o, "skipped: {e}");
            t.push(Target {
                name: "burst ADD wall <= 0.50x ref (all ok, distinct)",
                value: None,
                limit: 0.5,
                note: format!("skipped: {e}"),
            });
        }
    }

    let _ = writeln!(o, "\n### Peak RSS and binary size\n");
    let _ = writeln!(o, "Peak RSS is wait4()'s ru_maxrss of the invocation (the largest process of its tree: the reference's bridge or its host-local child), median over the ipMasq=false cycles.\n");
    let _ = writeln!(
        o,
        "| metric | ours | reference | ours/ref |\n|---|---|---|---|"
    );
    for (name, rss, before) in [
        ("ADD", &p.add_rss_kb, &p.before_add_rss_kb),
        ("DEL", &p.del_rss_kb, &p.before_del_rss_kb),
    ] {
        let (a, b) = (median_u64(&rss[0]), median_u64(&rss[1]));
        if !before.is_empty() {
            let _ = writeln!(
                o,
                "| peak RSS of one {name}, ours before (KiB) | {} | | |",
                median_u64(before)
            );
        }
        let q = ratio(a as f64, b as f64);
        let _ = writeln!(
            o,
            "| peak RSS of one {name} (KiB) | {a} | {b} | {} |",
            fmt_ratio(q)
        );
        t.push(Target {
            name: if name == "ADD" {
                "peak RSS ADD <= 0.60x ref"
            } else {
                "peak RSS DEL <= 0.60x ref"
            },
            value: q,
            limit: 0.6,
            note: String::new(),
        });
    }
    for (on, ob, rn, rb) in &r.sizes {
        let _ = writeln!(
            o,
            "| size: {on} vs {rn} (bytes) | {ob} | {rb} | {} |",
            fmt_ratio(ratio(*ob as f64, *rb as f64))
        );
    }

    let _ = writeln!(o, "\n### Targets (informational)\n\n| target | measured | verdict | note |\n|---|---|---|---|");
    for x in &t {
        let verdict = match x.value {
            None => "SKIP",
            Some(v) if v <= x.limit => "PASS",
            Some(_) => "MISS",
        };
        let _ = writeln!(
            o,
            "| {} | {} | {verdict} | {} |",
            x.name,
            fmt_ratio(x.value),
            x.note
        );
    }
    o
}

/// Ours now against our binaries before the change, same cycles.
fn before_table(o: &mut String, t: &mut Vec<Target>, p: &Cycles, masq: Option<&Cycles>) {
    let _ = writeln!(
        o,
        "\n### Ours before and after the change (same cycles)\n\n\
         | metric | n | before median / p95 (ms) | after median / p95 (ms) | after/before (median) |\n|---|---|---|---|---|"
    );
    let mut rows = vec![
        ("ADD ipMasq=false", &p.before_add, &p.add[0]),
        ("DEL ipMasq=false", &p.before_del, &p.del[0]),
    ];
    if let Some(m) = masq {
        rows.push(("ADD ipMasq=true", &m.before_add, &m.add[0]));
        rows.push(("DEL ipMasq=true", &m.before_del, &m.del[0]));
    }
    for (name, b, a) in rows {
        let (sb, sa) = (summarize(b), summarize(a));
        let q = ratio(sa.median_ms, sb.median_ms);
        let _ = writeln!(
            o,
            "| {name} | {} | {} | {} | {} |",
            sa.n,
            ms(&sb),
            ms(&sa),
            fmt_ratio(q)
        );
        if name.starts_with("DEL") || name.ends_with("true") {
            t.push(Target {
                name: match name {
                    "DEL ipMasq=false" => "DEL ipMasq=false no slower than before (<= 1.05x)",
                    "ADD ipMasq=true" => "ADD ipMasq=true no slower than before (<= 1.05x)",
                    _ => "DEL ipMasq=true no slower than before (<= 1.05x)",
                },
                value: q,
                limit: 1.05,
                note: String::new(),
            });
        }
    }
}

/// First/last K of the scale run per participant, growth and targets.
fn scale_section(o: &mut String, t: &mut Vec<Target>, s: &Scale) {
    let k = s.k;
    let n = s.n;
    let first = |v: &[Duration]| v[..k.min(v.len())].to_vec();
    let last = |v: &[Duration]| v[v.len().saturating_sub(k)..].to_vec();
    let _ = writeln!(o, "{n} containers per participant, alternating per container; first/last {k} of the ADDs and of the DELs (DELs in ADD order, so the first DELs run with the bridge full). Chart: [performance-scale.svg](performance-scale.svg) (every call, median per bin).\n");
    let _ = writeln!(o, "| participant | ADD first {k} (0..{k} attached) | ADD last {k} ({}..{n} attached) | ADD last/first | DEL first {k} (bridge full) | DEL last {k} (nearly empty) | DEL full/empty |\n|---|---|---|---|---|---|---|", n - k);
    let mut parts: Vec<(&str, &[Duration], &[Duration])> = vec![
        ("ours", &s.add[0], &s.del[0]),
        ("reference", &s.add[1], &s.del[1]),
    ];
    if !s.before_add.is_empty() {
        parts.push(("ours before", &s.before_add, &s.before_del));
    }
    if !s.floor_add.is_empty() {
        parts.push((
            "floor program (DEL: `ip link del`)",
            &s.floor_add,
            &s.floor_del,
        ));
    }
    let mut growth = (None, None);
    for (name, add, del) in parts {
        if add.is_empty() {
            continue; // not in this run (--scale-with)
        }
        let (af, al) = (summarize(&first(add)), summarize(&last(add)));
        let (df, dl) = (summarize(&first(del)), summarize(&last(del)));
        let ga = ratio(al.median_ms, af.median_ms);
        let gd = ratio(df.median_ms, dl.median_ms);
        if name == "ours" {
            growth = (ga, gd);
        }
        let _ = writeln!(
            o,
            "| {name} | {} | {} | {} | {} | {} | {} |",
            ms(&af),
            ms(&al),
            fmt_ratio(ga),
            ms(&df),
            ms(&dl),
            fmt_ratio(gd)
        );
    }
    let _ = writeln!(o, "\n(median / p95 in ms)");
    let names = ["ours", "reference", "ours before", "floor program"];
    if s.add_cpu.iter().any(|v| !v.is_empty()) {
        let _ = writeln!(o, "\nCPU time (user + system, from wait4) of the same calls, medians in ms: it leaves out waiting for a CPU, so it shows the growth of the work itself when the machine is loaded.\n\n| participant | ADD first {k} | ADD last {k} | last/first | DEL first {k} (full) | DEL last {k} | full/empty |\n|---|---|---|---|---|---|---|");
        for (i, name) in names.iter().enumerate() {
            let (a, d) = (&s.add_cpu[i], &s.del_cpu[i]);
            if a.is_empty() {
                continue;
            }
            let (af, al) = (summarize(&first(a)), summarize(&last(a)));
            let (df, dl) = (summarize(&first(d)), summarize(&last(d)));
            let _ = writeln!(
                o,
                "| {name} | {:.2} | {:.2} | {} | {:.2} | {:.2} | {} |",
                af.median_ms,
                al.median_ms,
                fmt_ratio(ratio(al.median_ms, af.median_ms)),
                df.median_ms,
                dl.median_ms,
                fmt_ratio(ratio(df.median_ms, dl.median_ms))
            );
        }
    }
    t.push(Target {
        name: "ADD with N attached <= 1.30x ADD with none",
        value: growth.0,
        limit: 1.30,
        note: format!("N = {n}"),
    });
    t.push(Target {
        name: "DEL with N attached <= 1.30x DEL with none",
        value: growth.1,
        limit: 1.30,
        note: format!("N = {n}"),
    });
}
