//! Making the committed tables queryable with DataFusion SQL.

use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock};

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::datasource::MemTable;
use datafusion::execution::context::SessionContext;
use datafusion::prelude::ParquetReadOptions;

use crate::{Manifest, Result, Warehouse};

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
    /// `schemas` that have no files yet are registered empty, so SQL over them plans.
    pub async fn register_tables(
        &self,
        ctx: &SessionContext,
        manifest: &Manifest,
        schemas: &BTreeMap<String, SchemaRef>,
    ) -> Result<()> {
        self.register_store(ctx);
        let mut all = schemas.clone();
        all.insert(QUARANTINE_TABLE.to_string(), quarantine_schema());
        for (name, schema) in &all {
            let files = manifest.files(name);
            if files.is_empty() {
                let empty = MemTable::try_new(schema.clone(), vec![vec![]])?;
                ctx.register_table(name.as_str(), Arc::new(empty))?;
                continue;
            }
            let urls: Vec<String> = files.iter().map(|f| self.object_url(&f.path)).collect();
            let opts = ParquetReadOptions::default().schema(schema.as_ref());
            let df = ctx.read_parquet(urls, opts).await?;
            ctx.register_table(name.as_str(), df.into_view())?;
        }
        Ok(())
    }
}
