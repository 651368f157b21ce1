//! The alert settings: `[[alerts]]` rules, `[alert_channels.*]` and `[alerting]`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration as StdDuration;

use serde::{Deserialize, Serialize};

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

pub(super) fn default_statuses() -> Vec<String> {
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

    pub(super) fn backoff(&self, retry: u32) -> StdDuration {
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

/// The value of the environment variable `name`, or an error naming it.
pub(super) fn secret(name: &str) -> Result<String, String> {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => Ok(v),
        _ => Err(format!("the environment variable {name} is not set")),
    }
}
