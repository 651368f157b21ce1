//! The tile API under load: the desktop router on 127.0.0.1, and a closed-loop load generator
//! (a fixed number of connections, each sending its next request when the last one ends).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use tilannekuva_desktop::{AppState, DesktopConfig, TokenConfig};
use tilannekuva_warehouse::{Location, StoreSettings, Warehouse};

const TOKEN: &str = "bench-token-not-secret";

/// Latency percentiles and throughput of one endpoint.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServeResult {
    /// The path asked for.
    pub path: String,
    /// Concurrent connections.
    pub concurrency: usize,
    /// Requests answered 200.
    pub ok: u64,
    /// Other answers and failures.
    pub errors: u64,
    /// Requests per second.
    pub throughput: f64,
    /// Median latency, ms.
    pub p50_ms: f64,
    /// 90th percentile, ms.
    pub p90_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
    /// Slowest, ms.
    pub max_ms: f64,
    /// Bytes of one response body.
    pub body_bytes: usize,
}

/// Serves the warehouse's tiles on a loopback port on its own runtime (`threads` workers) and
/// loads each of `paths` for `seconds` with `concurrency` connections.
pub fn bench_api(
    warehouse: &Location,
    threads: usize,
    paths: &[&str],
    seconds: f64,
    concurrency: usize,
) -> Result<Vec<ServeResult>> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let wh = Warehouse::open(warehouse, &StoreSettings::default())?;
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .enable_all()
        .build()?;
    let listener = server_rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let addr: SocketAddr = listener.local_addr()?;
    let config = DesktopConfig::new(addr, vec![TokenConfig::from_secret("bench", TOKEN, vec![])]);
    let state = AppState::new(wh, config);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = server_rt.spawn(tilannekuva_desktop::serve(listener, state, async {
        let _ = stop_rx.await;
    }));

    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .enable_all()
        .build()?;
    let result = client_rt.block_on(async {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(concurrency)
            .build()?;
        let mut out = Vec::new();
        for path in paths {
            // `PATH (gzip)`: asked with `Accept-Encoding: gzip`, the body measured compressed.
            let (route, gzip) = match path.strip_suffix(" (gzip)") {
                Some(route) => (route, true),
                None => (*path, false),
            };
            let url = format!("http://{addr}{route}");
            // Warm-up: the first request reads and caches the snapshot.
            let first = request(&client, &url, gzip)
                .send()
                .await?
                .error_for_status()
                .with_context(|| url.clone())?;
            let encoded = first.headers().get("content-encoding").is_some();
            anyhow::ensure!(
                encoded == gzip,
                "{path}: asked {} gzip, answered {} it",
                if gzip { "with" } else { "without" },
                if encoded { "with" } else { "without" }
            );
            let body = first.bytes().await?;
            out.push(load(&client, &url, gzip, path, seconds, concurrency, body.len()).await);
        }
        anyhow::Ok(out)
    });
    let _ = stop_tx.send(());
    let _ = server_rt.block_on(server);
    result
}

fn request(client: &reqwest::Client, url: &str, gzip: bool) -> reqwest::RequestBuilder {
    let r = client.get(url).bearer_auth(TOKEN);
    if gzip {
        r.header("accept-encoding", "gzip")
    } else {
        r
    }
}

async fn load(
    client: &reqwest::Client,
    url: &str,
    gzip: bool,
    path: &str,
    seconds: f64,
    concurrency: usize,
    body_bytes: usize,
) -> ServeResult {
    let start = Instant::now();
    let end = start + Duration::from_secs_f64(seconds);
    let mut tasks = Vec::new();
    for _ in 0..concurrency.max(1) {
        let client = client.clone();
        let url = url.to_string();
        tasks.push(tokio::spawn(async move {
            let (mut lat, mut errors) = (Vec::new(), 0u64);
            while Instant::now() < end {
                let t = Instant::now();
                let ok = match request(&client, &url, gzip).send().await {
                    Ok(r) if r.status().is_success() => r.bytes().await.is_ok(),
                    _ => false,
                };
                if ok {
                    lat.push(t.elapsed().as_secs_f64() * 1000.0);
                } else {
                    errors += 1;
                }
            }
            (lat, errors)
        }));
    }
    let (mut lat, mut errors) = (Vec::new(), 0);
    for t in tasks {
        if let Ok((l, e)) = t.await {
            lat.extend(l);
            errors += e;
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    lat.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f64| {
        if lat.is_empty() {
            f64::NAN
        } else {
            lat[((lat.len() as f64 * p).ceil() as usize).clamp(1, lat.len()) - 1]
        }
    };
    ServeResult {
        path: path.to_string(),
        concurrency,
        ok: lat.len() as u64,
        errors,
        throughput: lat.len() as f64 / elapsed,
        p50_ms: pct(0.50),
        p90_ms: pct(0.90),
        p99_ms: pct(0.99),
        max_ms: lat.last().copied().unwrap_or(f64::NAN),
        body_bytes,
    }
}
