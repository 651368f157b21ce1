//! Which alerts hold: the rules judged on what the pipeline reports.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::config::{AlertRule, Condition};
use crate::freshness::LateSource;
use crate::history::{RunOutcome, RunRecord};

/// The latest load of a source, as alerts see it.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadSignal {
    /// Source name.
    pub source: String,
    /// The export.
    pub file: String,
    /// When it loaded.
    pub loaded_at: DateTime<Utc>,
    /// Rows committed.
    pub rows: u64,
    /// Rows quarantined.
    pub rejects: u64,
}

/// A tile's latest figure, as alerts see it.
#[derive(Debug, Clone, PartialEq)]
pub struct TileSignal {
    /// Tile id.
    pub tile: String,
    /// Its Finnish title.
    pub title: String,
    /// The period of the figure.
    pub period: String,
    /// `green`, `yellow`, `red` or `grey`.
    pub status: String,
    /// Why it is grey, or how far from the target.
    pub reason: Option<String>,
}

/// What the alerts are judged on.
#[derive(Debug, Clone, Default)]
pub struct Observations {
    /// Recorded runs (any order; the latest per job counts).
    pub runs: Vec<RunRecord>,
    /// Late sources.
    pub late: Vec<LateSource>,
    /// The latest load of each source.
    pub loads: Vec<LoadSignal>,
    /// The latest figure of each published tile.
    pub tiles: Vec<TileSignal>,
}

/// An alert that holds now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Firing {
    /// The rule's name.
    pub rule: String,
    /// What it watches.
    pub condition: Condition,
    /// `condition/subject`, unique within the rule.
    pub key: String,
    /// One line.
    pub summary: String,
    /// What a reader needs to act.
    pub details: String,
}

fn listed(filter: &[String], name: &str) -> bool {
    filter.is_empty() || filter.iter().any(|f| f == name)
}

/// The alerts that hold in `observed` under `rules`.
pub fn firing(rules: &[AlertRule], observed: &Observations) -> Vec<Firing> {
    let mut latest: BTreeMap<&str, &RunRecord> = BTreeMap::new();
    for r in &observed.runs {
        if r.outcome == RunOutcome::Missed || r.outcome == RunOutcome::Skipped {
            continue;
        }
        let newer = latest
            .get(r.job.as_str())
            .is_none_or(|l| r.finished_at > l.finished_at);
        if newer {
            latest.insert(&r.job, r);
        }
    }
    let mut out = Vec::new();
    for rule in rules {
        let mut fire = |subject: &str, summary: String, details: String| {
            out.push(Firing {
                rule: rule.name.clone(),
                condition: rule.when,
                key: format!("{}/{subject}", rule.when.as_str()),
                summary,
                details,
            });
        };
        match rule.when {
            Condition::JobFailed => {
                for (job, run) in &latest {
                    if !listed(&rule.jobs, job)
                        || !matches!(run.outcome, RunOutcome::Failed | RunOutcome::TimedOut)
                    {
                        continue;
                    }
                    fire(
                        job,
                        format!(
                            "job {job} {} after {} attempt(s)",
                            run.outcome.as_str().replace('_', " "),
                            run.attempts
                        ),
                        format!(
                            "run for {} finished {}: {}",
                            run.scheduled_for.format("%Y-%m-%d %H:%M UTC"),
                            run.finished_at.format("%Y-%m-%d %H:%M UTC"),
                            run.error.as_deref().unwrap_or("no error text")
                        ),
                    );
                }
            }
            Condition::PersonalData => {
                for (job, run) in &latest {
                    if !listed(&rule.jobs, job) || run.work.personal_data.is_empty() {
                        continue;
                    }
                    fire(
                        job,
                        format!(
                            "personal data in {} export(s) of job {job}; not loaded",
                            run.work.personal_data.len()
                        ),
                        run.work.personal_data.join("\n"),
                    );
                }
            }
            Condition::SourceLate => {
                for late in &observed.late {
                    if !listed(&rule.sources, &late.source) {
                        continue;
                    }
                    let how = match (late.last_loaded_at, late.overdue_hours) {
                        (Some(at), Some(h)) => format!(
                            "last loaded {}, {h:.0} h later than every {} h",
                            at.format("%Y-%m-%d %H:%M UTC"),
                            late.expected_every_hours
                        ),
                        _ => format!(
                            "never loaded; expected every {} h",
                            late.expected_every_hours
                        ),
                    };
                    fire(&late.source, format!("source {} is late", late.source), how);
                }
            }
            Condition::RejectShare => {
                let above = rule.above.unwrap_or(1.0);
                for load in &observed.loads {
                    if !listed(&rule.sources, &load.source) || load.rejects == 0 {
                        continue;
                    }
                    let share = load.rejects as f64 / load.rows.max(1) as f64;
                    if share <= above {
                        continue;
                    }
                    fire(
                        &load.source,
                        format!(
                            "{:.1} % of the rows of {} quarantined (per row loaded)",
                            share * 100.0,
                            load.source
                        ),
                        format!(
                            "{} loaded {}: {} rows, {} quarantined (the rule allows {:.1} %); see `tilannekuva quarantine --source {}`",
                            load.file,
                            load.loaded_at.format("%Y-%m-%d %H:%M UTC"),
                            load.rows,
                            load.rejects,
                            above * 100.0,
                            load.source
                        ),
                    );
                }
            }
            Condition::TileStatus => {
                for t in &observed.tiles {
                    if !listed(&rule.tiles, &t.tile) || !rule.statuses.contains(&t.status) {
                        continue;
                    }
                    fire(
                        &t.tile,
                        format!("tile {} is {} for {}", t.tile, t.status, t.period),
                        format!(
                            "{} ({}), {}: {}",
                            t.title,
                            t.tile,
                            t.period,
                            t.reason.as_deref().unwrap_or("no reason given")
                        ),
                    );
                }
            }
        }
    }
    out
}
