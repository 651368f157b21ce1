//! The engine: DataFusion sessions over the warehouse, computing every tile and publishing
//! snapshots.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::RecordBatch;
use arrow::datatypes::{DataType, Field, Schema};
use chrono::{DateTime, Utc};
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::context::SessionState;
use datafusion::prelude::{SessionConfig, SessionContext};
use futures::StreamExt;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tilannekuva_conventions::datetime::epoch_days;
use tilannekuva_warehouse::catalog::{TableDef, schemas};
use tilannekuva_warehouse::{Manifest, Rows, Warehouse};

use crate::compute::{self, ExpectedSource, QueryRow, Tile};
use crate::definition::TileDef;
use crate::incremental::{self, CachedTile, Recompute, Recomputed, ReusableRows};
use crate::snapshot::{self, TilesDoc};
use crate::strategy::Strategy;
use crate::{Error, Grain, Result, roll_up, udf};

/// `[engine]` of the main config: where tile SQL runs. The tiles, their SQL and their
/// results are the same either way.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum EngineSettings {
    /// In this process (the default).
    #[default]
    Local,
    /// On an Apache Ballista cluster, through its scheduler at `scheduler`
    /// (`df://host:50050`); its executors read the warehouse's store themselves.
    Ballista {
        /// The scheduler's address.
        scheduler: String,
    },
}

/// Where the queries of a session run: this process ([`LocalEngine`]) or a cluster.
#[async_trait::async_trait]
pub trait QueryEngine: fmt::Debug + Send + Sync {
    /// A session over `state` whose queries run on this engine; the caller registers the
    /// tables and functions afterwards.
    async fn session(&self, state: SessionState) -> Result<SessionContext>;
    /// How a session holds rows that are not files of the warehouse: in memory when the
    /// queries run here, as files when nodes elsewhere run them.
    fn rows(&self) -> Rows;
    /// What the engine is, for messages and status: `local`, `Ballista at df://…`.
    fn describe(&self) -> String;
    /// Whether the engine can take queries now; why not otherwise. This process always can.
    async fn check(&self) -> std::result::Result<(), String> {
        Ok(())
    }
}

/// Queries run in this process.
#[derive(Debug, Clone, Copy, Default)]
pub struct LocalEngine;

#[async_trait::async_trait]
impl QueryEngine for LocalEngine {
    async fn session(&self, state: SessionState) -> Result<SessionContext> {
        Ok(SessionContext::new_with_state(state))
    }
    fn rows(&self) -> Rows {
        Rows::InMemory
    }
    fn describe(&self) -> String {
        "local".into()
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
    /// Code lists tile SQL reads beside the warehouse's tables (`lookup_units`, …).
    pub references: Vec<ReferenceTable>,
    /// Where the SQL runs.
    pub query_engine: Arc<dyn QueryEngine>,
}

/// A small table tile SQL reads beside the warehouse's tables, built from the config each
/// time tiles are computed rather than stored in the warehouse: the lookups of
/// `config/lookups/` as `lookup_<name>` and `lookup_<name>_series`. A tile reading one is
/// recomputed in full when its rows change (a unit merged in the config continues old
/// figures under the new unit at the next publish).
#[derive(Debug, Clone)]
pub struct ReferenceTable {
    /// The table's name in SQL.
    pub name: String,
    /// Its rows.
    pub batch: RecordBatch,
    /// A digest of the rows, part of the version of every tile reading the table.
    pub version: String,
}

impl ReferenceTable {
    /// The table `name` holding `batch`.
    pub fn new(name: impl Into<String>, batch: RecordBatch) -> Result<Self> {
        let text = arrow::util::pretty::pretty_format_batches(std::slice::from_ref(&batch))
            .map_err(|e| Error::DataFusion(e.into()))?
            .to_string();
        let mut h = Sha256::new();
        h.update(batch.schema_ref().to_string().as_bytes());
        h.update(text.as_bytes());
        Ok(Self {
            name: name.into(),
            batch,
            version: hex::encode(&h.finalize()[..8]),
        })
    }
}

/// The `calendar` table's rows for 2015–2035, made once per process (every session
/// registers them).
fn calendar() -> Result<RecordBatch> {
    static CALENDAR: std::sync::OnceLock<RecordBatch> = std::sync::OnceLock::new();
    if let Some(batch) = CALENDAR.get() {
        return Ok(batch.clone());
    }
    let batch = calendar_rows(2015, 2035)?;
    Ok(CALENDAR.get_or_init(|| batch).clone())
}

/// The `calendar` table's rows: every day from the start of `from` to the end of `to`.
fn calendar_rows(from: i32, to: i32) -> Result<RecordBatch> {
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
    Ok(batch)
}

impl Engine {
    /// The SQL session tiles are computed in: every canonical table and the quarantine at
    /// `manifest`, the Finnish functions for `grain` and a `calendar` table. People reading
    /// the warehouse get [`Engine::reading_session`], which adds the published tiles.
    pub async fn session(&self, manifest: &Manifest, grain: Grain) -> Result<SessionContext> {
        self.session_with(manifest, grain, &schemas(&self.tables))
            .await
    }

    /// [`Engine::session`] with only the canonical tables of `tables` (the quarantine always).
    pub(crate) async fn session_with(
        &self,
        manifest: &Manifest,
        grain: Grain,
        tables: &BTreeMap<String, arrow::datatypes::SchemaRef>,
    ) -> Result<SessionContext> {
        self.session_on(self.query_engine.as_ref(), manifest, grain, tables)
            .await
    }

    /// A session only for planning (the tables each tile reads, whether its SQL is valid):
    /// the same tables, none of their files, and the same functions, in this process
    /// whatever engine runs the queries.
    async fn planning_session(&self, grain: Grain) -> Result<SessionContext> {
        let tables = schemas(&self.tables);
        self.session_on(&LocalEngine, &Manifest::default(), grain, &tables)
            .await
    }

    /// A session on `engine`.
    async fn session_on(
        &self,
        engine: &dyn QueryEngine,
        manifest: &Manifest,
        grain: Grain,
        tables: &BTreeMap<String, arrow::datatypes::SchemaRef>,
    ) -> Result<SessionContext> {
        let config = SessionConfig::new()
            .with_target_partitions(2)
            .with_information_schema(true);
        let state = SessionStateBuilder::new()
            .with_config(config)
            .with_default_features()
            .build();
        let ctx = engine.session(state).await?;
        let rows = engine.rows();
        self.warehouse
            .register_tables(&ctx, manifest, tables, rows)
            .await?;
        udf::register(&ctx, grain);
        self.warehouse
            .register_rows(&ctx, "calendar", calendar()?, rows)
            .await?;
        for r in &self.references {
            self.warehouse
                .register_rows(&ctx, &r.name, r.batch.clone(), rows)
                .await?;
        }
        Ok(ctx)
    }

    /// A digest of what the tables a tile reads are found from: its definition and every
    /// table's name and schema (the warehouse's, the quarantine's and the code lists; the
    /// calendar and the functions are the engine's, whose version the rows carry).
    fn planned_key(&self, tile: &TileDef, catalog: &str) -> String {
        let mut h = Sha256::new();
        h.update(tile.version().as_bytes());
        h.update(catalog.as_bytes());
        hex::encode(&h.finalize()[..12])
    }

    /// A digest of every table's name and schema, for [`Engine::planned_key`].
    fn catalog_digest(&self) -> String {
        let mut h = Sha256::new();
        for (name, schema) in schemas(&self.tables) {
            h.update([0]);
            h.update(name.as_bytes());
            h.update(format!("{:?}", schema.fields()).as_bytes());
        }
        for r in &self.references {
            h.update([1]);
            h.update(r.name.as_bytes());
            h.update(format!("{:?}", r.batch.schema().fields()).as_bytes());
        }
        hex::encode(&h.finalize()[..12])
    }

    /// The version `tile`'s rows are computed with: its definition's, and the rows of the
    /// reference tables among `reads`.
    fn version_of(&self, tile: &TileDef, reads: &[String]) -> String {
        let mut version = tile.version();
        for r in self.references.iter().filter(|r| reads.contains(&r.name)) {
            version.push_str(&format!("+{}:{}", r.name, r.version));
        }
        version
    }

    /// Checks every tile's metadata against the strategy and the tables, and plans its SQL
    /// without running it; returns every problem.
    pub async fn check_definitions(&self) -> Result<Vec<String>> {
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
        let ctx = self.planning_session(Grain::Quarter).await?;
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
                    if t.meta.roll_up.is_some() {
                        for required in ["numerator", "denominator"] {
                            if schema.field_with_unqualified_name(required).is_err() {
                                problems.push(format!(
                                    "{}: `roll_up` adds up quarters and years from the months' \
                                     counts, so the query must return a column `{required}`",
                                    t.sql_path.display()
                                ));
                            }
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
        previous: Option<&ReusableRows>,
    ) -> Result<Computation> {
        self.compute_forcing(manifest, now, previous, &BTreeSet::new())
            .await
    }

    /// How each tile would be computed over the live files (their `fingerprints` and
    /// `ends`), given the rows of `previous`, with the periods containing `forced` months
    /// (`YYYY-MM`) recomputed whether or not their files changed; also the tables each
    /// tile reads.
    async fn decisions(
        &self,
        previous: Option<&ReusableRows>,
        forced: &BTreeSet<String>,
        fingerprints: &BTreeMap<String, BTreeMap<String, String>>,
        ends: &BTreeMap<String, DateTime<Utc>>,
    ) -> Result<(Vec<Vec<String>>, Vec<Recompute>)> {
        // The tables each tile reads, from its query plan, or from the previous snapshot's
        // rows when neither the definition nor the tables changed since it was planned.
        let catalog = self.catalog_digest();
        let known: Vec<Option<Vec<String>>> = self
            .tiles
            .iter()
            .map(|t| {
                previous
                    .and_then(|p| p.tiles.get(&t.meta.id))
                    .filter(|c| c.planned == self.planned_key(t, &catalog))
                    .map(|c| c.reads.clone())
            })
            .collect();
        let planning = if known.iter().any(Option::is_none) {
            Some(self.planning_session(Grain::Month).await?)
        } else {
            None
        };
        let plans: Vec<_> = self
            .tiles
            .iter()
            .zip(known)
            .map(|(t, known)| {
                let (ctx, tile) = (planning.clone(), t.clone());
                on_own_task(&t.sql_path, async move {
                    match (known, ctx) {
                        (Some(reads), _) => Ok(reads),
                        (None, Some(ctx)) => {
                            let df = ctx.sql(&tile.sql).await.map_err(|e| Error::sql(&tile, e))?;
                            Ok(incremental::tables_read(df.logical_plan()))
                        }
                        (None, None) => unreachable!("a planning session when any tile needs one"),
                    }
                })
            })
            .collect();
        let reads = futures::future::try_join_all(plans).await?;
        let decisions = self
            .tiles
            .iter()
            .zip(&reads)
            .map(|(t, reads)| {
                let version = self.version_of(t, reads);
                let decision =
                    incremental::decide(t, &version, reads, previous, fingerprints, ends);
                match decision {
                    // Periods forced on a tile that is not incremental: it is computed in full.
                    Recompute::Reuse if !t.meta.incremental && !forced.is_empty() => {
                        Recompute::Full("not incremental".into())
                    }
                    decision => decision.forcing(forced),
                }
            })
            .collect();
        Ok((reads, decisions))
    }

    /// What a publish recomputing the periods of `forced` months would compute, without
    /// computing it: for `backfill --dry-run`.
    pub async fn plan_forcing(&self, forced: &BTreeSet<String>) -> Result<Recomputed> {
        let manifest = self.warehouse.manifest().await?;
        let previous = self.previous_rows(&manifest).await;
        let previous = previous.as_ref().filter(|p| p.usable());
        let (fingerprints, ends) = (
            incremental::fingerprints(&manifest),
            incremental::ends(&manifest),
        );
        let (_, decisions) = self
            .decisions(previous, forced, &fingerprints, &ends)
            .await?;
        Ok(Recomputed::of(&self.tiles, &decisions))
    }

    /// [`Engine::compute_from`], recomputing the periods that contain `forced` months
    /// (`YYYY-MM`) even when their files did not change.
    pub async fn compute_forcing(
        &self,
        manifest: &Manifest,
        now: DateTime<Utc>,
        previous: Option<&ReusableRows>,
        forced: &BTreeSet<String>,
    ) -> Result<Computation> {
        let started = Instant::now();
        // An engine that cannot take queries fails the computation even when every row could
        // be reused: a cluster that is down is said at once, not when data next changes.
        self.query_engine
            .check()
            .await
            .map_err(|message| Error::Engine {
                engine: self.query_engine.describe(),
                message,
            })?;
        let inputs = compute::Inputs::new(manifest, &self.expected, now);
        let fingerprints = incremental::fingerprints(manifest);
        let ends = incremental::ends(manifest);
        let previous = previous.filter(|p| p.usable());
        let (reads, mut decisions) = self
            .decisions(previous, forced, &fingerprints, &ends)
            .await?;
        let planned = started.elapsed();

        // The rows the previous snapshot kept for a tile and grain.
        let cached_rows = |id: &str, grain: Grain| -> &[QueryRow] {
            previous
                .and_then(|p| p.tiles.get(id))
                .and_then(|c| c.rows.get(&grain))
                .map_or(&[], Vec::as_slice)
        };
        let wanted = |i: usize, grain: Grain| self.tiles[i].meta.grains.contains(&grain);
        let by_query = |i: usize, grain: Grain| self.tiles[i].queried_at(grain);
        // Every batch of queries, per grain: the tiles computed in part, grouped by the
        // periods they recompute (each group reads only the files of its periods), then the
        // tiles computed in full.
        let mut batches = Vec::new();
        for grain in Grain::ALL {
            let mut groups: BTreeMap<BTreeSet<String>, Vec<usize>> = BTreeMap::new();
            for (i, d) in decisions.iter().enumerate() {
                if let (true, Recompute::Periods(months)) = (by_query(i, grain), d) {
                    groups
                        .entry(incremental::periods_of(grain, months))
                        .or_default()
                        .push(i);
                }
            }
            for (periods, members) in groups {
                batches.push(QueryBatch {
                    grain,
                    periods: Some(periods),
                    members,
                });
            }
            let full: Vec<usize> = (0..self.tiles.len())
                .filter(|&i| by_query(i, grain) && matches!(decisions[i], Recompute::Full(_)))
                .collect();
            if !full.is_empty() {
                batches.push(QueryBatch {
                    grain,
                    periods: None,
                    members: full,
                });
            }
        }

        let mut rows: Vec<BTreeMap<Grain, Vec<QueryRow>>> = vec![BTreeMap::new(); self.tiles.len()];
        let mut broken = BTreeSet::new();
        for (batch, results) in batches
            .iter()
            .zip(self.run_batches(manifest, &batches).await?)
        {
            for (&i, fresh) in batch.members.iter().zip(results) {
                let t = &self.tiles[i];
                let Some(periods) = &batch.periods else {
                    rows[i].insert(batch.grain, fresh);
                    continue;
                };
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
                let mut merged: Vec<QueryRow> = cached_rows(&t.meta.id, batch.grain)
                    .iter()
                    .filter(|r| !periods.contains(&r.period))
                    .cloned()
                    .collect();
                merged.extend(fresh);
                rows[i].insert(batch.grain, merged);
            }
        }
        // A tile whose rows broke the contract of an incremental tile is computed in full, at
        // every grain.
        if !broken.is_empty() {
            for &i in &broken {
                decisions[i] = Recompute::Full("rows outside the periods recomputed".into());
            }
            self.query_in_full(manifest, &Grain::ALL, &broken, by_query, &mut rows)
                .await?;
        }
        // Quarters and years added up from the months, for the tiles that roll up; a tile
        // whose month rows do not fit its declaration has them queried instead.
        let mut unrolled = BTreeSet::new();
        for (i, t) in self.tiles.iter().enumerate() {
            let Some(how) = t.meta.roll_up else { continue };
            if matches!(decisions[i], Recompute::Reuse) || !wanted(i, Grain::Month) {
                continue;
            }
            for grain in [Grain::Quarter, Grain::Year] {
                if !wanted(i, grain) {
                    continue;
                }
                let months = rows[i].get(&Grain::Month).map_or(&[][..], Vec::as_slice);
                match roll_up::from_months(how, grain, months) {
                    Ok(added_up) => {
                        rows[i].insert(grain, added_up);
                    }
                    Err(why) => {
                        tracing::warn!(
                            tile = %t.meta.id,
                            "`roll_up = \"{}\"` does not fit the month rows ({why}); \
                             querying the quarters and years instead",
                            how.as_str()
                        );
                        unrolled.insert(i);
                        break;
                    }
                }
            }
        }
        if !unrolled.is_empty() {
            let grains = [Grain::Quarter, Grain::Year];
            self.query_in_full(manifest, &grains, &unrolled, wanted, &mut rows)
                .await?;
        }
        for grain in Grain::ALL {
            for (i, t) in self.tiles.iter().enumerate() {
                if wanted(i, grain) && matches!(decisions[i], Recompute::Reuse) {
                    rows[i].insert(grain, cached_rows(&t.meta.id, grain).to_vec());
                }
            }
        }
        let report = Recomputed::of(&self.tiles, &decisions);
        let queried = started.elapsed();

        let mut cache = ReusableRows {
            format: incremental::FORMAT,
            engine: incremental::engine_version(),
            inputs: fingerprints,
            ends,
            tiles: BTreeMap::new(),
        };
        let catalog = self.catalog_digest();
        let mut tiles = Vec::with_capacity(self.tiles.len());
        for ((t, reads), per_grain) in self.tiles.iter().zip(reads).zip(rows) {
            let protections = compute::protections(t, &per_grain);
            let none = BTreeMap::new();
            let series = per_grain
                .iter()
                .map(|(grain, rows)| {
                    let p = protections.get(grain).unwrap_or(&none);
                    (*grain, compute::figures(t, *grain, rows, &inputs, p))
                })
                .collect();
            tiles.push(compute::tile(t, series, &inputs));
            cache.tiles.insert(
                t.meta.id.clone(),
                CachedTile {
                    version: self.version_of(t, &reads),
                    reads,
                    planned: self.planned_key(t, &catalog),
                    rows: per_grain,
                },
            );
        }
        tracing::debug!(
            tiles = self.tiles.len(),
            queries = batches.iter().map(|b| b.members.len()).sum::<usize>(),
            planning_ms = ms(planned),
            queries_ms = ms(queried - planned),
            figures_ms = ms(started.elapsed() - queried),
            "tiles computed"
        );
        Ok(Computation {
            tiles,
            cache,
            recomputed: report,
        })
    }

    /// Runs the queries of the tiles `members` over all of their data, at each of `grains`
    /// where `at(tile, grain)`, and puts the rows in `rows` (by tile, then grain).
    async fn query_in_full(
        &self,
        manifest: &Manifest,
        grains: &[Grain],
        members: &BTreeSet<usize>,
        at: impl Fn(usize, Grain) -> bool,
        rows: &mut [BTreeMap<Grain, Vec<QueryRow>>],
    ) -> Result<()> {
        let batches: Vec<QueryBatch> = grains
            .iter()
            .map(|&grain| QueryBatch {
                grain,
                periods: None,
                members: members.iter().copied().filter(|&i| at(i, grain)).collect(),
            })
            .filter(|b| !b.members.is_empty())
            .collect();
        for (batch, results) in batches
            .iter()
            .zip(self.run_batches(manifest, &batches).await?)
        {
            for (&i, fresh) in batch.members.iter().zip(results) {
                rows[i].insert(batch.grain, fresh);
            }
        }
        Ok(())
    }

    /// Runs the queries of `batches`, each batch's in a session of its own over `manifest`
    /// (restricted to the batch's periods when it has them), at most [`QUERIES_IN_FLIGHT`]
    /// queries at once; the rows of each batch's members, in order. The first failure, in
    /// the order of the batches, is the error.
    async fn run_batches(
        &self,
        manifest: &Manifest,
        batches: &[QueryBatch],
    ) -> Result<Vec<Vec<Vec<QueryRow>>>> {
        let sessions = futures::future::try_join_all(batches.iter().map(|b| async move {
            match &b.periods {
                Some(periods) => {
                    let restricted = incremental::restrict(manifest, b.grain, periods);
                    self.session(&restricted, b.grain).await
                }
                None => self.session(manifest, b.grain).await,
            }
        }))
        .await?;
        let queries: Vec<(SessionContext, TileDef)> = batches
            .iter()
            .zip(&sessions)
            .flat_map(|(b, ctx)| {
                b.members
                    .iter()
                    .map(|&i| (ctx.clone(), self.tiles[i].clone()))
            })
            .collect();
        let mut results = futures::stream::iter(queries)
            .map(|(ctx, tile): (SessionContext, TileDef)| {
                let sql_path = tile.sql_path.clone();
                on_own_task(
                    &sql_path,
                    async move { compute::run_sql(&ctx, &tile).await },
                )
            })
            .buffered(QUERIES_IN_FLIGHT)
            .collect::<Vec<_>>()
            .await
            .into_iter();
        batches
            .iter()
            .map(|b| -> Result<Vec<Vec<QueryRow>>> {
                results.by_ref().take(b.members.len()).collect()
            })
            .collect()
    }

    /// Computes every tile and publishes the result as a new snapshot, recomputing only
    /// the periods whose input files changed since the latest snapshot.
    pub async fn publish(&self) -> Result<TilesDoc> {
        Ok(self.publish_with(false).await?.0)
    }

    /// Publishes a new snapshot; `full` recomputes every tile over all of its data. Also
    /// tells what was recomputed.
    pub async fn publish_with(&self, full: bool) -> Result<(TilesDoc, Recomputed)> {
        self.publish_how(full, &BTreeSet::new()).await
    }

    /// Publishes a new snapshot recomputing the periods that contain `forced` months
    /// (`YYYY-MM`) as well as those whose files changed: a compute job's backfill.
    pub async fn publish_forcing(
        &self,
        forced: &BTreeSet<String>,
    ) -> Result<(TilesDoc, Recomputed)> {
        self.publish_how(false, forced).await
    }

    async fn publish_how(
        &self,
        full: bool,
        forced: &BTreeSet<String>,
    ) -> Result<(TilesDoc, Recomputed)> {
        let started = Instant::now();
        let manifest = self.warehouse.manifest().await?;
        let previous = if full {
            None
        } else {
            self.previous_rows(&manifest).await
        };
        let read = started.elapsed();
        let computed_at = Utc::now();
        let Computation {
            tiles,
            cache,
            recomputed,
        } = self
            .compute_forcing(&manifest, computed_at, previous.as_ref(), forced)
            .await?;
        tracing::info!("{recomputed}");
        let computed = started.elapsed();
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
        let definitions = self
            .tiles
            .iter()
            .map(|t| (t.meta.id.clone(), t.version()))
            .collect();
        let record = snapshot::write(&self.warehouse, &doc, &cache, definitions).await?;
        let written = started.elapsed();
        self.warehouse
            .commit(&format!("publish tiles {}", record.id), |m| {
                m.snapshots.push(record.clone());
                Ok(())
            })
            .await?;
        tracing::debug!(
            snapshot = %record.id,
            read_ms = ms(read),
            compute_ms = ms(computed - read),
            write_ms = ms(written - computed),
            commit_ms = ms(started.elapsed() - written),
            "tiles published"
        );
        Ok((doc, recomputed))
    }

    /// The rows the latest snapshot kept for reuse; none when there is no snapshot or its
    /// rows cannot be read (the publish is then a full one, and says why in the log).
    async fn previous_rows(&self, manifest: &Manifest) -> Option<ReusableRows> {
        let latest = manifest.latest_snapshot()?;
        match snapshot::read_reusable_rows(&self.warehouse, latest).await {
            Ok(rows) => Some(rows),
            Err(e) => {
                tracing::info!(snapshot = %latest.id, "earlier tile rows not reused: {e}");
                None
            }
        }
    }
}

/// Milliseconds, for the log.
fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Tile queries running at once. Each query's scans already use every core; running a few
/// side by side overlaps one query's planning and its single-task final steps (an exact
/// median, the last merge of an aggregation) with another's scans, and bounds the memory of
/// the aggregations held at once.
const QUERIES_IN_FLIGHT: usize = 4;

/// Starts `work` for the tile of the SQL file `sql_path` on a task of its own, so that the
/// planning and the last steps of several tiles' queries run on every core; what it
/// returns, and a panic in it, reach the caller when awaited.
fn on_own_task<T, F>(sql_path: &Path, work: F) -> impl Future<Output = Result<T>> + use<T, F>
where
    T: Send + 'static,
    F: Future<Output = Result<T>> + Send + 'static,
{
    let file = sql_path.display().to_string();
    let task = tokio::spawn(work);
    async move {
        match task.await {
            Ok(done) => done,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => Err(Error::Sql {
                file,
                line: None,
                message: format!("the query did not finish: {e}"),
            }),
        }
    }
}

/// Queries of one session: the tiles `members` (indexes into the engine's tiles) at `grain`,
/// over the files of `periods` only, or over all files when `None`.
struct QueryBatch {
    grain: Grain,
    periods: Option<BTreeSet<String>>,
    members: Vec<usize>,
}

/// The result of computing tiles.
#[derive(Debug, Clone)]
pub struct Computation {
    /// The tiles.
    pub tiles: Vec<Tile>,
    /// The rows behind them, for the next incremental publish.
    pub cache: ReusableRows,
    /// What was recomputed.
    pub recomputed: Recomputed,
}
