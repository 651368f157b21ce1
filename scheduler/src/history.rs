//! The run history: one JSON object per finished run, in the warehouse.
//!
//! A run is recorded once, when it ends, at
//! `_scheduler/runs/<job>/<scheduled_for>[-<trigger>].json` with a create-only put. The
//! path is the run's identity: a scheduled time of a job can be recorded only once, by
//! whichever process wins the put, so a crash never duplicates a run and a record once
//! written is never rewritten. A run that dies before it ends leaves no record (and, being
//! an atomic load or publish, no data): on restart its time is seen as not yet done and the
//! job's catch-up policy decides about it.

use std::collections::BTreeMap;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use object_store::path::Path as ObjectPath;
use serde::{Deserialize, Serialize};
use tilannekuva_warehouse::Warehouse;

use crate::error::{Error, Result};

/// Where the history lives in the warehouse.
pub const RUNS_PREFIX: &str = "_scheduler/runs";

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunOutcome {
    /// The work was done.
    Succeeded,
    /// Every attempt failed (or some deliveries of a load failed).
    Failed,
    /// The run was not needed (a compute whose inputs had not changed).
    Skipped,
    /// The last attempt ran out of time; nothing it did was committed.
    TimedOut,
    /// The scheduled time passed while no scheduler was running and the catch-up policy
    /// decided not to run it.
    Missed,
}

impl RunOutcome {
    /// The word used in tables.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Skipped => "skipped",
            Self::TimedOut => "timed_out",
            Self::Missed => "missed",
        }
    }
}

/// Why a run happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// Its scheduled time came.
    Schedule,
    /// Its scheduled time was missed and the catch-up policy runs it late.
    CatchUp,
    /// A job in its `after` succeeded (`scheduled_for` is that job's).
    After,
    /// `tilannekuva run JOB`.
    Manual,
    /// `tilannekuva backfill JOB`.
    Backfill,
}

impl Trigger {
    /// The suffix of the record's object name: runs of a scheduled time share none, so a
    /// scheduled time is recorded at most once whether it ran on time, late or not at all.
    fn suffix(self) -> &'static str {
        match self {
            Self::Schedule | Self::CatchUp => "",
            Self::After => "-after",
            Self::Manual => "-manual",
            Self::Backfill => "-backfill",
        }
    }

    /// Whether it stands for one of the job's own scheduled times.
    pub fn is_scheduled(self) -> bool {
        matches!(self, Self::Schedule | Self::CatchUp)
    }
}

/// What one piece of work did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkDone {
    /// Rows committed.
    pub rows_loaded: u64,
    /// Rows quarantined.
    pub rows_rejected: u64,
    /// Exports loaded.
    pub exports_loaded: u64,
    /// Exports already in the ledger.
    pub exports_already_loaded: u64,
    /// Deliveries that failed while others loaded (a load job with any is `failed`; the
    /// run's record keeps them in `error`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<String>,
    /// The failures that refused an export for carrying personal data (also in
    /// `failures`), for the `personal_data` alerts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub personal_data: Vec<String>,
    /// The snapshot a compute published.
    #[serde(default)]
    pub snapshot_id: Option<String>,
}

impl WorkDone {
    pub(crate) fn add(&mut self, other: WorkDone) {
        self.rows_loaded += other.rows_loaded;
        self.rows_rejected += other.rows_rejected;
        self.exports_loaded += other.exports_loaded;
        self.exports_already_loaded += other.exports_already_loaded;
        self.failures.extend(other.failures);
        for p in other.personal_data {
            if !self.personal_data.contains(&p) {
                self.personal_data.push(p);
            }
        }
        if other.snapshot_id.is_some() {
            self.snapshot_id = other.snapshot_id;
        }
    }
}

/// One finished run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// The job.
    pub job: String,
    /// The time the run stands for (for manual runs: when it was asked for).
    pub scheduled_for: DateTime<Utc>,
    /// Why it ran.
    pub trigger: Trigger,
    /// When the first attempt started; none for a missed run.
    pub started_at: Option<DateTime<Utc>>,
    /// When it ended (for a missed run: when that was decided).
    pub finished_at: DateTime<Utc>,
    /// How it ended.
    pub outcome: RunOutcome,
    /// Attempts made.
    pub attempts: u32,
    /// What the run did: rows and exports loaded, the snapshot published.
    #[serde(flatten)]
    pub work: WorkDone,
    /// For a compute: the input version it saw (see [`crate::input_version`]).
    pub input_version: Option<u64>,
    /// Error text of the last failed attempt.
    pub error: Option<String>,
    /// Why it was skipped or missed, or what a backfill covered.
    pub note: Option<String>,
    /// The scheduler process that ran it.
    pub holder: String,
}

impl RunRecord {
    /// The object path of the record.
    pub fn path(&self) -> String {
        format!(
            "{RUNS_PREFIX}/{}/{}{}.json",
            self.job,
            self.scheduled_for.format("%Y%m%dT%H%M%S%3fZ"),
            self.trigger.suffix()
        )
    }
}

/// The history in one warehouse.
#[derive(Debug, Clone)]
pub struct History {
    warehouse: Warehouse,
}

impl History {
    /// The history of `warehouse`.
    pub fn new(warehouse: Warehouse) -> Self {
        Self { warehouse }
    }

    /// Records a finished run; `Ok(false)` when that run was already recorded (by another
    /// process, or before a crash), which leaves the first record untouched.
    pub async fn record(&self, run: &RunRecord) -> Result<bool> {
        let body = serde_json::to_vec_pretty(run).expect("run records serialise");
        self.warehouse
            .put_new(&run.path(), Bytes::from(body))
            .await
            .map_err(|source| Error::Warehouse {
                job: run.job.clone(),
                scheduled_for: run.scheduled_for,
                source: Box::new(source),
            })
    }

    /// Whether a run of `job` at `scheduled_for` by `trigger` is recorded.
    pub async fn is_recorded(
        &self,
        job: &str,
        scheduled_for: DateTime<Utc>,
        trigger: Trigger,
    ) -> Result<bool> {
        let probe = RunRecord {
            job: job.to_string(),
            scheduled_for,
            trigger,
            started_at: None,
            finished_at: scheduled_for,
            outcome: RunOutcome::Missed,
            attempts: 0,
            work: WorkDone::default(),
            input_version: None,
            error: None,
            note: None,
            holder: String::new(),
        };
        self.warehouse
            .exists(&ObjectPath::from(probe.path()))
            .await
            .map_err(|source| Error::Warehouse {
                job: job.to_string(),
                scheduled_for,
                source: Box::new(source),
            })
    }

    /// Every recorded run (of one job, or all), oldest scheduled time first.
    pub async fn list(&self, job: Option<&str>) -> Result<Vec<RunRecord>> {
        let prefix = match job {
            Some(j) => format!("{RUNS_PREFIX}/{j}"),
            None => RUNS_PREFIX.to_string(),
        };
        let store = self.warehouse.store();
        let metas: Vec<_> = store
            .list(Some(&ObjectPath::from(prefix.as_str())))
            .try_collect()
            .await
            .map_err(|e| Error::State {
                path: prefix.clone(),
                reason: e.to_string(),
            })?;
        let mut out = Vec::with_capacity(metas.len());
        for m in metas {
            let path = m.location.to_string();
            if !path.ends_with(".json") {
                continue;
            }
            let bytes = self.warehouse.get(&path).await.map_err(|e| Error::State {
                path: path.clone(),
                reason: e.to_string(),
            })?;
            let run: RunRecord = serde_json::from_slice(&bytes).map_err(|e| Error::State {
                path: path.clone(),
                reason: format!("not a run record: {e}"),
            })?;
            out.push(run);
        }
        out.sort_by(|a, b| {
            (a.scheduled_for, &a.job, a.finished_at).cmp(&(b.scheduled_for, &b.job, b.finished_at))
        });
        Ok(out)
    }

    /// The latest recorded scheduled time of each job (own schedule only: runs triggered
    /// by `after`, by hand or by a backfill do not count).
    pub async fn last_scheduled(&self) -> Result<BTreeMap<String, DateTime<Utc>>> {
        let mut out: BTreeMap<String, DateTime<Utc>> = BTreeMap::new();
        for r in self.list(None).await? {
            if r.trigger.is_scheduled() {
                let e = out.entry(r.job.clone()).or_insert(r.scheduled_for);
                *e = (*e).max(r.scheduled_for);
            }
        }
        Ok(out)
    }

    /// The latest successful run of `job`.
    pub async fn last_success(&self, job: &str) -> Result<Option<RunRecord>> {
        Ok(self
            .list(Some(job))
            .await?
            .into_iter()
            .filter(|r| r.outcome == RunOutcome::Succeeded)
            .max_by_key(|r| r.finished_at))
    }
}
