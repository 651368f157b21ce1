//! The command line: one subcommand per thing a data engineer, an analyst or an operator
//! does.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use chrono::{Datelike, NaiveDate, Utc};
use clap::{Parser, Subcommand, ValueEnum};
use tilannekuva_pipelines::{LoadReport, Outcome};
use tilannekuva_tiles::{Grain, render};
use tilannekuva_warehouse::Location;

use crate::output::{self, Format};
use crate::project::{DEFAULT_CONFIG, Overrides, Project};

/// Tilannekuva: from source-system exports to the KPI tiles of the leadership desktop.
///
/// Exports are landed untouched, normalised into typed Parquet tables, and DataFusion SQL in
/// `sql/` computes the tiles. Everything lives in the warehouse folder named in the config.
#[derive(Debug, Parser)]
#[command(name = "tilannekuva", version, about, long_about)]
pub struct Cli {
    /// Main config file.
    #[arg(long, global = true, default_value = DEFAULT_CONFIG, env = "TILANNEKUVA_CONFIG")]
    pub config: PathBuf,
    /// Warehouse instead of the config's: a folder, `s3://bucket/prefix` or
    /// `az://container/prefix` (credentials from the cloud's environment variables).
    #[arg(long, global = true, env = "TILANNEKUVA_WAREHOUSE", value_parser = parse_location)]
    pub warehouse: Option<Location>,
    /// Inputs (drop folders) root, instead of the one in the config.
    #[arg(long, global = true, env = "TILANNEKUVA_INPUTS")]
    pub inputs: Option<PathBuf>,
    /// Run tile SQL on the Apache Ballista cluster whose scheduler is at this address
    /// (`df://host:50050`) instead of where `[engine]` says.
    #[arg(
        long,
        global = true,
        env = "TILANNEKUVA_BALLISTA",
        value_name = "SCHEDULER"
    )]
    pub ballista: Option<String>,
    /// More log output (-v info, -vv debug); `RUST_LOG` also works.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Log format on stderr: `text` for people, `json` (one object per line) for log collectors.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "TILANNEKUVA_LOG_FORMAT")]
    pub log_format: LogFormat,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Log formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Generate sample exports, load them, compute the tiles, print them and open the desktop.
    ///
    /// Runs the whole journey on the embedded default: no services needed. With `--dir`,
    /// the sample exports go to DIR/incoming and the warehouse to DIR/warehouse (unless
    /// `--warehouse` names one, a bucket for example). Then it
    /// serves the desktop and the scheduler like `serve` (until Ctrl-C), printing the
    /// address and a sign-in token; `--no-serve` stops after printing the tiles.
    Demo {
        /// Stop after printing the tiles instead of serving the desktop.
        #[arg(long)]
        no_serve: bool,
        /// Address of the desktop (default: `[desktop] bind`, else 127.0.0.1:8080).
        #[arg(long)]
        bind: Option<std::net::SocketAddr>,
        /// Folder for the sample exports and the warehouse.
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Volume of the sample data (1.0 = one county of 170 000 residents).
        #[arg(long)]
        scale: Option<f64>,
        /// Random seed of the sample data.
        #[arg(long)]
        seed: Option<u64>,
        /// First day of the sample data (YYYY-MM-DD).
        #[arg(long)]
        from: Option<NaiveDate>,
        /// Last day of the sample data (YYYY-MM-DD; default: the end of last month).
        #[arg(long)]
        to: Option<NaiveDate>,
    },
    /// Fetch and load sources' new exports (all sources, or those named).
    Load {
        /// Sources to load; all when none is named.
        sources: Vec<String>,
        /// Pick up drop-folder files changed this recently (overrides each source's `settle_seconds`).
        #[arg(long)]
        settle_seconds: Option<u64>,
    },
    /// Compute the tiles from the loaded data and publish a new snapshot. Only the periods
    /// whose input files changed since the latest snapshot are recomputed.
    Compute {
        /// Recompute every tile over all of its data.
        #[arg(long)]
        full: bool,
    },
    /// Show the published tiles.
    Tiles {
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Grain of the figures shown in the table.
        #[arg(long, default_value = "quarter")]
        grain: Grain,
        /// Period to show (`2024-Q4`, `2024-12`, `2024`); the latest when not given.
        #[arg(long)]
        period: Option<String>,
        /// Show the picture as published at this time (RFC 3339 or YYYY-MM-DD).
        #[arg(long, conflicts_with = "snapshot")]
        as_of: Option<String>,
        /// Show the snapshot pinned with this label (or with this id).
        #[arg(long)]
        snapshot: Option<String>,
        /// Show one tile's breakdown.
        #[arg(long)]
        tile: Option<String>,
    },
    /// Run SQL over the warehouse tables; without a query, an interactive prompt.
    Sql {
        /// The query.
        query: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Grain `fi_period()` uses.
        #[arg(long, default_value = "month")]
        grain: Grain,
    },
    /// Check the config, the tile SQL and metadata without running anything.
    Check,
    /// Show quarantined rows: file, line, column, value and reason.
    Quarantine {
        /// Only this source.
        #[arg(long)]
        source: Option<String>,
        /// At most this many rows.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// List the published snapshots, or pin one for a board report so `gc` keeps it.
    Snapshots {
        /// What to do; without one, list them.
        #[command(subcommand)]
        action: Option<SnapshotAction>,
        /// Output format of the list.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Write a snapshot's board report: an overview of every tile, then each tile with its
    /// chart, definition, owner and sources, as printable HTML (and PDF with `--pdf`).
    ///
    /// Everything comes from the snapshot, so the report of a pinned snapshot is the same
    /// document whenever it is written.
    Report {
        /// The snapshot pinned with this label (or with this id); the latest without it.
        #[arg(long)]
        snapshot: Option<String>,
        /// Language: fi, sv or en.
        #[arg(long, default_value = "fi")]
        lang: tilannekuva_tiles::report::Lang,
        /// Grain of the figures and charts.
        #[arg(long, default_value = "quarter")]
        grain: Grain,
        /// The HTML file (default: `report-<label>.<lang>.html` here).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Also print it to PDF beside the HTML, with a local headless Chromium.
        #[arg(long)]
        pdf: bool,
    },
    /// Remove files that no committed state refers to (leftovers of interrupted loads,
    /// expired snapshots), landed exports older than `[warehouse] raw_retention_days`,
    /// snapshots older than `snapshot_retention_days` (never a pinned one or the latest)
    /// and commit log history older than `log_retention_days`.
    Gc {
        /// Remove an unreferenced file only when it was written this many hours ago or
        /// earlier: a younger one may belong to a load that has not committed yet.
        #[arg(long, default_value_t = tilannekuva_warehouse::ORPHAN_GRACE_HOURS)]
        orphan_grace_hours: u32,
    },
    /// Run the scheduler and the desktop web server until SIGTERM or Ctrl-C.
    ///
    /// Jobs run on their schedules from the jobs file (`[definitions] jobs`); missed times
    /// after downtime are handled by each job's `catch_up`. On SIGTERM/Ctrl-C nothing new
    /// starts, running jobs get the grace period to finish, and the process exits 0.
    Serve {
        /// Address of the desktop web server (default: `[desktop] bind`, else 127.0.0.1:8080).
        #[arg(long)]
        bind: Option<std::net::SocketAddr>,
        /// Also serve the warehouse to PostgreSQL clients (BI tools, psql) on this address
        /// (default: `[sql_wire] bind`, else not at all).
        #[arg(long)]
        sql_bind: Option<std::net::SocketAddr>,
        /// Jobs file, instead of the one in the config.
        #[arg(long, env = "TILANNEKUVA_JOBS")]
        jobs: Option<PathBuf>,
    },
    /// Show the alerts sent (newest first), each with every delivery attempt.
    Alerts {
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Show the scheduler's run history (newest first) and the sources that are late.
    Runs {
        /// Only this job.
        #[arg(long)]
        job: Option<String>,
        /// At most this many runs.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Run a job now, whatever its schedule (a compute runs even when its inputs did not change).
    Run {
        /// The job's name in the jobs file.
        job: String,
        /// Jobs file, instead of the one in the config.
        #[arg(long, env = "TILANNEKUVA_JOBS")]
        jobs: Option<PathBuf>,
    },
    /// Backfill a job over a range of reporting days.
    ///
    /// A load job fetches its API sources again for the range: a `rest_api` source for the
    /// whole months the range touches, whose rows then replace the source's rows of those
    /// months in one commit (its cursor stays); a `sotkanet` source for the range's years.
    /// Drop folders load what is new. A compute job publishes a snapshot with the tiles'
    /// periods in the range recomputed even when their inputs did not change. The run is
    /// recorded in the history; `--dry-run` only lists what would be fetched, replaced,
    /// loaded and recomputed.
    Backfill {
        /// The job's name in the jobs file.
        job: String,
        /// First day (YYYY-MM-DD).
        #[arg(long)]
        from: NaiveDate,
        /// Last day (YYYY-MM-DD).
        #[arg(long)]
        to: NaiveDate,
        /// List what would be fetched, replaced, loaded and recomputed; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Jobs file, instead of the one in the config.
        #[arg(long, env = "TILANNEKUVA_JOBS")]
        jobs: Option<PathBuf>,
    },
    /// Run a node of an Apache Ballista cluster that computes the tiles when `[engine]` says
    /// `kind = "ballista"`: a scheduler, or an executor working for one. Every node knows
    /// the county's SQL functions and reads the config's warehouse with its own credentials
    /// (see docs/cluster.md).
    Cluster {
        /// Which node.
        #[command(subcommand)]
        node: ClusterNode,
    },
}

/// The nodes of a Ballista cluster.
#[derive(Debug, Subcommand)]
pub enum ClusterNode {
    /// The scheduler: plans each query's stages and hands them to the executors.
    Scheduler {
        /// Address to listen on (what `[engine] scheduler` names).
        #[arg(long, default_value = "127.0.0.1:50050")]
        bind: std::net::SocketAddr,
        /// Seconds an executor may stay silent before its tasks are run on another.
        #[arg(long, default_value_t = 180)]
        executor_timeout_secs: u64,
        /// Times a failed task is tried again on another executor before its query fails.
        #[arg(long, default_value_t = 4)]
        task_max_failures: usize,
    },
    /// An executor: runs the stages' tasks, reading the warehouse's files, and serves their
    /// results to the others over Arrow Flight.
    Executor {
        /// The scheduler (`df://host:50050`); default: `--ballista`, then `[engine] scheduler`.
        #[arg(long)]
        scheduler: Option<String>,
        /// Address of its Arrow Flight service; its gRPC service listens on the next port.
        #[arg(long, default_value = "127.0.0.1:50051")]
        bind: std::net::SocketAddr,
        /// Host name the other nodes reach it by, when not the bind address.
        #[arg(long, env = "TILANNEKUVA_EXECUTOR_HOST")]
        external_host: Option<String>,
        /// Tasks it runs at once (default: the machine's cores).
        #[arg(long)]
        concurrent_tasks: Option<usize>,
        /// Folder for the stages' results (default: a temporary one).
        #[arg(long)]
        work_dir: Option<PathBuf>,
        /// Seconds between its heartbeats to the scheduler.
        #[arg(long, default_value_t = 60)]
        heartbeat_secs: u64,
    },
}

/// What `snapshots` does besides listing.
#[derive(Debug, Subcommand)]
pub enum SnapshotAction {
    /// Pin a snapshot with a label ("Aluevaltuusto 16.12.2026"): `gc` never removes it and
    /// `tiles --snapshot LABEL` shows it. The latest snapshot unless one is chosen.
    Pin {
        /// The label.
        label: String,
        /// The snapshot's id.
        #[arg(long, conflicts_with = "as_of")]
        id: Option<String>,
        /// The snapshot in force at this time (RFC 3339 or YYYY-MM-DD).
        #[arg(long)]
        as_of: Option<String>,
    },
    /// Remove a pin; the snapshot stays until the retention rule reaches it.
    Unpin {
        /// The label.
        label: String,
    },
}

/// An error and its causes on one line, leaving out causes whose text the message
/// before already includes (many libraries repeat their source in their own message).
pub fn error_chain(e: &anyhow::Error) -> String {
    let mut out = e.to_string();
    for cause in e.chain().skip(1) {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
    }
    out
}

/// Sets up logging to stderr.
pub fn init_logging(verbose: u8, format: LogFormat) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// Runs a node of the Ballista cluster until the process ends.
async fn cluster_node(project: &Project, node: ClusterNode) -> Result<()> {
    use tilannekuva_cluster::node;
    let warehouse = project.warehouse()?;
    match node {
        ClusterNode::Scheduler {
            bind,
            executor_timeout_secs,
            task_max_failures,
        } => {
            let listener = tokio::net::TcpListener::bind(bind)
                .await
                .with_context(|| format!("cannot listen on {bind}"))?;
            eprintln!(
                "Ballista scheduler for {} listening on {bind}",
                warehouse.location()
            );
            let settings = node::SchedulerSettings {
                executor_timeout: std::time::Duration::from_secs(executor_timeout_secs),
                task_max_failures,
            };
            node::run_scheduler(listener, warehouse, &settings).await?;
        }
        ClusterNode::Executor {
            scheduler,
            bind,
            external_host,
            concurrent_tasks,
            work_dir,
            heartbeat_secs,
        } => {
            let scheduler = match (scheduler, &project.engine) {
                (Some(s), _) => s,
                (None, tilannekuva_tiles::EngineSettings::Ballista { scheduler }) => {
                    scheduler.clone()
                }
                (None, tilannekuva_tiles::EngineSettings::Local) => anyhow::bail!(
                    "which scheduler? give --scheduler, or set `[engine] kind = \"ballista\"` \
                     with `scheduler` in {}",
                    project.config_path.display()
                ),
            };
            let settings = node::ExecutorSettings {
                scheduler,
                bind,
                external_host,
                concurrent_tasks: concurrent_tasks.unwrap_or_else(|| {
                    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
                }),
                work_dir,
                heartbeat: std::time::Duration::from_secs(heartbeat_secs),
            };
            eprintln!(
                "Ballista executor for {} on {bind}, working for {}",
                warehouse.location(),
                settings.scheduler
            );
            node::run_executor(&settings, warehouse).await?;
        }
    }
    Ok(())
}

fn parse_location(text: &str) -> Result<Location, String> {
    Location::parse(text).map_err(|e| e.to_string())
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> Result<ExitCode> {
    let overrides = Overrides {
        warehouse: cli.warehouse.clone(),
        inputs: cli.inputs.clone(),
        ballista: cli.ballista.clone(),
    };
    match cli.command {
        Command::Demo {
            no_serve,
            bind,
            dir,
            scale,
            seed,
            from,
            to,
        } => {
            let (project, code) = demo(
                &cli.config,
                overrides,
                dir,
                DemoData {
                    scale,
                    seed,
                    from,
                    to,
                },
            )
            .await?;
            if no_serve {
                return Ok(code);
            }
            crate::scheduling::serve(&project, None, bind, None, true).await
        }
        Command::Load {
            sources,
            settle_seconds,
        } => {
            let project = Project::load(&cli.config, &overrides)?;
            load(&project, &sources, settle_seconds).await
        }
        Command::Compute { full } => {
            let project = Project::load(&cli.config, &overrides)?;
            let (doc, recomputed) = project.engine()?.publish_with(full).await?;
            println!(
                "published snapshot {} ({} tiles, data version {}); {recomputed}",
                doc.snapshot_id,
                doc.tiles.len(),
                doc.data_version
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Tiles {
            format,
            grain,
            period,
            as_of,
            snapshot,
            tile,
        } => {
            let project = Project::load(&cli.config, &overrides)?;
            let wh = project.warehouse()?;
            let doc = match snapshot {
                Some(label) => {
                    let manifest = wh.manifest().await?;
                    let record = tilannekuva_tiles::snapshot::pick_pinned(&manifest, &label)?;
                    tilannekuva_tiles::snapshot::read(&wh, record).await?
                }
                None => tilannekuva_tiles::read_snapshot(&wh, parse_as_of_arg(as_of)?).await?,
            };
            output::print_tiles(&doc, format, grain, period.as_deref(), tile.as_deref())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Sql {
            query,
            format,
            grain,
        } => {
            let project = Project::load(&cli.config, &overrides)?;
            sql(&project, query, format, grain).await
        }
        Command::Check => {
            let project = Project::load(&cli.config, &overrides)?;
            if !project.broken_sources.is_empty() {
                let all: Vec<String> = project
                    .broken_sources
                    .iter()
                    .flat_map(|b| b.problems.iter().cloned())
                    .collect();
                anyhow::bail!("configuration problems:\n  - {}", all.join("\n  - "));
            }
            // A key is a secret of the machine that loads, not of the config: say it is
            // missing, but the config may still be right.
            if let Err(e) = project.pipelines(None) {
                eprintln!("warning: {e:#}");
            }
            for m in project.alerts.missing_secrets() {
                eprintln!("warning: {m}");
            }
            let mut problems = project.engine()?.check_definitions().await?;
            if let Err(e) = project.sql_wire.tls() {
                problems.push(format!("{}: {e}", project.config_path.display()));
            }
            // A store is checked for real: reachable with the environment's credentials,
            // and keeping create-only writes.
            if !project.warehouse_location.is_local() {
                let wh = project.warehouse()?;
                match wh.verify_create_only().await {
                    Ok(()) => match wh.manifest().await {
                        Ok(m) => eprintln!(
                            "warehouse {}: reachable, create-only writes kept, version {}",
                            project.warehouse_location, m.version
                        ),
                        Err(e) => problems.push(format!("warehouse: {e}")),
                    },
                    Err(e) => problems.push(format!("warehouse: {e}")),
                }
            }
            // A cluster is asked whether it takes queries.
            if project.engine != tilannekuva_tiles::EngineSettings::Local {
                let status =
                    crate::scheduling::engine_status(project.query_engine()?.as_ref()).await;
                match status.problem {
                    None => eprintln!("engine {}: reachable", status.engine),
                    Some(p) => problems.push(format!("engine {}: {p}", status.engine)),
                }
            }
            for w in &project.warnings {
                eprintln!("warning: {w}");
            }
            if problems.is_empty() {
                println!(
                    "ok: {} tables, {} sources, {} tiles",
                    project.tables.len(),
                    project.sources.len(),
                    project.tiles.len()
                );
                Ok(ExitCode::SUCCESS)
            } else {
                for p in &problems {
                    eprintln!("{p}");
                }
                Ok(ExitCode::FAILURE)
            }
        }
        Command::Quarantine {
            source,
            limit,
            format,
        } => {
            let project = Project::load(&cli.config, &overrides)?;
            let filter = match &source {
                Some(s) => format!("WHERE source = '{}'", s.replace('\'', "''")),
                None => String::new(),
            };
            let q = format!(
                "SELECT source, file_name, sheet, line, column_number, \"column\", raw_value, reason FROM quarantine {filter} ORDER BY source, file_name, sheet, line LIMIT {limit}"
            );
            sql(&project, Some(q), format, Grain::Month).await
        }
        Command::Snapshots { action, format } => {
            let project = Project::load(&cli.config, &overrides)?;
            snapshots(&project, action, format).await
        }
        Command::Report {
            snapshot,
            lang,
            grain,
            out,
            pdf,
        } => {
            let project = Project::load(&cli.config, &overrides)?;
            let request = crate::report::ReportRequest {
                snapshot,
                lang,
                grain,
                out,
                pdf,
            };
            for file in crate::report::write(&project, &request).await? {
                println!("wrote {}", file.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Cluster { node } => {
            let project = Project::load(&cli.config, &overrides)?;
            cluster_node(&project, node).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Gc { orphan_grace_hours } => {
            let project = Project::load(&cli.config, &overrides)?;
            let wh = project.warehouse()?;
            if let Some(days) = project.snapshot_retention_days {
                let cutoff = chrono::Utc::now() - chrono::Duration::days(i64::from(days));
                let expired = wh.expire_snapshots(cutoff).await?;
                println!(
                    "expired {} snapshots computed before {} (snapshot_retention_days = \
                     {days}); kept the pinned ones, the latest and the one then in force",
                    expired.len(),
                    cutoff.format("%Y-%m-%d %H:%M UTC")
                );
            }
            let grace = chrono::Duration::hours(i64::from(orphan_grace_hours));
            let removed = wh.remove_orphans(chrono::Utc::now() - grace).await?;
            println!(
                "removed {} unreferenced files written over {orphan_grace_hours} hours ago",
                removed.len()
            );
            let days = project.log_retention_days;
            let cutoff = chrono::Utc::now() - chrono::Duration::days(i64::from(days));
            let expired = wh.expire_log(cutoff).await?;
            println!(
                "removed {} commit log entries older than the newest checkpoint and than \
                 {days} days (log_retention_days)",
                expired.len()
            );
            if let Some(days) = project.raw_retention_days {
                let cutoff = chrono::Utc::now() - chrono::Duration::days(i64::from(days));
                let expired = wh.expire_raw(cutoff).await?;
                println!(
                    "removed {} landed exports loaded before {} (raw_retention_days = {days}); \
                     the load ledger keeps their hashes",
                    expired.len(),
                    cutoff.format("%Y-%m-%d %H:%M UTC")
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve {
            bind,
            sql_bind,
            jobs,
        } => {
            let project = Project::load(&cli.config, &overrides)?;
            crate::scheduling::serve(&project, jobs.as_deref(), bind, sql_bind, false).await
        }
        Command::Alerts { limit, format } => {
            let project = Project::load(&cli.config, &overrides)?;
            crate::scheduling::alerts(&project, limit, format).await
        }
        Command::Runs { job, limit, format } => {
            let project = Project::load(&cli.config, &overrides)?;
            crate::scheduling::runs(&project, job.as_deref(), limit, format).await
        }
        Command::Run { job, jobs } => {
            let project = Project::load(&cli.config, &overrides)?;
            crate::scheduling::run_job(&project, jobs.as_deref(), &job).await
        }
        Command::Backfill {
            job,
            from,
            to,
            dry_run,
            jobs,
        } => {
            let project = Project::load(&cli.config, &overrides)?;
            let range = tilannekuva_scheduler::DayRange { from, to };
            crate::scheduling::backfill(&project, jobs.as_deref(), &job, range, dry_run).await
        }
    }
}

/// What the command line says about the demo's sample data.
struct DemoData {
    scale: Option<f64>,
    seed: Option<u64>,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
}

async fn demo(
    config: &std::path::Path,
    overrides: Overrides,
    dir: Option<PathBuf>,
    data: DemoData,
) -> Result<(Project, ExitCode)> {
    let overrides = match &dir {
        Some(d) => Overrides {
            warehouse: overrides
                .warehouse
                .or_else(|| Some(Location::Folder(d.join("warehouse")))),
            inputs: Some(d.join("incoming")),
            ballista: overrides.ballista,
        },
        None => overrides,
    };
    let mut project = Project::load(config, &overrides)?;
    if project.use_demo_key() {
        eprintln!(
            "pseudonymising the sample data with the demo's public key (real loads need their own key)"
        );
    }
    let defaults = project.demo.clone();
    let mut cfg = tilannekuva_samples::SampleConfig::default();
    if let Some(d) = defaults {
        cfg.seed = d.seed;
        cfg.from = d.from;
        cfg.to = d.to.unwrap_or_else(end_of_last_month);
        cfg.scale = d.scale;
    }
    cfg.scale = data.scale.unwrap_or(cfg.scale);
    cfg.seed = data.seed.unwrap_or(cfg.seed);
    cfg.from = data.from.unwrap_or(cfg.from);
    cfg.to = data.to.unwrap_or(cfg.to);
    eprintln!(
        "generating sample exports ({} .. {}, scale {}, seed {}) in {}",
        cfg.from,
        cfg.to,
        cfg.scale,
        cfg.seed,
        project.inputs_path.display()
    );
    let configured = sample_sources(&project);
    let inputs = project.inputs_path.clone();
    let generated = tokio::task::spawn_blocking(move || {
        tilannekuva_samples::generate_sources(&inputs, &cfg, &configured)
    })
    .await
    .context("sample generator")??;
    let rows: usize = generated.files.iter().map(|f| f.rows).sum();
    eprintln!("wrote {} files, {} rows", generated.files.len(), rows);
    let code = load(&project, &[], Some(0)).await?;
    let doc = project.engine()?.publish().await?;
    eprintln!(
        "published snapshot {} from data version {}",
        doc.snapshot_id, doc.data_version
    );
    println!("{}", render::table(&doc, Grain::Quarter, None));
    eprintln!("warehouse: {}", project.warehouse_location);
    Ok((project, code))
}

/// The last day of the previous month, in Helsinki.
fn end_of_last_month() -> NaiveDate {
    let today = Utc::now()
        .with_timezone(&tilannekuva_conventions::datetime::HELSINKI)
        .date_naive();
    today
        .with_day(1)
        .and_then(|d| d.pred_opt())
        .unwrap_or(today)
}

/// The sample sources the config has a source for.
fn sample_sources(project: &Project) -> Vec<&'static str> {
    tilannekuva_samples::SOURCES
        .iter()
        .copied()
        .filter(|s| project.sources.iter().any(|c| c.name == *s))
        .collect()
}

async fn load(project: &Project, only: &[String], settle_seconds: Option<u64>) -> Result<ExitCode> {
    let pipelines = project.pipelines(settle_seconds)?;
    let names: Vec<String> = if only.is_empty() {
        // Sources set aside for config problems count as failed loads, after the others.
        let mut all: Vec<String> = project
            .compiled
            .iter()
            .map(|s| s.name().to_string())
            .collect();
        all.extend(project.broken_sources.iter().map(|b| b.name.clone()));
        all
    } else {
        for n in only {
            pipelines.source(n)?;
        }
        only.to_vec()
    };
    let (mut loaded, mut skipped, mut failed, mut rows, mut rejects) = (0, 0, 0, 0u64, 0u64);
    let mut not_data = 0u64;
    for name in &names {
        let results = match pipelines.load_source(name).await {
            Ok(results) => results,
            Err(e) if only.is_empty() => {
                failed += 1;
                eprintln!("error: {e}");
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        for result in results {
            match result {
                Ok(LoadReport {
                    outcome:
                        Outcome::Loaded {
                            rows: r,
                            rejects: q,
                            skipped: s,
                            ..
                        },
                    ..
                }) => {
                    loaded += 1;
                    rows += r;
                    rejects += q;
                    not_data += s;
                }
                Ok(LoadReport {
                    outcome: Outcome::AlreadyLoaded { .. },
                    ..
                }) => skipped += 1,
                Err(e) => {
                    failed += 1;
                    eprintln!("error: {e}");
                }
            }
        }
    }
    let not_data = if not_data > 0 {
        format!(", {not_data} rows skipped as not data (titles, totals, notes)")
    } else {
        String::new()
    };
    eprintln!(
        "loaded {loaded} exports ({rows} rows, {rejects} rows quarantined{not_data}), {skipped} already loaded, {failed} failed"
    );
    if rejects > 0 {
        eprintln!("see the rejected rows with `tilannekuva quarantine`");
    }
    Ok(if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

async fn sql(
    project: &Project,
    query: Option<String>,
    format: Format,
    grain: Grain,
) -> Result<ExitCode> {
    let engine = project.engine()?;
    let manifest = engine.warehouse.manifest().await?;
    let ctx = engine.reading_session(&manifest, grain, None).await?;
    let run = |q: String| {
        let ctx = ctx.clone();
        async move {
            let batches = ctx.sql(&q).await?.collect().await?;
            anyhow::Ok(batches)
        }
    };
    match query {
        Some(q) => {
            let batches = run(q).await?;
            output::print_batches(&batches, format)?;
            Ok(ExitCode::SUCCESS)
        }
        None => {
            let interactive = std::io::stdin().is_terminal();
            if interactive {
                eprintln!(
                    "tables: {}, quarantine, calendar, tiles, tile_cells, tile_sources; end a statement with `;`, quit with Ctrl-D",
                    project
                        .tables
                        .keys()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
            let mut buf = String::new();
            let stdin = std::io::stdin();
            let mut lines = stdin.lock().lines();
            loop {
                if interactive {
                    eprint!(
                        "{}",
                        if buf.is_empty() {
                            "tilannekuva> "
                        } else {
                            "         ...> "
                        }
                    );
                    std::io::stderr().flush().ok();
                }
                let Some(line) = lines.next() else { break };
                let line = line?;
                buf.push_str(&line);
                buf.push('\n');
                if line.trim_end().ends_with(';') {
                    let q = std::mem::take(&mut buf);
                    match run(q).await {
                        Ok(b) => output::print_batches(&b, format)?,
                        Err(e) => eprintln!("error: {}", error_chain(&e)),
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Reads `--as-of`.
fn parse_as_of_arg(as_of: Option<String>) -> Result<Option<chrono::DateTime<Utc>>> {
    as_of
        .map(|s| tilannekuva_tiles::parse_as_of(&s))
        .transpose()
        .map_err(|e| anyhow::anyhow!("--as-of: {e}"))
}

/// `snapshots`: lists them (newest first), or pins and unpins one.
async fn snapshots(
    project: &Project,
    action: Option<SnapshotAction>,
    format: Format,
) -> Result<ExitCode> {
    use arrow::array::{StringArray, UInt64Array};
    let wh = project.warehouse()?;
    match action {
        Some(SnapshotAction::Pin { label, id, as_of }) => {
            let manifest = wh.manifest().await?;
            let id = match id {
                Some(id) => id,
                None => tilannekuva_tiles::snapshot::pick(&manifest, parse_as_of_arg(as_of)?)?
                    .id
                    .clone(),
            };
            let pin = wh.pin_snapshot(&id, &label).await?;
            println!(
                "snapshot {id} pinned as `{}` ({}); gc keeps it",
                pin.label,
                pin.pinned_at.format("%Y-%m-%d %H:%M UTC")
            );
        }
        Some(SnapshotAction::Unpin { label }) => {
            let id = wh.unpin_snapshot(&label).await?;
            println!("unpinned `{label}` from snapshot {id}");
        }
        None => {
            let manifest = wh.manifest().await?;
            let mut list: Vec<_> = manifest.snapshots.iter().collect();
            list.sort_by_key(|s| std::cmp::Reverse(s.computed_at));
            let time = |t: chrono::DateTime<Utc>| t.format("%Y-%m-%d %H:%M:%S UTC").to_string();
            let schema = std::sync::Arc::new(arrow::datatypes::Schema::new(vec![
                arrow::datatypes::Field::new("id", arrow::datatypes::DataType::Utf8, false),
                arrow::datatypes::Field::new("computed", arrow::datatypes::DataType::Utf8, false),
                arrow::datatypes::Field::new(
                    "data_version",
                    arrow::datatypes::DataType::UInt64,
                    false,
                ),
                arrow::datatypes::Field::new("pinned_as", arrow::datatypes::DataType::Utf8, true),
                arrow::datatypes::Field::new("expired", arrow::datatypes::DataType::Utf8, true),
            ]));
            let batch = arrow::array::RecordBatch::try_new(
                schema,
                vec![
                    std::sync::Arc::new(StringArray::from_iter_values(
                        list.iter().map(|s| s.id.as_str()),
                    )),
                    std::sync::Arc::new(StringArray::from_iter_values(
                        list.iter().map(|s| time(s.computed_at)),
                    )),
                    std::sync::Arc::new(UInt64Array::from_iter_values(
                        list.iter().map(|s| s.data_version),
                    )),
                    std::sync::Arc::new(StringArray::from_iter(
                        list.iter().map(|s| s.pin.as_ref().map(|p| p.label.clone())),
                    )),
                    std::sync::Arc::new(StringArray::from_iter(
                        list.iter().map(|s| s.expired_at.map(time)),
                    )),
                ],
            )?;
            output::print_batches(&[batch], format)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
