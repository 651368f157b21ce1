//! The manifest: the one record of what the warehouse contains.
//!
//! Every committed change writes the next numbered version's log entry with put-if-absent
//! (`_log/00000000000000000042.json`, see [`crate::log`]). A data file exists for readers
//! only once a committed version lists it, so a crash at any point leaves either the old or the new
//! state visible, never a half-written one. Two writers racing for the same version number
//! cannot both win: the loser reloads the winner's manifest and re-applies its change,
//! which is where duplicate loads are detected. The ledger of loaded files, the fetch
//! cursors and the published tile snapshots live in the same document, so they move
//! atomically with the data they describe.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// One version of the warehouse's state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Version number; 0 is the empty warehouse that was never committed.
    pub version: u64,
    /// When this version was committed.
    pub committed_at: Option<DateTime<Utc>>,
    /// What the commit did, for people reading the history.
    #[serde(default)]
    pub message: String,
    /// Curated tables and the quarantine, by table name.
    #[serde(default)]
    pub tables: BTreeMap<String, TableState>,
    /// Ledger of every export that was loaded, in load order.
    #[serde(default)]
    pub loads: Vec<LoadRecord>,
    /// Published tile snapshots, oldest first.
    #[serde(default)]
    pub snapshots: Vec<SnapshotRecord>,
    /// Incremental fetch cursors by source name (for example the last `start_time`).
    #[serde(default)]
    pub cursors: BTreeMap<String, serde_json::Value>,
    /// Owners' check-ins, in the order written; none is ever removed (see
    /// [`crate::checkins`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checkins: Vec<crate::checkins::CheckIn>,
}

/// The files that make up one table.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableState {
    /// Parquet files, each holding rows of one source export for one period.
    pub files: Vec<DataFile>,
}

/// One committed Parquet file of a table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataFile {
    /// Object path relative to the warehouse root.
    pub path: String,
    /// Source that produced the rows.
    pub source: String,
    /// The load that wrote the file.
    pub load_id: String,
    /// Reporting period of the rows (`YYYY-MM`, Europe/Helsinki), the partition key.
    pub period: String,
    /// Number of rows.
    pub rows: u64,
    /// Size in bytes.
    pub bytes: u64,
    /// Earliest event time in the file, when the table has one.
    pub min_time: Option<DateTime<Utc>>,
    /// Latest event time in the file, when the table has one.
    pub max_time: Option<DateTime<Utc>>,
}

/// What happened to a delivered export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoadStatus {
    /// Its rows are in the curated tables.
    Loaded,
    /// A later delivery replaced all of its periods.
    Superseded,
}

/// One entry of the load ledger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadRecord {
    /// Unique id of the load.
    pub load_id: String,
    /// Source name from the source's config file.
    pub source: String,
    /// sha256 of the landed bytes, hex.
    pub sha256: String,
    /// File name as delivered.
    pub original_name: String,
    /// Object path of the landed copy.
    pub raw_path: String,
    /// Size of the export in bytes.
    pub bytes: u64,
    /// When the export was fetched or picked up.
    pub fetched_at: DateTime<Utc>,
    /// When the load committed.
    pub loaded_at: DateTime<Utc>,
    /// Rows written to the curated table.
    pub rows: u64,
    /// Rows sent to quarantine.
    pub rejects: u64,
    /// Rows skipped as not data: a title block, totals and notes (`format.skip_rows`,
    /// `format.skip_when`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub skipped: u64,
    /// Periods the export's rows fell in.
    pub periods: Vec<String>,
    /// Redelivery policy that applied.
    pub policy: String,
    /// Loads whose rows this one replaced, for `replace` sources.
    #[serde(default)]
    pub replaced: Vec<String>,
    /// Current status.
    pub status: LoadStatus,
    /// When the landed copy (`raw_path`) was removed by the raw retention rule; the entry
    /// stays, so a redelivery of the same bytes still loads nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_removed_at: Option<DateTime<Utc>>,
    /// The range of days the export declares it covers (from its file name, or the range
    /// an API was asked for): its months count as delivered under
    /// [`CompleteWhen::DeclaredRange`](crate::catalog::CompleteWhen), and a declared month
    /// with no rows is an explicit "no events" delivery.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub covers: Option<Covered>,
}

/// An inclusive range of local calendar days an export declares it covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Covered {
    /// First day covered.
    pub from: NaiveDate,
    /// Last day covered.
    pub to: NaiveDate,
}

impl Covered {
    /// Whether the range holds every day from `first` to `last`.
    pub fn holds(&self, first: NaiveDate, last: NaiveDate) -> bool {
        self.from <= first && last <= self.to
    }
}

/// A published, reproducible picture of all tiles.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnapshotRecord {
    /// Snapshot id (sortable: computed time plus a suffix).
    pub id: String,
    /// When the tiles were computed.
    pub computed_at: DateTime<Utc>,
    /// Manifest version of the data the tiles were computed from.
    pub data_version: u64,
    /// Object path of the snapshot's folder.
    pub path: String,
    /// Number of tile rows.
    pub rows: u64,
    /// Hash of every tile definition that went into it.
    pub definitions: BTreeMap<String, String>,
    /// The label an operator pinned it with ("Aluevaltuusto 16.12.2026"): a pinned
    /// snapshot is never removed by the retention rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin: Option<Pin>,
    /// When the snapshot retention rule removed its files; the entry stays, so `--as-of`
    /// a time it was in force says so instead of answering with an older picture.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expired_at: Option<DateTime<Utc>>,
}

/// An operator's pin on a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pin {
    /// The label, unique among pinned snapshots.
    pub label: String,
    /// When it was pinned.
    pub pinned_at: DateTime<Utc>,
}

impl Manifest {
    /// Files of a table, or none when the table was never written.
    pub fn files(&self, table: &str) -> &[DataFile] {
        self.tables
            .get(table)
            .map(|t| t.files.as_slice())
            .unwrap_or(&[])
    }

    /// The ledger entry of an export already seen from this source with these bytes.
    pub fn load_by_content(&self, source: &str, sha256: &str) -> Option<&LoadRecord> {
        self.loads
            .iter()
            .find(|l| l.source == source && l.sha256 == sha256)
    }

    /// The snapshot in force at `at`: the newest computed at or before it.
    pub fn snapshot_as_of(&self, at: DateTime<Utc>) -> Option<&SnapshotRecord> {
        self.snapshots
            .iter()
            .filter(|s| s.computed_at <= at)
            .max_by_key(|s| s.computed_at)
    }

    /// The newest snapshot (the retention rule never removes it).
    pub fn latest_snapshot(&self) -> Option<&SnapshotRecord> {
        self.snapshots
            .iter()
            .filter(|s| s.expired_at.is_none())
            .max_by_key(|s| s.computed_at)
    }

    /// The snapshot pinned with `label`, or the one whose id is `label`.
    pub fn snapshot_by_label(&self, label: &str) -> Option<&SnapshotRecord> {
        self.snapshots
            .iter()
            .find(|s| s.pin.as_ref().is_some_and(|p| p.label == label))
            .or_else(|| self.snapshots.iter().find(|s| s.id == label))
    }

    /// The snapshots the retention rule keeps when it removes those computed before
    /// `cutoff`: every pinned one, the latest, and the one in force at `cutoff` (so any
    /// time from the cutoff on still shows the picture then published).
    pub fn snapshots_kept(&self, cutoff: DateTime<Utc>) -> std::collections::BTreeSet<&str> {
        let mut kept: std::collections::BTreeSet<&str> = self
            .snapshots
            .iter()
            .filter(|s| s.pin.is_some() || s.computed_at >= cutoff)
            .map(|s| s.id.as_str())
            .collect();
        kept.extend(self.latest_snapshot().map(|s| s.id.as_str()));
        kept.extend(self.snapshot_as_of(cutoff).map(|s| s.id.as_str()));
        kept
    }

    /// Removes a source's files for the given periods from every curated table and returns
    /// the ids of the loads that lost files. Loads left with no curated files are marked
    /// superseded, and their quarantined rows go with them.
    pub fn remove_periods(&mut self, source: &str, periods: &[String]) -> Vec<String> {
        let quarantine = crate::QUARANTINE_TABLE;
        let mut touched = Vec::new();
        for (name, state) in self.tables.iter_mut() {
            if name == quarantine {
                continue;
            }
            state.files.retain(|f| {
                let hit = f.source == source && periods.contains(&f.period);
                if hit && !touched.contains(&f.load_id) {
                    touched.push(f.load_id.clone());
                }
                !hit
            });
        }
        let mut superseded = Vec::new();
        for id in &touched {
            let still_has_files = self
                .tables
                .iter()
                .any(|(name, t)| name != quarantine && t.files.iter().any(|f| &f.load_id == id));
            if !still_has_files && let Some(load) = self.loads.iter_mut().find(|l| &l.load_id == id)
            {
                load.status = LoadStatus::Superseded;
                superseded.push(id.clone());
            }
        }
        if let Some(q) = self.tables.get_mut(quarantine) {
            q.files.retain(|f| !superseded.contains(&f.load_id));
        }
        touched
    }

    /// Latest event time per source, from the files' statistics.
    pub fn data_through(&self, table: &str) -> Option<DateTime<Utc>> {
        self.files(table).iter().filter_map(|f| f.max_time).max()
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(source: &str, load: &str, period: &str) -> DataFile {
        DataFile {
            path: format!("curated/t/period={period}/{load}.parquet"),
            source: source.into(),
            load_id: load.into(),
            period: period.into(),
            rows: 1,
            bytes: 1,
            min_time: None,
            max_time: None,
        }
    }

    fn load(id: &str) -> LoadRecord {
        LoadRecord {
            load_id: id.into(),
            source: "s".into(),
            sha256: id.into(),
            original_name: "x.csv".into(),
            raw_path: "raw/x".into(),
            bytes: 1,
            fetched_at: Utc::now(),
            loaded_at: Utc::now(),
            rows: 1,
            rejects: 0,
            skipped: 0,
            periods: vec![],
            policy: "replace".into(),
            replaced: vec![],
            status: LoadStatus::Loaded,
            raw_removed_at: None,
            covers: None,
        }
    }

    #[test]
    fn replacing_a_period_supersedes_only_loads_left_empty() {
        let mut m = Manifest::default();
        m.tables.insert(
            "t".into(),
            TableState {
                files: vec![
                    file("s", "a", "2024-01"),
                    file("s", "a", "2024-02"),
                    file("s", "b", "2024-02"),
                    file("other", "c", "2024-02"),
                ],
            },
        );
        m.loads = vec![load("a"), load("b"), load("c")];
        let touched = m.remove_periods("s", &["2024-02".to_string()]);
        assert_eq!(touched, vec!["a".to_string(), "b".to_string()]);
        let left: Vec<_> = m
            .files("t")
            .iter()
            .map(|f| (f.load_id.as_str(), f.period.as_str()))
            .collect();
        assert_eq!(left, vec![("a", "2024-01"), ("c", "2024-02")]);
        assert_eq!(m.loads[0].status, LoadStatus::Loaded);
        assert_eq!(m.loads[1].status, LoadStatus::Superseded);
        assert_eq!(m.loads[2].status, LoadStatus::Loaded);
    }

    #[test]
    fn snapshot_as_of_picks_the_newest_not_after() {
        let mut m = Manifest::default();
        for (id, t) in [("a", "2025-01-01T00:00:00Z"), ("b", "2025-02-01T00:00:00Z")] {
            m.snapshots.push(SnapshotRecord {
                id: id.into(),
                computed_at: t.parse().unwrap(),
                data_version: 1,
                path: id.into(),
                rows: 0,
                definitions: BTreeMap::new(),
                pin: None,
                expired_at: None,
            });
        }
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        assert_eq!(
            m.snapshot_as_of(at("2025-01-15T00:00:00Z")).unwrap().id,
            "a"
        );
        assert_eq!(
            m.snapshot_as_of(at("2025-03-01T00:00:00Z")).unwrap().id,
            "b"
        );
        assert!(m.snapshot_as_of(at("2024-12-31T00:00:00Z")).is_none());
    }
}
