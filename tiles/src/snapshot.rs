//! The snapshot format, read and written here only.
//!
//! A publish writes one folder `tiles/<snapshot id>/` and then commits a
//! [`SnapshotRecord`] naming it; a snapshot is visible only through that commit.
//!
//! | file | what | read by |
//! |---|---|---|
//! | `tiles.json` | the [`TilesDoc`]: every tile with its series per grain | the desktop, `tilannekuva tiles` |
//! | `tiles.parquet` | the same as flat rows, one per total and breakdown cell ([`tile_rows_schema`]) | SQL (`tile_cells` table), CSV and Parquet downloads |
//! | `raw.json` | the rows each tile's SQL returned ([`ReusableRows`]) | the next incremental publish |
//!
//! Which snapshot a time picks is decided here too ([`pick`]): the newest published at or
//! before it, where a bare date ([`parse_as_of`]) means the end of that day in Helsinki.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use bytes::Bytes;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use tilannekuva_conventions::datetime::{epoch_days, local_midnight};
use tilannekuva_warehouse::{Manifest, SnapshotRecord, Warehouse, write_parquet};

use crate::compute::Tile;
use crate::incremental::ReusableRows;
use crate::strategy::Strategy;
use crate::{Error, Result};

/// A published set of tiles.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TilesDoc {
    /// Snapshot id.
    pub snapshot_id: String,
    /// When computed.
    pub computed_at: DateTime<Utc>,
    /// Manifest version of the data.
    pub data_version: u64,
    /// The strategy structure the tiles are placed in.
    pub strategy: Strategy,
    /// The tiles.
    pub tiles: Vec<Tile>,
}

impl TilesDoc {
    /// A tile by id.
    pub fn tile(&self, id: &str) -> Option<&Tile> {
        self.tiles.iter().find(|t| t.meta.id == id)
    }
}

/// Schema of the flat tile rows written beside each snapshot's JSON (and queryable as
/// `tile_cells`).
pub fn tile_rows_schema() -> SchemaRef {
    let ts = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    Arc::new(Schema::new(vec![
        Field::new("snapshot_id", DataType::Utf8, false),
        Field::new("tile_id", DataType::Utf8, false),
        Field::new("grain", DataType::Utf8, false),
        Field::new("period", DataType::Utf8, false),
        Field::new("period_start", DataType::Date32, false),
        Field::new("period_end", DataType::Date32, false),
        Field::new("dimension", DataType::Utf8, true),
        Field::new("member", DataType::Utf8, true),
        Field::new("value", DataType::Float64, true),
        Field::new("numerator", DataType::Float64, true),
        Field::new("denominator", DataType::Float64, true),
        Field::new("n", DataType::Int64, true),
        Field::new("target", DataType::Float64, true),
        Field::new("attainment", DataType::Float64, true),
        Field::new("status", DataType::Utf8, false),
        Field::new("status_reason", DataType::Utf8, true),
        Field::new("previous_value", DataType::Float64, true),
        Field::new("change", DataType::Float64, true),
        Field::new("complete", DataType::Boolean, false),
        Field::new("in_progress", DataType::Boolean, false),
        Field::new("data_through", ts, true),
        Field::new("definition_version", DataType::Utf8, false),
    ]))
}

/// One row of `tiles.parquet`: a period's total (no dimension) or one breakdown cell.
#[derive(Serialize)]
struct TileRow<'a> {
    snapshot_id: &'a str,
    tile_id: &'a str,
    grain: &'a str,
    period: &'a str,
    period_start: i32,
    period_end: i32,
    dimension: Option<&'a str>,
    member: Option<&'a str>,
    value: Option<f64>,
    numerator: Option<f64>,
    denominator: Option<f64>,
    n: Option<i64>,
    target: Option<f64>,
    attainment: Option<f64>,
    status: &'a str,
    status_reason: Option<&'a str>,
    previous_value: Option<f64>,
    change: Option<f64>,
    complete: bool,
    in_progress: bool,
    data_through: Option<i64>,
    definition_version: &'a str,
}

impl TilesDoc {
    /// The tiles as flat rows (totals and breakdown cells) for Parquet, CSV and SQL.
    pub fn to_batch(&self) -> Result<arrow::array::RecordBatch> {
        let mut rows = Vec::new();
        for t in &self.tiles {
            for (grain, figures) in &t.series {
                for f in figures {
                    let base = TileRow {
                        snapshot_id: &self.snapshot_id,
                        tile_id: &t.meta.id,
                        grain: grain.as_str(),
                        period: &f.period,
                        period_start: epoch_days(f.start),
                        period_end: epoch_days(f.end),
                        dimension: None,
                        member: None,
                        value: f.value,
                        numerator: f.numerator,
                        denominator: f.denominator,
                        n: f.n,
                        target: f.target,
                        attainment: f.attainment,
                        status: f.status.as_str(),
                        status_reason: f.status_reason.as_deref(),
                        previous_value: f.previous_value,
                        change: f.change,
                        complete: f.complete,
                        in_progress: f.in_progress,
                        data_through: f.data_through.map(|t| t.timestamp_micros()),
                        definition_version: &t.definition_version,
                    };
                    for c in &f.breakdown {
                        rows.push(TileRow {
                            dimension: Some(&c.dimension),
                            member: Some(&c.member),
                            value: c.value,
                            numerator: c.numerator,
                            denominator: c.denominator,
                            n: Some(c.n),
                            attainment: None,
                            status: c.status.as_str(),
                            status_reason: None,
                            previous_value: None,
                            change: None,
                            ..base
                        });
                    }
                    rows.push(base);
                }
            }
        }
        serialize_rows(tile_rows_schema(), &rows)
    }
}

/// Rows of a serde type as one Arrow batch of `schema` (field names and types must match).
pub(crate) fn serialize_rows<T: Serialize>(
    schema: SchemaRef,
    rows: &[T],
) -> Result<arrow::array::RecordBatch> {
    let mut decoder = arrow::json::ReaderBuilder::new(schema.clone())
        .with_batch_size(rows.len().max(1))
        .build_decoder()
        .map_err(|e| Error::DataFusion(e.into()))?;
    decoder
        .serialize(rows)
        .map_err(|e| Error::DataFusion(e.into()))?;
    Ok(decoder
        .flush()
        .map_err(|e| Error::DataFusion(e.into()))?
        .unwrap_or_else(|| arrow::array::RecordBatch::new_empty(schema)))
}

/// The file beside each snapshot's `tiles.json` with the rows the next publish may reuse.
pub const REUSABLE_ROWS_FILE: &str = "raw.json";

/// Reads an `as_of` time as the command line, the API and the web page take it: an
/// RFC 3339 time, or a date meaning the end of that day in Helsinki (its last microsecond),
/// so `2025-12-31` picks a snapshot published at 23:30 Helsinki time on New Year's Eve.
pub fn parse_as_of(s: &str) -> std::result::Result<DateTime<Utc>, String> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d")
        && let Some(next) = d.succ_opt()
    {
        return Ok(local_midnight(next) - chrono::Duration::microseconds(1));
    }
    Err(format!(
        "`{s}` is neither an RFC 3339 time (2025-12-31T12:00:00Z) nor a date (2025-12-31)"
    ))
}

/// The snapshot in force: the latest, or the newest published at or before `as_of`.
pub fn pick(manifest: &Manifest, as_of: Option<DateTime<Utc>>) -> Result<&SnapshotRecord> {
    match as_of {
        None => manifest.latest_snapshot().ok_or_else(|| {
            Error::NoSnapshot(
                "no tiles have been computed yet: run `tilannekuva compute` (or `tilannekuva demo`)"
                    .into(),
            )
        }),
        Some(at) => {
            let record = manifest.snapshot_as_of(at).ok_or_else(|| {
                let first = manifest.snapshots.iter().map(|s| s.computed_at).min();
                Error::NoSnapshot(match first {
                    Some(f) => format!(
                        "no snapshot was published at or before {}; the first is from {}",
                        at.to_rfc3339(),
                        f.to_rfc3339()
                    ),
                    None => "no tiles have been computed yet".into(),
                })
            })?;
            match record.expired_at {
                None => Ok(record),
                Some(expired) => Err(Error::NoSnapshot(format!(
                    "the snapshot in force at {} ({}, computed {}) was removed by the snapshot \
                     retention rule on {}; pinned snapshots are kept: {}",
                    at.to_rfc3339(),
                    record.id,
                    record.computed_at.to_rfc3339(),
                    expired.format("%Y-%m-%d"),
                    pinned_labels(manifest)
                ))),
            }
        }
    }
}

/// The snapshot pinned with `label` (or with that id).
pub fn pick_pinned<'m>(manifest: &'m Manifest, label: &str) -> Result<&'m SnapshotRecord> {
    match manifest.snapshot_by_label(label) {
        Some(record) if record.expired_at.is_none() => Ok(record),
        Some(record) => Err(Error::NoSnapshot(format!(
            "snapshot {} was removed by the snapshot retention rule; pinned snapshots are kept: {}",
            record.id,
            pinned_labels(manifest)
        ))),
        None => Err(Error::NoSnapshot(format!(
            "no snapshot is pinned as `{label}` (nor has that id); pinned snapshots: {}",
            pinned_labels(manifest)
        ))),
    }
}

/// The labels of the pinned snapshots, for messages.
fn pinned_labels(manifest: &Manifest) -> String {
    let labels: Vec<String> = manifest
        .snapshots
        .iter()
        .filter_map(|s| s.pin.as_ref().map(|p| format!("`{}`", p.label)))
        .collect();
    if labels.is_empty() {
        "none (`tilannekuva snapshots pin LABEL` pins one)".into()
    } else {
        labels.join(", ")
    }
}

/// Reads the tiles of a committed snapshot.
pub async fn read(wh: &Warehouse, record: &SnapshotRecord) -> Result<TilesDoc> {
    let path = format!("{}/tiles.json", record.path);
    let bytes = wh.get(&path).await?;
    serde_json::from_slice(&bytes).map_err(|e| Error::Snapshot {
        path,
        message: e.to_string(),
    })
}

/// Reads a published snapshot: the latest, or the one in force at `as_of`.
pub async fn read_snapshot(wh: &Warehouse, as_of: Option<DateTime<Utc>>) -> Result<TilesDoc> {
    let manifest = wh.manifest().await?;
    read(wh, pick(&manifest, as_of)?).await
}

/// Reads the rows a snapshot kept for reuse.
pub async fn read_reusable_rows(
    wh: &Warehouse,
    record: &SnapshotRecord,
) -> std::result::Result<ReusableRows, String> {
    let path = format!("{}/{REUSABLE_ROWS_FILE}", record.path);
    let bytes = wh.get(&path).await.map_err(|e| e.to_string())?;
    serde_json::from_slice(&bytes).map_err(|e| format!("{path}: {e}"))
}

/// Writes a snapshot's files (not yet committed) and returns its record, for the caller
/// to commit.
pub async fn write(
    wh: &Warehouse,
    doc: &TilesDoc,
    rows: &ReusableRows,
    definitions: std::collections::BTreeMap<String, String>,
) -> Result<SnapshotRecord> {
    let path = format!("tiles/{}", doc.snapshot_id);
    let encode = |v: serde_json::Result<Vec<u8>>| {
        v.map(Bytes::from).map_err(|e| Error::Snapshot {
            path: path.clone(),
            message: e.to_string(),
        })
    };
    let (tiles_json, rows_json) = (
        encode(serde_json::to_vec(doc))?,
        encode(serde_json::to_vec(rows))?,
    );
    let batch = doc.to_batch()?;
    // The three files are independent: written side by side.
    let ((written, _), (), ()) = futures::try_join!(
        async {
            write_parquet(
                wh,
                &format!("{path}/tiles.parquet"),
                tile_rows_schema(),
                &[batch],
            )
            .await
            .map_err(Error::from)
        },
        async {
            wh.put(&format!("{path}/tiles.json"), tiles_json)
                .await
                .map_err(Error::from)
        },
        async {
            wh.put(&format!("{path}/{REUSABLE_ROWS_FILE}"), rows_json)
                .await
                .map_err(Error::from)
        },
    )?;
    Ok(SnapshotRecord {
        id: doc.snapshot_id.clone(),
        computed_at: doc.computed_at,
        data_version: doc.data_version,
        path,
        rows: written,
        definitions,
        pin: None,
        expired_at: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, at: &str) -> SnapshotRecord {
        SnapshotRecord {
            id: id.into(),
            computed_at: at.parse().unwrap(),
            data_version: 1,
            path: format!("tiles/{id}"),
            rows: 0,
            definitions: Default::default(),
            pin: None,
            expired_at: None,
        }
    }

    #[test]
    fn a_date_is_the_end_of_that_day_in_helsinki() {
        // Winter: Helsinki is UTC+2, so 31.12. ends at 21:59:59.999999Z.
        assert_eq!(
            parse_as_of("2025-12-31").unwrap().to_rfc3339(),
            "2025-12-31T21:59:59.999999+00:00"
        );
        // Summer: UTC+3.
        assert_eq!(
            parse_as_of("2025-06-30").unwrap().to_rfc3339(),
            "2025-06-30T20:59:59.999999+00:00"
        );
        assert_eq!(
            parse_as_of("2025-06-30T08:00:00+03:00")
                .unwrap()
                .to_rfc3339(),
            "2025-06-30T05:00:00+00:00"
        );
        let e = parse_as_of("31.12.2025").unwrap_err();
        assert!(e.contains("`31.12.2025`") && e.contains("RFC 3339"), "{e}");
    }

    #[test]
    fn a_date_picks_what_was_published_by_the_end_of_the_helsinki_day() {
        let mut m = Manifest::default();
        m.snapshots.push(record("day", "2025-12-31T12:00:00Z"));
        // 23:30 in Helsinki on New Year's Eve: still 31.12. there, already past 21:59Z.
        m.snapshots
            .push(record("late-evening", "2025-12-31T21:30:00Z"));
        // 00:30 on 1.1. in Helsinki, 22:30Z on 31.12.: the next day in Helsinki.
        m.snapshots
            .push(record("after-midnight", "2025-12-31T22:30:00Z"));
        let at = parse_as_of("2025-12-31").unwrap();
        assert_eq!(pick(&m, Some(at)).unwrap().id, "late-evening");
        assert_eq!(pick(&m, None).unwrap().id, "after-midnight");
        let e = pick(&m, Some(parse_as_of("2025-01-01").unwrap())).unwrap_err();
        assert!(e.to_string().contains("the first is from"), "{e}");
    }
}
