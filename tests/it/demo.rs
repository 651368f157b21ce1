//! The walking skeleton, end to end: `demo` generates exports, loads them, computes the
//! tiles; the tile values must equal what the generator's ground truth says.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::common::{quarter, run_ok, sample_config, tiles_json};

fn demo(dir: &std::path::Path) -> String {
    let cfg = sample_config();
    let out = run_ok(&[
        "demo",
        "--no-serve",
        "--dir",
        dir.to_str().unwrap(),
        "--scale",
        &cfg.scale.to_string(),
        "--seed",
        &cfg.seed.to_string(),
        "--from",
        &cfg.from.to_string(),
        "--to",
        &cfg.to.to_string(),
    ]);
    String::from_utf8(out.stderr).unwrap()
}

#[test]
fn demo_tiles_match_an_independent_computation_and_reruns_load_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let log = demo(dir.path());
    assert!(log.contains("0 failed"), "{log}");

    // Ground truth: the same deterministic generator, somewhere else.
    let truth_dir = tempfile::tempdir().unwrap();
    let truth = tilannekuva_samples::generate_sources(
        truth_dir.path(),
        &sample_config(),
        &["callbacks_ace", "callbacks_genesys"],
    )
    .unwrap()
    .truth;
    // Callback share per quarter over valid first-line contacts of both callback exports: (callbacks, contacts).
    let mut expected: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let mut bad = 0;
    for c in &truth.contacts {
        if !c.valid {
            bad += 1;
            continue;
        }
        if c.first_line {
            let e = expected.entry(quarter(c.received)).or_default();
            e.1 += 1;
            if c.callback_requested.is_some() {
                e.0 += 1;
            }
        }
    }
    assert!(bad > 0, "the sample has broken rows to quarantine");
    assert_eq!(expected.len(), 8, "two years of quarters");

    let warehouse = dir.path().join("warehouse");
    let doc = tiles_json(&warehouse);
    let tile = doc["tiles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == "callback_share")
        .expect("callback tile");
    let quarters = tile["series"]["quarter"].as_array().unwrap();
    assert_eq!(quarters.len(), expected.len());
    for q in quarters {
        let period = q["period"].as_str().unwrap();
        let (callbacks, contacts) = expected[period];
        assert_eq!(
            q["n"].as_i64().unwrap() as u64,
            contacts,
            "{period}: contacts"
        );
        assert_eq!(
            q["numerator"].as_f64().unwrap() as u64,
            callbacks,
            "{period}: callbacks"
        );
        let value = q["value"].as_f64().unwrap();
        let want = 100.0 * callbacks as f64 / contacts as f64;
        assert!((value - want).abs() < 1e-9, "{period}: {value} vs {want}");
        assert!(
            (45.0..75.0).contains(&value),
            "{period}: plausible callback share, got {value}"
        );
    }

    // Every broken row is in quarantine, with its line and reason.
    let out = run_ok(&[
        "--warehouse",
        warehouse.to_str().unwrap(),
        "quarantine",
        "--format",
        "json",
        "--limit",
        "100000",
    ]);
    let rejects: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let rejects: Vec<&Value> = rejects
        .iter()
        .filter(|r| r["source"].as_str().unwrap().starts_with("callbacks_"))
        .collect();
    assert_eq!(rejects.len(), bad, "quarantined callback rows");
    assert!(
        rejects
            .iter()
            .all(|r| r["line"].as_i64().unwrap() > 1 && !r["reason"].as_str().unwrap().is_empty())
    );

    // Running the whole demo again loads nothing new and changes no figure.
    let log = demo(dir.path());
    assert!(log.contains("loaded 0 exports"), "{log}");
    let doc2 = tiles_json(&warehouse);
    let tile2 = doc2["tiles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == "callback_share")
        .unwrap();
    assert_eq!(tile["series"], tile2["series"]);
    assert_ne!(
        doc["snapshot_id"], doc2["snapshot_id"],
        "a new snapshot was published"
    );
}

/// The README's main command ends with the desktop open: `demo` prints the address and a
/// sign-in token, the API behind it serves the tiles just published, and SIGTERM ends it.
#[test]
fn the_demo_ends_with_the_desktop_serving_its_tiles() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_tilannekuva"))
        .arg("--config")
        .arg(crate::common::repo_config())
        .args(["demo", "--dir", dir.path().to_str().unwrap()])
        .args([
            "--scale",
            "0.02",
            "--from",
            "2025-01-01",
            "--to",
            "2025-06-30",
        ])
        .args(["--bind", "127.0.0.1:0"])
        .env_remove("RUST_LOG")
        .env_remove("TILANNEKUVA_DESKTOP_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Read the address and token, and keep draining stdout: a closed pipe would make the
    // demo's later prints fail.
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in stdout.lines() {
            let Ok(line) = line else { break };
            if let Some(u) = line.strip_prefix("The desktop is open at ") {
                tx.send(("url", u.trim().to_string())).ok();
            }
            if let Some(t) = line.strip_prefix("Sign in with the token ") {
                tx.send(("token", t.trim().to_string())).ok();
            }
        }
    });
    let (mut url, mut token) = (None, None);
    while url.is_none() || token.is_none() {
        let (what, value) = rx
            .recv_timeout(std::time::Duration::from_secs(300))
            .expect("the demo prints its address and token");
        match what {
            "url" => url = Some(value),
            _ => token = Some(value),
        }
    }
    let (url, token) = (url.expect("address printed"), token.expect("token printed"));

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::new();
    let (unauthorised, tiles) = rt.block_on(async {
        let api = format!("{url}api/v1/tiles");
        let denied = client.get(&api).send().await.unwrap().status();
        let tiles: Value = client
            .get(&api)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap()
            .json()
            .await
            .unwrap();
        (denied, tiles)
    });
    assert_eq!(unauthorised.as_u16(), 401);
    let ids: Vec<&str> = tiles["tiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&"callback_share") && ids.len() >= 10,
        "{ids:?}"
    );

    let stopped = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(stopped.success());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "demo did not stop on SIGTERM"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert!(status.success(), "{status:?}");
}
