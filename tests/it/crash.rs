//! Atomic loads: kill the loading process at arbitrary moments, many times, and check after
//! each kill that the warehouse shows either the old or the new state: every listed file
//! readable, no row twice, the ledger agreeing with the data. Then finish the load and
//! check that nothing was lost.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{repo_config, run_ok};

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
    let wh = tilannekuva_warehouse::Warehouse::open_local(warehouse).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let m = rt.block_on(wh.manifest()).unwrap();
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
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut kills = 0;
    for round in 0..12 {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let delay = Duration::from_millis(40 + (seed >> 33) % 900);
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_tilannekuva"))
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
            ])
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
            std::thread::sleep(Duration::from_millis(5));
        };
        if !finished {
            child.kill().unwrap();
            kills += 1;
        }
        child.wait().unwrap();
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
    run_ok(&["--warehouse", wh, "gc"]);
    let (n2, _, _) = counts(wh);
    assert_eq!(n2, n);
}
