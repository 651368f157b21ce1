//! The cluster's processes: a scheduler and its executors, each knowing the county's SQL
//! functions (`fi_period_month` …, `fi_deadline`, …: [`tilannekuva_tiles::udf::all`]) and
//! reading the warehouse's object store with the node's own credentials.
//!
//! The scheduler plans each query's stages, so it opens the warehouse's store too (it reads
//! the Parquet footers to split the work); the executors read the files and exchange the
//! stages' results over Arrow Flight.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ballista_core::RuntimeProducer;
use ballista_core::config::TaskSchedulingPolicy;
use ballista_core::registry::BallistaFunctionRegistry;
use ballista_core::utils::default_session_builder;
use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use ballista_scheduler::scheduler_process::{create_scheduler, start_grpc_service_with_listener};
use datafusion::execution::FunctionRegistry;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::prelude::SessionConfig;
use datafusion_proto::protobuf::{LogicalPlanNode, PhysicalPlanNode};
use tilannekuva_tiles::udf;
use tilannekuva_warehouse::Warehouse;
use tokio::net::TcpListener;

use crate::{Error, Result, scheduler_address};

/// Both kinds of node schedule by pushing tasks to executors, Ballista's default.
const SCHEDULING: TaskSchedulingPolicy = TaskSchedulingPolicy::PushStaged;

/// How a scheduler runs.
#[derive(Debug, Clone)]
pub struct SchedulerSettings {
    /// How long an executor may stay silent before its tasks are run elsewhere.
    pub executor_timeout: Duration,
    /// How often a failed task is retried on another executor before its query fails.
    pub task_max_failures: usize,
}

impl Default for SchedulerSettings {
    fn default() -> Self {
        Self {
            executor_timeout: Duration::from_secs(180),
            task_max_failures: 4,
        }
    }
}

/// Runs a scheduler on `listener` until the process ends.
pub async fn run_scheduler(
    listener: TcpListener,
    warehouse: Warehouse,
    settings: &SchedulerSettings,
) -> Result<()> {
    let addr = listener.local_addr()?;
    let session_builder = Arc::new(move |config: SessionConfig| {
        let mut state = default_session_builder(config)?;
        for f in udf::all() {
            state.register_udf(Arc::new(f))?;
        }
        warehouse.register_store_in(state.runtime_env());
        Ok(state)
    });
    let timeout = settings.executor_timeout.as_secs().max(1);
    let mut config = SchedulerConfig::default()
        .with_hostname(addr.ip().to_string())
        .with_port(addr.port())
        .with_scheduler_policy(SCHEDULING)
        .with_override_session_builder(session_builder)
        .with_no_executors_grace_period_seconds(timeout);
    config.bind_host = addr.ip().to_string();
    config.executor_timeout_seconds = timeout;
    config.expire_dead_executor_interval_seconds = timeout.clamp(1, 15);
    config.task_max_failures = settings.task_max_failures.max(1);
    let cluster = BallistaCluster::new_from_config(&config).await?;
    let scheduler =
        create_scheduler::<LogicalPlanNode, PhysicalPlanNode>(cluster, Arc::new(config)).await?;
    tracing::info!(%addr, "Ballista scheduler listening");
    start_grpc_service_with_listener(listener, scheduler).await?;
    Ok(())
}

/// How an executor runs.
#[derive(Debug, Clone)]
pub struct ExecutorSettings {
    /// The scheduler it works for (`df://host:50050`).
    pub scheduler: String,
    /// Address its Arrow Flight service (stage results) listens on; its gRPC service
    /// listens on the next port.
    pub bind: SocketAddr,
    /// Host name other nodes reach it by, when not the bind address.
    pub external_host: Option<String>,
    /// Tasks it runs at once.
    pub concurrent_tasks: usize,
    /// Folder for stage results; a temporary one when not given.
    pub work_dir: Option<PathBuf>,
    /// How often it tells the scheduler it is alive.
    pub heartbeat: Duration,
}

/// Runs an executor for the scheduler of `settings` until the process ends or the
/// scheduler stops it.
pub async fn run_executor(settings: &ExecutorSettings, warehouse: Warehouse) -> Result<()> {
    let (scheduler_host, scheduler_port) = scheduler_address(&settings.scheduler)?;
    let mut functions = BallistaFunctionRegistry::default();
    for f in udf::all() {
        functions
            .scalar_functions
            .insert(f.name().to_string(), Arc::new(f));
    }
    let runtime: RuntimeProducer = Arc::new(move |_: &SessionConfig| {
        let runtime = RuntimeEnvBuilder::new().build()?;
        warehouse.register_store_in(&runtime);
        Ok(Arc::new(runtime))
    });
    let grpc_port = settings
        .bind
        .port()
        .checked_add(1)
        .ok_or_else(|| Error::Address {
            address: settings.bind.to_string(),
            reason: "the next port (the executor's gRPC service) does not exist".into(),
        })?;
    let config = ExecutorProcessConfig {
        bind_host: settings.bind.ip().to_string(),
        external_host: settings.external_host.clone(),
        port: settings.bind.port(),
        grpc_port,
        scheduler_host,
        scheduler_port,
        scheduler_connect_timeout_seconds: 30,
        vcores: settings.concurrent_tasks.max(1),
        task_scheduling_policy: SCHEDULING,
        work_dir: settings.work_dir.as_ref().map(|d| d.display().to_string()),
        print_thread_info: false,
        executor_heartbeat_interval_seconds: settings.heartbeat.as_secs().max(1),
        override_function_registry: Some(Arc::new(functions)),
        override_runtime_producer: Some(runtime),
        ..ExecutorProcessConfig::default()
    };
    tracing::info!(bind = %settings.bind, scheduler = %settings.scheduler, "Ballista executor starting");
    start_executor_process(Arc::new(config)).await?;
    Ok(())
}
