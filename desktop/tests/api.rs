//! Handler tests through `tower::ServiceExt::oneshot`.

mod common;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::{ADMIN, HEALTH, OWNER};
use serde_json::Value;
use tilannekuva_desktop::{AppState, router};
use tilannekuva_scheduler::{
    EngineStatus, LateSource, PipelineStatus, RunOutcome, RunRecord, Trigger, WorkDone,
};
use tower::ServiceExt;

async fn send(
    state: &AppState,
    req: Request<Body>,
) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let r = router(state.clone()).oneshot(req).await.unwrap();
    let status = r.status();
    let headers = r.headers().clone();
    let body = axum::body::to_bytes(r.into_body(), 1 << 24)
        .await
        .unwrap()
        .to_vec();
    (status, headers, body)
}

fn get(uri: &str, token: Option<&str>) -> Request<Body> {
    let mut b = Request::get(uri);
    if let Some(t) = token {
        b = b.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    b.body(Body::empty()).unwrap()
}

fn json(body: &[u8]) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(body)))
}

fn code(body: &[u8]) -> String {
    json(body)["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn without_a_token_the_api_says_401_and_the_page_redirects_to_sign_in() {
    let (_dir, state) = common::state().await;
    for uri in [
        "/api/v1/tiles",
        "/api/v1/tiles/nps",
        "/api/v1/tiles.csv",
        "/api/v1/tiles.parquet",
        "/api/v1/status",
        "/api/v1/openapi.json",
    ] {
        let (s, h, b) = send(&state, get(uri, None)).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{uri}");
        assert_eq!(code(&b), "unauthorized", "{uri}");
        assert!(h.contains_key(header::WWW_AUTHENTICATE));
        let (s, _, b) = send(&state, get(uri, Some("wrong-token"))).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{uri} with a wrong token");
        assert_eq!(code(&b), "unauthorized");
    }
    let (s, h, _) = send(&state, get("/", None)).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert_eq!(h[header::LOCATION], "/login");
    let (s, _, b) = send(&state, get("/", Some(ADMIN))).await;
    assert_eq!(s, StatusCode::OK);
    assert!(String::from_utf8_lossy(&b).contains("<html lang=\"fi\">"));
}

#[tokio::test]
async fn health_and_readiness_need_no_token() {
    let (_dir, state) = common::state().await;
    for uri in ["/api/v1/healthz", "/healthz", "/api/v1/readyz", "/readyz"] {
        let (s, _, b) = send(&state, get(uri, None)).await;
        assert_eq!(s, StatusCode::OK, "{uri}: {}", String::from_utf8_lossy(&b));
    }
    let empty = tempfile::tempdir().unwrap();
    let wh = tilannekuva_warehouse::Warehouse::open_local(empty.path()).unwrap();
    let state = AppState::new(wh, common::config());
    let (s, _, b) = send(&state, get("/api/v1/readyz", None)).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(code(&b), "not_ready");
    let (s, _, b) = send(&state, get("/api/v1/tiles", Some(ADMIN))).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(code(&b), "no_snapshot");
}

#[tokio::test]
async fn the_latest_snapshot_lists_every_tile_with_figure_series_and_notices() {
    let (_dir, state) = common::state().await;
    let (s, h, b) = send(&state, get("/api/v1/tiles", Some(ADMIN))).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(h[header::CONTENT_TYPE], "application/json");
    let v = json(&b);
    assert_eq!(v["snapshot"]["id"], "20260201T080000000Z-new000");
    assert_eq!(v["grain"], "quarter");
    let tiles = v["tiles"].as_array().unwrap();
    assert_eq!(tiles.len(), 6);
    let nps = tiles.iter().find(|t| t["id"] == "nps").unwrap();
    assert_eq!(nps["figure"]["period"], "2025-Q4");
    assert_eq!(nps["figure"]["value"], 47.5);
    assert_eq!(nps["figure"]["status"], "yellow");
    assert_eq!(nps["series"].as_array().unwrap().len(), 8);
    let prom = tiles.iter().find(|t| t["id"] == "prom_groups").unwrap();
    assert_eq!(prom["notices"][0]["code"], "suppressed");
    let rt = tiles.iter().find(|t| t["id"] == "response_time").unwrap();
    assert!(
        rt["notices"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["code"] == "incomplete")
    );

    // Filters.
    let (_, _, b) = send(
        &state,
        get(
            "/api/v1/tiles?grain=year&period=2024&priority=asiakkuus",
            Some(ADMIN),
        ),
    )
    .await;
    let v = json(&b);
    let ids: Vec<&str> = v["tiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["callback_share", "nps"]);
    assert_eq!(v["tiles"][1]["figure"]["period"], "2024");
    // A period alone implies its grain.
    let (s, _, b) = send(
        &state,
        get("/api/v1/tiles?period=2025-Q2&sector=terveys", Some(ADMIN)),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let v = json(&b);
    assert_eq!(v["tiles"].as_array().unwrap().len(), 2);
    assert_eq!(v["tiles"][0]["figure"]["period"], "2025-Q2");
}

#[tokio::test]
async fn one_tile_has_its_breakdown_definition_and_sources() {
    let (_dir, state) = common::state().await;
    let (s, _, b) = send(&state, get("/api/v1/tiles/nps?period=2025-Q3", Some(ADMIN))).await;
    assert_eq!(s, StatusCode::OK);
    let v = json(&b);
    assert_eq!(v["figure"]["period"], "2025-Q3");
    assert_eq!(v["figure"]["breakdown"].as_array().unwrap().len(), 3);
    assert!(v["tile"]["sql"].as_str().unwrap().contains("SELECT"));
    assert_eq!(v["tile"]["owner"]["sector"], "terveys");
    assert_eq!(v["source_status"][0]["source"], "contact_centre");
    assert_eq!(v["source_status"][0]["rejects"], 3);
    let (s, _, b) = send(&state, get("/api/v1/tiles/nope", Some(ADMIN))).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(code(&b), "unknown_tile");
}

#[tokio::test]
async fn a_sector_token_sees_only_its_sector() {
    let (_dir, state) = common::state().await;
    let (s, _, b) = send(&state, get("/api/v1/tiles", Some(HEALTH))).await;
    assert_eq!(s, StatusCode::OK);
    let v = json(&b);
    let tiles = v["tiles"].as_array().unwrap();
    assert_eq!(tiles.len(), 2);
    assert!(tiles.iter().all(|t| t["owner"]["sector"] == "terveys"));
    let (s, _, b) = send(&state, get("/api/v1/tiles/nps", Some(HEALTH))).await;
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
    let (s, _, b) = send(&state, get("/api/v1/tiles/response_time", Some(HEALTH))).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(code(&b), "forbidden_sector");
    let (s, _, b) = send(&state, get("/api/v1/tiles?sector=pelastus", Some(HEALTH))).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(code(&b), "forbidden_sector");
    let (_, _, b) = send(&state, get("/api/v1/tiles.csv", Some(HEALTH))).await;
    let csv = String::from_utf8(b).unwrap();
    assert!(csv.contains(",nps,"));
    assert!(
        !csv.contains("response_time"),
        "other sectors' rows leak into the CSV"
    );
}

#[tokio::test]
async fn bad_parameters_are_400_with_a_clear_message() {
    let (_dir, state) = common::state().await;
    for (q, expected) in [
        ("grain=week", "bad_grain"),
        ("period=2025-Q5", "bad_period"),
        ("grain=month&period=2025-Q4", "bad_period"),
        ("period=last", "bad_period"),
        ("as_of=yesterday", "bad_as_of"),
        ("as_of=2025-13-01", "bad_as_of"),
        ("sector=nope", "unknown_sector"),
        ("priority=nope", "unknown_priority"),
        ("colour=red", "unknown_parameter"),
        ("grain=year&grain=month", "bad_query"),
    ] {
        for path in [
            "/api/v1/tiles",
            "/api/v1/tiles/nps",
            "/api/v1/tiles.csv",
            "/api/v1/tiles.parquet",
        ] {
            let (s, _, b) = send(&state, get(&format!("{path}?{q}"), Some(ADMIN))).await;
            assert_eq!(
                s,
                StatusCode::BAD_REQUEST,
                "{path}?{q}: {}",
                String::from_utf8_lossy(&b)
            );
            let v = json(&b);
            assert_eq!(v["error"]["code"], expected, "{path}?{q}");
            assert!(v["error"]["message"].as_str().unwrap().len() > 10);
        }
    }
}

#[tokio::test]
async fn as_of_picks_the_snapshot_in_force_then() {
    let (_dir, state) = common::state().await;
    let (s, _, b) = send(&state, get("/api/v1/tiles?as_of=2026-01-20", Some(ADMIN))).await;
    assert_eq!(s, StatusCode::OK);
    let v = json(&b);
    assert_eq!(v["snapshot"]["id"], "20260115T080000000Z-old000");
    assert_eq!(v["tiles"].as_array().unwrap().len(), 4);
    let (s, _, b) = send(
        &state,
        get(
            "/api/v1/tiles?as_of=2026-02-01T09:00:00%2B02:00",
            Some(ADMIN),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(json(&b)["snapshot"]["id"], "20260115T080000000Z-old000");
    let (s, _, b) = send(&state, get("/api/v1/tiles?as_of=2025-01-01", Some(ADMIN))).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(code(&b), "no_snapshot");
}

#[tokio::test]
async fn etag_and_last_modified_give_304() {
    let (_dir, state) = common::state().await;
    let (s, h, _) = send(&state, get("/api/v1/tiles?grain=year", Some(ADMIN))).await;
    assert_eq!(s, StatusCode::OK);
    let etag = h[header::ETAG].to_str().unwrap().to_string();
    assert_eq!(h[header::LAST_MODIFIED], "Sun, 01 Feb 2026 08:00:00 GMT");
    let req = Request::get("/api/v1/tiles?grain=year")
        .header(header::AUTHORIZATION, format!("Bearer {ADMIN}"))
        .header(header::IF_NONE_MATCH, &etag)
        .body(Body::empty())
        .unwrap();
    let (s, h, b) = send(&state, req).await;
    assert_eq!(s, StatusCode::NOT_MODIFIED);
    assert_eq!(h[header::ETAG].to_str().unwrap(), etag);
    assert!(b.is_empty());
    // Another query, another token scope or another snapshot: another ETag.
    let (_, h2, _) = send(&state, get("/api/v1/tiles?grain=quarter", Some(ADMIN))).await;
    assert_ne!(h2[header::ETAG].to_str().unwrap(), etag);
    let (_, h3, _) = send(&state, get("/api/v1/tiles?grain=year", Some(HEALTH))).await;
    assert_ne!(h3[header::ETAG].to_str().unwrap(), etag);
    let (_, h4, _) = send(
        &state,
        get("/api/v1/tiles?grain=year&as_of=2026-01-20", Some(ADMIN)),
    )
    .await;
    assert_ne!(h4[header::ETAG].to_str().unwrap(), etag);
    // If-Modified-Since.
    let req = Request::get("/api/v1/tiles.csv")
        .header(header::AUTHORIZATION, format!("Bearer {ADMIN}"))
        .header(header::IF_MODIFIED_SINCE, "Sun, 01 Feb 2026 08:00:00 GMT")
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&state, req).await.0, StatusCode::NOT_MODIFIED);
}

#[tokio::test]
async fn a_source_turning_late_changes_the_etag() {
    let (_dir, state) = common::state().await;
    let status = Arc::new(std::sync::Mutex::new(Arc::new(PipelineStatus::default())));
    let hook = status.clone();
    let state = state.with_pipeline_status(Arc::new(move || hook.lock().unwrap().clone()));
    let conditional = |etag: &str, path: &str| {
        Request::get(path)
            .header(header::AUTHORIZATION, format!("Bearer {ADMIN}"))
            .header(header::IF_NONE_MATCH, etag)
            .header(header::IF_MODIFIED_SINCE, "Sun, 01 Feb 2026 08:00:00 GMT")
            .body(Body::empty())
            .unwrap()
    };
    for path in ["/api/v1/tiles", "/api/v1/tiles/callback_share"] {
        *status.lock().unwrap() = Arc::new(PipelineStatus::default());
        let (s, h, _) = send(&state, get(path, Some(ADMIN))).await;
        assert_eq!(s, StatusCode::OK, "{path}");
        let before = h[header::ETAG].to_str().unwrap().to_string();
        assert_eq!(
            send(&state, conditional(&before, path)).await.0,
            StatusCode::NOT_MODIFIED,
            "{path}: nothing changed"
        );
        // The same snapshot, but now the contact centre's export is late.
        *status.lock().unwrap() = Arc::new(PipelineStatus {
            runs: Vec::new(),
            late_sources: vec![LateSource {
                source: "contact_centre".into(),
                last_loaded_at: Some("2026-01-10T06:00:00Z".parse().unwrap()),
                expected_every_hours: 24.0,
                overdue_hours: Some(30.0),
            }],
            ..PipelineStatus::default()
        });
        let (s, h, b) = send(&state, conditional(&before, path)).await;
        assert_eq!(
            s,
            StatusCode::OK,
            "{path}: a 304 would hide the late source"
        );
        assert_ne!(h[header::ETAG].to_str().unwrap(), before, "{path}");
        assert!(
            String::from_utf8(b).unwrap().contains("\"late\""),
            "{path}: the answer says so"
        );
    }
}

#[tokio::test]
async fn csv_and_parquet_have_their_content_types() {
    let (_dir, state) = common::state().await;
    let (s, h, b) = send(
        &state,
        get(
            "/api/v1/tiles.csv?grain=quarter&period=2025-Q4",
            Some(ADMIN),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(h[header::CONTENT_TYPE], "text/csv; charset=utf-8");
    assert!(
        h[header::CONTENT_DISPOSITION]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    let csv = String::from_utf8(b).unwrap();
    let csv = csv.strip_prefix('\u{feff}').expect("BOM for Excel");
    let mut lines = csv.lines();
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("snapshot_id,tile_id,grain,period")
    );
    let rows: Vec<&str> = lines.collect();
    assert!(
        rows.iter().all(|r| r.contains(",quarter,2025-Q4,")),
        "{rows:?}"
    );
    // 6 totals, 3 breakdown cells of each of the two tiles that have them and a cell per
    // binding goal of the key results' progress.
    assert_eq!(rows.len(), 6 + 6 + 5);

    let (s, h, b) = send(&state, get("/api/v1/tiles.parquet", Some(ADMIN))).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(h[header::CONTENT_TYPE], "application/vnd.apache.parquet");
    assert_eq!(&b[..4], b"PAR1");
    let (_, batches) =
        tilannekuva_warehouse::read_parquet_bytes("tiles.parquet", bytes::Bytes::from(b)).unwrap();
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    assert!(rows > 40, "{rows}");
}

#[tokio::test]
async fn every_response_has_the_security_headers() {
    let (_dir, state) = common::state().await;
    for (uri, token) in [
        ("/", Some(ADMIN)),
        ("/login", None),
        ("/assets/app.js", None),
        ("/api/v1/tiles", Some(ADMIN)),
        ("/api/v1/tiles", None),
        ("/api/v1/tiles?grain=week", Some(ADMIN)),
        ("/api/v1/healthz", None),
        ("/no/such/route", None),
    ] {
        let (_, h, _) = send(&state, get(uri, token)).await;
        let csp = h[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
            "{uri}: {csp}"
        );
        assert!(csp.contains("frame-ancestors 'none'"));
        assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff", "{uri}");
        assert_eq!(h[header::X_FRAME_OPTIONS], "DENY", "{uri}");
        assert_eq!(h[header::REFERRER_POLICY], "no-referrer", "{uri}");
    }
    // No inline script in the page: the script is a separate file.
    let (_, _, b) = send(&state, get("/", Some(ADMIN))).await;
    let html = String::from_utf8(b).unwrap();
    assert!(html.contains("<script src=\"/assets/app.js\" defer></script>"));
    assert_eq!(html.matches("<script").count(), 1);
    assert!(!html.contains(" style="));
}

#[tokio::test]
async fn openapi_parses_as_json_and_names_the_endpoints() {
    let (_dir, state) = common::state().await;
    let (s, h, b) = send(&state, get("/api/v1/openapi.json", Some(ADMIN))).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(h[header::CONTENT_TYPE], "application/json");
    let v = json(&b);
    assert!(v["openapi"].as_str().unwrap().starts_with("3."));
    for p in [
        "/tiles",
        "/tiles/{id}",
        "/tiles.csv",
        "/tiles.parquet",
        "/status",
        "/reports",
        "/goals/{id}",
        "/checkins",
        "/healthz",
        "/readyz",
        "/openapi.json",
    ] {
        assert!(v["paths"][p].is_object(), "{p} missing");
    }
}

#[tokio::test]
async fn signing_in_sets_a_signed_http_only_strict_cookie() {
    let (_dir, state) = common::state().await;
    let form = |token: &str| {
        Request::post("/login")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(format!("token={token}")))
            .unwrap()
    };
    let (s, _, b) = send(&state, form("not-a-token")).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert!(String::from_utf8_lossy(&b).contains("Tunnus ei kelpaa"));
    let (s, h, _) = send(&state, form(HEALTH)).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let cookie = h[header::SET_COOKIE].to_str().unwrap().to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert!(
        !cookie.contains(HEALTH),
        "the token itself is not in the cookie"
    );
    let pair = cookie.split(';').next().unwrap().to_string();
    let with_cookie = |uri: &str, c: &str| {
        Request::get(uri)
            .header(header::COOKIE, c)
            .body(Body::empty())
            .unwrap()
    };
    let (s, _, b) = send(&state, with_cookie("/api/v1/tiles", &pair)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        json(&b)["tiles"].as_array().unwrap().len(),
        2,
        "the cookie keeps the sector limit"
    );
    let (s, _, _) = send(&state, with_cookie("/", &pair)).await;
    assert_eq!(s, StatusCode::OK);
    // A tampered cookie is refused.
    let mut tampered = pair.clone();
    tampered.replace_range(14..16, "ff");
    let (s, _, _) = send(&state, with_cookie("/api/v1/tiles", &tampered)).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // A cookie signed with another key is refused.
    let other = AppState::new(state.warehouse().clone(), common::config());
    let (s, _, _) = send(&other, with_cookie("/api/v1/tiles", &pair)).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

/// A run of `job` on 10.1.2026 that started at 04:00:00 and took `secs` seconds.
fn run_record(job: &str, outcome: RunOutcome, secs: f64) -> RunRecord {
    let start: chrono::DateTime<chrono::Utc> = "2026-01-10T04:00:00Z".parse().unwrap();
    RunRecord {
        job: job.into(),
        scheduled_for: start,
        trigger: Trigger::Schedule,
        started_at: Some(start),
        finished_at: start + chrono::Duration::milliseconds((secs * 1000.0) as i64),
        outcome,
        attempts: 1,
        work: WorkDone::default(),
        input_version: None,
        error: None,
        note: None,
        holder: "test".into(),
    }
}

#[tokio::test]
async fn status_shows_source_freshness_snapshots_and_the_pipeline_hook() {
    let (_dir, state) = common::state().await;
    let run = RunRecord {
        work: WorkDone {
            rows_loaded: 4269,
            ..WorkDone::default()
        },
        ..run_record("load", RunOutcome::Succeeded, 8.0)
    };
    let status = Arc::new(PipelineStatus {
        runs: vec![run],
        engine: Some(EngineStatus {
            engine: "Ballista at df://10.0.0.5:50050".into(),
            reachable: false,
            problem: Some("the scheduler did not answer within 10 s".into()),
            checked_at: "2026-02-01T08:00:00Z".parse().unwrap(),
        }),
        ..PipelineStatus::default()
    });
    let state = state.with_pipeline_status(Arc::new(move || status.clone()));
    let (s, _, b) = send(&state, get("/api/v1/status", Some(ADMIN))).await;
    assert_eq!(s, StatusCode::OK);
    let v = json(&b);
    let src = &v["sources"][0];
    assert_eq!(src["source"], "contact_centre");
    assert_eq!(src["last_loaded_at"], "2026-01-10T06:00:00Z");
    assert_eq!(src["file"], "soitot_2025-12.csv");
    assert_eq!(src["rows"], 4269);
    assert_eq!(src["rejects"], 3);
    assert_eq!(v["snapshots"].as_array().unwrap().len(), 2);
    assert_eq!(v["snapshots"][0]["id"], "20260201T080000000Z-new000");
    assert_eq!(v["pipeline"]["runs"][0]["job"], "load");
    assert_eq!(v["pipeline"]["runs"][0]["outcome"], "succeeded");
    assert_eq!(v["pipeline"]["runs"][0]["rows_loaded"], 4269);
    assert_eq!(v["pipeline"]["late_sources"], serde_json::json!([]));
    // Where the tiles are computed, and that it could not be reached when last asked.
    assert_eq!(
        v["pipeline"]["engine"],
        serde_json::json!({
            "engine": "Ballista at df://10.0.0.5:50050",
            "reachable": false,
            "problem": "the scheduler did not answer within 10 s",
            "checked_at": "2026-02-01T08:00:00Z",
        })
    );
}

#[tokio::test]
async fn status_shows_a_sector_limited_token_only_its_sources_and_their_runs() {
    let (_dir, state) = common::state().await;
    // A second source whose exports feed no tile the health sector sees.
    state
        .warehouse()
        .commit("load", |m| {
            let mut other = m.loads[0].clone();
            other.load_id = "load-ems".into();
            other.source = "ems_missions".into();
            other.original_name = "tehtavat_2025-12.csv".into();
            m.loads.push(other);
            Ok(())
        })
        .await
        .unwrap();
    let run = |job: &str| run_record(job, RunOutcome::Succeeded, 9.0);
    let late = |source: &str| LateSource {
        source: source.into(),
        last_loaded_at: None,
        expected_every_hours: 24.0,
        overdue_hours: None,
    };
    let status = Arc::new(PipelineStatus {
        runs: vec![run("load_contacts"), run("load_ems"), run("compute")],
        late_sources: vec![late("contact_centre"), late("ems_missions")],
        sources_of_job: [
            (
                "load_contacts".to_string(),
                vec!["contact_centre".to_string()],
            ),
            ("load_ems".to_string(), vec!["ems_missions".to_string()]),
            ("compute".to_string(), vec![]),
        ]
        .into(),
        ..PipelineStatus::default()
    });
    let state = state.with_pipeline_status(Arc::new(move || status.clone()));
    let names = |v: &Value, list: &str, key: &str| -> Vec<String> {
        v.pointer(list)
            .unwrap()
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x[key].as_str().unwrap().to_string())
            .collect()
    };
    let (s, _, b) = send(&state, get("/api/v1/status", Some(ADMIN))).await;
    assert_eq!(s, StatusCode::OK);
    let all = json(&b);
    assert_eq!(
        names(&all, "/sources", "source"),
        ["contact_centre", "ems_missions"]
    );
    assert_eq!(names(&all, "/pipeline/runs", "job").len(), 3);
    assert_eq!(names(&all, "/pipeline/late_sources", "source").len(), 2);

    let (s, _, b) = send(&state, get("/api/v1/status", Some(HEALTH))).await;
    assert_eq!(s, StatusCode::OK);
    let health = json(&b);
    assert_eq!(names(&health, "/sources", "source"), ["contact_centre"]);
    assert_eq!(
        names(&health, "/pipeline/runs", "job"),
        ["load_contacts", "compute"]
    );
    assert_eq!(
        names(&health, "/pipeline/late_sources", "source"),
        ["contact_centre"]
    );
}

#[tokio::test]
async fn internal_errors_say_nothing_of_the_internals() {
    let (dir, state) = common::state().await;
    let path = dir
        .path()
        .join("warehouse/tiles/20260201T080000000Z-new000/tiles.json");
    std::fs::write(&path, b"{ not json").unwrap();
    let (s, _, b) = send(&state, get("/api/v1/tiles", Some(ADMIN))).await;
    assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR);
    let text = String::from_utf8(b.clone()).unwrap();
    assert_eq!(code(&b), "internal");
    assert!(
        !text.contains("tiles.json") && !text.contains("warehouse"),
        "{text}"
    );
}

#[tokio::test]
async fn a_tile_fed_by_a_late_source_says_so() {
    let (_dir, state) = common::state().await;
    let status = Arc::new(PipelineStatus {
        runs: Vec::new(),
        late_sources: vec![
            LateSource {
                source: "contact_centre".into(),
                last_loaded_at: Some("2026-01-10T06:00:00Z".parse().unwrap()),
                expected_every_hours: 24.0,
                overdue_hours: Some(500.0),
            },
            LateSource {
                source: "somewhere_else".into(),
                last_loaded_at: None,
                expected_every_hours: 24.0,
                overdue_hours: None,
            },
        ],
        ..PipelineStatus::default()
    });
    let state = state.with_pipeline_status(Arc::new(move || status.clone()));
    let (s, _, b) = send(&state, get("/api/v1/tiles", Some(ADMIN))).await;
    assert_eq!(s, StatusCode::OK);
    let v = json(&b);
    let mut fed = 0;
    for tile in v["tiles"].as_array().unwrap() {
        let late: Vec<&Value> = tile["notices"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n["code"] == "late")
            .collect();
        let sources = {
            let (_, _, one) = send(
                &state,
                get(
                    &format!("/api/v1/tiles/{}", tile["id"].as_str().unwrap()),
                    Some(ADMIN),
                ),
            )
            .await;
            json(&one)["tile"]["sources"].clone()
        };
        let from_contact_centre = sources
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["source"] == "contact_centre");
        if from_contact_centre {
            fed += 1;
            assert_eq!(late.len(), 1, "{}", tile["id"]);
            assert_eq!(late[0]["source"], "contact_centre");
            assert_eq!(late[0]["expected_every_hours"], 24.0);
        } else {
            assert!(late.is_empty(), "{}", tile["id"]);
        }
    }
    assert!(fed > 0, "some tile is fed by the late source");
}

/// The samples of an OpenMetrics text exposition, by series (`name{labels}`), after checking
/// that every line is a comment, `# EOF` or a sample of a declared family.
fn parse_exposition(text: &str) -> std::collections::BTreeMap<String, f64> {
    let mut types = std::collections::BTreeMap::new();
    let mut samples = std::collections::BTreeMap::new();
    let valid_name = |n: &str| {
        !n.is_empty()
            && n.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
            && !n.starts_with(|c: char| c.is_ascii_digit())
    };
    assert!(text.ends_with("# EOF\n"), "ends with # EOF");
    for line in text.lines() {
        if line == "# EOF" {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert!(valid_name(name), "{line}");
            assert!(
                ["counter", "gauge", "histogram", "unknown"].contains(&kind),
                "{line}"
            );
            types.insert(name.to_string(), kind.to_string());
            continue;
        }
        if let Some(rest) = line.strip_prefix("# HELP ") {
            assert!(rest.contains(' '), "{line}");
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap();
        let name = series.split('{').next().unwrap();
        assert!(valid_name(name), "{line}");
        let family = types
            .keys()
            .find(|f| {
                name == f.as_str()
                    || ["_total", "_bucket", "_sum", "_count", "_created"]
                        .iter()
                        .any(|s| name == format!("{f}{s}"))
            })
            .unwrap_or_else(|| panic!("{line}: no # TYPE for it"));
        if let Some(labels) = series.strip_prefix(name)
            && !labels.is_empty()
        {
            assert!(labels.starts_with('{') && labels.ends_with('}'), "{line}");
            for pair in labels[1..labels.len() - 1].split("\",") {
                let (k, v) = pair.split_once('=').unwrap();
                assert!(valid_name(k) && v.starts_with('"'), "{line}");
            }
        }
        let v: f64 = value.parse().unwrap_or_else(|_| panic!("{line}: value"));
        assert!(!family.is_empty());
        samples.insert(series.to_string(), v);
    }
    samples
}

#[tokio::test]
async fn metrics_are_scraped_in_the_exposition_format() {
    let (_dir, state) = common::state().await;
    let run = |job: &str, outcome: RunOutcome| run_record(job, outcome, 2.5);
    let status = Arc::new(PipelineStatus {
        runs: vec![run("load_contacts", RunOutcome::Failed)],
        late_sources: vec![LateSource {
            source: "contact_centre".into(),
            last_loaded_at: None,
            expected_every_hours: 24.0,
            overdue_hours: Some(7.5),
        }],
        run_totals: [
            (("load_contacts".to_string(), RunOutcome::Succeeded), 41),
            (("load_contacts".to_string(), RunOutcome::Failed), 2),
        ]
        .into(),
        ..PipelineStatus::default()
    });
    let state = state.with_pipeline_status(Arc::new(move || status.clone()));
    // Without a separate metrics address, /metrics needs sign-in like the API.
    let (s, _, _) = send(&state, get("/metrics", None)).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _, b) = send(&state, get("/api/v1/tiles", Some(ADMIN))).await;
    assert_eq!(s, StatusCode::OK);
    let tiles = json(&b);
    send(&state, get("/api/v1/tiles/nope", Some(ADMIN))).await;

    let (s, h, b) = send(&state, get("/metrics", Some(ADMIN))).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        h[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    let m = parse_exposition(&String::from_utf8(b).unwrap());
    let at = |series: &str| {
        *m.get(series)
            .unwrap_or_else(|| panic!("no {series} in {:#?}", m.keys().collect::<Vec<_>>()))
    };
    for (series, expected) in [
        (
            r#"http_requests_total{route="/api/v1/tiles",method="GET",status="200"}"#,
            1.0,
        ),
        (
            r#"http_requests_total{route="/api/v1/tiles/{id}",method="GET",status="404"}"#,
            1.0,
        ),
        (
            r#"http_request_duration_seconds_count{route="/api/v1/tiles"}"#,
            1.0,
        ),
        (
            r#"tilannekuva_job_runs_total{job="load_contacts",outcome="succeeded"}"#,
            41.0,
        ),
        (
            r#"tilannekuva_job_runs_total{job="load_contacts",outcome="failed"}"#,
            2.0,
        ),
        (
            r#"tilannekuva_job_last_run_duration_seconds{job="load_contacts"}"#,
            2.5,
        ),
        (
            r#"tilannekuva_source_rows_loaded_total{source="contact_centre"}"#,
            4269.0,
        ),
        (
            r#"tilannekuva_source_rows_quarantined_total{source="contact_centre"}"#,
            3.0,
        ),
        (r#"tilannekuva_source_late{source="contact_centre"}"#, 1.0),
        (
            r#"tilannekuva_source_overdue_hours{source="contact_centre"}"#,
            7.5,
        ),
    ] {
        assert_eq!(at(series), expected, "{series}");
    }
    assert!(
        (at(r#"tilannekuva_source_last_load_reject_ratio{source="contact_centre"}"#)
            - 3.0 / 4272.0)
            .abs()
            < 1e-12
    );
    assert!(at("tilannekuva_snapshot_age_seconds") > 0.0);
    // Tiles by status agree with what the API shows at each tile's first grain.
    let tile_count: f64 = m
        .iter()
        .filter(|(k, _)| k.starts_with("tilannekuva_tiles{"))
        .map(|(_, v)| v)
        .sum();
    assert_eq!(tile_count, tiles["tiles"].as_array().unwrap().len() as f64);
}

#[tokio::test]
async fn a_source_set_aside_for_config_problems_is_noticed_on_the_tiles_it_feeds() {
    let (_dir, state) = common::state().await;
    let broken = |source: &str, table: &str| tilannekuva_scheduler::BrokenSourceStatus {
        source: source.into(),
        file: format!("config/sources/{source}.toml"),
        table: Some(table.into()),
        problems: vec![format!(
            "config/sources/{source}.toml: `load.max_reject_share`: must be between 0 and 1"
        )],
    };
    let status = Arc::new(PipelineStatus {
        broken_sources: vec![broken("ace_new", "contacts"), broken("survey", "feedback")],
        ..PipelineStatus::default()
    });
    let state = state.with_pipeline_status(Arc::new(move || status.clone()));
    let (s, _, b) = send(&state, get("/api/v1/tiles", Some(ADMIN))).await;
    assert_eq!(s, StatusCode::OK);
    let v = json(&b);
    let tiles = v["tiles"].as_array().unwrap();
    assert!(!tiles.is_empty());
    for tile in tiles {
        // Every tile here reads `contacts`; none reads `feedback`.
        let noticed: Vec<&Value> = tile["notices"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n["code"] == "source_config")
            .collect();
        assert_eq!(noticed.len(), 1, "{}: {noticed:?}", tile["id"]);
        assert_eq!(noticed[0]["source"], "ace_new");
    }
    let (_, _, b) = send(&state, get("/api/v1/status", Some(ADMIN))).await;
    let listed = &json(&b)["pipeline"]["broken_sources"];
    assert_eq!(listed[0]["source"], "ace_new", "{listed}");
    assert!(
        listed[1]["problems"][0]
            .as_str()
            .unwrap()
            .contains("`load.max_reject_share`"),
        "{listed}"
    );
}

#[tokio::test]
async fn a_pinned_snapshot_is_listed_and_served_as_its_board_report() {
    let (_dir, wh) = common::warehouse().await;
    let label = "Aluevaltuusto 16.12.2026";
    wh.pin_snapshot("20260115T080000000Z-old000", label)
        .await
        .unwrap();
    let state = AppState::new(wh, common::config());

    let (s, _, b) = send(&state, get("/api/v1/reports", Some(ADMIN))).await;
    assert_eq!(s, StatusCode::OK);
    let v = json(&b);
    let reports = v["reports"].as_array().unwrap();
    assert_eq!(reports.len(), 1, "{v}");
    assert_eq!(reports[0]["label"], label);
    assert_eq!(reports[0]["snapshot"], "20260115T080000000Z-old000");
    let link = reports[0]["links"]["sv"].as_str().unwrap().to_string();
    assert_eq!(
        link,
        "/reports/view?snapshot=Aluevaltuusto+16.12.2026&lang=sv"
    );

    // The page of reports links to it; the desktop's first page links to that.
    let (s, _, b) = send(&state, get("/reports", Some(ADMIN))).await;
    assert_eq!(s, StatusCode::OK);
    let page = String::from_utf8(b).unwrap();
    assert!(page.contains(label) && page.contains("lang=fi"), "{page}");
    let (_, _, b) = send(&state, get("/", Some(ADMIN))).await;
    assert!(String::from_utf8(b).unwrap().contains("href=\"/reports\""));

    // The report: the pinned snapshot's four tiles (not the latest's five), in Swedish,
    // its style linked (the policy refuses inline styles) and served.
    let (s, h, b) = send(&state, get(&link, Some(ADMIN))).await;
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
    assert!(
        h[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = String::from_utf8(b).unwrap();
    assert!(html.contains("<html lang=\"sv\">") && html.contains(label));
    assert!(html.contains("href=\"/assets/report.css\"") && !html.contains("<style>"));
    assert_eq!(html.matches("<tr data-tile=").count(), 4);
    let (s, h, _) = send(&state, get("/assets/report.css", None)).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        h[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );

    // A sector-limited token gets its sector's tiles only.
    let (s, _, b) = send(&state, get(&link, Some(HEALTH))).await;
    assert_eq!(s, StatusCode::OK);
    let limited = String::from_utf8(b).unwrap();
    let rows = limited.matches("<tr data-tile=").count();
    assert_eq!(
        rows, 1,
        "the health sector has one tile in the pinned snapshot"
    );
    assert!(!limited.contains("data-tile=\"response_time\""));

    // Unknown labels, languages and no token.
    let (s, _, b) = send(&state, get("/reports/view?snapshot=nope", Some(ADMIN))).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(
        String::from_utf8_lossy(&b).contains("Aluevaltuusto"),
        "names the pinned ones"
    );
    let (s, _, _) = send(&state, get("/reports/view?snapshot=x&lang=de", Some(ADMIN))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _, _) = send(&state, get("/api/v1/reports", None)).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

fn post_json(uri: &str, token: &str, body: Value) -> Request<Body> {
    Request::post(uri)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

#[tokio::test]
async fn an_owner_writes_check_ins_that_supersede_and_show_as_of_their_time() {
    let (_dir, wh) = common::warehouse().await;
    let config = common::config();
    let state = AppState::new(wh, config);
    let checkin = |text: &str| serde_json::json!({ "tile": "nps", "period": "2025-Q4", "rating": "attention", "text": text });

    // Reading tokens may not write; an owner writes only for its sectors' tiles.
    let (s, _, b) = send(&state, post_json("/api/v1/checkins", ADMIN, checkin("x"))).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(code(&b), "no_write_scope");
    let (s, _, b) = send(&state, post_json("/api/v1/checkins", HEALTH, checkin("x"))).await;
    assert_eq!(
        (s, code(&b)),
        (StatusCode::FORBIDDEN, "no_write_scope".into())
    );
    let other = serde_json::json!({ "tile": "response_time", "period": "2025-Q4", "rating": "progressing", "text": "x" });
    let (s, _, b) = send(&state, post_json("/api/v1/checkins", OWNER, other)).await;
    assert_eq!(
        (s, code(&b)),
        (StatusCode::FORBIDDEN, "forbidden_sector".into())
    );
    // Bad requests say what is wrong.
    let bad_period = serde_json::json!({ "tile": "nps", "period": "2031-Q1", "rating": "attention", "text": "x" });
    let (s, _, b) = send(&state, post_json("/api/v1/checkins", OWNER, bad_period)).await;
    assert_eq!(
        (s, code(&b)),
        (StatusCode::BAD_REQUEST, "unknown_period".into())
    );
    let bad_rating =
        serde_json::json!({ "tile": "nps", "period": "2025-Q4", "rating": "great", "text": "x" });
    let (s, _, b) = send(&state, post_json("/api/v1/checkins", OWNER, bad_rating)).await;
    assert_eq!(
        (s, code(&b)),
        (StatusCode::BAD_REQUEST, "bad_check_in".into())
    );
    let (s, _, b) = send(&state, post_json("/api/v1/checkins", OWNER, checkin("   "))).await;
    assert_eq!(
        (s, code(&b)),
        (StatusCode::BAD_REQUEST, "bad_check_in".into())
    );
    let (s, _, _) = send(
        &state,
        Request::post("/api/v1/checkins")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(checkin("x").to_string()))
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);

    // The owner writes, then writes again: the second supersedes the first, both kept.
    let (s, _, b) = send(
        &state,
        post_json(
            "/api/v1/checkins",
            OWNER,
            checkin("Vastaajia oli vähän; selvitämme syyn."),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{}", String::from_utf8_lossy(&b));
    let first = json(&b);
    assert_eq!(first["author"], "terveysjohtaja");
    assert_eq!(first["sector"], "terveys");
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let between = chrono::Utc::now();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let (s, _, b) = send(
        &state,
        post_json(
            "/api/v1/checkins",
            OWNER,
            checkin("Syy löytyi: kysely lähti vain tekstiviestinä."),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(json(&b)["supersedes"], first["id"]);

    let (_, _, b) = send(&state, get("/api/v1/tiles/nps?grain=quarter", Some(OWNER))).await;
    let v = json(&b);
    let c = &v["checkins"];
    assert_eq!(c["may_write"], true);
    assert_eq!(c["in_force"].as_array().unwrap().len(), 1);
    assert_eq!(
        c["in_force"][0]["text"],
        "Syy löytyi: kysely lähti vain tekstiviestinä."
    );
    assert_eq!(c["history"].as_array().unwrap().len(), 2);
    // A reader sees the words but may not write.
    let (_, _, b) = send(&state, get("/api/v1/tiles/nps?grain=quarter", Some(HEALTH))).await;
    assert_eq!(json(&b)["checkins"]["may_write"], false);
    // As of a moment between the two, the first words.
    let (_, _, b) = send(
        &state,
        get(
            &format!(
                "/api/v1/tiles/nps?grain=quarter&as_of={}",
                between.to_rfc3339().replace('+', "%2B")
            ),
            Some(HEALTH),
        ),
    )
    .await;
    let then = json(&b);
    assert_eq!(
        then["checkins"]["in_force"][0]["text"],
        "Vastaajia oli vähän; selvitämme syyn."
    );
    assert_eq!(then["checkins"]["history"].as_array().unwrap().len(), 1);
    // The overview shows an excerpt of the one in force.
    let (_, _, b) = send(&state, get("/api/v1/tiles?grain=quarter", Some(ADMIN))).await;
    let list = json(&b);
    let nps = list["tiles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == "nps")
        .unwrap();
    assert_eq!(
        nps["checkin"]["excerpt"],
        "Syy löytyi: kysely lähti vain tekstiviestinä."
    );
    assert_eq!(nps["checkin"]["period"], "2025-Q4");
    // Stored in the warehouse: a new process reading it sees both versions.
    let m = state.warehouse().manifest().await.unwrap();
    assert_eq!(m.checkins.len(), 2);

    // The board report of a pinned snapshot carries the words in force when it was pinned,
    // and keeps them when the owner writes again.
    state
        .warehouse()
        .pin_snapshot("20260201T080000000Z-new000", "Hallitus 1.3.2026")
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let (s, _, _) = send(
        &state,
        post_json("/api/v1/checkins", OWNER, checkin("Kolmas versio.")),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _, b) = send(
        &state,
        get(
            "/reports/view?snapshot=Hallitus+1.3.2026&lang=fi",
            Some(ADMIN),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let report = String::from_utf8(b).unwrap();
    assert!(report.contains("Omistajan arvio"), "{report}");
    assert!(report.contains("Syy löytyi: kysely lähti vain tekstiviestinä."));
    assert!(!report.contains("Kolmas versio."), "written after the pin");
}

fn goal<'a>(list: &'a Value, id: &str) -> Option<&'a Value> {
    list["goals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["id"] == id)
}

#[tokio::test]
async fn the_overview_has_a_band_of_the_binding_goals_with_their_key_results_progress() {
    let (_dir, state) = common::state().await;
    let (s, _, b) = send(&state, get("/api/v1/tiles?grain=quarter", Some(ADMIN))).await;
    assert_eq!(s, StatusCode::OK);
    let v = json(&b);
    let ids: Vec<&str> = v["goals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["SV1", "SV2", "SV3", "SV4", "SV5"]);
    // SV1's progress in 2025-Q4 (the fixture's eighth quarter) is its cell of the progress
    // tile: the share of its key results progressing, with the counts.
    let sv1 = goal(&v, "SV1").unwrap();
    let p = &sv1["progress"];
    let progressing = common::progressing(7, 0);
    assert_eq!(p["period"], "2025-Q4");
    assert_eq!(p["numerator"].as_f64().unwrap(), progressing as f64);
    assert_eq!(p["denominator"].as_f64().unwrap(), 42.0);
    let share = 100.0 * progressing as f64 / 42.0;
    assert!((p["value"].as_f64().unwrap() - share).abs() < 1e-9, "{p}");
    assert_eq!(p["status"], if share > 90.0 { "green" } else { "yellow" });
    assert_eq!(sv1["owner"]["sector"], "pesova");
    assert_eq!(
        sv1["name"]["fi"],
        "Asiakas saa helposti yhteyden sekä ratkaisun ensikontaktissa"
    );
    // Its series covers the quarters of the years it is binding (2025), not 2024's.
    let periods: Vec<&str> = sv1["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["period"].as_str().unwrap())
        .collect();
    assert_eq!(periods, ["2025-Q1", "2025-Q2", "2025-Q3", "2025-Q4"]);
    // The series ends at the period shown.
    let (_, _, b) = send(&state, get("/api/v1/tiles?period=2025-Q2", Some(ADMIN))).await;
    let q2 = json(&b);
    let sv3 = goal(&q2, "SV3").unwrap();
    assert_eq!(sv3["progress"]["period"], "2025-Q2");
    assert_eq!(
        sv3["progress"]["numerator"].as_f64().unwrap(),
        common::progressing(5, 2) as f64
    );
    assert_eq!(sv3["series"].as_array().unwrap().len(), 2);
    // 2024 had no binding goals.
    let (_, _, b) = send(&state, get("/api/v1/tiles?period=2024-Q4", Some(ADMIN))).await;
    assert_eq!(json(&b)["goals"], serde_json::json!([]));
    // A sector's token sees the goals its sector owns (the progress tile is the strategy
    // sector's); a sector filter keeps its sector's goals.
    let (_, _, b) = send(&state, get("/api/v1/tiles", Some(HEALTH))).await;
    let health = json(&b);
    assert!(goal(&health, "SV2").is_some());
    assert!(goal(&health, "SV1").is_none(), "{health}");
    let (_, _, b) = send(&state, get("/api/v1/tiles?sector=konserni", Some(ADMIN))).await;
    let ids: Vec<String> = json(&b)["goals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, ["SV4", "SV5"]);
}

#[tokio::test]
async fn a_goal_has_a_drill_down_and_its_owner_writes_its_check_ins() {
    let (_dir, state) = common::state().await;
    let (s, _, b) = send(&state, get("/api/v1/goals/SV2", Some(OWNER))).await;
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
    let d = json(&b);
    assert_eq!(d["goal"]["owner"]["sector"], "terveys");
    assert_eq!(d["period"], "2025-Q4");
    assert_eq!(d["series"].as_array().unwrap().len(), 4);
    assert_eq!(
        d["progress"]["numerator"].as_f64().unwrap(),
        common::progressing(7, 1) as f64
    );
    // Of its KPIs, those in the snapshot the token may see (`ems_non_conveyance` is not in
    // this one).
    let kpis: Vec<&str> = d["kpis"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["id"].as_str().unwrap())
        .collect();
    assert_eq!(kpis, ["nps"]);
    assert_eq!(d["kpis"][0]["figure"]["value"], 47.5);
    assert_eq!(d["checkins"]["may_write"], true);
    assert_eq!(d["checkins"]["in_force"], serde_json::json!([]));

    let (s, _, b) = send(&state, get("/api/v1/goals/SV1", Some(OWNER))).await;
    assert_eq!(
        (s, code(&b)),
        (StatusCode::FORBIDDEN, "forbidden_sector".into())
    );
    let (s, _, b) = send(&state, get("/api/v1/goals/SV9", Some(ADMIN))).await;
    assert_eq!(
        (s, code(&b)),
        (StatusCode::NOT_FOUND, "unknown_goal".into())
    );

    let on = |goal: &str, period: &str, text: &str| serde_json::json!({ "goal": goal, "period": period, "rating": "attention", "text": text });
    let post = |token: &'static str, body: Value| {
        let state = state.clone();
        async move { send(&state, post_json("/api/v1/checkins", token, body)).await }
    };
    // The owner of another sector's goal, a reader and a mistaken body are refused.
    let (s, _, b) = post(OWNER, on("SV1", "2025-Q4", "x")).await;
    assert_eq!(
        (s, code(&b)),
        (StatusCode::FORBIDDEN, "forbidden_sector".into())
    );
    let (s, _, b) = post(HEALTH, on("SV2", "2025-Q4", "x")).await;
    assert_eq!(
        (s, code(&b)),
        (StatusCode::FORBIDDEN, "no_write_scope".into())
    );
    let (s, _, b) = post(OWNER, on("SV2", "2024-Q4", "x")).await;
    assert_eq!(
        (s, code(&b)),
        (StatusCode::BAD_REQUEST, "unknown_period".into())
    );
    assert!(
        json(&b)["error"]["message"]
            .as_str()
            .unwrap()
            .contains("goal `SV2` (binding 2025–2026) has no period `2024-Q4`"),
        "{}",
        String::from_utf8_lossy(&b)
    );
    let both = serde_json::json!({ "goal": "SV2", "tile": "nps", "period": "2025-Q4", "rating": "attention", "text": "x" });
    let (s, _, b) = post(OWNER, both).await;
    assert_eq!(
        (s, code(&b)),
        (StatusCode::BAD_REQUEST, "bad_check_in".into())
    );
    let (s, _, b) = post(OWNER, on("SV9", "2025-Q4", "x")).await;
    assert_eq!(
        (s, code(&b)),
        (StatusCode::NOT_FOUND, "unknown_goal".into())
    );

    // The owner writes, and writes again: the second supersedes the first, both kept.
    let (s, _, b) = post(
        OWNER,
        on(
            "SV2",
            "2025-Q4",
            "Asiakassuunnitelmia on tehty, mutta CRM viivästyy.",
        ),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{}", String::from_utf8_lossy(&b));
    let first = json(&b);
    assert_eq!(first["subject"], "goal:SV2");
    assert_eq!(first["sector"], "terveys");
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let between = chrono::Utc::now();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let (s, _, b) = post(
        OWNER,
        on(
            "SV2",
            "2025-Q4",
            "CRM otetaan käyttöön helmikuussa; tavoite etenee.",
        ),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(json(&b)["supersedes"], first["id"]);

    let (_, _, b) = send(&state, get("/api/v1/goals/SV2", Some(HEALTH))).await;
    let d = json(&b);
    assert_eq!(d["checkins"]["may_write"], false);
    assert_eq!(
        d["checkins"]["in_force"][0]["text"],
        "CRM otetaan käyttöön helmikuussa; tavoite etenee."
    );
    assert_eq!(d["checkins"]["history"].as_array().unwrap().len(), 2);
    let (_, _, b) = send(&state, get("/api/v1/tiles", Some(ADMIN))).await;
    let list = json(&b);
    let sv2 = goal(&list, "SV2").unwrap();
    assert_eq!(
        sv2["checkin"]["excerpt"],
        "CRM otetaan käyttöön helmikuussa; tavoite etenee."
    );
    assert_eq!(sv2["checkin"]["rating"], "attention");
    assert_eq!(goal(&list, "SV1").unwrap()["checkin"], Value::Null);
    // As of a moment between the two, the first words; the tile's own check-ins are apart.
    let at = between.to_rfc3339().replace('+', "%2B");
    let (_, _, b) = send(
        &state,
        get(&format!("/api/v1/goals/SV2?as_of={at}"), Some(ADMIN)),
    )
    .await;
    let then = json(&b);
    assert_eq!(
        then["checkins"]["in_force"][0]["text"],
        "Asiakassuunnitelmia on tehty, mutta CRM viivästyy."
    );
    let (_, _, b) = send(&state, get("/api/v1/tiles/nps", Some(ADMIN))).await;
    assert_eq!(json(&b)["checkins"]["history"], serde_json::json!([]));
}

fn with_headers(uri: &str, token: &str, headers: &[(header::HeaderName, &str)]) -> Request<Body> {
    let mut b = Request::get(uri).header(header::AUTHORIZATION, format!("Bearer {token}"));
    for (k, v) in headers {
        b = b.header(k, *v);
    }
    b.body(Body::empty()).unwrap()
}

#[tokio::test]
async fn views_are_served_from_memory_gzipped_on_request_and_renewed_by_a_commit() {
    let (dir, state) = common::state().await;
    let (s, h, plain) = send(&state, get("/api/v1/tiles", Some(ADMIN))).await;
    assert_eq!(s, StatusCode::OK);
    assert!(h.get(header::CONTENT_ENCODING).is_none());
    let etag = h[header::ETAG].to_str().unwrap().to_string();
    // Asked again: the same bytes and validator.
    let (_, h, again) = send(&state, get("/api/v1/tiles", Some(ADMIN))).await;
    assert_eq!(again, plain);
    assert_eq!(h[header::ETAG].to_str().unwrap(), etag);
    // Compressed for a client that takes gzip: the same document, a validator of its own.
    let gz = [(header::ACCEPT_ENCODING, "gzip, br")];
    let (s, h, packed) = send(&state, with_headers("/api/v1/tiles", ADMIN, &gz)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(h[header::CONTENT_ENCODING], "gzip");
    assert!(
        h[header::VARY]
            .to_str()
            .unwrap()
            .contains("Accept-Encoding")
    );
    assert!(
        packed.len() * 3 < plain.len(),
        "{} of {}",
        packed.len(),
        plain.len()
    );
    let mut unpacked = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(&packed[..]),
        &mut unpacked,
    )
    .unwrap();
    assert_eq!(unpacked, plain);
    let gz_etag = h[header::ETAG].to_str().unwrap().to_string();
    assert_ne!(gz_etag, etag);
    let (s, _, b) = send(
        &state,
        with_headers(
            "/api/v1/tiles",
            ADMIN,
            &[gz[0].clone(), (header::IF_NONE_MATCH, gz_etag.as_str())],
        ),
    )
    .await;
    assert_eq!((s, b.len()), (StatusCode::NOT_MODIFIED, 0));
    // A sector's token has its own answer.
    let (_, _, health) = send(&state, get("/api/v1/tiles", Some(HEALTH))).await;
    assert_ne!(health, plain);
    assert!(!String::from_utf8_lossy(&health).contains("\"response_time\""));

    // Another process commits a check-in: within the log's poll interval the view is built
    // again, with the words, and the old validator no longer answers 304.
    let other = tilannekuva_warehouse::Warehouse::open_local(dir.path().join("warehouse")).unwrap();
    other
        .write_checkin(tilannekuva_warehouse::NewCheckIn {
            subject: "nps".into(),
            period: "2025-Q4".into(),
            sector: "terveys".into(),
            rating: tilannekuva_warehouse::CheckInRating::Attention,
            text: "Kirjoitettu toisesta prosessista.".into(),
            author: "terveysjohtaja".into(),
        })
        .await
        .unwrap();
    tokio::time::sleep(tilannekuva_desktop::LOG_POLL + std::time::Duration::from_millis(200)).await;
    let (s, h, b) = send(
        &state,
        with_headers(
            "/api/v1/tiles",
            ADMIN,
            &[(header::IF_NONE_MATCH, etag.as_str())],
        ),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "a 304 would hide the new words");
    assert_ne!(h[header::ETAG].to_str().unwrap(), etag);
    assert!(String::from_utf8_lossy(&b).contains("Kirjoitettu toisesta prosessista."));
}
