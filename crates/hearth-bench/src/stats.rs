//! Percentiles of latency samples.

use std::time::Duration;

/// Percentiles of one set of samples, in nanoseconds.
#[derive(Debug, Clone, Copy, Default)]
pub struct Summary {
    pub count: usize,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub max: u64,
    pub mean: u64,
}

impl Summary {
    pub fn of(samples: &[Duration]) -> Summary {
        let mut ns: Vec<u64> = samples
            .iter()
            .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
            .collect();
        ns.sort_unstable();
        let count = ns.len();
        if count == 0 {
            return Summary::default();
        }
        let sum: u128 = ns.iter().map(|&n| u128::from(n)).sum();
        Summary {
            count,
            p50: percentile(&ns, 50.0),
            p90: percentile(&ns, 90.0),
            p99: percentile(&ns, 99.0),
            max: ns[count - 1],
            mean: u64::try_from(sum / count as u128).unwrap_or(u64::MAX),
        }
    }
}

/// Nearest-rank percentile of sorted, non-empty `ns`.
fn percentile(ns: &[u64], p: f64) -> u64 {
    let rank = ((p / 100.0) * ns.len() as f64).ceil() as usize;
    ns[rank.clamp(1, ns.len()) - 1]
}

/// Nanoseconds as milliseconds.
pub fn ms(ns: u64) -> f64 {
    ns as f64 / 1e6
}

/// `b - a` in milliseconds (may be negative: noise).
pub fn added_ms(direct: u64, hearth: u64) -> f64 {
    (hearth as f64 - direct as f64) / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let samples: Vec<Duration> = (1..=100).map(Duration::from_nanos).collect();
        let s = Summary::of(&samples);
        assert_eq!(
            (s.count, s.p50, s.p90, s.p99, s.max),
            (100, 50, 90, 99, 100)
        );
        assert_eq!(s.mean, 50);
        let one = Summary::of(&[Duration::from_nanos(7)]);
        assert_eq!((one.p50, one.p99, one.max), (7, 7, 7));
        assert_eq!(Summary::of(&[]).count, 0);
    }

    #[test]
    fn added_is_signed() {
        assert!((added_ms(1_000_000, 1_250_000) - 0.25).abs() < 1e-9);
        assert!(added_ms(2_000_000, 1_000_000) < 0.0);
    }
}
