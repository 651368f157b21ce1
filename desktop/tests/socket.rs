//! The desktop on a real socket (port 0) with an HTTP client, and graceful shutdown.

mod common;

use common::{ADMIN, HEALTH};

type Server = tokio::task::JoinHandle<std::io::Result<()>>;

/// Serves `state` on a free port of 127.0.0.1: its address, the sender that stops it, and
/// the server's task.
async fn start(
    state: tilannekuva_desktop::AppState,
) -> (
    std::net::SocketAddr,
    tokio::sync::oneshot::Sender<()>,
    Server,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(tilannekuva_desktop::serve(listener, state, async move {
        let _ = stopped.await;
    }));
    (addr, stop, server)
}

/// Posts the sign-in form with `token`.
async fn sign_in(client: &reqwest::Client, base: &str, token: &str) -> reqwest::Response {
    client
        .post(format!("{base}/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("token={token}"))
        .send()
        .await
        .unwrap()
}

/// The `name=value` of the session cookie a sign-in set.
fn session_cookie(r: &reqwest::Response) -> String {
    r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn serves_on_a_real_socket_and_shuts_down() {
    let (_dir, state) = common::state().await;
    let (addr, stop, server) = start(state).await;
    let base = format!("http://{addr}");
    let client = common::client_builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    let r = client.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = client
        .get(format!("{base}/api/v1/tiles"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = client
        .get(format!("{base}/api/v1/tiles?grain=year"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let etag = r.headers()["etag"].to_str().unwrap().to_string();
    assert!(r.headers().contains_key("content-security-policy"));
    let v: serde_json::Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    assert_eq!(v["tiles"].as_array().unwrap().len(), 6);
    let r = client
        .get(format!("{base}/api/v1/tiles?grain=year"))
        .bearer_auth(ADMIN)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);
    // Sign in through the form; the cookie then opens the page.
    let r = sign_in(&client, &base, HEALTH).await;
    assert_eq!(r.status(), 303);
    let cookie = session_cookie(&r);
    let r = client
        .get(format!("{base}/"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("/assets/app.js"));

    stop.send(()).unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(10), server)
        .await
        .expect("the server stops after the shutdown signal")
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn failed_sign_ins_are_limited_per_client_address() {
    let (_dir, state) = common::state().await;
    let (addr, stop, server) = start(state).await;
    let base = format!("http://{addr}");
    let client = common::client_builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    // A session signed in before the guessing starts.
    let r = sign_in(&client, &base, HEALTH).await;
    assert_eq!(r.status(), 303);
    let session = session_cookie(&r);
    // The default limit: 10 wrong tokens a minute, through the form or the API.
    for i in 0..10 {
        let r = if i % 2 == 0 {
            sign_in(&client, &base, &format!("guess-{i}")).await
        } else {
            client
                .get(format!("{base}/api/v1/tiles"))
                .bearer_auth(format!("guess-{i}"))
                .send()
                .await
                .unwrap()
        };
        assert_eq!(r.status(), 401, "attempt {i}");
    }
    // Now every credential from this address waits, the right one too: guessing learns
    // nothing while the limit holds.
    for r in [
        client
            .get(format!("{base}/api/v1/tiles"))
            .bearer_auth(ADMIN)
            .send()
            .await
            .unwrap(),
        sign_in(&client, &base, ADMIN).await,
    ] {
        assert_eq!(r.status(), 429);
        let wait: u64 = r.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=60).contains(&wait), "{wait}");
        let v: serde_json::Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
        assert_eq!(v["error"]["code"], "too_many_failed_sign_ins");
    }
    // A signed session is no guess: it goes on working from the same address.
    let r = client
        .get(format!("{base}/api/v1/tiles"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Requests without credentials are not sign-ins: the health check still answers.
    let r = client.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn metrics_on_their_own_address_need_no_sign_in() {
    let (_dir, wh) = common::warehouse().await;
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let metrics_addr = free.local_addr().unwrap();
    drop(free);
    let mut config = common::config();
    config.metrics_bind = Some(metrics_addr);
    let state = tilannekuva_desktop::AppState::new(wh, config);
    let (addr, stop, server) = start(state).await;
    let client = common::client_builder().build().unwrap();
    let mut r = None;
    for _ in 0..50 {
        match client
            .get(format!("http://{metrics_addr}/metrics"))
            .send()
            .await
        {
            Ok(ok) => {
                r = Some(ok);
                break;
            }
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
        }
    }
    let r = r.expect("the metrics listener answers");
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert!(
        text.contains("tilannekuva_source_rows_loaded_total{source=\"contact_centre\"} 4269"),
        "{text}"
    );
    // The desktop's own address no longer serves them.
    let r = client
        .get(format!("http://{addr}/metrics"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}
