//! The leadership desktop (johdon työpöytä): an authenticated HTTP API over the published KPI
//! tiles and a web page bundled into the binary.
//!
//! - [`router`] builds the axum router; [`serve`] runs it on a listener until shutdown;
//! - [`DesktopSettings`] is the `[desktop]` section of the main config file: bind address,
//!   access tokens (stored as sha256 hashes, optionally limited to sectors) and the names of
//!   the environment variables holding the operator's token and the session key;
//! - [`DesktopConfig`] is what the server runs with: those settings resolved, the session
//!   key in hand;
//! - [`AppState`] holds the [`Warehouse`], the configuration and an optional hook returning
//!   the scheduler's [`PipelineStatus`].
//!
//! Routes (see `openapi.json`, served at `/api/v1/openapi.json`):
//!
//! | route | auth | what |
//! |---|---|---|
//! | `GET /` | yes (else redirect to `/login`) | the desktop page |
//! | `GET /login`, `POST /login`, `POST /logout` | no | sign-in form; sets an HMAC-signed session cookie |
//! | `GET /assets/app.js`, `/assets/app.css` | no | the page's script and style (no data) |
//! | `GET /api/v1/tiles`, `/tiles/{id}`, `/tiles.csv`, `/tiles.parquet` | yes | tiles of a snapshot |
//! | `GET /api/v1/goals/{id}` | yes | a binding goal: progress, KPIs, the owner's check-ins |
//! | `POST /api/v1/checkins` | yes, a token with the `write` scope | an owner's assessment of a tile or goal |
//! | `GET /api/v1/status` | yes | source freshness from the load ledger, snapshots, pipeline runs |
//! | `GET /api/v1/openapi.json` | yes | OpenAPI 3 description |
//! | `GET /api/v1/healthz`, `/api/v1/readyz` (also `/healthz`, `/readyz`) | no | liveness, readiness |
//! | `GET /metrics` | yes, or none on its own `metrics_bind` listener | Prometheus metrics (see `metrics.rs`) |
//!
//! Caching: every tile answer has an `ETag`. For the JSON answers it is a hash of the answer
//! itself, notices included, so a source turning late or data going stale changes it even
//! within one snapshot; the CSV and Parquet downloads depend only on the snapshot, the query
//! and the caller's access, and also honour `If-Modified-Since`. The JSON views are served
//! from memory (see `answers.rs`): built and serialised once per view, query and access,
//! gzipped once for clients that take it, and built again when the snapshot, the committed
//! state, the scheduler's status or the configuration changes.

mod answers;
mod api;
mod auth;
mod checkins;
mod error;
mod goals;
mod limit;
mod metrics;
mod reports;
mod web;

use sha2::Digest;
use std::collections::HashMap;
use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use tilannekuva_scheduler::PipelineStatus;
use tilannekuva_tiles::TilesDoc;
use tilannekuva_warehouse::Warehouse;

pub use auth::Principal;
pub use error::ApiError;

/// How stale the committed state a request is answered from may be: commits of other
/// processes show on the desktop within this.
pub const LOG_POLL: Duration = Duration::from_secs(1);

/// Hook returning the scheduler's latest runs and late sources, shown under `pipeline` in
/// `/status` and as `late` notices on the tiles the late sources feed.
pub type PipelineStatusFn = Arc<dyn Fn() -> Arc<PipelineStatus> + Send + Sync>;

/// An access token configured by the operator. Only the token's sha256 is kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    /// Who or what the token is for; shown in logs (never the token).
    pub name: String,
    /// sha256 of the token, lower-case hex (see [`TokenConfig::hash`]).
    pub sha256: String,
    /// Sector ids the token may see; empty: every sector.
    #[serde(default)]
    pub sectors: Vec<String>,
    /// What the token may do: `read` (always), and `write` for an owner who writes
    /// check-ins on the goals and tiles of the token's sectors.
    #[serde(default = "read_only")]
    pub scopes: Vec<Scope>,
}

/// A token's permission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Read the tiles, the status and the reports.
    Read,
    /// Also write check-ins for the token's sectors.
    Write,
}

fn read_only() -> Vec<Scope> {
    vec![Scope::Read]
}

impl TokenConfig {
    /// A read-only token entry from the token itself (hashed here; the token is not kept).
    pub fn from_secret(name: impl Into<String>, token: &str, sectors: Vec<String>) -> Self {
        Self {
            name: name.into(),
            sha256: Self::hash(token),
            sectors,
            scopes: read_only(),
        }
    }

    /// The same token, also allowed to write check-ins for its sectors.
    pub fn with_write(mut self) -> Self {
        if !self.scopes.contains(&Scope::Write) {
            self.scopes.push(Scope::Write);
        }
        self
    }

    /// The entry of `tokens` whose hash matches the `presented` token; every entry is
    /// compared, in constant time. The desktop and the SQL protocol both sign in with it.
    pub fn find<'a>(tokens: &'a [TokenConfig], presented: &str) -> Option<&'a TokenConfig> {
        use subtle::ConstantTimeEq;
        let presented = sha2::Sha256::digest(presented.as_bytes());
        let mut found = None;
        for t in tokens {
            let Ok(expected) = hex::decode(t.sha256.trim()) else {
                continue;
            };
            if bool::from(expected.as_slice().ct_eq(presented.as_slice())) && found.is_none() {
                found = Some(t);
            }
        }
        found
    }

    /// sha256 of a token, lower-case hex: what goes in the configuration.
    pub fn hash(token: &str) -> String {
        hex::encode(sha2::Sha256::digest(token.as_bytes()))
    }
}

/// Key that signs session cookies (HMAC-SHA256). Its `Debug` never shows the key.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionSecret(Vec<u8>);

impl SessionSecret {
    /// A key from bytes (at least 32 recommended).
    pub fn from_bytes(bytes: impl Into<Vec<u8>>) -> Self {
        Self(bytes.into())
    }

    /// A random 32-byte key: sessions end when the process restarts.
    pub fn random() -> Self {
        let mut key = Vec::with_capacity(32);
        key.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
        key.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
        Self(key)
    }

    /// The key bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for SessionSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionSecret(<redacted>)")
    }
}

fn default_ttl() -> u64 {
    12 * 3600
}
fn default_stale() -> i64 {
    45
}
fn default_token_env() -> String {
    "TILANNEKUVA_DESKTOP_TOKEN".into()
}
fn default_session_env() -> String {
    "TILANNEKUVA_SESSION_SECRET".into()
}

/// `[desktop]` in the main config file: the leadership desktop's address and who may sign
/// in. Secrets are never in the file: the operator's token and the session key come from
/// the environment variables it names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DesktopSettings {
    /// Address to listen on; `--bind` overrides it (default 127.0.0.1:8080).
    #[serde(default)]
    pub bind: Option<SocketAddr>,
    /// Access tokens, as sha256 hashes, optionally limited to sectors.
    #[serde(default)]
    pub tokens: Vec<TokenConfig>,
    /// Environment variable holding one more token, unrestricted (for the operator).
    #[serde(default = "default_token_env")]
    pub token_env: String,
    /// Environment variable holding the hex key that signs session cookies; without it a
    /// random key is used and sessions end when the process restarts.
    #[serde(default = "default_session_env")]
    pub session_secret_env: String,
    /// How long a session cookie is valid, in seconds.
    #[serde(default = "default_ttl")]
    pub session_ttl_secs: u64,
    /// A figure whose data ends more than this many days before its snapshot is stale.
    #[serde(default = "default_stale")]
    pub stale_after_days: i64,
    /// Mark the session cookie `Secure` (when served behind HTTPS).
    #[serde(default)]
    pub secure_cookie: bool,
    /// Wrong tokens accepted from one client address within a minute; past that, its
    /// sign-ins get 429 with `Retry-After` until the oldest failure is a minute old.
    #[serde(default = "default_failed_sign_ins")]
    pub failed_sign_ins_per_minute: u32,
    /// Address of a separate listener serving only `/metrics`, without sign-in (bind it to
    /// an address only the monitoring system reaches). Without it, `/metrics` is served
    /// beside the API and needs a token like the API.
    #[serde(default)]
    pub metrics_bind: Option<SocketAddr>,
}

fn default_failed_sign_ins() -> u32 {
    10
}

impl Default for DesktopSettings {
    fn default() -> Self {
        Self {
            bind: None,
            tokens: Vec::new(),
            token_env: default_token_env(),
            session_secret_env: default_session_env(),
            session_ttl_secs: default_ttl(),
            stale_after_days: default_stale(),
            secure_cookie: false,
            failed_sign_ins_per_minute: default_failed_sign_ins(),
            metrics_bind: None,
        }
    }
}

impl DesktopSettings {
    /// The address to listen on: `bind` when given, else the configured one, else
    /// 127.0.0.1:8080.
    pub fn address(&self, bind: Option<SocketAddr>) -> SocketAddr {
        bind.or(self.bind)
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080)))
    }

    /// What the server runs with: the configured tokens plus the one in `token_env`, and
    /// the session key from `session_secret_env` (random when it is unset).
    pub fn resolve(&self, bind: SocketAddr) -> Result<DesktopConfig, String> {
        let mut tokens = self.tokens.clone();
        if let Ok(t) = std::env::var(&self.token_env)
            && !t.is_empty()
        {
            tokens.push(TokenConfig::from_secret("operator", &t, Vec::new()));
        }
        let session_secret = match std::env::var(&self.session_secret_env) {
            Ok(h) if !h.trim().is_empty() => {
                let bytes = hex::decode(h.trim())
                    .map_err(|_| format!("{} must be hex digits", self.session_secret_env))?;
                if bytes.len() < 16 {
                    return Err(format!(
                        "{} must be at least 16 bytes (32 hex digits)",
                        self.session_secret_env
                    ));
                }
                SessionSecret::from_bytes(bytes)
            }
            _ => SessionSecret::random(),
        };
        Ok(DesktopConfig {
            bind,
            tokens,
            session_secret,
            session_ttl_secs: self.session_ttl_secs,
            secure_cookie: self.secure_cookie,
            stale_after_days: self.stale_after_days,
            failed_sign_ins_per_minute: self.failed_sign_ins_per_minute,
            metrics_bind: self.metrics_bind,
        })
    }
}

/// What the desktop server runs with (see [`DesktopSettings::resolve`]).
#[derive(Debug, Clone)]
pub struct DesktopConfig {
    /// Address it listens on (the caller binds it and hands [`serve`] the listener).
    pub bind: SocketAddr,
    /// Access tokens. With none, nobody can sign in.
    pub tokens: Vec<TokenConfig>,
    /// Key signing session cookies.
    pub session_secret: SessionSecret,
    /// How long a session cookie is valid, in seconds.
    pub session_ttl_secs: u64,
    /// Add `Secure` to the session cookie (set when served over HTTPS).
    pub secure_cookie: bool,
    /// A figure whose data ends more than this many days before the snapshot is flagged stale.
    pub stale_after_days: i64,
    /// Failed sign-ins allowed per client address and minute.
    pub failed_sign_ins_per_minute: u32,
    /// A separate listener for `/metrics` without sign-in; `None`: `/metrics` is beside the
    /// API, behind sign-in.
    pub metrics_bind: Option<SocketAddr>,
}

impl DesktopConfig {
    /// A configuration with these tokens, a random session key and the defaults.
    pub fn new(bind: SocketAddr, tokens: Vec<TokenConfig>) -> Self {
        Self {
            bind,
            tokens,
            session_secret: SessionSecret::random(),
            session_ttl_secs: default_ttl(),
            secure_cookie: false,
            stale_after_days: default_stale(),
            failed_sign_ins_per_minute: default_failed_sign_ins(),
            metrics_bind: None,
        }
    }

    fn session_ttl(&self) -> Duration {
        Duration::from_secs(self.session_ttl_secs)
    }
}

struct Inner {
    warehouse: Warehouse,
    sign_ins: limit::SignInLimiter,
    http_metrics: metrics::HttpMetrics,
    /// Swapped whole by [`AppState::reload_config`]; a request reads one version throughout.
    config: std::sync::RwLock<Arc<DesktopConfig>>,
    pipeline_status: Option<PipelineStatusFn>,
    docs: Mutex<HashMap<String, Arc<TilesDoc>>>,
    answers: answers::Answers,
}

/// Shared state of the desktop's handlers. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("warehouse", &self.inner.warehouse.location().to_string())
            .field("config", &self.config())
            .field("pipeline_status", &self.inner.pipeline_status.is_some())
            .finish()
    }
}

impl AppState {
    /// State over a warehouse with a configuration.
    pub fn new(warehouse: Warehouse, config: DesktopConfig) -> Self {
        Self {
            inner: Arc::new(Inner {
                warehouse,
                sign_ins: limit::SignInLimiter::new(config.failed_sign_ins_per_minute),
                http_metrics: metrics::HttpMetrics::default(),
                config: std::sync::RwLock::new(Arc::new(config)),
                pipeline_status: None,
                docs: Mutex::new(HashMap::new()),
                answers: answers::Answers::default(),
            }),
        }
    }

    /// The same state with a hook reporting the scheduler's run history.
    pub fn with_pipeline_status(self, hook: PipelineStatusFn) -> Self {
        let inner = Arc::try_unwrap(self.inner).unwrap_or_else(|arc| {
            let config = arc
                .config
                .read()
                .map(|c| c.clone())
                .unwrap_or_else(|e| e.into_inner().clone());
            Inner {
                warehouse: arc.warehouse.clone(),
                sign_ins: limit::SignInLimiter::new(config.failed_sign_ins_per_minute),
                http_metrics: metrics::HttpMetrics::default(),
                config: std::sync::RwLock::new(config),
                pipeline_status: None,
                docs: Mutex::new(HashMap::new()),
                answers: answers::Answers::default(),
            }
        });
        Self {
            inner: Arc::new(Inner {
                pipeline_status: Some(hook),
                ..inner
            }),
        }
    }

    /// The warehouse.
    pub fn warehouse(&self) -> &Warehouse {
        &self.inner.warehouse
    }

    /// The warehouse's committed state, from memory: the log is asked for a newer entry at
    /// most every [`LOG_POLL`], whatever the number of requests (a commit made through this
    /// process's warehouse handle shows at once).
    pub(crate) async fn manifest(
        &self,
    ) -> tilannekuva_warehouse::Result<Arc<tilannekuva_warehouse::Manifest>> {
        self.inner.warehouse.manifest_recent(LOG_POLL).await
    }

    /// The configuration now.
    pub fn config(&self) -> Arc<DesktopConfig> {
        match self.inner.config.read() {
            Ok(c) => c.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Replaces the configuration (tokens, their sectors, the session key, staleness) for
    /// the requests that start from now on; requests under way finish with the one they
    /// began with. The listening addresses and the sign-in limit are the process's own and
    /// change only on a restart: the returned list says which of those the new config
    /// changes, so they can be reported.
    pub fn reload_config(&self, new: DesktopConfig) -> Vec<&'static str> {
        let old = self.config();
        let mut on_restart = Vec::new();
        if new.bind != old.bind {
            on_restart.push("bind");
        }
        if new.metrics_bind != old.metrics_bind {
            on_restart.push("metrics_bind");
        }
        if new.failed_sign_ins_per_minute != old.failed_sign_ins_per_minute {
            on_restart.push("failed_sign_ins_per_minute");
        }
        match self.inner.config.write() {
            Ok(mut c) => *c = Arc::new(new),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(new),
        }
        on_restart
    }

    pub(crate) fn pipeline_status(&self) -> Option<Arc<PipelineStatus>> {
        self.inner.pipeline_status.as_ref().map(|f| f())
    }

    pub(crate) fn http_metrics(&self) -> &metrics::HttpMetrics {
        &self.inner.http_metrics
    }

    pub(crate) fn sign_ins(&self) -> &limit::SignInLimiter {
        &self.inner.sign_ins
    }

    pub(crate) fn answers(&self) -> &answers::Answers {
        &self.inner.answers
    }

    pub(crate) fn cached_doc(&self, id: &str) -> Option<Arc<TilesDoc>> {
        self.inner.docs.lock().ok()?.get(id).cloned()
    }

    pub(crate) fn cache_doc(&self, doc: Arc<TilesDoc>) {
        if let Ok(mut docs) = self.inner.docs.lock() {
            if docs.len() >= 16 {
                docs.clear();
            }
            docs.insert(doc.snapshot_id.clone(), doc);
        }
    }
}

/// The desktop's router: the page, the sign-in form, the API and the security headers.
pub fn router(state: AppState) -> Router {
    let protected = Router::new()
        .route("/", get(web::index))
        .route("/api/v1/tiles", get(api::tiles))
        .route("/api/v1/tiles.csv", get(api::tiles_csv))
        .route("/api/v1/tiles.parquet", get(api::tiles_parquet))
        .route("/api/v1/tiles/{id}", get(api::tile))
        .route("/api/v1/status", get(api::status))
        .route("/api/v1/reports", get(reports::list))
        .route("/api/v1/goals/{id}", get(goals::goal))
        .route("/api/v1/checkins", post(checkins::write))
        .route("/reports", get(reports::page))
        .route("/reports/view", get(reports::view))
        .route("/api/v1/openapi.json", get(api::openapi));
    let protected = if state.config().metrics_bind.is_none() {
        protected.route("/metrics", get(metrics::metrics))
    } else {
        protected
    };
    let protected = protected.route_layer(axum::middleware::from_fn_with_state(
        state.clone(),
        auth::require_auth,
    ));
    let public = Router::new()
        .route("/login", get(web::login_page).post(web::login))
        .route("/logout", post(web::logout))
        .route("/assets/app.js", get(web::app_js))
        .route("/assets/app.css", get(web::app_css))
        .route("/assets/report.css", get(reports::css))
        .route("/api/v1/healthz", get(api::healthz))
        .route("/api/v1/readyz", get(api::readyz))
        .route("/healthz", get(api::healthz))
        .route("/readyz", get(api::readyz));
    protected
        .merge(public)
        .fallback(api::not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::count_requests,
        ))
        .layer(axum::middleware::from_fn(web::security_headers))
        .with_state(state)
}

/// The router of the separate metrics listener (`metrics_bind`): `/metrics` only, no
/// sign-in.
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(metrics::metrics))
        .fallback(api::not_found)
        .with_state(state)
}

/// Serves the desktop on `listener` until `shutdown` completes (then finishes open requests).
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, tokens = state.config().tokens.len(), "desktop listening");
    }
    let (stop, stopping) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop.send(true);
    });
    let until_stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stopped| *stopped).await;
    };
    let metrics = match state.config().metrics_bind {
        Some(addr) => {
            let listener = tokio::net::TcpListener::bind(addr).await?;
            tracing::info!(addr = %listener.local_addr()?, "metrics listening");
            Some(tokio::spawn(
                axum::serve(listener, metrics_router(state.clone()))
                    .with_graceful_shutdown(until_stopped(stopping.clone()))
                    .into_future(),
            ))
        }
        None => None,
    };
    axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(until_stopped(stopping))
    .await?;
    if let Some(m) = metrics {
        m.await.map_err(std::io::Error::other)??;
    }
    Ok(())
}
