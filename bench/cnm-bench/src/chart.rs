//! The scale chart: ADD and DEL latency against the number of containers
//! attached to the bridge, for ours, ours before a change, the reference and
//! the floor program; an SVG written next to docs/performance.md by every
//! run (plotters, SVG backend, no font files needed).

use std::path::Path;
use std::time::Duration;

use plotters::coord::ranged1d::ValueFormatter;
use plotters::prelude::*;

use crate::scenario::scale::Scale;

/// File name of the chart, beside the document.
pub const FILE_NAME: &str = "performance-scale.svg";

/// Median per bin of `bin` consecutive calls, at the mean number of
/// containers attached during them (`attached(i)` for call `i`).
fn binned(xs: &[Duration], bin: usize, attached: impl Fn(usize) -> usize) -> Vec<(f64, f64)> {
    xs.chunks(bin.max(1))
        .enumerate()
        .map(|(b, chunk)| {
            let first = b * bin.max(1);
            let mut ms: Vec<f64> = chunk.iter().map(|d| d.as_secs_f64() * 1e3).collect();
            ms.sort_by(f64::total_cmp);
            let med = if ms.len() % 2 == 1 {
                ms[ms.len() / 2]
            } else {
                (ms[ms.len() / 2 - 1] + ms[ms.len() / 2]) / 2.0
            };
            let x = (first..first + chunk.len())
                .map(&attached)
                .map(|a| a as f64)
                .sum::<f64>()
                / chunk.len() as f64;
            (x, med)
        })
        .collect()
}

/// The series of one panel: (label, colour, points).
type Series = Vec<(&'static str, RGBColor, Vec<(f64, f64)>)>;

fn series(s: &Scale, del: bool) -> Series {
    let bin = (s.n / 20).max(1);
    let n = s.n;
    // ADD number i runs with i containers attached; DEL number i (in ADD
    // order) with n - i, itself included.
    let at = move |i: usize| if del { n - i } else { i };
    let pick = |add: &[Duration], d: &[Duration]| binned(if del { d } else { add }, bin, at);
    let mut out: Series = vec![
        (
            "ours (after)",
            RGBColor(0, 114, 178),
            pick(&s.add[0], &s.del[0]),
        ),
        (
            "reference",
            RGBColor(213, 94, 0),
            pick(&s.add[1], &s.del[1]),
        ),
    ];
    let before = pick(&s.before_add, &s.before_del);
    if !before.is_empty() {
        out.push(("ours (before)", RGBColor(120, 120, 120), before));
    }
    let floor = pick(&s.floor_add, &s.floor_del);
    if !floor.is_empty() {
        let label = if del {
            "floor (ip link del)"
        } else {
            "floor program"
        };
        out.push((label, RGBColor(0, 158, 115), floor));
    }
    out.retain(|(_, _, p)| !p.is_empty());
    out
}

fn panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    title: &str,
    n: usize,
    data: &Series,
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| format!("drawing the chart: {e:?}");
    let ys = data.iter().flat_map(|(_, _, p)| p.iter().map(|q| q.1));
    let (lo, hi) = ys.fold((f64::MAX, 0.0f64), |(l, h), y| (l.min(y), h.max(y)));
    let (lo, hi) = if hi > 0.0 {
        ((lo / 1.5).max(0.05), hi * 1.5)
    } else {
        (0.1, 10.0)
    };
    let y = (lo..hi).log_scale();
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(55)
        .build_cartesian_2d(0f64..n as f64, y)
        .map_err(err)?;
    mesh(&mut chart).map_err(err)?;
    for (label, colour, points) in data {
        let c = *colour;
        chart
            .draw_series(LineSeries::new(points.iter().copied(), c.stroke_width(2)))
            .map_err(err)?
            .label(*label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2)));
        chart
            .draw_series(points.iter().map(|p| Circle::new(*p, 3, c.filled())))
            .map_err(err)?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .border_style(BLACK)
        .background_style(WHITE.mix(0.85))
        .draw()
        .map_err(err)
}

fn mesh<DB: DrawingBackend, X, Y>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<X, Y>>,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>>
where
    X: Ranged<ValueType = f64> + ValueFormatter<f64>,
    Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    chart
        .configure_mesh()
        .x_desc("containers attached to the bridge")
        .y_desc("ms per call (median per bin, log scale)")
        .x_label_formatter(&|v| format!("{v:.0}"))
        .y_label_formatter(&|v| format!("{v:.1}"))
        .draw()
}

/// Draw the chart of `s` into `path` (SVG).
pub fn write(path: &Path, s: &Scale) -> Result<(), String> {
    let root = SVGBackend::new(path, (1100, 460)).into_drawing_area();
    root.fill(&WHITE)
        .map_err(|e| format!("drawing {}: {e:?}", path.display()))?;
    let (left, right) = root.split_horizontally(550);
    panel(&left, "ADD latency", s.n, &series(s, false))?;
    panel(&right, "DEL latency", s.n, &series(s, true))?;
    root.present()
        .map_err(|e| format!("writing {}: {e:?}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_take_medians_at_the_attached_count() {
        let xs: Vec<Duration> = [1, 9, 2, 4, 4, 4]
            .iter()
            .map(|&m| Duration::from_millis(m))
            .collect();
        let b = binned(&xs, 3, |i| i);
        assert_eq!(b.len(), 2);
        assert!((b[0].0 - 1.0).abs() < 1e-9 && (b[0].1 - 2.0).abs() < 1e-9);
        assert!((b[1].0 - 4.0).abs() < 1e-9 && (b[1].1 - 4.0).abs() < 1e-9);
        let d = binned(&xs, 3, |i| 6 - i);
        assert!((d[0].0 - 5.0).abs() < 1e-9);
    }

    #[test]
    fn writes_an_svg() {
        let ms = |v: u64| Duration::from_millis(v);
        let s = Scale {
            n: 40,
            k: 5,
            add: [(0..40).map(|_| ms(3)).collect(), (0..40).map(ms).collect()],
            del: [
                (0..40).map(|_| ms(20)).collect(),
                (0..40).map(|_| ms(30)).collect(),
            ],
            ..Scale::default()
        };
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(FILE_NAME);
        write(&p, &s).unwrap();
        let svg = std::fs::read_to_string(&p).unwrap();
        assert!(svg.contains("<svg") && svg.contains("ADD latency") && svg.contains("reference"));
    }
}
