//! Seeded random streams and the few distributions the generator needs.
//!
//! Every source gets its own ChaCha8 streams derived from the config seed and the source name,
//! so sources are independent of each other and of the order they are generated in.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The random stream of one source.
pub(crate) type SourceRng = ChaCha8Rng;

/// A stream for `source`, `stream` ("data" or "faults") under `seed`.
pub(crate) fn source_rng(seed: u64, source: &str, stream: &str) -> SourceRng {
    // FNV-1a over the names, mixed with the seed, expanded to 32 bytes with SplitMix64.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in source.bytes().chain([0]).chain(stream.bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    let mut state = seed ^ hash.rotate_left(17);
    let mut key = [0u8; 32];
    for chunk in key.chunks_exact_mut(8) {
        chunk.copy_from_slice(&splitmix64(&mut state).to_le_bytes());
    }
    ChaCha8Rng::from_seed(key)
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Standard normal (Box–Muller).
pub(crate) fn normal(rng: &mut SourceRng) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>(); // (0, 1]
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Exponential with the given mean.
pub(crate) fn exponential(rng: &mut SourceRng, mean: f64) -> f64 {
    -mean * (1.0 - rng.random::<f64>()).ln()
}

/// Log-normal with the given mean and log-scale spread: right-skewed waiting times.
pub(crate) fn lognormal(rng: &mut SourceRng, mean: f64, sigma: f64) -> f64 {
    let mu = mean.ln() - sigma * sigma / 2.0;
    (mu + sigma * normal(rng)).exp()
}

/// Poisson count (Knuth below 30, normal approximation above).
pub(crate) fn poisson(rng: &mut SourceRng, lambda: f64) -> u32 {
    if lambda <= 0.0 {
        return 0;
    }
    if lambda < 30.0 {
        let limit = (-lambda).exp();
        let mut product: f64 = rng.random();
        let mut count = 0;
        while product > limit {
            product *= rng.random::<f64>();
            count += 1;
        }
        count
    } else {
        (lambda + lambda.sqrt() * normal(rng)).round().max(0.0) as u32
    }
}

/// Index drawn with probability proportional to `weights`.
pub(crate) fn weighted(rng: &mut SourceRng, weights: &[f64]) -> usize {
    let total: f64 = weights.iter().sum();
    let mut target = rng.random::<f64>() * total;
    for (i, w) in weights.iter().enumerate() {
        if target < *w {
            return i;
        }
        target -= w;
    }
    weights.len() - 1
}

/// Relative volume per local hour of day; draws a time of day.
#[derive(Debug)]
pub(crate) struct HourProfile(pub [f64; 24]);

impl HourProfile {
    /// Office hours 8–16, busiest when the lines open.
    pub const OFFICE: Self = Self([
        0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 22.0, 17.0, 14.0, 12.0, 12.0, 10.0, 8.0, 5.0, 0.0,
        0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
    ]);
    /// Around the clock, quiet at night (switchboard, rescue, EMS).
    pub const ROUND_THE_CLOCK: Self = Self([
        1.5, 1.2, 1.0, 0.9, 0.9, 1.2, 2.2, 3.8, 5.2, 5.8, 6.0, 6.0, 6.0, 5.9, 5.8, 5.8, 5.8, 5.6,
        5.2, 4.8, 4.2, 3.4, 2.6, 2.0,
    ]);
    /// Chat service hours 8–20.
    pub const CHAT: Self = Self([
        0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 12.0, 11.0, 10.0, 9.0, 9.0, 8.0, 8.0, 7.0, 6.0,
        6.0, 5.0, 4.0, 0.0, 0.0, 0.0, 0.0,
    ]);
    /// Short service hours 9–15 (the county's own chat).
    pub const DAYTIME: Self = Self([
        0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 6.0, 6.0, 5.0, 5.0, 5.0, 4.0, 0.0, 0.0, 0.0,
        0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
    ]);
    /// Survey answers: daytime and evening.
    pub const SURVEY: Self = Self([
        0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 4.0, 6.0, 7.0, 7.0, 7.0, 6.0, 6.0, 6.0, 6.0, 6.0,
        6.0, 6.0, 5.0, 4.0, 2.0, 0.0,
    ]);

    /// Seconds after local midnight.
    pub fn seconds(&self, rng: &mut SourceRng) -> u32 {
        let hour = weighted(rng, &self.0) as u32;
        hour * 3600 + rng.random_range(0..3600)
    }
}

/// Decides which rows are broken, from a stream of its own.
pub(crate) struct Faults {
    rng: SourceRng,
    rate: f64,
}

impl Faults {
    pub fn new(rng: SourceRng, rate: f64) -> Self {
        Self { rng, rate }
    }

    /// Whether to break a row that can be broken. Call it once for every such row; `eligible`
    /// is the share of rows that can be, so the overall share of broken rows stays at the rate.
    pub fn hit(&mut self, eligible: f64) -> bool {
        let p = (self.rate / eligible).min(1.0);
        self.rng.random::<f64>() < p
    }

    /// Which of `n` ways to break the row.
    pub fn kind(&mut self, n: usize) -> usize {
        self.rng.random_range(0..n)
    }

    /// A number for the broken value.
    pub fn range(&mut self, range: std::ops::Range<u32>) -> u32 {
        self.rng.random_range(range)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_differ_by_source_and_are_reproducible() {
        let a: u64 = source_rng(1, "a", "data").random();
        let b: u64 = source_rng(1, "b", "data").random();
        let a2: u64 = source_rng(1, "a", "data").random();
        let faults: u64 = source_rng(1, "a", "faults").random();
        assert_ne!(a, b);
        assert_ne!(a, faults);
        assert_eq!(a, a2);
    }

    #[test]
    fn distributions_have_their_means() {
        let mut rng = source_rng(7, "test", "data");
        let n = 20_000;
        let lognormal_mean = (0..n).map(|_| lognormal(&mut rng, 3.0, 0.9)).sum::<f64>() / n as f64;
        assert!((lognormal_mean - 3.0).abs() < 0.15, "{lognormal_mean}");
        let small = (0..n).map(|_| poisson(&mut rng, 4.0) as f64).sum::<f64>() / n as f64;
        assert!((small - 4.0).abs() < 0.1, "{small}");
        let large = (0..n).map(|_| poisson(&mut rng, 90.0) as f64).sum::<f64>() / n as f64;
        assert!((large - 90.0).abs() < 0.5, "{large}");
    }
}
