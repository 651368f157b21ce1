//! `/metrics`: Prometheus metrics in the OpenMetrics text format.
//!
//! HTTP requests are counted as they are answered; everything else is read at scrape time
//! from what the pipeline already records, so the numbers survive restarts and agree with
//! `tilannekuva runs`: the load ledger (rows loaded and quarantined per source, the last
//! load's reject share), the scheduler's run history (runs by job and outcome, the last
//! run's duration), its late sources, and the latest snapshot (its age, tiles by status).
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `http_requests_total` | counter | `route`, `method`, `status` |
//! | `http_request_duration_seconds` | histogram | `route` |
//! | `tilannekuva_job_runs_total` | counter | `job`, `outcome` |
//! | `tilannekuva_job_last_run_duration_seconds` | gauge | `job` |
//! | `tilannekuva_source_rows_loaded_total` | counter | `source` |
//! | `tilannekuva_source_rows_quarantined_total` | counter | `source` |
//! | `tilannekuva_source_last_load_reject_ratio` | gauge | `source` |
//! | `tilannekuva_source_last_load_timestamp_seconds` | gauge | `source` |
//! | `tilannekuva_source_late` | gauge (1 when late) | `source` |
//! | `tilannekuva_source_overdue_hours` | gauge | `source` |
//! | `tilannekuva_snapshot_age_seconds` | gauge | |
//! | `tilannekuva_tiles` | gauge | `status` (of each tile's latest figure) |

use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use tilannekuva_tiles::Grain;
use tilannekuva_warehouse::LoadStatus;

use crate::{ApiError, AppState};

type Labels = Vec<(&'static str, String)>;
type FloatGauge = Gauge<f64, AtomicU64>;

fn request_histogram() -> Histogram {
    // 1 ms .. about 16 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

/// What the server counts as it answers.
#[derive(Debug)]
pub(crate) struct HttpMetrics {
    requests: Family<Labels, Counter>,
    durations: Family<Labels, Histogram, fn() -> Histogram>,
}

impl Default for HttpMetrics {
    fn default() -> Self {
        Self {
            requests: Family::default(),
            durations: Family::new_with_constructor(request_histogram),
        }
    }
}

/// Middleware: counts every answer by route template (`/api/v1/tiles/{id}`, not the id),
/// method and status, and times it.
pub(crate) async fn count_requests(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let method = req.method().as_str().to_string();
    let started = Instant::now();
    let response = next.run(req).await;
    let http = state.http_metrics();
    http.requests
        .get_or_create(&vec![
            ("route", route.clone()),
            ("method", method),
            ("status", response.status().as_u16().to_string()),
        ])
        .inc();
    http.durations
        .get_or_create(&vec![("route", route)])
        .observe(started.elapsed().as_secs_f64());
    response
}

fn gauge(value: f64) -> FloatGauge {
    let g = FloatGauge::default();
    g.set(value);
    g
}

fn counter(value: u64) -> Counter {
    let c = Counter::default();
    c.inc_by(value);
    c
}

/// `GET /metrics`
pub(crate) async fn metrics(State(state): State<AppState>) -> Result<Response, ApiError> {
    let manifest = state
        .manifest()
        .await
        .map_err(|e| ApiError::internal("reading the manifest", &e))?;
    let mut registry = <Registry>::default();
    let http = state.http_metrics();
    registry.register(
        "http_requests",
        "HTTP requests answered",
        http.requests.clone(),
    );
    registry.register(
        "http_request_duration_seconds",
        "Time to answer an HTTP request",
        http.durations.clone(),
    );

    if let Some(status) = state.pipeline_status() {
        let runs = Family::<Labels, Counter>::default();
        for ((job, outcome), n) in &status.run_totals {
            runs.get_or_create(&vec![
                ("job", job.clone()),
                ("outcome", outcome.as_str().to_string()),
            ])
            .inc_by(*n);
        }
        registry.register("tilannekuva_job_runs", "Recorded runs of each job", runs);
        let last = Family::<Labels, FloatGauge>::default();
        let mut seen = std::collections::BTreeSet::new();
        for r in &status.runs {
            if let Some(started) = r.started_at
                && seen.insert(r.job.clone())
            {
                let secs = (r.finished_at - started).num_milliseconds() as f64 / 1000.0;
                last.get_or_create(&vec![("job", r.job.clone())]).set(secs);
            }
        }
        registry.register(
            "tilannekuva_job_last_run_duration_seconds",
            "How long each job's latest run took",
            last,
        );
        let late = Family::<Labels, FloatGauge>::default();
        let overdue = Family::<Labels, FloatGauge>::default();
        for l in &status.late_sources {
            late.get_or_create(&vec![("source", l.source.clone())])
                .set(1.0);
            if let Some(h) = l.overdue_hours {
                overdue
                    .get_or_create(&vec![("source", l.source.clone())])
                    .set(h);
            }
        }
        registry.register(
            "tilannekuva_source_late",
            "1 for each source not delivered within its expected interval",
            late,
        );
        registry.register(
            "tilannekuva_source_overdue_hours",
            "Hours a late source is past its expected interval",
            overdue,
        );
    }

    let loaded = Family::<Labels, Counter>::default();
    let quarantined = Family::<Labels, Counter>::default();
    let reject_ratio = Family::<Labels, FloatGauge>::default();
    let last_load = Family::<Labels, FloatGauge>::default();
    let mut latest: BTreeMap<&str, &tilannekuva_warehouse::LoadRecord> = BTreeMap::new();
    for l in &manifest.loads {
        let labels = vec![("source", l.source.clone())];
        loaded.get_or_create(&labels).inc_by(l.rows);
        quarantined.get_or_create(&labels).inc_by(l.rejects);
        if latest
            .get(l.source.as_str())
            .is_none_or(|x| x.loaded_at < l.loaded_at)
        {
            latest.insert(&l.source, l);
        }
    }
    for (source, l) in latest {
        let labels = vec![("source", source.to_string())];
        let seen = l.rows + l.rejects;
        if seen > 0 && l.status != LoadStatus::Superseded {
            reject_ratio
                .get_or_create(&labels)
                .set(l.rejects as f64 / seen as f64);
        }
        last_load
            .get_or_create(&labels)
            .set(l.loaded_at.timestamp_millis() as f64 / 1000.0);
    }
    registry.register(
        "tilannekuva_source_rows_loaded",
        "Rows committed to curated tables, per source, over the load ledger",
        loaded,
    );
    registry.register(
        "tilannekuva_source_rows_quarantined",
        "Rows sent to quarantine, per source, over the load ledger",
        quarantined,
    );
    registry.register(
        "tilannekuva_source_last_load_reject_ratio",
        "Share of the latest load's rows that were quarantined",
        reject_ratio,
    );
    registry.register(
        "tilannekuva_source_last_load_timestamp_seconds",
        "When each source last loaded (Unix time)",
        last_load,
    );

    if let Some(snapshot) = manifest.latest_snapshot() {
        let age = (Utc::now() - snapshot.computed_at).num_milliseconds() as f64 / 1000.0;
        registry.register(
            "tilannekuva_snapshot_age_seconds",
            "Time since the latest snapshot was published",
            gauge(age),
        );
        let doc = tilannekuva_tiles::snapshot::read(state.warehouse(), snapshot)
            .await
            .map_err(|e| ApiError::internal("reading a snapshot", &e))?;
        let mut by_status: BTreeMap<&str, u64> = BTreeMap::new();
        for t in &doc.tiles {
            let grain = t.meta.grains.first().copied().unwrap_or(Grain::Quarter);
            if let Some(f) = t.latest(grain) {
                *by_status.entry(f.status.as_str()).or_insert(0) += 1;
            }
        }
        let tiles = Family::<Labels, FloatGauge>::default();
        for (status, n) in by_status {
            tiles
                .get_or_create(&vec![("status", status.to_string())])
                .set(n as f64);
        }
        registry.register(
            "tilannekuva_tiles",
            "Tiles by the status of their latest figure",
            tiles,
        );
        registry.register(
            "tilannekuva_snapshots",
            "Snapshots published",
            counter(manifest.snapshots.len() as u64),
        );
    }

    let mut body = String::new();
    encode(&mut body, &registry).map_err(|e| ApiError::internal("writing metrics", &e))?;
    Ok((
        StatusCode::OK,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(
                    "application/openmetrics-text; version=1.0.0; charset=utf-8",
                ),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        body,
    )
        .into_response())
}
