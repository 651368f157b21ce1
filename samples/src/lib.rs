//! Deterministic sample exports of a wellbeing services county, in the source systems' own layouts.
//!
//! The generator writes what Kanta-Häme's source systems would hand to the pipeline (about
//! 170 000 residents at `scale = 1.0`): phone call-back records from two contact-centre
//! platforms, chat sessions from two chat systems, NPS survey responses, Sotkanet population
//! figures and the county's own service-housing register, rescue and EMS task exports, and
//! monthly primary-care visit counts. Every file uses its system's real quirks: `;` or `,`,
//! decimal commas, `d.m.yyyy H:mm:ss` Helsinki wall-clock times, epoch floats, ISO-8601 UTC,
//! UTF-8 with or without BOM or Windows-1252, CRLF line endings, personal data the pipeline
//! must drop, and a small share of deliberately broken rows.
//!
//! Alongside the files, [`generate`] returns the [`Truth`]: every row as the generator meant
//! it, with instants in UTC and a `valid` flag on the rows it broke on purpose, so tests can
//! compute each KPI independently of the pipeline and compare.
//!
//! # Determinism
//!
//! Each source draws from its own [ChaCha8](rand_chacha::ChaCha8Rng) streams seeded from
//! [`SampleConfig::seed`] and the source name, so the same configuration gives byte-identical
//! files, and generating a subset of sources ([`generate_sources`]) gives the same bytes for
//! those sources as generating all of them. Which rows are broken is drawn from a separate
//! stream: changing [`SampleConfig::bad_row_rate`] changes only the broken values, not the data.
//!
//! # Calibration
//!
//! Volumes and rates follow the county's reported figures in the KPI catalogue: callbacks
//! ≈ 59 % of first-line contacts, chat response delay 4.2 → 1.5 min during 2024, nurse-chat
//! resolution ≈ 85 %, NPS 72.1 / 74.9 / 85.9 / 86.1 by quarter 2024, coverage of round-the-clock
//! service housing ≈ 7.14 % of residents 75+ at the end of 2024, rescue response-time
//! compliance 71 / 73 / 87 / 83 %, EMS non-conveyance of non-urgent tasks 46 / 47 / 54 / 41 %,
//! digital share of primary-care contacts ≈ 3.1–3.4 %; the OKR tracker at the interim report's
//! 2025 counts (5 goals, 210 key results, 717 tasks; 85 % of key results progressing at Q2).
//! Each family's module documents its model.
//!
//! # Time
//!
//! Real events happen at real instants. Files with local times show the Helsinki wall clock of
//! the instant. On the autumn DST change day a few events are planted in the repeated hour
//! 03:00–04:00; they always take the earlier of the two instants (the pipeline's policy), and no
//! event falls in the spring gap.
//!
//! ```no_run
//! use tilannekuva_samples::{SampleConfig, generate};
//! let cfg = SampleConfig { scale: 0.05, ..SampleConfig::default() };
//! let generated = generate(std::path::Path::new("/tmp/samples"), &cfg)?;
//! println!("{} files, {} contacts", generated.files.len(), generated.truth.contacts.len());
//! # Ok::<(), tilannekuva_samples::SampleError>(())
//! ```

mod calendar;
pub mod callbacks;
pub mod chat;
pub mod coverage;
pub mod ems;
pub mod feedback;
pub mod okr;
mod personal;
mod random;
pub mod rescue;
pub mod scale;
pub mod visits;
mod write;

use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, Utc};

pub use callbacks::{ContactTruth, Outcome};
pub use chat::ChatTruth;
pub use coverage::{CareClientTruth, SotkanetTruth};
pub use ems::EmsTruth;
pub use feedback::FeedbackTruth;
pub use okr::{KeyResultTruth, TaskTruth};
pub use rescue::RescueTruth;
pub use scale::{BENCH_SOURCES, BenchSize};
pub use visits::VisitTruth;

/// Every source the generator knows, in generation order. Each is also the name of the
/// sub-directory its files are written to.
pub const SOURCES: &[&str] = &[
    "callbacks_ace",
    "callbacks_genesys",
    "chat_ninchat",
    "chat_digisote",
    "nps_roidu",
    "sotkanet",
    "care_register",
    "rescue_pronto",
    "ems_tasks",
    "primary_care_visits",
    "okr_key_results",
    "okr_tasks",
];

/// What to generate.
#[derive(Clone, Debug, PartialEq)]
pub struct SampleConfig {
    /// Seed of every random stream; the same config always gives the same bytes.
    pub seed: u64,
    /// First day of the period (Helsinki local date).
    pub from: NaiveDate,
    /// Last day of the period, inclusive.
    pub to: NaiveDate,
    /// Multiplies row volumes; 1.0 is one county of ~170 000 residents. Small values (0.05)
    /// give a fast test data set in which every queue and unit is still present.
    pub scale: f64,
    /// Share of rows made deliberately invalid (exactly one broken value each), in `[0, 1)`.
    pub bad_row_rate: f64,
}

impl Default for SampleConfig {
    /// Seed 2024, 2024-01-01 ..= 2025-12-31, one county, one row in a thousand broken.
    fn default() -> Self {
        Self {
            seed: 2024,
            from: NaiveDate::from_ymd_opt(2024, 1, 1).expect("valid date"),
            to: NaiveDate::from_ymd_opt(2025, 12, 31).expect("valid date"),
            scale: 1.0,
            bad_row_rate: 0.001,
        }
    }
}

/// One file written by the generator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GeneratedFile {
    /// Source name, one of [`SOURCES`].
    pub source: String,
    /// Where the file was written.
    pub path: PathBuf,
    /// Data rows (JSON: array elements), not counting the header.
    pub rows: usize,
}

/// Everything [`generate`] wrote, plus the ground truth behind it.
#[derive(Clone, Debug, Default)]
pub struct Generated {
    /// Files in generation order: by source as in [`SOURCES`], then by month.
    pub files: Vec<GeneratedFile>,
    /// The rows as the generator intended them.
    pub truth: Truth,
}

/// The rows as the generator intended them, per metric family, in file order.
///
/// Instants are UTC. Records of rows broken on purpose carry `valid: false` and the values the
/// row would have had; exactly one value of such a row is broken in the file.
#[derive(Clone, Debug, Default)]
pub struct Truth {
    /// Phone contacts from `callbacks_ace` and `callbacks_genesys`.
    pub contacts: Vec<ContactTruth>,
    /// Chat sessions from `chat_ninchat` and `chat_digisote`.
    pub chats: Vec<ChatTruth>,
    /// Survey responses from `nps_roidu`.
    pub feedback: Vec<FeedbackTruth>,
    /// Indicator values from `sotkanet` (one record per JSON element; the CSV repeats them).
    pub sotkanet: Vec<SotkanetTruth>,
    /// Month-end client rows from `care_register`.
    pub care: Vec<CareClientTruth>,
    /// Rescue tasks from `rescue_pronto`.
    pub rescue: Vec<RescueTruth>,
    /// EMS tasks from `ems_tasks`.
    pub ems: Vec<EmsTruth>,
    /// Monthly visit counts from `primary_care_visits`.
    pub visits: Vec<VisitTruth>,
    /// Key result ratings from `okr_key_results`.
    pub key_results: Vec<KeyResultTruth>,
    /// Task states from `okr_tasks`.
    pub tasks: Vec<TaskTruth>,
}

/// Why generation failed.
#[derive(Debug, thiserror::Error)]
pub enum SampleError {
    /// A file or directory could not be written.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A JSON export could not be serialised.
    #[error("cannot write JSON to {path}: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: serde_json::Error,
    },
    /// A source name that is not in [`SOURCES`].
    #[error("unknown sample source {name:?}; known sources: {known}", known = SOURCES.join(", "))]
    UnknownSource {
        /// The name asked for.
        name: String,
    },
    /// A configuration value out of range.
    #[error("invalid sample config: {field} = {value}: {expected}")]
    InvalidConfig {
        /// The field of [`SampleConfig`].
        field: &'static str,
        /// Its value.
        value: String,
        /// What is allowed.
        expected: &'static str,
    },
}

/// Result with [`SampleError`].
pub type Result<T, E = SampleError> = std::result::Result<T, E>;

/// Writes every family's exports under `dir/<source>/` and returns what it wrote plus the
/// ground truth.
pub fn generate(dir: &Path, cfg: &SampleConfig) -> Result<Generated> {
    generate_sources(dir, cfg, SOURCES)
}

/// Writes only the named sources (see [`SOURCES`]), byte-identical to what [`generate`] writes
/// for them. Sources are generated in [`SOURCES`] order whatever the order of `sources`.
pub fn generate_sources(dir: &Path, cfg: &SampleConfig, sources: &[&str]) -> Result<Generated> {
    validate(cfg)?;
    if let Some(name) = sources.iter().find(|name| !SOURCES.contains(name)) {
        return Err(SampleError::UnknownSource {
            name: (*name).to_owned(),
        });
    }
    let ctx = Ctx { dir, cfg };
    let mut generated = Generated::default();
    for &source in SOURCES.iter().filter(|s| sources.contains(s)) {
        let truth = &mut generated.truth;
        let files = match source {
            callbacks::ACE => callbacks::generate_ace(&ctx, &mut truth.contacts)?,
            callbacks::GENESYS => callbacks::generate_genesys(&ctx, &mut truth.contacts)?,
            chat::NINCHAT => chat::generate_ninchat(&ctx, &mut truth.chats)?,
            chat::DIGISOTE => chat::generate_digisote(&ctx, &mut truth.chats)?,
            feedback::ROIDU => feedback::generate(&ctx, &mut truth.feedback)?,
            coverage::SOTKANET => coverage::generate_sotkanet(&ctx, &mut truth.sotkanet)?,
            coverage::CARE_REGISTER => coverage::generate_care(&ctx, &mut truth.care)?,
            rescue::PRONTO => rescue::generate(&ctx, &mut truth.rescue)?,
            ems::EMS => ems::generate(&ctx, &mut truth.ems)?,
            visits::VISITS => visits::generate(&ctx, &mut truth.visits)?,
            okr::KEY_RESULTS => okr::generate_key_results(&ctx, &mut truth.key_results)?,
            okr::TASKS => okr::generate_tasks(&ctx, &mut truth.tasks)?,
            other => unreachable!("source {other} listed in SOURCES but not dispatched"),
        };
        generated.files.extend(files);
    }
    Ok(generated)
}

fn validate(cfg: &SampleConfig) -> Result<()> {
    if cfg.from > cfg.to {
        return Err(SampleError::InvalidConfig {
            field: "to",
            value: cfg.to.to_string(),
            expected: "a date on or after `from`",
        });
    }
    if !(cfg.scale.is_finite() && cfg.scale > 0.0) {
        return Err(SampleError::InvalidConfig {
            field: "scale",
            value: cfg.scale.to_string(),
            expected: "a finite number above 0",
        });
    }
    if !(0.0..1.0).contains(&cfg.bad_row_rate) {
        return Err(SampleError::InvalidConfig {
            field: "bad_row_rate",
            value: cfg.bad_row_rate.to_string(),
            expected: "a share in [0, 1)",
        });
    }
    Ok(())
}

/// What every family generator needs: where to write and what was asked.
pub(crate) struct Ctx<'a> {
    dir: &'a Path,
    pub cfg: &'a SampleConfig,
}

impl Ctx<'_> {
    /// Creates and returns `dir/<source>/`.
    pub fn source_dir(&self, source: &str) -> Result<PathBuf> {
        let path = self.dir.join(source);
        std::fs::create_dir_all(&path).map_err(|e| SampleError::Io {
            path: path.clone(),
            source: e,
        })?;
        Ok(path)
    }

    /// Calendar months overlapping the period, in order.
    pub fn months(&self) -> Vec<calendar::Month> {
        calendar::months(self.cfg.from, self.cfg.to)
    }

    /// Days of `month` inside the period.
    pub fn days(&self, month: calendar::Month) -> impl Iterator<Item = NaiveDate> + use<> {
        let (from, to) = (self.cfg.from, self.cfg.to);
        month.days().filter(move |d| (from..=to).contains(d))
    }

    /// The moment the exports were taken: midnight after the last day, Helsinki time.
    /// Anything planned after it has not happened yet.
    pub fn snapshot(&self) -> DateTime<Utc> {
        calendar::local_instant(self.cfg.to + chrono::Days::new(1), 0, 0)
    }

    /// The data stream of a source.
    pub fn rng(&self, source: &str) -> random::SourceRng {
        random::source_rng(self.cfg.seed, source, "data")
    }

    /// The stream deciding which rows of a source are broken.
    pub fn faults(&self, source: &str) -> random::Faults {
        random::Faults::new(
            random::source_rng(self.cfg.seed, source, "faults"),
            self.cfg.bad_row_rate,
        )
    }

    /// Expected count scaled by [`SampleConfig::scale`].
    pub fn scaled(&self, expected: f64) -> f64 {
        expected * self.cfg.scale
    }
}

#[cfg(test)]
mod tests;
