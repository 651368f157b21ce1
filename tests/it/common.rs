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
    /// Environment variables every run gets.
    pub env: Vec<(String, String)>,
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
            env: Vec::new(),
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

    /// Adds the source `name` with the config text `config` in place of the shipped sources
    /// `instead_of` (so that it alone fills its table's months), and returns its drop folder,
    /// created.
    pub fn add_source(&self, name: &str, config: &str, instead_of: &[&str]) -> PathBuf {
        let sources = self.dir.path().join("config/sources");
        for other in instead_of {
            std::fs::remove_file(sources.join(format!("{other}.toml"))).unwrap();
        }
        std::fs::write(sources.join(format!("{name}.toml")), config).unwrap();
        let folder = self.inputs.join(name);
        std::fs::create_dir_all(&folder).unwrap();
        folder
    }

    /// Runs the binary on this project; panics with its output on failure, else returns
    /// stdout and stderr together.
    pub fn run(&self, args: &[&str]) -> String {
        let (out, err) = self.run_apart(args);
        format!("{out}{err}")
    }

    /// [`CopiedProject::run`], returning stdout and stderr apart.
    pub fn run_apart(&self, args: &[&str]) -> (String, String) {
        let out = self.run_unchecked(args);
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        );
        assert!(out.status.success(), "{args:?}: {stdout}{stderr}");
        (stdout, stderr)
    }

    /// Runs the binary on this project and returns what it did, success or not.
    pub fn run_unchecked(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_tilannekuva"))
            .arg("--config")
            .arg(&self.config)
            .args(["--warehouse", self.warehouse.to_str().unwrap()])
            .args(["--inputs", self.inputs.to_str().unwrap()])
            .args(args)
            .env_remove("RUST_LOG")
            .env(PSEUDONYM_KEY_ENV, TEST_PSEUDONYM_KEY)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .output()
            .unwrap()
    }

    /// Starts `tilannekuva serve` with `args` on this project in the background, with
    /// `env` besides the project's; no desktop token comes from the environment.
    pub fn serve(&self, args: &[&str], env: &[(&str, String)]) -> Served {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tilannekuva"))
            .arg("--config")
            .arg(&self.config)
            .args(["--warehouse", self.warehouse.to_str().unwrap()])
            .args(["--inputs", self.inputs.to_str().unwrap()])
            .arg("serve")
            .args(args)
            .env(PSEUDONYM_KEY_ENV, TEST_PSEUDONYM_KEY)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .env_remove("TILANNEKUVA_DESKTOP_TOKEN")
            .env_remove("RUST_LOG")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
        {
            use std::io::BufRead;
            let lines = lines.clone();
            let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
            std::thread::spawn(move || {
                for line in stderr.lines().map_while(Result::ok) {
                    lines.lock().unwrap().push(line);
                }
            });
        }
        Served { child, lines }
    }

    /// The rows of a SQL query over the warehouse.
    pub fn sql(&self, query: &str) -> Vec<serde_json::Value> {
        let (out, _) = self.run_apart(&["sql", "--format", "json", query]);
        serde_json::from_str(&out).unwrap()
    }

    /// The latest published tiles, as `tiles --format json` prints them.
    pub fn tiles(&self) -> serde_json::Value {
        let (out, _) = self.run_apart(&["tiles", "--format", "json"]);
        serde_json::from_str(&out).unwrap()
    }
}

/// A `tilannekuva serve` running in the background; killed when dropped.
pub struct Served {
    /// The process.
    pub child: std::process::Child,
    /// Its stderr, line by line, as it comes.
    pub lines: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Served {
    /// Waits (up to a minute) for a stderr line containing `text`, and returns it.
    pub fn wait_for(&self, text: &str) -> String {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            if let Some(l) = self.lines.lock().unwrap().iter().find(|l| l.contains(text)) {
                return l.clone();
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no `{text}` in {:?}",
                self.lines.lock().unwrap()
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// Whether any stderr line so far contains `text`.
    pub fn said(&self, text: &str) -> bool {
        self.lines.lock().unwrap().iter().any(|l| l.contains(text))
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One contact of [`ExportApi`].
#[derive(Debug, Clone)]
pub struct ApiContact {
    /// Its id.
    pub id: String,
    /// When it was received, unix seconds.
    pub received: i64,
    /// `answered`, `callback` or `abandoned`.
    pub outcome: &'static str,
}

/// A contact-centre export API on 127.0.0.1, paging by `start_time` in windows of
/// `step` seconds (`{"items": [...], "next_start_time": …, "has_more": …}`), ending a
/// window at `end_time` when asked to, and answering only the bearer token `token`. Its
/// contacts can be changed between requests (a vendor correcting a month).
pub struct ExportApi {
    /// Base URL.
    pub base: String,
    /// The contacts it serves.
    pub contacts: std::sync::Arc<std::sync::Mutex<Vec<ApiContact>>>,
    /// The raw query of every authorised request, in order.
    pub requests: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl ExportApi {
    /// Starts the API on its own thread; `delay` is how long each page takes.
    pub fn start(token: &'static str, step: i64, delay: std::time::Duration) -> Self {
        use axum::extract::{RawQuery, State};
        use axum::http::{HeaderMap, StatusCode};
        use axum::response::IntoResponse;
        type Shared = (
            std::sync::Arc<std::sync::Mutex<Vec<ApiContact>>>,
            std::sync::Arc<std::sync::Mutex<Vec<String>>>,
        );
        let contacts = std::sync::Arc::new(std::sync::Mutex::new(Vec::<ApiContact>::new()));
        let requests = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let state: Shared = (contacts.clone(), requests.clone());
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                tx.send(listener.local_addr().unwrap()).unwrap();
                let page = move |State((contacts, requests)): State<Shared>,
                                 headers: HeaderMap,
                                 RawQuery(q): RawQuery| async move {
                    let auth = headers.get("authorization").and_then(|v| v.to_str().ok());
                    if auth != Some(format!("Bearer {token}").as_str()) {
                        return StatusCode::UNAUTHORIZED.into_response();
                    }
                    tokio::time::sleep(delay).await;
                    let q = q.unwrap_or_default();
                    requests.lock().unwrap().push(q.clone());
                    let param = |name: &str| -> Option<i64> {
                        q.split('&')
                            .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
                            .and_then(|v| v.parse().ok())
                    };
                    let start = param("start_time").unwrap_or(0);
                    let end = param("end_time").unwrap_or(i64::MAX);
                    let mut all = contacts.lock().unwrap().clone();
                    all.sort_by_key(|c| (c.received, c.id.clone()));
                    let later = all.iter().any(|c| c.received >= start && c.received < end);
                    let next = if later { (start + step).min(end) } else { start };
                    let items: Vec<String> = all
                        .iter()
                        .filter(|c| c.received >= start && c.received < next)
                        .map(|c| {
                            format!(
                                r#"{{"id": "{}", "queue": "Terveysasemien ensilinja", "received": {}, "outcome": "{}", "callback": {}}}"#,
                                c.id,
                                c.received,
                                c.outcome,
                                c.outcome == "callback"
                            )
                        })
                        .collect();
                    let more = all.iter().any(|c| c.received >= next && c.received < end);
                    format!(
                        r#"{{"items": [{}], "next_start_time": {next}, "has_more": {more}}}"#,
                        items.join(", ")
                    )
                    .into_response()
                };
                let app = axum::Router::new()
                    .route("/v2/contacts", axum::routing::get(page))
                    .with_state(state);
                axum::serve(listener, app).await.unwrap();
            });
        });
        Self {
            base: format!("http://{}", rx.recv().unwrap()),
            contacts,
            requests,
        }
    }

    /// A source config for this API filling `contacts`, reading its token from `token_env`.
    pub fn source(&self, token_env: &str, initial_start_time: i64) -> String {
        format!(
            r#"
name = "contacts_api"
description = "contact-centre export API"
table = "contacts"
[fetch]
kind = "rest_api"
url = "{}/v2/contacts"
token_env = "{token_env}"
initial_start_time = {initial_start_time}
end_param = "end_time"
max_pages = 1000
[fetch.http]
max_retries = 0
[format]
kind = "json_array"
[load]
on_redelivery = "append"
[columns]
contact_id = {{ from = "id" }}
queue = {{ from = "queue" }}
service = {{ from = "queue", lookup = "queues.service" }}
sector = {{ from = "queue", lookup = "queues.sector" }}
first_line = {{ from = "queue", lookup = "queues.first_line" }}
channel = {{ value = "phone" }}
received_at = {{ from = "received", format = "epoch_seconds" }}
outcome = {{ from = "outcome" }}
callback_requested = {{ from = "callback" }}
"#,
            self.base
        )
    }
}

/// The committed manifest of a local warehouse.
pub fn manifest(warehouse: &Path) -> tilannekuva_warehouse::Manifest {
    let w = tilannekuva_warehouse::Warehouse::open_local(warehouse).unwrap();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(w.manifest())
        .unwrap()
}

/// The Python packages the tests use, from the package registry: independent writers of
/// the workbook formats office software saves, the PostgreSQL client BI scripts use, an
/// SMTP server with STARTTLS (aiosmtpd, its certificates from trustme), an S3 API server
/// (moto, with boto3) and Azure's own Blob client.
const TEST_PYTHON_PACKAGES: &[&str] = &[
    "openpyxl==3.1.5",
    "xlwt==1.3.0",
    "odfpy==1.4.1",
    "psycopg[binary]==3.2.13",
    "aiosmtpd==1.4.6",
    "trustme==1.2.1",
    "moto[server]==5.2.5",
    "azure-storage-blob==12.31.1",
];

/// A Python with [`TEST_PYTHON_PACKAGES`]: a venv in `target/test-python-<hash of the
/// list>`, made on first use (made aside and renamed into place, so runs side by side never
/// see half of one; a changed list makes a new one).
pub fn test_python() -> &'static Path {
    static PYTHON: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    PYTHON.get_or_init(|| {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::hash::DefaultHasher::new();
        TEST_PYTHON_PACKAGES.hash(&mut hasher);
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
        let venv = root.join(format!("test-python-{:08x}", hasher.finish() as u32));
        let python = venv.join("bin/python");
        if python.exists() {
            return python;
        }
        let aside = root.join(format!("test-python.{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&aside);
        let step = |cmd: &mut Command| {
            let out = cmd.output().expect("python3 runs");
            assert!(
                out.status.success(),
                "setting up the test Python failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        };
        step(Command::new("python3").args(["-m", "venv"]).arg(&aside));
        step(
            Command::new(aside.join("bin/pip"))
                .args(["install", "--quiet", "--disable-pip-version-check"])
                .args(TEST_PYTHON_PACKAGES),
        );
        // A venv's scripts name its folder: rename, then use the renamed one's python.
        if std::fs::rename(&aside, &venv).is_err() {
            let _ = std::fs::remove_dir_all(&aside); // another run made it first
        }
        python
    })
}

/// The npm packages the tests use: Azure's Blob storage emulator.
const TEST_NODE_PACKAGES: &[&str] = &["azurite@3.35.0"];

/// A folder with [`TEST_NODE_PACKAGES`] installed (`node_modules/.bin/...`):
/// `target/test-node-<hash of the list>`, made on first use like [`test_python`]'s venv.
pub fn test_node() -> &'static Path {
    static NODE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    NODE.get_or_init(|| {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::hash::DefaultHasher::new();
        TEST_NODE_PACKAGES.hash(&mut hasher);
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
        let dir = root.join(format!("test-node-{:08x}", hasher.finish() as u32));
        if dir.join("node_modules/.bin").exists() {
            return dir;
        }
        let aside = root.join(format!("test-node.{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&aside);
        std::fs::create_dir_all(&aside).unwrap();
        let out = Command::new("npm")
            .args([
                "install",
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
                "--prefix",
            ])
            .arg(&aside)
            .args(TEST_NODE_PACKAGES)
            .output()
            .expect("npm runs");
        assert!(
            out.status.success(),
            "installing the test's npm packages failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if std::fs::rename(&aside, &dir).is_err() {
            let _ = std::fs::remove_dir_all(&aside); // another run made it first
        }
        dir
    })
}

/// Writes a workbook at `path` (`.xlsx`, `.xls` or `.ods`) with office-suite writers; see
/// `fixtures/workbook.py` for the sheet spec (rows and merges numbered from 1).
pub fn write_workbook(path: &Path, sheets: serde_json::Value) {
    use std::io::Write;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/fixtures/workbook.py");
    let spec = serde_json::json!({ "path": path, "sheets": sheets });
    let mut child = Command::new(test_python())
        .arg(script)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(spec.to_string().as_bytes())
        .unwrap();
    assert!(
        child.wait().unwrap().success(),
        "writing {}",
        path.display()
    );
}

/// The figure of `tile` for `period` of `grain` in published tiles.
pub fn figure<'a>(
    tiles: &'a serde_json::Value,
    tile: &str,
    grain: &str,
    period: &str,
) -> &'a serde_json::Value {
    let t = tiles["tiles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == tile)
        .unwrap_or_else(|| panic!("no tile {tile}"));
    t["series"][grain]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["period"] == period)
        .unwrap_or_else(|| panic!("{tile} has no {grain} {period}"))
}
