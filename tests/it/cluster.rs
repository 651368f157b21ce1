//! Tiles on an Apache Ballista cluster (`[engine] kind = "ballista"`): every shipped tile
//! computed through a scheduler and an executor of our own, in this process, equals the
//! local engine's, figure for figure; so does the whole catalogue published through a
//! scheduler and two executor processes reading the warehouse from an S3 server, an
//! executor killed mid-computation leaves a whole snapshot, and a cluster that cannot be
//! reached fails the compute naming it.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tilannekuva::project::{Overrides, Project};
use tilannekuva_cluster::node::{self, ExecutorSettings, SchedulerSettings};
use tilannekuva_tiles::EngineSettings;
use tilannekuva_warehouse::{Location, SHIPPED_ROWS};

use serde_json::Value;

use crate::common::{repo_config, run_ok};
use crate::object_storage::{
    StoreServer, demo_args, figures, free_port, hand_written_ace_export, same_figures, tiles_of,
};

/// The sample window: small, so the cluster's run takes seconds.
pub const DEMO_ARGS: &[&str] = &[
    "--scale",
    "0.03",
    "--seed",
    "11",
    "--from",
    "2025-01-01",
    "--to",
    "2025-06-30",
];

/// The moment both engines compute at: after the window, so every period is complete.
const NOW: &str = "2025-07-15T09:00:00Z";

/// A free port whose next port is free too (an executor listens on both).
pub fn free_port_pair() -> u16 {
    loop {
        let first = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = first.local_addr().unwrap().port();
        if port < u16::MAX && TcpListener::bind(("127.0.0.1", port + 1)).is_ok() {
            return port;
        }
    }
}

/// The demo's warehouse in `dir`: generated, loaded and computed locally.
fn demo(dir: &Path) {
    let mut args = vec!["demo", "--no-serve", "--dir", dir.to_str().unwrap()];
    args.extend(DEMO_ARGS);
    run_ok(&args);
}

fn project(warehouse: &Path, engine: EngineSettings) -> Project {
    let overrides = Overrides {
        warehouse: Some(Location::Folder(warehouse.to_path_buf())),
        ..Overrides::default()
    };
    let mut project = Project::load(&repo_config(), &overrides).unwrap();
    project.engine = engine;
    project
}

/// Starts a scheduler and one executor in this process, for the warehouse of `project`;
/// returns the scheduler's address.
async fn start_cluster(project: &Project) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let scheduler = format!("df://{}", listener.local_addr().unwrap());
    let warehouse = project.warehouse().unwrap();
    let wh = warehouse.clone();
    tokio::spawn(async move {
        node::run_scheduler(listener, wh, &SchedulerSettings::default())
            .await
            .unwrap();
    });
    let settings = ExecutorSettings {
        scheduler: scheduler.clone(),
        bind: format!("127.0.0.1:{}", free_port_pair()).parse().unwrap(),
        external_host: None,
        concurrent_tasks: 2,
        work_dir: None,
        heartbeat: Duration::from_secs(5),
    };
    tokio::spawn(async move {
        node::run_executor(&settings, warehouse).await.unwrap();
    });
    scheduler
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_shipped_tile_through_ballista_equals_the_local_engine() {
    let dir = tempfile::tempdir().unwrap();
    demo(dir.path());
    let warehouse = dir.path().join("warehouse");
    let now: DateTime<Utc> = NOW.parse().unwrap();

    let local = project(&warehouse, EngineSettings::Local);
    let manifest = local.warehouse().unwrap().manifest().await.unwrap();
    let expected = local
        .engine()
        .unwrap()
        .compute_at(&manifest, now)
        .await
        .unwrap();

    let scheduler = start_cluster(&local).await;
    let remote = project(
        &warehouse,
        EngineSettings::Ballista {
            scheduler: scheduler.clone(),
        },
    );
    let engine = remote.engine().unwrap();
    assert_eq!(
        engine.query_engine.describe(),
        format!("Ballista at {scheduler}")
    );
    let through_cluster = engine.compute_at(&manifest, now).await.unwrap();

    assert_eq!(through_cluster.len(), local.tiles.len());
    let mut figures = 0;
    for (ours, theirs) in expected.iter().zip(&through_cluster) {
        assert_eq!(ours.meta.id, theirs.meta.id);
        figures += ours.series.values().map(Vec::len).sum::<usize>();
        // Everything a tile says, its figures at 12 significant digits (a float sum depends
        // on the order partitions are added up in, on one machine as on a cluster).
        let (a, b) = (
            serde_json::to_value(ours).unwrap(),
            serde_json::to_value(theirs).unwrap(),
        );
        if let Err(at) = same_figures(&a, &b, &ours.meta.id) {
            panic!("tile {} differs through the cluster at {at}", ours.meta.id);
        }
    }
    assert!(figures > 100, "only {figures} figures compared");

    // The rows that are not warehouse files (the calendar, the code lists, tables without
    // files) reached the executor as Parquet in the warehouse.
    let shipped: Vec<String> = std::fs::read_dir(warehouse.join(SHIPPED_ROWS))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        shipped.iter().any(|f| f.starts_with("calendar-")),
        "{shipped:?}"
    );
    assert!(
        shipped.iter().any(|f| f.starts_with("lookup_units-")),
        "{shipped:?}"
    );
    // The same rows are written once: a second computation adds no file.
    engine.compute_at(&manifest, now).await.unwrap();
    assert_eq!(
        std::fs::read_dir(warehouse.join(SHIPPED_ROWS))
            .unwrap()
            .count(),
        shipped.len()
    );
}

#[tokio::test]
async fn a_cluster_that_cannot_be_reached_fails_the_compute_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let nobody = format!("df://127.0.0.1:{}", free_port_pair());
    let project = project(
        &dir.path().join("warehouse"),
        EngineSettings::Ballista {
            scheduler: nobody.clone(),
        },
    );
    let manifest = project.warehouse().unwrap().manifest().await.unwrap();
    let e = project
        .engine()
        .unwrap()
        .compute(&manifest)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains(&format!("Ballista at {nobody}")), "{e}");
    assert!(e.contains("cannot be reached"), "{e}");
}

/// A node of a test cluster: a `tilannekuva cluster …` process on the store, killed when
/// dropped, its log collected for waiting on and for failure messages.
struct Node {
    child: Child,
    log: Arc<Mutex<String>>,
}

impl Node {
    fn start(store: &StoreServer, warehouse: &str, args: &[&str]) -> Self {
        let mut all = vec!["-v", "--warehouse", warehouse, "cluster"];
        all.extend(args);
        let mut child = store
            .command(&all)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let sink = log.clone();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        Self { child, log }
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// How often `what` is in the log.
    fn said(&self, what: &str) -> usize {
        self.log().matches(what).count()
    }

    /// Waits until the log says `what` `times` times.
    fn wait_for(&self, what: &str, times: usize) {
        let deadline = Instant::now() + Duration::from_secs(90);
        while self.said(what) < times {
            assert!(
                Instant::now() < deadline,
                "`{what}` not said {times} times:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// What the scheduler logs for each query it accepts, and for each executor registering.
const JOB_SUBMITTED: &str = "Job submitted";
const EXECUTOR_REGISTERED: &str = "Received register executor request";
/// What an executor logs for each task it starts.
const TASK_STARTED: &str = "Execute task";

/// Waits for `child`, at most `within`; kills it if it takes longer.
fn wait_at_most(mut child: Child, within: Duration) -> Output {
    let deadline = Instant::now() + within;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "still running after {within:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    child.wait_with_output().unwrap()
}

/// The whole catalogue through a scheduler and two executor processes of ours on
/// 127.0.0.1, every node reading the warehouse from an S3 server, with a hand-written ACE
/// export among the samples: the figures the local engine published, exactly, and the
/// export's bad row in the quarantine through the cluster's SQL. Then an executor is killed in the middle of a computation:
/// Ballista runs its tasks again on the other one, or the computation fails; either way the
/// published snapshot is whole. Then the scheduler stops: the status says so, and a compute
/// job fails naming the cluster after the retries its policy gives it.
#[test]
fn the_catalogue_publishes_through_a_scheduler_and_two_executor_processes_on_s3() {
    let store = StoreServer::s3("county-cluster");
    let warehouse = store.url("county/tilannekuva");
    let dir = tempfile::tempdir().unwrap();
    store.run_ok(&demo_args(&warehouse, dir.path()));
    // Beside the generated samples, an ACE export written by hand with a bad row (line 32),
    // loaded and computed locally: the figures the cluster must give.
    let inputs = dir.path().join("incoming");
    std::fs::write(
        inputs.join("callbacks_ace/ace_contacts_2025-06-extra.csv"),
        hand_written_ace_export(),
    )
    .unwrap();
    let inputs = inputs.to_str().unwrap();
    store.run_ok(&[
        "--warehouse",
        &warehouse,
        "--inputs",
        inputs,
        "load",
        "callbacks_ace",
        "--settle-seconds",
        "0",
    ]);
    store.run_ok(&["--warehouse", &warehouse, "compute", "--full"]);
    let published =
        || tiles_of(&store.run_ok(&["--warehouse", &warehouse, "tiles", "--format", "json"]));
    let local = published();
    let local_figures = figures(&local);

    let port = free_port();
    let address = format!("df://127.0.0.1:{port}");
    let scheduler = Node::start(
        &store,
        &warehouse,
        &[
            "scheduler",
            "--bind",
            &format!("127.0.0.1:{port}"),
            "--executor-timeout-secs",
            "5",
        ],
    );
    let mut executors: Vec<Node> = (0..2)
        .map(|_| {
            let bind = format!("127.0.0.1:{}", free_port_pair());
            let args = [
                "executor",
                "--scheduler",
                &address,
                "--bind",
                &bind,
                "--concurrent-tasks",
                "2",
                "--heartbeat-secs",
                "1",
            ];
            Node::start(&store, &warehouse, &args)
        })
        .collect();
    scheduler.wait_for(EXECUTOR_REGISTERED, 2);

    let on_cluster = |args: &[&str]| {
        let mut all = vec!["--warehouse", warehouse.as_str(), "--ballista", &address];
        all.extend(args);
        store.command(&all)
    };
    // `runs --format json` and `extra`, as JSON.
    let runs_of = |extra: &[&str]| -> Value {
        let mut args = vec!["runs", "--format", "json"];
        args.extend(extra);
        serde_json::from_slice(&on_cluster(&args).output().unwrap().stdout).unwrap()
    };
    let checked = on_cluster(&["check"]).output().unwrap();
    let said = String::from_utf8_lossy(&checked.stderr);
    assert!(checked.status.success(), "{said}");
    assert!(
        said.contains(&format!("engine Ballista at {address}: reachable")),
        "{said}"
    );

    // Every tile again, through the cluster.
    let out = on_cluster(&["compute", "--full"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}\nscheduler:\n{}",
        String::from_utf8_lossy(&out.stderr),
        scheduler.log()
    );
    let through = published();
    assert_ne!(
        through["snapshot_id"], local["snapshot_id"],
        "a new snapshot"
    );
    let through_figures = figures(&through);
    assert_eq!(
        through_figures.keys().collect::<Vec<_>>(),
        local_figures.keys().collect::<Vec<_>>()
    );
    for (id, f) in &local_figures {
        if let Err(at) = same_figures(&through_figures[id], f, id) {
            panic!("{id} through the cluster differs from the local engine at {at}");
        }
    }
    let queries = scheduler.said(JOB_SUBMITTED);
    assert!(
        queries >= local_figures.len(),
        "the scheduler ran only {queries} queries:\n{}",
        scheduler.log()
    );
    let tasks: Vec<usize> = executors.iter().map(|e| e.said(TASK_STARTED)).collect();
    assert!(
        tasks.iter().sum::<usize>() >= queries,
        "the executors ran {tasks:?} tasks for {queries} queries"
    );
    let listed = store.stores("list");
    assert!(
        listed
            .iter()
            .any(|n| n.starts_with("county/tilannekuva/_engine/rows/calendar-")),
        "the calendar reached the executors through the bucket: {listed:?}"
    );
    // SQL through the cluster finds the hand-written export's bad row in the quarantine.
    let out = on_cluster(&[
        "sql",
        "--format",
        "json",
        "SELECT line, \"column\", raw_value FROM quarantine \
         WHERE file_name = 'ace_contacts_2025-06-extra.csv'",
    ])
    .output()
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rejected: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        rejected,
        serde_json::json!([{"line": 32, "column": "Saapumisaika", "raw_value": "31.6.2025 9:15"}])
    );
    let runs = runs_of(&[]);
    assert_eq!(runs["engine"]["engine"], format!("Ballista at {address}"));
    assert_eq!(runs["engine"]["reachable"], true, "{runs}");

    // An executor killed while the tiles are computed.
    let before = published();
    let compute = on_cluster(&["compute", "--full"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    scheduler.wait_for(JOB_SUBMITTED, queries + 3);
    executors[1].kill();
    let out = wait_at_most(compute, Duration::from_secs(300));
    let after = published();
    eprintln!(
        "tasks per executor before the kill: {tasks:?}; the computation {}",
        if out.status.success() {
            "finished on the other executor".to_string()
        } else {
            format!("failed: {}", String::from_utf8_lossy(&out.stderr).trim())
        }
    );
    if out.status.success() {
        assert_ne!(after["snapshot_id"], before["snapshot_id"]);
    } else {
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(!said.trim().is_empty(), "a failure says why");
        assert_eq!(
            after["snapshot_id"], before["snapshot_id"],
            "a failed computation publishes nothing: {said}"
        );
    }
    let after_figures = figures(&after);
    assert_eq!(after_figures.len(), local_figures.len());
    for (id, f) in &local_figures {
        if let Err(at) = same_figures(&after_figures[id], f, id) {
            panic!("{id} after an executor was killed differs at {at}");
        }
    }

    // The scheduler gone: the status says so, and a compute job fails after its retries.
    drop(scheduler);
    let runs = runs_of(&[]);
    assert_eq!(runs["engine"]["reachable"], false, "{runs}");
    assert!(
        runs["engine"]["problem"]
            .as_str()
            .unwrap()
            .contains("cannot be reached"),
        "{runs}"
    );
    let jobs = dir.path().join("jobs.toml");
    std::fs::write(
        &jobs,
        "[[job]]\nname = \"compute_on_cluster\"\nschedule = \"0 0 6 * * *\"\n\
         run = { compute = true }\nretries = 1\nbackoff_seconds = 1\nmax_backoff_seconds = 1\n\
         timeout_seconds = 120\n",
    )
    .unwrap();
    let out = on_cluster(&[
        "run",
        "compute_on_cluster",
        "--jobs",
        jobs.to_str().unwrap(),
    ])
    .output()
    .unwrap();
    assert!(!out.status.success());
    let runs = runs_of(&["--job", "compute_on_cluster"]);
    let run = &runs["runs"][0];
    assert_eq!(run["outcome"], "failed", "{runs}");
    assert_eq!(run["attempts"], 2, "one attempt and the one retry: {runs}");
    let error = run["error"].as_str().unwrap();
    assert!(
        error.contains(&format!("Ballista at {address}")) && error.contains("cannot be reached"),
        "{error}"
    );
    assert_eq!(published()["snapshot_id"], after["snapshot_id"]);
    drop(executors);
}
