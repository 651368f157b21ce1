//! The whole tile catalogue on an Apache Ballista cluster of this machine against the local
//! engine: a scheduler and one or two executor processes (this benchmark's `cluster-node`,
//! the same scheduler and executor code as `tilannekuva cluster …`), pinned to the same
//! cores as every other engine, with the same number of task slots in all as the local
//! engine has threads. Also the fixed cost of one query on each engine.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde::Serialize;
use tilannekuva_cluster::node::{self, ExecutorSettings, SchedulerSettings};
use tilannekuva_tiles::{EngineSettings, Grain};

use crate::{CrossCheck, median, project};

/// The query whose time is the fixed cost of a query: planning, registering the session's
/// tables, submitting, running one tiny stage and returning one row.
pub const TRIVIAL_QUERY: &str = "SELECT count(*) AS n FROM calendar";

/// Trivial queries timed per engine.
pub const TRIVIAL_RUNS: usize = 20;

/// The catalogue on one cluster shape.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ClusterRun {
    /// Executor processes.
    pub executors: usize,
    /// Task slots of each.
    pub tasks_each: usize,
    /// The whole catalogue: seconds per run.
    pub catalogue: Vec<f64>,
    /// Median seconds of [`TRIVIAL_QUERY`].
    pub trivial_query: f64,
    /// The cluster's figures against the local engine's.
    pub equal_to_local: CrossCheck,
}

/// One node process of the cluster; killed when dropped.
struct NodeProcess(Child);

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A scheduler and its executors on 127.0.0.1, reading a local warehouse folder.
pub struct LocalCluster {
    _nodes: Vec<NodeProcess>,
    /// The scheduler's address, `df://127.0.0.1:PORT`.
    pub scheduler: String,
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A free port whose next port is free too (an executor listens on both).
fn free_port_pair() -> Result<u16> {
    for _ in 0..100 {
        let port = free_port()?;
        if port < u16::MAX && TcpListener::bind(("127.0.0.1", port + 1)).is_ok() {
            return Ok(port);
        }
    }
    bail!("no two free consecutive ports on 127.0.0.1")
}

fn wait_for_port(port: u16, node: &mut NodeProcess) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        if let Some(status) = node.0.try_wait()? {
            bail!("a cluster node ended ({status}) before listening on {port}");
        }
        if Instant::now() > deadline {
            bail!("nothing listens on {port} after 60 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

impl LocalCluster {
    /// Starts a scheduler and `executors` executors with `tasks_each` task slots each, every
    /// process with `threads` runtime threads.
    pub fn start(
        config: &Path,
        warehouse: &Path,
        executors: usize,
        tasks_each: usize,
        threads: usize,
    ) -> Result<Self> {
        let exe = std::env::current_exe()?;
        let spawn = |args: &[&str]| -> Result<NodeProcess> {
            Command::new(&exe)
                .arg("cluster-node")
                .arg("--config")
                .arg(config)
                .arg("--warehouse")
                .arg(warehouse)
                .args(["--threads", &threads.to_string()])
                .args(args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map(NodeProcess)
                .context("starting a cluster node")
        };
        let port = free_port()?;
        let scheduler = format!("df://127.0.0.1:{port}");
        let mut nodes = vec![spawn(&["--bind", &format!("127.0.0.1:{port}")])?];
        wait_for_port(port, &mut nodes[0])?;
        for _ in 0..executors {
            let flight = free_port_pair()?;
            let mut executor = spawn(&[
                "--bind",
                &format!("127.0.0.1:{flight}"),
                "--scheduler",
                &scheduler,
                "--tasks",
                &tasks_each.to_string(),
            ])?;
            wait_for_port(flight + 1, &mut executor)?;
            nodes.push(executor);
        }
        // An executor registers right after its gRPC port opens.
        std::thread::sleep(Duration::from_secs(2));
        Ok(Self {
            _nodes: nodes,
            scheduler,
        })
    }
}

/// Runs one node until the process is killed: the scheduler, or (with `scheduler`) an
/// executor with `tasks` task slots.
pub async fn run_node(
    config: &Path,
    warehouse: &Path,
    bind: SocketAddr,
    scheduler: Option<String>,
    tasks: usize,
) -> Result<()> {
    let wh = project(config, warehouse, warehouse)?.warehouse()?;
    match scheduler {
        None => {
            let listener = tokio::net::TcpListener::bind(bind).await?;
            node::run_scheduler(listener, wh, &SchedulerSettings::default()).await?;
        }
        Some(scheduler) => {
            let settings = ExecutorSettings {
                scheduler,
                bind,
                external_host: None,
                concurrent_tasks: tasks,
                work_dir: None,
                heartbeat: Duration::from_secs(5),
            };
            node::run_executor(&settings, wh).await?;
        }
    }
    Ok(())
}

/// Median seconds of [`TRIVIAL_QUERY`] on one session of `engine`, over [`TRIVIAL_RUNS`]
/// queries after one not timed.
pub async fn trivial_query(
    config: &Path,
    warehouse: &Path,
    engine: &EngineSettings,
) -> Result<f64> {
    let mut project = project(config, warehouse, warehouse)?;
    project.engine = engine.clone();
    let engine = project.engine()?;
    let manifest = project.warehouse()?.manifest().await?;
    let ctx = engine.session(&manifest, Grain::Month).await?;
    let mut seconds = Vec::with_capacity(TRIVIAL_RUNS);
    for run in 0..=TRIVIAL_RUNS {
        let t = Instant::now();
        let batches = ctx.sql(TRIVIAL_QUERY).await?.collect().await?;
        if batches.iter().map(|b| b.num_rows()).sum::<usize>() != 1 {
            bail!("{TRIVIAL_QUERY} did not return one row");
        }
        if run > 0 {
            seconds.push(t.elapsed().as_secs_f64());
        }
    }
    Ok(median(&seconds))
}
