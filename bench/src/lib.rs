//! Benchmarks of the pipeline against DuckDB and Polars, measured in one run on one machine:
//!
//! 1. **ingest**: a Finnish-format CSV export (the Telia ACE contact log: `;`, decimal comma,
//!    `d.m.yyyy H:mm` Helsinki times, UTF-8 with BOM) to zstd Parquet, against the peers'
//!    `read_csv → Parquet` with the same types, parsing, codec and row-group size;
//! 2. **tiles**: the tile catalogue over the curated Parquet, against the same KPI definitions
//!    written for DuckDB (`peers/duckdb_tiles.py`), with a value-by-value cross-check;
//! 3. **incremental**: one new day loaded on top of the history and the tiles republished,
//!    against a full rebuild of the same warehouse;
//! 4. **serving**: the desktop's tile API under a load generator on loopback;
//! 5. **JSON Lines ingest**: a chat webhook log to the `chats` table, against DuckDB's
//!    `read_json` and Polars' `scan_ndjson` with the same mapping ([`jsonl`]).
//!
//! Our engine runs through the project's own crates (the `Project` the `tilannekuva` command
//! uses); the peers are Python scripts in `bench/peers/` run in a venv the harness creates.
//! The ingest of every engine runs in its own process so that peak RSS is that process's.

pub mod cluster;
pub mod fixed_cost;
pub mod jsonl;
pub mod peers;
pub mod report;
pub mod serve;
pub mod store;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use tilannekuva::project::{Overrides, Project};
use tilannekuva_pipelines::{LoadReport, Outcome};
use tilannekuva_samples::{BENCH_SOURCES, SampleConfig};
use tilannekuva_tiles::{EngineSettings, Grain, Tile};

/// The source whose export the ingest benchmark normalises.
pub const INGEST_SOURCE: &str = "callbacks_ace";

/// Tiles over the contact, chat and feedback tables: those `peers/duckdb_tiles.py` also has.
pub const COMPARED_TILES: &[&str] = &[
    "callback_share",
    "callback_delay",
    "callbacks_within_promise",
    "chat_abandonment",
    "chat_response_delay",
    "nurse_chat_resolution",
    "nps",
];

/// Tables the benchmark sources fill.
pub const BENCH_TABLES: &[&str] = &["contacts", "chats", "feedback"];

/// The data set of one size, generated once and reused while its configuration is unchanged.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// Root of this size's files.
    pub dir: PathBuf,
    /// The history (drop folders per source).
    pub history: PathBuf,
    /// One new day after the history.
    pub new_day: PathBuf,
    /// History plus the new day (hard links), for the full rebuild.
    pub all: PathBuf,
    /// Drop folder holding only the ingest export.
    pub ingest_inputs: PathBuf,
    /// The ingest export: every month of the ACE log in one file.
    pub ingest_csv: PathBuf,
    /// Data rows of the ingest export.
    pub ingest_rows: u64,
    /// Data rows of the history.
    pub history_rows: u64,
    /// Data rows of the new day.
    pub new_day_rows: u64,
}

/// Generates (or reuses) a size's sample exports under `dir`.
pub fn prepare(dir: &Path, cfg: &SampleConfig) -> Result<Dataset> {
    std::fs::create_dir_all(dir)?;
    let day = cfg.to.succ_opt().context("date out of range")?;
    let new_cfg = SampleConfig {
        from: day,
        to: day,
        ..cfg.clone()
    };
    let stamp = format!("{cfg:?} {new_cfg:?} {BENCH_SOURCES:?} v1");
    let marker = dir.join("generated.txt");
    let ds = Dataset {
        dir: dir.to_path_buf(),
        history: dir.join("history"),
        new_day: dir.join("new_day"),
        all: dir.join("all"),
        ingest_inputs: dir.join("ingest"),
        ingest_csv: dir
            .join("ingest")
            .join(INGEST_SOURCE)
            .join("ace_contacts_all.csv"),
        ingest_rows: 0,
        history_rows: 0,
        new_day_rows: 0,
    };
    let counts = dir.join("rows.json");
    if std::fs::read_to_string(&marker).ok().as_deref() == Some(stamp.as_str())
        && let Ok(text) = std::fs::read_to_string(&counts)
    {
        let c: BTreeMap<String, u64> = serde_json::from_str(&text)?;
        return Ok(Dataset {
            ingest_rows: c["ingest"],
            history_rows: c["history"],
            new_day_rows: c["new_day"],
            ..ds
        });
    }
    for d in [&ds.history, &ds.new_day, &ds.all, &ds.ingest_inputs] {
        let _ = std::fs::remove_dir_all(d);
    }
    let _ = std::fs::remove_file(&marker);
    eprintln!(
        "generating {} .. {} at scale {} ...",
        cfg.from, cfg.to, cfg.scale
    );
    let t = Instant::now();
    let history_rows = {
        let g = tilannekuva_samples::generate_sources(&ds.history, cfg, BENCH_SOURCES)?;
        g.files.iter().map(|f| f.rows as u64).sum::<u64>()
    };
    let new_day_rows = {
        let g = tilannekuva_samples::generate_sources(&ds.new_day, &new_cfg, BENCH_SOURCES)?;
        g.files.iter().map(|f| f.rows as u64).sum::<u64>()
    };
    eprintln!(
        "generated {history_rows} + {new_day_rows} rows in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    for src in [&ds.history, &ds.new_day] {
        for source in BENCH_SOURCES {
            let to = ds.all.join(source);
            std::fs::create_dir_all(&to)?;
            for f in sorted_files(&src.join(source))? {
                std::fs::hard_link(&f, to.join(f.file_name().expect("file")))?;
            }
        }
    }
    std::fs::create_dir_all(ds.ingest_csv.parent().expect("parent"))?;
    let ingest_rows = concat_csv(
        &sorted_files(&ds.history.join(INGEST_SOURCE))?,
        &ds.ingest_csv,
    )?;
    let c = BTreeMap::from([
        ("ingest".to_string(), ingest_rows),
        ("history".to_string(), history_rows),
        ("new_day".to_string(), new_day_rows),
    ]);
    std::fs::write(&counts, serde_json::to_string(&c)?)?;
    std::fs::write(&marker, stamp)?;
    Ok(Dataset {
        ingest_rows,
        history_rows,
        new_day_rows,
        ..ds
    })
}

pub(crate) fn sorted_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| dir.display().to_string())?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    v.sort();
    Ok(v)
}

/// Concatenates CSV files with the same header into one: the first file whole, the others
/// without their first line (BOM and header). Returns the data rows.
fn concat_csv(files: &[PathBuf], out: &Path) -> Result<u64> {
    let mut w = std::io::BufWriter::new(std::fs::File::create(out)?);
    let mut lines = 0u64;
    for (i, f) in files.iter().enumerate() {
        let mut r = BufReader::new(std::fs::File::open(f)?);
        let mut first = Vec::new();
        r.read_until(b'\n', &mut first)?;
        if i == 0 {
            w.write_all(&first)?;
        }
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = r.read(&mut buf)?;
            if n == 0 {
                break;
            }
            lines += buf[..n].iter().filter(|b| **b == b'\n').count() as u64;
            w.write_all(&buf[..n])?;
        }
    }
    w.flush()?;
    Ok(lines)
}

/// Median of a non-empty list.
pub fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    let n = s.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

/// Peak resident set size of this process so far (`VmHWM`), in bytes.
pub fn peak_rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// Bytes per second of reading a file into memory in 1 MiB chunks: the physical floor of
/// any engine that reads it (page cache warm, as for every engine after the first run).
pub fn raw_read(path: &Path) -> Result<(f64, u64)> {
    let t = Instant::now();
    let mut f = std::fs::File::open(path)?;
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    let mut x = 0u8;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        x ^= buf[n - 1];
        total += n as u64;
    }
    std::hint::black_box(x);
    Ok((t.elapsed().as_secs_f64(), total))
}

/// One engine's result of one ingest run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IngestRun {
    /// Engine name.
    pub engine: String,
    /// Engine version.
    #[serde(default)]
    pub version: String,
    /// Wall-clock seconds of the measured work.
    pub seconds: f64,
    /// Rows written to Parquet.
    pub rows: u64,
    /// Bytes of Parquet written.
    pub parquet_bytes: u64,
    /// Peak RSS of the process.
    pub peak_rss_bytes: u64,
}

/// The project over the benchmark's generated data (pseudonymised with the demo's key when
/// no key is set, like the demo's).
fn project(config: &Path, warehouse: &Path, inputs: &Path) -> Result<Project> {
    project_at(
        config,
        tilannekuva_warehouse::Location::Folder(warehouse.to_path_buf()),
        inputs,
    )
}

/// [`project`] with its warehouse anywhere: a folder or a bucket.
fn project_at(
    config: &Path,
    warehouse: tilannekuva_warehouse::Location,
    inputs: &Path,
) -> Result<Project> {
    let mut project = Project::load(
        config,
        &Overrides {
            warehouse: Some(warehouse),
            inputs: Some(inputs.to_path_buf()),
            ..Overrides::default()
        },
    )?;
    project.use_demo_key();
    Ok(project)
}

/// Loads every delivery of `sources`; returns (rows, rejects).
async fn load_sources(project: &Project, sources: &[&str]) -> Result<(u64, u64)> {
    let pipelines = project.pipelines(Some(0))?;
    let (mut rows, mut rejects) = (0, 0);
    for name in sources {
        for r in pipelines.load_source(name).await? {
            match r? {
                LoadReport {
                    outcome:
                        Outcome::Loaded {
                            rows: r,
                            rejects: q,
                            ..
                        },
                    ..
                } => {
                    rows += r;
                    rejects += q;
                }
                LoadReport { file, .. } => bail!("{name}: {file} was already loaded"),
            }
        }
    }
    Ok((rows, rejects))
}

/// Our ingest: the load of `source`'s exports (the `callbacks_ace` ingest export, the
/// webhook log) into an empty warehouse at `warehouse` (fingerprint, landing the raw copy,
/// normalising, Parquet per month, commit); `table` is the table it fills.
pub async fn ingest_ours(
    config: &Path,
    ds_inputs: &Path,
    warehouse: &Path,
    source: &str,
    table: &str,
) -> Result<IngestRun> {
    let _ = std::fs::remove_dir_all(warehouse);
    let project = project(config, warehouse, ds_inputs)?;
    let t = Instant::now();
    let (rows, _) = load_sources(&project, &[source]).await?;
    let seconds = t.elapsed().as_secs_f64();
    let m = project.warehouse()?.manifest().await?;
    let parquet_bytes = m.files(table).iter().map(|f| f.bytes).sum();
    Ok(IngestRun {
        engine: "tilannekuva".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        seconds,
        rows,
        parquet_bytes,
        peak_rss_bytes: peak_rss_bytes(),
    })
}

/// Times of one full rebuild or incremental run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunTimes {
    /// Loading the exports.
    pub load: f64,
    /// Computing and publishing the tiles.
    pub publish: f64,
    /// Rows loaded.
    pub rows: u64,
    /// What the publish recomputed.
    #[serde(default)]
    pub recomputed: String,
}

impl RunTimes {
    /// The whole run.
    pub fn total(&self) -> f64 {
        self.load + self.publish
    }
}

/// Loads every benchmark source from `inputs` into the warehouse at `warehouse` (which may
/// already hold data) and publishes the tiles.
pub async fn load_and_publish(config: &Path, warehouse: &Path, inputs: &Path) -> Result<RunTimes> {
    let location = tilannekuva_warehouse::Location::Folder(warehouse.to_path_buf());
    load_and_publish_at(config, location, inputs).await
}

/// [`load_and_publish`] into a warehouse anywhere: a folder or a bucket.
pub async fn load_and_publish_at(
    config: &Path,
    warehouse: tilannekuva_warehouse::Location,
    inputs: &Path,
) -> Result<RunTimes> {
    let project = project_at(config, warehouse, inputs)?;
    let t = Instant::now();
    let (rows, _) = load_sources(&project, BENCH_SOURCES).await?;
    let load = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let (_, recomputed) = project.engine()?.publish_with(false).await?;
    Ok(RunTimes {
        load,
        publish: t.elapsed().as_secs_f64(),
        rows,
        recomputed: recomputed.to_string(),
    })
}

/// Copies a directory tree (the history warehouse before an incremental run).
pub fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let target = to.join(e.file_name());
        if e.file_type()?.is_dir() {
            copy_tree(&e.path(), &target)?;
        } else {
            std::fs::copy(e.path(), target)?;
        }
    }
    Ok(())
}

/// Tile values by tile, grain and period: (value, n) of the totals.
pub type TileValues =
    BTreeMap<String, BTreeMap<String, BTreeMap<String, (Option<f64>, Option<i64>)>>>;

/// Computes the tiles named in `only` (all when `None`) over the committed data, `runs`
/// times; returns the seconds of each run and the values of the last.
pub async fn compute_tiles(
    config: &Path,
    warehouse: &Path,
    only: Option<&[&str]>,
    runs: usize,
) -> Result<(Vec<f64>, TileValues)> {
    compute_tiles_on(config, warehouse, &EngineSettings::Local, only, runs).await
}

/// [`compute_tiles`] on `engine`: this process or a Ballista cluster.
pub async fn compute_tiles_on(
    config: &Path,
    warehouse: &Path,
    engine: &EngineSettings,
    only: Option<&[&str]>,
    runs: usize,
) -> Result<(Vec<f64>, TileValues)> {
    let mut project = project(config, warehouse, warehouse)?;
    project.engine = engine.clone();
    let mut engine = project.engine()?;
    if let Some(only) = only {
        engine.tiles.retain(|t| only.contains(&t.meta.id.as_str()));
    }
    let manifest = project.warehouse()?.manifest().await?;
    let mut seconds = Vec::new();
    let mut tiles: Vec<Tile> = Vec::new();
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        tiles = engine.compute(&manifest).await?;
        seconds.push(t.elapsed().as_secs_f64());
    }
    Ok((seconds, values_of(&tiles)))
}

/// The values of the latest published snapshot of a warehouse.
pub async fn published_values(config: &Path, warehouse: &Path) -> Result<TileValues> {
    let project = project(config, warehouse, warehouse)?;
    let doc = tilannekuva_tiles::read_snapshot(&project.warehouse()?, None).await?;
    Ok(values_of(&doc.tiles))
}

/// (value, n) of the totals of every tile, grain and period.
pub fn values_of(tiles: &[Tile]) -> TileValues {
    let mut values = TileValues::new();
    for t in tiles {
        for (grain, figures) in &t.series {
            let g = values
                .entry(t.meta.id.clone())
                .or_default()
                .entry(grain.as_str().to_string())
                .or_default();
            for f in figures {
                g.insert(f.period.clone(), (f.value, f.n));
            }
        }
    }
    values
}

/// The live Parquet files of the benchmark tables, as absolute paths.
pub async fn table_files(config: &Path, warehouse: &Path) -> Result<BTreeMap<String, Vec<String>>> {
    let project = project(config, warehouse, warehouse)?;
    let wh = project.warehouse()?;
    let m = wh.manifest().await?;
    let tilannekuva_warehouse::Location::Folder(root) = wh.location().clone() else {
        bail!("the benchmark's peers read a local warehouse folder");
    };
    Ok(BENCH_TABLES
        .iter()
        .map(|t| {
            (
                t.to_string(),
                m.files(t)
                    .iter()
                    .map(|f| root.join(&f.path).display().to_string())
                    .collect(),
            )
        })
        .collect())
}

/// Parquet bytes and rows of the benchmark tables.
pub async fn table_size(config: &Path, warehouse: &Path) -> Result<(u64, u64)> {
    let project = project(config, warehouse, warehouse)?;
    let m = project.warehouse()?.manifest().await?;
    let (mut bytes, mut rows) = (0, 0);
    for t in BENCH_TABLES {
        for f in m.files(t) {
            bytes += f.bytes;
            rows += f.rows;
        }
    }
    Ok((bytes, rows))
}

/// The deadline table `fi_deadline(t, 1)` reads, as CSV (local date, UTC deadline), for the
/// DuckDB tile definitions.
pub fn write_deadlines(path: &Path) -> Result<()> {
    let mut w = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(w, "day,deadline")?;
    let mut d = chrono::NaiveDate::from_ymd_opt(2015, 1, 1).expect("date");
    let end = chrono::NaiveDate::from_ymd_opt(2035, 12, 1).expect("date");
    while d <= end {
        let dl = tilannekuva_tiles::udf::deadline(d, 1);
        writeln!(w, "{d},{}", dl.format("%Y-%m-%d %H:%M:%S+00"))?;
        d = d.succ_opt().expect("date");
    }
    w.flush()?;
    Ok(())
}

/// How two engines' tile values compare.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CrossCheck {
    /// (tile, grain, period) figures compared.
    pub compared: usize,
    /// Figures whose value or n differ.
    pub mismatches: Vec<String>,
    /// Figures only one side has.
    pub missing: Vec<String>,
}

/// Compares our values with a peer's (values within 1e-9 relative, n exactly). Figures we
/// suppress (value and n `None`) are not compared.
pub fn cross_check(ours: &TileValues, theirs: &TileValues, tiles: &[&str]) -> CrossCheck {
    let mut c = CrossCheck::default();
    for tile in tiles {
        for grain in Grain::ALL {
            let g = grain.as_str();
            let empty = BTreeMap::new();
            let a = ours.get(*tile).and_then(|t| t.get(g)).unwrap_or(&empty);
            let b = theirs.get(*tile).and_then(|t| t.get(g)).unwrap_or(&empty);
            for (period, (va, na)) in a {
                let Some((vb, nb)) = b.get(period) else {
                    if na.is_none_or(|n| n > 0) {
                        c.missing.push(format!("{tile} {g} {period}: only ours"));
                    }
                    continue;
                };
                c.compared += 1;
                let same_value = match (va, vb) {
                    (Some(x), Some(y)) => (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0),
                    (None, _) => true,
                    (Some(_), None) => false,
                };
                let same_n = na.is_none() || na == nb;
                if !same_value || !same_n {
                    c.mismatches.push(format!(
                        "{tile} {g} {period}: ours {va:?} (n {na:?}), peer {vb:?} (n {nb:?})"
                    ));
                }
            }
            for period in b.keys() {
                if !a.contains_key(period) {
                    c.missing
                        .push(format!("{tile} {g} {period}: only the peer's"));
                }
            }
        }
    }
    c
}
