//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use chrono::{DateTime, Datelike, Utc};
use chrono_tz::Europe::Helsinki;

/// The environment variable the repository config reads the pseudonymisation key from.
pub const PSEUDONYM_KEY_ENV: &str = "TILANNEKUVA_PSEUDONYM_KEY";
/// The key the integration tests load with.
pub const TEST_PSEUDONYM_KEY: &str = "integration-test-key-not-secret";

/// The repository's main config.
pub fn repo_config() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("config/tilannekuva.toml")
}

/// Runs the binary with the repository config and `args`; panics with its output on failure.
pub fn run_ok(args: &[&str]) -> Output {
    let out = run(args);
    assert!(
        out.status.success(),
        "tilannekuva {args:?} failed\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs the binary with the repository config and `args`.
pub fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tilannekuva"))
        .arg("--config")
        .arg(repo_config())
        .args(args)
        .env_remove("RUST_LOG")
        .env(PSEUDONYM_KEY_ENV, TEST_PSEUDONYM_KEY)
        .output()
        .expect("the binary runs")
}

/// The latest published tiles of a warehouse, as `tiles --format json` prints them.
pub fn tiles_json(warehouse: &Path) -> serde_json::Value {
    let out = run_ok(&[
        "--warehouse",
        warehouse.to_str().unwrap(),
        "tiles",
        "--format",
        "json",
    ]);
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The Helsinki-local quarter label of an instant.
pub fn quarter(t: DateTime<Utc>) -> String {
    let d = t.with_timezone(&Helsinki).date_naive();
    format!("{}-Q{}", d.year(), (d.month() - 1) / 3 + 1)
}

/// Seed, period and scale shared by the tests (small: fast in a debug build).
pub fn sample_config() -> tilannekuva_samples::SampleConfig {
    tilannekuva_samples::SampleConfig {
        seed: 7,
        from: "2024-01-01".parse().unwrap(),
        to: "2025-12-31".parse().unwrap(),
        scale: 0.05,
        // The demo uses the default rate; the broken rows depend on it.
        bad_row_rate: tilannekuva_samples::SampleConfig::default().bad_row_rate,
    }
}

/// Copies a folder tree (the repository's `config/` and `sql/`, to edit a copy).
pub fn copy_dir(from: &Path, to: &Path) {
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

/// A copy of the repository's `config/` and `sql/` in a temporary folder, with its own
/// warehouse and drop folders: for tests that edit the config or hand-write exports.
pub struct CopiedProject {
    /// The temporary folder holding everything.
    pub dir: tempfile::TempDir,
    /// The copied main config.
    pub config: PathBuf,
    /// The warehouse folder.
    pub warehouse: PathBuf,
    /// The drop folders' root.
    pub inputs: PathBuf,
}

impl CopiedProject {
    /// Copies the repository's config and SQL.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        copy_dir(&repo.join("config"), &dir.path().join("config"));
        copy_dir(&repo.join("sql"), &dir.path().join("sql"));
        Self {
            config: dir.path().join("config/tilannekuva.toml"),
            warehouse: dir.path().join("wh"),
            inputs: dir.path().join("in"),
            dir,
        }
    }

    /// Replaces `from` with `to` in a copied config file (relative to `config/`); panics
    /// when `from` is not there, so a test never edits nothing.
    pub fn edit(&self, file: &str, from: &str, to: &str) {
        let path = self.dir.path().join("config").join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{file} has no `{from}`");
        std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
    }

    /// Runs the binary on this project; panics with its output on failure, else returns
    /// stdout and stderr together.
    pub fn run(&self, args: &[&str]) -> String {
        let out = Command::new(env!("CARGO_BIN_EXE_tilannekuva"))
            .arg("--config")
            .arg(&self.config)
            .args(["--warehouse", self.warehouse.to_str().unwrap()])
            .args(["--inputs", self.inputs.to_str().unwrap()])
            .args(args)
            .env_remove("RUST_LOG")
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
    }

    /// The latest published tiles, as `tiles --format json` prints them.
    pub fn tiles(&self) -> serde_json::Value {
        let out = self.run(&["tiles", "--format", "json"]);
        let json = &out[out.find('{').expect("JSON on stdout")..];
        serde_json::Deserializer::from_str(json)
            .into_iter::<serde_json::Value>()
            .next()
            .unwrap()
            .unwrap()
    }
}
