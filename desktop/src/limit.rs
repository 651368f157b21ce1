//! Failed sign-ins limited per client address: after `failed_sign_ins_per_minute` wrong
//! tokens within a minute (through the sign-in form or as a bearer token), every token from
//! that address is refused with 429 and `Retry-After` until the oldest failure is a minute
//! old, the right one included, so guessing learns nothing while the limit holds. Session
//! cookies are neither counted nor refused: they are signed, and an expired one (a page
//! left open overnight, many of them behind one office address) is no attack.
//!
//! The address is the TCP peer's. Behind a reverse proxy every client shares the proxy's
//! address; limit sign-ins at the proxy there too.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::ConnectInfo;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::ApiError;

const WINDOW: Duration = Duration::from_secs(60);

/// Failures per client address within the last minute.
#[derive(Debug)]
pub(crate) struct SignInLimiter {
    per_minute: u32,
    failures: Mutex<HashMap<IpAddr, VecDeque<Instant>>>,
}

impl SignInLimiter {
    pub(crate) fn new(per_minute: u32) -> Self {
        Self {
            per_minute: per_minute.max(1),
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// How long `client` must wait before its credentials are checked again; `None` when
    /// they may be checked now.
    pub(crate) fn wait(&self, client: IpAddr, now: Instant) -> Option<Duration> {
        let mut all = self.failures.lock().ok()?;
        let list = all.get_mut(&client)?;
        while list
            .front()
            .is_some_and(|t| now.duration_since(*t) >= WINDOW)
        {
            list.pop_front();
        }
        if list.is_empty() {
            all.remove(&client);
            return None;
        }
        (list.len() >= self.per_minute as usize)
            .then(|| WINDOW - now.duration_since(*list.front().expect("not empty")))
    }

    /// Counts a failed sign-in of `client`.
    pub(crate) fn failed(&self, client: IpAddr, now: Instant) {
        if let Ok(mut all) = self.failures.lock() {
            // A flood of distinct addresses must not grow the table without bound.
            if all.len() > 100_000 {
                all.retain(|_, l| l.back().is_some_and(|t| now.duration_since(*t) < WINDOW));
            }
            all.entry(client).or_default().push_back(now);
        }
    }
}

/// The client address of a request (the TCP peer); unspecified when the server was not
/// started with connection info (in-process tests).
pub(crate) fn client_of(extensions: &axum::http::Extensions) -> IpAddr {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::V6(Ipv6Addr::UNSPECIFIED))
}

/// The 429 answer, with `Retry-After` in whole seconds (at least 1).
pub(crate) fn too_many(wait: Duration) -> Response {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let secs = secs.max(1);
    let mut r = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_failed_sign_ins",
        format!("too many failed sign-ins from this address; try again in {secs} s"),
    )
    .into_response();
    if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_holds_for_a_minute_from_the_oldest_failure() {
        let l = SignInLimiter::new(3);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let t0 = Instant::now();
        for i in 0..3 {
            assert_eq!(l.wait(a, t0 + Duration::from_secs(i)), None);
            l.failed(a, t0 + Duration::from_secs(i));
        }
        assert_eq!(
            l.wait(a, t0 + Duration::from_secs(10)),
            Some(Duration::from_secs(50))
        );
        assert_eq!(l.wait(b, t0 + Duration::from_secs(10)), None, "per address");
        // At 60 s the first failure leaves the window: two remain, under the limit.
        assert_eq!(l.wait(a, t0 + Duration::from_secs(60)), None);
    }
}
