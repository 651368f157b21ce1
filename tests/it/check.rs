//! `tilannekuva check`: every config file and tile SQL is validated without running
//! anything, and a mistake is reported with its file and line.

use std::path::Path;
use std::process::Command;

use crate::common::copy_dir;

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

/// `roll_up` adds quarters and years up from months' counts: a tile without the month grain
/// or without the counts is refused by `check`, naming the file and what is missing.
#[test]
fn a_roll_up_without_months_or_counts_is_refused() {
    let project = crate::common::CopiedProject::new();
    let append = |tile: &str, text: &str| {
        let path = project.dir.path().join(format!("sql/{tile}.toml"));
        let meta = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, format!("{meta}\n{text}\n")).unwrap();
    };
    // nps returns no numerator or denominator.
    append("nps", "roll_up = \"percent\"");
    let (ok, text) = check(&project.config);
    assert!(!ok, "{text}");
    assert!(
        text.contains("nps.sql") && text.contains("`roll_up`") && text.contains("`numerator`"),
        "{text}"
    );
    // okr_tasks_done is computed by quarter and year only.
    append("okr_tasks_done", "roll_up = \"percent\"");
    let (ok, text) = check(&project.config);
    assert!(!ok, "{text}");
    assert!(
        text.contains("okr_tasks_done.toml") && text.contains("must include month"),
        "{text}"
    );
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

/// A copy of the shipped definitions in which `source`'s `[fetch]` table (up to `[format]`)
/// is replaced by `fetch`, and `edit` is applied to the rest of the file.
fn with_fetch(source: &str, fetch: &str, edit: impl Fn(String) -> String) -> tempfile::TempDir {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&repo.join("config"), &dir.path().join("config"));
    copy_dir(&repo.join("sql"), &dir.path().join("sql"));
    let path = dir.path().join(format!("config/sources/{source}.toml"));
    let text = std::fs::read_to_string(&path).unwrap();
    let start = text.find("[fetch]").unwrap();
    let end = text.find("[format]").unwrap();
    let text = format!("{}{fetch}\n{}", &text[..start], &text[end..]);
    std::fs::write(&path, edit(text)).unwrap();
    dir
}

fn check_dir(dir: &tempfile::TempDir) -> (bool, String) {
    check(&dir.path().join("config/tilannekuva.toml"))
}

#[test]
fn a_bad_drop_folder_glob_is_reported_with_file_and_key() {
    let dir = with_fetch(
        "callbacks_ace",
        "[fetch]\nkind = \"drop_folder\"\npath = \"callbacks_ace\"\nglob = \"ace_[contacts_*.csv\"\n",
        |t| t,
    );
    let (ok, out) = check_dir(&dir);
    assert!(!ok, "{out}");
    assert!(out.contains("callbacks_ace.toml: `fetch.glob`"), "{out}");
}

#[test]
fn a_bad_sotkanet_url_and_value_are_reported_with_file_and_key() {
    let dir = with_fetch(
        "sotkanet",
        "[fetch]\nkind = \"sotkanet\"\nbase_url = \"sotkanet.fi/rest/1.1\"\nindicators = [127, 171]\nyears = { from = 2019, to = 2018 }\n\n[fetch.http]\ntimeout_seconds = 0\n",
        |t| t,
    );
    let (ok, out) = check_dir(&dir);
    assert!(!ok, "{out}");
    for key in [
        "fetch.base_url",
        "fetch.years",
        "fetch.http.timeout_seconds",
    ] {
        assert!(
            out.contains(&format!("sotkanet.toml: `{key}`")),
            "{key}: {out}"
        );
    }
    assert!(
        out.contains("sotkanet.fi/rest/1.1"),
        "names the value: {out}"
    );
}

#[test]
fn a_bad_rest_api_url_and_number_are_reported_with_file_and_key() {
    let dir = with_fetch(
        "sotkanet",
        "[fetch]\nkind = \"rest_api\"\nurl = \"https://api.example/v2/export?start_time=0\"\ntoken_env = \"CARGO_PKG_NAME\"\nmax_pages = 0\n\n[fetch.http]\nrequests_per_minute = -5\n",
        |t| t,
    );
    let (ok, out) = check_dir(&dir);
    assert!(!ok, "{out}");
    for key in [
        "fetch.url",
        "fetch.max_pages",
        "fetch.http.requests_per_minute",
        "load.on_redelivery",
    ] {
        assert!(
            out.contains(&format!("sotkanet.toml: `{key}`")),
            "{key}: {out}"
        );
    }
}

#[test]
fn an_unset_rest_api_token_variable_is_a_warning_not_an_error() {
    let dir = with_fetch(
        "sotkanet",
        "[fetch]\nkind = \"rest_api\"\nurl = \"https://api.example/v2/export\"\ntoken_env = \"TILANNEKUVA_TEST_SURELY_UNSET_VAR\"\n",
        |t| t.replace("on_redelivery = \"replace\"", "on_redelivery = \"append\""),
    );
    let (ok, out) = check_dir(&dir);
    assert!(ok, "{out}");
    assert!(
        out.contains("warning: ")
            && out.contains("sotkanet.toml: `fetch.token_env`")
            && out.contains("TILANNEKUVA_TEST_SURELY_UNSET_VAR"),
        "{out}"
    );
}

#[test]
fn without_the_pseudonymisation_key_a_load_stops_and_names_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tilannekuva"))
        .arg("--config")
        .arg(crate::common::repo_config())
        .args(["--warehouse", dir.path().join("wh").to_str().unwrap()])
        .args(["--inputs", dir.path().join("in").to_str().unwrap()])
        .arg("load")
        .env_remove(crate::common::PSEUDONYM_KEY_ENV)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("pseudonymises columns but no pseudonymisation key is set")
            && err.contains(crate::common::PSEUDONYM_KEY_ENV),
        "{err}"
    );
    assert!(
        !dir.path().join("wh").join("raw").exists(),
        "nothing was landed"
    );
    // `check` says so too, as a warning: the config itself is right.
    let (ok, text) = check(&crate::common::repo_config());
    assert!(ok, "{text}");
}

#[test]
fn the_public_demo_key_can_no_longer_stand_in_for_a_missing_one() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&repo.join("config"), &dir.path().join("config"));
    copy_dir(&repo.join("sql"), &dir.path().join("sql"));
    let path = dir.path().join("config/tilannekuva.toml");
    let text = std::fs::read_to_string(&path).unwrap().replace(
        "key_env = \"TILANNEKUVA_PSEUDONYM_KEY\"",
        "key_env = \"TILANNEKUVA_PSEUDONYM_KEY\"\nallow_demo_key = true",
    );
    std::fs::write(&path, text).unwrap();
    let (ok, text) = check(&path);
    assert!(!ok, "{text}");
    assert!(
        text.contains("`allow_demo_key` is no longer supported")
            && text.contains("TILANNEKUVA_PSEUDONYM_KEY"),
        "{text}"
    );
}

/// Runs the binary on `project`, which may fail: whether it succeeded, and its stderr.
fn failing_run(project: &crate::common::CopiedProject, args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tilannekuva"))
        .arg("--config")
        .arg(&project.config)
        .args(["--warehouse", project.warehouse.to_str().unwrap()])
        .args(["--inputs", project.inputs.to_str().unwrap()])
        .args(args)
        .env(
            crate::common::PSEUDONYM_KEY_ENV,
            crate::common::TEST_PSEUDONYM_KEY,
        )
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[test]
fn a_broken_source_config_stops_only_that_source() {
    let project = crate::common::CopiedProject::new();
    // One file does not parse at all, another has a wrong value.
    let sources = project.dir.path().join("config/sources");
    std::fs::write(
        sources.join("chat_ninchat.toml"),
        std::fs::read_to_string(sources.join("chat_ninchat.toml"))
            .unwrap()
            .replacen("[format]", "[format", 1),
    )
    .unwrap();
    project.edit(
        "sources/nps_roidu.toml",
        "max_reject_share = ",
        "max_reject_share = 7 # ",
    );
    tilannekuva_samples::generate_sources(
        &project.inputs,
        &crate::common::sample_config(),
        &["callbacks_ace", "chat_ninchat", "nps_roidu"],
    )
    .unwrap();

    // `check` still refuses the config, naming both files.
    let (ok, text) = check(&project.config);
    assert!(!ok, "{text}");
    assert!(
        text.contains("chat_ninchat.toml") && text.contains("nps_roidu.toml"),
        "{text}"
    );
    assert!(text.contains("`load.max_reject_share`"), "{text}");

    // A load of everything loads the good sources and fails for the broken two.
    let (ok, text) = failing_run(&project, &["load", "--settle-seconds", "0"]);
    assert!(!ok, "{text}");
    assert!(text.contains("loaded 24 exports"), "{text}");
    assert!(text.contains("2 failed"), "{text}");
    assert!(
        text.contains("source `nps_roidu` is not loaded until its config")
            && text.contains("source `chat_ninchat` is not loaded until its config"),
        "{text}"
    );
    let rows = project.sql("SELECT count(*) AS n FROM contacts");
    assert!(rows[0]["n"].as_i64().unwrap() > 0);
    // Asked for by name, a broken source says why.
    let (ok, text) = failing_run(&project, &["load", "nps_roidu"]);
    assert!(!ok, "{text}");
    assert!(text.contains("must be between 0 and 1"), "{text}");
    // The scheduler's jobs still load: a job naming a broken source is valid, its runs fail.
    let runs = project.run(&["runs"]);
    assert!(
        runs.contains("source set aside, the others load") && runs.contains("scheduled_for"),
        "{runs}"
    );
}
