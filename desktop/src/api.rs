//! The JSON, CSV and Parquet API under `/api/v1`.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Extension;
use axum::Json;
use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tilannekuva_tiles::{Grain, PeriodFigure, Tile, TilesDoc, encode, snapshot};
use tilannekuva_warehouse::{LoadStatus, Manifest, QUARANTINE_TABLE};

use crate::{ApiError, AppState, Principal};

const OPENAPI: &str = include_str!("assets/openapi.json");

/// Parsed, checked query parameters of the tile endpoints.
#[derive(Debug, Default, Clone)]
pub(crate) struct TileQuery {
    pub(crate) as_of: Option<DateTime<Utc>>,
    grain: Option<Grain>,
    period: Option<String>,
    pub(crate) sector: Option<String>,
    priority: Option<String>,
    /// Canonical form of the parameters, for the ETag.
    pub(crate) canonical: String,
}

pub(crate) fn parse_query(
    q: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<TileQuery, ApiError> {
    let Query(pairs) =
        q.map_err(|_| ApiError::bad_request("bad_query", "the query string cannot be read"))?;
    let mut out = TileQuery::default();
    let mut seen = BTreeMap::new();
    for (k, v) in pairs {
        if seen.contains_key(&k) {
            return Err(ApiError::bad_request(
                "bad_query",
                format!("parameter `{k}` is given more than once"),
            ));
        }
        let v = v.trim().to_string();
        match k.as_str() {
            "as_of" => {
                let at = tilannekuva_tiles::parse_as_of(&v)
                    .map_err(|e| ApiError::bad_request("bad_as_of", format!("as_of {e}")))?;
                out.as_of = Some(at);
            }
            "grain" => {
                let g = v
                    .parse::<Grain>()
                    .map_err(|e| ApiError::bad_request("bad_grain", e))?;
                out.grain = Some(g);
            }
            "period" => out.period = Some(v.clone()),
            "sector" => out.sector = Some(v.clone()),
            "priority" => out.priority = Some(v.clone()),
            _ => {
                return Err(ApiError::bad_request(
                    "unknown_parameter",
                    format!(
                        "unknown parameter `{k}`; the parameters are as_of, grain, period, sector, priority"
                    ),
                ));
            }
        }
        seen.insert(k, v);
    }
    if let Some(p) = &out.period {
        let grain = *out.grain.get_or_insert_with(|| Grain::of_label(p));
        if grain.bounds(p).is_none() {
            return Err(ApiError::bad_request(
                "bad_period",
                format!(
                    "period `{p}` is not a {} label like {}",
                    grain.as_str(),
                    grain.example()
                ),
            ));
        }
    }
    out.canonical = seen
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    Ok(out)
}

/// Loads the snapshot in force (latest, or at `as_of`) and the current manifest.
pub(crate) async fn load(
    state: &AppState,
    as_of: Option<DateTime<Utc>>,
) -> Result<(Arc<TilesDoc>, Arc<Manifest>), ApiError> {
    let wh = state.warehouse();
    let manifest = state
        .manifest()
        .await
        .map_err(|e| ApiError::internal("reading the manifest", &e))?;
    let record = match snapshot::pick(&manifest, as_of) {
        Ok(r) => r,
        Err(tilannekuva_tiles::Error::NoSnapshot(message)) => {
            return Err(ApiError::not_found("no_snapshot", message));
        }
        Err(e) => return Err(ApiError::internal("choosing a snapshot", &e)),
    };
    if let Some(doc) = state.cached_doc(&record.id) {
        return Ok((doc, manifest));
    }
    let doc = snapshot::read(wh, record)
        .await
        .map_err(|e| ApiError::internal("reading a snapshot", &e))?;
    let doc = Arc::new(doc);
    state.cache_doc(doc.clone());
    Ok((doc, manifest))
}

/// Checks the sector and priority filters against the snapshot's strategy and the access.
fn check_filters(doc: &TilesDoc, q: &TileQuery, who: &Principal) -> Result<(), ApiError> {
    if let Some(s) = &q.sector {
        if !doc.strategy.sectors.iter().any(|x| &x.id == s) {
            let known: Vec<&str> = doc.strategy.sectors.iter().map(|x| x.id.as_str()).collect();
            return Err(ApiError::bad_request(
                "unknown_sector",
                format!("sector `{s}` is not one of {}", known.join(", ")),
            ));
        }
        if !who.may_see(s) {
            return Err(ApiError::forbidden_sector(s));
        }
    }
    if let Some(p) = &q.priority
        && !doc
            .strategy
            .periods
            .iter()
            .any(|sp| sp.priorities.iter().any(|x| &x.id == p))
    {
        return Err(ApiError::bad_request(
            "unknown_priority",
            format!("priority `{p}` is not a priority of any strategy period"),
        ));
    }
    Ok(())
}

pub(crate) fn selected<'a>(doc: &'a TilesDoc, q: &TileQuery, who: &Principal) -> Vec<&'a Tile> {
    doc.tiles
        .iter()
        .filter(|t| who.may_see(&t.meta.owner.sector))
        .filter(|t| q.sector.as_ref().is_none_or(|s| &t.meta.owner.sector == s))
        .filter(|t| {
            q.priority
                .as_ref()
                .is_none_or(|p| t.meta.strategy.priority.values().any(|x| x == p))
        })
        .collect()
}

pub(crate) fn grain_of(q: &TileQuery) -> Grain {
    q.grain.unwrap_or(Grain::Quarter)
}

pub(crate) fn figure<'a>(t: &'a Tile, q: &TileQuery) -> Option<&'a PeriodFigure> {
    let g = grain_of(q);
    match &q.period {
        Some(p) => t.figure(g, p),
        None => t.latest(g),
    }
}

/// Why a figure should be read with care, as codes the page translates.
fn notices(state: &AppState, doc: &TilesDoc, t: &Tile, f: Option<&PeriodFigure>) -> Vec<Value> {
    let mut out = Vec::new();
    let Some(f) = f else {
        out.push(json!({ "code": "no_data" }));
        return out;
    };
    // A suppressed figure publishes no n (older snapshots did, below the minimum).
    let suppressed = f.value.is_none() && f.n.is_none_or(|n| n < t.meta.min_n);
    if suppressed {
        out.push(json!({ "code": "suppressed", "min_n": t.meta.min_n }));
    } else if f.value.is_none() {
        out.push(json!({ "code": "no_data" }));
    }
    if f.in_progress {
        out.push(json!({ "code": "in_progress", "data_through": f.data_through }));
    }
    if !f.missing.is_empty() || (!f.complete && !f.in_progress) {
        out.push(json!({ "code": "incomplete", "missing": f.missing }));
    }
    // Sources of this tile the scheduler reports late (not delivered within their
    // expected interval), as the scheduler reports them now.
    if let Some(status) = state.pipeline_status() {
        let fed_by: std::collections::BTreeSet<&str> =
            t.sources.iter().map(|s| s.source.as_str()).collect();
        for late in status
            .late_sources
            .iter()
            .filter(|l| fed_by.contains(l.source.as_str()))
        {
            out.push(json!({
                "code": "late",
                "source": late.source,
                "last_loaded_at": late.last_loaded_at,
                "expected_every_hours": late.expected_every_hours,
            }));
        }
        // Sources set aside for config problems that feed this tile, or fill a table it
        // reads: their new exports are not being loaded.
        for broken in status.broken_sources.iter().filter(|b| {
            fed_by.contains(b.source.as_str())
                || b.table
                    .as_ref()
                    .is_some_and(|table| t.meta.inputs.contains(table))
        }) {
            out.push(json!({ "code": "source_config", "source": broken.source }));
        }
    }
    let through = f.data_through.or(t.data_through);
    let is_latest = t
        .series
        .values()
        .filter_map(|s| s.last())
        .any(|l| l.period == f.period && l.end == f.end);
    if is_latest && let Some(through) = through {
        let days = (doc.computed_at - through).num_days();
        if days > state.config().stale_after_days {
            out.push(json!({ "code": "stale", "days": days, "data_through": through }));
        }
    }
    out
}

pub(crate) fn snapshot_json(doc: &TilesDoc) -> Value {
    json!({
        "id": doc.snapshot_id,
        "computed_at": doc.computed_at,
        "data_version": doc.data_version,
    })
}

/// One point of a tile's series: what the sparkline and the series table show.
fn series_point(f: &PeriodFigure) -> Value {
    json!({ "period": f.period, "value": f.value, "status": f.status, "complete": f.complete })
}

fn tile_summary(
    state: &AppState,
    doc: &TilesDoc,
    manifest: &Manifest,
    t: &Tile,
    q: &TileQuery,
) -> Value {
    let f = figure(t, q);
    let g = grain_of(q);
    let series: Vec<Value> = t
        .series
        .get(&g)
        .map(|s| {
            s.iter()
                .filter(|x| f.is_none_or(|f| x.end <= f.end))
                .map(series_point)
                .collect()
        })
        .unwrap_or_default();
    let mut figure = f.map(|f| serde_json::to_value(f).unwrap_or(Value::Null));
    if let Some(Value::Object(m)) = figure.as_mut() {
        m.remove("breakdown");
        m.insert(
            "breakdown_cells".into(),
            json!(f.map(|f| f.breakdown.len()).unwrap_or(0)),
        );
    }
    json!({
        "id": t.meta.id,
        "title": t.meta.title,
        "unit": t.meta.unit,
        "decimals": t.meta.decimals,
        "direction": t.meta.direction,
        "owner": t.meta.owner,
        "strategy": t.meta.strategy,
        "point_in_time": t.meta.point_in_time,
        "grains": t.meta.grains,
        "definition_version": t.definition_version,
        "data_through": t.data_through,
        "figure": figure,
        "series": series,
        "notices": notices(state, doc, t, f),
        "checkin": crate::checkins::latest(
            manifest,
            &t.meta.id,
            f.map(|f| f.period.as_str()),
            q.as_of.unwrap_or_else(Utc::now),
        ),
    })
}

fn periods_of(tiles: &[&Tile], g: Grain) -> Vec<String> {
    let mut p: Vec<String> = tiles
        .iter()
        .filter_map(|t| t.series.get(&g))
        .flatten()
        .map(|f| f.period.clone())
        .collect();
    p.sort();
    p.dedup();
    p.reverse();
    p
}

pub(crate) fn http_date(t: DateTime<Utc>) -> String {
    t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

/// ETag and Last-Modified for a download of a snapshot's rows; `Some(304)` when the client
/// has it. The same snapshot, query and access give the same bytes, so the ETag is known
/// before they are made and `If-Modified-Since` holds too. (The JSON views, which also tell
/// what changes between snapshots, are validated by their content: see `answers`.)
fn conditional(
    headers: &HeaderMap,
    doc: &TilesDoc,
    view: &str,
    q: &TileQuery,
    who: &Principal,
) -> (HeaderMap, Option<Response>) {
    let mut h = Sha256::new();
    for part in [doc.snapshot_id.as_str(), view, &q.canonical, &who.scope()] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    let etag = format!("\"{}\"", &hex::encode(h.finalize())[..24]);
    let out = crate::answers::validators(
        &etag,
        HeaderValue::from_str(&http_date(doc.computed_at)).ok(),
        "Authorization, Cookie",
    );
    let not_modified = crate::answers::if_none_match(headers, &etag).unwrap_or_else(|| {
        headers
            .get(header::IF_MODIFIED_SINCE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| DateTime::parse_from_rfc2822(v).ok())
            .is_some_and(|ims| doc.computed_at.timestamp() <= ims.timestamp())
    });
    let resp = not_modified.then(|| (StatusCode::NOT_MODIFIED, out.clone()).into_response());
    (out, resp)
}

/// `GET /api/v1/tiles`
pub(crate) async fn tiles(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    headers: HeaderMap,
    q: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let q = parse_query(q)?;
    crate::answers::json_view(
        &state,
        &headers,
        &who,
        "tiles".into(),
        &q,
        |doc, manifest| {
            check_filters(doc, &q, &who)?;
            let tiles = selected(doc, &q, &who);
            let g = grain_of(&q);
            Ok(json!({
                "snapshot": snapshot_json(doc),
                "grain": g,
                "period": q.period,
                "periods": periods_of(&tiles, g),
                "strategy": doc.strategy,
                "access": { "name": who.name, "sectors": who.sectors },
                "tiles": tiles
                    .iter()
                    .map(|t| tile_summary(&state, doc, manifest, t, &q))
                    .collect::<Vec<_>>(),
                "goal_progress": crate::goals::progress_tile(doc),
                "goals": crate::goals::band(doc, manifest, &q, &who),
            }))
        },
    )
    .await
}

/// `GET /api/v1/tiles/{id}`
pub(crate) async fn tile(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    headers: HeaderMap,
    q: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let q = parse_query(q)?;
    let view = format!("tile/{id}");
    crate::answers::json_view(&state, &headers, &who, view, &q, |doc, manifest| {
        check_filters(doc, &q, &who)?;
        let Some(t) = doc.tile(&id) else {
            return Err(ApiError::not_found(
                "unknown_tile",
                format!("no tile `{id}` in snapshot {}", doc.snapshot_id),
            ));
        };
        if !who.may_see(&t.meta.owner.sector) {
            return Err(ApiError::forbidden_sector(&t.meta.owner.sector));
        }
        let f = figure(t, &q);
        let names: Vec<&str> = {
            let mut v: Vec<&str> = t.sources.iter().map(|s| s.source.as_str()).collect();
            v.sort();
            v.dedup();
            v
        };
        let ledger: Vec<Value> = names.iter().map(|s| source_status(manifest, s)).collect();
        Ok(json!({
            "snapshot": snapshot_json(doc),
            "grain": grain_of(&q),
            "period": f.map(|f| f.period.clone()),
            "strategy": doc.strategy,
            "tile": t,
            "figure": f,
            "notices": notices(&state, doc, t, f),
            "source_status": ledger,
            "checkins": crate::checkins::of_subject(
                manifest,
                &t.meta.id,
                q.as_of.unwrap_or_else(Utc::now),
                who.may_write(&t.meta.owner.sector),
            ),
        }))
    })
    .await
}

/// The tiles of the query as a document, its series narrowed to the query's grain and period.
fn narrowed(doc: &TilesDoc, q: &TileQuery, who: &Principal) -> TilesDoc {
    let tiles = selected(doc, q, who)
        .into_iter()
        .map(|t| {
            let mut t = t.clone();
            if let Some(g) = q.grain {
                t.series.retain(|k, _| *k == g);
            }
            if let Some(p) = &q.period {
                for s in t.series.values_mut() {
                    s.retain(|f| &f.period == p);
                }
            }
            t
        })
        .collect();
    TilesDoc {
        snapshot_id: doc.snapshot_id.clone(),
        computed_at: doc.computed_at,
        data_version: doc.data_version,
        strategy: doc.strategy.clone(),
        tiles,
    }
}

/// The query's tiles as flat rows (totals and breakdown cells), or the 304 answer when the
/// client has them.
async fn flat_rows(
    state: &AppState,
    who: &Principal,
    headers: &HeaderMap,
    q: Result<Query<Vec<(String, String)>>, QueryRejection>,
    view: &str,
) -> Result<Result<(HeaderMap, arrow::array::RecordBatch, String), Response>, ApiError> {
    let q = parse_query(q)?;
    let (doc, _) = load(state, q.as_of).await?;
    check_filters(&doc, &q, who)?;
    let (h, not_modified) = conditional(headers, &doc, view, &q, who);
    if let Some(r) = not_modified {
        return Ok(Err(r));
    }
    let batch = narrowed(&doc, &q, who)
        .to_batch()
        .map_err(|e| ApiError::internal("flattening tiles", &e))?;
    Ok(Ok((h, batch, doc.snapshot_id.clone())))
}

fn attachment(name: &str) -> HeaderValue {
    HeaderValue::from_str(&format!("attachment; filename=\"{name}\""))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment"))
}

/// `GET /api/v1/tiles.csv`: flat rows, UTF-8 with BOM (Excel reads the letters right).
pub(crate) async fn tiles_csv(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    headers: HeaderMap,
    q: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let (mut h, batch, id) = match flat_rows(&state, &who, &headers, q, "csv").await? {
        Ok(x) => x,
        Err(r) => return Ok(r),
    };
    let mut buf = Vec::new();
    encode::write_csv(&mut buf, &[batch], true)
        .map_err(|e| ApiError::internal("writing CSV", &e))?;
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_DISPOSITION,
        attachment(&format!("tiles-{id}.csv")),
    );
    Ok((h, Body::from(buf)).into_response())
}

/// `GET /api/v1/tiles.parquet`: flat rows as Parquet.
pub(crate) async fn tiles_parquet(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    headers: HeaderMap,
    q: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let (mut h, batch, id) = match flat_rows(&state, &who, &headers, q, "parquet").await? {
        Ok(x) => x,
        Err(r) => return Ok(r),
    };
    let buf = encode::parquet_bytes(batch.schema(), &[batch])
        .map_err(|e| ApiError::internal("writing Parquet", &e))?;
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/vnd.apache.parquet"),
    );
    h.insert(
        header::CONTENT_DISPOSITION,
        attachment(&format!("tiles-{id}.parquet")),
    );
    Ok((h, Body::from(buf)).into_response())
}

fn source_status(m: &Manifest, source: &str) -> Value {
    let loads: Vec<_> = m.loads.iter().filter(|l| l.source == source).collect();
    let last = loads.iter().max_by_key(|l| l.loaded_at);
    let data_through = m
        .tables
        .iter()
        .filter(|(name, _)| name.as_str() != QUARANTINE_TABLE)
        .flat_map(|(_, t)| t.files.iter())
        .filter(|f| f.source == source)
        .filter_map(|f| f.max_time)
        .max();
    json!({
        "source": source,
        "loads": loads.len(),
        "live_loads": loads.iter().filter(|l| l.status == LoadStatus::Loaded).count(),
        "last_loaded_at": last.map(|l| l.loaded_at),
        "file": last.map(|l| l.original_name.clone()),
        "rows": last.map(|l| l.rows),
        "rejects": last.map(|l| l.rejects),
        "data_through": data_through,
    })
}

/// `GET /api/v1/status`: the load ledger's view of each source, the snapshots and the
/// scheduler's runs. A caller limited to sectors sees only the sources feeding the tiles it
/// may see (in the latest snapshot), their late-source entries and the runs of their jobs.
pub(crate) async fn status(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
) -> Result<Response, ApiError> {
    let m = state
        .manifest()
        .await
        .map_err(|e| ApiError::internal("reading the manifest", &e))?;
    let visible: Option<std::collections::BTreeSet<String>> = match who.sectors {
        None => None,
        Some(_) => Some(match snapshot::pick(&m, None) {
            Ok(_) => {
                let (doc, _) = load(&state, None).await?;
                doc.tiles
                    .iter()
                    .filter(|t| who.may_see(&t.meta.owner.sector))
                    .flat_map(|t| t.sources.iter().map(|s| s.source.clone()))
                    .collect()
            }
            Err(_) => Default::default(),
        }),
    };
    let may_see = |source: &str| visible.as_ref().is_none_or(|v| v.contains(source));
    let mut names: Vec<&str> = m
        .loads
        .iter()
        .map(|l| l.source.as_str())
        .filter(|s| may_see(s))
        .collect();
    names.sort();
    names.dedup();
    let mut snapshots: Vec<_> = m.snapshots.iter().collect();
    snapshots.sort_by_key(|s| std::cmp::Reverse(s.computed_at));
    let pipeline = state.pipeline_status().map(|p| match &visible {
        None => (*p).clone(),
        Some(_) => p.visible(may_see),
    });
    let body = json!({
        "manifest": { "version": m.version, "committed_at": m.committed_at },
        "sources": names.iter().map(|s| source_status(&m, s)).collect::<Vec<_>>(),
        "snapshots": snapshots.iter().map(|s| json!({
            "id": s.id, "computed_at": s.computed_at, "data_version": s.data_version, "rows": s.rows,
        })).collect::<Vec<_>>(),
        "pipeline": pipeline,
    });
    Ok((
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        Json(body),
    )
        .into_response())
}

/// `GET /api/v1/openapi.json`
pub(crate) async fn openapi() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        OPENAPI,
    )
        .into_response()
}

/// `GET /healthz`
pub(crate) async fn healthz() -> Response {
    (
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        Json(json!({ "status": "ok" })),
    )
        .into_response()
}

/// `GET /readyz`: the warehouse is readable and a snapshot exists.
pub(crate) async fn readyz(State(state): State<AppState>) -> Result<Response, ApiError> {
    let m = state.manifest().await.map_err(|e| {
        tracing::warn!(error = %e, "readiness: manifest unreadable");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            "the warehouse cannot be read",
        )
    })?;
    let Some(s) = m.latest_snapshot() else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            "no tiles have been published yet",
        ));
    };
    Ok((
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        Json(json!({ "status": "ready", "snapshot": s.id, "manifest_version": m.version })),
    )
        .into_response())
}

/// Unknown routes.
pub(crate) async fn not_found() -> ApiError {
    ApiError::not_found("not_found", "no such route")
}
