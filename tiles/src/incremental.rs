//! Incremental publishing: recompute only the periods whose input files changed.
//!
//! Every snapshot keeps, beside its `tiles.json`, the rows each tile's SQL returned per grain
//! and period (`raw.json`) and a fingerprint of the live files of every table per month. The
//! next publish compares fingerprints: for a tile marked `incremental = true` whose definition
//! is unchanged, only the periods (of each grain) that contain a changed month are recomputed,
//! over just the files of those periods; the rows of every other period are taken from the
//! previous snapshot. Everything derived from the rows — status, targets, previous period,
//! completeness, in progress, freshness — is derived again for every period, so a figure
//! published incrementally is the figure a full computation gives.
//!
//! The contract an incremental tile keeps: each row's period is the period of the table's
//! `period_column` (the month a row is filed under), and every table it reads is one whose
//! changes can be seen (the engine finds the tables from the query plan, not from `inputs`).
//! When a recomputation returns a period outside the ones recomputed, the contract is broken
//! for that data: the engine says so and computes the tile in full.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::logical_expr::LogicalPlan;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tilannekuva_warehouse::Manifest;

use crate::Grain;
use crate::compute::QueryRow;
use crate::definition::TileDef;

/// Version of the `raw.json` layout and of how rows are computed; a different one is not
/// reused.
pub const FORMAT: u32 = 1;

/// What a snapshot remembers for the next incremental publish (its `raw.json`): the rows
/// each tile's SQL returned, and what the input files were when they were computed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReusableRows {
    /// [`FORMAT`] when written.
    pub format: u32,
    /// Version of the engine that computed the rows (the Finnish functions live in code).
    pub engine: String,
    /// Fingerprint of the live files per table and month.
    pub inputs: BTreeMap<String, BTreeMap<String, String>>,
    /// Latest event time per table.
    #[serde(default)]
    pub ends: BTreeMap<String, DateTime<Utc>>,
    /// Rows per tile.
    pub tiles: BTreeMap<String, CachedTile>,
}

/// A tile's rows as its SQL returned them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CachedTile {
    /// Definition version the rows were computed with.
    pub version: String,
    /// Tables the query reads.
    pub reads: Vec<String>,
    /// What `reads` was found from: a digest of the definition and of every table's name
    /// and schema. While it is the same, the next publish takes `reads` from here instead
    /// of planning the query again.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub planned: String,
    /// Rows per grain.
    pub rows: BTreeMap<Grain, Vec<QueryRow>>,
}

impl ReusableRows {
    /// Whether rows in this cache may be reused by this engine.
    pub fn usable(&self) -> bool {
        self.format == FORMAT && self.engine == engine_version()
    }
}

/// How a publish computes one tile, decided by [`decide`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recompute {
    /// Over all of its data, for the reason given.
    Full(String),
    /// Only the periods containing these months (`YYYY-MM`); the rest are reused.
    Periods(BTreeSet<String>),
    /// Nothing: every period's rows are reused.
    Reuse,
}

impl Recompute {
    /// This decision with the periods of `forced` months recomputed too: a full
    /// computation stays full, reusing everything becomes recomputing those periods.
    pub fn forcing(self, forced: &BTreeSet<String>) -> Recompute {
        match self {
            _ if forced.is_empty() => self,
            Recompute::Full(why) => Recompute::Full(why),
            Recompute::Periods(mut months) => {
                months.extend(forced.iter().cloned());
                Recompute::Periods(months)
            }
            Recompute::Reuse => Recompute::Periods(forced.clone()),
        }
    }
}

/// How to compute `tile`, which reads the tables `reads`, given the rows the previous
/// snapshot kept and the files live now; `version` is what the rows are computed with
/// (the definition's version and that of any reference table read). A tile that is not
/// incremental is computed in full, or reused when none of the files it reads changed.
pub fn decide(
    tile: &TileDef,
    version: &str,
    reads: &[String],
    previous: Option<&ReusableRows>,
    fingerprints: &BTreeMap<String, BTreeMap<String, String>>,
    ends: &BTreeMap<String, DateTime<Utc>>,
) -> Recompute {
    let cached = previous.and_then(|p| p.tiles.get(&tile.meta.id));
    match (previous, cached) {
        (None, _) if !tile.meta.incremental => Recompute::Full("not incremental".into()),
        (None, _) => Recompute::Full("no earlier rows to reuse".into()),
        (Some(_), None) => Recompute::Full("new tile".into()),
        (Some(_), Some(c)) if c.version != version => {
            Recompute::Full("definition or a code list it reads changed".into())
        }
        (Some(_), Some(c)) if c.reads != reads => Recompute::Full("reads other tables".into()),
        // A tile that is not incremental is computed in full, unless nothing it reads changed
        // at all: then every row it had is still what it would compute.
        (Some(p), Some(_)) if !tile.meta.incremental => {
            let moved = reads.iter().any(|t| p.ends.get(t) != ends.get(t));
            if moved || !changed_months(&p.inputs, fingerprints, reads).is_empty() {
                Recompute::Full("not incremental".into())
            } else {
                Recompute::Reuse
            }
        }
        (Some(p), Some(_)) => {
            let mut changed = changed_months(&p.inputs, fingerprints, reads);
            let moved = reads.iter().any(|t| p.ends.get(t) != ends.get(t));
            if let Some(days) = tile.meta.lookback_days
                && (moved || !changed.is_empty())
            {
                changed.extend(lookback_months(&p.ends, ends, reads, days));
            }
            if changed.is_empty() {
                Recompute::Reuse
            } else {
                Recompute::Periods(changed)
            }
        }
    }
}

/// The engine version rows are tagged with.
pub fn engine_version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

/// Fingerprint of the live files of every table per month.
pub fn fingerprints(manifest: &Manifest) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut out: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for (table, state) in &manifest.tables {
        let mut by_month: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for f in &state.files {
            by_month.entry(&f.period).or_default().push(&f.path);
        }
        let months = out.entry(table.clone()).or_default();
        for (month, mut paths) in by_month {
            paths.sort_unstable();
            let mut h = Sha256::new();
            for p in paths {
                h.update(p.as_bytes());
                h.update([0]);
            }
            months.insert(month.to_string(), hex::encode(&h.finalize()[..12]));
        }
    }
    out
}

/// Latest event time per table.
pub fn ends(manifest: &Manifest) -> BTreeMap<String, DateTime<Utc>> {
    manifest
        .tables
        .iter()
        .filter_map(|(t, s)| Some((t.clone(), s.files.iter().filter_map(|f| f.max_time).max()?)))
        .collect()
}

/// The months (`YYYY-MM`, Helsinki) from `lookback_days` before the earlier data end of
/// `tables` through their new end: the ones a tile depending on the data end recomputes.
pub fn lookback_months(
    before: &BTreeMap<String, DateTime<Utc>>,
    now: &BTreeMap<String, DateTime<Utc>>,
    tables: &[String],
    lookback_days: u32,
) -> BTreeSet<String> {
    let end_of =
        |m: &BTreeMap<String, DateTime<Utc>>| tables.iter().filter_map(|t| m.get(t)).max().copied();
    let (Some(new_end), old_end) = (end_of(now), end_of(before)) else {
        return BTreeSet::new();
    };
    let old_end = old_end.unwrap_or(new_end).min(new_end);
    let local = |t: DateTime<Utc>| {
        t.with_timezone(&tilannekuva_conventions::datetime::HELSINKI)
            .date_naive()
    };
    let first = local(old_end - Duration::days(i64::from(lookback_days)));
    let last = local(new_end);
    let mut out = BTreeSet::new();
    let mut d = NaiveDate::from_ymd_opt(first.year(), first.month(), 1).expect("first of month");
    while d <= last {
        out.insert(Grain::Month.label(d));
        d = d
            .checked_add_months(chrono::Months::new(1))
            .expect("in range");
    }
    out
}

/// Months whose files differ between two fingerprint sets, for the given tables.
pub fn changed_months(
    before: &BTreeMap<String, BTreeMap<String, String>>,
    now: &BTreeMap<String, BTreeMap<String, String>>,
    tables: &[String],
) -> BTreeSet<String> {
    let empty = BTreeMap::new();
    let mut out = BTreeSet::new();
    for t in tables {
        let a = before.get(t).unwrap_or(&empty);
        let b = now.get(t).unwrap_or(&empty);
        for (m, fp) in a {
            if b.get(m) != Some(fp) {
                out.insert(m.clone());
            }
        }
        for m in b.keys() {
            if !a.contains_key(m) {
                out.insert(m.clone());
            }
        }
    }
    out
}

/// The periods of `grain` that contain any of `months` (`YYYY-MM` labels).
pub fn periods_of(grain: Grain, months: &BTreeSet<String>) -> BTreeSet<String> {
    months
        .iter()
        .filter_map(|m| Grain::Month.bounds(m).map(|(start, _)| grain.label(start)))
        .collect()
}

/// The manifest restricted to the files of months lying in `periods` of `grain`.
pub fn restrict(manifest: &Manifest, grain: Grain, periods: &BTreeSet<String>) -> Manifest {
    let mut m = manifest.clone();
    for state in m.tables.values_mut() {
        state.files.retain(|f| {
            Grain::Month
                .bounds(&f.period)
                .is_some_and(|(start, _)| periods.contains(&grain.label(start)))
        });
    }
    m
}

/// The warehouse tables a query plan scans (views are not looked into).
pub fn tables_read(plan: &LogicalPlan) -> Vec<String> {
    let mut out = BTreeSet::new();
    let _ = plan.apply_with_subqueries(|node| {
        if let LogicalPlan::TableScan(scan) = node {
            out.insert(scan.table_name.table().to_string());
        }
        Ok(TreeNodeRecursion::Continue)
    });
    out.into_iter().collect()
}

/// What a publish recomputed, for logs and the command line.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Recomputed {
    /// Tiles computed over all their data, with the reason.
    pub full: Vec<(String, String)>,
    /// Tiles of which only some periods were recomputed: the changed months.
    pub partial: Vec<(String, Vec<String>)>,
    /// Tiles whose rows were all reused.
    pub reused: Vec<String>,
}

impl Recomputed {
    /// The report of the decisions for `tiles`, one each.
    pub fn of(tiles: &[TileDef], decisions: &[Recompute]) -> Self {
        let mut report = Recomputed::default();
        for (t, d) in tiles.iter().zip(decisions) {
            let id = t.meta.id.clone();
            match d {
                Recompute::Full(why) => report.full.push((id, why.clone())),
                Recompute::Periods(m) => report.partial.push((id, m.iter().cloned().collect())),
                Recompute::Reuse => report.reused.push(id),
            }
        }
        report
    }
}

impl std::fmt::Display for Recomputed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts = Vec::new();
        if !self.full.is_empty() {
            parts.push(format!("{} in full", self.full.len()));
        }
        if !self.partial.is_empty() {
            let months: BTreeSet<&String> =
                self.partial.iter().flat_map(|(_, m)| m.iter()).collect();
            let shown: Vec<&str> = months.iter().take(6).map(|s| s.as_str()).collect();
            let more = if months.len() > 6 {
                format!(" and {} more", months.len() - 6)
            } else {
                String::new()
            };
            parts.push(format!(
                "{} for the periods of {}{more}",
                self.partial.len(),
                shown.join(", ")
            ));
        }
        if !self.reused.is_empty() {
            parts.push(format!("{} unchanged", self.reused.len()));
        }
        write!(f, "tiles recomputed: {}", parts.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tilannekuva_warehouse::manifest::{DataFile, TableState};

    fn file(path: &str, period: &str) -> DataFile {
        DataFile {
            path: path.into(),
            source: "s".into(),
            load_id: "l".into(),
            period: period.into(),
            rows: 1,
            bytes: 1,
            min_time: None,
            max_time: None,
        }
    }

    fn manifest(files: Vec<DataFile>) -> Manifest {
        let mut m = Manifest::default();
        m.tables.insert("t".into(), TableState { files });
        m
    }

    #[test]
    fn a_new_file_changes_only_its_month() {
        let a = manifest(vec![file("a", "2024-12"), file("b", "2024-11")]);
        let b = manifest(vec![
            file("a", "2024-12"),
            file("b", "2024-11"),
            file("c", "2025-01"),
        ]);
        let t = vec!["t".to_string()];
        let changed = changed_months(&fingerprints(&a), &fingerprints(&b), &t);
        assert_eq!(changed, BTreeSet::from(["2025-01".to_string()]));
        // A replaced file changes its month; a removed month is changed too.
        let c = manifest(vec![file("a2", "2024-12")]);
        let changed = changed_months(&fingerprints(&a), &fingerprints(&c), &t);
        assert_eq!(
            changed,
            BTreeSet::from(["2024-11".to_string(), "2024-12".to_string()])
        );
        // Other tables do not count.
        assert!(changed_months(&fingerprints(&a), &fingerprints(&b), &["u".into()]).is_empty());
    }

    fn tile(incremental: bool) -> TileDef {
        let meta = format!(
            r#"
            id = "t"
            title = {{ fi = "t", en = "t" }}
            description = {{ fi = "t", en = "t" }}
            unit = "%"
            direction = "higher_is_better"
            owner = {{ sector = "s", role = "r" }}
            strategy = {{ priority = {{ "2026-2029" = "p" }}, perspective = "q" }}
            inputs = ["t"]
            incremental = {incremental}
            "#
        );
        TileDef {
            meta: toml::from_str(&meta).unwrap(),
            sql: String::new(),
            sql_path: "t.sql".into(),
            meta_path: "t.toml".into(),
        }
    }

    #[test]
    fn a_tile_that_is_not_incremental_is_reused_only_when_nothing_it_reads_changed() {
        let before = manifest(vec![file("a", "2024-12")]);
        let reads = vec!["t".to_string()];
        let previous = ReusableRows {
            format: FORMAT,
            engine: engine_version(),
            inputs: fingerprints(&before),
            ends: ends(&before),
            tiles: BTreeMap::from([(
                "t".to_string(),
                CachedTile {
                    version: "v1".into(),
                    reads: reads.clone(),
                    planned: String::new(),
                    rows: BTreeMap::new(),
                },
            )]),
        };
        let decide_over = |t: &TileDef, version: &str, now: &Manifest| {
            decide(
                t,
                version,
                &reads,
                Some(&previous),
                &fingerprints(now),
                &ends(now),
            )
        };
        let whole = tile(false);
        assert_eq!(decide_over(&whole, "v1", &before), Recompute::Reuse);
        let grown = manifest(vec![file("a", "2024-12"), file("b", "2025-01")]);
        assert_eq!(
            decide_over(&whole, "v1", &grown),
            Recompute::Full("not incremental".into())
        );
        assert!(matches!(
            decide_over(&whole, "v2", &before),
            Recompute::Full(_)
        ));
        // Without earlier rows it is computed in full, as an incremental tile is.
        assert_eq!(
            decide(
                &whole,
                "v1",
                &reads,
                None,
                &fingerprints(&before),
                &ends(&before)
            ),
            Recompute::Full("not incremental".into())
        );
        // An incremental tile recomputes only the new month.
        assert_eq!(
            decide_over(&tile(true), "v1", &grown),
            Recompute::Periods(BTreeSet::from(["2025-01".to_string()]))
        );
    }

    #[test]
    fn periods_and_restriction_follow_the_grain() {
        let months = BTreeSet::from(["2024-11".to_string(), "2025-01".to_string()]);
        assert_eq!(
            periods_of(Grain::Quarter, &months),
            BTreeSet::from(["2024-Q4".to_string(), "2025-Q1".to_string()])
        );
        let m = manifest(vec![
            file("a", "2024-10"),
            file("b", "2024-07"),
            file("c", "2025-02"),
        ]);
        let r = restrict(&m, Grain::Quarter, &periods_of(Grain::Quarter, &months));
        let kept: Vec<&str> = r.tables["t"]
            .files
            .iter()
            .map(|f| f.path.as_str())
            .collect();
        assert_eq!(kept, vec!["a", "c"]);
        let r = restrict(&m, Grain::Year, &periods_of(Grain::Year, &months));
        assert_eq!(r.tables["t"].files.len(), 3);
    }
}
