//! The API fetch kinds against real HTTP servers on 127.0.0.1: Sotkanet (JSON and CSV), a
//! paginated export API with a bearer token and a `start_time` cursor, and the shared
//! retry, rate-limit and truncation rules of `fetch::http`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tilannekuva_pipelines::config::{Lookup, SourceConfig};
use tilannekuva_pipelines::fetch::http::{HttpClient, HttpSettings, Secret};
use tilannekuva_pipelines::fetch::{FetchConfig, FetchContext};
use tilannekuva_pipelines::{Error, LoadReport, Outcome, Pipelines};
use tilannekuva_warehouse::Warehouse;
use tilannekuva_warehouse::catalog::TableDef;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

// ---------------------------------------------------------------------------------------
// Servers

/// Serves `app` on 127.0.0.1 at a free port; returns its base URL.
async fn serve(app: Router) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.ok();
    });
    format!("http://{addr}")
}

/// One scripted answer: status, extra headers, body.
type Answer = (u16, Vec<(&'static str, &'static str)>, &'static str);

/// The scripted server's state: the answers and how many requests came.
type Script = (Arc<Vec<Answer>>, Arc<Mutex<usize>>);

/// A server that answers the requests in turn with `script`; the last entry repeats.
/// Counts the requests.
async fn scripted(script: Vec<Answer>) -> (String, Arc<Mutex<usize>>) {
    let count = Arc::new(Mutex::new(0usize));
    let state = (Arc::new(script), count.clone());
    let app = Router::new()
        .route(
            "/data",
            get(|State((script, count)): State<Script>| async move {
                let n = {
                    let mut c = count.lock().unwrap();
                    *c += 1;
                    *c - 1
                };
                let (status, headers, body) = &script[n.min(script.len() - 1)];
                let mut response = (StatusCode::from_u16(*status).unwrap(), *body).into_response();
                for (k, v) in headers {
                    response.headers_mut().insert(*k, v.parse().unwrap());
                }
                response
            }),
        )
        .with_state(state);
    (serve(app).await, count)
}

/// Settings that keep tests fast: short backoff, short timeouts.
fn fast(max_retries: u32) -> HttpSettings {
    HttpSettings {
        max_retries,
        backoff_initial_seconds: 0.02,
        backoff_max_seconds: 0.05,
        timeout_seconds: 5.0,
        connect_timeout_seconds: 2.0,
        ..HttpSettings::default()
    }
}

fn url(s: &str) -> reqwest::Url {
    s.parse().unwrap()
}

// ---------------------------------------------------------------------------------------
// Shared HTTP behaviour

#[tokio::test]
async fn a_500_is_retried_and_then_succeeds() {
    let (base, count) = scripted(vec![(500, vec![], "oops"), (200, vec![], "[1]")]).await;
    let client = HttpClient::new("s", &fast(3), None).unwrap();
    let response = client.get(&url(&format!("{base}/data"))).await.unwrap();
    assert_eq!(&response.body[..], b"[1]");
    assert_eq!(*count.lock().unwrap(), 2);
}

#[tokio::test]
async fn a_429_retry_after_is_waited_out() {
    let (base, count) = scripted(vec![
        (429, vec![("retry-after", "1")], "slow down"),
        (200, vec![], "ok"),
    ])
    .await;
    let client = HttpClient::new("s", &fast(2), None).unwrap();
    let started = Instant::now();
    let response = client.get(&url(&format!("{base}/data"))).await.unwrap();
    assert_eq!(&response.body[..], b"ok");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited only {:?}",
        started.elapsed()
    );
    assert_eq!(*count.lock().unwrap(), 2);
}

#[tokio::test]
async fn a_retry_after_longer_than_allowed_fails_at_once() {
    let (base, count) = scripted(vec![(429, vec![("retry-after", "3600")], "")]).await;
    let settings = HttpSettings {
        max_retry_after_seconds: 10.0,
        ..fast(5)
    };
    let client = HttpClient::new("s", &settings, None).unwrap();
    let err = client
        .get(&url(&format!("{base}/data")))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("3600") && err.contains("max_retry_after_seconds"),
        "{err}"
    );
    assert_eq!(*count.lock().unwrap(), 1);
}

#[tokio::test]
async fn a_404_fails_at_once_naming_status_url_and_body() {
    let body: &'static str =
        Box::leak(format!("no such indicator {}", "x".repeat(400)).into_boxed_str());
    let (base, count) = scripted(vec![(404, vec![], body)]).await;
    let client = HttpClient::new("coverage", &fast(5), None).unwrap();
    let target = format!("{base}/data?indicator=1");
    let err = client.get(&url(&target)).await.unwrap_err();
    assert_eq!(*count.lock().unwrap(), 1, "a 404 is not retried");
    let text = err.to_string();
    assert!(text.starts_with("coverage: fetching "), "{text}");
    assert!(text.contains(&target), "{text}");
    assert!(
        text.contains("404") && text.contains("no such indicator"),
        "{text}"
    );
    assert!(text.len() < 400, "only the start of the body: {text}");
}

#[tokio::test]
async fn retries_give_up_after_max_retries() {
    let (base, count) = scripted(vec![(503, vec![], "down")]).await;
    let client = HttpClient::new("s", &fast(2), None).unwrap();
    let err = client
        .get(&url(&format!("{base}/data")))
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(*count.lock().unwrap(), 3, "one try and two retries");
    assert!(err.contains("503") && err.contains("3 attempts"), "{err}");
}

#[tokio::test]
async fn a_refused_connection_is_retried_then_reported() {
    // Bind and drop a listener to get a port nobody listens on.
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap().port()
    };
    let client = HttpClient::new("s", &fast(1), None).unwrap();
    let err = client
        .get(&url(&format!("http://127.0.0.1:{port}/x")))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("could not connect") && err.contains("2 attempts"),
        "{err}"
    );
}

#[tokio::test]
async fn requests_per_minute_spaces_the_requests() {
    let (base, count) = scripted(vec![(200, vec![], "ok")]).await;
    let settings = HttpSettings {
        requests_per_minute: Some(240.0), // one every 250 ms
        ..fast(0)
    };
    let client = HttpClient::new("s", &settings, None).unwrap();
    let started = Instant::now();
    for _ in 0..3 {
        client.get(&url(&format!("{base}/data"))).await.unwrap();
    }
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(*count.lock().unwrap(), 3);
}

/// A raw server whose first `short` answers promise 100 bytes and send 10, then close.
async fn truncating(short: usize) -> (String, Arc<Mutex<usize>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let count = Arc::new(Mutex::new(0usize));
    let seen = count.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let n = {
                let mut c = seen.lock().unwrap();
                *c += 1;
                *c
            };
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(k) => request.extend_from_slice(&buf[..k]),
                    }
                }
                let body = [b'x'; 100];
                let sent = if n <= short { &body[..10] } else { &body[..] };
                let head = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nConnection: close\r\n\r\n";
                socket.write_all(head.as_bytes()).await.ok();
                socket.write_all(sent).await.ok();
                socket.shutdown().await.ok();
            });
        }
    });
    (format!("http://{addr}"), count)
}

#[tokio::test]
async fn a_truncated_body_is_retried_and_never_delivered_short() {
    let (base, count) = truncating(1).await;
    let client = HttpClient::new("s", &fast(2), None).unwrap();
    let response = client.get(&url(&format!("{base}/x"))).await.unwrap();
    assert_eq!(
        response.body.len(),
        100,
        "only the complete body is returned"
    );
    assert_eq!(*count.lock().unwrap(), 2);

    let (base, count) = truncating(usize::MAX).await;
    let client = HttpClient::new("s", &fast(1), None).unwrap();
    let err = client
        .get(&url(&format!("{base}/x")))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("broke off"), "{err}");
    assert_eq!(*count.lock().unwrap(), 2);
}

#[tokio::test]
async fn the_token_is_sent_as_bearer_and_never_shown() {
    const TOKEN: &str = "s3cr3t-T0KEN-value";
    // The server echoes the Authorization header back in its refusal, as some do.
    let app = Router::new().route(
        "/data",
        get(|headers: HeaderMap| async move {
            let auth = headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            if auth == "Bearer right" {
                (StatusCode::OK, "ok".to_string())
            } else {
                (StatusCode::UNAUTHORIZED, format!("bad credentials: {auth}"))
            }
        }),
    );
    let base = serve(app).await;
    let ok = HttpClient::new("s", &fast(0), Some(Secret::new("right"))).unwrap();
    assert_eq!(
        &ok.get(&url(&format!("{base}/data"))).await.unwrap().body[..],
        b"ok"
    );

    let client = HttpClient::new("s", &fast(3), Some(Secret::new(TOKEN))).unwrap();
    let err = client.get(&url(&format!("{base}/data"))).await.unwrap_err();
    let text = format!("{err} {err:?}");
    assert!(text.contains("401"), "{text}");
    assert!(
        text.contains("bad credentials: Bearer [redacted]"),
        "{text}"
    );
    assert!(!text.contains(TOKEN), "the token leaked: {text}");
    assert!(!format!("{client:?}").contains(TOKEN));
}

// ---------------------------------------------------------------------------------------
// Sotkanet

const SOTKANET_JSON: &str = r#"[{"indicator":127,"region":963,"year":2024,"gender":"total","value":169869.0,"absValue":169869},{"indicator":127,"region":975,"year":2024,"gender":"total","value":204635.0,"absValue":204635},{"indicator":127,"region":658,"year":2024,"gender":"total","value":5635971.0,"absValue":5635971},{"indicator":127,"region":91,"year":2024,"gender":"total","value":684018.0,"absValue":684018},{"indicator":171,"region":963,"year":2023,"gender":"total","value":13.6},{"indicator":171,"region":963,"year":2024,"gender":"total","value":14.2,"absValue":24121}]"#;

const SOTKANET_CSV: &str = "\u{feff}indicator;region;year;gender;value;absValue\r\n127;963;2024;total;169869;169869\r\n171;963;2024;total;14,2;24121\r\n171;975;2024;total;15,1;30900\r\n171;91;2024;total;10,4;\r\n";

const COVERAGE_TABLE: &str = r#"
name = "coverage"
description = "Sotkanet indicator values"
period_column = "stat_date"
[[columns]]
name = "indicator"
type = "int64"
nullable = false
description = "indicator id"
[[columns]]
name = "region"
type = "int64"
nullable = false
description = "region id"
[[columns]]
name = "year"
type = "int64"
nullable = false
description = "statistical year"
[[columns]]
name = "gender"
type = "string"
description = "gender"
[[columns]]
name = "value"
type = "float64"
description = "value"
[[columns]]
name = "abs_value"
type = "float64"
description = "absolute value"
[[columns]]
name = "stat_date"
type = "date"
nullable = false
description = "statistics date"
"#;

/// A Sotkanet stand-in: records each request's path and raw query.
async fn sotkanet_server() -> (String, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let app = Router::new()
        .route(
            "/rest/1.1/json",
            get(
                |State(seen): State<Arc<Mutex<Vec<String>>>>, RawQuery(q): RawQuery| async move {
                    seen.lock()
                        .unwrap()
                        .push(format!("json?{}", q.unwrap_or_default()));
                    ([("content-type", "application/json")], SOTKANET_JSON)
                },
            ),
        )
        .route(
            "/rest/1.1/csv",
            get(
                |State(seen): State<Arc<Mutex<Vec<String>>>>, RawQuery(q): RawQuery| async move {
                    seen.lock()
                        .unwrap()
                        .push(format!("csv?{}", q.unwrap_or_default()));
                    ([("content-type", "text/csv; charset=utf-8")], SOTKANET_CSV)
                },
            ),
        )
        .with_state(seen.clone());
    (serve(app).await, seen)
}

struct Fixture {
    _dir: tempfile::TempDir,
    pipelines: Pipelines,
}

impl Fixture {
    fn new(table: &str, source: &str) -> Self {
        Self::try_new(table, source).unwrap()
    }

    fn try_new(table: &str, source: &str) -> Result<Self, Error> {
        let dir = tempfile::tempdir().unwrap();
        let table: TableDef = toml::from_str(table).unwrap();
        let mut src: SourceConfig = toml::from_str(source).unwrap();
        src.file = dir.path().join("src.toml");
        let tables = BTreeMap::from([(table.name.clone(), table)]);
        let lookups: BTreeMap<String, Lookup> = BTreeMap::new();
        let wh = Warehouse::open_local(dir.path().join("warehouse")).unwrap();
        let fetch = FetchContext {
            inputs_root: dir.path().to_path_buf(),
            settle_seconds: None,
        };
        let pipelines = Pipelines::new(wh, tables, &[src], &lookups, fetch, None)?;
        Ok(Self {
            _dir: dir,
            pipelines,
        })
    }

    async fn load(&self, name: &str) -> Vec<Result<LoadReport, Error>> {
        self.pipelines.load_source(name).await.unwrap()
    }

    async fn rows(&self, table: &str) -> u64 {
        let m = self.pipelines.warehouse.manifest().await.unwrap();
        m.files(table).iter().map(|f| f.rows).sum()
    }

    async fn cursor(&self, name: &str) -> Option<serde_json::Value> {
        let m = self.pipelines.warehouse.manifest().await.unwrap();
        m.cursors.get(name).cloned()
    }
}

fn sotkanet_source(base: &str, format: &str) -> String {
    let (fmt, columns) = if format == "csv" {
        ("kind = \"csv\"\ndelimiter = \";\"", "")
    } else {
        ("kind = \"json_array\"", "")
    };
    format!(
        r#"
name = "sotkanet"
description = "THL Sotkanet"
table = "coverage"
[fetch]
kind = "sotkanet"
base_url = "{base}/rest/1.1"
indicators = [127, 171]
years = [2023, 2024]
genders = "total"
format = "{format}"
regions = [963, 975, 658]
[fetch.http]
max_retries = 0
[format]
{fmt}
[load]
cadence = "year"
[columns]
indicator = {{ from = "indicator" }}
region = {{ from = "region" }}
year = {{ from = "year" }}
gender = {{ from = "gender" }}
value = {{ from = "value" }}
abs_value = {{ from = "absValue" }}
stat_date = {{ value = "2024-12-31" }}
{columns}
"#
    )
}

fn loaded_rows(r: &Result<LoadReport, Error>) -> u64 {
    match r {
        Ok(LoadReport {
            outcome: Outcome::Loaded { rows, .. },
            ..
        }) => *rows,
        other => panic!("expected a load, got {other:?}"),
    }
}

#[tokio::test]
async fn sotkanet_json_repeats_parameters_and_lands_the_answer_untouched() {
    let (base, seen) = sotkanet_server().await;
    let f = Fixture::new(COVERAGE_TABLE, &sotkanet_source(&base, "json"));
    let reports = f.load("sotkanet").await;
    assert_eq!(reports.len(), 1);
    assert_eq!(
        loaded_rows(&reports[0]),
        6,
        "every region is kept; SQL picks"
    );
    assert_eq!(
        *seen.lock().unwrap(),
        vec!["json?indicator=127&indicator=171&years=2023&years=2024&genders=total"]
    );
    let report = reports[0].as_ref().unwrap();
    assert_eq!(report.file, "sotkanet_127-171_2023-2024.json");
    let m = f.pipelines.warehouse.manifest().await.unwrap();
    let landed = f
        .pipelines
        .warehouse
        .get(&m.loads[0].raw_path)
        .await
        .unwrap();
    assert_eq!(
        &landed[..],
        SOTKANET_JSON.as_bytes(),
        "landed byte for byte"
    );

    // Unchanged statistics: the same bytes again load nothing.
    let again = f.load("sotkanet").await;
    assert!(
        matches!(
            again[0],
            Ok(LoadReport {
                outcome: Outcome::AlreadyLoaded { .. },
                ..
            })
        ),
        "{again:?}"
    );
    assert_eq!(f.rows("coverage").await, 6);
}

#[tokio::test]
async fn sotkanet_csv_variant_uses_the_csv_endpoint_and_decimal_commas() {
    let (base, seen) = sotkanet_server().await;
    let f = Fixture::new(COVERAGE_TABLE, &sotkanet_source(&base, "csv"));
    let reports = f.load("sotkanet").await;
    assert_eq!(loaded_rows(&reports[0]), 4);
    assert_eq!(
        reports[0].as_ref().unwrap().file,
        "sotkanet_127-171_2023-2024.csv"
    );
    assert_eq!(
        *seen.lock().unwrap(),
        vec!["csv?indicator=127&indicator=171&years=2023&years=2024&genders=total"]
    );
}

#[tokio::test]
async fn sotkanet_year_ranges_parse() {
    let src: SourceConfig = toml::from_str(&sotkanet_source("http://127.0.0.1:9", "json").replace(
        "years = [2023, 2024]",
        "years = { from = 2023, to = \"current\" }",
    ))
    .unwrap();
    let FetchConfig::Sotkanet(s) = &src.fetch else {
        panic!("not sotkanet")
    };
    assert_eq!(s.years.resolve(2026), vec![2023, 2024, 2025, 2026]);
}

// ---------------------------------------------------------------------------------------
// Paginated export API

const EVENTS_TABLE: &str = r#"
name = "events"
description = "exported events"
period_column = "at"
[[columns]]
name = "id"
type = "string"
nullable = false
description = "id"
[[columns]]
name = "at"
type = "timestamp"
nullable = false
description = "when"
[[columns]]
name = "minutes"
type = "float64"
description = "duration"
"#;

/// The token the API stand-in accepts. The workspace forbids `unsafe`, and setting an
/// environment variable is `unsafe` in edition 2024, so the end-to-end tests borrow a
/// variable cargo sets for every test process as `token_env`.
const TOKEN_ENV: &str = "CARGO_PKG_NAME";

fn env_token() -> String {
    std::env::var(TOKEN_ENV).expect("cargo sets CARGO_PKG_NAME for tests")
}

#[derive(Default)]
struct Api {
    /// start_time → (items JSON, next_start_time, has_more)
    pages: BTreeMap<i64, (String, i64, bool)>,
    /// start_time of every authorised request, in order.
    requested: Vec<i64>,
}

async fn export_api(token: String) -> (String, Arc<Mutex<Api>>) {
    let api = Arc::new(Mutex::new(Api::default()));
    let app = Router::new()
        .route(
            "/v2/export",
            get(
                |State((api, token)): State<(Arc<Mutex<Api>>, String)>,
                 headers: HeaderMap,
                 RawQuery(q): RawQuery| async move {
                    let auth = headers.get("authorization").and_then(|v| v.to_str().ok());
                    if auth != Some(format!("Bearer {token}").as_str()) {
                        return (StatusCode::UNAUTHORIZED, "{\"error\":\"unauthorized\"}")
                            .into_response();
                    }
                    let q = q.unwrap_or_default();
                    let start: i64 = q
                        .split('&')
                        .find_map(|kv| kv.strip_prefix("start_time="))
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(-1);
                    let mut api = api.lock().unwrap();
                    api.requested.push(start);
                    let (items, next, more) =
                        api.pages
                            .get(&start)
                            .cloned()
                            .unwrap_or(("[]".into(), start, false));
                    let body = format!(
                        "{{\"items\": {items}, \"next_start_time\": {next}, \"has_more\": {more}}}"
                    );
                    Response::builder()
                        .header("content-type", "application/json")
                        .body(axum::body::Body::from(body))
                        .unwrap()
                },
            ),
        )
        .with_state((api.clone(), token));
    (serve(app).await, api)
}

fn rest_source(base: &str) -> String {
    format!(
        r#"
name = "events_api"
description = "paginated export"
table = "events"
[fetch]
kind = "rest_api"
url = "{base}/v2/export"
token_env = "{TOKEN_ENV}"
[fetch.http]
max_retries = 0
[format]
kind = "json_array"
[load]
on_redelivery = "append"
[columns]
id = {{ from = "id" }}
at = {{ from = "at", format = "epoch_seconds" }}
minutes = {{ from = "minutes" }}
"#
    )
}

fn item(id: &str, at: i64) -> String {
    format!("{{\"id\": \"{id}\", \"at\": {at}, \"minutes\": 1.5}}")
}

#[tokio::test]
async fn rest_api_pages_keep_a_cursor_and_the_next_run_continues_from_it() {
    let (base, api) = export_api(env_token()).await;
    {
        let mut a = api.lock().unwrap();
        let p1 = format!(
            "[{}, {}]",
            item("a", 1_700_000_000),
            item("b", 1_700_000_100)
        );
        a.pages.insert(0, (p1, 1_700_000_200, true));
        a.pages.insert(
            1_700_000_200,
            (
                format!("[{}]", item("c", 1_700_000_300)),
                1_700_000_400,
                false,
            ),
        );
    }
    let f = Fixture::new(EVENTS_TABLE, &rest_source(&base));

    let first = f.load("events_api").await;
    assert_eq!(
        first.iter().map(loaded_rows).collect::<Vec<_>>(),
        vec![2, 1]
    );
    assert_eq!(
        first[0].as_ref().unwrap().file,
        "events_api_0-1700000200.json"
    );
    assert_eq!(
        f.cursor("events_api").await,
        Some(serde_json::json!({"start_time": 1_700_000_400}))
    );
    assert_eq!(api.lock().unwrap().requested, vec![0, 1_700_000_200]);
    let m = f.pipelines.warehouse.manifest().await.unwrap();
    let landed = f
        .pipelines
        .warehouse
        .get(&m.loads[1].raw_path)
        .await
        .unwrap();
    assert_eq!(
        &landed[..],
        format!("[{}]", item("c", 1_700_000_300)).as_bytes(),
        "the items array, byte for byte"
    );

    // New data arrives; the second run asks only for what follows the cursor.
    api.lock().unwrap().pages.insert(
        1_700_000_400,
        (
            format!("[{}]", item("d", 1_700_000_450)),
            1_700_000_500,
            false,
        ),
    );
    api.lock().unwrap().requested.clear();
    let second = f.load("events_api").await;
    assert_eq!(second.iter().map(loaded_rows).collect::<Vec<_>>(), vec![1]);
    assert_eq!(api.lock().unwrap().requested, vec![1_700_000_400]);
    assert_eq!(f.rows("events").await, 4);
    assert_eq!(
        f.cursor("events_api").await,
        Some(serde_json::json!({"start_time": 1_700_000_500}))
    );

    // Every page's rows and its cursor moved in one commit: no version has the rows of a
    // page without the cursor after it (a crash there would load the page again), and no
    // commit moved the cursor alone.
    let last = f.pipelines.warehouse.manifest().await.unwrap().version;
    let mut before: Option<tilannekuva_warehouse::Manifest> = None;
    for v in 1..=last {
        let m = f.pipelines.warehouse.manifest_version(v).await.unwrap();
        assert!(!m.message.starts_with("cursor "), "{}", m.message);
        let (loads, cursor) = (m.loads.len(), m.cursors.get("events_api"));
        let (loads_before, cursor_before) = before
            .as_ref()
            .map_or((0, None), |b| (b.loads.len(), b.cursors.get("events_api")));
        assert_eq!(
            loads != loads_before,
            cursor != cursor_before,
            "version {v} ({}): rows and cursor move together",
            m.message
        );
        before = Some(m);
    }

    // Nothing new: an empty page, no load and no commit.
    let version = f.pipelines.warehouse.manifest().await.unwrap().version;
    assert!(f.load("events_api").await.is_empty());
    assert_eq!(
        f.pipelines.warehouse.manifest().await.unwrap().version,
        version
    );
}

#[tokio::test]
async fn a_page_that_fails_to_load_holds_the_cursor_before_it() {
    let (base, api) = export_api(env_token()).await;
    {
        let mut a = api.lock().unwrap();
        a.pages
            .insert(0, (format!("[{}]", item("a", 1_700_000_000)), 100, true));
        // Every row lacks its time: the load fails as a whole.
        a.pages
            .insert(100, ("[{\"id\": \"b\", \"at\": null}]".into(), 200, true));
        a.pages
            .insert(200, (format!("[{}]", item("c", 1_700_000_300)), 300, false));
    }
    let f = Fixture::new(EVENTS_TABLE, &rest_source(&base));
    let reports = f.load("events_api").await;
    assert_eq!(reports.len(), 2);
    assert_eq!(loaded_rows(&reports[0]), 1);
    assert!(reports[1].is_err());
    assert_eq!(
        f.cursor("events_api").await,
        Some(serde_json::json!({"start_time": 100}))
    );
    assert_eq!(
        api.lock().unwrap().requested,
        vec![0, 100],
        "page 3 is not asked for"
    );
}

#[tokio::test]
async fn rest_api_without_the_right_token_gets_401_and_never_shows_the_token() {
    let (base, api) = export_api("a-different-token".into()).await;
    let f = Fixture::new(EVENTS_TABLE, &rest_source(&base));
    let err = f.pipelines.load_source("events_api").await.unwrap_err();
    let text = format!("{err} {err:?}");
    assert!(
        text.contains("401") && text.contains("/v2/export?start_time=0"),
        "{text}"
    );
    assert!(
        text.contains("token_env"),
        "says where the token comes from: {text}"
    );
    assert!(!text.contains(&env_token()), "the token leaked: {text}");
    assert!(api.lock().unwrap().requested.is_empty());
    assert_eq!(f.cursor("events_api").await, None);
}

#[tokio::test]
async fn rest_api_refuses_replace_and_a_missing_token_variable() {
    let replace = rest_source("http://127.0.0.1:9")
        .replace("on_redelivery = \"append\"", "on_redelivery = \"replace\"");
    // Refused when the config is compiled, before anything is fetched.
    let err = Fixture::try_new(EVENTS_TABLE, &replace)
        .err()
        .expect("a replace rest_api source is refused")
        .to_string();
    assert!(err.contains("on_redelivery"), "{err}");

    let missing =
        rest_source("http://127.0.0.1:9").replace(TOKEN_ENV, "TILANNEKUVA_TEST_SURELY_UNSET_VAR");
    let f = Fixture::new(EVENTS_TABLE, &missing);
    let err = f
        .pipelines
        .load_source("events_api")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("TILANNEKUVA_TEST_SURELY_UNSET_VAR") && err.contains("not set"),
        "{err}"
    );
}

#[tokio::test]
async fn a_sotkanet_backfill_asks_for_the_range_years_and_declares_them() {
    let (base, seen) = sotkanet_server().await;
    let f = Fixture::new(COVERAGE_TABLE, &sotkanet_source(&base, "json"));
    let (from, to) = ("2019-05-01".parse().unwrap(), "2020-02-01".parse().unwrap());
    let plan = f
        .pipelines
        .plan_backfill("sotkanet", from, to)
        .await
        .unwrap()
        .join("\n");
    assert!(
        plan.contains("years 2019 .. 2020")
            && plan.contains("indicator=127&indicator=171&years=2019&years=2020&genders=total"),
        "{plan}"
    );
    assert!(seen.lock().unwrap().is_empty(), "a dry run fetches nothing");

    let reports = f
        .pipelines
        .backfill_source("sotkanet", from, to)
        .await
        .unwrap();
    assert_eq!(loaded_rows(&reports[0]), 6);
    assert_eq!(
        *seen.lock().unwrap(),
        vec!["json?indicator=127&indicator=171&years=2019&years=2020&genders=total"],
        "the configured years (2023, 2024) are not asked for"
    );
    let m = f.pipelines.warehouse.manifest().await.unwrap();
    let covers = m.loads[0].covers.expect("the request's years are declared");
    assert_eq!(
        (covers.from.to_string(), covers.to.to_string()),
        ("2019-01-01".into(), "2020-12-31".into())
    );
}

#[tokio::test]
async fn a_rest_api_without_an_end_parameter_cannot_be_backfilled() {
    let (base, api) = export_api(env_token()).await;
    let f = Fixture::new(EVENTS_TABLE, &rest_source(&base));
    let (from, to) = ("2025-03-01".parse().unwrap(), "2025-03-31".parse().unwrap());
    for err in [
        f.pipelines
            .plan_backfill("events_api", from, to)
            .await
            .unwrap_err(),
        f.pipelines
            .backfill_source("events_api", from, to)
            .await
            .unwrap_err(),
    ] {
        let text = err.to_string();
        assert!(
            text.contains("cannot be backfilled") && text.contains("fetch.end_param"),
            "{text}"
        );
    }
    assert!(api.lock().unwrap().requested.is_empty());
}
