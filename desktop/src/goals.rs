//! The council's binding goals on the desktop: a band of the overview (each goal binding in
//! the year shown, its progress, owner and the owner's latest words) and a drill-down,
//! `GET /api/v1/goals/{id}` (its progress over time, the KPIs measuring it, the owner's
//! check-ins and whether the caller may write one).
//!
//! A goal is seen by a token of its owner's sector, or of the sector of the tile its
//! progress is read from; a sector filter keeps the goals its sector owns.

use axum::Extension;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use chrono::{Datelike, Utc};
use serde_json::{Value, json};
use tilannekuva_tiles::{Goal, GoalFigure, Grain, PeriodFigure, TilesDoc};
use tilannekuva_warehouse::Manifest;

use crate::api::{self, TileQuery};
use crate::{ApiError, AppState, Principal};

/// Whether `who` may see the goal: its owner's sector, or the progress tile's.
pub(crate) fn visible(doc: &TilesDoc, goal: &Goal, who: &Principal) -> bool {
    who.may_see(&goal.owner.sector)
        || doc
            .goal_progress_tile()
            .is_some_and(|t| who.may_see(&t.meta.owner.sector))
}

/// Whether `period` is one the goal can be assessed for: a period of its progress tile or of
/// a KPI measuring it, in a year the goal is binding.
pub(crate) fn has_period(doc: &TilesDoc, goal: &Goal, period: &str) -> bool {
    doc.goal_progress_tile()
        .into_iter()
        .chain(goal.kpis.iter().filter_map(|k| doc.tile(k)))
        .flat_map(|t| Grain::ALL.iter().filter_map(|g| t.series.get(g)))
        .flatten()
        .any(|f| f.period == period && goal.binding_in(f.end.year()))
}

/// The progress figure the query shows: the progress tile's figure of the query's period,
/// or its latest.
fn shown<'a>(doc: &'a TilesDoc, q: &TileQuery) -> Option<&'a PeriodFigure> {
    doc.goal_progress_tile().and_then(|t| api::figure(t, q))
}

/// The year whose goals the query shows: the progress figure's, else the newest figure's of
/// the tiles shown.
fn year_shown(doc: &TilesDoc, q: &TileQuery, who: &Principal) -> Option<i32> {
    if let Some(f) = shown(doc, q) {
        return Some(f.end.year());
    }
    api::selected(doc, q, who)
        .iter()
        .filter_map(|t| api::figure(t, q))
        .map(|f| f.end.year())
        .max()
}

fn point(g: &GoalFigure<'_>) -> Value {
    json!({
        "period": g.figure.period,
        "value": g.cell.value,
        "numerator": g.cell.numerator,
        "denominator": g.cell.denominator,
        "n": g.cell.n,
        "status": g.cell.status,
        "target": g.figure.target,
        "complete": g.figure.complete,
        "in_progress": g.figure.in_progress,
    })
}

/// The tile the goals' progress is read from, as the page formats its figures: id, title,
/// unit, decimals and direction; `null` when the snapshot has none.
pub(crate) fn progress_tile(doc: &TilesDoc) -> Value {
    doc.goal_progress_tile().map_or(Value::Null, |t| {
        json!({
            "id": t.meta.id,
            "title": t.meta.title,
            "unit": t.meta.unit,
            "decimals": t.meta.decimals,
            "direction": t.meta.direction,
        })
    })
}

fn about(goal: &Goal) -> Value {
    json!({
        "id": goal.id,
        "name": goal.name,
        "years": goal.years,
        "owner": goal.owner,
        "kpis": goal.kpis,
    })
}

/// The goals of the overview: those binding in the year shown that `who` may see, each with
/// its progress in the period shown, its series up to it and the owner's latest words.
pub(crate) fn band(doc: &TilesDoc, manifest: &Manifest, q: &TileQuery, who: &Principal) -> Value {
    let Some(year) = year_shown(doc, q, who) else {
        return json!([]);
    };
    let figure = shown(doc, q);
    let grain = api::grain_of(q);
    let at = q.as_of.unwrap_or_else(Utc::now);
    let goals: Vec<Value> = doc
        .strategy
        .goals_of(year)
        .filter(|g| visible(doc, g, who))
        .filter(|g| q.sector.as_ref().is_none_or(|s| &g.owner.sector == s))
        .map(|g| {
            let progress = figure.and_then(|f| doc.goal_figure(g, f));
            let series: Vec<Value> = doc
                .goal_series(g, grain)
                .iter()
                .filter(|p| figure.is_none_or(|f| p.figure.end <= f.end))
                .map(point)
                .collect();
            let mut v = about(g);
            v["progress"] = progress.as_ref().map_or(Value::Null, point);
            v["series"] = json!(series);
            v["checkin"] = crate::checkins::latest(
                manifest,
                &g.subject(),
                figure.map(|f| f.period.as_str()),
                at,
            );
            v
        })
        .collect();
    json!(goals)
}

/// `GET /api/v1/goals/{id}`
pub(crate) async fn goal(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    headers: HeaderMap,
    q: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let q = api::parse_query(q)?;
    let view = format!("goal/{id}");
    crate::answers::json_view(&state, &headers, &who, view, &q, |doc, manifest| {
        let Some(g) = doc.strategy.goal(&id) else {
            return Err(ApiError::not_found(
                "unknown_goal",
                format!("no binding goal `{id}` in snapshot {}", doc.snapshot_id),
            ));
        };
        if !visible(doc, g, &who) {
            return Err(ApiError::forbidden_sector(&g.owner.sector));
        }
        let figure = shown(doc, &q);
        let grain = api::grain_of(&q);
        let kpis: Vec<Value> = g
            .kpis
            .iter()
            .filter_map(|k| doc.tile(k))
            .filter(|t| who.may_see(&t.meta.owner.sector))
            .map(|t| {
                let f = api::figure(t, &q);
                json!({
                    "id": t.meta.id,
                    "title": t.meta.title,
                    "unit": t.meta.unit,
                    "decimals": t.meta.decimals,
                    "figure": f.map(|f| json!({
                        "period": f.period,
                        "value": f.value,
                        "target": f.target,
                        "status": f.status,
                    })),
                })
            })
            .collect();
        let at = q.as_of.unwrap_or_else(Utc::now);
        Ok(json!({
            "snapshot": api::snapshot_json(doc),
            "grain": grain,
            "period": figure.map(|f| f.period.clone()),
            "strategy": doc.strategy,
            "goal": about(g),
            "progress": figure.and_then(|f| doc.goal_figure(g, f)).as_ref().map_or(Value::Null, point),
            "series": doc.goal_series(g, grain).iter().map(point).collect::<Vec<_>>(),
            "progress_tile": progress_tile(doc),
            "kpis": kpis,
            "checkins": crate::checkins::of_subject(
                manifest,
                &g.subject(),
                at,
                who.may_write(&g.owner.sector),
            ),
        }))
    })
    .await
}
