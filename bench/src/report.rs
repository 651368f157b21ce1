//! What one benchmark run measured, and its Markdown rendering for BENCHMARKS.md.

use std::fmt::Write as _;

use serde::Serialize;

use crate::serve::ServeResult;
use crate::{CrossCheck, IngestRun, RunTimes, median};

/// The machine and the software versions.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Machine {
    /// CPU model.
    pub cpu: String,
    /// Logical CPUs online.
    pub cpus: usize,
    /// Memory.
    pub memory: String,
    /// Kernel release.
    pub kernel: String,
    /// `rustc --version`.
    pub rustc: String,
    /// Python, DuckDB, Polars versions (empty without peers).
    pub python: String,
    /// DuckDB version.
    pub duckdb: String,
    /// Polars version.
    pub polars: String,
}

impl Machine {
    /// Reads /proc and asks rustc.
    pub fn describe() -> Self {
        let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
        let cpuinfo = read("/proc/cpuinfo");
        let cpu = cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_default();
        let memory = read("/proc/meminfo")
            .lines()
            .find(|l| l.starts_with("MemTotal"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map(|kb| format!("{:.1} GiB", kb / 1024.0 / 1024.0))
            .unwrap_or_default();
        let rustc = std::process::Command::new("rustc")
            .arg("--version")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default();
        Self {
            cpu,
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            memory,
            kernel: read("/proc/sys/kernel/osrelease").trim().to_string(),
            rustc,
            ..Self::default()
        }
    }
}

/// One engine's ingest over all runs.
#[derive(Debug, Clone, Serialize)]
pub struct IngestSummary {
    /// Engine.
    pub engine: String,
    /// Version.
    pub version: String,
    /// Seconds of each run.
    pub seconds: Vec<f64>,
    /// Rows written.
    pub rows: u64,
    /// Parquet bytes written.
    pub parquet_bytes: u64,
    /// Highest peak RSS over the runs.
    pub peak_rss_bytes: u64,
}

impl IngestSummary {
    /// Collects one engine's runs.
    pub fn of(runs: &[IngestRun]) -> Option<Self> {
        let first = runs.first()?;
        Some(Self {
            engine: first.engine.clone(),
            version: first.version.clone(),
            seconds: runs.iter().map(|r| r.seconds).collect(),
            rows: first.rows,
            parquet_bytes: first.parquet_bytes,
            peak_rss_bytes: runs.iter().map(|r| r.peak_rss_bytes).max().unwrap_or(0),
        })
    }

    /// Median seconds.
    pub fn median(&self) -> f64 {
        median(&self.seconds)
    }
}

/// The JSON Lines ingest: the webhook log whole and every fourth event of it, per engine.
#[derive(Debug, Clone, Default, Serialize)]
pub struct JsonlReport {
    /// Events in the whole log.
    pub rows: u64,
    /// Bytes of the whole log.
    pub bytes: u64,
    /// Events in the quarter log (every fourth event).
    pub quarter_rows: u64,
    /// Seconds to read the whole log raw, per run.
    pub raw_read: Vec<f64>,
    /// Each engine on the whole log.
    pub engines: Vec<IngestSummary>,
    /// Each engine on the quarter log (for how memory grows with the file).
    pub quarter: Vec<IngestSummary>,
}

/// Tile computation results.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TilesReport {
    /// Our engine, the compared tiles, every grain: seconds per run.
    pub ours_compared: Vec<f64>,
    /// Our engine, the whole catalogue: seconds per run.
    pub ours_catalogue: Vec<f64>,
    /// Tiles in the catalogue.
    pub catalogue_tiles: usize,
    /// DuckDB, the compared tiles: seconds per run.
    pub duckdb: Vec<f64>,
    /// Value cross-check with DuckDB.
    pub cross_check: Option<CrossCheck>,
    /// Rows in the curated tables read.
    pub rows: u64,
    /// Their Parquet bytes.
    pub parquet_bytes: u64,
    /// Seconds to read those Parquet files raw, per run.
    pub raw_read: Vec<f64>,
    /// The fixed cost of a query on our engine.
    pub fixed_cost: Option<crate::fixed_cost::FixedCost>,
}

/// Full rebuild against an incremental daily run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct IncrementalReport {
    /// Full rebuilds: history plus the new day into an empty warehouse, then publish.
    pub full: Vec<RunTimes>,
    /// Incremental runs: the new day on top of the loaded history, then publish.
    pub incremental: Vec<RunTimes>,
    /// The incremental run's published figures against the full rebuild's.
    pub equal_to_full: Option<CrossCheck>,
}

/// The whole catalogue on Ballista clusters of this machine against the local engine.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ClusterReport {
    /// Tiles in the catalogue.
    pub tiles: usize,
    /// The local engine, the whole catalogue: seconds per run.
    pub local_catalogue: Vec<f64>,
    /// The local engine: median seconds of the trivial query.
    pub local_trivial_query: f64,
    /// Each cluster shape.
    pub clusters: Vec<crate::cluster::ClusterRun>,
}

impl ClusterReport {
    fn write(&self, s: &mut String) {
        let _ = writeln!(
            s,
            "**Tiles on Ballista**: the whole catalogue ({} tiles × 3 grains) through a scheduler \
             and executor processes on this machine's pinned cores, against the local engine; \
             the trivial query (`{}`, median of {}) is the fixed cost of one query.\n",
            self.tiles,
            crate::cluster::TRIVIAL_QUERY,
            crate::cluster::TRIVIAL_RUNS
        );
        let _ = writeln!(
            s,
            "| engine | catalogue median s | runs (s) | ratio to local | trivial query ms | figures equal |"
        );
        let _ = writeln!(s, "|---|---:|---|---:|---:|---|");
        let local = median(&self.local_catalogue);
        let runs = |v: &[f64]| {
            v.iter()
                .map(|x| format!("{x:.3}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let _ = writeln!(
            s,
            "| local (this process) | {local:.3} | {} | 1.00 | {:.1} | — |",
            runs(&self.local_catalogue),
            self.local_trivial_query * 1e3
        );
        for c in &self.clusters {
            let med = median(&c.catalogue);
            let e = &c.equal_to_local;
            let _ = writeln!(
                s,
                "| Ballista, {} executor{} × {} task{} | {med:.3} | {} | {:.2} | {:.1} | {} of {} |",
                c.executors,
                if c.executors == 1 { "" } else { "s" },
                c.tasks_each,
                if c.tasks_each == 1 { "" } else { "s" },
                runs(&c.catalogue),
                med / local,
                c.trivial_query * 1e3,
                e.compared - e.mismatches.len(),
                e.compared + e.missing.len()
            );
        }
        let _ = writeln!(s);
        for c in &self.clusters {
            c.equal_to_local.write(
                s,
                &format!(
                    "Cross-check, {} executor(s), against the local engine",
                    c.executors
                ),
            );
        }
        let _ = writeln!(s);
    }
}

/// Everything one run measured.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// `1×`, `25×`, `125×` or a custom label.
    pub size: String,
    /// Generator volume.
    pub scale: f64,
    /// History period.
    pub period: String,
    /// The machine.
    pub machine: Machine,
    /// CPUs pinned with taskset.
    pub cores: String,
    /// Threads every engine was given.
    pub threads: usize,
    /// Runs per measurement.
    pub runs: usize,
    /// Data rows in the history / new day / ingest export.
    pub history_rows: u64,
    /// Rows of the new day.
    pub new_day_rows: u64,
    /// Rows of the ingest export.
    pub ingest_rows: u64,
    /// Bytes of the ingest export.
    pub ingest_bytes: u64,
    /// Seconds to read the ingest export raw, per run.
    pub raw_read: Vec<f64>,
    /// Ingest per engine.
    pub ingest: Vec<IngestSummary>,
    /// JSON Lines ingest.
    pub jsonl: Option<JsonlReport>,
    /// Tiles.
    pub tiles: Option<TilesReport>,
    /// The catalogue on Ballista clusters of this machine against the local engine.
    pub cluster: Option<ClusterReport>,
    /// Incremental.
    pub incremental: Option<IncrementalReport>,
    /// Serving.
    pub serve: Vec<ServeResult>,
    /// The warehouse on an S3 server against the local disk.
    pub store: Option<crate::store::StoreReport>,
    /// Phases that failed, with the error.
    pub failures: Vec<String>,
}

fn part(v: &[RunTimes], f: impl Fn(&RunTimes) -> f64) -> f64 {
    median(&v.iter().map(f).collect::<Vec<_>>())
}

/// CPUs in a taskset list such as `0-3,6`.
fn count_cpus(list: &str) -> f64 {
    let n: usize = list
        .split(',')
        .map(|part| match part.split_once('-') {
            Some((a, b)) => match (a.trim().parse::<usize>(), b.trim().parse::<usize>()) {
                (Ok(a), Ok(b)) if b >= a => b - a + 1,
                _ => 1,
            },
            None => 1,
        })
        .sum();
    n.max(1) as f64
}

/// One row per engine: times, throughput, Parquet size, peak RSS and the ratio to us.
fn engine_table(s: &mut String, engines: &[IngestSummary], bytes_in: u64, raw: f64, cores: f64) {
    let _ = writeln!(
        s,
        "| engine | median s | runs (s) | rows out | rows/s per core | MiB/s in | × raw read | Parquet B/row | peak RSS | ratio to us |"
    );
    let _ = writeln!(s, "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|");
    let ours = engines
        .iter()
        .find(|e| e.engine == "tilannekuva")
        .map(IngestSummary::median);
    for e in engines {
        let med = e.median();
        let _ = writeln!(
            s,
            "| {} {} | {:.3} | {} | {} | {:.0} | {:.1} | {:.1} | {:.1} | {} | {} |",
            e.engine,
            e.version,
            med,
            e.seconds
                .iter()
                .map(|x| format!("{x:.3}"))
                .collect::<Vec<_>>()
                .join(", "),
            e.rows,
            e.rows as f64 / med / cores,
            bytes_in as f64 / med / 1048576.0,
            med / raw,
            e.parquet_bytes as f64 / e.rows.max(1) as f64,
            mib(e.peak_rss_bytes),
            ours.map_or("".into(), |o| format!("{:.2}", o / med)),
        );
    }
    let _ = writeln!(
        s,
        "\n\"ratio to us\" is our median time / the engine's (≤ 1.0: we are as fast or faster).\n"
    );
}

fn mib(b: u64) -> String {
    format!("{:.1} MiB", b as f64 / 1024.0 / 1024.0)
}

/// A size readable at any scale: KiB below a MiB.
fn size(b: u64) -> String {
    if b < 1024 * 1024 {
        format!("{:.1} KiB", b as f64 / 1024.0)
    } else {
        mib(b)
    }
}

impl Report {
    /// The report as a Markdown section.
    pub fn markdown(&self) -> String {
        let mut s = String::new();
        let m = &self.machine;
        let cores = count_cpus(&self.cores);
        let _ = writeln!(
            s,
            "### {} ({} .. generator scale {})\n",
            self.size, self.period, self.scale
        );
        let _ = writeln!(
            s,
            "Machine: {} ({} CPUs online), {}, Linux {}; {}{}. \
             Pinned to CPUs `{}` with taskset, {} threads per engine, median of {} runs.\n",
            m.cpu,
            m.cpus,
            m.memory,
            m.kernel,
            m.rustc,
            if m.python.is_empty() {
                " (no peers run)".to_string()
            } else {
                format!(
                    "; Python {}, DuckDB {}, Polars {}",
                    m.python, m.duckdb, m.polars
                )
            },
            self.cores,
            self.threads,
            self.runs
        );
        let _ = writeln!(
            s,
            "Data: {} history rows (contacts, chats, feedback), {} rows in the new day.\n",
            self.history_rows, self.new_day_rows
        );

        // Ingest.
        if !self.ingest.is_empty() {
            self.ingest_markdown(&mut s, cores);
        }
        self.jsonl_markdown(&mut s, cores);
        self.rest_markdown(s, cores)
    }

    fn ingest_markdown(&self, s: &mut String, cores: f64) {
        let raw = median(&self.raw_read);
        let _ = writeln!(
            s,
            "**Ingest**: `{}` export, {} rows, {}. Raw read floor: {:.3} s ({:.0} MiB/s).\n",
            crate::INGEST_SOURCE,
            self.ingest_rows,
            mib(self.ingest_bytes),
            raw,
            self.ingest_bytes as f64 / raw / 1048576.0
        );
        engine_table(s, &self.ingest, self.ingest_bytes, raw, cores);
    }

    fn jsonl_markdown(&self, s: &mut String, cores: f64) {
        let Some(j) = &self.jsonl else { return };
        let raw = median(&j.raw_read);
        let _ = writeln!(
            s,
            "**JSON Lines ingest**: `{}` webhook log (the `chat_ninchat` sessions as events, nested objects, epoch seconds, tags as an array of objects) to `chats`, {} events, {}. Raw read floor: {:.3} s.\n",
            crate::jsonl::JSONL_SOURCE,
            j.rows,
            mib(j.bytes),
            raw,
        );
        engine_table(s, &j.engines, j.bytes, raw, cores);
        let _ = writeln!(
            s,
            "Peak RSS as the log grows (every fourth event, {} events → the whole log, {} events; the same months):\n",
            j.quarter_rows, j.rows
        );
        let _ = writeln!(s, "| engine | quarter | whole | growth |");
        let _ = writeln!(s, "|---|---:|---:|---:|");
        for whole in &j.engines {
            if let Some(q) = j.quarter.iter().find(|q| q.engine == whole.engine) {
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {:.2}× |",
                    whole.engine,
                    mib(q.peak_rss_bytes),
                    mib(whole.peak_rss_bytes),
                    whole.peak_rss_bytes as f64 / q.peak_rss_bytes.max(1) as f64
                );
            }
        }
        let _ = writeln!(s);
    }

    fn rest_markdown(&self, mut s: String, cores: f64) -> String {
        if let Some(t) = &self.tiles {
            let ours = median(&t.ours_compared);
            let _ = writeln!(
                s,
                "**Tiles**: {} rows in the curated tables ({}, raw read {:.3} s).\n",
                t.rows,
                mib(t.parquet_bytes),
                median(&t.raw_read)
            );
            let _ = writeln!(s, "| what | median s | runs (s) | rows/s per core |");
            let _ = writeln!(s, "|---|---:|---|---:|");
            let mut row = |name: &str, v: &[f64]| {
                if v.is_empty() {
                    return;
                }
                let med = median(v);
                let _ = writeln!(
                    s,
                    "| {name} | {med:.3} | {} | {:.0} |",
                    v.iter()
                        .map(|x| format!("{x:.3}"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    t.rows as f64 / med / cores
                );
            };
            row(
                &format!(
                    "tilannekuva: {} tiles × 3 grains",
                    crate::COMPARED_TILES.len()
                ),
                &t.ours_compared,
            );
            row(
                &format!(
                    "DuckDB: the same {} tiles × 3 grains",
                    crate::COMPARED_TILES.len()
                ),
                &t.duckdb,
            );
            row(
                &format!(
                    "tilannekuva: whole catalogue ({} tiles, with figures)",
                    t.catalogue_tiles
                ),
                &t.ours_catalogue,
            );
            if !t.duckdb.is_empty() {
                let _ = writeln!(
                    s,
                    "\nTiles ratio (ours / DuckDB): **{:.2}**.",
                    ours / median(&t.duckdb)
                );
            }
            if let Some(c) = &t.cross_check {
                c.write(&mut s, "Cross-check with DuckDB");
            }
            if let Some(f) = &t.fixed_cost {
                crate::fixed_cost::write(f, median(&t.ours_catalogue), &mut s);
            }
            let _ = writeln!(s);
        }

        if let Some(c) = &self.cluster {
            c.write(&mut s);
        }

        if let Some(i) = &self.incremental {
            let full: Vec<f64> = i.full.iter().map(RunTimes::total).collect();
            let inc: Vec<f64> = i.incremental.iter().map(RunTimes::total).collect();
            let _ = writeln!(s, "**Incremental daily run** against a full rebuild:\n");
            let _ = writeln!(
                s,
                "| run | rows loaded | load s | publish s | total s (median) | runs (s) |"
            );
            let _ = writeln!(s, "|---|---:|---:|---:|---:|---|");
            for (name, v, t) in [
                ("full rebuild", &i.full, &full),
                ("incremental day", &i.incremental, &inc),
            ] {
                let _ = writeln!(
                    s,
                    "| {name} | {} | {:.3} | {:.3} | {:.3} | {} |",
                    v.first().map_or(0, |r| r.rows),
                    part(v, |r| r.load),
                    part(v, |r| r.publish),
                    median(t),
                    t.iter()
                        .map(|x| format!("{x:.3}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
            let _ = writeln!(
                s,
                "\nIncremental / full: **{:.1} %**.\n",
                100.0 * median(&inc) / median(&full)
            );
            if let Some(r) = i.incremental.first() {
                let _ = writeln!(s, "The incremental publish: {}.", r.recomputed);
            }
            if let Some(c) = &i.equal_to_full {
                c.write(&mut s, "Its figures against the full rebuild's");
            }
            let _ = writeln!(s);
        }

        if !self.serve.is_empty() {
            let _ = writeln!(
                s,
                "**Serving**: the desktop API on 127.0.0.1, closed-loop load generator in the same process and on the same CPUs.\n"
            );
            let _ = writeln!(
                s,
                "| path | body | connections | req/s | p50 ms | p90 ms | p99 ms | max ms | errors |"
            );
            let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|---:|---:|");
            for r in &self.serve {
                let _ = writeln!(
                    s,
                    "| `{}` | {} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} | {} |",
                    r.path,
                    size(r.body_bytes as u64),
                    r.concurrency,
                    r.throughput,
                    r.p50_ms,
                    r.p90_ms,
                    r.p99_ms,
                    r.max_ms,
                    r.errors
                );
            }
            let _ = writeln!(s);
        }
        self.store_markdown(&mut s);
        for f in &self.failures {
            let _ = writeln!(s, "- not measured: {f}");
        }
        s
    }

    fn store_markdown(&self, s: &mut String) {
        let Some(st) = &self.store else { return };
        let (Some(local), Some(_)) = (st.local.first(), st.s3.first()) else {
            return;
        };
        let _ = writeln!(
            s,
            "**Object storage**: the history ({} rows of the benchmark sources) loaded and every \
             tile published into an empty warehouse, then the tile API served from it, on the \
             local disk and on moto {}'s S3 API server on 127.0.0.1 (each run its own process; \
             the desktop watches the log and serves the snapshot from memory).\n",
            local.rows, st.moto
        );
        let _ = writeln!(s, "| measure | local disk | S3 server | S3 / local |");
        let _ = writeln!(s, "|---|---:|---:|---:|");
        let med = |runs: &[crate::store::StoreRun], f: &dyn Fn(&crate::store::StoreRun) -> f64| {
            median(&runs.iter().map(f).collect::<Vec<_>>())
        };
        for (what, f) in [
            (
                "load, s",
                &(|r: &crate::store::StoreRun| r.load) as &dyn Fn(&_) -> f64,
            ),
            ("publish, s", &|r: &crate::store::StoreRun| r.publish),
        ] {
            let (l, r) = (med(&st.local, f), med(&st.s3, f));
            let _ = writeln!(s, "| {what} | {l:.3} | {r:.3} | {:.2} |", r / l);
        }
        for (i, path) in crate::store::SERVED.iter().enumerate() {
            let rps = |r: &crate::store::StoreRun| r.serve.get(i).map_or(0.0, |x| x.throughput);
            let p99 = |r: &crate::store::StoreRun| r.serve.get(i).map_or(0.0, |x| x.p99_ms);
            let (l, r) = (med(&st.local, &rps), med(&st.s3, &rps));
            let _ = writeln!(s, "| `{path}` req/s | {l:.0} | {r:.0} | {:.2} |", r / l);
            let (l, r) = (med(&st.local, &p99), med(&st.s3, &p99));
            let _ = writeln!(s, "| `{path}` p99 ms | {l:.2} | {r:.2} | {:.2} |", r / l);
        }
        let errors: u64 = st
            .local
            .iter()
            .chain(&st.s3)
            .flat_map(|r| r.serve.iter().map(|x| x.errors))
            .sum();
        let _ = writeln!(s, "\nAnswers other than 200: {errors}.\n");
    }
}

impl CrossCheck {
    /// One line of counts, then up to ten of the differences.
    fn write(&self, s: &mut String, what: &str) {
        let _ = writeln!(
            s,
            "{what}: {} figures compared, {} differ, {} on one side only.",
            self.compared,
            self.mismatches.len(),
            self.missing.len()
        );
        for x in self.mismatches.iter().chain(&self.missing).take(10) {
            let _ = writeln!(s, "- {x}");
        }
    }
}
