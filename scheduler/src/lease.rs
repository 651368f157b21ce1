//! Leases: a job runs in at most one place at a time, across processes sharing a warehouse.
//!
//! A lease is an object created with a create-only put. Taking over a stale lease must
//! also be a single create-only put, or two processes that both saw it stale could both
//! "take it over" (delete + create is not atomic). So a job's leases are numbered
//! generations, `_scheduler/leases/<job>/<generation>.json`, holding the holder's id and
//! an expiry:
//!
//! - the current lease is the highest generation;
//! - it is free when it is released (a `<generation>.released` marker exists) or past its
//!   expiry; to take it, create generation + 1, and only one process can;
//! - the winner re-lists and gives up if an even higher generation exists (a process that
//!   listed long ago and lost the race to an earlier generation);
//! - release writes the marker; a process that overran its expiry and was taken over
//!   finds a newer generation and releases nothing it does not own.
//!
//! Old generations are deleted by the next winner, keeping the last few.

use bytes::Bytes;
use chrono::{DateTime, Duration, Utc};
use futures::TryStreamExt;
use object_store::path::Path as ObjectPath;
use serde::{Deserialize, Serialize};
use tilannekuva_warehouse::Warehouse;

use crate::error::{Error, Result};

/// Where the leases live in the warehouse.
pub const LEASES_PREFIX: &str = "_scheduler/leases";

/// Generations kept behind the current one.
const KEEP: u64 = 8;

/// The content of a lease object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseBody {
    /// The process holding it.
    pub holder: String,
    /// When it was taken.
    pub acquired_at: DateTime<Utc>,
    /// After this it may be taken over.
    pub expires_at: DateTime<Utc>,
}

/// A held lease; give it back with [`Leases::release`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The job.
    pub job: String,
    /// Its generation.
    pub generation: u64,
    /// Its content.
    pub body: LeaseBody,
}

/// The leases in one warehouse, as seen by one holder.
#[derive(Debug, Clone)]
pub struct Leases {
    warehouse: Warehouse,
    holder: String,
}

struct State {
    current: Option<u64>,
    released: bool,
}

impl Leases {
    /// Leases taken in the name of `holder`.
    pub fn new(warehouse: Warehouse, holder: impl Into<String>) -> Self {
        Self {
            warehouse,
            holder: holder.into(),
        }
    }

    /// The holder id.
    pub fn holder(&self) -> &str {
        &self.holder
    }

    fn err(&self, path: &str, reason: impl ToString) -> Error {
        Error::State {
            path: path.to_string(),
            reason: reason.to_string(),
        }
    }

    async fn state(&self, job: &str) -> Result<State> {
        let prefix = format!("{LEASES_PREFIX}/{job}");
        let metas: Vec<_> = self
            .warehouse
            .store()
            .list(Some(&ObjectPath::from(prefix.as_str())))
            .try_collect()
            .await
            .map_err(|e| self.err(&prefix, e))?;
        let mut current = None;
        let mut released = Vec::new();
        for m in metas {
            let name = m.location.filename().unwrap_or_default().to_string();
            if let Some(g) = name
                .strip_suffix(".json")
                .and_then(|g| g.parse::<u64>().ok())
            {
                current = current.max(Some(g));
            } else if let Some(g) = name
                .strip_suffix(".released")
                .and_then(|g| g.parse::<u64>().ok())
            {
                released.push(g);
            }
        }
        Ok(State {
            current,
            released: current.is_some_and(|c| released.contains(&c)),
        })
    }

    fn path(job: &str, generation: u64) -> String {
        format!("{LEASES_PREFIX}/{job}/{generation:012}.json")
    }

    /// Reads the current lease of `job`, if any was ever taken and it is not released.
    pub async fn current(&self, job: &str) -> Result<Option<Lease>> {
        let state = self.state(job).await?;
        let Some(generation) = state.current else {
            return Ok(None);
        };
        if state.released {
            return Ok(None);
        }
        let path = Self::path(job, generation);
        let bytes = self
            .warehouse
            .get(&path)
            .await
            .map_err(|e| self.err(&path, e))?;
        let body: LeaseBody = serde_json::from_slice(&bytes).map_err(|e| self.err(&path, e))?;
        Ok(Some(Lease {
            job: job.to_string(),
            generation,
            body,
        }))
    }

    /// Tries to take the lease of `job` until `now + ttl`; `None` when another holder has
    /// a live one.
    pub async fn acquire(
        &self,
        job: &str,
        now: DateTime<Utc>,
        ttl: Duration,
    ) -> Result<Option<Lease>> {
        let state = self.state(job).await?;
        if let Some(lease) = self.current(job).await?
            && lease.body.expires_at > now
        {
            tracing::debug!(job, holder = %lease.body.holder, expires = %lease.body.expires_at, "lease is held");
            return Ok(None);
        }
        let generation = state.current.map_or(1, |g| g + 1);
        let body = LeaseBody {
            holder: self.holder.clone(),
            acquired_at: now,
            expires_at: now + ttl,
        };
        let path = Self::path(job, generation);
        let bytes = Bytes::from(serde_json::to_vec(&body).expect("lease serialises"));
        let won = self
            .warehouse
            .put_new(&path, bytes)
            .await
            .map_err(|e| self.err(&path, e))?;
        if !won {
            return Ok(None);
        }
        // A higher generation means we raced from a stale listing and are not the holder.
        if self.state(job).await?.current != Some(generation) {
            self.mark_released(job, generation).await?;
            return Ok(None);
        }
        for old in generation.saturating_sub(KEEP * 2)..generation.saturating_sub(KEEP) {
            let _ = self.warehouse.delete(&Self::path(job, old)).await;
            let _ = self
                .warehouse
                .delete(&format!("{LEASES_PREFIX}/{job}/{old:012}.released"))
                .await;
        }
        Ok(Some(Lease {
            job: job.to_string(),
            generation,
            body,
        }))
    }

    async fn mark_released(&self, job: &str, generation: u64) -> Result<()> {
        let path = format!("{LEASES_PREFIX}/{job}/{generation:012}.released");
        self.warehouse
            .put_new(&path, Bytes::from(self.holder.clone()))
            .await
            .map_err(|e| self.err(&path, e))?;
        Ok(())
    }

    /// Gives a lease back so the job can run again at once.
    pub async fn release(&self, lease: &Lease) -> Result<()> {
        self.mark_released(&lease.job, lease.generation).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_holder_at_a_time_and_stale_leases_are_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let wh = Warehouse::open_local(dir.path()).unwrap();
        let a = Leases::new(wh.clone(), "a");
        let b = Leases::new(wh.clone(), "b");
        let t0: DateTime<Utc> = "2025-03-30T01:00:00Z".parse().unwrap();
        let ttl = Duration::minutes(10);
        let la = a.acquire("j", t0, ttl).await.unwrap().expect("free");
        assert!(b.acquire("j", t0, ttl).await.unwrap().is_none());
        // Past the expiry, b takes over; a's late release does not free b's lease.
        let lb = b
            .acquire("j", t0 + Duration::minutes(11), ttl)
            .await
            .unwrap()
            .expect("stale");
        a.release(&la).await.unwrap();
        assert!(
            a.acquire("j", t0 + Duration::minutes(12), ttl)
                .await
                .unwrap()
                .is_none()
        );
        b.release(&lb).await.unwrap();
        assert!(
            a.acquire("j", t0 + Duration::minutes(12), ttl)
                .await
                .unwrap()
                .is_some()
        );
    }

    #[tokio::test]
    async fn racing_acquirers_get_one_lease() {
        let dir = tempfile::tempdir().unwrap();
        let wh = Warehouse::open_local(dir.path()).unwrap();
        let now = Utc::now();
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let l = Leases::new(wh.clone(), format!("h{i}"));
                tokio::spawn(async move { l.acquire("j", now, Duration::minutes(5)).await })
            })
            .collect();
        let mut won = 0;
        for t in tasks {
            if t.await.unwrap().unwrap().is_some() {
                won += 1;
            }
        }
        assert_eq!(won, 1);
    }
}
