//! What the load ledger says about the inputs: which sources are late, and whether a
//! compute job's inputs moved.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use tilannekuva_warehouse::{Manifest, Warehouse};

/// A source whose last successful load is older than it is expected to be.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LateSource {
    /// Source name.
    pub source: String,
    /// When an export of it last loaded with rows; `None` when never.
    pub last_loaded_at: Option<DateTime<Utc>>,
    /// The source's `expected_every_hours`.
    pub expected_every_hours: f64,
    /// How late, in hours, beyond the expectation (`None` when it never loaded).
    pub overdue_hours: Option<f64>,
}

/// Sources late at `now`: for each source with an `expected_every_hours` (from its
/// `[load]` config section), the latest ledger entry of it is older than that, or there is
/// none.
pub fn late_sources_in(
    manifest: &Manifest,
    expected_every_hours: &BTreeMap<String, f64>,
    now: DateTime<Utc>,
) -> Vec<LateSource> {
    let mut out = Vec::new();
    for (source, &hours) in expected_every_hours {
        let last = manifest
            .loads
            .iter()
            .filter(|l| &l.source == source)
            .map(|l| l.loaded_at)
            .max();
        let limit = Duration::milliseconds((hours * 3_600_000.0) as i64);
        match last {
            Some(t) if now - t <= limit => {}
            Some(t) => out.push(LateSource {
                source: source.clone(),
                last_loaded_at: Some(t),
                expected_every_hours: hours,
                overdue_hours: Some(((now - t) - limit).num_seconds() as f64 / 3600.0),
            }),
            None => out.push(LateSource {
                source: source.clone(),
                last_loaded_at: None,
                expected_every_hours: hours,
                overdue_hours: None,
            }),
        }
    }
    out
}

/// [`late_sources_in`] on the warehouse's current manifest: what the desktop calls.
pub async fn late_sources(
    warehouse: &Warehouse,
    expected_every_hours: &BTreeMap<String, f64>,
    now: DateTime<Utc>,
) -> tilannekuva_warehouse::Result<Vec<LateSource>> {
    Ok(late_sources_in(
        &warehouse.manifest().await?,
        expected_every_hours,
        now,
    ))
}

/// The input version of a compute job reading `sources`: the number of load-ledger entries
/// of those sources. The ledger only grows, and every load that commits rows appends
/// exactly one entry, so the number moves exactly when the job's inputs changed (a
/// redelivery that replaces earlier rows appends one too).
pub fn input_version(manifest: &Manifest, sources: &[String]) -> u64 {
    manifest
        .loads
        .iter()
        .filter(|l| sources.contains(&l.source))
        .count() as u64
}
