//! Making the committed tables queryable with DataFusion SQL.

use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock};

use arrow::array::RecordBatch;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::datasource::MemTable;
use datafusion::execution::context::SessionContext;
use datafusion::prelude::ParquetReadOptions;
use sha2::{Digest, Sha256};

use crate::{Manifest, Result, Warehouse, parquet_io};

/// Folder of the warehouse holding the rows sessions read that are not a table's committed
/// files (code lists, the calendar, a table without files yet), written when the queries run
/// on other machines: see [`Rows::AsFiles`].
pub const SHIPPED_ROWS: &str = "_engine/rows";

/// How a session holds rows that are not files of the warehouse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Rows {
    /// In memory: the queries run in this process.
    #[default]
    InMemory,
    /// As Parquet files in the warehouse (under [`SHIPPED_ROWS`], named by their content, so
    /// the same rows are written once): the queries run on cluster nodes, which read the
    /// warehouse's store but not this process's memory.
    AsFiles,
}

/// Name of the quarantine table, both in the manifest and in SQL.
pub const QUARANTINE_TABLE: &str = "quarantine";

static QUARANTINE_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    let ts = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    Arc::new(Schema::new(vec![
        Field::new("source", DataType::Utf8, false),
        Field::new("file_name", DataType::Utf8, false),
        Field::new("file_sha256", DataType::Utf8, false),
        Field::new("line", DataType::Int64, false),
        Field::new("column", DataType::Utf8, true),
        Field::new("column_number", DataType::Int64, true),
        Field::new("raw_value", DataType::Utf8, true),
        Field::new("reason", DataType::Utf8, false),
        Field::new("load_id", DataType::Utf8, false),
        Field::new("quarantined_at", ts, false),
        // Added after the first releases: files written before it read it as null.
        Field::new("sheet", DataType::Utf8, true),
    ]))
});

/// Columns of the quarantine table.
pub fn quarantine_schema() -> SchemaRef {
    QUARANTINE_SCHEMA.clone()
}

impl Warehouse {
    /// Registers every table of `manifest` in `ctx`, under its own name. Tables named in
    /// `schemas` that have no files yet are registered empty (held as `rows` says), so SQL
    /// over them plans.
    pub async fn register_tables(
        &self,
        ctx: &SessionContext,
        manifest: &Manifest,
        schemas: &BTreeMap<String, SchemaRef>,
        rows: Rows,
    ) -> Result<()> {
        self.register_store(ctx);
        let mut all = schemas.clone();
        all.insert(QUARANTINE_TABLE.to_string(), quarantine_schema());
        for (name, schema) in &all {
            let files = manifest.files(name);
            if files.is_empty() {
                let empty = RecordBatch::new_empty(schema.clone());
                self.register_rows(ctx, name, empty, rows).await?;
                continue;
            }
            let urls: Vec<String> = files.iter().map(|f| self.object_url(&f.path)).collect();
            self.register_files(ctx, name, urls, schema).await?;
        }
        Ok(())
    }

    /// Registers `batch` in `ctx` as the table `name`, held as `rows` says.
    pub async fn register_rows(
        &self,
        ctx: &SessionContext,
        name: &str,
        batch: RecordBatch,
        rows: Rows,
    ) -> Result<()> {
        let schema = batch.schema();
        match rows {
            Rows::InMemory => {
                let table = MemTable::try_new(schema, vec![vec![batch]])?;
                ctx.register_table(name, Arc::new(table))?;
            }
            Rows::AsFiles => {
                let bytes = parquet_io::parquet_bytes(name, &schema, &[batch])?;
                let digest = hex::encode(&Sha256::digest(&bytes)[..12]);
                let path = format!("{SHIPPED_ROWS}/{name}-{digest}.parquet");
                self.put_new(&path, bytes).await?;
                self.register_store(ctx);
                self.register_files(ctx, name, vec![self.object_url(&path)], &schema)
                    .await?;
            }
        }
        Ok(())
    }

    /// Registers the Parquet files at `urls` in `ctx` as the table `name` of `schema`.
    async fn register_files(
        &self,
        ctx: &SessionContext,
        name: &str,
        urls: Vec<String>,
        schema: &SchemaRef,
    ) -> Result<()> {
        let opts = ParquetReadOptions::default().schema(schema.as_ref());
        let df = ctx.read_parquet(urls, opts).await?;
        ctx.register_table(name, df.into_view())?;
        Ok(())
    }
}
