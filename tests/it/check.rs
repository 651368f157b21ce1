//! `tilannekuva check`: every config file and tile SQL is validated without running
//! anything, and a mistake is reported with its file and line.

use std::path::Path;
use std::process::Command;

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

fn check(config: &Path) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tilannekuva"))
        .arg("--config")
        .arg(config)
        .arg("check")
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn the_shipped_definitions_check_clean() {
    let (ok, text) = check(&crate::common::repo_config());
    assert!(ok, "{text}");
    assert!(text.starts_with("ok:"), "{text}");
}

#[test]
fn a_broken_tile_is_reported_with_file_and_line() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&repo.join("config"), &dir.path().join("config"));
    copy_dir(&repo.join("sql"), &dir.path().join("sql"));
    let sql_path = dir.path().join("sql/callback_share.sql");
    let sql = std::fs::read_to_string(&sql_path).unwrap();
    let line = sql
        .lines()
        .position(|l| l.contains("callback_requested THEN"))
        .unwrap()
        + 1;
    std::fs::write(
        &sql_path,
        sql.replace("callback_requested THEN", "callback_wanted THEN"),
    )
    .unwrap();
    let (ok, text) = check(&dir.path().join("config/tilannekuva.toml"));
    assert!(!ok, "{text}");
    assert!(
        text.contains(&format!("callback_share.sql:{line}:")),
        "names file and line {line}: {text}"
    );
    assert!(text.contains("callback_wanted"), "{text}");
}

#[test]
fn a_bad_source_config_names_file_key_and_allowed_values() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&repo.join("config"), &dir.path().join("config"));
    copy_dir(&repo.join("sql"), &dir.path().join("sql"));
    let src = dir.path().join("config/sources/callbacks_ace.toml");
    let text = std::fs::read_to_string(&src).unwrap();
    std::fs::write(
        &src,
        text.replace(
            "on_redelivery = \"replace\"",
            "on_redelivery = \"overwrite\"",
        ),
    )
    .unwrap();
    let (ok, out) = check(&dir.path().join("config/tilannekuva.toml"));
    assert!(!ok);
    assert!(
        out.contains("callbacks_ace.toml")
            && out.contains("overwrite")
            && out.contains("replace")
            && out.contains("append"),
        "{out}"
    );
}
