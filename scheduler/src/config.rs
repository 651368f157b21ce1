//! The jobs file (`config/jobs.toml`): what runs when.
//!
//! ```toml
//! [scheduler]
//! max_concurrent = 2            # jobs running at once in one process
//! shutdown_grace_seconds = 30   # how long a stopping process lets running jobs finish
//! misfire_seconds = 60          # a run started this late is still "on time"
//!
//! [[job]]
//! name = "load_callbacks_ace"
//! schedule = "0 15 * * * *"     # sec min hour day-of-month month day-of-week [year]
//! timezone = "Europe/Helsinki"  # the default
//! run = { load = ["callbacks_ace"] }
//! retries = 3                   # attempts after the first
//! backoff_seconds = 30          # 30 s, 60 s, 120 s ... up to max_backoff_seconds
//! max_backoff_seconds = 600
//! timeout_seconds = 1800        # per attempt
//! catch_up = "run_once"         # run_once | run_each | skip
//! working_days_only = false     # Finnish working days (no weekends, no public holidays)
//!
//! [[job]]
//! name = "compute_tiles"
//! run = { compute = true }
//! after = ["load_callbacks_ace"] # runs when one of these succeeds, if its inputs changed
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::schedule::JobSchedule;

/// The parsed jobs file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobsFile {
    /// Settings of the scheduler itself.
    #[serde(default)]
    pub scheduler: SchedulerSettings,
    /// The jobs, in file order.
    #[serde(default, rename = "job")]
    pub jobs: Vec<JobConfig>,
}

/// Settings of the scheduler process.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SchedulerSettings {
    /// Jobs running at once in one process.
    pub max_concurrent: usize,
    /// On SIGTERM/Ctrl-C, how long running jobs may take to finish before they are
    /// abandoned (a load abandoned mid-way commits nothing).
    pub shutdown_grace_seconds: u64,
    /// A scheduled time less than this many seconds in the past is run as on time; an older
    /// one was missed (the process was down) and the job's `catch_up` policy decides.
    pub misfire_seconds: u64,
}

impl Default for SchedulerSettings {
    fn default() -> Self {
        Self {
            max_concurrent: 2,
            shutdown_grace_seconds: 30,
            misfire_seconds: 60,
        }
    }
}

/// One job as written in the file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobConfig {
    /// Unique name (letters, digits, `_`, `-`): used in the history and lease paths.
    pub name: String,
    /// Cron expression with a seconds field; optional for a job that has `after`.
    #[serde(default)]
    pub schedule: Option<String>,
    /// IANA time zone the schedule is read in.
    #[serde(default = "default_timezone")]
    pub timezone: String,
    /// What the job does.
    pub run: JobAction,
    /// Jobs whose success triggers this one.
    #[serde(default)]
    pub after: Vec<String>,
    /// Attempts after the first failed one.
    #[serde(default = "default_retries")]
    pub retries: u32,
    /// Wait before the first retry; doubles with each further retry.
    #[serde(default = "default_backoff")]
    pub backoff_seconds: u64,
    /// The longest wait between retries.
    #[serde(default = "default_max_backoff")]
    pub max_backoff_seconds: u64,
    /// Longest time one attempt may take.
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u64,
    /// What to do with scheduled times missed while no scheduler was running.
    #[serde(default)]
    pub catch_up: CatchUp,
    /// Fire only on Finnish working days (Monday–Friday, not a public holiday).
    #[serde(default)]
    pub working_days_only: bool,
}

fn default_timezone() -> String {
    "Europe/Helsinki".into()
}
fn default_retries() -> u32 {
    2
}
fn default_backoff() -> u64 {
    30
}
fn default_max_backoff() -> u64 {
    600
}
fn default_timeout() -> u64 {
    1800
}

/// What a job does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobAction {
    /// Sources to fetch and load, in order.
    #[serde(default)]
    pub load: Vec<String>,
    /// Compute every tile and publish a snapshot.
    #[serde(default)]
    pub compute: bool,
}

/// The policy for scheduled times missed while no scheduler was running.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CatchUp {
    /// Run the latest missed time once; record the earlier ones as missed.
    #[default]
    RunOnce,
    /// Run every missed time, oldest first.
    RunEach,
    /// Run none of them; record each as missed and wait for the next time.
    Skip,
}

/// A job ready to run: the config with its schedule parsed.
#[derive(Debug, Clone)]
pub struct Job {
    /// As written.
    pub config: JobConfig,
    /// The parsed schedule, when it has one.
    pub schedule: Option<JobSchedule>,
}

impl Job {
    /// The job's name.
    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// Whether it computes tiles.
    pub fn is_compute(&self) -> bool {
        self.config.run.compute
    }
}

/// The jobs, checked: names unique, schedules parse, `after` refers to jobs, no cycles,
/// loaded sources exist.
#[derive(Debug, Clone)]
pub struct Jobs {
    /// Scheduler settings.
    pub settings: SchedulerSettings,
    /// Jobs in file order.
    pub jobs: Vec<Job>,
}

impl Jobs {
    /// Reads and checks a jobs file; `sources` are the source names the project knows.
    pub fn load(path: &Path, sources: &[String]) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text, &path.display().to_string(), sources)
    }

    /// Parses and checks jobs-file text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str, sources: &[String]) -> Result<Self> {
        let file: JobsFile = toml::from_str(text).map_err(|source| Error::Parse {
            path: origin.to_string(),
            source,
        })?;
        let mut problems = Vec::new();
        let mut names = BTreeSet::new();
        let mut jobs = Vec::new();
        for c in &file.jobs {
            let n = &c.name;
            if n.is_empty()
                || !n
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == '-')
            {
                problems.push(format!(
                    "job `{n}`: a name is letters, digits, `_` and `-` only"
                ));
            }
            if !names.insert(n.clone()) {
                problems.push(format!("job `{n}` is defined twice"));
            }
            let tz: Option<Tz> = match c.timezone.parse() {
                Ok(tz) => Some(tz),
                Err(_) => {
                    problems.push(format!(
                        "job `{n}`: `{}` is not an IANA time zone",
                        c.timezone
                    ));
                    None
                }
            };
            match (c.run.load.is_empty(), c.run.compute) {
                (true, false) => problems.push(format!(
                    "job `{n}`: `run` needs `load = [\"source\", ...]` or `compute = true`"
                )),
                (false, true) => problems.push(format!(
                    "job `{n}`: `run` is either `load` or `compute`, not both"
                )),
                _ => {}
            }
            for s in &c.run.load {
                if !sources.contains(s) {
                    problems.push(format!(
                        "job `{n}` loads `{s}`, which is no source (sources: {})",
                        sources.join(", ")
                    ));
                }
            }
            if c.schedule.is_none() && c.after.is_empty() {
                problems.push(format!(
                    "job `{n}` has neither a `schedule` nor `after`: it would never run"
                ));
            }
            if c.timeout_seconds == 0 {
                problems.push(format!("job `{n}`: `timeout_seconds` must be positive"));
            }
            let schedule = match (&c.schedule, tz) {
                (Some(expr), Some(tz)) => {
                    match JobSchedule::new(n, expr, tz, c.working_days_only) {
                        Ok(s) => Some(s),
                        Err(e) => {
                            problems.push(e.to_string());
                            None
                        }
                    }
                }
                _ => None,
            };
            jobs.push(Job {
                config: c.clone(),
                schedule,
            });
        }
        for c in &file.jobs {
            for a in &c.after {
                if !names.contains(a) {
                    problems.push(format!("job `{}`: `after` names no job `{a}`", c.name));
                }
            }
        }
        if problems.is_empty()
            && let Some(cycle) = find_cycle(&file.jobs)
        {
            problems.push(format!("jobs depend on each other in a cycle: {cycle}"));
        }
        if file.scheduler.max_concurrent == 0 {
            problems.push("[scheduler] max_concurrent must be at least 1".into());
        }
        if !problems.is_empty() {
            return Err(Error::Invalid {
                path: origin.to_string(),
                problems,
            });
        }
        Ok(Self {
            settings: file.scheduler,
            jobs,
        })
    }

    /// A job by name.
    pub fn get(&self, name: &str) -> Result<&Job> {
        self.jobs
            .iter()
            .find(|j| j.name() == name)
            .ok_or_else(|| Error::UnknownJob {
                job: name.to_string(),
                known: self
                    .jobs
                    .iter()
                    .map(|j| j.name())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// Jobs that name `upstream` in their `after`.
    pub fn dependents(&self, upstream: &str) -> Vec<&Job> {
        self.jobs
            .iter()
            .filter(|j| j.config.after.iter().any(|a| a == upstream))
            .collect()
    }

    /// The sources a compute job reads: those loaded by its `after` jobs, transitively; every
    /// loaded source when it has no load upstream.
    pub fn inputs_of(&self, job: &Job) -> Vec<String> {
        let mut out = BTreeSet::new();
        let mut stack: Vec<&str> = job.config.after.iter().map(String::as_str).collect();
        let mut seen = BTreeSet::new();
        while let Some(n) = stack.pop() {
            if !seen.insert(n) {
                continue;
            }
            if let Ok(j) = self.get(n) {
                out.extend(j.config.run.load.iter().cloned());
                stack.extend(j.config.after.iter().map(String::as_str));
            }
        }
        if out.is_empty() {
            out.extend(
                self.jobs
                    .iter()
                    .flat_map(|j| j.config.run.load.iter().cloned()),
            );
        }
        out.into_iter().collect()
    }
}

fn find_cycle(jobs: &[JobConfig]) -> Option<String> {
    let edges: BTreeMap<&str, Vec<&str>> = jobs
        .iter()
        .map(|j| {
            (
                j.name.as_str(),
                j.after.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    fn visit<'a>(
        n: &'a str,
        edges: &BTreeMap<&'a str, Vec<&'a str>>,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) -> Option<String> {
        if let Some(i) = path.iter().position(|p| *p == n) {
            let mut c = path[i..].to_vec();
            c.push(n);
            return Some(c.join(" → "));
        }
        if done.contains(n) {
            return None;
        }
        path.push(n);
        for m in edges.get(n).into_iter().flatten() {
            if let Some(c) = visit(m, edges, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(n);
        None
    }
    let mut done = BTreeSet::new();
    for n in edges.keys() {
        if let Some(c) = visit(n, &edges, &mut Vec::new(), &mut done) {
            return Some(c);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sources() -> Vec<String> {
        vec!["a".into(), "b".into()]
    }

    #[test]
    fn the_shipped_jobs_file_parses() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/jobs.toml");
        let text = std::fs::read_to_string(path).unwrap();
        let file: JobsFile = toml::from_str(&text).unwrap();
        assert!(file.jobs.iter().any(|j| j.run.compute));
    }

    #[test]
    fn every_problem_is_reported_with_the_job_name() {
        let text = r#"
            [[job]]
            name = "x"
            schedule = "nonsense"
            run = { load = ["nope"] }
            [[job]]
            name = "y"
            run = { compute = true }
            after = ["z"]
        "#;
        let e = Jobs::parse(text, "jobs.toml", &sources())
            .unwrap_err()
            .to_string();
        assert!(e.contains("job `x`: schedule `nonsense`"), "{e}");
        assert!(e.contains("job `x` loads `nope`"), "{e}");
        assert!(e.contains("job `y`: `after` names no job `z`"), "{e}");
    }

    #[test]
    fn cycles_are_refused() {
        let text = r#"
            [[job]]
            name = "x"
            run = { compute = true }
            after = ["y"]
            [[job]]
            name = "y"
            run = { compute = true }
            after = ["x"]
        "#;
        let e = Jobs::parse(text, "jobs.toml", &sources())
            .unwrap_err()
            .to_string();
        assert!(e.contains("cycle"), "{e}");
    }

    #[test]
    fn compute_inputs_follow_after() {
        let text = r#"
            [[job]]
            name = "la"
            schedule = "0 0 * * * *"
            run = { load = ["a"] }
            [[job]]
            name = "c"
            run = { compute = true }
            after = ["la"]
        "#;
        let jobs = Jobs::parse(text, "jobs.toml", &sources()).unwrap();
        assert_eq!(
            jobs.inputs_of(jobs.get("c").unwrap()),
            vec!["a".to_string()]
        );
        assert_eq!(jobs.get("la").unwrap().config.catch_up, CatchUp::RunOnce);
    }
}
