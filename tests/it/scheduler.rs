//! `tilannekuva serve` as an operator runs it: jobs fire on their schedule, SIGTERM stops
//! the process cleanly within the grace period, and a restart repeats no work.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{repo_config, sample_config};

/// Loads every 3 seconds, compute after each successful load; a backlog (the first load is
/// long) collapses into one catch-up run and recorded misses.
const JOBS: &str = r#"
[scheduler]
max_concurrent = 2
shutdown_grace_seconds = 20
misfire_seconds = 2

[[job]]
name = "load_ace"
schedule = "*/3 * * * * *"
run = { load = ["callbacks_ace"] }
retries = 0
timeout_seconds = 120
catch_up = "run_once"

[[job]]
name = "compute"
after = ["load_ace"]
run = { compute = true }
retries = 0
timeout_seconds = 120
"#;

struct Env {
    _dir: tempfile::TempDir,
    warehouse: String,
    inputs: String,
    jobs: String,
}

fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let inputs = dir.path().join("incoming");
    let cfg = tilannekuva_samples::SampleConfig {
        scale: 0.02,
        ..sample_config()
    };
    tilannekuva_samples::generate_sources(&inputs, &cfg, &["callbacks_ace"]).unwrap();
    // The drop folder leaves files changed in the last `settle_seconds` for the next run.
    let touched = Command::new("find")
        .arg(&inputs)
        .args([
            "-type",
            "f",
            "-exec",
            "touch",
            "-d",
            "2 hours ago",
            "{}",
            "+",
        ])
        .status()
        .unwrap();
    assert!(touched.success());
    let jobs = dir.path().join("jobs.toml");
    std::fs::write(&jobs, JOBS).unwrap();
    let s = |p: &Path| p.to_str().unwrap().to_string();
    Env {
        warehouse: s(&dir.path().join("warehouse")),
        inputs: s(&inputs),
        jobs: s(&jobs),
        _dir: dir,
    }
}

fn cmd(env: &Env) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tilannekuva"));
    c.arg("--config")
        .arg(repo_config())
        .args(["--warehouse", &env.warehouse, "--inputs", &env.inputs])
        .env(
            crate::common::PSEUDONYM_KEY_ENV,
            crate::common::TEST_PSEUDONYM_KEY,
        )
        .env_remove("RUST_LOG");
    c
}

fn serve(env: &Env) -> Child {
    cmd(env)
        .args(["serve", "--bind", "127.0.0.1:0", "--jobs", &env.jobs])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("serve starts")
}

fn runs(env: &Env) -> Vec<Value> {
    let out = cmd(env)
        .args(["runs", "--format", "json", "--limit", "10000"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["runs"].as_array().unwrap().clone()
}

fn succeeded<'a>(runs: &'a [Value], job: &str) -> Vec<&'a Value> {
    runs.iter()
        .filter(|r| r["job"] == job && r["outcome"] == "succeeded")
        .collect()
}

/// SIGTERM, then the exit status within `limit`.
fn terminate(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if start.elapsed() > limit {
            child.kill().ok();
            panic!("serve did not exit within {limit:?} of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn serve_runs_jobs_stops_cleanly_on_sigterm_and_repeats_nothing_after_restart() {
    let env = env();
    let mut child = serve(&env);
    let start = Instant::now();
    let first = loop {
        let r = runs(&env);
        let loaded = succeeded(&r, "load_ace")
            .iter()
            .any(|x| x["rows_loaded"].as_u64() > Some(0));
        if loaded && !succeeded(&r, "compute").is_empty() {
            break r;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("serve exited early with {status}");
        }
        assert!(
            start.elapsed() < Duration::from_secs(40),
            "no successful load and compute in 40 s: {r:#?}"
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    let status = terminate(&mut child, Duration::from_secs(25));
    assert_eq!(status.code(), Some(0), "serve exit status");
    let rows_first: u64 = first
        .iter()
        .map(|r| r["rows_loaded"].as_u64().unwrap())
        .sum();
    assert!(rows_first > 0);

    // Restart: new runs find everything loaded and the compute's inputs unchanged.
    let mut child = serve(&env);
    let before = runs(&env).len();
    let start = Instant::now();
    while runs(&env).len() < before + 1 && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(300));
    }
    let status = terminate(&mut child, Duration::from_secs(25));
    assert_eq!(status.code(), Some(0), "serve exit status after restart");

    let all = runs(&env);
    assert!(all.len() > before, "the restarted scheduler ran nothing");
    let mut keys = BTreeSet::new();
    for r in &all {
        let key = (
            r["job"].to_string(),
            r["scheduled_for"].to_string(),
            r["trigger"].to_string(),
        );
        assert!(keys.insert(key.clone()), "run recorded twice: {key:?}");
    }
    let rows_all: u64 = all.iter().map(|r| r["rows_loaded"].as_u64().unwrap()).sum();
    let rows_loaded_first: u64 = first
        .iter()
        .map(|r| r["rows_loaded"].as_u64().unwrap())
        .sum();
    // Whatever the first process loaded after our snapshot of its history is also fine, but
    // nothing may load twice: every export's rows are in exactly one run.
    let ledger_rows: u64 = {
        let wh = tilannekuva_warehouse::Warehouse::open_local(&env.warehouse).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(wh.manifest())
            .unwrap()
            .loads
            .iter()
            .map(|l| l.rows)
            .sum()
    };
    assert_eq!(rows_all, ledger_rows, "rows in run records vs the ledger");
    assert!(rows_all >= rows_loaded_first);
    let computes = succeeded(&all, "compute");
    assert_eq!(
        computes.len(),
        1,
        "compute ran again without new inputs: {computes:#?}"
    );
}
