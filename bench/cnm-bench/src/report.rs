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
         reference and the `ip` floor alternate within every cycle, with the order rotating. \
         Times are wall time from spawn to reap of the plugin process (the reference's includes \
         its host-local child). cniVersion 1.0.0, isGateway, one IPv4 /16 range.\n"
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
        name: "ADD ipMasq=false <= 0.35x ref",
        value: add_plain,
        limit: 0.35,
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

    let _ = writeln!(o, "\n### Scale: containers attached to one bridge\n");
    match &r.scale {
        Ok(s) => {
            let _ = writeln!(o, "{} containers per implementation; first/last {} of the ADDs and of the DELs (DELs in ADD order, so the first DELs run with the bridge full).\n\n{HEAD}", s.n, s.k);
            row(
                &mut o,
                &format!("ADD first {} (0..{} attached)", s.k, s.k),
                &s.add_first[0],
                &s.add_first[1],
            );
            row(
                &mut o,
                &format!("ADD last {} ({}..{} attached)", s.k, s.n - s.k, s.n),
                &s.add_last[0],
                &s.add_last[1],
            );
            row(
                &mut o,
                &format!("DEL first {} (bridge full)", s.k),
                &s.del_first[0],
                &s.del_first[1],
            );
            row(
                &mut o,
                &format!("DEL last {} (bridge nearly empty)", s.k),
                &s.del_last[0],
                &s.del_last[1],
            );
            let g = |a: &[Duration], b: &[Duration]| {
                ratio(summarize(a).median_ms, summarize(b).median_ms)
            };
            let add_g = [
                g(&s.add_last[0], &s.add_first[0]),
                g(&s.add_last[1], &s.add_first[1]),
            ];
            let del_g = [
                g(&s.del_first[0], &s.del_last[0]),
                g(&s.del_first[1], &s.del_last[1]),
            ];
            let _ = writeln!(o, "\nGrowth, ADD last/first: ours {}, reference {}. DEL full/empty: ours {}, reference {}.",
                fmt_ratio(add_g[0]), fmt_ratio(add_g[1]), fmt_ratio(del_g[0]), fmt_ratio(del_g[1]));
            t.push(Target {
                name: "ADD with N attached <= 1.10x ADD with none",
                value: add_g[0],
                limit: 1.10,
                note: format!("N = {}", s.n),
            });
        }
        Err(e) => {
            let _ = writeln!(o, "skipped: {e}");
            t.push(Target {
                name: "ADD with N attached <= 1.10x ADD with none",
                value: None,
                limit: 1.10,
                note: format!("skipped: {e}"),
            });
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
                    let _ = writeln!(
                        o,
                        "\nFirst {} failure: `{e}`",
                        if s == 0 { "ours" } else { "reference" }
                    );
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
    for (name, rss) in [("ADD", &p.add_rss_kb), ("DEL", &p.del_rss_kb)] {
        let (a, b) = (median_u64(&rss[0]), median_u64(&rss[1]));
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

/// The rendered section for a before/after run (`--baseline-dir`): the
/// reference's columns are the earlier build ("before"), ours the current
/// one ("after"); the targets (set against the reference) are left out.
pub fn relabel_for_baseline(md: &str, baseline: &std::path::Path) -> String {
    let md = match md.find("\n### Targets") {
        Some(i) => &md[..i],
        None => md,
    };
    let mut out = String::new();
    for line in md.lines() {
        let line = if line.starts_with("Machine:") {
            match line.find(". Reference plugins:") {
                Some(i) => format!(
                    "{}. Before: our static release build in {}; after: this tree's (target/dist), \
                     both simplebridge with ipam-host-local in-process.",
                    &line[..i],
                    baseline.display()
                ),
                None => line.to_owned(),
            }
        } else {
            line.replace("ours median", "after median")
                .replace("reference median", "before median")
                .replace("ours/ref", "after/before")
                .replace("ref/floor", "before/floor")
                .replace("ours/floor", "after/floor")
                .replace("| ours | reference |", "| after | before |")
                .replace("ours, the reference and", "after, before and")
                .replace(": ours ", ": after ")
                .replace(", reference ", ", before ")
        };
        out.push_str(&line);
        out.push('\n');
    }
    out
}
