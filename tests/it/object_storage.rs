//! The warehouse on object storage, against real servers on 127.0.0.1: an S3 API server
//! (moto, from PyPI) and Azure's Blob emulator Azurite (npm), each bucket and container made
//! with the cloud's own client library. The demo on each store gives the local run's figures,
//! through the desktop's API too; loads racing on one bucket all land; loads killed at any
//! moment lose and duplicate nothing; a store that ignores create-only writes is refused
//! before anything is written to it.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{PSEUDONYM_KEY_ENV, TEST_PSEUDONYM_KEY, repo_config, test_node, test_python};

/// The sample window of these tests: small, so each store's demo takes seconds.
pub(crate) const DEMO_ARGS: &[&str] = &[
    "--scale",
    "0.03",
    "--seed",
    "7",
    "--from",
    "2025-01-01",
    "--to",
    "2025-06-30",
];

/// `--warehouse WAREHOUSE demo --no-serve --dir DIR` and [`DEMO_ARGS`].
pub(crate) fn demo_args<'a>(warehouse: &'a str, dir: &'a Path) -> Vec<&'a str> {
    let mut args = vec![
        "--warehouse",
        warehouse,
        "demo",
        "--no-serve",
        "--dir",
        dir.to_str().unwrap(),
    ];
    args.extend(DEMO_ARGS);
    args
}

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// An object store server of the tests, with one bucket (or container); killed when dropped.
pub(crate) struct StoreServer {
    child: Child,
    pub(crate) kind: &'static str,
    endpoint: String,
    bucket: String,
    /// The environment a process of ours reaches the store with: credentials and endpoint
    /// the way each cloud's tools read them.
    pub(crate) env: Vec<(String, String)>,
    _dir: tempfile::TempDir,
}

impl StoreServer {
    /// moto's S3 API server, with `bucket`.
    pub(crate) fn s3(bucket: &str) -> Self {
        let port = free_port();
        let endpoint = format!("http://127.0.0.1:{port}");
        let dir = tempfile::tempdir().unwrap();
        let child = Command::new(test_python())
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let env = [
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ENDPOINT", endpoint.as_str()),
            ("AWS_ALLOW_HTTP", "true"),
        ];
        Self::ready(child, "s3", endpoint.clone(), bucket, &env, dir)
    }

    /// Azurite's Blob service, with `container`, reached as its emulator account.
    fn azurite(container: &str) -> Self {
        let port = free_port();
        let endpoint = format!("http://127.0.0.1:{port}");
        let azurite = test_node().join("node_modules/.bin/azurite-blob");
        let dir = tempfile::tempdir().unwrap();
        let child = Command::new(azurite)
            .args(["--blobHost", "127.0.0.1", "--blobPort", &port.to_string()])
            .args([
                "--inMemoryPersistence",
                "--disableTelemetry",
                "--skipApiVersionCheck",
                "--silent",
            ])
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let env = [
            ("AZURE_STORAGE_USE_EMULATOR", "true"),
            ("AZURITE_BLOB_STORAGE_URL", endpoint.as_str()),
        ];
        Self::ready(child, "azure", endpoint.clone(), container, &env, dir)
    }

    fn ready(
        child: Child,
        kind: &'static str,
        endpoint: String,
        bucket: &str,
        env: &[(&str, &str)],
        dir: tempfile::TempDir,
    ) -> Self {
        let server = Self {
            child,
            kind,
            endpoint,
            bucket: bucket.to_string(),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            _dir: dir,
        };
        server.stores("create");
        server
    }

    /// The warehouse URL of `prefix` in the bucket.
    pub(crate) fn url(&self, prefix: &str) -> String {
        let scheme = if self.kind == "s3" { "s3" } else { "az" };
        format!("{scheme}://{}/{prefix}", self.bucket)
    }

    /// Runs `fixtures/object_stores.py VERB` on the bucket; its output lines.
    pub(crate) fn stores(&self, verb: &str) -> Vec<String> {
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/fixtures/object_stores.py");
        let out = Command::new(test_python())
            .arg(script)
            .args([verb, self.kind, &self.endpoint, &self.bucket])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "object_stores.py {verb}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// The binary with the repository config, reaching this store.
    pub(crate) fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_tilannekuva"));
        c.arg("--config")
            .arg(repo_config())
            .args(args)
            .env_remove("RUST_LOG")
            .env_remove("TILANNEKUVA_DESKTOP_TOKEN")
            .env(PSEUDONYM_KEY_ENV, TEST_PSEUDONYM_KEY)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        c
    }

    pub(crate) fn run_ok(&self, args: &[&str]) -> Output {
        let out = self.command(args).output().unwrap();
        assert!(
            out.status.success(),
            "tilannekuva {args:?} on {}: {}{}",
            self.kind,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }
}

impl Drop for StoreServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Each tile's figures (its series at every grain and how recent its data is), by id.
pub(crate) fn figures(tiles: &Value) -> BTreeMap<String, Value> {
    tiles["tiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let figures = serde_json::json!({
                "series": t["series"],
                "data_through": t["data_through"],
            });
            (t["id"].as_str().unwrap().to_string(), figures)
        })
        .collect()
}

/// Whether two tiles' figures agree: counts, periods, statuses and texts exactly, and
/// fractional values to 12 significant digits (a float sum depends on the order DataFusion's
/// partitions happen to add up in, on any store); else where they first differ.
pub(crate) fn same_figures(a: &Value, b: &Value, at: &str) -> Result<(), String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            if x.len() != y.len() {
                return Err(format!("{at}: keys {:?} / {:?}", x.keys(), y.keys()));
            }
            for (k, v) in x {
                let w = y.get(k).ok_or_else(|| format!("{at}/{k}: missing"))?;
                same_figures(v, w, &format!("{at}/{k}"))?;
            }
            Ok(())
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .try_for_each(|(i, (v, w))| same_figures(v, w, &format!("{at}/{i}"))),
        (Value::Number(x), Value::Number(y)) if x.is_f64() || y.is_f64() => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            if (x - y).abs() <= 1e-12 * x.abs().max(y.abs()).max(1.0) {
                Ok(())
            } else {
                Err(format!("{at}: {x} / {y}"))
            }
        }
        _ if a == b => Ok(()),
        _ => Err(format!("{at}: {a} / {b}")),
    }
}

pub(crate) fn tiles_of(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The local demo's figures, computed once for the tests of both stores.
fn local_figures() -> &'static BTreeMap<String, Value> {
    static LOCAL: std::sync::OnceLock<BTreeMap<String, Value>> = std::sync::OnceLock::new();
    LOCAL.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().to_str().unwrap();
        let mut args = vec!["demo", "--no-serve", "--dir", d];
        args.extend(DEMO_ARGS);
        crate::common::run_ok(&args);
        let warehouse = dir.path().join("warehouse");
        figures(&crate::common::tiles_json(&warehouse))
    })
}

/// The demo on `store` (load, compute, publish), then its tiles from `tiles` and from the
/// desktop's API of `serve` on the store: both the local run's figures.
fn demo_gives_the_local_figures(store: &StoreServer) {
    let dir = tempfile::tempdir().unwrap();
    let warehouse = store.url("county/tilannekuva");
    let args = demo_args(&warehouse, dir.path());
    let out = store.run_ok(&args);
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains(&format!("warehouse: {warehouse}")), "{log}");
    assert!(log.contains("0 failed"), "{log}");
    // `check` reaches the store and tries its create-only writes.
    let checked = store.run_ok(&["--warehouse", &warehouse, "check"]);
    let said = String::from_utf8_lossy(&checked.stderr);
    assert!(
        said.contains(&format!(
            "warehouse {warehouse}: reachable, create-only writes kept"
        )),
        "{said}"
    );
    let listed = store.stores("list");
    assert!(
        listed
            .iter()
            .any(|n| n.starts_with("county/tilannekuva/curated/contacts/period=2025-01/")),
        "curated Parquet lives in the bucket under the prefix: {listed:?}"
    );
    assert!(
        !Path::new(dir.path()).join("warehouse").exists(),
        "nothing went to a local warehouse"
    );

    let tiles = tiles_of(&store.run_ok(&["--warehouse", &warehouse, "tiles", "--format", "json"]));
    let on_store = figures(&tiles);
    let local = local_figures();
    assert_eq!(on_store.len(), local.len());
    for (id, f) in local {
        if let Err(at) = same_figures(&on_store[id], f, id) {
            panic!("{id} on {} differs from the local run at {at}", store.kind);
        }
    }

    // The scheduler's lease and run history live in the store too.
    store.run_ok(&["--warehouse", &warehouse, "run", "compute_tiles"]);
    let runs: Value = serde_json::from_slice(
        &store
            .run_ok(&["--warehouse", &warehouse, "runs", "--format", "json"])
            .stdout,
    )
    .unwrap();
    assert!(
        runs["runs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["job"] == "compute_tiles" && r["outcome"] == "succeeded"),
        "{runs}"
    );
    assert!(
        store
            .stores("list")
            .iter()
            .any(|n| n.starts_with("county/tilannekuva/_scheduler/")),
        "the run is recorded in the bucket"
    );

    // SQL reads the curated Parquet from the store.
    let rows: Vec<Value> = serde_json::from_slice(
        &store
            .run_ok(&[
                "--warehouse",
                &warehouse,
                "sql",
                "--format",
                "json",
                "SELECT count(*) AS n FROM contacts",
            ])
            .stdout,
    )
    .unwrap();
    assert!(rows[0]["n"].as_u64().unwrap() > 1000, "{rows:?}");

    // The desktop serves the store's tiles.
    let port = free_port();
    let mut serve = store
        .command(&[
            "--warehouse",
            &warehouse,
            "--inputs",
            dir.path().join("incoming").to_str().unwrap(),
            "serve",
            "--bind",
            &format!("127.0.0.1:{port}"),
        ])
        .env("TILANNEKUVA_DESKTOP_TOKEN", "object-store-test-token")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = BufReader::new(serve.stderr.take().unwrap());
    std::thread::spawn(move || for _ in stderr.lines() {});
    let api = format!("http://127.0.0.1:{port}/api/v1/tiles");
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let served: Value = rt.block_on(async {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match client
                .get(&api)
                .bearer_auth("object-store-test-token")
                .send()
                .await
            {
                Ok(r) if r.status().is_success() => break r.json().await.unwrap(),
                other => {
                    assert!(
                        Instant::now() < deadline,
                        "the desktop did not answer: {other:?}"
                    );
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    });
    let _ = serve.kill();
    let _ = serve.wait();
    let ids: Vec<&str> = served["tiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    let expected: Vec<&str> = local.keys().map(String::as_str).collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(sorted, expected, "the desktop lists the store's tiles");
}

#[test]
fn the_demo_on_an_s3_server_gives_the_local_figures() {
    demo_gives_the_local_figures(&StoreServer::s3("county-warehouse"));
}

#[test]
fn the_demo_on_azurite_gives_the_local_figures() {
    demo_gives_the_local_figures(&StoreServer::azurite("county-warehouse"));
}

/// Loads of several sources at once, one process each, all committing to one warehouse on
/// `store`: every load lands once, and the tiles are the single-process demo's.
fn racing_loads_all_land(store: &StoreServer) {
    let dir = tempfile::tempdir().unwrap();
    let inputs = dir.path().join("incoming");
    let cfg = tilannekuva_samples::SampleConfig {
        scale: 0.03,
        seed: 7,
        from: chrono::NaiveDate::from_ymd_opt(2025, 1, 1).unwrap(),
        to: chrono::NaiveDate::from_ymd_opt(2025, 6, 30).unwrap(),
        ..tilannekuva_samples::SampleConfig::default()
    };
    let sources = [
        "callbacks_ace",
        "callbacks_genesys",
        "chat_ninchat",
        "nps_roidu",
    ];
    tilannekuva_samples::generate_sources(&inputs, &cfg, &sources).unwrap();
    let warehouse = store.url("race");
    let racers: Vec<Child> = sources
        .iter()
        .map(|source| {
            store
                .command(&[
                    "--warehouse",
                    &warehouse,
                    "--inputs",
                    inputs.to_str().unwrap(),
                    "load",
                    source,
                    "--settle-seconds",
                    "0",
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for (racer, source) in racers.into_iter().zip(sources) {
        let out = racer.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{source}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let count = |sql: &str| -> Vec<Value> {
        serde_json::from_slice(
            &store
                .run_ok(&["--warehouse", &warehouse, "sql", "--format", "json", sql])
                .stdout,
        )
        .unwrap()
    };
    const PER_SOURCE: &str = "SELECT _source, count(*) AS n, count(DISTINCT contact_id) AS ids \
                              FROM contacts GROUP BY _source ORDER BY _source";
    let per_source = count(PER_SOURCE);
    assert_eq!(per_source.len(), 2, "{per_source:?}");
    for row in &per_source {
        assert_eq!(row["n"], row["ids"], "no contact twice: {row}");
    }
    // A second round loads nothing: every export is in the ledger once.
    for source in sources {
        let out = store.run_ok(&[
            "--warehouse",
            &warehouse,
            "--inputs",
            inputs.to_str().unwrap(),
            "load",
            source,
            "--settle-seconds",
            "0",
        ]);
        let log = String::from_utf8_lossy(&out.stderr);
        assert!(
            log.contains("loaded 0 exports"),
            "{source} loaded again: {log}"
        );
    }
    assert_eq!(count(PER_SOURCE), per_source);
}

#[test]
fn loads_racing_on_an_s3_bucket_all_land_once() {
    racing_loads_all_land(&StoreServer::s3("county-race"));
}

#[test]
fn loads_racing_on_azurite_all_land_once() {
    racing_loads_all_land(&StoreServer::azurite("county-race"));
}

#[test]
fn loads_killed_on_s3_at_any_moment_lose_and_duplicate_nothing() {
    let store = StoreServer::s3("county-crash");
    let dir = tempfile::tempdir().unwrap();
    let inputs = dir.path().join("incoming");
    let cfg = tilannekuva_samples::SampleConfig {
        scale: 0.1,
        ..crate::common::sample_config()
    };
    let truth = tilannekuva_samples::generate_sources(&inputs, &cfg, &["callbacks_ace"])
        .unwrap()
        .truth;
    let valid = truth.contacts.iter().filter(|c| c.valid).count() as u64;
    let warehouse = store.url("crash");
    let load_args = [
        "--warehouse",
        warehouse.as_str(),
        "--inputs",
        inputs.to_str().unwrap(),
        "load",
        "callbacks_ace",
        "--settle-seconds",
        "0",
    ];
    let counts = || -> (u64, u64, u64) {
        let out = store.run_ok(&[
            "--warehouse",
            &warehouse,
            "sql",
            "--format",
            "json",
            "SELECT count(*) AS n, count(DISTINCT contact_id) AS ids, \
             count(DISTINCT _file_sha256) AS files FROM contacts",
        ]);
        let rows: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
        let n = |k: &str| rows[0][k].as_u64().unwrap();
        (n("n"), n("ids"), n("files"))
    };
    let scratch = store.url("crash-scratch");
    let mut scratch_args = load_args;
    scratch_args[1] = scratch.as_str();
    let full = crate::crash::load_time(&mut store.command(&scratch_args));
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut kills = 0;
    let mut files_before = 0;
    for round in 0..10 {
        let delay = crate::crash::kill_delay(&mut seed, full);
        let finished = crate::crash::finishes_within(&mut store.command(&load_args), delay);
        kills += usize::from(!finished);
        let (n, ids, files) = counts();
        assert_eq!(n, ids, "round {round}: a contact appears twice");
        assert!(
            files >= files_before,
            "round {round}: a committed file was lost"
        );
        files_before = files;
        if finished {
            break;
        }
    }
    assert!(kills >= 3, "the test killed loads mid-way ({kills} times)");
    store.run_ok(&load_args);
    assert_eq!(counts(), (valid, valid, 24));
    store.run_ok(&["--warehouse", &warehouse, "gc", "--orphan-grace-hours", "0"]);
    assert_eq!(counts(), (valid, valid, 24));
}

/// A proxy in front of the S3 server that drops `If-None-Match` from every request: an
/// S3-compatible server that ignores create-only writes, as some do. Returns its address.
fn proxy_ignoring_create_only(upstream: String) -> String {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            use axum::body::Body;
            use axum::extract::{Request, State};
            let forward = |State(upstream): State<String>, req: Request| async move {
                let client = reqwest::Client::new();
                let url = format!(
                    "{upstream}{}",
                    req.uri()
                        .path_and_query()
                        .map(|p| p.as_str())
                        .unwrap_or("/")
                );
                let mut out = client.request(req.method().clone(), url);
                for (name, value) in req.headers() {
                    if name != "if-none-match" && name != "host" {
                        out = out.header(name, value);
                    }
                }
                let body = axum::body::to_bytes(req.into_body(), usize::MAX)
                    .await
                    .unwrap();
                let answer = out.body(body).send().await.unwrap();
                let mut reply = axum::http::Response::builder().status(answer.status());
                for (name, value) in answer.headers() {
                    reply = reply.header(name, value);
                }
                reply
                    .body(Body::from(answer.bytes().await.unwrap()))
                    .unwrap()
            };
            let app = axum::Router::new().fallback(forward).with_state(upstream);
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    format!("http://{addr}")
}

#[test]
fn a_store_that_ignores_create_only_writes_is_refused_before_anything_is_written() {
    let store = StoreServer::s3("county-lax");
    let proxy = proxy_ignoring_create_only(store.endpoint.clone());
    let dir = tempfile::tempdir().unwrap();
    let warehouse = store.url("lax");
    let args = demo_args(&warehouse, dir.path());
    let out = store
        .command(&args)
        .env("AWS_ENDPOINT", &proxy)
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{log}");
    assert!(
        log.contains("the warehouse store at s3://county-lax/lax cannot be used")
            && log.contains("If-None-Match"),
        "{log}"
    );
    assert_eq!(
        store.stores("list"),
        Vec::<String>::new(),
        "nothing was written"
    );
    let checked = store
        .command(&["--warehouse", &warehouse, "check"])
        .env("AWS_ENDPOINT", &proxy)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&checked.stderr);
    assert!(!checked.status.success(), "{said}");
    assert!(said.contains("ignores `If-None-Match: *`"), "{said}");
}

/// An ACE export as its reporting server writes it (BOM, `;`, CRLF, wall-clock times, the
/// caller's number in every row), written here by hand: June's health-centre queue, 59 good
/// contacts and, at line 32, an arrival on the 31st of June.
pub(crate) fn hand_written_ace_export() -> String {
    let mut out = String::from(
        "\u{feff}Yhteys-ID;Jono;Saapumisaika;Soittajan numero;Jonotusaika (s);Tulos;\
         Takaisinsoitto pyydetty;Takaisinsoitto tavoitettu;Soittoyrityksiä;Takaisinsoiton tila\r\n",
    );
    for i in 0..60 {
        let day = 2 + i / 6;
        let hour = 8 + i % 6;
        if i == 30 {
            out.push_str(
                "ACE-2030;Terveysasemien ensilinja;31.6.2025 9:15;0401234030;20;Vastattu;;;0;\r\n",
            );
        } else if i % 4 == 1 {
            out.push_str(&format!(
                "ACE-20{i:02};Terveysasemien ensilinja;{day}.6.2025 {hour}:05;04012340{i:02};412;\
                 Takaisinsoitto;{day}.6.2025 {hour}:12;{day}.6.2025 {}:40;1;Tavoitettu\r\n",
                hour + 1
            ));
        } else {
            out.push_str(&format!(
                "ACE-20{i:02};Terveysasemien ensilinja;{day}.6.2025 {hour}:20;04012340{i:02};35;\
                 Vastattu;;;0;\r\n"
            ));
        }
    }
    out
}

#[test]
fn a_hand_written_vendor_export_loads_on_s3_with_its_bad_row_quarantined() {
    let store = StoreServer::s3("county-hand");
    let dir = tempfile::tempdir().unwrap();
    let drop = dir.path().join("incoming/callbacks_ace");
    std::fs::create_dir_all(&drop).unwrap();
    std::fs::write(
        drop.join("ace_contacts_2025-06.csv"),
        hand_written_ace_export(),
    )
    .unwrap();
    let warehouse = store.url("hand");
    let inputs = dir.path().join("incoming");
    store.run_ok(&[
        "--warehouse",
        &warehouse,
        "--inputs",
        inputs.to_str().unwrap(),
        "load",
        "callbacks_ace",
        "--settle-seconds",
        "0",
    ]);
    let sql = |q: &str| -> Vec<Value> {
        serde_json::from_slice(
            &store
                .run_ok(&["--warehouse", &warehouse, "sql", "--format", "json", q])
                .stdout,
        )
        .unwrap()
    };
    let rows = sql(
        "SELECT count(*) AS n, sum(CASE WHEN callback_requested THEN 1 ELSE 0 END) AS callbacks \
         FROM contacts",
    );
    assert_eq!(
        (rows[0]["n"].as_u64(), rows[0]["callbacks"].as_u64()),
        (Some(59), Some(15))
    );
    let rejected = sql("SELECT file_name, line, \"column\", raw_value FROM quarantine");
    assert_eq!(rejected.len(), 1, "{rejected:?}");
    assert_eq!(rejected[0]["file_name"], "ace_contacts_2025-06.csv");
    assert_eq!(rejected[0]["line"], 32);
    assert_eq!(rejected[0]["column"], "Saapumisaika");
    assert_eq!(rejected[0]["raw_value"], "31.6.2025 9:15");
    // The caller's number is dropped before anything is stored.
    let landed = store.stores("list");
    assert!(
        landed
            .iter()
            .any(|n| n.starts_with("hand/raw/callbacks_ace/")),
        "{landed:?}"
    );
    let columns =
        sql("SELECT column_name FROM information_schema.columns WHERE table_name = 'contacts'");
    assert!(!format!("{columns:?}").contains("Soittajan"), "{columns:?}");
}
