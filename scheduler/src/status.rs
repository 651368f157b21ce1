//! What the scheduler says about the pipeline, as one typed value: the latest runs and the
//! sources that are late. `tilannekuva runs`, the desktop's `/api/v1/status` and the tiles'
//! `late` notices all read it.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tilannekuva_warehouse::Warehouse;

use crate::error::Result;
use crate::freshness::{LateSource, late_sources};
use crate::history::{History, RunRecord};

/// The pipeline's state as the scheduler reports it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PipelineStatus {
    /// Finished runs, newest scheduled time first.
    pub runs: Vec<RunRecord>,
    /// Sources not delivered within their expected interval.
    pub late_sources: Vec<LateSource>,
}

impl PipelineStatus {
    /// The status at `now`: at most `limit` runs (of `job`, or of every job) and the late
    /// sources, judged by each source's `expected_every_hours`.
    pub async fn read(
        warehouse: &Warehouse,
        job: Option<&str>,
        limit: usize,
        expected_every_hours: &BTreeMap<String, f64>,
        now: DateTime<Utc>,
    ) -> Result<Self> {
        let mut runs = History::new(warehouse.clone()).list(job).await?;
        runs.reverse();
        runs.truncate(limit);
        let late_sources = late_sources(warehouse, expected_every_hours, now)
            .await
            .map_err(|source| crate::Error::Status {
                source: Box::new(source),
            })?;
        Ok(Self { runs, late_sources })
    }

    /// The late-source entry of `source`, if it is late.
    pub fn late(&self, source: &str) -> Option<&LateSource> {
        self.late_sources.iter().find(|l| l.source == source)
    }
}
