//! The alerts open now, and the record of every message sent, in the warehouse.

use std::collections::BTreeMap;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use object_store::path::Path as ObjectPath;
use serde::{Deserialize, Serialize};
use tilannekuva_warehouse::Warehouse;

use super::{AlertStatus, Firing, Notice};
use crate::error::{Error, Result};

/// The open alerts: rewritten after every check.
const OPEN: &str = "_scheduler/alerts/open.json";
/// One create-only object per message sent.
const SENT_PREFIX: &str = "_scheduler/alerts/sent";

fn state_error(path: &str, e: impl std::fmt::Display) -> Error {
    Error::State {
        path: path.to_string(),
        reason: e.to_string(),
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct OpenAlert {
    alert: Firing,
    since: DateTime<Utc>,
    /// Whether its "firing" message reached a channel.
    announced: bool,
}

/// The alerts that held at the last check, by rule and key.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(super) struct OpenAlerts {
    open: BTreeMap<String, OpenAlert>,
}

fn id(alert: &Firing) -> String {
    format!("{}\u{1f}{}", alert.rule, alert.key)
}

impl OpenAlerts {
    pub(super) async fn read(wh: &Warehouse) -> Result<Self> {
        if !wh
            .exists(&ObjectPath::from(OPEN))
            .await
            .map_err(|e| state_error(OPEN, e))?
        {
            return Ok(Self::default());
        }
        let bytes = wh.get(OPEN).await.map_err(|e| state_error(OPEN, e))?;
        serde_json::from_slice(&bytes).map_err(|e| state_error(OPEN, e))
    }

    pub(super) async fn write(&self, wh: &Warehouse) -> Result<()> {
        let body = serde_json::to_vec_pretty(self).expect("open alerts serialise");
        wh.put(OPEN, Bytes::from(body))
            .await
            .map_err(|e| state_error(OPEN, e))
    }

    /// Takes the alerts holding at `now`; returns the messages due: "firing" for each alert
    /// that is new or not yet announced, "resolved" for each announced one that no longer
    /// holds. One never announced that stops holding is forgotten without a message.
    pub(super) fn update(&mut self, holding: Vec<Firing>, now: DateTime<Utc>) -> Vec<Notice> {
        let mut notices = Vec::new();
        let mut still = BTreeMap::new();
        for alert in holding {
            let key = id(&alert);
            let open = match self.open.remove(&key) {
                Some(mut o) => {
                    o.alert = alert;
                    o
                }
                None => OpenAlert {
                    alert,
                    since: now,
                    announced: false,
                },
            };
            if !open.announced {
                notices.push(Notice {
                    status: AlertStatus::Firing,
                    alert: open.alert.clone(),
                    since: open.since,
                    at: now,
                });
            }
            still.insert(key, open);
        }
        for (key, o) in std::mem::take(&mut self.open) {
            if o.announced {
                notices.push(Notice {
                    status: AlertStatus::Resolved,
                    alert: o.alert.clone(),
                    since: o.since,
                    at: now,
                });
                // Kept until the resolution is delivered.
                still.insert(key, o);
            }
        }
        self.open = still;
        notices
    }

    /// A message reached a channel: a firing alert is announced, a resolved one closed.
    pub(super) fn delivered(&mut self, notice: &Notice) {
        let key = id(&notice.alert);
        match notice.status {
            AlertStatus::Firing => {
                if let Some(o) = self.open.get_mut(&key) {
                    o.announced = true;
                }
            }
            AlertStatus::Resolved => {
                self.open.remove(&key);
            }
        }
    }
}

/// One attempt to deliver a message to a channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    /// The channel's name.
    pub channel: String,
    /// When it was made.
    pub at: DateTime<Utc>,
    /// Why it failed; `None` when the channel took the message.
    pub error: Option<String>,
}

/// A message sent (or tried), with every attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SentAlert {
    /// What was sent.
    #[serde(flatten)]
    pub notice: Notice,
    /// Whether any channel took it.
    pub delivered: bool,
    /// Every attempt on every channel, in order.
    pub attempts: Vec<Attempt>,
}

/// Records a message; its object name sorts by time.
pub(super) async fn record(wh: &Warehouse, sent: &SentAlert) -> Result<()> {
    let path = format!(
        "{SENT_PREFIX}/{}-{}.json",
        sent.notice.at.format("%Y%m%dT%H%M%S%6fZ"),
        uuid::Uuid::new_v4().simple()
    );
    let body = serde_json::to_vec_pretty(sent).expect("sent alerts serialise");
    wh.put_new(&path, Bytes::from(body))
        .await
        .map_err(|e| state_error(&path, e))?;
    Ok(())
}

/// Every message sent, oldest first.
pub async fn sent_alerts(wh: &Warehouse) -> Result<Vec<SentAlert>> {
    let metas: Vec<_> = wh
        .store()
        .list(Some(&ObjectPath::from(SENT_PREFIX)))
        .try_collect()
        .await
        .map_err(|e| state_error(SENT_PREFIX, e))?;
    let mut out = Vec::with_capacity(metas.len());
    for m in metas {
        let path = m.location.to_string();
        let bytes = wh.get(&path).await.map_err(|e| state_error(&path, e))?;
        out.push(serde_json::from_slice::<SentAlert>(&bytes).map_err(|e| state_error(&path, e))?);
    }
    out.sort_by_key(|s| s.notice.at);
    Ok(out)
}
