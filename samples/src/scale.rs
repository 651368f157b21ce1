//! Benchmark sizes: the same realistic schemas and files at three volumes.
//!
//! | size | volume | period | what it stands for |
//! |---|---|---|---|
//! | [`BenchSize::County`] (1×) | `scale = 1` | 2024 | one county, one year |
//! | [`BenchSize::National`] (25×) | `scale = 25` | 2024 | a national year (about 25 counties' worth) |
//! | [`BenchSize::NationalFiveYears`] (125×) | `scale = 25` | 2020–2024 | national, five years |
//!
//! The multiplier is rows relative to one county-year. Only the volume and the period change:
//! the layouts, encodings, quirks and broken-row rate are those of [`SampleConfig::default`],
//! so a size is a plain [`SampleConfig`] and the generator stays as deterministic as ever.
//! [`BENCH_SOURCES`] are the sources benchmarks generate at every size: contacts, chats and
//! feedback, the families with row-level volumes.

use chrono::NaiveDate;

use crate::{SampleConfig, SampleError};

/// The sources benchmarks generate: phone contacts, chat sessions and feedback responses.
pub const BENCH_SOURCES: &[&str] = &[
    crate::callbacks::ACE,
    crate::callbacks::GENESYS,
    crate::chat::NINCHAT,
    crate::chat::DIGISOTE,
    crate::feedback::ROIDU,
];

/// One of the three benchmark volumes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BenchSize {
    /// 1×: one county, one year.
    County,
    /// 25×: a national year.
    National,
    /// 125×: national, five years.
    NationalFiveYears,
}

impl BenchSize {
    /// Every size, smallest first.
    pub const ALL: [BenchSize; 3] = [
        BenchSize::County,
        BenchSize::National,
        BenchSize::NationalFiveYears,
    ];

    /// Rows relative to one county-year: 1, 25 or 125.
    pub fn multiplier(self) -> u32 {
        match self {
            BenchSize::County => 1,
            BenchSize::National => 25,
            BenchSize::NationalFiveYears => 125,
        }
    }

    /// The size with that multiplier.
    pub fn from_multiplier(m: u32) -> Result<Self, SampleError> {
        Self::ALL
            .into_iter()
            .find(|s| s.multiplier() == m)
            .ok_or_else(|| SampleError::InvalidConfig {
                field: "multiplier",
                value: m.to_string(),
                expected: "1, 25 or 125",
            })
    }

    /// The generator configuration of this size, with `seed`.
    pub fn config(self, seed: u64) -> SampleConfig {
        let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).expect("valid date");
        let (scale, from) = match self {
            BenchSize::County => (1.0, day(2024, 1, 1)),
            BenchSize::National => (25.0, day(2024, 1, 1)),
            BenchSize::NationalFiveYears => (25.0, day(2020, 1, 1)),
        };
        SampleConfig {
            seed,
            from,
            to: day(2024, 12, 31),
            scale,
            ..SampleConfig::default()
        }
    }
}

impl std::fmt::Display for BenchSize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}×", self.multiplier())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_scale_rows_by_their_multiplier() {
        for size in BenchSize::ALL {
            let cfg = size.config(7);
            let years =
                f64::from(cfg.to.signed_duration_since(cfg.from).num_days() as i32 + 1) / 366.0;
            let rows = cfg.scale * years.round();
            assert_eq!(rows, f64::from(size.multiplier()), "{size}");
            assert_eq!(BenchSize::from_multiplier(size.multiplier()).unwrap(), size);
            assert_eq!(cfg.bad_row_rate, SampleConfig::default().bad_row_rate);
        }
        assert!(BenchSize::from_multiplier(2).is_err());
    }

    #[test]
    fn bench_sources_are_known_sources() {
        for s in BENCH_SOURCES {
            assert!(crate::SOURCES.contains(s), "{s}");
        }
    }
}
