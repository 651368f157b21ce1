//! Paginated export APIs with bearer-token auth and an incremental time cursor, the way
//! contact-centre systems export their records (Zendesk-style incremental exports).
//!
//! ## The protocol
//!
//! ```text
//! GET {url}?start_time=<unix seconds>&<query…>
//! Authorization: Bearer <token>
//!
//! 200 {"items": [ {...}, ... ], "next_start_time": 1700003600, "has_more": true}
//! ```
//!
//! - `items` is the page's records; each non-empty page becomes one [`Delivery`] whose bytes
//!   are the `items` array exactly as it appears in the answer (a byte slice of the body, never
//!   re-serialised), so it lands untouched and `format = { kind = "json_array" }` reads it.
//!   The envelope around it (the cursor fields) is not landed.
//! - `next_start_time` is where the next page starts. Within a run it is the next request's
//!   `start_time`; between runs it is the cursor kept in the manifest
//!   (`manifest.cursors[<source>] = {"start_time": <unix seconds>}`).
//! - `has_more = false` (or absent) ends the run. A page that says there is more but does not
//!   move `next_start_time` forward ends it with an error instead of looping.
//!
//! Field and parameter names are configurable (`items_field`, `next_field`,
//! `has_more_field`, `cursor_param`) for APIs that spell them differently.
//!
//! ## Why a crash cannot lose or double data
//!
//! A page's rows and the cursor after it become visible in the same manifest commit (see
//! [`crate::load::load_page`]); a page that fails to load stops the run with the cursor
//! before it. A process killed anywhere in a run leaves either the page loaded with its
//! cursor, or neither: the next run asks for the same `start_time` again (the kill test in
//! `tests/it/crash.rs` kills API loads at random moments and checks after each kill that
//! the rows are exactly the pages before the cursor). A window asked for again comes back as
//! the same bytes, whose sha256 the load ledger already holds. Only the last, still open
//! window can have gained records between two runs; its new bytes then load again, and
//! records of it that were loaded before appear twice. That is why such a source must use
//! `on_redelivery = "append"` (checked by [`RestApi::compile`]: with `replace`, every page
//! would retire the rows of earlier pages for the same months) and why tiles over it count
//! distinct ids.
//!
//! ## The token
//!
//! The token is read from the environment variable named by `token_env` when the fetch
//! starts (validating the config only warns when the variable is unset: it may be set where
//! the source is loaded). It is sent only in the `Authorization` header, never put in a URL, and masked in
//! every message (see [`super::http`]).
//!
//! ```toml
//! [fetch]
//! kind = "rest_api"
//! url = "https://api.vendor.example/v2/exports/callbacks"
//! token_env = "ACE_API_TOKEN"
//! initial_start_time = 1704060000            # 2024-01-01 00:00 Helsinki; default 0
//! query = { queue = "first-line" }            # fixed extra parameters, optional
//! max_pages = 100                             # per run; the next run continues
//! [fetch.http]
//! requests_per_minute = 10
//! ```

use std::collections::BTreeMap;
use std::ops::Range;

use chrono::Utc;
use serde::Deserialize;
use serde::de::IgnoredAny;

use super::http::{HttpClient, HttpSettings, Secret, display_url, parse_url};
use super::{Content, Delivery};
use crate::config::{Problems, Redelivery, SourceRef};
use crate::{Error, Result};

/// Key of the cursor object kept in the manifest.
pub const CURSOR_KEY: &str = "start_time";

/// Config of a paginated export API.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestApi {
    /// Endpoint URL, without the cursor parameter.
    pub url: String,
    /// Environment variable that holds the bearer token.
    pub token_env: String,
    /// Query parameter carrying the cursor.
    #[serde(default = "default_cursor_param")]
    pub cursor_param: String,
    /// Cursor of the very first run, unix seconds.
    #[serde(default)]
    pub initial_start_time: i64,
    /// Fixed extra query parameters.
    #[serde(default)]
    pub query: BTreeMap<String, String>,
    /// Answer field holding the page's records.
    #[serde(default = "default_items_field")]
    pub items_field: String,
    /// Answer field holding the next cursor, unix seconds.
    #[serde(default = "default_next_field")]
    pub next_field: String,
    /// Answer field telling whether more pages follow.
    #[serde(default = "default_has_more_field")]
    pub has_more_field: String,
    /// Most pages fetched in one run; the next run continues from the cursor.
    #[serde(default = "default_max_pages")]
    pub max_pages: u32,
    /// Query parameter that bounds a request's window at its end (unix seconds), for
    /// backfills of a closed range; without it a source cannot be backfilled.
    #[serde(default)]
    pub end_param: Option<String>,
    /// Timeouts, retries and rate limit.
    #[serde(default)]
    pub http: HttpSettings,
}

fn default_cursor_param() -> String {
    CURSOR_KEY.into()
}
fn default_items_field() -> String {
    "items".into()
}
fn default_next_field() -> String {
    "next_start_time".into()
}
fn default_has_more_field() -> String {
    "has_more".into()
}
fn default_max_pages() -> u32 {
    100
}

/// One page: its records as a delivery (none for an empty page) and the cursor to keep
/// once that delivery has loaded.
#[derive(Debug)]
pub struct Page {
    /// The `items` array, when it has records.
    pub delivery: Option<Delivery>,
    /// `{"start_time": <next_start_time>}`.
    pub cursor: serde_json::Value,
}

/// Walks the pages of one run, one request per [`Pager::next`].
#[derive(Debug)]
pub struct Pager {
    config: RestApi,
    source: String,
    base: reqwest::Url,
    client: HttpClient,
    cursor: i64,
    pages: u32,
    done: bool,
    /// For a backfill window: where it ends (sent as `end_param`; the run stops there and
    /// ignores `max_pages`).
    until: Option<i64>,
}

/// An export API ready to page through: its config, with the URL parsed.
#[derive(Debug, Clone)]
pub struct Endpoint {
    config: RestApi,
    base: reqwest::Url,
}

impl RestApi {
    /// Checks the keys (an http(s) `url` without the cursor parameter, `max_pages` of at
    /// least 1, `on_redelivery = "append"`, the `[fetch.http]` values) and parses the URL;
    /// `None` after a problem. An unset `token_env` variable is only a warning: it may be set
    /// where the source is loaded.
    pub fn compile(
        &self,
        source: SourceRef<'_>,
        on_redelivery: Redelivery,
        problems: &mut Problems,
    ) -> Option<Endpoint> {
        let before = problems.errors.len();
        let file = source.file;
        if on_redelivery == Redelivery::Replace {
            problems.error(
                file,
                "load.on_redelivery",
                "a `rest_api` source delivers one page after another, each with part of a month; set `on_redelivery = \"append\"` (with `replace`, every page would retire the earlier pages' rows)",
            );
        }
        if self.max_pages == 0 {
            problems.error(file, "fetch.max_pages", "must be at least 1");
        }
        let base = match self.base() {
            Ok(url) => Some(url),
            Err(e) => {
                problems.error(file, "fetch.url", e);
                None
            }
        };
        if self
            .end_param
            .as_deref()
            .is_some_and(|p| p.trim().is_empty() || p == self.cursor_param)
        {
            problems.error(
                file,
                "fetch.end_param",
                "must name a query parameter other than `cursor_param`",
            );
        }
        if self.cursor_param.trim().is_empty() {
            problems.error(file, "fetch.cursor_param", "must name a query parameter");
        }
        if self.token_env.trim().is_empty() {
            problems.error(
                file,
                "fetch.token_env",
                "must name the environment variable that holds the token",
            );
        } else if !matches!(std::env::var(&self.token_env), Ok(v) if !v.trim().is_empty()) {
            problems.warn(
                file,
                "fetch.token_env",
                format!(
                    "environment variable `{}` is not set (or empty) here; loading the source needs it to hold the API token",
                    self.token_env
                ),
            );
        }
        self.http.validate(source, problems);
        let base = base.filter(|_| problems.errors.len() == before)?;
        Some(Endpoint {
            config: self.clone(),
            base,
        })
    }

    /// `url`, parsed; refused when it already carries the cursor parameter.
    fn base(&self) -> std::result::Result<reqwest::Url, String> {
        let base = parse_url(&self.url)?;
        if base.query_pairs().any(|(k, _)| k == self.cursor_param) {
            return Err(format!(
                "must not contain `{}`; the cursor sets it",
                self.cursor_param
            ));
        }
        Ok(base)
    }
}

impl Endpoint {
    /// Starts a run from the cursor kept in the manifest, or from `initial_start_time`,
    /// with the token from the environment variable named by `token_env`.
    pub fn start(
        &self,
        source: SourceRef<'_>,
        stored: Option<&serde_json::Value>,
    ) -> Result<Pager> {
        let token = Secret::from_env(source.name, &self.config.token_env)?;
        self.start_with_token(source, stored, token)
    }

    /// [`Endpoint::start`] with a token the caller already holds.
    pub fn start_with_token(
        &self,
        source: SourceRef<'_>,
        stored: Option<&serde_json::Value>,
        token: Secret,
    ) -> Result<Pager> {
        let name = source.name;
        let cursor = match stored {
            None => self.config.initial_start_time,
            Some(v) => cursor_value(v).ok_or_else(|| {
                Error::Config(vec![format!(
                    "source `{name}`: the manifest's cursor is {v}, not {{\"{CURSOR_KEY}\": <unix seconds>}}"
                )])
            })?,
        };
        let client = HttpClient::new(name, &self.config.http, Some(token))?;
        Ok(Pager {
            config: self.config.clone(),
            source: name.to_string(),
            base: self.base.clone(),
            client,
            cursor,
            pages: 0,
            done: false,
            until: None,
        })
    }

    /// Pages through the closed window `from..until` (unix seconds) for a backfill, asking
    /// the API to stop at `until` (`end_param`), whatever cursor the manifest keeps.
    pub fn window(&self, source: SourceRef<'_>, from: i64, until: i64) -> Result<Pager> {
        self.can_window(source)?;
        let token = Secret::from_env(source.name, &self.config.token_env)?;
        let mut pager = self.start_with_token(source, None, token)?;
        pager.cursor = from;
        pager.until = Some(until);
        Ok(pager)
    }

    /// Whether the API can be asked for a closed window (`end_param` is set); the error
    /// says what to set.
    pub fn can_window(&self, source: SourceRef<'_>) -> Result<()> {
        if self.config.end_param.is_none() {
            return Err(Error::Config(vec![format!(
                "{}: source `{}` cannot be backfilled: its API is not asked to end a window; set `fetch.end_param` to the query parameter that does (for example \"end_time\")",
                source.file.display(),
                source.name
            )]));
        }
        Ok(())
    }

    /// The request a backfill of `from..until` starts with, for a dry run.
    pub fn window_url(&self, from: i64, until: i64) -> String {
        let mut url = self.base.clone();
        {
            let mut q = url.query_pairs_mut();
            for (k, v) in &self.config.query {
                q.append_pair(k, v);
            }
            q.append_pair(&self.config.cursor_param, &from.to_string());
            if let Some(end) = &self.config.end_param {
                q.append_pair(end, &until.to_string());
            }
        }
        display_url(&url)
    }
}

/// The cursor kept in the manifest: `{"start_time": <unix seconds>}`.
pub fn cursor_json(start_time: i64) -> serde_json::Value {
    serde_json::Value::Object(serde_json::Map::from_iter([(
        CURSOR_KEY.to_string(),
        start_time.into(),
    )]))
}

/// The unix seconds of a stored cursor.
pub fn cursor_value(v: &serde_json::Value) -> Option<i64> {
    v.get(CURSOR_KEY)?.as_i64()
}

impl Pager {
    /// The cursor the next request starts from.
    pub fn cursor(&self) -> i64 {
        self.cursor
    }

    /// Fetches the next page; `None` when the API said there is no more (or `max_pages`
    /// pages were fetched this run).
    pub async fn next(&mut self) -> Result<Option<Page>> {
        if self.done {
            return Ok(None);
        }
        if self.until.is_some_and(|u| self.cursor >= u) {
            self.done = true;
            return Ok(None);
        }
        if self.until.is_none() && self.pages >= self.config.max_pages {
            tracing::info!(source = %self.source, pages = self.pages, "`fetch.max_pages` reached; the next run continues from the cursor");
            self.done = true;
            return Ok(None);
        }
        let url = self.url();
        let shown = display_url(&url);
        let response = self.client.get(&url).await?;
        self.pages += 1;
        let fail = |message: String| Error::Fetch {
            source_name: self.source.clone(),
            url: shown.clone(),
            message,
        };
        let envelope = read_envelope(&response.body, &self.config).map_err(fail)?;
        if envelope.next < self.cursor {
            return Err(fail(format!(
                "`{}` = {} is before the requested {} = {}; the cursor never moves back",
                self.config.next_field, envelope.next, self.config.cursor_param, self.cursor
            )));
        }
        if envelope.has_more && envelope.next == self.cursor {
            return Err(fail(format!(
                "`{}` is true but `{}` did not move past {}; stopping rather than asking for the same page forever",
                self.config.has_more_field, self.config.next_field, self.cursor
            )));
        }
        let delivery = (envelope.items > 0).then(|| Delivery {
            name: format!("{}_{}-{}.json", self.source, self.cursor, envelope.next),
            fetched_at: Utc::now(),
            content: Content::Bytes(response.body.slice(envelope.span.clone())),
            // A page is part of a window; the rows tell how far the month is covered.
            covers: None,
        });
        tracing::info!(source = %self.source, url = %shown, items = envelope.items, next = envelope.next, has_more = envelope.has_more, "fetched a page");
        self.cursor = envelope.next;
        self.done = !envelope.has_more;
        Ok(Some(Page {
            delivery,
            cursor: cursor_json(envelope.next),
        }))
    }

    fn url(&self) -> reqwest::Url {
        let mut url = self.base.clone();
        {
            let mut q = url.query_pairs_mut();
            for (k, v) in &self.config.query {
                q.append_pair(k, v);
            }
            q.append_pair(&self.config.cursor_param, &self.cursor.to_string());
            if let (Some(end), Some(until)) = (&self.config.end_param, self.until) {
                q.append_pair(end, &until.to_string());
            }
        }
        url
    }
}

/// What a page's answer says.
#[derive(Debug)]
struct Envelope {
    /// Byte range of the items array in the body.
    span: Range<usize>,
    /// Number of records.
    items: usize,
    /// The next cursor.
    next: i64,
    /// Whether more pages follow.
    has_more: bool,
}

fn read_envelope(body: &[u8], config: &RestApi) -> std::result::Result<Envelope, String> {
    let map: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(body)
        .map_err(|e| format!("the answer is not a JSON object: {e}"))?;
    let items = match map.get(&config.items_field) {
        Some(serde_json::Value::Array(a)) => a.len(),
        Some(_) => return Err(format!("`{}` is not an array", config.items_field)),
        None => return Err(format!("the answer has no `{}`", config.items_field)),
    };
    let next = match map.get(&config.next_field) {
        Some(v) => v
            .as_i64()
            .ok_or_else(|| format!("`{}` is {v}, not whole unix seconds", config.next_field))?,
        None => return Err(format!("the answer has no `{}`", config.next_field)),
    };
    let has_more = match map.get(&config.has_more_field) {
        None | Some(serde_json::Value::Null) => false,
        Some(serde_json::Value::Bool(b)) => *b,
        Some(v) => {
            return Err(format!(
                "`{}` is {v}, not true or false",
                config.has_more_field
            ));
        }
    };
    let span = field_span(body, &config.items_field)?
        .ok_or_else(|| format!("the answer has no `{}`", config.items_field))?;
    Ok(Envelope {
        span,
        items,
        next,
        has_more,
    })
}

/// The byte range of a top-level field's value in a JSON object, found without
/// re-serialising anything. The body is known to be a valid JSON object.
fn field_span(body: &[u8], field: &str) -> std::result::Result<Option<Range<usize>>, String> {
    fn one<'a, T: Deserialize<'a>>(
        body: &'a [u8],
        at: usize,
    ) -> std::result::Result<(T, usize), String> {
        let mut values = serde_json::Deserializer::from_slice(&body[at..]).into_iter::<T>();
        match values.next() {
            Some(Ok(v)) => Ok((v, at + values.byte_offset())),
            Some(Err(e)) => Err(format!("the answer is not a JSON object: {e}")),
            None => Err("the answer ends too early".into()),
        }
    }
    fn skip_ws(body: &[u8], mut at: usize) -> usize {
        while body.get(at).is_some_and(|b| b.is_ascii_whitespace()) {
            at += 1;
        }
        at
    }
    let malformed = || "the answer is not a JSON object".to_string();
    let start = skip_ws(body, body.strip_prefix(b"\xEF\xBB\xBF").map_or(0, |_| 3));
    if body.get(start) != Some(&b'{') {
        return Err(malformed());
    }
    let mut at = skip_ws(body, start + 1);
    if body.get(at) == Some(&b'}') {
        return Ok(None);
    }
    loop {
        let (key, end) = one::<String>(body, at)?;
        at = skip_ws(body, end);
        if body.get(at) != Some(&b':') {
            return Err(malformed());
        }
        let value_start = skip_ws(body, at + 1);
        let (IgnoredAny, value_end) = one::<IgnoredAny>(body, value_start)?;
        if key == field {
            return Ok(Some(value_start..value_end));
        }
        at = skip_ws(body, value_end);
        match body.get(at) {
            Some(b',') => at = skip_ws(body, at + 1),
            Some(b'}') => return Ok(None),
            _ => return Err(malformed()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_items_are_sliced_out_byte_for_byte() {
        let body = br#" { "next_start_time" : 5, "note": {"items": [9]},
            "items" : [ {"id": "a", "x": 1.50},{"id":"b"} ] , "has_more": true }"#;
        let span = field_span(body, "items").unwrap().unwrap();
        assert_eq!(
            &body[span],
            br#"[ {"id": "a", "x": 1.50},{"id":"b"} ]"#.as_slice()
        );
        assert_eq!(field_span(b"{}", "items").unwrap(), None);
        assert_eq!(field_span(br#"{"a": 1}"#, "items").unwrap(), None);
    }

    #[test]
    fn envelopes_are_checked() {
        let config: RestApi = toml::from_str("url = \"http://x\"\ntoken_env = \"T\"").unwrap();
        let ok = read_envelope(
            br#"{"items": [{"id": 1}], "next_start_time": 10, "has_more": false}"#,
            &config,
        )
        .unwrap();
        assert_eq!((ok.items, ok.next, ok.has_more), (1, 10, false));
        for (body, says) in [
            ("[1]", "not a JSON object"),
            (r#"{"next_start_time": 1}"#, "no `items`"),
            (r#"{"items": {}, "next_start_time": 1}"#, "not an array"),
            (r#"{"items": []}"#, "no `next_start_time`"),
            (
                r#"{"items": [], "next_start_time": 1.5}"#,
                "not whole unix seconds",
            ),
            (
                r#"{"items": [], "next_start_time": 1, "has_more": "yes"}"#,
                "not true or false",
            ),
        ] {
            let err = read_envelope(body.as_bytes(), &config).unwrap_err();
            assert!(err.contains(says), "{err}");
        }
    }

    fn problems(extra: &str, on_redelivery: Redelivery) -> Problems {
        let config: RestApi =
            toml::from_str(&format!("token_env = \"CARGO_PKG_NAME\"\n{extra}")).unwrap();
        let source = SourceRef {
            name: "s",
            file: std::path::Path::new("config/sources/s.toml"),
        };
        let mut problems = Problems::default();
        let endpoint = config.compile(source, on_redelivery, &mut problems);
        assert_eq!(endpoint.is_some(), problems.errors.is_empty());
        problems
    }

    #[test]
    fn bad_settings_name_file_and_key() {
        let ok = problems(
            "url = \"https://api.example/v2/export\"",
            Redelivery::Append,
        );
        assert!(ok.errors.is_empty() && ok.warnings.is_empty(), "{ok:?}");
        for (extra, redelivery, key) in [
            ("url = \"api.example/v2\"", Redelivery::Append, "fetch.url"),
            (
                "url = \"https://api.example/v2?start_time=5\"",
                Redelivery::Append,
                "fetch.url",
            ),
            (
                "url = \"https://api.example/v2\"\nmax_pages = 0",
                Redelivery::Append,
                "fetch.max_pages",
            ),
            (
                "url = \"https://api.example/v2\"\n[http]\nrequests_per_minute = 0",
                Redelivery::Append,
                "fetch.http.requests_per_minute",
            ),
            (
                "url = \"https://api.example/v2\"",
                Redelivery::Replace,
                "load.on_redelivery",
            ),
        ] {
            let p = problems(extra, redelivery);
            assert_eq!(p.errors.len(), 1, "{extra}: {p:?}");
            assert!(
                p.errors[0].starts_with(&format!("config/sources/s.toml: `{key}`")),
                "{extra}: {p:?}"
            );
        }
    }

    #[test]
    fn an_unset_token_variable_is_a_warning() {
        let p = problems("url = \"https://api.example/v2\"", Redelivery::Append);
        assert!(p.warnings.is_empty());
        let config: RestApi = toml::from_str(
            "url = \"https://api.example/v2\"\ntoken_env = \"TILANNEKUVA_TEST_SURELY_UNSET_VAR\"",
        )
        .unwrap();
        let source = SourceRef {
            name: "s",
            file: std::path::Path::new("config/sources/s.toml"),
        };
        let mut p = Problems::default();
        assert!(config.compile(source, Redelivery::Append, &mut p).is_some());
        assert!(p.errors.is_empty(), "{p:?}");
        assert_eq!(p.warnings.len(), 1, "{p:?}");
        assert!(
            p.warnings[0].starts_with("config/sources/s.toml: `fetch.token_env`")
                && p.warnings[0].contains("TILANNEKUVA_TEST_SURELY_UNSET_VAR"),
            "{p:?}"
        );
    }
}
