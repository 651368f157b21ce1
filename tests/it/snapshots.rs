//! As-of snapshots: every compute publishes a picture that can be read back exactly later,
//! after more data has arrived.

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
    std::fs::create_dir_all(&parked).unwrap();
    for e in std::fs::read_dir(inputs.join("callbacks_ace")).unwrap() {
        let e = e.unwrap();
        if e.file_name().to_string_lossy().contains("2025-") {
            std::fs::rename(e.path(), parked.join(e.file_name())).unwrap();
        }
    }
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
    for e in std::fs::read_dir(&parked).unwrap() {
        let e = e.unwrap();
        std::fs::rename(e.path(), inputs.join("callbacks_ace").join(e.file_name())).unwrap();
    }
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
