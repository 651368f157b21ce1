//! `tilannekuva-bench`: ingest, tiles, incremental runs and serving against DuckDB and
//! Polars, measured in one run. See BENCHMARKS.md.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use tilannekuva_bench::peers::Peers;
use tilannekuva_bench::report::{
    ClusterReport, IncrementalReport, IngestSummary, JsonlReport, Machine, Report, TilesReport,
};
use tilannekuva_bench::{COMPARED_TILES, IngestRun, TileValues};
use tilannekuva_samples::{BenchSize, SampleConfig};

const PINNED: &str = "TILANNEKUVA_BENCH_PINNED";

/// Benchmarks against DuckDB and Polars: ingest, tiles, incremental runs and serving.
#[derive(Debug, Parser)]
#[command(name = "tilannekuva-bench")]
struct Args {
    /// Size: 1 (one county-year), 25 (a national year) or 125 (national, five years).
    #[arg(long, default_value_t = 1)]
    scale: u32,
    /// Keep only the first N days of the size's period (quick runs).
    #[arg(long)]
    days: Option<u32>,
    /// Runs per measurement (the median is reported).
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// CPUs every engine is pinned to (taskset list); all online CPUs by default.
    #[arg(long)]
    cores: Option<String>,
    /// Threads each engine gets (DuckDB `threads`, POLARS_MAX_THREADS, tokio workers;
    /// DataFusion runs with the project's 2 target partitions).
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Working folder for data, warehouses and the venv.
    #[arg(long, default_value = "target/bench")]
    work: PathBuf,
    /// The project's main config.
    #[arg(long, default_value = "config/tilannekuva.toml")]
    config: PathBuf,
    /// Measure only our engine (no venv, no DuckDB, no Polars).
    #[arg(long)]
    no_peers: bool,
    /// Phases to run.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "ingest,jsonl,tiles,cluster,incremental,serve,store"
    )]
    phases: Vec<String>,
    /// Seconds of load per API endpoint.
    #[arg(long, default_value_t = 5.0)]
    serve_seconds: f64,
    /// Concurrent connections of the load generator.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Also write the Markdown report here (it always goes to WORK/<size>/report.md).
    #[arg(long)]
    report: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Internal>,
}

#[derive(Debug, Subcommand)]
enum Internal {
    /// (internal) One measured ingest of our engine in its own process; prints JSON.
    IngestOnce {
        #[arg(long)]
        config: PathBuf,
        #[arg(long)]
        inputs: PathBuf,
        #[arg(long)]
        warehouse: PathBuf,
        #[arg(long)]
        threads: usize,
        #[arg(long, default_value = tilannekuva_bench::INGEST_SOURCE)]
        source: String,
        #[arg(long, default_value = "contacts")]
        table: String,
    },
    /// (internal) One load, publish and serving run on one warehouse location; prints JSON.
    StoreOnce {
        #[arg(long)]
        config: PathBuf,
        #[arg(long)]
        inputs: PathBuf,
        #[arg(long)]
        warehouse: String,
        #[arg(long)]
        store: String,
        #[arg(long)]
        threads: usize,
        #[arg(long)]
        serve_seconds: f64,
        #[arg(long)]
        concurrency: usize,
    },
    /// (internal) A node of a Ballista cluster over a warehouse folder, until killed: the
    /// scheduler, or with `--scheduler` an executor.
    ClusterNode {
        #[arg(long)]
        config: PathBuf,
        #[arg(long)]
        warehouse: PathBuf,
        #[arg(long)]
        threads: usize,
        #[arg(long)]
        bind: std::net::SocketAddr,
        #[arg(long)]
        scheduler: Option<String>,
        #[arg(long, default_value_t = 1)]
        tasks: usize,
    },
}

fn main() -> ExitCode {
    // The engine's own log, when asked for: `RUST_LOG=tilannekuva_tiles=debug` tells where
    // a publish's time goes.
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
    }
    let args = Args::parse();
    match real_main(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn runtime(threads: usize) -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .max_blocking_threads(threads.max(1) * 4)
        .enable_all()
        .build()?)
}

fn real_main(args: Args) -> Result<ExitCode> {
    if let Some(Internal::IngestOnce {
        config,
        inputs,
        warehouse,
        threads,
        source,
        table,
    }) = &args.command
    {
        let run = runtime(*threads)?.block_on(tilannekuva_bench::ingest_ours(
            config, inputs, warehouse, source, table,
        ))?;
        println!("{}", serde_json::to_string(&run)?);
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(Internal::StoreOnce {
        config,
        inputs,
        warehouse,
        store,
        threads,
        serve_seconds,
        concurrency,
    }) = &args.command
    {
        let once = tilannekuva_bench::store::StoreOnce {
            config: config.clone(),
            inputs: inputs.clone(),
            warehouse: warehouse.clone(),
            threads: *threads,
            serve_seconds: *serve_seconds,
            concurrency: *concurrency,
        };
        println!("{}", serde_json::to_string(&once.run(store)?)?);
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(Internal::ClusterNode {
        config,
        warehouse,
        threads,
        bind,
        scheduler,
        tasks,
    }) = &args.command
    {
        runtime(*threads)?.block_on(tilannekuva_bench::cluster::run_node(
            config,
            warehouse,
            *bind,
            scheduler.clone(),
            *tasks,
        ))?;
        return Ok(ExitCode::SUCCESS);
    }
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let cores = args
        .cores
        .clone()
        .unwrap_or_else(|| format!("0-{}", cpus - 1));
    if std::env::var_os(PINNED).is_none() {
        // Re-run under taskset: this process, our child processes and the peers all inherit
        // the same CPU set.
        let status = Command::new("taskset")
            .args(["-c", &cores])
            .arg(std::env::current_exe()?)
            .args(std::env::args_os().skip(1))
            .env(PINNED, &cores)
            .status()
            .context("running taskset (util-linux)")?;
        return Ok(if status.success() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        });
    }
    let size = BenchSize::from_multiplier(args.scale)?;
    let mut cfg: SampleConfig = size.config(2024);
    let mut label = size.to_string();
    if let Some(days) = args.days {
        cfg.to = cfg.from + chrono::Days::new(u64::from(days.max(1)) - 1);
        label = format!("{label}, first {days} days");
    }
    let work = std::path::absolute(&args.work)?;
    let config = std::path::absolute(&args.config)?;
    let dir = work.join(format!(
        "x{}{}",
        args.scale,
        args.days.map(|d| format!("-{d}d")).unwrap_or_default()
    ));
    let mut report = Report {
        size: label,
        scale: cfg.scale,
        period: format!("{} .. {}", cfg.from, cfg.to),
        machine: Machine::describe(),
        cores: cores.clone(),
        threads: args.threads,
        runs: args.runs,
        ..Report::default()
    };
    let peers = if args.no_peers {
        None
    } else {
        let scripts = std::path::absolute("bench/peers")?;
        let p = Peers::setup(&work.join("venv"), &scripts)?;
        report.machine.python = p.python_version.clone();
        report.machine.duckdb = p.duckdb_version.clone();
        report.machine.polars = p.polars_version.clone();
        Some(p)
    };
    let ds = tilannekuva_bench::prepare(&dir, &cfg)?;
    report.history_rows = ds.history_rows;
    report.new_day_rows = ds.new_day_rows;
    report.ingest_rows = ds.ingest_rows;
    report.ingest_bytes = std::fs::metadata(&ds.ingest_csv)?.len();
    let rt = runtime(args.threads)?;
    let phase = |name: &str| args.phases.iter().any(|p| p == name);
    let runs = args.runs.max(1);
    let threads = args.threads.to_string();
    let queues = config
        .parent()
        .context("config folder")?
        .join("lookups/queues.toml");

    if phase("ingest") {
        eprintln!("ingest: {} rows", ds.ingest_rows);
        let mut ours = Vec::new();
        let mut duck = Vec::new();
        let mut polars = Vec::new();
        for run in 0..runs {
            report
                .raw_read
                .push(tilannekuva_bench::raw_read(&ds.ingest_csv)?.0);
            let out = Command::new(std::env::current_exe()?)
                .arg("ingest-once")
                .arg("--config")
                .arg(&config)
                .arg("--inputs")
                .arg(&ds.ingest_inputs)
                .arg("--warehouse")
                .arg(dir.join("wh-ingest"))
                .arg("--threads")
                .arg(&threads)
                .output()?;
            if !out.status.success() {
                bail!("ingest-once: {}", String::from_utf8_lossy(&out.stderr));
            }
            let r: IngestRun = serde_json::from_slice(&out.stdout)?;
            eprintln!("  run {run}: tilannekuva {:.3} s", r.seconds);
            ours.push(r);
            if let Some(p) = &peers {
                let csv = ds.ingest_csv.display().to_string();
                for (script, sink, name) in [
                    ("duckdb_ingest.py", &mut duck, "duckdb"),
                    ("polars_ingest.py", &mut polars, "polars"),
                ] {
                    let out = dir.join(format!("out-{name}"));
                    match p.run::<IngestRun>(
                        script,
                        &[
                            &csv,
                            &out.display().to_string(),
                            &queues.display().to_string(),
                            &threads,
                        ],
                    ) {
                        Ok(r) => {
                            eprintln!("  run {run}: {name} {:.3} s", r.seconds);
                            sink.push(r);
                        }
                        Err(e) => report.failures.push(format!("ingest {name}: {e:#}")),
                    }
                }
            }
        }
        report.ingest = [ours, duck, polars]
            .iter()
            .filter_map(|r| IngestSummary::of(r))
            .collect();
    }

    if phase("jsonl") {
        let data = tilannekuva_bench::jsonl::prepare(&ds, &config)?;
        eprintln!(
            "jsonl: {} events ({} in the quarter log)",
            data.full_rows, data.quarter_rows
        );
        let mut jsonl = JsonlReport {
            rows: data.full_rows,
            bytes: std::fs::metadata(&data.full)?.len(),
            quarter_rows: data.quarter_rows,
            ..JsonlReport::default()
        };
        let ingest_once = |inputs: &Path| -> Result<IngestRun> {
            let out = Command::new(std::env::current_exe()?)
                .arg("ingest-once")
                .arg("--config")
                .arg(&data.config)
                .arg("--inputs")
                .arg(inputs)
                .arg("--warehouse")
                .arg(dir.join("wh-jsonl"))
                .arg("--threads")
                .arg(&threads)
                .args(["--source", tilannekuva_bench::jsonl::JSONL_SOURCE])
                .args(["--table", "chats"])
                .output()?;
            if !out.status.success() {
                bail!("ingest-once: {}", String::from_utf8_lossy(&out.stderr));
            }
            Ok(serde_json::from_slice(&out.stdout)?)
        };
        let mut full: [Vec<IngestRun>; 3] = Default::default();
        let mut quarter: [Vec<IngestRun>; 3] = Default::default();
        for run in 0..runs {
            jsonl
                .raw_read
                .push(tilannekuva_bench::raw_read(&data.full)?.0);
            for (file, inputs, sink) in [
                (&data.full, &data.full_inputs, &mut full),
                (&data.quarter, &data.quarter_inputs, &mut quarter),
            ] {
                let r = ingest_once(inputs)?;
                eprintln!(
                    "  run {run}: tilannekuva {:.3} s ({} rows)",
                    r.seconds, r.rows
                );
                sink[0].push(r);
                if let Some(p) = &peers {
                    for (i, script, name) in [
                        (1, "duckdb_ingest_jsonl.py", "duckdb"),
                        (2, "polars_ingest_jsonl.py", "polars"),
                    ] {
                        let out = dir.join(format!("out-jsonl-{name}"));
                        match p.run::<IngestRun>(
                            script,
                            &[
                                &file.display().to_string(),
                                &out.display().to_string(),
                                &queues.display().to_string(),
                                &threads,
                            ],
                        ) {
                            Ok(r) => {
                                eprintln!(
                                    "  run {run}: {name} {:.3} s ({} rows)",
                                    r.seconds, r.rows
                                );
                                sink[i].push(r);
                            }
                            Err(e) => report.failures.push(format!("jsonl {name}: {e:#}")),
                        }
                    }
                }
            }
        }
        jsonl.engines = full.iter().filter_map(|r| IngestSummary::of(r)).collect();
        jsonl.quarter = quarter
            .iter()
            .filter_map(|r| IngestSummary::of(r))
            .collect();
        report.jsonl = Some(jsonl);
    }

    let history_wh = dir.join("wh-history");
    let need_history = phase("tiles") || phase("cluster") || phase("incremental") || phase("serve");
    if need_history {
        eprintln!("loading the history ...");
        let _ = std::fs::remove_dir_all(&history_wh);
        let t = rt.block_on(tilannekuva_bench::load_and_publish(
            &config,
            &history_wh,
            &ds.history,
        ))?;
        eprintln!(
            "  history: load {:.2} s, publish {:.2} s",
            t.load, t.publish
        );
    }

    if phase("tiles") {
        eprintln!("tiles ...");
        let mut tiles = TilesReport::default();
        let (secs, ours_values) = rt.block_on(tilannekuva_bench::compute_tiles(
            &config,
            &history_wh,
            Some(COMPARED_TILES),
            runs,
        ))?;
        tiles.ours_compared = secs;
        let (secs, _) = rt.block_on(tilannekuva_bench::compute_tiles(
            &config,
            &history_wh,
            None,
            runs,
        ))?;
        tiles.ours_catalogue = secs;
        tiles.fixed_cost =
            Some(rt.block_on(tilannekuva_bench::fixed_cost::measure(&config, &history_wh))?);
        tiles.catalogue_tiles = tilannekuva::project::Project::load(
            &config,
            &tilannekuva::project::Overrides::default(),
        )?
        .tiles
        .len();
        let (bytes, rows) = rt.block_on(tilannekuva_bench::table_size(&config, &history_wh))?;
        tiles.parquet_bytes = bytes;
        tiles.rows = rows;
        let files = rt.block_on(tilannekuva_bench::table_files(&config, &history_wh))?;
        for _ in 0..runs {
            let t = std::time::Instant::now();
            for f in files.values().flatten() {
                tilannekuva_bench::raw_read(Path::new(f))?;
            }
            tiles.raw_read.push(t.elapsed().as_secs_f64());
        }
        if let Some(p) = &peers {
            let deadlines = dir.join("deadlines.csv");
            tilannekuva_bench::write_deadlines(&deadlines)?;
            let values_out = dir.join("duckdb-tiles.json");
            let spec = serde_json::json!({
                "tables": files,
                "deadlines_csv": deadlines,
                "threads": args.threads,
                "runs": runs,
                "values_out": values_out,
            });
            let spec_path = dir.join("duckdb-tiles-spec.json");
            std::fs::write(&spec_path, serde_json::to_vec(&spec)?)?;
            #[derive(serde::Deserialize)]
            struct Out {
                seconds: Vec<f64>,
            }
            match p.run::<Out>("duckdb_tiles.py", &[&spec_path.display().to_string()]) {
                Ok(o) => {
                    tiles.duckdb = o.seconds;
                    let theirs = read_peer_values(&values_out)?;
                    tiles.cross_check = Some(tilannekuva_bench::cross_check(
                        &ours_values,
                        &theirs,
                        COMPARED_TILES,
                    ));
                }
                Err(e) => report.failures.push(format!("tiles duckdb: {e:#}")),
            }
        }
        report.tiles = Some(tiles);
    }

    if phase("cluster") {
        eprintln!("tiles on Ballista ...");
        match cluster_phase(&rt, &config, &history_wh, runs, args.threads) {
            Ok(c) => report.cluster = Some(c),
            Err(e) => report.failures.push(format!("cluster: {e:#}")),
        }
    }

    if phase("incremental") {
        eprintln!("incremental and full runs ...");
        let mut inc = IncrementalReport::default();
        for run in 0..runs {
            let wh = dir.join("wh-incremental");
            let _ = std::fs::remove_dir_all(&wh);
            tilannekuva_bench::copy_tree(&history_wh, &wh)?;
            let t = rt.block_on(tilannekuva_bench::load_and_publish(
                &config,
                &wh,
                &ds.new_day,
            ))?;
            eprintln!(
                "  run {run}: incremental {:.3} s ({})",
                t.total(),
                t.recomputed
            );
            inc.incremental.push(t);
            let wh = dir.join("wh-full");
            let _ = std::fs::remove_dir_all(&wh);
            let t = rt.block_on(tilannekuva_bench::load_and_publish(&config, &wh, &ds.all))?;
            eprintln!("  run {run}: full rebuild {:.3} s", t.total());
            inc.full.push(t);
        }
        let incremental = rt.block_on(tilannekuva_bench::published_values(
            &config,
            &dir.join("wh-incremental"),
        ))?;
        let full = rt.block_on(tilannekuva_bench::published_values(
            &config,
            &dir.join("wh-full"),
        ))?;
        let ids: Vec<&str> = full.keys().map(String::as_str).collect();
        inc.equal_to_full = Some(tilannekuva_bench::cross_check(&incremental, &full, &ids));
        report.incremental = Some(inc);
    }

    if phase("serve") {
        eprintln!("serving ...");
        report.serve = tilannekuva_bench::serve::bench_api(
            &tilannekuva_warehouse::Location::Folder(history_wh.clone()),
            args.threads,
            &[
                "/api/v1/tiles",
                "/api/v1/tiles (gzip)",
                "/api/v1/tiles/callback_share",
                "/api/v1/healthz",
            ],
            args.serve_seconds,
            args.concurrency,
        )?;
    }

    if phase("store") {
        report.store = Some(store_phase(&args, &config, &ds.history, &dir, &work, runs)?);
    }

    let md = report.markdown();
    std::fs::write(dir.join("report.md"), &md)?;
    std::fs::write(dir.join("report.json"), serde_json::to_vec_pretty(&report)?)?;
    if let Some(path) = &args.report {
        std::fs::write(path, &md)?;
    }
    println!("{md}");
    Ok(ExitCode::SUCCESS)
}

/// The whole catalogue locally, then on a scheduler with one executor of `threads` task
/// slots and with two executors sharing them, each cross-checked against the local figures.
fn cluster_phase(
    rt: &tokio::runtime::Runtime,
    config: &Path,
    warehouse: &Path,
    runs: usize,
    threads: usize,
) -> Result<ClusterReport> {
    use tilannekuva_bench::cluster::{ClusterRun, LocalCluster, trivial_query};
    use tilannekuva_tiles::EngineSettings;
    let local_engine = EngineSettings::Local;
    let (local_catalogue, local) = rt.block_on(tilannekuva_bench::compute_tiles_on(
        config,
        warehouse,
        &local_engine,
        None,
        runs,
    ))?;
    let ids: Vec<String> = local.keys().cloned().collect();
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    let mut report = ClusterReport {
        tiles: ids.len(),
        local_trivial_query: rt.block_on(trivial_query(config, warehouse, &local_engine))?,
        local_catalogue,
        clusters: Vec::new(),
    };
    for executors in [1, 2] {
        let tasks_each = (threads / executors).max(1);
        let cluster = LocalCluster::start(config, warehouse, executors, tasks_each, threads)?;
        let engine = EngineSettings::Ballista {
            scheduler: cluster.scheduler.clone(),
        };
        // One run not timed: the nodes' first session and the rows shipped to the store.
        rt.block_on(tilannekuva_bench::compute_tiles_on(
            config, warehouse, &engine, None, 1,
        ))?;
        let (catalogue, values) = rt.block_on(tilannekuva_bench::compute_tiles_on(
            config, warehouse, &engine, None, runs,
        ))?;
        let run = ClusterRun {
            executors,
            tasks_each,
            catalogue,
            trivial_query: rt.block_on(trivial_query(config, warehouse, &engine))?,
            equal_to_local: tilannekuva_bench::cross_check(&values, &local, &ids),
        };
        eprintln!(
            "  {executors} executor(s): catalogue {:.3} s, trivial query {:.1} ms",
            tilannekuva_bench::median(&run.catalogue),
            run.trivial_query * 1e3
        );
        report.clusters.push(run);
    }
    Ok(report)
}

fn read_peer_values(path: &Path) -> Result<TileValues> {
    let raw: TileValues = serde_json::from_slice(&std::fs::read(path)?)?;
    Ok(raw)
}

/// Load, publish and serving on the local disk and on moto's S3 server, `runs` times each,
/// alternating, every run into an empty warehouse in its own process.
fn store_phase(
    args: &Args,
    config: &Path,
    history: &Path,
    dir: &Path,
    work: &Path,
    runs: usize,
) -> Result<tilannekuva_bench::store::StoreReport> {
    use tilannekuva_bench::store::{BUCKET, S3Server, StoreRun};
    eprintln!("object storage: starting moto's S3 server ...");
    let server = S3Server::start(&work.join("store-venv"))?;
    let mut report = tilannekuva_bench::store::StoreReport {
        moto: server.version.clone(),
        ..Default::default()
    };
    let once = |store: &str, warehouse: &str, env: &[(&str, String)]| -> Result<StoreRun> {
        let out = Command::new(std::env::current_exe()?)
            .arg("store-once")
            .arg("--config")
            .arg(config)
            .arg("--inputs")
            .arg(history)
            .args(["--warehouse", warehouse, "--store", store])
            .args(["--threads", &args.threads.to_string()])
            .args(["--serve-seconds", &args.serve_seconds.to_string()])
            .args(["--concurrency", &args.concurrency.to_string()])
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .output()?;
        if !out.status.success() {
            bail!(
                "store-once {store}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(serde_json::from_slice(&out.stdout)?)
    };
    for run in 0..runs {
        let local = dir.join("wh-store-local");
        let _ = std::fs::remove_dir_all(&local);
        let r = once("local", &local.display().to_string(), &[])?;
        eprintln!(
            "  run {run}: local load {:.3} s, publish {:.3} s",
            r.load, r.publish
        );
        report.local.push(r);
        let r = once("s3", &format!("s3://{BUCKET}/run-{run}"), &server.env())?;
        eprintln!(
            "  run {run}: s3 load {:.3} s, publish {:.3} s",
            r.load, r.publish
        );
        report.s3.push(r);
    }
    Ok(report)
}
