//! What the scheduler says about the pipeline, as one typed value: the latest runs, the
//! sources that are late and the sources set aside for config problems. `tilannekuva runs`,
//! the desktop's `/api/v1/status` and the tiles' `late` and `source_config` notices all read
//! it.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tilannekuva_warehouse::Warehouse;

use crate::error::Result;
use crate::freshness::{LateSource, late_sources};
use crate::history::{History, RunOutcome, RunRecord};

/// The pipeline's state as the scheduler reports it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PipelineStatus {
    /// Finished runs, newest scheduled time first.
    pub runs: Vec<RunRecord>,
    /// Sources not delivered within their expected interval.
    pub late_sources: Vec<LateSource>,
    /// Sources not loaded because their config files have problems.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub broken_sources: Vec<BrokenSourceStatus>,
    /// The sources each job loads (none for a compute job), for showing a caller only the
    /// runs of the sources it may see.
    #[serde(skip)]
    pub sources_of_job: BTreeMap<String, Vec<String>>,
    /// Every recorded run counted by job and outcome (the history only grows, so these are
    /// counters), for the metrics.
    #[serde(skip)]
    pub run_totals: BTreeMap<(String, RunOutcome), u64>,
    /// The latest run of each job that ran (not skipped or missed), for the alerts.
    #[serde(skip)]
    pub latest_runs: Vec<RunRecord>,
    /// Where the tiles are computed and whether it could take queries when last asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub engine: Option<EngineStatus>,
}

/// Where tile SQL runs (this process, or a cluster's scheduler) and whether it could take
/// queries when last asked.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EngineStatus {
    /// The engine: `local`, `Ballista at df://host:50050`.
    pub engine: String,
    /// Whether it answered.
    pub reachable: bool,
    /// Why not, when it did not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
    /// When it was asked.
    pub checked_at: DateTime<Utc>,
}

/// A source set aside because its config file has problems: its exports are not loaded
/// until the file is fixed, while every other source goes on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BrokenSourceStatus {
    /// The source's name (the file's stem when the file cannot be read).
    pub source: String,
    /// The config file.
    pub file: String,
    /// The table it fills, when the file says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
    /// Every problem, each naming the file and the key.
    pub problems: Vec<String>,
}

impl PipelineStatus {
    /// The status at `now`: at most `limit` runs (of `job`, or of every job) and the late
    /// sources, judged by each source's `expected_every_hours`.
    pub async fn read(
        warehouse: &Warehouse,
        job: Option<&str>,
        limit: usize,
        expected_every_hours: &BTreeMap<String, f64>,
        now: DateTime<Utc>,
    ) -> Result<Self> {
        let mut runs = History::new(warehouse.clone()).list(job).await?;
        let mut run_totals = BTreeMap::new();
        let mut latest: BTreeMap<&str, &RunRecord> = BTreeMap::new();
        for r in &runs {
            *run_totals.entry((r.job.clone(), r.outcome)).or_insert(0) += 1;
            if !matches!(r.outcome, RunOutcome::Skipped | RunOutcome::Missed)
                && latest
                    .get(r.job.as_str())
                    .is_none_or(|l| r.finished_at >= l.finished_at)
            {
                latest.insert(&r.job, r);
            }
        }
        let latest_runs = latest.into_values().cloned().collect();
        runs.reverse();
        runs.truncate(limit);
        let late_sources = late_sources(warehouse, expected_every_hours, now)
            .await
            .map_err(|source| crate::Error::Status {
                source: Box::new(source),
            })?;
        Ok(Self {
            runs,
            late_sources,
            broken_sources: Vec::new(),
            sources_of_job: BTreeMap::new(),
            run_totals,
            latest_runs,
            engine: None,
        })
    }

    /// The same status with the engine's health.
    pub fn with_engine(mut self, engine: EngineStatus) -> Self {
        self.engine = Some(engine);
        self
    }

    /// The same status with the sources set aside for config problems.
    pub fn with_broken(mut self, broken: Vec<BrokenSourceStatus>) -> Self {
        self.broken_sources = broken;
        self
    }

    /// The same status with each job's sources, from the jobs file.
    pub fn with_jobs(mut self, jobs: &crate::Jobs) -> Self {
        self.sources_of_job = jobs
            .jobs
            .iter()
            .map(|j| (j.name().to_string(), j.config.run.load.clone()))
            .collect();
        self
    }

    /// What a caller who may see only the sources for which `visible` says yes is shown:
    /// their late sources, and the runs of jobs loading any of them or loading nothing (a
    /// compute). Runs of a job not in the jobs file are left out.
    pub fn visible(&self, visible: impl Fn(&str) -> bool) -> Self {
        let job_visible = |job: &str| {
            self.sources_of_job
                .get(job)
                .is_some_and(|s| s.is_empty() || s.iter().any(|x| visible(x)))
        };
        Self {
            runs: self
                .runs
                .iter()
                .filter(|r| job_visible(&r.job))
                .cloned()
                .collect(),
            late_sources: self
                .late_sources
                .iter()
                .filter(|l| visible(&l.source))
                .cloned()
                .collect(),
            broken_sources: self
                .broken_sources
                .iter()
                .filter(|b| visible(&b.source))
                .cloned()
                .collect(),
            sources_of_job: self.sources_of_job.clone(),
            run_totals: self
                .run_totals
                .iter()
                .filter(|((job, _), _)| job_visible(job))
                .map(|(k, v)| (k.clone(), *v))
                .collect(),
            latest_runs: self
                .latest_runs
                .iter()
                .filter(|r| job_visible(&r.job))
                .cloned()
                .collect(),
            engine: self.engine.clone(),
        }
    }

    /// The late-source entry of `source`, if it is late.
    pub fn late(&self, source: &str) -> Option<&LateSource> {
        self.late_sources.iter().find(|l| l.source == source)
    }
}
