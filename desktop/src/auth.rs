//! Who is asking: a bearer token or a signed session cookie, checked in constant time.

use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::{ApiError, AppState, TokenConfig};

/// Name of the session cookie.
pub(crate) const COOKIE: &str = "tk_session";

/// The signed-in user or client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The token's name.
    pub name: String,
    /// Sectors it may see; `None`: every sector.
    pub sectors: Option<Vec<String>>,
    /// Whether it may write check-ins (for the sectors it may see).
    pub write: bool,
}

impl Principal {
    /// Whether tiles of `sector` may be shown.
    pub fn may_see(&self, sector: &str) -> bool {
        self.sectors
            .as_ref()
            .is_none_or(|s| s.iter().any(|x| x == sector))
    }

    /// Whether check-ins on `sector`'s goals and tiles may be written.
    pub fn may_write(&self, sector: &str) -> bool {
        self.write && self.may_see(sector)
    }

    /// A stable description of the scope, for cache keys.
    pub(crate) fn scope(&self) -> String {
        let sectors = match &self.sectors {
            None => "*".into(),
            Some(s) => s.join(","),
        };
        if self.write {
            format!("{sectors}+write")
        } else {
            sectors
        }
    }

    fn of(t: &TokenConfig) -> Self {
        Self {
            name: t.name.clone(),
            sectors: (!t.sectors.is_empty()).then(|| t.sectors.clone()),
            write: t.scopes.contains(&crate::Scope::Write),
        }
    }
}

/// The token entry whose hash matches `token`.
pub(crate) fn check_token(state: &AppState, token: &str) -> Option<TokenConfig> {
    TokenConfig::find(&state.config().tokens, token).cloned()
}

fn sign(state: &AppState, payload: &str) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(state.config().session_secret.as_bytes())
        .expect("HMAC takes any key length");
    mac.update(payload.as_bytes());
    mac
}

/// A session cookie value for a token entry: `v1.<name hex>.<expiry>.<token hash prefix>.<hmac>`.
pub(crate) fn session_value(state: &AppState, t: &TokenConfig) -> String {
    let exp = chrono::Utc::now().timestamp() + state.config().session_ttl().as_secs() as i64;
    let prefix = t.sha256.get(..16).unwrap_or(&t.sha256);
    let payload = format!("v1.{}.{exp}.{prefix}", hex::encode(t.name.as_bytes()));
    let sig = hex::encode(sign(state, &payload).finalize().into_bytes());
    format!("{payload}.{sig}")
}

fn check_session(state: &AppState, value: &str) -> Option<TokenConfig> {
    let (payload, sig) = value.rsplit_once('.')?;
    let sig = hex::decode(sig).ok()?;
    sign(state, payload).verify_slice(&sig).ok()?;
    let mut parts = payload.split('.');
    if parts.next()? != "v1" {
        return None;
    }
    let name = String::from_utf8(hex::decode(parts.next()?).ok()?).ok()?;
    let exp: i64 = parts.next()?.parse().ok()?;
    let prefix = parts.next()?;
    if exp < chrono::Utc::now().timestamp() {
        return None;
    }
    // The token must still be configured, unchanged.
    state
        .config()
        .tokens
        .iter()
        .find(|t| t.name == name && t.sha256.starts_with(prefix))
        .cloned()
}

pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// Who the request is from, if anyone.
pub(crate) fn authenticate(state: &AppState, headers: &HeaderMap) -> Option<Principal> {
    if let Some(auth) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let (scheme, token) = auth.trim().split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return None;
        }
        return check_token(state, token.trim()).as_ref().map(Principal::of);
    }
    let value = cookie(headers, COOKIE)?;
    check_session(state, &value).as_ref().map(Principal::of)
}

/// Middleware: lets signed-in requests through with their [`Principal`]; others get 401
/// (API) or a redirect to the sign-in form (page).
pub(crate) async fn require_auth(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    // Only tokens are guesses worth limiting: a session cookie is signed (forging one means
    // guessing the key), and an expired one is no attack, so it never counts or waits.
    let client = crate::limit::client_of(req.extensions());
    let presented = req.headers().contains_key(header::AUTHORIZATION);
    if presented && let Some(wait) = state.sign_ins().wait(client, Instant::now()) {
        return crate::limit::too_many(wait);
    }
    let who = authenticate(&state, req.headers());
    if who.is_none() && presented {
        state.sign_ins().failed(client, Instant::now());
    }
    match who {
        Some(p) => {
            tracing::debug!(principal = %p.name, path = %req.uri().path(), "request");
            req.extensions_mut().insert(p);
            next.run(req).await
        }
        // Machines get 401; people are sent to the sign-in form.
        None if req.uri().path().starts_with("/api/") || req.uri().path() == "/metrics" => {
            ApiError::unauthorized().into_response()
        }
        None => Redirect::to("/login").into_response(),
    }
}
