//! Alerts: rules over what the pipeline reports, sent to webhooks (generic JSON, Microsoft
//! Teams, Slack) and e-mail before a director notices.
//!
//! Each rule watches one kind of condition ([`Condition`]); every job, source or tile it
//! holds for is one alert, with a key such as `job_failed/load_feedback`. An alert is sent
//! once when it starts to hold ("firing") and once when it stops ("resolved"), never again
//! in between, across restarts: the open alerts are kept in the warehouse
//! (`_scheduler/alerts/open.json`). Each sending is retried with exponential backoff and is
//! recorded with every attempt (`_scheduler/alerts/sent/`), shown by `tilannekuva runs`. An
//! alert none of whose channels took it stays unsent and is tried again at the next check.
//!
//! Secrets (webhook addresses, SMTP passwords) come from environment variables named in the
//! config, never from the config file.
//!
//! ```toml
//! [[alerts]]
//! name = "night loads"
//! when = "job_failed"            # job_failed, source_late, reject_share, tile_status, personal_data
//! jobs = ["load_feedback"]       # optional: only these (also `sources`, `tiles`)
//! send_to = ["ops_teams", "ops_mail"]
//!
//! [alert_channels.ops_teams]
//! kind = "teams"                 # webhook, teams, slack, smtp
//! url_env = "TILANNEKUVA_TEAMS_WEBHOOK"
//! ```

mod smtp;
mod state;
mod webhook;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tilannekuva_warehouse::Warehouse;

use crate::freshness::LateSource;
use crate::history::{RunOutcome, RunRecord};

pub use state::{Attempt, SentAlert, sent_alerts};

/// What a rule watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    /// A job's latest run failed or timed out after all its retries.
    JobFailed,
    /// A source has not delivered within its `expected_every_hours`.
    SourceLate,
    /// A source's latest load quarantined more than `above` rows per loaded row (a share,
    /// 0–1, counted as the source's `max_reject_share` counts it).
    RejectShare,
    /// A tile's latest figure has one of `statuses` (`red`, `grey`; default both).
    TileStatus,
    /// A load refused an export because it carries a henkilötunnus, phone number or e-mail
    /// address; holds until a run of the job loads without one.
    PersonalData,
}

impl Condition {
    /// The word in config and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::JobFailed => "job_failed",
            Self::SourceLate => "source_late",
            Self::RejectShare => "reject_share",
            Self::TileStatus => "tile_status",
            Self::PersonalData => "personal_data",
        }
    }
}

/// One `[[alerts]]` rule.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertRule {
    /// Name, shown in every message.
    pub name: String,
    /// What it watches.
    pub when: Condition,
    /// Only these jobs (`job_failed`, `personal_data`); empty: every job.
    #[serde(default)]
    pub jobs: Vec<String>,
    /// Only these sources (`source_late`, `reject_share`); empty: every source.
    #[serde(default)]
    pub sources: Vec<String>,
    /// Only these tiles (`tile_status`); empty: every tile.
    #[serde(default)]
    pub tiles: Vec<String>,
    /// `reject_share`: the share of rows (0–1) above which it holds.
    #[serde(default)]
    pub above: Option<f64>,
    /// `tile_status`: the statuses for which it holds.
    #[serde(default = "default_statuses")]
    pub statuses: Vec<String>,
    /// Names of `[alert_channels.*]` to send to.
    pub send_to: Vec<String>,
}

fn default_statuses() -> Vec<String> {
    vec!["red".into(), "grey".into()]
}

/// How an SMTP connection is secured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmtpSecurity {
    /// Plain connection upgraded with STARTTLS, which must succeed (port 587).
    #[default]
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No encryption: only for a relay on the same host or network.
    None,
}

/// One `[alert_channels.NAME]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ChannelConfig {
    /// An HTTP POST of the alert as JSON (see `docs/deploy.md` for the body).
    Webhook {
        /// Environment variable holding the URL.
        url_env: String,
    },
    /// A Microsoft Teams incoming webhook (a Workflows "when a webhook request is received"
    /// flow): an Adaptive Card message.
    Teams {
        /// Environment variable holding the URL.
        url_env: String,
    },
    /// A Slack incoming webhook.
    Slack {
        /// Environment variable holding the URL.
        url_env: String,
    },
    /// E-mail over SMTP.
    Smtp {
        /// The server's host name (also the name its certificate must carry).
        host: String,
        /// Port; default 587 (`starttls`), 465 (`tls`) or 25 (`none`).
        #[serde(default)]
        port: Option<u16>,
        /// How the connection is secured.
        #[serde(default)]
        security: SmtpSecurity,
        /// A PEM file of CA certificates to trust besides the system's (an internal CA).
        #[serde(default)]
        ca_file: Option<PathBuf>,
        /// Environment variable holding the user name, when the server wants one.
        #[serde(default)]
        username_env: Option<String>,
        /// Environment variable holding the password.
        #[serde(default)]
        password_env: Option<String>,
        /// Sender address.
        from: String,
        /// Recipients.
        to: Vec<String>,
    },
}

/// `[alerting]`: how often the rules are checked and how hard a message is tried.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertSettings {
    /// Seconds between checks of the rules (while `serve` runs).
    #[serde(default = "default_check_every")]
    pub check_every_seconds: f64,
    /// Attempts after the first, per channel.
    #[serde(default = "default_retries")]
    pub retries: u32,
    /// Wait before the first retry; doubled each time.
    #[serde(default = "default_backoff")]
    pub backoff_seconds: f64,
    /// The longest wait between attempts.
    #[serde(default = "default_max_backoff")]
    pub max_backoff_seconds: f64,
    /// The longest one attempt may take.
    #[serde(default = "default_timeout")]
    pub timeout_seconds: f64,
}

fn default_check_every() -> f64 {
    15.0
}
fn default_retries() -> u32 {
    3
}
fn default_backoff() -> f64 {
    5.0
}
fn default_max_backoff() -> f64 {
    300.0
}
fn default_timeout() -> f64 {
    20.0
}

impl Default for AlertSettings {
    fn default() -> Self {
        Self {
            check_every_seconds: default_check_every(),
            retries: default_retries(),
            backoff_seconds: default_backoff(),
            max_backoff_seconds: default_max_backoff(),
            timeout_seconds: default_timeout(),
        }
    }
}

impl AlertSettings {
    /// The time between checks of the rules.
    pub fn check_every(&self) -> StdDuration {
        StdDuration::from_secs_f64(self.check_every_seconds.max(0.1))
    }

    fn backoff(&self, retry: u32) -> StdDuration {
        let secs = self.backoff_seconds * 2f64.powi(retry.saturating_sub(1) as i32);
        StdDuration::from_secs_f64(secs.min(self.max_backoff_seconds).max(0.0))
    }
}

/// Every alert setting of a project.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AlertConfig {
    /// The rules.
    pub rules: Vec<AlertRule>,
    /// The channels, by name.
    pub channels: BTreeMap<String, ChannelConfig>,
    /// How often, retries and timeouts.
    pub settings: AlertSettings,
}

impl AlertConfig {
    /// The problems of the config, each naming the rule or channel and the key.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let mut names = BTreeSet::new();
        for r in &self.rules {
            let at = format!("[[alerts]] `{}`", r.name);
            if !names.insert(&r.name) {
                problems.push(format!("{at}: another rule has the same name"));
            }
            if r.send_to.is_empty() {
                problems.push(format!("{at}: `send_to` names no channel"));
            }
            for c in &r.send_to {
                if !self.channels.contains_key(c) {
                    let known: Vec<&String> = self.channels.keys().collect();
                    problems.push(format!(
                        "{at}: `send_to`: no [alert_channels.{c}]; channels are {known:?}"
                    ));
                }
            }
            match (r.when, r.above) {
                (Condition::RejectShare, None) => problems.push(format!(
                    "{at}: `reject_share` needs `above`, the share of rows (0–1)"
                )),
                (Condition::RejectShare, Some(a)) if !(0.0..1.0).contains(&a) => problems.push(
                    format!("{at}: `above` = {a} is not a share between 0 and 1"),
                ),
                (c, Some(_)) if c != Condition::RejectShare => problems.push(format!(
                    "{at}: `above` is for `reject_share`, not `{}`",
                    c.as_str()
                )),
                _ => {}
            }
            for s in &r.statuses {
                if !["red", "yellow", "green", "grey"].contains(&s.as_str()) {
                    problems.push(format!(
                        "{at}: `statuses`: `{s}` is not red, yellow, green or grey"
                    ));
                }
            }
        }
        for (name, c) in &self.channels {
            if let ChannelConfig::Smtp { to, from, .. } = c {
                if to.is_empty() {
                    problems.push(format!("[alert_channels.{name}]: `to` names no recipient"));
                }
                for address in to.iter().chain([from]) {
                    if address.parse::<lettre::Address>().is_err()
                        && address.parse::<lettre::message::Mailbox>().is_err()
                    {
                        problems.push(format!(
                            "[alert_channels.{name}]: `{address}` is not an e-mail address"
                        ));
                    }
                }
            }
        }
        problems
    }
}

impl AlertConfig {
    /// The channels' environment variables that are not set here, each with its channel.
    pub fn missing_secrets(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (name, c) in &self.channels {
            let vars: Vec<&String> = match c {
                ChannelConfig::Webhook { url_env }
                | ChannelConfig::Teams { url_env }
                | ChannelConfig::Slack { url_env } => vec![url_env],
                ChannelConfig::Smtp {
                    username_env,
                    password_env,
                    ..
                } => username_env.iter().chain(password_env).collect(),
            };
            for v in vars {
                if secret(v).is_err() {
                    out.push(format!(
                        "[alert_channels.{name}]: the environment variable {v} is not set; sending to it will fail"
                    ));
                }
            }
        }
        out
    }
}

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

/// Checks the rules and sends what started or stopped holding.
#[derive(Debug, Clone)]
pub struct Alerter {
    config: AlertConfig,
    warehouse: Warehouse,
    http: reqwest::Client,
}

/// Whether an alert started or stopped holding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertStatus {
    /// It holds now and did not before.
    Firing,
    /// It held and does no more.
    Resolved,
}

impl AlertStatus {
    /// The word in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Firing => "firing",
            Self::Resolved => "resolved",
        }
    }
}

/// One message to send: an alert and whether it starts or ends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notice {
    /// Firing or resolved.
    pub status: AlertStatus,
    /// The alert.
    #[serde(flatten)]
    pub alert: Firing,
    /// Since when it held.
    pub since: DateTime<Utc>,
    /// When this was decided.
    pub at: DateTime<Utc>,
}

impl Alerter {
    /// An alerter for `config`, keeping its state in `warehouse`.
    pub fn new(config: AlertConfig, warehouse: Warehouse) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        Self {
            config,
            warehouse,
            http: reqwest::Client::new(),
        }
    }

    /// Whether any rule is configured.
    pub fn is_empty(&self) -> bool {
        self.config.rules.is_empty()
    }

    /// Judges `observed` at `now`, sends a message for each alert that started or stopped
    /// holding (and each not yet sent), records them, and returns what was sent.
    pub async fn check(
        &self,
        observed: &Observations,
        now: DateTime<Utc>,
    ) -> crate::Result<Vec<SentAlert>> {
        let holding = firing(&self.config.rules, observed);
        let mut open = state::OpenAlerts::read(&self.warehouse).await?;
        let notices = open.update(holding, now);
        let mut sent = Vec::new();
        for notice in notices {
            let rule = self
                .config
                .rules
                .iter()
                .find(|r| r.name == notice.alert.rule);
            let channels = rule.map(|r| r.send_to.clone()).unwrap_or_default();
            let mut attempts = Vec::new();
            let mut delivered = false;
            for name in &channels {
                let Some(channel) = self.config.channels.get(name) else {
                    continue;
                };
                let ok = self.deliver(name, channel, &notice, &mut attempts).await;
                delivered |= ok;
            }
            if delivered || channels.is_empty() {
                open.delivered(&notice);
            }
            let record = SentAlert {
                notice,
                delivered,
                attempts,
            };
            state::record(&self.warehouse, &record).await?;
            sent.push(record);
        }
        open.write(&self.warehouse).await?;
        Ok(sent)
    }

    /// Tries one channel with retries and backoff; every attempt goes into `attempts`.
    async fn deliver(
        &self,
        name: &str,
        channel: &ChannelConfig,
        notice: &Notice,
        attempts: &mut Vec<Attempt>,
    ) -> bool {
        let d = &self.config.settings;
        for attempt in 0..=d.retries {
            if attempt > 0 {
                tokio::time::sleep(d.backoff(attempt)).await;
            }
            let at = Utc::now();
            let timeout = StdDuration::from_secs_f64(d.timeout_seconds.max(0.1));
            let result = match tokio::time::timeout(timeout, self.send(channel, notice)).await {
                Ok(r) => r,
                Err(_) => Err(format!("no answer within {} s", d.timeout_seconds)),
            };
            let ok = result.is_ok();
            if let Err(e) = &result {
                tracing::warn!(channel = name, attempt = attempt + 1, error = %e, "alert not delivered");
            }
            attempts.push(Attempt {
                channel: name.to_string(),
                at,
                error: result.err(),
            });
            if ok {
                return true;
            }
        }
        false
    }

    async fn send(&self, channel: &ChannelConfig, notice: &Notice) -> Result<(), String> {
        match channel {
            ChannelConfig::Webhook { url_env } => {
                webhook::post(&self.http, url_env, &webhook::generic(notice)).await
            }
            ChannelConfig::Teams { url_env } => {
                webhook::post(&self.http, url_env, &webhook::teams(notice)).await
            }
            ChannelConfig::Slack { url_env } => {
                webhook::post(&self.http, url_env, &webhook::slack(notice)).await
            }
            ChannelConfig::Smtp { .. } => smtp::send(channel, notice).await,
        }
    }
}

/// The value of the environment variable `name`, or an error naming it.
fn secret(name: &str) -> Result<String, String> {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => Ok(v),
        _ => Err(format!("the environment variable {name} is not set")),
    }
}

/// A notice's subject line, shared by every channel.
fn subject(notice: &Notice) -> String {
    let word = match notice.status {
        AlertStatus::Firing => "FIRING",
        AlertStatus::Resolved => "RESOLVED",
    };
    format!(
        "[Tilannekuva] {word}: {} ({})",
        notice.alert.summary, notice.alert.rule
    )
}

/// A notice's text, shared by every channel.
fn body(notice: &Notice) -> String {
    let when = match notice.status {
        AlertStatus::Firing => format!("Since {}.", notice.since.format("%Y-%m-%d %H:%M UTC")),
        AlertStatus::Resolved => format!(
            "Held from {} until {}.",
            notice.since.format("%Y-%m-%d %H:%M UTC"),
            notice.at.format("%Y-%m-%d %H:%M UTC")
        ),
    };
    format!(
        "{}\n\n{}\n\n{when}\nRule: {} ({}), alert {}",
        notice.alert.summary,
        notice.alert.details,
        notice.alert.rule,
        notice.alert.condition.as_str(),
        notice.alert.key
    )
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::history::{Trigger, WorkDone};

    fn at(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 2, h, 0, 0).unwrap()
    }

    fn run(job: &str, h: u32, outcome: RunOutcome) -> RunRecord {
        RunRecord {
            job: job.into(),
            scheduled_for: at(h),
            trigger: Trigger::Schedule,
            started_at: Some(at(h)),
            finished_at: at(h),
            outcome,
            attempts: 4,
            work: WorkDone::default(),
            input_version: None,
            error: Some("loading source `nps_roidu`: connection refused".into()),
            note: None,
            holder: "test".into(),
        }
    }

    fn rule(when: Condition) -> AlertRule {
        AlertRule {
            name: "r".into(),
            when,
            jobs: Vec::new(),
            sources: Vec::new(),
            tiles: Vec::new(),
            above: None,
            statuses: default_statuses(),
            send_to: vec!["hook".into()],
        }
    }

    fn keys(f: &[Firing]) -> Vec<&str> {
        f.iter().map(|f| f.key.as_str()).collect()
    }

    #[test]
    fn a_job_fails_while_its_latest_run_failed_skipped_runs_do_not_count() {
        let observed = Observations {
            runs: vec![
                run("load_feedback", 2, RunOutcome::Failed),
                run("load_feedback", 3, RunOutcome::Skipped),
                run("load_chat", 2, RunOutcome::Failed),
                run("load_chat", 3, RunOutcome::Succeeded),
                run("compute", 4, RunOutcome::TimedOut),
            ],
            ..Observations::default()
        };
        let all = firing(&[rule(Condition::JobFailed)], &observed);
        assert_eq!(
            keys(&all),
            ["job_failed/compute", "job_failed/load_feedback"]
        );
        assert!(
            all[1].summary.contains("failed after 4 attempt(s)"),
            "{all:?}"
        );
        assert!(all[1].details.contains("connection refused"));
        let only = AlertRule {
            jobs: vec!["load_chat".into(), "compute".into()],
            ..rule(Condition::JobFailed)
        };
        assert_eq!(keys(&firing(&[only], &observed)), ["job_failed/compute"]);
    }

    #[test]
    fn late_sources_rejects_and_tiles_by_their_filters() {
        let observed = Observations {
            late: vec![LateSource {
                source: "nps_roidu".into(),
                last_loaded_at: Some(at(1)),
                expected_every_hours: 26.0,
                overdue_hours: Some(30.0),
            }],
            loads: vec![
                LoadSignal {
                    source: "rescue_pronto".into(),
                    file: "a.csv".into(),
                    loaded_at: at(2),
                    rows: 100,
                    rejects: 6,
                },
                LoadSignal {
                    source: "ems_tasks".into(),
                    file: "b.csv".into(),
                    loaded_at: at(2),
                    rows: 100,
                    rejects: 5,
                },
            ],
            tiles: vec![
                TileSignal {
                    tile: "rescue_response".into(),
                    title: "Pelastustoimen toimintavalmius".into(),
                    period: "2026-Q1".into(),
                    status: "grey".into(),
                    reason: Some("rescue_pronto 2026-03 missing".into()),
                },
                TileSignal {
                    tile: "nps".into(),
                    title: "NPS".into(),
                    period: "2026-Q1".into(),
                    status: "yellow".into(),
                    reason: None,
                },
            ],
            ..Observations::default()
        };
        let late = firing(&[rule(Condition::SourceLate)], &observed);
        assert_eq!(keys(&late), ["source_late/nps_roidu"]);
        assert!(
            late[0].details.contains("30 h later than every 26 h"),
            "{late:?}"
        );
        let rejects = AlertRule {
            above: Some(0.05),
            ..rule(Condition::RejectShare)
        };
        let r = firing(&[rejects], &observed);
        assert_eq!(
            keys(&r),
            ["reject_share/rescue_pronto"],
            "5 % is not above 5 %"
        );
        assert!(r[0].summary.starts_with("6.0 %"), "{r:?}");
        let tiles = firing(&[rule(Condition::TileStatus)], &observed);
        assert_eq!(keys(&tiles), ["tile_status/rescue_response"]);
        assert!(tiles[0].details.contains("2026-03 missing"));
        let yellow = AlertRule {
            statuses: vec!["yellow".into()],
            ..rule(Condition::TileStatus)
        };
        assert_eq!(keys(&firing(&[yellow], &observed)), ["tile_status/nps"]);
    }

    fn alert(key: &str) -> Firing {
        Firing {
            rule: "r".into(),
            condition: Condition::JobFailed,
            key: key.into(),
            summary: key.into(),
            details: String::new(),
        }
    }

    #[test]
    fn an_alert_is_sent_once_until_it_clears_then_resolved_once() {
        let mut open = state::OpenAlerts::default();
        let first = open.update(vec![alert("a")], at(1));
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].status, AlertStatus::Firing);
        // Not delivered: tried again at the next check.
        let again = open.update(vec![alert("a")], at(2));
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].since, at(1), "it holds since the first check");
        open.delivered(&again[0]);
        assert!(open.update(vec![alert("a"), alert("b")], at(3)).len() == 1);
        let gone = open.update(vec![], at(4));
        let statuses: Vec<_> = gone
            .iter()
            .map(|n| (n.alert.key.as_str(), n.status))
            .collect();
        // `b` was never delivered: forgotten without a resolution.
        assert_eq!(statuses, [("a", AlertStatus::Resolved)]);
        assert_eq!(gone[0].since, at(1));
        assert_eq!(gone[0].at, at(4));
        // The resolution is retried until delivered, then nothing more.
        assert_eq!(open.update(vec![], at(5)).len(), 1);
        open.delivered(&gone[0]);
        assert!(open.update(vec![], at(6)).is_empty());
    }

    #[test]
    fn config_problems_name_the_rule_and_key() {
        let config = AlertConfig {
            rules: vec![
                AlertRule {
                    above: Some(1.5),
                    ..rule(Condition::RejectShare)
                },
                AlertRule {
                    name: "r".into(),
                    send_to: vec!["nowhere".into()],
                    ..rule(Condition::JobFailed)
                },
            ],
            channels: BTreeMap::from([(
                "hook".to_string(),
                ChannelConfig::Smtp {
                    host: "smtp.example.fi".into(),
                    port: None,
                    security: SmtpSecurity::Starttls,
                    ca_file: None,
                    username_env: None,
                    password_env: None,
                    from: "not an address".into(),
                    to: vec![],
                },
            )]),
            settings: AlertSettings::default(),
        };
        let p = config.problems().join("\n");
        for expected in [
            "`above` = 1.5 is not a share",
            "another rule has the same name",
            "no [alert_channels.nowhere]",
            "`to` names no recipient",
            "`not an address` is not an e-mail address",
        ] {
            assert!(p.contains(expected), "{expected}: {p}");
        }
    }
}
