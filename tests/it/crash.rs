//! Atomic loads: kill the loading process at arbitrary moments, many times, and check after
//! each kill that the warehouse shows either the old or the new state: every listed file
//! readable, no row twice, the ledger agreeing with the data. Then finish the load and
//! check that nothing was lost.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{ApiContact, ExportApi, repo_config, run_ok};

fn counts(warehouse: &str) -> (u64, u64, u64) {
    let out = run_ok(&[
        "--warehouse",
        warehouse,
        "sql",
        "--format",
        "json",
        "SELECT count(*) AS n, count(DISTINCT contact_id) AS ids, count(DISTINCT _file_sha256) AS files FROM contacts",
    ]);
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let r = &rows[0];
    (
        r["n"].as_u64().unwrap(),
        r["ids"].as_u64().unwrap(),
        r["files"].as_u64().unwrap(),
    )
}

fn ledger_rows(warehouse: &std::path::Path) -> (u64, usize) {
    let m = crate::common::manifest(warehouse);
    let loaded: Vec<_> = m
        .loads
        .iter()
        .filter(|l| l.status == tilannekuva_warehouse::LoadStatus::Loaded)
        .collect();
    let mut shas: Vec<_> = loaded.iter().map(|l| &l.sha256).collect();
    shas.sort();
    shas.dedup();
    assert_eq!(shas.len(), loaded.len(), "an export is in the ledger twice");
    (loaded.iter().map(|l| l.rows).sum(), loaded.len())
}

/// Runs `command`, killing it (SIGKILL) if it has not finished after `delay`; whether it
/// finished.
pub(crate) fn finishes_within(command: &mut std::process::Command, delay: Duration) -> bool {
    let mut child = command
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let finished = loop {
        if child.try_wait().unwrap().is_some() {
            break true;
        }
        if start.elapsed() >= delay {
            break false;
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    if !finished {
        child.kill().unwrap();
    }
    child.wait().unwrap();
    finished
}

/// How long `command` (a whole load into a throwaway warehouse) takes here, now: kill times
/// are spread over it, so that loads are cut off mid-way however fast this machine is.
pub(crate) fn load_time(command: &mut std::process::Command) -> Duration {
    let start = Instant::now();
    let status = command
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    start.elapsed()
}

/// The next of a deterministic spread of kill times within the first quarter or so of `full`
/// (a killed load has done part of the work, so the next one has less to do).
pub(crate) fn kill_delay(seed: &mut u64, full: Duration) -> Duration {
    *seed = seed
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407);
    let fraction = 0.03 + 0.25 * ((*seed >> 33) % 1_000) as f64 / 1_000.0;
    full.mul_f64(fraction)
}

#[test]
fn killing_a_load_at_any_moment_never_loses_or_duplicates_rows() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = dir.path().join("incoming");
    let warehouse = dir.path().join("warehouse");
    let cfg = tilannekuva_samples::SampleConfig {
        scale: 0.15,
        ..crate::common::sample_config()
    };
    let truth = tilannekuva_samples::generate_sources(&inputs, &cfg, &["callbacks_ace"])
        .unwrap()
        .truth;
    let valid = truth.contacts.iter().filter(|c| c.valid).count() as u64;
    let wh = warehouse.to_str().unwrap();

    // A deterministic spread of kill times over a load of all files.
    let scratch = dir.path().join("scratch");
    let full = load_time(
        std::process::Command::new(env!("CARGO_BIN_EXE_tilannekuva"))
            .arg("--config")
            .arg(repo_config())
            .env(
                crate::common::PSEUDONYM_KEY_ENV,
                crate::common::TEST_PSEUDONYM_KEY,
            )
            .args(["--warehouse", scratch.to_str().unwrap()])
            .args(["--inputs", inputs.to_str().unwrap()])
            .args(["load", "callbacks_ace", "--settle-seconds", "0"]),
    );
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut kills = 0;
    for round in 0..12 {
        let delay = kill_delay(&mut seed, full);
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_tilannekuva"));
        child
            .arg("--config")
            .arg(repo_config())
            .env(
                crate::common::PSEUDONYM_KEY_ENV,
                crate::common::TEST_PSEUDONYM_KEY,
            )
            .args([
                "--warehouse",
                wh,
                "--inputs",
                inputs.to_str().unwrap(),
                "load",
                "callbacks_ace",
                "--settle-seconds",
                "0",
            ]);
        let finished = finishes_within(&mut child, delay);
        kills += usize::from(!finished);
        let (rows, ledger_loads) = ledger_rows(&warehouse);
        if ledger_loads > 0 {
            let (n, ids, files) = counts(wh);
            assert_eq!(n, ids, "round {round}: a contact appears twice");
            assert_eq!(n, rows, "round {round}: the data and the ledger disagree");
            assert_eq!(
                files as usize, ledger_loads,
                "round {round}: every ledger entry has its rows"
            );
        }
        if finished {
            break;
        }
    }
    assert!(kills >= 3, "the test killed loads mid-way ({kills} times)");

    // Finish: everything is there exactly once.
    run_ok(&[
        "--warehouse",
        wh,
        "--inputs",
        inputs.to_str().unwrap(),
        "load",
        "callbacks_ace",
        "--settle-seconds",
        "0",
    ]);
    let (n, ids, files) = counts(wh);
    assert_eq!((n, ids, files), (valid, valid, 24));
    // Leftovers of killed loads are unreferenced and can be removed.
    run_ok(&["--warehouse", wh, "gc", "--orphan-grace-hours", "0"]);
    let (n2, _, _) = counts(wh);
    assert_eq!(n2, n);
}

/// Pages of the export API: page `k` starts at `API_T0 + k * API_STEP` and holds
/// `API_ITEMS` contacts, ten seconds apart.
const API_T0: i64 = 1_735_682_400; // 2025-01-01 00:00 Helsinki
const API_STEP: i64 = 3_600;
const API_PAGES: i64 = 40;
const API_ITEMS: i64 = 25;
const API_TOKEN_ENV: &str = "TILANNEKUVA_TEST_CONTACTS_API_TOKEN";
const API_TOKEN: &str = "kill-test-token";

#[test]
fn killing_an_api_load_at_any_moment_never_loses_or_duplicates_a_page() {
    let project = crate::common::CopiedProject::new();
    // Slow enough (20 ms a page) for kills to land anywhere in a run.
    let api = ExportApi::start(API_TOKEN, API_STEP, Duration::from_millis(20));
    api.contacts
        .lock()
        .unwrap()
        .extend((0..API_PAGES).flat_map(|page| {
            (0..API_ITEMS).map(move |j| ApiContact {
                id: format!("API-{page}-{j}"),
                received: API_T0 + page * API_STEP + j * 10,
                outcome: "answered",
            })
        }));
    std::fs::write(
        project.dir.path().join("config/sources/contacts_api.toml"),
        api.source(API_TOKEN_ENV, API_T0),
    )
    .unwrap();
    let binary = || {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_tilannekuva"));
        c.arg("--config")
            .arg(&project.config)
            .args(["--warehouse", project.warehouse.to_str().unwrap()])
            .env(
                crate::common::PSEUDONYM_KEY_ENV,
                crate::common::TEST_PSEUDONYM_KEY,
            )
            .env(API_TOKEN_ENV, API_TOKEN)
            .env_remove("RUST_LOG");
        c
    };
    let wh = project.warehouse.to_str().unwrap();
    // What the warehouse holds: rows, distinct ids, and the cursor; every page before the
    // cursor must be there exactly once and nothing after it.
    let state = || -> (u64, u64, i64) {
        let cursor = if project.warehouse.exists() {
            crate::common::manifest(&project.warehouse)
                .cursors
                .get("contacts_api")
                .and_then(|c| c["start_time"].as_i64())
                .unwrap_or(API_T0)
        } else {
            API_T0
        };
        let (n, ids, _) = counts(wh);
        (n, ids, cursor)
    };

    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let (mut kills, mut moved) = (0, 0);
    let mut last_cursor = API_T0;
    for round in 0..15 {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let delay = Duration::from_millis(30 + (seed >> 33) % 400);
        let mut child = binary();
        child.args(["load", "contacts_api"]);
        let finished = finishes_within(&mut child, delay);
        kills += usize::from(!finished);
        if project.warehouse.join("_log").exists() {
            let (n, ids, cursor) = state();
            let pages = (cursor - API_T0) / API_STEP;
            assert_eq!(n, ids, "round {round}: a contact was loaded twice");
            assert_eq!(
                n as i64,
                pages * API_ITEMS,
                "round {round}: the rows and the cursor ({pages} pages) disagree"
            );
            assert!(
                cursor >= last_cursor,
                "round {round}: the cursor moved back"
            );
            moved += usize::from(cursor > last_cursor);
            last_cursor = cursor;
        }
        if finished {
            break;
        }
    }
    assert!(kills >= 5, "the test killed loads mid-way ({kills} times)");
    assert!(
        moved >= 2,
        "killed runs still made progress ({moved} times)"
    );

    // Finish: every page exactly once, and a further run adds nothing.
    for _ in 0..2 {
        let out = binary().args(["load", "contacts_api"]).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let (n, ids, cursor) = state();
        let all = (API_PAGES * API_ITEMS) as u64;
        assert_eq!((n, ids), (all, all));
        assert_eq!(cursor, API_T0 + API_PAGES * API_STEP);
    }
}
