//! Scheduler behaviour with a fake clock and a fake runner on a temporary warehouse.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration as StdDuration;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use tilannekuva_warehouse::Warehouse;

use crate::*;

fn utc(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

/// Counts calls; fails the first `fail_first` loads; each load takes `delay`.
#[derive(Debug, Default)]
struct FakeRunner {
    loads: AtomicU32,
    computes: AtomicU32,
    fail_first: u32,
    delay: StdDuration,
}

#[async_trait]
impl Runner for FakeRunner {
    async fn load(&self, source: &str) -> anyhow::Result<WorkDone> {
        let n = self.loads.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(self.delay).await;
        if n < self.fail_first {
            anyhow::bail!("export server of {source} answered 503");
        }
        Ok(WorkDone {
            rows_loaded: 10,
            rows_rejected: 1,
            exports_loaded: 1,
            ..WorkDone::default()
        })
    }

    async fn compute(&self) -> anyhow::Result<WorkDone> {
        self.computes.fetch_add(1, Ordering::SeqCst);
        Ok(WorkDone {
            snapshot_id: Some("s".into()),
            ..WorkDone::default()
        })
    }
}

const JOBS: &str = r#"
    [scheduler]
    max_concurrent = 2
    misfire_seconds = 60

    [[job]]
    name = "load_a"
    schedule = "0 0 * * * *"
    run = { load = ["a"] }
    retries = 2
    backoff_seconds = 30
    max_backoff_seconds = 45
    timeout_seconds = 1
    catch_up = "CATCH_UP"

    [[job]]
    name = "compute"
    run = { compute = true }
    after = ["load_a"]
"#;

fn jobs(catch_up: &str) -> Jobs {
    Jobs::parse(
        &JOBS.replace("CATCH_UP", catch_up),
        "test",
        &["a".to_string()],
    )
    .unwrap()
}

struct Setup {
    _dir: tempfile::TempDir,
    wh: Warehouse,
    clock: Arc<FakeClock>,
    runner: Arc<FakeRunner>,
}

fn setup(start: &str, runner: FakeRunner) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    Setup {
        wh: Warehouse::open_local(dir.path()).unwrap(),
        _dir: dir,
        clock: Arc::new(FakeClock::new(utc(start))),
        runner: Arc::new(runner),
    }
}

impl Setup {
    fn scheduler(&self, catch_up: &str, holder: &str) -> Scheduler {
        Scheduler::new(
            jobs(catch_up),
            self.runner.clone(),
            self.wh.clone(),
            self.clock.clone(),
            holder,
        )
    }

    /// Makes the ledger move, as a real load would.
    async fn ledger_entry(&self, n: u32) {
        let record = tilannekuva_warehouse::LoadRecord {
            load_id: format!("l{n}"),
            source: "a".into(),
            sha256: format!("{n:064}"),
            original_name: "x.csv".into(),
            raw_path: "raw/x".into(),
            bytes: 1,
            fetched_at: self.clock.now(),
            loaded_at: self.clock.now(),
            rows: 1,
            rejects: 0,
            skipped: 0,
            periods: vec!["2025-03".into()],
            policy: "replace".into(),
            replaced: vec![],
            status: tilannekuva_warehouse::LoadStatus::Loaded,
            raw_removed_at: None,
            covers: None,
        };
        self.wh
            .commit("test load", |m| {
                m.loads.push(record.clone());
                Ok(())
            })
            .await
            .unwrap();
    }
}

fn outcomes(runs: &[RunRecord]) -> Vec<(String, String, &'static str)> {
    runs.iter()
        .map(|r| {
            (
                r.job.clone(),
                r.scheduled_for.format("%H:%M").to_string(),
                r.outcome.as_str(),
            )
        })
        .collect()
}

#[tokio::test]
async fn on_time_runs_then_its_dependents_and_nothing_twice() {
    let s = setup("2025-06-02T09:59:00Z", FakeRunner::default());
    let sched = s.scheduler("run_once", "p1");
    assert!(sched.tick().await.unwrap().is_empty());
    assert_eq!(sched.next_due(), Some(utc("2025-06-02T10:00:00Z")));
    s.ledger_entry(1).await;
    s.clock.set(utc("2025-06-02T10:00:05Z"));
    let runs = sched.tick().await.unwrap();
    assert_eq!(
        outcomes(&runs),
        [
            ("load_a".into(), "10:00".into(), "succeeded"),
            ("compute".into(), "10:00".into(), "succeeded"),
        ]
    );
    assert_eq!(runs[0].work.rows_loaded, 10);
    assert_eq!(runs[0].work.rows_rejected, 1);
    assert_eq!(runs[1].trigger, Trigger::After);
    // Ticking again at the same time does nothing: the history has the run.
    assert!(sched.tick().await.unwrap().is_empty());
    // The next hour: the load runs, but the ledger did not move, so the compute is skipped.
    s.clock.set(utc("2025-06-02T11:00:01Z"));
    let runs = sched.tick().await.unwrap();
    assert_eq!(
        outcomes(&runs),
        [
            ("load_a".into(), "11:00".into(), "succeeded"),
            ("compute".into(), "11:00".into(), "skipped"),
        ]
    );
    assert!(
        runs[1]
            .note
            .as_deref()
            .unwrap()
            .contains("inputs unchanged")
    );
    assert_eq!(s.runner.computes.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn two_schedulers_on_one_warehouse_run_a_job_once() {
    let s = setup(
        "2025-06-02T09:59:00Z",
        FakeRunner {
            delay: StdDuration::from_millis(300),
            ..FakeRunner::default()
        },
    );
    let a = s.scheduler("run_once", "process-a");
    let b = s.scheduler("run_once", "process-b");
    s.clock.set(utc("2025-06-02T10:00:00Z"));
    let (ra, rb) = tokio::join!(a.tick(), b.tick());
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert_eq!(s.runner.loads.load(Ordering::SeqCst), 1);
    let all = a.history().list(Some("load_a")).await.unwrap();
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(
        ra.iter().chain(&rb).filter(|r| r.job == "load_a").count(),
        1
    );
    // Whichever lost is not left thinking the time is undone.
    assert!(a.tick().await.unwrap().is_empty());
    assert!(b.tick().await.unwrap().is_empty());
}

#[tokio::test]
async fn failures_are_retried_with_exponential_backoff_up_to_the_maximum() {
    let s = setup(
        "2025-06-02T09:59:00Z",
        FakeRunner {
            fail_first: 2,
            ..FakeRunner::default()
        },
    );
    let sched = s.scheduler("run_once", "p");
    s.clock.set(utc("2025-06-02T10:00:00Z"));
    let runs = sched.tick().await.unwrap();
    assert_eq!(runs[0].outcome, RunOutcome::Succeeded);
    assert_eq!(runs[0].attempts, 3);
    let waits: Vec<i64> = s
        .clock
        .sleeps()
        .iter()
        .map(|(from, until)| (*until - *from).num_seconds())
        .collect();
    assert_eq!(waits, [30, 45], "30 s, then 60 s capped at 45 s");

    // Failing every attempt ends failed, with the error text and the job in the record.
    let s = setup(
        "2025-06-02T09:59:00Z",
        FakeRunner {
            fail_first: 99,
            ..FakeRunner::default()
        },
    );
    let sched = s.scheduler("run_once", "p");
    s.clock.set(utc("2025-06-02T10:00:00Z"));
    let runs = sched.tick().await.unwrap();
    assert_eq!(
        outcomes(&runs),
        [("load_a".into(), "10:00".into(), "failed")]
    );
    assert_eq!(runs[0].attempts, 3);
    let error = runs[0].error.as_deref().unwrap();
    assert!(
        error.contains("loading source `a`") && error.contains("503"),
        "{error}"
    );
}

#[tokio::test]
async fn an_attempt_past_its_timeout_is_timed_out() {
    let s = setup(
        "2025-06-02T09:59:00Z",
        FakeRunner {
            delay: StdDuration::from_millis(1500),
            ..FakeRunner::default()
        },
    );
    let mut jobs = jobs("run_once");
    jobs.jobs[0].config.retries = 0;
    let sched = Scheduler::new(jobs, s.runner.clone(), s.wh.clone(), s.clock.clone(), "p");
    s.clock.set(utc("2025-06-02T10:00:00Z"));
    let runs = sched.tick().await.unwrap();
    assert_eq!(
        outcomes(&runs),
        [("load_a".into(), "10:00".into(), "timed_out")]
    );
}

/// Runs a first tick at 10:00, then "restarts" at 13:30 (10:00 done, 11:00–13:00 missed).
async fn after_downtime(catch_up: &str) -> Vec<(String, String, &'static str)> {
    let s = setup("2025-06-02T09:59:00Z", FakeRunner::default());
    s.clock.set(utc("2025-06-02T10:00:00Z"));
    s.scheduler(catch_up, "before").tick().await.unwrap();
    s.clock.set(utc("2025-06-02T13:30:00Z"));
    let restarted = s.scheduler(catch_up, "after");
    let runs = restarted.tick().await.unwrap();
    // The history now accounts for every hour; a further tick does nothing.
    assert!(restarted.tick().await.unwrap().is_empty());
    outcomes(&runs)
        .into_iter()
        .filter(|(j, _, _)| j == "load_a")
        .collect()
}

#[tokio::test]
async fn catch_up_run_once_runs_the_latest_missed_time_and_records_the_others() {
    assert_eq!(
        after_downtime("run_once").await,
        [
            ("load_a".into(), "11:00".into(), "missed"),
            ("load_a".into(), "12:00".into(), "missed"),
            ("load_a".into(), "13:00".into(), "succeeded"),
        ]
    );
}

#[tokio::test]
async fn catch_up_run_each_runs_every_missed_time() {
    assert_eq!(
        after_downtime("run_each").await,
        [
            ("load_a".into(), "11:00".into(), "succeeded"),
            ("load_a".into(), "12:00".into(), "succeeded"),
            ("load_a".into(), "13:00".into(), "succeeded"),
        ]
    );
}

#[tokio::test]
async fn catch_up_skip_records_every_missed_time_and_runs_none() {
    assert_eq!(
        after_downtime("skip").await,
        [
            ("load_a".into(), "11:00".into(), "missed"),
            ("load_a".into(), "12:00".into(), "missed"),
            ("load_a".into(), "13:00".into(), "missed"),
        ]
    );
}

#[tokio::test]
async fn a_daily_0330_job_runs_once_on_each_2025_dst_day() {
    let text = r#"
        [[job]]
        name = "nightly"
        schedule = "0 30 3 * * *"
        run = { load = ["a"] }
    "#;
    for (start, end, expected) in [
        (
            "2025-03-29T20:00:00Z",
            "2025-03-30T21:00:00Z",
            "2025-03-30T01:00:00Z",
        ),
        (
            "2025-10-25T20:00:00Z",
            "2025-10-26T22:00:00Z",
            "2025-10-26T00:30:00Z",
        ),
    ] {
        let s = setup(start, FakeRunner::default());
        let jobs = Jobs::parse(text, "t", &["a".to_string()]).unwrap();
        let sched = Scheduler::new(jobs, s.runner.clone(), s.wh.clone(), s.clock.clone(), "p");
        // Walk the day in 10-minute steps, ticking like the serve loop would.
        let mut t = utc(start);
        let mut ran = Vec::new();
        while t <= utc(end) {
            s.clock.set(t);
            ran.extend(sched.tick().await.unwrap());
            t += Duration::minutes(10);
        }
        assert_eq!(ran.len(), 1, "{start}: {ran:?}");
        assert_eq!(ran[0].scheduled_for, utc(expected));
        assert_eq!(ran[0].outcome, RunOutcome::Succeeded);
    }
}

#[tokio::test]
async fn a_run_recorded_before_a_crash_is_not_repeated() {
    let s = setup("2025-06-02T09:59:00Z", FakeRunner::default());
    s.clock.set(utc("2025-06-02T10:00:00Z"));
    s.scheduler("run_each", "a").tick().await.unwrap();
    // A crash between "record written" and "lease released" leaves a live lease; the
    // recorded time is not run again by a new process.
    let leases = Leases::new(s.wh.clone(), "crashed");
    let held = leases
        .acquire("load_a", s.clock.now(), Duration::minutes(5))
        .await
        .unwrap();
    assert!(held.is_some());
    s.clock.set(utc("2025-06-02T10:30:00Z"));
    let runs = s.scheduler("run_each", "b").tick().await.unwrap();
    assert!(runs.is_empty(), "{runs:?}");
    assert_eq!(s.runner.loads.load(Ordering::SeqCst), 1);
    // At 11:00 the crashed process's lease is stale and is taken over.
    s.clock.set(utc("2025-06-02T11:00:00Z"));
    let runs = s.scheduler("run_each", "b").tick().await.unwrap();
    assert_eq!(
        outcomes(&runs)[0],
        ("load_a".into(), "11:00".into(), "succeeded")
    );
    assert_eq!(s.runner.loads.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_manual_run_is_recorded_apart_from_the_schedule() {
    let s = setup("2025-06-02T10:20:00Z", FakeRunner::default());
    let sched = s.scheduler("run_once", "p");
    let RunResult::Recorded(r) = sched.run_now("load_a").await.unwrap() else {
        panic!("not run")
    };
    assert_eq!(r.trigger, Trigger::Manual);
    assert!(r.path().ends_with("-manual.json"));
    // A manual compute runs even though no input changed.
    let RunResult::Recorded(c) = sched.run_now("compute").await.unwrap() else {
        panic!("not run")
    };
    assert_eq!(c.outcome, RunOutcome::Succeeded);
    let e = sched.run_now("nope").await.unwrap_err().to_string();
    assert!(e.contains("no job `nope`"), "{e}");
}

#[tokio::test]
async fn late_sources_are_those_loaded_longer_ago_than_expected() {
    let s = setup("2025-06-02T10:00:00Z", FakeRunner::default());
    s.ledger_entry(1).await;
    let expected = [("a".to_string(), 24.0), ("b".to_string(), 24.0)]
        .into_iter()
        .collect();
    let late = late_sources(&s.wh, &expected, utc("2025-06-02T20:00:00Z"))
        .await
        .unwrap();
    assert_eq!(late.len(), 1);
    assert_eq!(late[0].source, "b");
    assert_eq!(late[0].last_loaded_at, None);
    let late = late_sources(&s.wh, &expected, utc("2025-06-03T12:00:00Z"))
        .await
        .unwrap();
    assert_eq!(late.len(), 2);
    assert_eq!(late[0].overdue_hours, Some(2.0));
}

#[tokio::test]
async fn a_stopped_scheduler_starts_nothing() {
    let s = setup("2025-06-02T09:59:00Z", FakeRunner::default());
    let sched = s.scheduler("run_once", "p");
    sched.stop();
    s.clock.set(utc("2025-06-02T10:00:00Z"));
    assert!(sched.tick().await.unwrap().is_empty());
    assert_eq!(s.runner.loads.load(Ordering::SeqCst), 0);
    assert!(sched.history().list(None).await.unwrap().is_empty());
}
