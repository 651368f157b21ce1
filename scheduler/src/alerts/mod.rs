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

mod config;
mod rules;
mod smtp;
mod state;
mod webhook;

use std::time::Duration as StdDuration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tilannekuva_warehouse::Warehouse;

use config::secret;
pub use config::{AlertConfig, AlertRule, AlertSettings, ChannelConfig, Condition, SmtpSecurity};
pub use rules::{Firing, LoadSignal, Observations, TileSignal, firing};
pub use state::{Attempt, SentAlert, sent_alerts};

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
mod tests;
