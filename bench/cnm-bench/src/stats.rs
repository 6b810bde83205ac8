//! Median and p95 (nearest rank) of a sample of durations.

use std::time::Duration;

/// Summary of one sample, in milliseconds.
#[derive(Clone, Copy, Debug, Default)]
pub struct Summary {
    pub n: usize,
    pub median_ms: f64,
    pub p95_ms: f64,
}

/// Median and nearest-rank p95 of `xs`; all zero for an empty sample.
pub fn summarize(xs: &[Duration]) -> Summary {
    let mut ms: Vec<f64> = xs.iter().map(|d| d.as_secs_f64() * 1e3).collect();
    ms.sort_by(f64::total_cmp);
    Summary {
        n: ms.len(),
        median_ms: median_sorted(&ms),
        p95_ms: percentile_sorted(&ms, 0.95),
    }
}

/// Median of an integer sample (e.g. RSS in KiB); 0 when empty.
pub fn median_u64(xs: &[u64]) -> u64 {
    let mut v = xs.to_vec();
    v.sort_unstable();
    match v.len() {
        0 => 0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2,
    }
}

fn median_sorted(v: &[f64]) -> f64 {
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn percentile_sorted(v: &[f64], p: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let rank = (p * v.len() as f64).ceil() as usize;
    v[rank.clamp(1, v.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: &[u64]) -> Vec<Duration> {
        v.iter().map(|&x| Duration::from_millis(x)).collect()
    }

    #[test]
    fn median_and_p95() {
        let s = summarize(&ms(&(1..=100).collect::<Vec<_>>()));
        assert_eq!(s.n, 100);
        assert!((s.median_ms - 50.5).abs() < 1e-9);
        assert!((s.p95_ms - 95.0).abs() < 1e-9);
        let s = summarize(&ms(&[3, 1, 2]));
        assert!((s.median_ms - 2.0).abs() < 1e-9);
        assert!((s.p95_ms - 3.0).abs() < 1e-9);
        assert_eq!(summarize(&[]).n, 0);
        assert_eq!(median_u64(&[5, 1, 9, 7]), 6);
    }
}
