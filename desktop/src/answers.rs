//! JSON views served from memory. A view of a snapshot (the tile list, one tile, one goal) is
//! built, serialised and given its ETag once, and gzipped once when a client first asks for
//! it compressed; later requests for the same view, query and access get those bytes until
//! something the view reads changes: the snapshot, the committed state (a check-in, a new
//! load in the ledger), the scheduler's status (a late source) or the configuration.
//!
//! What a view reads is compared, not guessed: the snapshot's id, the committed version,
//! and the scheduler's status and the configuration by identity (an answer holds them, so
//! neither can change in place) or, for the status, by value.

use std::collections::HashMap;
use std::io::Write as _;
use std::sync::{Arc, Mutex, OnceLock};

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tilannekuva_scheduler::PipelineStatus;
use tilannekuva_tiles::TilesDoc;
use tilannekuva_warehouse::Manifest;

use crate::api::TileQuery;
use crate::{ApiError, AppState, DesktopConfig, Principal};

/// Answers kept at most; past it the cache starts again empty.
const MAX_ANSWERS: usize = 512;

/// Bodies shorter than this are sent as they are: gzip would save nothing worth its header.
const GZIP_FROM: usize = 1024;

/// Which answer: the view, the query's canonical form and the caller's access.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    view: String,
    query: String,
    scope: String,
}

/// What an answer was built from.
struct Inputs {
    snapshot: String,
    version: u64,
    pipeline: Option<Arc<PipelineStatus>>,
    config: Arc<DesktopConfig>,
}

impl Inputs {
    fn now(state: &AppState, doc: &TilesDoc, manifest: &Manifest) -> Self {
        Self {
            snapshot: doc.snapshot_id.clone(),
            version: manifest.version,
            pipeline: state.pipeline_status(),
            config: state.config(),
        }
    }

    fn same(&self, other: &Inputs) -> bool {
        self.snapshot == other.snapshot
            && self.version == other.version
            && Arc::ptr_eq(&self.config, &other.config)
            && match (&self.pipeline, &other.pipeline) {
                (None, None) => true,
                (Some(a), Some(b)) => Arc::ptr_eq(a, b) || a == b,
                _ => false,
            }
    }
}

/// One view, serialised.
struct Answer {
    inputs: Inputs,
    etag: String,
    last_modified: Option<HeaderValue>,
    body: Bytes,
    gzip: OnceLock<Option<Bytes>>,
}

impl Answer {
    fn new(inputs: Inputs, key: &Key, doc: &TilesDoc, body: Bytes) -> Self {
        let mut h = Sha256::new();
        for part in [
            doc.snapshot_id.as_str(),
            key.view.as_str(),
            &key.query,
            &key.scope,
        ] {
            h.update(part.as_bytes());
            h.update([0]);
        }
        h.update(&body);
        Self {
            inputs,
            etag: hex::encode(h.finalize())[..24].to_string(),
            last_modified: HeaderValue::from_str(&crate::api::http_date(doc.computed_at)).ok(),
            body,
            gzip: OnceLock::new(),
        }
    }

    /// The body gzipped, made at the first request that accepts it.
    fn gzipped(&self) -> Option<&Bytes> {
        self.gzip
            .get_or_init(|| {
                if self.body.len() < GZIP_FROM {
                    return None;
                }
                let mut e = flate2::write::GzEncoder::new(
                    Vec::with_capacity(self.body.len() / 4),
                    flate2::Compression::default(),
                );
                e.write_all(&self.body).ok()?;
                e.finish().ok().map(Bytes::from)
            })
            .as_ref()
    }

    fn respond(&self, request: &HeaderMap) -> Response {
        let gzip = accepts_gzip(request).then(|| self.gzipped()).flatten();
        // A representation of its own, so an ETag of its own.
        let etag = match gzip {
            Some(_) => format!("\"{}-gz\"", self.etag),
            None => format!("\"{}\"", self.etag),
        };
        let mut h = validators(
            &etag,
            self.last_modified.clone(),
            "Authorization, Cookie, Accept-Encoding",
        );
        if if_none_match(request, &etag) == Some(true) {
            return (StatusCode::NOT_MODIFIED, h).into_response();
        }
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        match gzip {
            Some(bytes) => {
                h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
                (h, Body::from(bytes.clone())).into_response()
            }
            None => (h, Body::from(self.body.clone())).into_response(),
        }
    }
}

/// Whether the client takes gzip (`Accept-Encoding: gzip`, not with `q=0`).
fn accepts_gzip(request: &HeaderMap) -> bool {
    request
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            let name = parts.next().unwrap_or_default();
            let refused = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q == 0.0)
            });
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        })
}

/// The validators and caching headers of an answer: its ETag, Last-Modified, private
/// caching that revalidates, and what it varies by.
pub(crate) fn validators(
    etag: &str,
    last_modified: Option<HeaderValue>,
    vary: &'static str,
) -> HeaderMap {
    let mut h = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(etag) {
        h.insert(header::ETAG, v);
    }
    if let Some(v) = last_modified {
        h.insert(header::LAST_MODIFIED, v);
    }
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    h.insert(header::VARY, HeaderValue::from_static(vary));
    h
}

/// Whether `If-None-Match` names this ETag; `None` when the request has none.
pub(crate) fn if_none_match(request: &HeaderMap, etag: &str) -> Option<bool> {
    request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(|inm| {
            inm.split(',')
                .map(|s| s.trim().trim_start_matches("W/"))
                .any(|s| s == etag || s == "*")
        })
}

/// The answers kept, by view, query and access.
#[derive(Default)]
pub(crate) struct Answers {
    kept: Mutex<HashMap<Key, Arc<Answer>>>,
}

impl Answers {
    fn get(&self, key: &Key) -> Option<Arc<Answer>> {
        self.kept.lock().ok()?.get(key).cloned()
    }

    fn put(&self, key: Key, answer: Arc<Answer>) {
        if let Ok(mut kept) = self.kept.lock() {
            if kept.len() >= MAX_ANSWERS && !kept.contains_key(&key) {
                kept.clear();
            }
            kept.insert(key, answer);
        }
    }
}

/// A JSON view of the snapshot the query picks: from memory when nothing it reads has
/// changed, else built by `build`, kept and sent. `build` also checks the request (an unknown
/// tile, a sector the caller may not see): its errors are answered and nothing is kept.
pub(crate) async fn json_view<F>(
    state: &AppState,
    request: &HeaderMap,
    who: &Principal,
    view: String,
    q: &TileQuery,
    build: F,
) -> Result<Response, ApiError>
where
    F: FnOnce(&TilesDoc, &Manifest) -> Result<Value, ApiError>,
{
    let (doc, manifest) = crate::api::load(state, q.as_of).await?;
    let inputs = Inputs::now(state, &doc, &manifest);
    let key = Key {
        view,
        query: q.canonical.clone(),
        scope: who.scope(),
    };
    if let Some(answer) = state.answers().get(&key)
        && answer.inputs.same(&inputs)
    {
        return Ok(answer.respond(request));
    }
    let body = build(&doc, &manifest)?;
    let bytes = serde_json::to_vec(&body).map_err(|e| ApiError::internal("writing JSON", &e))?;
    let answer = Arc::new(Answer::new(inputs, &key, &doc, Bytes::from(bytes)));
    let response = answer.respond(request);
    state.answers().put(key, answer);
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(name: header::HeaderName, value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(name, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn gzip_is_sent_to_clients_that_take_it() {
        assert!(accepts_gzip(&with(
            header::ACCEPT_ENCODING,
            "gzip, deflate, br"
        )));
        assert!(accepts_gzip(&with(
            header::ACCEPT_ENCODING,
            "br;q=1.0, GZIP;q=0.5"
        )));
        assert!(accepts_gzip(&with(header::ACCEPT_ENCODING, "*")));
        assert!(!accepts_gzip(&with(
            header::ACCEPT_ENCODING,
            "gzip;q=0, br"
        )));
        assert!(!accepts_gzip(&with(header::ACCEPT_ENCODING, "identity")));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }

    #[test]
    fn if_none_match_takes_lists_and_weak_tags() {
        let h = with(header::IF_NONE_MATCH, "\"a\", W/\"b\"");
        assert_eq!(if_none_match(&h, "\"b\""), Some(true));
        assert_eq!(if_none_match(&h, "\"c\""), Some(false));
        assert_eq!(
            if_none_match(&with(header::IF_NONE_MATCH, "*"), "\"c\""),
            Some(true)
        );
        assert_eq!(if_none_match(&HeaderMap::new(), "\"c\""), None);
    }
}
