//! HTTP behaviour shared by the API sources ([`super::sotkanet`], [`super::rest_api`]).
//!
//! Every request goes through [`HttpClient::get`], which:
//!
//! - applies a connect timeout and a total timeout per attempt (`connect_timeout_seconds`,
//!   `timeout_seconds`);
//! - spaces requests to honour `requests_per_minute` (retries count as requests);
//! - retries 5xx answers, 408, timeouts, connection failures and bodies that broke off, up to
//!   `max_retries` times, sleeping a random time between zero and an exponentially growing
//!   ceiling ("full jitter": `backoff_initial_seconds · 2^attempt`, capped at
//!   `backoff_max_seconds`) so that many clients do not retry in step;
//! - on 429 (and on 503 that says when to come back) waits what `Retry-After` asks, in
//!   seconds or as an HTTP date, unless that is longer than `max_retry_after_seconds`, in
//!   which case it fails at once rather than hold the whole run;
//! - fails at once on any other 4xx, naming the status, the URL and the start of the body;
//! - reads the whole body before returning it, and refuses a body shorter or longer than its
//!   `Content-Length`: a delivery is only ever made from a complete answer.
//!
//! Credentials never appear in messages or logs: URLs are shown without user info, the
//! bearer token travels only in a header marked sensitive, and any text taken from a
//! response (an error body that echoes the request, say) has the token masked.

use std::fmt;
use std::sync::Once;
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{AUTHORIZATION, CONTENT_LENGTH, HeaderMap, HeaderValue, RETRY_AFTER};
use reqwest::{StatusCode, Url};
use serde::Deserialize;
use tokio::time::Instant;

use crate::config::{Problems, SourceRef};
use crate::{Error, Result};

/// How many characters of an error response's body go into the error message.
const BODY_SNIPPET_CHARS: usize = 200;

/// HTTP settings of an API source: the `[fetch.http]` table of its config. Every key is
/// optional.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpSettings {
    /// Time allowed to open a connection, seconds.
    pub connect_timeout_seconds: f64,
    /// Time allowed for one whole attempt (connect, send, read the body), seconds.
    pub timeout_seconds: f64,
    /// Retries after the first attempt, for transient failures.
    pub max_retries: u32,
    /// Ceiling of the first retry's random wait, seconds; doubles with every retry.
    pub backoff_initial_seconds: f64,
    /// Largest ceiling of a retry's random wait, seconds.
    pub backoff_max_seconds: f64,
    /// Longest `Retry-After` that is waited out; a server asking for more fails the fetch.
    pub max_retry_after_seconds: f64,
    /// At most this many requests a minute (retries included); unlimited when unset.
    pub requests_per_minute: Option<f64>,
    /// `User-Agent` header sent with every request.
    pub user_agent: String,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            connect_timeout_seconds: 10.0,
            timeout_seconds: 120.0,
            max_retries: 4,
            backoff_initial_seconds: 1.0,
            backoff_max_seconds: 60.0,
            max_retry_after_seconds: 300.0,
            requests_per_minute: None,
            user_agent: concat!("tilannekuva/", env!("CARGO_PKG_VERSION")).to_string(),
        }
    }
}

impl HttpSettings {
    /// Checks the settings, naming each bad key under `fetch.http`.
    pub fn validate(&self, source: SourceRef<'_>, problems: &mut Problems) {
        for (key, message) in self.problems() {
            problems.error(source.file, &key, message);
        }
    }

    /// Problems with the settings: the key (`fetch.http.…`) and what is wrong with it.
    pub fn problems(&self) -> Vec<(String, &'static str)> {
        let mut out = Vec::new();
        let mut bad = |key: &str, message| out.push((format!("fetch.http.{key}"), message));
        for (key, v) in [
            ("connect_timeout_seconds", self.connect_timeout_seconds),
            ("timeout_seconds", self.timeout_seconds),
        ] {
            if !(v.is_finite() && v > 0.0) {
                bad(key, "must be a positive number of seconds");
            }
        }
        for (key, v) in [
            ("backoff_initial_seconds", self.backoff_initial_seconds),
            ("backoff_max_seconds", self.backoff_max_seconds),
            ("max_retry_after_seconds", self.max_retry_after_seconds),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                bad(key, "must be zero or more seconds");
            }
        }
        if let Some(rpm) = self.requests_per_minute
            && !(rpm.is_finite() && rpm > 0.0)
        {
            bad("requests_per_minute", "must be a positive number");
        }
        out
    }
}

/// A secret, such as a bearer token. Its `Debug` form is masked and it has no `Display`,
/// so it cannot end up in a log line or an error message by accident.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// Reads a secret from an environment variable; the error names the variable, never a
    /// value.
    pub fn from_env(source: &str, var: &str) -> Result<Self> {
        match std::env::var(var) {
            Ok(v) if !v.trim().is_empty() => Ok(Self(v.trim().to_string())),
            Ok(_) => Err(Error::Config(vec![format!(
                "source `{source}`: environment variable `{var}` (from `fetch.token_env`) is empty"
            )])),
            Err(_) => Err(Error::Config(vec![format!(
                "source `{source}`: environment variable `{var}` (from `fetch.token_env`) is not set; it must hold the API token"
            )])),
        }
    }

    /// `text` with every occurrence of the secret masked.
    fn mask(&self, text: &str) -> String {
        if self.0.is_empty() {
            text.to_string()
        } else {
            text.replace(&self.0, "[redacted]")
        }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// A complete, successful (2xx) answer.
#[derive(Debug, Clone)]
pub struct Response {
    /// Status code.
    pub status: StatusCode,
    /// Response headers.
    pub headers: HeaderMap,
    /// The whole body; its length matched `Content-Length` when the server sent one.
    pub body: Bytes,
}

/// An HTTP client for one source, with its retry, timeout and rate-limit settings.
#[derive(Debug)]
pub struct HttpClient {
    client: reqwest::Client,
    settings: HttpSettings,
    source: String,
    bearer: Option<Secret>,
    last_request: tokio::sync::Mutex<Option<Instant>>,
}

/// Why an attempt failed, and whether trying again may help.
enum Failure {
    /// Worth retrying; `wait` overrides the backoff when the server said how long.
    Transient {
        message: String,
        wait: Option<Duration>,
    },
    /// Retrying cannot help.
    Permanent(String),
}

impl HttpClient {
    /// A client for `source`. `bearer`, when given, is sent as `Authorization: Bearer …`.
    pub fn new(source: &str, settings: &HttpSettings, bearer: Option<Secret>) -> Result<Self> {
        let problems = settings.problems();
        if !problems.is_empty() {
            return Err(Error::Config(
                problems
                    .into_iter()
                    .map(|(key, message)| format!("source `{source}`: `{key}`: {message}"))
                    .collect(),
            ));
        }
        install_crypto_provider();
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs_f64(settings.connect_timeout_seconds))
            .timeout(Duration::from_secs_f64(settings.timeout_seconds))
            .user_agent(settings.user_agent.clone())
            .build()
            .map_err(|e| {
                Error::Config(vec![format!(
                    "source `{source}`: cannot set up an HTTP client: {}",
                    error_chain(&e)
                )])
            })?;
        Ok(Self {
            client,
            settings: settings.clone(),
            source: source.to_string(),
            bearer,
            last_request: tokio::sync::Mutex::new(None),
        })
    }

    /// GETs `url`, retrying transient failures, and returns the complete answer.
    ///
    /// Errors are [`Error::Fetch`], naming the source and the URL without credentials.
    pub async fn get(&self, url: &Url) -> Result<Response> {
        let shown = display_url(url);
        let attempts = self.settings.max_retries.saturating_add(1);
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let failure = match self.attempt(url).await {
                Ok(response) => return Ok(response),
                Err(f) => f,
            };
            let (message, wait) = match failure {
                Failure::Permanent(message) => return Err(self.error(&shown, message)),
                Failure::Transient { message, wait } => (message, wait),
            };
            if attempt >= attempts {
                return Err(self.error(
                    &shown,
                    format!("{message} (gave up after {attempts} attempts)"),
                ));
            }
            let wait = wait.unwrap_or_else(|| self.backoff(attempt));
            tracing::warn!(
                source = %self.source,
                url = %shown,
                attempt,
                wait_ms = wait.as_millis() as u64,
                "{message}; retrying"
            );
            tokio::time::sleep(wait).await;
        }
    }

    /// One request and its whole body.
    async fn attempt(&self, url: &Url) -> std::result::Result<Response, Failure> {
        self.pace().await;
        let mut request = self.client.get(url.clone());
        if let Some(token) = &self.bearer {
            let mut value =
                HeaderValue::from_str(&format!("Bearer {}", token.0)).map_err(|_| {
                    Failure::Permanent(
                        "the API token contains characters not allowed in a header".into(),
                    )
                })?;
            value.set_sensitive(true);
            request = request.header(AUTHORIZATION, value);
        }
        let response = request.send().await.map_err(|e| {
            let what = if e.is_timeout() {
                "timed out"
            } else if e.is_connect() {
                "could not connect"
            } else {
                "request failed"
            };
            Failure::Transient {
                message: self.mask(format!("{what}: {}", error_chain(&e))),
                wait: None,
            }
        })?;
        let status = response.status();
        let headers = response.headers().clone();
        let declared = headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        // Read the whole body before anything else: a body that breaks off is an error here,
        // never a shorter delivery.
        let body = match response.bytes().await {
            Ok(body) => body,
            Err(e) if status.is_success() => {
                return Err(Failure::Transient {
                    message: self.mask(format!(
                        "HTTP {status}: the body broke off before it was complete: {}",
                        error_chain(&e)
                    )),
                    wait: None,
                });
            }
            // An error answer whose body broke off: the status still decides.
            Err(_) => Bytes::new(),
        };
        if status.is_success() {
            if let Some(n) = declared
                && n != body.len() as u64
            {
                return Err(Failure::Transient {
                    message: format!(
                        "HTTP {status}: the body has {} bytes but Content-Length said {n}",
                        body.len()
                    ),
                    wait: None,
                });
            }
            return Ok(Response {
                status,
                headers,
                body,
            });
        }
        let snippet = self.mask(body_snippet(&body));
        let message = format!("HTTP {status}{snippet}");
        if status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE {
            if let Some(wait) = retry_after(&headers, chrono::Utc::now()) {
                let max = Duration::from_secs_f64(self.settings.max_retry_after_seconds);
                if wait > max {
                    return Err(Failure::Permanent(format!(
                        "{message}; the server asks to wait {} s (Retry-After), more than `fetch.http.max_retry_after_seconds` = {}",
                        wait.as_secs(),
                        self.settings.max_retry_after_seconds
                    )));
                }
                return Err(Failure::Transient {
                    message,
                    wait: Some(wait),
                });
            }
            return Err(Failure::Transient {
                message,
                wait: None,
            });
        }
        if status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT {
            return Err(Failure::Transient {
                message,
                wait: None,
            });
        }
        let hint = match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN if self.bearer.is_some() => {
                "; check the token in the environment variable named by `fetch.token_env`"
            }
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => "; the API wants credentials",
            _ => "",
        };
        Err(Failure::Permanent(format!("{message}{hint}")))
    }

    /// Waits until the next request is allowed by `requests_per_minute`.
    async fn pace(&self) {
        let mut last = self.last_request.lock().await;
        if let (Some(rpm), Some(at)) = (self.settings.requests_per_minute, *last) {
            let interval = Duration::from_secs_f64(60.0 / rpm);
            tokio::time::sleep_until(at + interval).await;
        }
        *last = Some(Instant::now());
    }

    /// Full-jitter backoff before retry number `attempt` (1-based).
    fn backoff(&self, attempt: u32) -> Duration {
        let ceiling = (self.settings.backoff_initial_seconds
            * 2f64.powi(attempt.saturating_sub(1).min(30) as i32))
        .min(self.settings.backoff_max_seconds);
        Duration::from_secs_f64(ceiling * random_fraction())
    }

    fn mask(&self, text: String) -> String {
        match &self.bearer {
            Some(s) => s.mask(&text),
            None => text,
        }
    }

    fn error(&self, url: &str, message: String) -> Error {
        Error::Fetch {
            source_name: self.source.clone(),
            url: url.to_string(),
            message: self.mask(message),
        }
    }
}

/// The URL as shown in messages: without user name and password.
pub fn display_url(url: &Url) -> String {
    let mut u = url.clone();
    if !u.username().is_empty() || u.password().is_some() {
        // Only fails for URLs that cannot have credentials, which then have none.
        let _ = u.set_username("");
        let _ = u.set_password(None);
    }
    u.to_string()
}

/// Parses a configured http(s) URL; the error says what is wrong, for a message that names
/// the file and key.
pub fn parse_url(value: &str) -> std::result::Result<Url, String> {
    let url = Url::parse(value).map_err(|e| format!("`{value}` is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("only http and https URLs are supported".into());
    }
    Ok(url)
}

/// How long a `Retry-After` header asks to wait: delay-seconds or an HTTP date.
pub fn retry_after(headers: &HeaderMap, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let text = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = chrono::DateTime::parse_from_rfc2822(text).ok()?;
    let delta = at.with_timezone(&chrono::Utc) - now;
    Some(delta.to_std().unwrap_or(Duration::ZERO))
}

/// `: <first 200 characters of the body>`, or nothing for an empty body.
fn body_snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return String::new();
    }
    let mut snippet: String = text.chars().take(BODY_SNIPPET_CHARS).collect();
    if text.chars().count() > BODY_SNIPPET_CHARS {
        snippet.push('…');
    }
    format!(": {}", snippet.replace(['\r', '\n'], " "))
}

/// An error and its causes, `a: b: c`, without the URL reqwest adds (we show our own).
fn error_chain(e: &reqwest::Error) -> String {
    let mut parts = Vec::new();
    let mut current: Option<&dyn std::error::Error> = Some(e);
    while let Some(err) = current {
        let text = err.to_string();
        if !parts.iter().any(|p: &String| p.contains(&text)) {
            parts.push(text);
        }
        current = err.source();
    }
    // reqwest's own line includes the URL; replace it with the plain kind of failure.
    if let Some(first) = parts.first_mut()
        && let Some(cut) = first.find(" for url (")
    {
        first.truncate(cut);
    }
    parts.join(": ")
}

/// A uniformly distributed number in [0, 1), for jitter. Seeded per call by the standard
/// library's randomly keyed hasher; good enough to keep clients out of step, not for crypto.
fn random_fraction() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// reqwest is built with rustls but without a crypto provider (the default one pulls in a
/// slow C build); ring is installed as the process default, once.
fn install_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Fails only when another provider was installed first, which serves as well.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = chrono::DateTime::parse_from_rfc3339("2015-10-21T07:27:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(7)));
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(60)));
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:00:00 GMT"),
        );
        assert_eq!(retry_after(&h, now), Some(Duration::ZERO), "a past date");
        h.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h, now), None);
    }

    #[test]
    fn urls_are_shown_without_credentials() {
        let u = Url::parse("https://user:pw@example.invalid/x?a=1").unwrap();
        assert_eq!(display_url(&u), "https://example.invalid/x?a=1");
    }

    #[test]
    fn secrets_do_not_print() {
        let s = Secret::new("hunter2");
        assert!(!format!("{s:?}").contains("hunter2"));
        assert_eq!(s.mask("Bearer hunter2 x"), "Bearer [redacted] x");
    }

    #[test]
    fn snippets_are_short_and_on_one_line() {
        let long = "x".repeat(500);
        let s = body_snippet(long.as_bytes());
        assert_eq!(s.chars().count(), 2 + BODY_SNIPPET_CHARS + 1);
        assert_eq!(body_snippet(b"a\r\nb"), ": a  b");
        assert_eq!(body_snippet(b"  "), "");
    }

    #[test]
    fn backoff_stays_under_its_ceiling() {
        let settings = HttpSettings {
            backoff_initial_seconds: 0.5,
            backoff_max_seconds: 3.0,
            ..HttpSettings::default()
        };
        let c = HttpClient::new("s", &settings, None).unwrap();
        for attempt in 1..10 {
            let ceiling = (0.5 * 2f64.powi(attempt as i32 - 1)).min(3.0);
            assert!(c.backoff(attempt).as_secs_f64() <= ceiling);
        }
    }
}
