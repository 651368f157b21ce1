//! KPI tiles: one SQL file plus its metadata each, computed with DataFusion over the
//! warehouse, published as reproducible snapshots.
//!
//! - [`definition`]: the tile files and the contract their SQL fulfils;
//! - [`udf`]: Finnish reporting functions available in SQL (`fi_period`, `fi_deadline`, ...);
//! - [`compute`]: from query rows to figures with target, status, trend and completeness;
//! - [`incremental`]: publishing again recomputes only the periods whose files changed;
//! - [`strategy`]: the strategy structure tiles are placed in;
//! - [`render`]: tiles as a readable terminal table.

pub mod compute;
pub mod definition;
pub mod incremental;
pub mod render;
pub mod strategy;
pub mod udf;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use datafusion::datasource::MemTable;
use datafusion::prelude::{ParquetReadOptions, SessionConfig, SessionContext};
use serde::{Deserialize, Serialize};
use tilannekuva_conventions::datetime::epoch_days;
use tilannekuva_warehouse::catalog::{TableDef, schemas};
use tilannekuva_warehouse::{Manifest, SnapshotRecord, Warehouse, write_parquet};

pub use compute::{Cadence, Cell, ExpectedSource, PeriodFigure, RawRow, SourceFile, Status, Tile};
pub use definition::{TileDef, TileMeta, load_tiles};
pub use incremental::{CachedTile, RawCache, Recomputed};
pub use strategy::Strategy;
pub use udf::Grain;

/// What can go wrong computing or reading tiles.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A tile's SQL failed to plan or run.
    #[error("{file}{}: {message}", .line.map(|l| format!(":{l}")).unwrap_or_default())]
    Sql {
        /// The SQL file.
        file: String,
        /// Line the problem is on, when it can be told.
        line: Option<usize>,
        /// DataFusion's message.
        message: String,
    },
    /// A tile's SQL does not return what the contract asks.
    #[error("{file}: {message}")]
    Contract {
        /// The SQL file.
        file: String,
        /// What is wrong.
        message: String,
    },
    /// Tile or strategy files are wrong.
    #[error("configuration problems:\n  - {}", .0.join("\n  - "))]
    Config(Vec<String>),
    /// The warehouse failed.
    #[error(transparent)]
    Warehouse(#[from] tilannekuva_warehouse::Error),
    /// DataFusion failed outside a tile's SQL.
    #[error(transparent)]
    DataFusion(#[from] datafusion::error::DataFusionError),
    /// No snapshot matches.
    #[error("{0}")]
    NoSnapshot(String),
    /// A snapshot file is unreadable.
    #[error("snapshot {path}: {message}")]
    Snapshot {
        /// Its path.
        path: String,
        /// What is wrong.
        message: String,
    },
}

impl Error {
    fn sql(tile: &TileDef, e: datafusion::error::DataFusionError) -> Self {
        let message = e.strip_backtrace().to_string();
        Error::Sql {
            file: tile.sql_path.display().to_string(),
            line: locate(&tile.sql, &message),
            message,
        }
    }
}

/// Finds the line of the SQL a DataFusion message is about: the parser's `Line: N`, or the
/// first line mentioning the name the planner could not resolve.
pub fn locate(sql: &str, message: &str) -> Option<usize> {
    if let Some(i) = message.find("Line: ") {
        let digits: String = message[i + 6..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        if let Ok(n) = digits.parse() {
            return Some(n);
        }
    }
    let mut names: Vec<&str> = message.split(['\'', '"', '`']).skip(1).step_by(2).collect();
    // The planner writes some names bare: "No field named foo." / "field named t.foo".
    if let Some(i) = message.find("field named ") {
        let rest = &message[i + 12..];
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        names.insert(
            0,
            rest[..end]
                .trim_end_matches(['.', ','])
                .trim_matches(['\'', '"']),
        );
    }
    for name in names {
        let bare = name.rsplit('.').next().unwrap_or(name);
        if bare.len() < 2 {
            continue;
        }
        if let Some((i, _)) = sql.lines().enumerate().find(|(_, l)| l.contains(bare)) {
            return Some(i + 1);
        }
    }
    None
}

/// Result with the tiles' [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

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

/// Computes tiles over a warehouse.
#[derive(Debug, Clone)]
pub struct Engine {
    /// The warehouse.
    pub warehouse: Warehouse,
    /// Canonical tables.
    pub tables: BTreeMap<String, TableDef>,
    /// Tile definitions.
    pub tiles: Vec<TileDef>,
    /// Strategy structure.
    pub strategy: Strategy,
    /// Sources expected to fill each table, for completeness.
    pub expected: BTreeMap<String, Vec<ExpectedSource>>,
}

fn calendar_table(from: i32, to: i32) -> Result<MemTable> {
    use arrow::array::{BooleanArray, Date32Array, StringArray};
    use tilannekuva_conventions::calendar::{holiday_name, is_working_day};
    let start = chrono::NaiveDate::from_ymd_opt(from, 1, 1).expect("valid");
    let end = chrono::NaiveDate::from_ymd_opt(to, 12, 31).expect("valid");
    let days: Vec<_> = start.iter_days().take_while(|d| *d <= end).collect();
    let schema = Arc::new(Schema::new(vec![
        Field::new("date", DataType::Date32, false),
        Field::new("is_working_day", DataType::Boolean, false),
        Field::new("holiday", DataType::Utf8, true),
    ]));
    let batch = arrow::array::RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(Date32Array::from_iter_values(
                days.iter().map(|d| epoch_days(*d)),
            )),
            Arc::new(BooleanArray::from_iter(
                days.iter().map(|d| Some(is_working_day(*d))),
            )),
            Arc::new(StringArray::from_iter(
                days.iter().map(|d| holiday_name(*d)),
            )),
        ],
    )
    .map_err(|e| Error::DataFusion(e.into()))?;
    Ok(MemTable::try_new(schema, vec![vec![batch]])?)
}

/// Schema of the flat tile rows written beside each snapshot's JSON (and queryable as `tiles`).
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
        Field::new("n", DataType::Int64, false),
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

#[derive(Serialize)]
struct FlatRow<'a> {
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
    n: i64,
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
        let days = epoch_days;
        let mut rows = Vec::new();
        for t in &self.tiles {
            for (grain, figures) in &t.series {
                for f in figures {
                    let base = FlatRow {
                        snapshot_id: &self.snapshot_id,
                        tile_id: &t.meta.id,
                        grain: grain.as_str(),
                        period: &f.period,
                        period_start: days(f.start),
                        period_end: days(f.end),
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
                        rows.push(FlatRow {
                            dimension: Some(&c.dimension),
                            member: Some(&c.member),
                            value: c.value,
                            numerator: c.numerator,
                            denominator: c.denominator,
                            n: c.n,
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
        let mut decoder = arrow::json::ReaderBuilder::new(tile_rows_schema())
            .with_batch_size(rows.len().max(1))
            .build_decoder()
            .map_err(|e| Error::DataFusion(e.into()))?;
        decoder
            .serialize(&rows)
            .map_err(|e| Error::DataFusion(e.into()))?;
        Ok(decoder
            .flush()
            .map_err(|e| Error::DataFusion(e.into()))?
            .unwrap_or_else(|| arrow::array::RecordBatch::new_empty(tile_rows_schema())))
    }
}

impl Engine {
    /// A SQL session over the warehouse at `manifest`, with the Finnish functions for
    /// `grain`, a `calendar` table, and the latest published tiles as `tiles`.
    pub async fn session(&self, manifest: &Manifest, grain: Grain) -> Result<SessionContext> {
        let config = SessionConfig::new()
            .with_target_partitions(2)
            .with_information_schema(true);
        let ctx = SessionContext::new_with_config(config);
        self.warehouse
            .register_tables(&ctx, manifest, &schemas(&self.tables))
            .await?;
        udf::register(&ctx, grain);
        ctx.register_table("calendar", Arc::new(calendar_table(2015, 2035)?))?;
        if let Some(s) = manifest.latest_snapshot() {
            let url = self
                .warehouse
                .object_url(&format!("{}/tiles.parquet", s.path));
            let schema = tile_rows_schema();
            let df = ctx
                .read_parquet(url, ParquetReadOptions::default().schema(schema.as_ref()))
                .await?;
            ctx.register_table("tiles", df.into_view())?;
        } else {
            ctx.register_table(
                "tiles",
                Arc::new(MemTable::try_new(tile_rows_schema(), vec![vec![]])?),
            )?;
        }
        Ok(ctx)
    }

    /// Plans every tile's SQL for every grain without running it; returns every problem.
    pub async fn check(&self) -> Result<Vec<String>> {
        let manifest = Manifest::default();
        let mut problems = Vec::new();
        if let Err(p) = self.strategy.check_tiles(&self.tiles) {
            problems.extend(p);
        }
        let known: Vec<&String> = self.tables.keys().collect();
        for t in &self.tiles {
            for input in &t.meta.inputs {
                if !self.tables.contains_key(input) {
                    problems.push(format!(
                        "{}: `inputs`: unknown table `{input}`; tables are {known:?}",
                        t.meta_path.display()
                    ));
                }
            }
        }
        let ctx = self.session(&manifest, Grain::Quarter).await?;
        for t in &self.tiles {
            match ctx.sql(&t.sql).await {
                Err(e) => problems.push(Error::sql(t, e).to_string()),
                Ok(df) => {
                    let schema = df.schema();
                    for required in ["period", "value", "n"] {
                        if schema.field_with_unqualified_name(required).is_err() {
                            problems.push(format!(
                                "{}: the query must return a column `{required}`",
                                t.sql_path.display()
                            ));
                        }
                    }
                }
            }
        }
        Ok(problems)
    }

    /// Computes every tile from the committed data, without publishing, as of now.
    pub async fn compute(&self, manifest: &Manifest) -> Result<Vec<Tile>> {
        self.compute_at(manifest, Utc::now()).await
    }

    /// Computes every tile as at `now`: periods not ended by then are in progress, and
    /// only deliveries for months ended by then are expected.
    pub async fn compute_at(&self, manifest: &Manifest, now: DateTime<Utc>) -> Result<Vec<Tile>> {
        Ok(self.compute_from(manifest, now, None).await?.tiles)
    }

    /// Computes every tile as at `now`, reusing the rows of `previous` for the periods
    /// whose input files have not changed since (see [`incremental`]).
    pub async fn compute_from(
        &self,
        manifest: &Manifest,
        now: DateTime<Utc>,
        previous: Option<&RawCache>,
    ) -> Result<Computation> {
        let inputs = compute::Inputs::new(manifest, &self.expected, now);
        let fingerprints = incremental::fingerprints(manifest);
        let ends = incremental::ends(manifest);
        let previous = previous.filter(|p| p.usable());
        // What each tile reads, from its query plan.
        let planning = self.session(&Manifest::default(), Grain::Month).await?;
        let mut plans = Vec::with_capacity(self.tiles.len());
        for t in &self.tiles {
            let df = planning.sql(&t.sql).await.map_err(|e| Error::sql(t, e))?;
            plans.push(incremental::tables_read(df.logical_plan()));
        }
        drop(planning);

        enum Plan {
            Full(String),
            Partial(BTreeSet<String>),
            Reuse,
        }
        let mut decisions = Vec::with_capacity(self.tiles.len());
        for (t, reads) in self.tiles.iter().zip(&plans) {
            let cached = previous.and_then(|p| p.tiles.get(&t.meta.id));
            decisions.push(match (previous, cached) {
                _ if !t.meta.incremental => Plan::Full("not incremental".into()),
                (None, _) => Plan::Full("no earlier rows to reuse".into()),
                (Some(_), None) => Plan::Full("new tile".into()),
                (Some(_), Some(c)) if c.version != t.version() => {
                    Plan::Full("definition changed".into())
                }
                (Some(_), Some(c)) if &c.reads != reads => Plan::Full("reads other tables".into()),
                (Some(p), Some(_)) => {
                    let mut changed = incremental::changed_months(&p.inputs, &fingerprints, reads);
                    let moved = reads.iter().any(|t| p.ends.get(t) != ends.get(t));
                    if let Some(days) = t.meta.lookback_days
                        && (moved || !changed.is_empty())
                    {
                        changed.extend(incremental::lookback_months(&p.ends, &ends, reads, days));
                    }
                    if changed.is_empty() {
                        Plan::Reuse
                    } else {
                        Plan::Partial(changed)
                    }
                }
            });
        }

        // The rows the previous snapshot kept for a tile and grain.
        let cached_rows = |id: &str, grain: Grain| -> &[RawRow] {
            previous
                .and_then(|p| p.tiles.get(id))
                .and_then(|c| c.rows.get(&grain))
                .map_or(&[], Vec::as_slice)
        };
        let mut rows: Vec<BTreeMap<Grain, Vec<RawRow>>> = vec![BTreeMap::new(); self.tiles.len()];
        let mut report = Recomputed::default();
        for grain in Grain::ALL {
            let wanted = |i: usize| self.tiles[i].meta.grains.contains(&grain);
            // Tiles computed in part, grouped by the periods they recompute: each group reads
            // only the files of its periods.
            let mut groups: BTreeMap<BTreeSet<String>, Vec<usize>> = BTreeMap::new();
            for (i, d) in decisions.iter().enumerate() {
                if let (true, Plan::Partial(months)) = (wanted(i), d) {
                    groups
                        .entry(incremental::periods_of(grain, months))
                        .or_default()
                        .push(i);
                }
            }
            let mut broken = BTreeSet::new();
            for (periods, members) in &groups {
                let restricted = incremental::restrict(manifest, grain, periods);
                let ctx = self.session(&restricted, grain).await?;
                for &i in members {
                    let t = &self.tiles[i];
                    let fresh = compute::run_sql(&ctx, t).await?;
                    if let Some(stray) = fresh.iter().find(|r| !periods.contains(&r.period)) {
                        tracing::warn!(
                            tile = %t.meta.id,
                            period = %stray.period,
                            "the tile is marked incremental but rows filed under other months \
                             fall in this period; computing it in full"
                        );
                        broken.insert(i);
                        continue;
                    }
                    let mut merged: Vec<RawRow> = cached_rows(&t.meta.id, grain)
                        .iter()
                        .filter(|r| !periods.contains(&r.period))
                        .cloned()
                        .collect();
                    merged.extend(fresh);
                    rows[i].insert(grain, merged);
                }
            }
            for i in &broken {
                decisions[*i] = Plan::Full("rows outside the periods recomputed".into());
            }
            let full: Vec<usize> = (0..self.tiles.len())
                .filter(|&i| wanted(i) && matches!(decisions[i], Plan::Full(_)))
                .collect();
            if !full.is_empty() {
                let ctx = self.session(manifest, grain).await?;
                for i in full {
                    rows[i].insert(grain, compute::run_sql(&ctx, &self.tiles[i]).await?);
                }
            }
            for (i, t) in self.tiles.iter().enumerate() {
                if wanted(i) && matches!(decisions[i], Plan::Reuse) {
                    rows[i].insert(grain, cached_rows(&t.meta.id, grain).to_vec());
                }
            }
        }
        for (t, d) in self.tiles.iter().zip(&decisions) {
            let id = t.meta.id.clone();
            match d {
                Plan::Full(why) => report.full.push((id, why.clone())),
                Plan::Partial(m) => report.partial.push((id, m.iter().cloned().collect())),
                Plan::Reuse => report.reused.push(id),
            }
        }

        let mut cache = RawCache {
            format: incremental::FORMAT,
            engine: incremental::engine_version(),
            inputs: fingerprints,
            ends,
            tiles: BTreeMap::new(),
        };
        let mut tiles = Vec::with_capacity(self.tiles.len());
        for ((t, reads), per_grain) in self.tiles.iter().zip(plans).zip(rows) {
            let series = per_grain
                .iter()
                .map(|(grain, rows)| (*grain, compute::figures(t, *grain, rows, &inputs)))
                .collect();
            tiles.push(compute::tile(t, series, &inputs));
            cache.tiles.insert(
                t.meta.id.clone(),
                CachedTile {
                    version: t.version(),
                    reads,
                    rows: per_grain,
                },
            );
        }
        Ok(Computation {
            tiles,
            cache,
            recomputed: report,
        })
    }

    /// Computes every tile and publishes the result as a new snapshot, recomputing only
    /// the periods whose input files changed since the latest snapshot.
    pub async fn publish(&self) -> Result<TilesDoc> {
        Ok(self.publish_with(false).await?.0)
    }

    /// Publishes a new snapshot; `full` recomputes every tile over all of its data. Also
    /// tells what was recomputed.
    pub async fn publish_with(&self, full: bool) -> Result<(TilesDoc, Recomputed)> {
        let manifest = self.warehouse.manifest().await?;
        let previous = if full {
            None
        } else {
            self.previous_rows(&manifest).await
        };
        let computed_at = Utc::now();
        let Computation {
            tiles,
            cache,
            recomputed,
        } = self
            .compute_from(&manifest, computed_at, previous.as_ref())
            .await?;
        tracing::info!("{recomputed}");
        let snapshot_id = format!(
            "{}-{}",
            computed_at.format("%Y%m%dT%H%M%S%3fZ"),
            &uuid::Uuid::new_v4().simple().to_string()[..6]
        );
        let doc = TilesDoc {
            snapshot_id: snapshot_id.clone(),
            computed_at,
            data_version: manifest.version,
            strategy: self.strategy.clone(),
            tiles,
        };
        let path = format!("tiles/{snapshot_id}");
        let batch = doc.to_batch()?;
        let (rows, _) = write_parquet(
            &self.warehouse,
            &format!("{path}/tiles.parquet"),
            tile_rows_schema(),
            &[batch],
        )
        .await?;
        let json = serde_json::to_vec(&doc).map_err(|e| Error::Snapshot {
            path: path.clone(),
            message: e.to_string(),
        })?;
        self.warehouse
            .put(&format!("{path}/tiles.json"), Bytes::from(json))
            .await?;
        let raw = serde_json::to_vec(&cache).map_err(|e| Error::Snapshot {
            path: path.clone(),
            message: e.to_string(),
        })?;
        self.warehouse
            .put(&format!("{path}/{RAW_FILE}"), Bytes::from(raw))
            .await?;
        let record = SnapshotRecord {
            id: snapshot_id,
            computed_at,
            data_version: manifest.version,
            path,
            rows,
            definitions: self
                .tiles
                .iter()
                .map(|t| (t.meta.id.clone(), t.version()))
                .collect(),
        };
        self.warehouse
            .commit(&format!("publish tiles {}", record.id), |m| {
                m.snapshots.push(record.clone());
                Ok(())
            })
            .await?;
        Ok((doc, recomputed))
    }

    /// The rows the latest snapshot kept for reuse; none when there is no snapshot or its
    /// rows cannot be read (the publish is then a full one, and says why in the log).
    async fn previous_rows(&self, manifest: &Manifest) -> Option<RawCache> {
        let latest = manifest.latest_snapshot()?;
        let path = format!("{}/{RAW_FILE}", latest.path);
        let read = async {
            let bytes = self.warehouse.get(&path).await.map_err(|e| e.to_string())?;
            serde_json::from_slice::<RawCache>(&bytes).map_err(|e| e.to_string())
        };
        match read.await {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::info!(path = %path, "earlier tile rows not reused: {e}");
                None
            }
        }
    }
}

/// File beside each snapshot's `tiles.json` with the rows the next publish may reuse.
pub const RAW_FILE: &str = "raw.json";

/// The result of computing tiles.
#[derive(Debug, Clone)]
pub struct Computation {
    /// The tiles.
    pub tiles: Vec<Tile>,
    /// The rows behind them, for the next incremental publish.
    pub cache: RawCache,
    /// What was recomputed.
    pub recomputed: Recomputed,
}

/// Reads a published snapshot: the latest, or the one in force at `as_of`.
pub async fn read_snapshot(wh: &Warehouse, as_of: Option<DateTime<Utc>>) -> Result<TilesDoc> {
    let manifest = wh.manifest().await?;
    let record = match as_of {
        None => manifest.latest_snapshot().ok_or_else(|| {
            Error::NoSnapshot("no tiles have been computed yet: run `tilannekuva compute` (or `tilannekuva demo`)".into())
        })?,
        Some(at) => manifest.snapshot_as_of(at).ok_or_else(|| {
            let first = manifest.snapshots.iter().map(|s| s.computed_at).min();
            Error::NoSnapshot(match first {
                Some(f) => format!("no snapshot was published at or before {at}; the first is from {f}"),
                None => "no tiles have been computed yet".into(),
            })
        })?,
    };
    let path = format!("{}/tiles.json", record.path);
    let bytes = wh.get(&path).await?;
    serde_json::from_slice(&bytes).map_err(|e| Error::Snapshot {
        path,
        message: e.to_string(),
    })
}
