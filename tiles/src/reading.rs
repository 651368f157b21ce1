//! The SQL session people read the warehouse with: `tilannekuva sql` and BI tools over the
//! PostgreSQL protocol see the same tables, under the same names.
//!
//! | table | rows |
//! |---|---|
//! | every canonical table | the curated rows (see `docs/tables.md`) |
//! | `quarantine` | the rejected rows, with file, line, column and value |
//! | `calendar` | one per day 2015–2035: `date`, `is_working_day`, `holiday` |
//! | `lookup_<name>`, `lookup_<name>_series` | each code list's versions, and per key the series it continues as ([`crate::ReferenceTable`]) |
//! | `tiles` | one per published tile: titles, owner, unit, direction, placement, inputs, SQL |
//! | `tile_cells` | one per period total and breakdown cell ([`tile_rows_schema`]) |
//! | `tile_sources` | one per export a tile's figures were computed from |
//!
//! The tile tables hold the latest published snapshot. A reader limited to sectors (an
//! access token with `sectors`) sees only those sectors' tiles, the tables feeding them and
//! the quarantined rows of the sources filling those tables: the same rule as the desktop.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::catalog::Session;
use datafusion::datasource::{TableProvider, TableType};
use datafusion::logical_expr::{Expr, LogicalPlan, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::{ParquetReadOptions, SessionContext, col, lit};
use serde::Serialize;
use tilannekuva_warehouse::catalog::schemas;
use tilannekuva_warehouse::{Manifest, QUARANTINE_TABLE};

use crate::definition::Direction;
use crate::snapshot::{self, TilesDoc, serialize_rows, tile_rows_schema};
use crate::{Engine, Grain, Result};

/// The table of tiles, one row per published tile.
pub const TILES_TABLE: &str = "tiles";
/// The table of figures, one row per period total and breakdown cell.
pub const TILE_CELLS_TABLE: &str = "tile_cells";
/// The table of the exports behind each tile.
pub const TILE_SOURCES_TABLE: &str = "tile_sources";

/// Who reads: sector ids a reader is limited to, or `None` for every sector.
pub type Sectors<'a> = Option<&'a [String]>;

fn timestamp() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

/// Schema of the `tiles` table.
pub fn tiles_schema() -> SchemaRef {
    let text = |name: &str, nullable| Field::new(name, DataType::Utf8, nullable);
    Arc::new(Schema::new(vec![
        text("snapshot_id", false),
        Field::new("computed_at", timestamp(), false),
        text("tile_id", false),
        text("title_fi", false),
        text("title_sv", true),
        text("title_en", false),
        text("description_fi", false),
        text("description_en", false),
        text("unit", false),
        Field::new("decimals", DataType::Int64, false),
        text("direction", false),
        text("sector", false),
        text("owner_role", false),
        text("perspective", false),
        text("priorities", false),
        text("inputs", false),
        text("grains", false),
        Field::new("point_in_time", DataType::Boolean, false),
        Field::new("data_through", timestamp(), true),
        text("definition_version", false),
        text("sql", false),
    ]))
}

/// Schema of the `tile_sources` table.
pub fn tile_sources_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("snapshot_id", DataType::Utf8, false),
        Field::new("tile_id", DataType::Utf8, false),
        Field::new("source", DataType::Utf8, false),
        Field::new("file", DataType::Utf8, false),
        Field::new("sha256", DataType::Utf8, false),
        Field::new("loaded_at", timestamp(), false),
    ]))
}

#[derive(Serialize)]
struct TileRow<'a> {
    snapshot_id: &'a str,
    computed_at: i64,
    tile_id: &'a str,
    title_fi: &'a str,
    title_sv: Option<&'a str>,
    title_en: &'a str,
    description_fi: &'a str,
    description_en: &'a str,
    unit: &'a str,
    decimals: u32,
    direction: &'static str,
    sector: &'a str,
    owner_role: &'a str,
    perspective: &'a str,
    priorities: String,
    inputs: String,
    grains: String,
    point_in_time: bool,
    data_through: Option<i64>,
    definition_version: &'a str,
    sql: &'a str,
}

#[derive(Serialize)]
struct SourceRow<'a> {
    snapshot_id: &'a str,
    tile_id: &'a str,
    source: &'a str,
    file: &'a str,
    sha256: &'a str,
    loaded_at: i64,
}

fn may_see(sectors: Sectors<'_>, sector: &str) -> bool {
    sectors.is_none_or(|s| s.iter().any(|x| x == sector))
}

impl Engine {
    /// A SQL session for reading at `manifest` (see the module docs), with the Finnish
    /// functions for `grain`, limited to what readers of `sectors` may see.
    pub async fn reading_session(
        &self,
        manifest: &Manifest,
        grain: Grain,
        sectors: Sectors<'_>,
    ) -> Result<SessionContext> {
        let visible_tiles: Vec<&str> = self
            .tiles
            .iter()
            .filter(|t| may_see(sectors, &t.meta.owner.sector))
            .map(|t| t.meta.id.as_str())
            .collect();
        let tables: BTreeSet<&str> = match sectors {
            None => self.tables.keys().map(String::as_str).collect(),
            Some(_) => self
                .tiles
                .iter()
                .filter(|t| visible_tiles.contains(&t.meta.id.as_str()))
                .flat_map(|t| t.meta.inputs.iter().map(String::as_str))
                .collect(),
        };
        let schemas: BTreeMap<String, SchemaRef> = schemas(&self.tables)
            .into_iter()
            .filter(|(name, _)| tables.contains(name.as_str()))
            .collect();
        let ctx = self.session_with(manifest, grain, &schemas).await?;
        if sectors.is_some() {
            let sources: Vec<_> = tables
                .iter()
                .flat_map(|t| self.expected.get(*t).into_iter().flatten())
                .map(|e| lit(e.source.clone()))
                .collect();
            let all = ctx.table(QUARANTINE_TABLE).await?;
            let visible = all.filter(col("source").in_list(sources, false))?;
            ctx.deregister_table(QUARANTINE_TABLE)?;
            ctx.register_table(QUARANTINE_TABLE, visible.into_view())?;
        }
        let doc = match manifest.latest_snapshot() {
            Some(record) => Some((snapshot::read(&self.warehouse, record).await?, record)),
            None => None,
        };
        let doc_tiles = |doc: &TilesDoc| -> Vec<usize> {
            (0..doc.tiles.len())
                .filter(|i| may_see(sectors, &doc.tiles[*i].meta.owner.sector))
                .collect()
        };
        let (tiles, sources) = match &doc {
            Some((doc, _)) => {
                let shown = doc_tiles(doc);
                (tile_rows(doc, &shown)?, source_rows(doc, &shown)?)
            }
            None => (
                arrow::array::RecordBatch::new_empty(tiles_schema()),
                arrow::array::RecordBatch::new_empty(tile_sources_schema()),
            ),
        };
        let rows = self.query_engine.rows();
        self.warehouse
            .register_rows(&ctx, TILES_TABLE, tiles, rows)
            .await?;
        self.warehouse
            .register_rows(&ctx, TILE_SOURCES_TABLE, sources, rows)
            .await?;
        match &doc {
            Some((doc, record)) => {
                let url = self
                    .warehouse
                    .object_url(&format!("{}/tiles.parquet", record.path));
                let schema = tile_rows_schema();
                let mut cells = ctx
                    .read_parquet(url, ParquetReadOptions::default().schema(schema.as_ref()))
                    .await?;
                if sectors.is_some() {
                    let shown = doc_tiles(doc)
                        .into_iter()
                        .map(|i| lit(doc.tiles[i].meta.id.clone()))
                        .collect();
                    cells = cells.filter(col("tile_id").in_list(shown, false))?;
                }
                ctx.register_table(TILE_CELLS_TABLE, cells.into_view())?;
            }
            None => {
                let empty = arrow::array::RecordBatch::new_empty(tile_rows_schema());
                self.warehouse
                    .register_rows(&ctx, TILE_CELLS_TABLE, empty, rows)
                    .await?;
            }
        }
        as_base_tables(&ctx).await?;
        Ok(ctx)
    }
}

/// Registers every table of `ctx` again as a base table: readers see tables, not views, in
/// `information_schema` and `pg_catalog` (so `\dt` in psql and BI tools' table lists show
/// them), while the views still plan through to the Parquet files.
async fn as_base_tables(ctx: &SessionContext) -> Result<()> {
    let Some(schema) = ctx.catalog("datafusion").and_then(|c| c.schema("public")) else {
        return Ok(());
    };
    for name in schema.table_names() {
        if let Some(inner) = schema.table(&name).await? {
            schema.deregister_table(&name)?;
            schema.register_table(name, Arc::new(BaseTable(inner)))?;
        }
    }
    Ok(())
}

/// A table provider shown as a base table.
#[derive(Debug)]
struct BaseTable(Arc<dyn TableProvider>);

#[async_trait::async_trait]
impl TableProvider for BaseTable {
    fn schema(&self) -> SchemaRef {
        self.0.schema()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn get_logical_plan(&'_ self) -> Option<std::borrow::Cow<'_, LogicalPlan>> {
        self.0.get_logical_plan()
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> datafusion::error::Result<Arc<dyn ExecutionPlan>> {
        self.0.scan(state, projection, filters, limit).await
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> datafusion::error::Result<Vec<TableProviderFilterPushDown>> {
        self.0.supports_filters_pushdown(filters)
    }

    fn statistics(&self) -> Option<datafusion::common::Statistics> {
        self.0.statistics()
    }
}

fn tile_rows(doc: &TilesDoc, shown: &[usize]) -> Result<arrow::array::RecordBatch> {
    let rows: Vec<TileRow> = shown
        .iter()
        .map(|i| {
            let t = &doc.tiles[*i];
            let m = &t.meta;
            TileRow {
                snapshot_id: &doc.snapshot_id,
                computed_at: doc.computed_at.timestamp_micros(),
                tile_id: &m.id,
                title_fi: &m.title.fi,
                title_sv: m.title.sv.as_deref(),
                title_en: &m.title.en,
                description_fi: &m.description.fi,
                description_en: &m.description.en,
                unit: &m.unit,
                decimals: m.decimals,
                direction: match m.direction {
                    Direction::HigherIsBetter => "higher_is_better",
                    Direction::LowerIsBetter => "lower_is_better",
                },
                sector: &m.owner.sector,
                owner_role: &m.owner.role,
                perspective: &m.strategy.perspective,
                priorities: m
                    .strategy
                    .priority
                    .iter()
                    .map(|(period, priority)| format!("{period}: {priority}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                inputs: m.inputs.join(", "),
                grains: m
                    .grains
                    .iter()
                    .map(|g| g.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                point_in_time: m.point_in_time,
                data_through: t.data_through.map(|d| d.timestamp_micros()),
                definition_version: &t.definition_version,
                sql: &t.sql,
            }
        })
        .collect();
    serialize_rows(tiles_schema(), &rows)
}

fn source_rows(doc: &TilesDoc, shown: &[usize]) -> Result<arrow::array::RecordBatch> {
    let rows: Vec<SourceRow> = shown
        .iter()
        .flat_map(|i| {
            let t = &doc.tiles[*i];
            t.sources.iter().map(|s| SourceRow {
                snapshot_id: &doc.snapshot_id,
                tile_id: &t.meta.id,
                source: &s.source,
                file: &s.file,
                sha256: &s.sha256,
                loaded_at: s.loaded_at.timestamp_micros(),
            })
        })
        .collect();
    serialize_rows(tile_sources_schema(), &rows)
}
