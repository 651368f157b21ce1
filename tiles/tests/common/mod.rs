//! A small warehouse for engine tests: one table, `facts`, whose rows are the figures a
//! tile returns, written as committed Parquet files through the warehouse API, and a tile
//! defined in the test that returns them as they are. So the test controls every value,
//! `n` and breakdown cell exactly, and the engine adds target, status, change,
//! completeness and suppression as it does for the shipped tiles.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::TimestampMicrosecondArray;
use arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use chrono::{DateTime, Utc};
use tilannekuva_conventions::datetime::HELSINKI;
use tilannekuva_tiles::definition::TileMeta;
use tilannekuva_tiles::{Engine, ExpectedSource, Strategy, Tile, TileDef};
use tilannekuva_warehouse::catalog::CompleteWhen;
use tilannekuva_warehouse::catalog::{ColumnDef, ColumnType, TableDef};
use tilannekuva_warehouse::{DataFile, Warehouse, write_parquet};

/// The source expected to deliver `facts` every month.
pub const SOURCE: &str = "facts_src";

/// The tile's SQL: the rows of `facts` are the figures.
pub const SQL: &str = "SELECT fi_period(at) AS period, dimension, member, value, numerator, denominator, n FROM facts";

/// One row of `facts`: a total (no dimension) or a breakdown cell of the period `at` falls in.
#[derive(Debug, Clone)]
pub struct Fact {
    pub at: DateTime<Utc>,
    pub dimension: Option<String>,
    pub member: Option<String>,
    pub value: Option<f64>,
    pub numerator: Option<f64>,
    pub denominator: Option<f64>,
    pub n: i64,
}

/// A total at `at` (RFC 3339).
pub fn total(at: &str, value: Option<f64>, n: i64) -> Fact {
    Fact {
        at: at.parse().expect("an RFC 3339 time"),
        dimension: None,
        member: None,
        value,
        numerator: None,
        denominator: None,
        n,
    }
}

/// A breakdown cell at `at` with counts `n` (and the numerator `num`, when given).
pub fn cell(at: &str, dimension: &str, member: &str, n: i64, num: Option<f64>) -> Fact {
    Fact {
        dimension: Some(dimension.into()),
        member: Some(member.into()),
        value: num.map(|x| 100.0 * x / n as f64),
        numerator: num,
        denominator: num.map(|_| n as f64),
        ..total(at, None, n)
    }
}

impl Fact {
    /// With a numerator and denominator.
    pub fn ratio(mut self, numerator: f64, denominator: f64) -> Self {
        self.numerator = Some(numerator);
        self.denominator = Some(denominator);
        self
    }
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn column(name: &str, kind: ColumnType, nullable: bool) -> ColumnDef {
    ColumnDef {
        name: name.into(),
        kind,
        nullable,
        description: name.into(),
        unit: None,
    }
}

fn table() -> TableDef {
    TableDef {
        name: "facts".into(),
        description: "Figures as a tile returns them.".into(),
        period_column: "at".into(),
        columns: vec![
            column("at", ColumnType::Timestamp, false),
            column("dimension", ColumnType::String, true),
            column("member", ColumnType::String, true),
            column("value", ColumnType::Float64, true),
            column("numerator", ColumnType::Float64, true),
            column("denominator", ColumnType::Float64, true),
            column("n", ColumnType::Int64, false),
        ],
    }
}

/// The tile's metadata: `extra` is TOML with the keys the test sets (`direction` is
/// required, and `targets`, `baseline`, `min_n`, `min_cell_n`, `grains` as needed; the
/// grain defaults to quarters).
pub fn tile_def(extra: &str) -> TileDef {
    let grains = if extra.contains("grains") {
        ""
    } else {
        "grains = [\"quarter\"]\n"
    };
    let text = format!(
        r#"
id = "t"
title = {{ fi = "Testi", en = "Test" }}
description = {{ fi = "Testi.", en = "Test." }}
unit = "%"
owner = {{ sector = "terveys", role = "Testaaja" }}
strategy = {{ priority = {{ "2026-2029" = "asiakkuus" }}, perspective = "asiakaskokemus" }}
inputs = ["facts"]
{grains}{extra}
"#
    );
    let meta: TileMeta = toml::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    TileDef {
        meta,
        sql: SQL.into(),
        sql_path: "tests/t.sql".into(),
        meta_path: "tests/t.toml".into(),
    }
}

/// The Helsinki month label of an instant.
fn month_of(t: DateTime<Utc>) -> String {
    t.with_timezone(&HELSINKI).format("%Y-%m").to_string()
}

/// Writes the facts of each delivered month as one committed file of `SOURCE`, and
/// computes the tile at `now`. Facts in months not delivered are an error in the test.
pub async fn compute(tile: TileDef, facts: &[Fact], delivered: &[&str], now: &str) -> Tile {
    let (_dir, tiles) = compute_all(vec![tile], facts, delivered, now).await;
    tiles.into_iter().next().expect("one tile")
}

/// Like [`compute`], for several tiles; also returns the warehouse folder.
pub async fn compute_all(
    tiles: Vec<TileDef>,
    facts: &[Fact],
    delivered: &[&str],
    now: &str,
) -> (tempfile::TempDir, Vec<Tile>) {
    for f in facts {
        assert!(
            delivered.contains(&month_of(f.at).as_str()),
            "a fact at {} is in a month not delivered",
            f.at
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let wh = Warehouse::open_local(dir.path().join("warehouse")).unwrap();
    let table = table();
    let schema = table.arrow_schema();
    let mut files = Vec::new();
    for month in delivered {
        let rows: Vec<&Fact> = facts.iter().filter(|f| month_of(f.at) == *month).collect();
        let columns: Vec<ArrayRef> = vec![
            Arc::new(
                TimestampMicrosecondArray::from_iter_values(
                    rows.iter().map(|f| f.at.timestamp_micros()),
                )
                .with_timezone("UTC"),
            ),
            Arc::new(StringArray::from_iter(
                rows.iter().map(|f| f.dimension.as_deref()),
            )),
            Arc::new(StringArray::from_iter(
                rows.iter().map(|f| f.member.as_deref()),
            )),
            Arc::new(Float64Array::from_iter(rows.iter().map(|f| f.value))),
            Arc::new(Float64Array::from_iter(rows.iter().map(|f| f.numerator))),
            Arc::new(Float64Array::from_iter(rows.iter().map(|f| f.denominator))),
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|f| f.n))),
            Arc::new(StringArray::from_iter_values(rows.iter().map(|_| *month))),
            Arc::new(StringArray::from_iter_values(rows.iter().map(|_| SOURCE))),
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|_| "00".repeat(32)),
            )),
            Arc::new(Int64Array::from_iter_values(0..rows.len() as i64)),
        ];
        let batch = RecordBatch::try_new(schema.clone(), columns).unwrap();
        let path = format!("curated/facts/period={month}/part-0.parquet");
        let (n, bytes) = write_parquet(&wh, &path, schema.clone(), &[batch])
            .await
            .unwrap();
        files.push(DataFile {
            path,
            source: SOURCE.into(),
            load_id: format!("load-{month}"),
            period: month.to_string(),
            rows: n,
            bytes,
            min_time: rows.iter().map(|f| f.at).min(),
            max_time: rows.iter().map(|f| f.at).max(),
        });
    }
    let manifest = wh
        .commit("load facts", |m| {
            m.tables.entry("facts".into()).or_default().files = files.clone();
            Ok(())
        })
        .await
        .unwrap();
    let engine = Engine {
        warehouse: wh,
        tables: BTreeMap::from([("facts".to_string(), table)]),
        tiles,
        strategy: Strategy::from_file(&repo().join("config/strategy.toml")).unwrap(),
        expected: BTreeMap::from([(
            "facts".to_string(),
            // The fixtures name the months delivered whole; how a month's data reaching
            // its end decides is tested over real exports (`tests/it/completeness.rs`).
            vec![ExpectedSource {
                complete_when: CompleteWhen::AnyRow,
                ..ExpectedSource::monthly(SOURCE)
            }],
        )]),
        references: Vec::new(),
        query_engine: std::sync::Arc::new(tilannekuva_tiles::LocalEngine),
    };
    let now: DateTime<Utc> = now.parse().unwrap();
    let tiles = engine.compute_at(&manifest, now).await.unwrap();
    (dir, tiles)
}

/// Every month label from `from` to `to` (`YYYY-MM`), inclusive.
pub fn months(from: &str, to: &str) -> Vec<String> {
    let mut out = Vec::new();
    let (mut y, mut m): (i32, u32) = (from[..4].parse().unwrap(), from[5..].parse().unwrap());
    loop {
        let label = format!("{y:04}-{m:02}");
        let last = label == to;
        out.push(label);
        if last {
            return out;
        }
        (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    }
}
