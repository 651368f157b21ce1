//! Owners' check-ins through the API: `POST /api/v1/checkins` writes one (a token with the
//! `write` scope, on a tile or a binding goal of its sectors), and the tile and goal views
//! show them as they were at the view's time. Stored in the warehouse state by its atomic
//! commits, never overwritten.

use axum::Extension;
use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use tilannekuva_tiles::report::excerpt;
use tilannekuva_tiles::{Grain, Tile};
use tilannekuva_warehouse::{CheckIn, CheckInRating, Manifest, NewCheckIn};

use crate::{ApiError, AppState, Principal};

/// Characters of an assessment shown on a tile of the overview.
const EXCERPT: usize = 140;

/// The body of `POST /api/v1/checkins`: about a tile or a goal, not both.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CheckInBody {
    /// The tile's id.
    #[serde(default)]
    tile: Option<String>,
    /// The binding goal's id (`SV1`).
    #[serde(default)]
    goal: Option<String>,
    /// The period assessed, one of the tile's or, for a goal, one of a year it is binding
    /// (`2025-Q2`).
    period: String,
    /// `progressing`, `attention` or `not_progressing`.
    rating: CheckInRating,
    /// The assessment.
    text: String,
}

/// `POST /api/v1/checkins`
pub(crate) async fn write(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    body: Result<Json<CheckInBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = body.map_err(|e| ApiError::bad_request("bad_check_in", e.body_text()))?;
    let (doc, _) = crate::api::load(&state, None).await?;
    let (subject, named, sector, has_period) = match (&body.tile, &body.goal) {
        (Some(id), None) => {
            let Some(tile) = doc.tile(id) else {
                return Err(ApiError::not_found(
                    "unknown_tile",
                    format!("no tile `{id}` in snapshot {}", doc.snapshot_id),
                ));
            };
            let sector = tile.meta.owner.sector.clone();
            if !who.may_see(&sector) {
                return Err(ApiError::forbidden_sector(&sector));
            }
            let named = format!("tile `{id}`");
            (id.clone(), named, sector, has_period(tile, &body.period))
        }
        (None, Some(id)) => {
            let Some(goal) = doc.strategy.goal(id) else {
                return Err(ApiError::not_found(
                    "unknown_goal",
                    format!("no binding goal `{id}` in snapshot {}", doc.snapshot_id),
                ));
            };
            if !crate::goals::visible(&doc, goal, &who) {
                return Err(ApiError::forbidden_sector(&goal.owner.sector));
            }
            let [from, to] = goal.years;
            (
                goal.subject(),
                format!("goal `{id}` (binding {from}–{to})"),
                goal.owner.sector.clone(),
                crate::goals::has_period(&doc, goal, &body.period),
            )
        }
        _ => {
            return Err(ApiError::bad_request(
                "bad_check_in",
                "a check-in names either `tile` or `goal`",
            ));
        }
    };
    if !who.may_write(&sector) {
        return Err(if who.write {
            ApiError::forbidden_sector(&sector)
        } else {
            ApiError::new(
                StatusCode::FORBIDDEN,
                "no_write_scope",
                format!(
                    "the token `{}` may read but not write check-ins: its entry needs \
                     `scopes = [\"read\", \"write\"]`",
                    who.name
                ),
            )
        });
    }
    if !has_period {
        return Err(ApiError::bad_request(
            "unknown_period",
            format!("{named} has no period `{}`", body.period),
        ));
    }
    let written = state
        .warehouse()
        .write_checkin(NewCheckIn {
            subject,
            period: body.period.clone(),
            sector,
            rating: body.rating,
            text: body.text,
            author: who.name.clone(),
        })
        .await
        .map_err(|e| match e {
            tilannekuva_warehouse::Error::Rejected(m) => ApiError::bad_request("bad_check_in", m),
            e => ApiError::internal("writing the check-in", &e),
        })?;
    tracing::info!(tile = %written.subject, period = %written.period, author = %written.author, "check-in written");
    Ok((StatusCode::CREATED, Json(json!(written))).into_response())
}

fn has_period(tile: &Tile, period: &str) -> bool {
    Grain::ALL
        .iter()
        .filter_map(|g| tile.series.get(g))
        .flatten()
        .any(|f| f.period == period)
}

/// The check-ins of a subject (a tile's id, or `goal:<id>`) at `at`: those in force (the
/// newest per period), every version written by then, and whether the caller may write one.
pub(crate) fn of_subject(
    manifest: &Manifest,
    subject: &str,
    at: DateTime<Utc>,
    may_write: bool,
) -> Value {
    let in_force: Vec<&CheckIn> = manifest
        .checkins_as_of(at)
        .into_iter()
        .filter(|c| c.subject == subject)
        .collect();
    json!({
        "in_force": in_force,
        "history": manifest.checkin_history(subject, at),
        "may_write": may_write,
    })
}

/// The check-in a tile or goal of the overview shows: the one in force for `period` when
/// there is one, else the newest of any period; its text cut to an excerpt.
pub(crate) fn latest(
    manifest: &Manifest,
    subject: &str,
    period: Option<&str>,
    at: DateTime<Utc>,
) -> Value {
    let in_force: Vec<&CheckIn> = manifest
        .checkins_as_of(at)
        .into_iter()
        .filter(|c| c.subject == subject)
        .collect();
    let chosen = in_force
        .iter()
        .rev()
        .find(|c| Some(c.period.as_str()) == period)
        .or_else(|| in_force.iter().max_by_key(|c| c.written_at));
    match chosen {
        None => Value::Null,
        Some(c) => {
            json!({
                "period": c.period,
                "rating": c.rating,
                "excerpt": excerpt(&c.text, EXCERPT),
                "author": c.author,
                "written_at": c.written_at,
            })
        }
    }
}
