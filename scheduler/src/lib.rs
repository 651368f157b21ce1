//! The scheduler of Tilannekuva: load and compute jobs on cron schedules, safe to run in
//! several processes on one warehouse, with a run history that survives restarts.
//!
//! - [`config`]: the jobs file (`config/jobs.toml`): schedule, time zone, what to run,
//!   `after` dependencies, retries with exponential backoff, timeout, catch-up policy.
//! - [`schedule`]: cron expressions on local wall-clock time, with the DST rule below.
//! - [`lease`]: a job runs in one place at a time, across processes (create-only lease
//!   objects in the warehouse; stale ones are taken over).
//! - [`history`]: one create-only JSON object per finished run in the warehouse.
//! - [`freshness`]: late sources and the input version of compute jobs.
//! - [`alerts`]: rules over runs, lateness, rejects, tiles and personal data, sent once per
//!   condition to webhooks (generic, Teams, Slack) and SMTP, with a resolution message.
//! - [`Scheduler`]: plans what is due, runs it, records it; [`Scheduler::serve`] is the loop.
//!
//! # The DST rule
//!
//! Schedules are evaluated in the job's local time (Europe/Helsinki by default):
//!
//! - a local time that does not exist (spring forward, 03:00–04:00 skipped) runs **once, at
//!   the first instant after the gap** (04:00 EEST);
//! - a local time that happens twice (fall back, 03:00–04:00 repeated) runs **once, at the
//!   first occurrence** (EEST).
//!
//! So a job at 03:30 every day runs exactly once on 2025-03-30 (at 04:00 EEST = 01:00 UTC)
//! and once on 2025-10-26 (at 03:30 EEST = 00:30 UTC). The `cron` crate on its own would
//! skip the first day and run twice on the second; see [`schedule`].
//!
//! # What happens when
//!
//! Each time the clock reaches a job's next scheduled time, the scheduler takes the job's
//! lease, runs it (attempts with timeout, retries with backoff), writes the run record and
//! releases the lease. A scheduled time is recorded exactly once, whatever the outcome:
//! `succeeded`, `failed`, `timed_out`, `skipped` (a compute whose inputs did not change) or
//! `missed` (passed while no scheduler was running, and the catch-up policy chose not to run
//! it). Jobs with `after` run when one of those jobs succeeds, for the same scheduled time.
//!
//! After downtime, the history tells each job's last recorded scheduled time; the times
//! since then are due. Those older than `misfire_seconds` were missed and the job's
//! `catch_up` decides: `run_once` runs the latest and records the others as missed,
//! `run_each` runs them all, `skip` records them all as missed.

pub mod alerts;
pub mod clock;
pub mod config;
pub mod error;
pub mod freshness;
pub mod history;
pub mod lease;
pub mod schedule;
mod scheduler;
pub mod status;

pub use clock::{Clock, FakeClock, SystemClock};
pub use config::{CatchUp, Job, JobAction, JobConfig, Jobs, SchedulerSettings};
pub use error::{Error, Result};
pub use freshness::{LateSource, input_version, late_sources, late_sources_in};
pub use history::{History, RunOutcome, RunRecord, Trigger, WorkDone};
pub use lease::{Lease, Leases};
pub use schedule::JobSchedule;
pub use scheduler::{DayRange, Planned, RunResult, Runner, Scheduler};
pub use status::{BrokenSourceStatus, EngineStatus, PipelineStatus};

#[cfg(test)]
mod tests;
