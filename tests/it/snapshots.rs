//! As-of snapshots: every compute publishes a picture that can be read back exactly later,
//! after more data has arrived.

use std::path::Path;

use serde_json::Value;

use crate::common::{run_ok, sample_config};

#[test]
fn an_earlier_picture_is_reproduced_exactly_with_as_of() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = dir.path().join("incoming");
    let parked = dir.path().join("parked");
    let wh = dir.path().join("warehouse");
    let (wh, inp) = (wh.to_str().unwrap(), inputs.to_str().unwrap());
    tilannekuva_samples::generate_sources(&inputs, &sample_config(), &["callbacks_ace"]).unwrap();

    // First only 2024 has arrived.
    move_exports(&inputs, &parked, &["callbacks_ace"], "2025-");
    let base = ["--warehouse", wh, "--inputs", inp];
    run_ok(&[&base[..], &["load", "--settle-seconds", "0"]].concat());
    run_ok(&[&base[..], &["compute"]].concat());
    let first: Value = serde_json::from_slice(
        &run_ok(&[&base[..], &["tiles", "--format", "json"]].concat()).stdout,
    )
    .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    let between = chrono::Utc::now().to_rfc3339();
    std::thread::sleep(std::time::Duration::from_millis(20));

    // Then 2025 arrives and the picture is recomputed.
    move_exports(&parked, &inputs, &["callbacks_ace"], "");
    run_ok(&[&base[..], &["load", "--settle-seconds", "0"]].concat());
    run_ok(&[&base[..], &["compute"]].concat());
    let latest: Value = serde_json::from_slice(
        &run_ok(&[&base[..], &["tiles", "--format", "json"]].concat()).stdout,
    )
    .unwrap();
    let then: Value = serde_json::from_slice(
        &run_ok(
            &[
                &base[..],
                &["tiles", "--format", "json", "--as-of", &between],
            ]
            .concat(),
        )
        .stdout,
    )
    .unwrap();

    assert_eq!(then, first, "the earlier picture, byte for byte");
    assert_ne!(latest["snapshot_id"], first["snapshot_id"]);
    let last_period = |doc: &Value| {
        let t = doc["tiles"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["id"] == "callback_share")
            .unwrap();
        t["series"]["quarter"].as_array().unwrap().last().unwrap()["period"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(last_period(&first), "2024-Q4");
    assert_eq!(last_period(&latest), "2025-Q4");
    // Each tile links back to the exports that fed it.
    let sources = latest["tiles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == "callback_share")
        .unwrap()["sources"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(sources, 24);

    // Before the first snapshot there is nothing to show, and the message says so.
    let out = crate::common::run(&[&base[..], &["tiles", "--as-of", "2020-01-01"]].concat());
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no snapshot was published at or before")
    );
}

/// A snapshot pinned for a board meeting outlives the retention rule, byte for byte; an
/// expired one is named as such when asked for, never answered with another picture.
#[test]
fn a_pinned_snapshot_outlives_the_retention_rule() {
    let project = crate::common::CopiedProject::new();
    project.edit(
        "tilannekuva.toml",
        "# snapshot_retention_days = 400",
        "snapshot_retention_days = 0",
    );
    let parked = project.dir.path().join("parked");
    tilannekuva_samples::generate_sources(&project.inputs, &sample_config(), &["callbacks_ace"])
        .unwrap();
    move_exports(&project.inputs, &parked, &["callbacks_ace"], "2025-");
    let run = |args: &[&str]| project.run(args);
    let json =
        |args: &[&str]| -> Value { serde_json::from_str(&project.run_apart(args).0).unwrap() };
    let pause = || std::thread::sleep(std::time::Duration::from_millis(20));

    run(&["load", "--settle-seconds", "0"]);
    run(&["compute"]);
    let board = json(&["tiles", "--format", "json"]);
    let label = "Aluevaltuusto 16.12.2026";
    let pinned = run(&["snapshots", "pin", label]);
    assert!(pinned.contains(&format!("pinned as `{label}`")), "{pinned}");
    // The same pin again changes nothing.
    run(&["snapshots", "pin", label]);
    pause();
    run(&["compute"]);
    pause();
    let between = chrono::Utc::now().to_rfc3339();
    pause();
    let second = json(&["tiles", "--format", "json", "--as-of", &between]);
    assert_ne!(second["snapshot_id"], board["snapshot_id"]);
    move_exports(&parked, &project.inputs, &["callbacks_ace"], "");
    run(&["load", "--settle-seconds", "0"]);
    run(&["compute"]);
    let latest = json(&["tiles", "--format", "json"]);

    let listed = run(&["snapshots"]);
    assert_eq!(listed.matches(label).count(), 1, "{listed}");
    let tiles_file = |doc: &Value| {
        project
            .warehouse
            .join("tiles")
            .join(doc["snapshot_id"].as_str().unwrap())
            .join("tiles.json")
    };

    let gc = run(&["gc", "--orphan-grace-hours", "0"]);
    assert!(gc.contains("expired 1 snapshots"), "{gc}");
    assert!(
        !tiles_file(&second).exists(),
        "the expired snapshot's files are removed"
    );
    assert!(tiles_file(&board).exists() && tiles_file(&latest).exists());
    assert_eq!(
        json(&["tiles", "--format", "json", "--snapshot", label]),
        board
    );
    assert_eq!(json(&["tiles", "--format", "json"]), latest);
    let asked = project.run_unchecked(&["tiles", "--as-of", &between]);
    let said = String::from_utf8_lossy(&asked.stderr);
    assert!(!asked.status.success());
    assert!(
        said.contains(second["snapshot_id"].as_str().unwrap())
            && said.contains("removed by the snapshot retention rule")
            && said.contains(label),
        "{said}"
    );
    // Running gc again removes nothing more; unpinned, the board's snapshot goes too.
    assert!(run(&["gc", "--orphan-grace-hours", "0"]).contains("expired 0 snapshots"));
    run(&["snapshots", "unpin", label]);
    assert!(run(&["gc", "--orphan-grace-hours", "0"]).contains("expired 1 snapshots"));
    assert!(!tiles_file(&board).exists());
    assert_eq!(json(&["tiles", "--format", "json"]), latest);
}

/// Publishing again reuses the rows of the periods whose files did not change, and the
/// result is exactly what a full computation gives: after new months, after a corrected
/// redelivery of an old month, and for the callback promise, whose December figure changes
/// when January's contacts arrive although no December file changed.
#[test]
fn publishing_again_recomputes_only_what_changed_and_equals_a_full_computation() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = dir.path().join("incoming");
    let parked = dir.path().join("parked");
    let wh = dir.path().join("warehouse");
    let (whs, inp) = (wh.to_str().unwrap(), inputs.to_str().unwrap());
    let sources = ["callbacks_ace", "nps_roidu"];
    tilannekuva_samples::generate_sources(&inputs, &sample_config(), &sources).unwrap();
    move_exports(&inputs, &parked, &sources, "2025");
    let base = ["--warehouse", whs, "--inputs", inp];
    let compute = |extra: &[&str]| {
        let out = run_ok(&[&base[..], &["compute"], extra].concat());
        String::from_utf8(out.stdout).unwrap()
    };
    run_ok(&[&base[..], &["load", "--settle-seconds", "0"]].concat());
    let first = compute(&[]);
    assert!(first.contains("13 in full"), "{first}");
    let before = crate::common::tiles_json(&wh);

    // Nothing changed: every tile is reused, also the one that is not incremental.
    let again = compute(&[]);
    assert!(again.contains("tiles recomputed: 13 unchanged"), "{again}");
    assert!(!again.contains("for the periods"), "{again}");

    // 2025 arrives: only its periods are recomputed, plus the promise's lookback into
    // December 2024.
    move_exports(&parked, &inputs, &sources, "");
    run_ok(&[&base[..], &["load", "--settle-seconds", "0"]].concat());
    let grown = compute(&[]);
    assert!(
        grown.contains("for the periods of 2024-12, 2025-01"),
        "{grown}"
    );
    let after_2025 = crate::common::tiles_json(&wh);
    let december = |doc: &serde_json::Value| {
        let t = doc["tiles"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["id"] == "callbacks_within_promise")
            .unwrap();
        let m = t["series"]["month"].as_array().unwrap();
        m.iter().find(|f| f["period"] == "2024-12").unwrap()["n"].clone()
    };
    assert_ne!(
        december(&before),
        december(&after_2025),
        "December callbacks due in January are counted once January's data is in"
    );

    // A corrected June 2024 export (its last row withdrawn) replaces June only.
    let june = std::fs::read_dir(inputs.join("callbacks_ace"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().contains("2024-06"))
        .expect("a June 2024 export");
    let text = std::fs::read_to_string(&june).unwrap();
    let mut lines: Vec<&str> = text.split_inclusive('\n').collect();
    lines.pop();
    let corrected = june.with_file_name(
        june.file_name()
            .unwrap()
            .to_string_lossy()
            .replace(".csv", "_korjattu.csv"),
    );
    std::fs::write(&corrected, lines.concat()).unwrap();
    run_ok(&[&base[..], &["load", "--settle-seconds", "0"]].concat());
    let corrected_run = compute(&[]);
    assert!(
        corrected_run.contains("for the periods of 2024-06"),
        "{corrected_run}"
    );
    let incremental = crate::common::tiles_json(&wh);

    let full = compute(&["--full"]);
    assert!(full.contains("13 in full"), "{full}");
    let full = crate::common::tiles_json(&wh);
    if let Some(d) = first_difference(&incremental["tiles"], &full["tiles"], "tiles") {
        panic!("an incremental publish differs from a full one at {d}");
    }

    // Cleaning up leftovers keeps what the next publish reuses.
    run_ok(&[&base[..], &["gc", "--orphan-grace-hours", "0"]].concat());
    let after_gc = compute(&[]);
    assert!(after_gc.contains("13 unchanged"), "{after_gc}");
}

/// Moves the exports of `sources` whose names contain `containing` from one inputs folder
/// to another (`<folder>/<source>/<file>`).
pub(crate) fn move_exports(from: &Path, to: &Path, sources: &[&str], containing: &str) {
    for source in sources {
        std::fs::create_dir_all(to.join(source)).unwrap();
        for e in std::fs::read_dir(from.join(source)).unwrap() {
            let e = e.unwrap();
            if e.file_name().to_string_lossy().contains(containing) {
                std::fs::rename(e.path(), to.join(source).join(e.file_name())).unwrap();
            }
        }
    }
}

/// Where two JSON values first differ, as a path with both values.
fn first_difference(a: &Value, b: &Value, at: &str) -> Option<String> {
    match (a, b) {
        (Value::Array(x), Value::Array(y)) => {
            if x.len() != y.len() {
                return Some(format!("{at}: {} items vs {}", x.len(), y.len()));
            }
            x.iter()
                .zip(y)
                .enumerate()
                .find_map(|(i, (x, y))| first_difference(x, y, &format!("{at}[{i}]")))
        }
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            let found: Vec<String> = keys
                .into_iter()
                .filter_map(|k| {
                    let here = match (x.get("id").or(x.get("period")), k.as_str()) {
                        (Some(id), _) => format!("{at}({id}).{k}"),
                        (None, _) => format!("{at}.{k}"),
                    };
                    first_difference(
                        x.get(k).unwrap_or(&Value::Null),
                        y.get(k).unwrap_or(&Value::Null),
                        &here,
                    )
                })
                .collect();
            (!found.is_empty()).then(|| found.join("\n"))
        }
        _ if a == b => None,
        _ => Some(format!("{at}: {a} vs {b}")),
    }
}
