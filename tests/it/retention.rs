//! The raw retention rule: `gc` removes landed exports older than `raw_retention_days`,
//! the ledger keeps their hashes, so the same exports delivered again load nothing and the
//! curated tables are untouched.

use std::path::Path;
use std::process::Command;

use crate::common::{PSEUDONYM_KEY_ENV, TEST_PSEUDONYM_KEY, copy_dir, sample_config};

fn files_under(dir: &Path) -> usize {
    if !dir.exists() {
        return 0;
    }
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                files_under(&e.path())
            } else {
                1
            }
        })
        .sum()
}

#[test]
fn gc_expires_landed_exports_but_a_redelivery_still_loads_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    copy_dir(&repo.join("config"), &dir.path().join("config"));
    copy_dir(&repo.join("sql"), &dir.path().join("sql"));
    let config = dir.path().join("config/tilannekuva.toml");
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("# raw_retention_days = 730", "raw_retention_days = 0");
    assert!(text.contains("raw_retention_days = 0"));
    std::fs::write(&config, text).unwrap();
    let (wh, inputs) = (dir.path().join("wh"), dir.path().join("in"));
    tilannekuva_samples::generate_sources(&inputs, &sample_config(), &["callbacks_ace"]).unwrap();
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_tilannekuva"))
            .arg("--config")
            .arg(&config)
            .args(["--warehouse", wh.to_str().unwrap()])
            .args(["--inputs", inputs.to_str().unwrap()])
            .args(args)
            .env(PSEUDONYM_KEY_ENV, TEST_PSEUDONYM_KEY)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{args:?}: {text}");
        text
    };
    let first = run(&["load", "--settle-seconds", "0"]);
    assert!(first.contains("loaded 24 exports"), "{first}");
    let landed = files_under(&wh.join("raw"));
    assert_eq!(landed, 24);
    let curated = files_under(&wh.join("curated"));

    let gc = run(&["gc"]);
    assert!(gc.contains("removed 24 landed exports"), "{gc}");
    assert_eq!(files_under(&wh.join("raw")), 0);
    assert_eq!(files_under(&wh.join("curated")), curated, "the rows stay");

    // The same exports again: every one is known by its hash.
    let again = run(&["load", "--settle-seconds", "0"]);
    assert!(
        again.contains("loaded 0 exports") && again.contains("24 already loaded"),
        "{again}"
    );
    // A second gc has nothing left to do.
    assert!(run(&["gc"]).contains("removed 0 landed exports"));
}
