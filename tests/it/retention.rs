//! The raw retention rule: `gc` removes landed exports older than `raw_retention_days`,
//! the ledger keeps their hashes, so the same exports delivered again load nothing and the
//! curated tables are untouched.

use crate::common::{CopiedProject, sample_config};
use std::path::Path;

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
    let project = CopiedProject::new();
    project.edit(
        "tilannekuva.toml",
        "# raw_retention_days = 730",
        "raw_retention_days = 0",
    );
    let (wh, inputs) = (&project.warehouse, &project.inputs);
    tilannekuva_samples::generate_sources(inputs, &sample_config(), &["callbacks_ace"]).unwrap();
    let run = |args: &[&str]| project.run(args);
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
