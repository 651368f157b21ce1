//! The SQL behaviour of tiles, in sqllogictest files: `sql/tests/*.slt`.
//!
//! Each file builds small fixture tables with plain SQL and checks query results. Two
//! extensions to plain SQL:
//! - `TILE <id>` runs the tile's own `sql/<id>.sql`, so the shipped definition is tested;
//! - `SET tilannekuva.grain = 'month' | 'quarter' | 'year'` sets what `fi_period()` returns.
//!
//! Regenerate expected results after a deliberate change with
//! `TILANNEKUVA_SLT_COMPLETE=1 cargo test -p tilannekuva-tiles --test slt`, then review the diff.

use std::path::{Path, PathBuf};

use arrow::util::display::{ArrayFormatter, FormatOptions};
use async_trait::async_trait;
use datafusion::prelude::SessionContext;
use sqllogictest::{DBOutput, DefaultColumnType};
use tilannekuva_tiles::Grain;
use tilannekuva_tiles::udf;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

struct Db {
    ctx: SessionContext,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct SltError(String);

impl Db {
    fn new() -> Self {
        let ctx = SessionContext::new();
        udf::register(&ctx, Grain::Quarter);
        Self { ctx }
    }
}

#[async_trait]
impl sqllogictest::AsyncDB for Db {
    type Error = SltError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, SltError> {
        let trimmed = sql.trim().trim_end_matches(';');
        if let Some(grain) = trimmed.strip_prefix("SET tilannekuva.grain = ") {
            let grain: Grain = grain.trim_matches('\'').parse().map_err(SltError)?;
            udf::register(&self.ctx, grain);
            return Ok(DBOutput::StatementComplete(0));
        }
        let text = match trimmed.strip_prefix("TILE ") {
            Some(id) => {
                std::fs::read_to_string(repo().join("sql").join(format!("{}.sql", id.trim())))
                    .map_err(|e| SltError(format!("tile {id}: {e}")))?
            }
            None => sql.to_string(),
        };
        let df = self
            .ctx
            .sql(&text)
            .await
            .map_err(|e| SltError(e.strip_backtrace().to_string()))?;
        let is_query = !matches!(
            df.logical_plan(),
            datafusion::logical_expr::LogicalPlan::Ddl(_)
                | datafusion::logical_expr::LogicalPlan::Dml(_)
        );
        let batches = df
            .collect()
            .await
            .map_err(|e| SltError(e.strip_backtrace().to_string()))?;
        if !is_query {
            return Ok(DBOutput::StatementComplete(0));
        }
        let options = FormatOptions::default().with_null("NULL");
        let mut rows = Vec::new();
        let mut width = 0;
        for b in &batches {
            width = b.num_columns();
            let formatters: Vec<_> = b
                .columns()
                .iter()
                .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
                .collect::<Result<_, _>>()
                .map_err(|e| SltError(e.to_string()))?;
            for i in 0..b.num_rows() {
                rows.push(
                    formatters
                        .iter()
                        .map(|f| f.value(i).to_string())
                        .map(|s| if s.is_empty() { "(empty)".into() } else { s })
                        .collect(),
                );
            }
        }
        Ok(DBOutput::Rows {
            types: vec![DefaultColumnType::Any; width],
            rows,
        })
    }

    async fn shutdown(&mut self) {}
}

#[tokio::test]
async fn sql_logic_tests() {
    let dir = repo().join("sql/tests");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "slt"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .slt files in {}", dir.display());
    let complete = std::env::var_os("TILANNEKUVA_SLT_COMPLETE").is_some();
    let mut failures = Vec::new();
    for f in &files {
        let mut runner = sqllogictest::Runner::new(|| async { Ok(Db::new()) });
        if complete {
            runner
                .update_test_file(
                    f,
                    " ",
                    sqllogictest::default_validator,
                    sqllogictest::default_normalizer,
                    sqllogictest::default_column_validator,
                )
                .await
                .unwrap();
        } else if let Err(e) = runner.run_file_async(f).await {
            failures.push(format!("{}: {e}", f.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
