//! The scheduler: decides what is due, runs it safely, records what happened.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use async_trait::async_trait;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use tilannekuva_warehouse::Warehouse;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::config::{CatchUp, Job, Jobs};
use crate::error::{Error, Result};
use crate::freshness::input_version;
use crate::history::{History, RunOutcome, RunRecord, Trigger, WorkDone};
use crate::lease::{Lease, Leases};

/// What actually loads and computes: the `tilannekuva` command implements it with its
/// pipelines and tile engine; tests with fakes.
///
/// Both operations must be atomic (all or nothing committed) and idempotent, because a run
/// may be retried, timed out, or abandoned at shutdown.
#[async_trait]
pub trait Runner: Send + Sync {
    /// Fetches and loads a source's new exports.
    async fn load(&self, source: &str) -> anyhow::Result<WorkDone>;
    /// Computes every tile and publishes a snapshot.
    async fn compute(&self) -> anyhow::Result<WorkDone>;
    /// Loads a source again for the reporting days `range`: by default as [`Runner::load`].
    async fn backfill_load(&self, source: &str, range: DayRange) -> anyhow::Result<WorkDone> {
        let _ = range;
        self.load(source).await
    }
    /// Publishes a snapshot with the tiles' periods in `range` recomputed: by default as
    /// [`Runner::compute`].
    async fn backfill_compute(&self, range: DayRange) -> anyhow::Result<WorkDone> {
        let _ = range;
        self.compute().await
    }
}

/// An inclusive range of reporting days (Helsinki dates), for backfills.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayRange {
    /// First day.
    pub from: NaiveDate,
    /// Last day.
    pub to: NaiveDate,
}

/// What became of a request to run a job.
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant)] // one per run; boxing the record buys nothing
pub enum RunResult {
    /// It ran (or was recorded as missed); the record is in the history.
    Recorded(RunRecord),
    /// Another process holds the job's lease: it is running there.
    Busy,
    /// That scheduled time is already in the history (another process ran it).
    AlreadyRecorded,
    /// The scheduler is stopping; nothing was started.
    Stopped,
}

/// The decision about one scheduled time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    /// The job.
    pub job: String,
    /// The scheduled time.
    pub scheduled_for: DateTime<Utc>,
    /// `Schedule` (on time), `CatchUp` (late, run anyway); `None`: record as missed.
    pub trigger: Option<Trigger>,
    /// Why, for missed times.
    pub note: Option<String>,
}

#[derive(Debug)]
struct InFlight {
    job: String,
    scheduled_for: DateTime<Utc>,
    lease: Lease,
}

/// Runs jobs on their schedules against one warehouse. Several schedulers (processes) may
/// share a warehouse: leases keep a job to one place at a time and the history keeps a
/// scheduled time to one run.
pub struct Scheduler {
    jobs: Jobs,
    runner: Arc<dyn Runner>,
    clock: Arc<dyn Clock>,
    warehouse: Warehouse,
    history: History,
    leases: Leases,
    semaphore: Semaphore,
    stop: CancellationToken,
    /// Process start: the baseline for jobs with no history yet.
    started_at: DateTime<Utc>,
    in_flight: Mutex<Vec<InFlight>>,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler")
            .field("holder", &self.leases.holder())
            .field("jobs", &self.jobs.jobs.len())
            .finish()
    }
}

impl Scheduler {
    /// A scheduler for `jobs` on `warehouse`. `holder` names this process in leases and
    /// records (a random id is fine).
    pub fn new(
        jobs: Jobs,
        runner: Arc<dyn Runner>,
        warehouse: Warehouse,
        clock: Arc<dyn Clock>,
        holder: impl Into<String>,
    ) -> Self {
        let started_at = clock.now();
        Self {
            semaphore: Semaphore::new(jobs.settings.max_concurrent),
            history: History::new(warehouse.clone()),
            leases: Leases::new(warehouse.clone(), holder),
            jobs,
            runner,
            clock,
            warehouse,
            stop: CancellationToken::new(),
            started_at,
            in_flight: Mutex::new(Vec::new()),
        }
    }

    /// The jobs.
    pub fn jobs(&self) -> &Jobs {
        &self.jobs
    }

    /// The run history.
    pub fn history(&self) -> &History {
        &self.history
    }

    /// Stops new work: no new run or retry starts after this.
    pub fn stop(&self) {
        self.stop.cancel();
    }

    /// Decides about every scheduled time up to the clock's now that is not yet in the
    /// history, by each job's catch-up policy.
    pub async fn plan(&self) -> Result<Vec<Planned>> {
        let now = self.clock.now();
        let last = self.history.last_scheduled().await?;
        let misfire = Duration::seconds(self.jobs.settings.misfire_seconds as i64);
        let mut out = Vec::new();
        for job in &self.jobs.jobs {
            let Some(schedule) = &job.schedule else {
                continue;
            };
            // After the job's last recorded time; a job never recorded starts with this
            // process, a time equal to the start included.
            let from = last
                .get(job.name())
                .copied()
                .unwrap_or(self.started_at - Duration::milliseconds(1));
            let due = schedule.due_between(from, now);
            let (missed, on_time): (Vec<_>, Vec<_>) =
                due.into_iter().partition(|t| now - *t > misfire);
            let name = job.name().to_string();
            let plan = |t: DateTime<Utc>, trigger: Option<Trigger>, note: Option<String>| Planned {
                job: name.clone(),
                scheduled_for: t,
                trigger,
                note,
            };
            let policy = job.config.catch_up;
            let last_missed = missed.last().copied();
            for &t in &missed {
                out.push(match policy {
                    CatchUp::RunEach => plan(t, Some(Trigger::CatchUp), None),
                    CatchUp::RunOnce if on_time.is_empty() && Some(t) == last_missed => {
                        plan(t, Some(Trigger::CatchUp), None)
                    }
                    CatchUp::RunOnce => plan(
                        t,
                        None,
                        Some("missed while no scheduler ran; catch_up = run_once ran a later time instead".into()),
                    ),
                    CatchUp::Skip => plan(
                        t,
                        None,
                        Some("missed while no scheduler ran; catch_up = skip".into()),
                    ),
                });
            }
            for t in on_time {
                out.push(plan(t, Some(Trigger::Schedule), None));
            }
        }
        out.sort_by(|a, b| (a.scheduled_for, &a.job).cmp(&(b.scheduled_for, &b.job)));
        Ok(out)
    }

    /// Runs everything due now: the plan's times in order, the jobs of one time
    /// concurrently (up to `max_concurrent`), then the jobs that come `after` those that
    /// succeeded. Returns what was recorded.
    pub async fn tick(&self) -> Result<Vec<RunRecord>> {
        let plan = self.plan().await?;
        let mut by_time: BTreeMap<DateTime<Utc>, Vec<Planned>> = BTreeMap::new();
        for p in plan {
            by_time.entry(p.scheduled_for).or_default().push(p);
        }
        let mut recorded = Vec::new();
        for (slot, planned) in by_time {
            if self.stop.is_cancelled() {
                break;
            }
            let mut runs = Vec::new();
            for p in planned {
                let job = self.jobs.get(&p.job)?;
                match p.trigger {
                    Some(trigger) => runs.push((job, trigger)),
                    None => {
                        if let RunResult::Recorded(r) =
                            self.record_missed(job, slot, p.note).await?
                        {
                            recorded.push(r);
                        }
                    }
                }
            }
            recorded.extend(self.run_wave(slot, runs).await?);
        }
        Ok(recorded)
    }

    /// Runs `runs` at `slot` concurrently, then their dependents, wave by wave.
    async fn run_wave(
        &self,
        slot: DateTime<Utc>,
        mut runs: Vec<(&Job, Trigger)>,
    ) -> Result<Vec<RunRecord>> {
        let mut recorded = Vec::new();
        let mut done = BTreeSet::new();
        while !runs.is_empty() {
            let results = futures::future::join_all(
                runs.iter()
                    .map(|(job, trigger)| self.run(job, slot, *trigger, None)),
            )
            .await;
            let mut next: Vec<(&Job, Trigger)> = Vec::new();
            for ((job, _), result) in runs.iter().zip(results) {
                done.insert(job.name().to_string());
                if let RunResult::Recorded(r) = result? {
                    if r.outcome == RunOutcome::Succeeded {
                        for d in self.jobs.dependents(job.name()) {
                            if !done.contains(d.name())
                                && !next.iter().any(|(n, _)| n.name() == d.name())
                            {
                                next.push((d, Trigger::After));
                            }
                        }
                    }
                    recorded.push(r);
                }
            }
            runs = next;
        }
        Ok(recorded)
    }

    async fn record_missed(
        &self,
        job: &Job,
        scheduled_for: DateTime<Utc>,
        note: Option<String>,
    ) -> Result<RunResult> {
        let r = RunRecord {
            job: job.name().to_string(),
            scheduled_for,
            trigger: Trigger::Schedule,
            started_at: None,
            finished_at: self.clock.now(),
            outcome: RunOutcome::Missed,
            attempts: 0,
            work: WorkDone::default(),
            input_version: None,
            error: None,
            note,
            holder: self.leases.holder().to_string(),
        };
        tracing::warn!(job = job.name(), %scheduled_for, "scheduled time missed; recorded, not run");
        Ok(if self.history.record(&r).await? {
            RunResult::Recorded(r)
        } else {
            RunResult::AlreadyRecorded
        })
    }

    /// Runs `job` for `scheduled_for` now, under its lease, with retries and timeout, and
    /// records the run. Manual and backfill runs skip the already-recorded check.
    pub async fn run(
        &self,
        job: &Job,
        scheduled_for: DateTime<Utc>,
        trigger: Trigger,
        note: Option<String>,
    ) -> Result<RunResult> {
        self.run_over(job, scheduled_for, trigger, note, None).await
    }

    /// [`Scheduler::run`], for the reporting days `range` only when it is given (a
    /// backfill).
    async fn run_over(
        &self,
        job: &Job,
        scheduled_for: DateTime<Utc>,
        trigger: Trigger,
        note: Option<String>,
        range: Option<DayRange>,
    ) -> Result<RunResult> {
        if self.stop.is_cancelled() {
            return Ok(RunResult::Stopped);
        }
        let _permit = tokio::select! {
            p = self.semaphore.acquire() => p.expect("the semaphore is never closed"),
            () = self.stop.cancelled() => return Ok(RunResult::Stopped),
        };
        let c = &job.config;
        let budget = c.timeout_seconds * u64::from(c.retries + 1)
            + c.max_backoff_seconds * u64::from(c.retries)
            + 300;
        let lease = match self
            .leases
            .acquire(
                job.name(),
                self.clock.now(),
                Duration::seconds(budget as i64),
            )
            .await?
        {
            Some(l) => l,
            None => {
                tracing::info!(job = job.name(), %scheduled_for, "job is running elsewhere; not starting it here");
                return Ok(RunResult::Busy);
            }
        };
        if matches!(
            trigger,
            Trigger::Schedule | Trigger::CatchUp | Trigger::After
        ) && self
            .history
            .is_recorded(job.name(), scheduled_for, trigger)
            .await?
        {
            self.leases.release(&lease).await?;
            return Ok(RunResult::AlreadyRecorded);
        }
        self.in_flight.lock().expect("lock").push(InFlight {
            job: job.name().to_string(),
            scheduled_for,
            lease: lease.clone(),
        });
        let record = self
            .attempts(job, scheduled_for, trigger, note, range)
            .await;
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                self.forget(&lease);
                self.leases.release(&lease).await?;
                return Err(e);
            }
        };
        let fresh = self.history.record(&record).await;
        self.forget(&lease);
        self.leases.release(&lease).await?;
        if fresh? {
            tracing::info!(job = job.name(), %scheduled_for, outcome = record.outcome.as_str(), "run recorded");
            Ok(RunResult::Recorded(record))
        } else {
            Ok(RunResult::AlreadyRecorded)
        }
    }

    fn forget(&self, lease: &Lease) {
        self.in_flight
            .lock()
            .expect("lock")
            .retain(|f| f.lease != *lease);
    }

    /// The attempts of one run.
    async fn attempts(
        &self,
        job: &Job,
        scheduled_for: DateTime<Utc>,
        trigger: Trigger,
        note: Option<String>,
        range: Option<DayRange>,
    ) -> Result<RunRecord> {
        let c = &job.config;
        let started_at = self.clock.now();
        let mut record = RunRecord {
            job: job.name().to_string(),
            scheduled_for,
            trigger,
            started_at: Some(started_at),
            finished_at: started_at,
            outcome: RunOutcome::Failed,
            attempts: 0,
            work: WorkDone::default(),
            input_version: None,
            error: None,
            note,
            holder: self.leases.holder().to_string(),
        };
        if job.is_compute() {
            let manifest = self
                .warehouse
                .manifest()
                .await
                .map_err(|source| Error::Warehouse {
                    job: job.name().to_string(),
                    scheduled_for,
                    source: Box::new(source),
                })?;
            let version = input_version(&manifest, &self.jobs.inputs_of(job));
            record.input_version = Some(version);
            let forced = matches!(trigger, Trigger::Manual | Trigger::Backfill);
            if !forced
                && let Some(prev) = self.history.last_success(job.name()).await?
                && prev.input_version == Some(version)
            {
                record.outcome = RunOutcome::Skipped;
                record.note = Some(format!(
                    "inputs unchanged since the run for {} (input version {version})",
                    prev.scheduled_for.format("%Y-%m-%d %H:%M:%S UTC")
                ));
                record.finished_at = self.clock.now();
                return Ok(record);
            }
        }
        let mut total = WorkDone::default();
        let timeout = StdDuration::from_secs(c.timeout_seconds);
        for attempt in 0..=c.retries {
            if attempt > 0 {
                let factor = 2u64.saturating_pow(attempt - 1);
                let wait = c
                    .backoff_seconds
                    .saturating_mul(factor)
                    .min(c.max_backoff_seconds);
                if self.stop.is_cancelled() {
                    record.error = Some(format!(
                        "{}; no retry: the scheduler is stopping",
                        record.error.take().unwrap_or_default()
                    ));
                    break;
                }
                tracing::warn!(job = job.name(), %scheduled_for, attempt, wait, "retrying after failure");
                let until = self.clock.now() + Duration::seconds(wait as i64);
                tokio::select! {
                    () = self.clock.sleep_until(until) => {}
                    () = self.stop.cancelled() => {
                        record.error = Some(format!(
                            "{}; no retry: the scheduler is stopping",
                            record.error.take().unwrap_or_default()
                        ));
                        break;
                    }
                }
            }
            record.attempts = attempt + 1;
            match tokio::time::timeout(timeout, self.work(job, range)).await {
                Ok(Ok(work)) => {
                    let failures = work.failures.clone();
                    total.add(WorkDone {
                        failures: Vec::new(),
                        ..work
                    });
                    if failures.is_empty() {
                        record.outcome = RunOutcome::Succeeded;
                        record.error = None;
                        break;
                    }
                    record.outcome = RunOutcome::Failed;
                    record.error = Some(failures.join("; "));
                }
                Ok(Err(e)) => {
                    record.outcome = RunOutcome::Failed;
                    record.error = Some(format!("{e:#}"));
                }
                Err(_) => {
                    record.outcome = RunOutcome::TimedOut;
                    record.error = Some(format!(
                        "attempt {} did not finish within {} s; nothing it did was committed",
                        attempt + 1,
                        c.timeout_seconds
                    ));
                }
            }
        }
        record.work = total;
        record.finished_at = self.clock.now();
        Ok(record)
    }

    async fn work(&self, job: &Job, range: Option<DayRange>) -> anyhow::Result<WorkDone> {
        if job.is_compute() {
            return match range {
                Some(r) => self.runner.backfill_compute(r).await,
                None => self.runner.compute().await,
            };
        }
        let mut total = WorkDone::default();
        for source in &job.config.run.load {
            let w = match range {
                Some(r) => self.runner.backfill_load(source, r).await,
                None => self.runner.load(source).await,
            };
            let w = w.map_err(|e| e.context(format!("loading source `{source}`")))?;
            total.add(w);
        }
        Ok(total)
    }

    /// Runs a job now, by hand (`tilannekuva run JOB`): no schedule, no skip for unchanged
    /// inputs, but the lease still applies.
    pub async fn run_now(&self, name: &str) -> Result<RunResult> {
        let job = self.jobs.get(name)?;
        self.run(job, self.clock.now(), Trigger::Manual, None).await
    }

    /// A backfill over the reporting days `from..=to` (Helsinki dates), recorded in the
    /// run history like any run (trigger `backfill`, the range in its note).
    ///
    /// - A load job backfills each of its sources ([`Runner::backfill_load`]): API sources
    ///   fetch that range again and replace what they hold for it; drop folders load what
    ///   is new.
    /// - A compute job publishes a snapshot recomputing the tiles' periods in the range
    ///   even when their inputs did not change ([`Runner::backfill_compute`]).
    pub async fn backfill(&self, name: &str, from: NaiveDate, to: NaiveDate) -> Result<RunResult> {
        let job = self.jobs.get(name)?;
        let note = format!("backfill {from} .. {to}");
        self.run_over(
            job,
            self.clock.now(),
            Trigger::Backfill,
            Some(note),
            Some(DayRange { from, to }),
        )
        .await
    }

    /// When the next scheduled time of any job comes, after the clock's now.
    pub fn next_due(&self) -> Option<DateTime<Utc>> {
        let now = self.clock.now();
        self.jobs
            .jobs
            .iter()
            .filter_map(|j| j.schedule.as_ref()?.next_after(now))
            .min()
    }

    /// Runs the scheduler until `shutdown` is cancelled: ticks, then sleeps until the next
    /// due time. On shutdown no new run or retry starts; running ones get
    /// `shutdown_grace_seconds` to finish, after which they are abandoned (their loads
    /// commit nothing), their leases released and their times left unrecorded, so that on
    /// restart the catch-up policy decides about them.
    pub async fn serve(&self, shutdown: CancellationToken) -> Result<()> {
        let grace = StdDuration::from_secs(self.jobs.settings.shutdown_grace_seconds);
        loop {
            if shutdown.is_cancelled() {
                break;
            }
            // Boxed, so that dropping it after the grace period cancels the runs in it.
            let mut tick = Box::pin(self.tick());
            let ticked = tokio::select! {
                r = &mut tick => Some(r),
                () = shutdown.cancelled() => None,
            };
            match ticked {
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    tracing::error!(error = %e, "scheduler tick failed; trying again at the next due time")
                }
                None => {
                    self.stop();
                    tracing::info!(
                        grace_seconds = grace.as_secs(),
                        "stopping: letting running jobs finish"
                    );
                    if tokio::time::timeout(grace, &mut tick).await.is_err() {
                        drop(tick);
                        self.abandon_in_flight().await;
                    }
                    break;
                }
            }
            let next = self.next_due();
            tracing::debug!(next = ?next, "sleeping until the next due time");
            let sleep = async {
                match next {
                    Some(t) => self.clock.sleep_until(t).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = sleep => {}
                () = shutdown.cancelled() => {}
            }
        }
        self.stop();
        Ok(())
    }

    async fn abandon_in_flight(&self) {
        let abandoned: Vec<InFlight> = std::mem::take(&mut *self.in_flight.lock().expect("lock"));
        for f in abandoned {
            tracing::warn!(job = %f.job, scheduled_for = %f.scheduled_for, "abandoned at shutdown; nothing committed, not recorded");
            if let Err(e) = self.leases.release(&f.lease).await {
                tracing::warn!(job = %f.job, error = %e, "could not release the lease; it expires by itself");
            }
        }
    }
}
