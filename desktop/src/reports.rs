//! Board reports: the pinned snapshots, each as the printable report `tilannekuva report`
//! writes, rendered from the same snapshot. A caller limited to sectors gets the tiles of
//! its sectors only.

use axum::Extension;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use tilannekuva_tiles::report::{self, Lang, ReportOptions};
use tilannekuva_tiles::{Grain, snapshot};

use crate::{ApiError, AppState, Principal};

/// Where the report's stylesheet is served (the page's policy refuses inline styles).
const STYLESHEET: &str = "/assets/report.css";

/// The pinned snapshots, newest pin first: label, snapshot and a link per language.
fn pinned(manifest: &tilannekuva_warehouse::Manifest) -> Vec<serde_json::Value> {
    let mut pins: Vec<_> = manifest
        .snapshots
        .iter()
        .filter(|s| s.expired_at.is_none())
        .filter_map(|s| s.pin.as_ref().map(|p| (p, s)))
        .collect();
    pins.sort_by_key(|(p, _)| std::cmp::Reverse(p.pinned_at));
    pins.iter()
        .map(|(p, s)| {
            let q = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("snapshot", &p.label)
                .finish();
            json!({
                "label": p.label,
                "pinned_at": p.pinned_at,
                "snapshot": s.id,
                "computed_at": s.computed_at,
                "links": {
                    "fi": format!("/reports/view?{q}&lang=fi"),
                    "sv": format!("/reports/view?{q}&lang=sv"),
                    "en": format!("/reports/view?{q}&lang=en"),
                },
            })
        })
        .collect()
}

/// `GET /api/v1/reports`
pub(crate) async fn list(State(state): State<AppState>) -> Result<Response, ApiError> {
    let manifest = state
        .manifest()
        .await
        .map_err(|e| ApiError::internal("reading the manifest", &e))?;
    Ok(axum::Json(json!({ "reports": pinned(&manifest) })).into_response())
}

/// `GET /reports`: the pinned reports as a page of links.
pub(crate) async fn page(State(state): State<AppState>) -> Result<Response, ApiError> {
    let manifest = state
        .manifest()
        .await
        .map_err(|e| ApiError::internal("reading the manifest", &e))?;
    let mut body = String::from(
        "<!doctype html>\n<html lang=\"fi\"><head><meta charset=\"utf-8\"><title>Raportit – Tilannekuva</title>\
         <link rel=\"stylesheet\" href=\"/assets/report.css\"></head><body><header><h1>Raportit \
         <span lang=\"sv\">/ Rapporter</span> <span lang=\"en\">/ Reports</span></h1>\
         <p><a href=\"/\">Tilannekuva</a></p></header><main><ul class=\"reports\">",
    );
    let pins = pinned(&manifest);
    if pins.is_empty() {
        body.push_str(
            "<li>Ei kiinnitettyjä tilannekuvia (<code>tilannekuva snapshots pin LABEL</code>).</li>",
        );
    }
    for p in &pins {
        let link = |lang: &str, name: &str| {
            format!(
                "<a lang=\"{lang}\" href=\"{}\">{name}</a>",
                report::escape(p["links"][lang].as_str().unwrap_or_default())
            )
        };
        body.push_str(&format!(
            "<li><strong>{}</strong> ({}) {} · {} · {}</li>",
            report::escape(p["label"].as_str().unwrap_or_default()),
            report::escape(p["snapshot"].as_str().unwrap_or_default()),
            link("fi", "suomeksi"),
            link("sv", "på svenska"),
            link("en", "in English"),
        ));
    }
    body.push_str("</ul></main></body></html>\n");
    Ok(Html(body).into_response())
}

/// Query of `GET /reports/view`.
#[derive(Debug, Deserialize)]
pub(crate) struct ViewQuery {
    /// Pinned label or snapshot id.
    snapshot: String,
    #[serde(default)]
    lang: Option<String>,
    #[serde(default)]
    grain: Option<String>,
}

/// `GET /reports/view?snapshot=LABEL&lang=fi&grain=quarter`: one report.
pub(crate) async fn view(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Query(q): Query<ViewQuery>,
) -> Result<Response, ApiError> {
    let lang: Lang = match &q.lang {
        None => Lang::default(),
        Some(l) => l
            .parse()
            .map_err(|e| ApiError::bad_request("bad_lang", e))?,
    };
    let grain: Grain = match &q.grain {
        None => Grain::Quarter,
        Some(g) => g
            .parse()
            .map_err(|e: String| ApiError::bad_request("bad_grain", e))?,
    };
    let manifest = state
        .manifest()
        .await
        .map_err(|e| ApiError::internal("reading the manifest", &e))?;
    let record = match snapshot::pick_pinned(&manifest, &q.snapshot) {
        Ok(r) => r,
        Err(tilannekuva_tiles::Error::NoSnapshot(m)) => {
            return Err(ApiError::not_found("no_snapshot", m));
        }
        Err(e) => return Err(ApiError::internal("choosing a snapshot", &e)),
    };
    let mut doc = snapshot::read(state.warehouse(), record)
        .await
        .map_err(|e| ApiError::internal("reading a snapshot", &e))?;
    doc.tiles.retain(|t| who.may_see(&t.meta.owner.sector));
    let options = ReportOptions {
        lang,
        grain,
        pin: record.pin.as_ref().map(|p| (p.label.clone(), p.pinned_at)),
        checkins: report::checkins_at(&manifest, record),
        stylesheet: Some(STYLESHEET.into()),
    };
    let mut r = Html(report::html(&doc, &options)).into_response();
    // A snapshot never changes; who may see which tiles is in the cache key.
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=3600"),
    );
    r.headers_mut().insert(
        header::VARY,
        HeaderValue::from_static("Authorization, Cookie"),
    );
    Ok(r)
}

/// `GET /assets/report.css`
pub(crate) async fn css() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/css; charset=utf-8"),
        )],
        report::CSS,
    )
        .into_response()
}
