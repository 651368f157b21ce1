//! `--as-of` on the command line and `as_of` in the API mean the same instant: a bare date
//! is the end of that day in Helsinki, so both pick the same snapshot, also one published
//! between 22:00 and 24:00 UTC (past midnight in Helsinki, or not yet).

use std::io::{Read, Write};

use chrono::{DateTime, Utc};
use serde_json::Value;
use tilannekuva_desktop::{AppState, DesktopConfig, TokenConfig};
use tilannekuva_tiles::{Strategy, TilesDoc, snapshot};
use tilannekuva_warehouse::Warehouse;

use crate::common::run_ok;

const TOKEN: &str = "as-of-test-token-0123456789";

async fn publish_at(wh: &Warehouse, id: &str, at: &str) {
    let computed_at: DateTime<Utc> = at.parse().unwrap();
    let doc = TilesDoc {
        snapshot_id: id.into(),
        computed_at,
        data_version: 0,
        strategy: Strategy::from_file(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/strategy.toml"),
        )
        .unwrap(),
        tiles: Vec::new(),
    };
    let record = snapshot::write(wh, &doc, &Default::default(), Default::default())
        .await
        .unwrap();
    wh.commit("publish", |m| {
        m.snapshots.push(record.clone());
        Ok(())
    })
    .await
    .unwrap();
}

/// `GET path` on the desktop at `addr`, with the test token; the JSON body.
fn api_get(addr: std::net::SocketAddr, path: &str) -> Value {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {TOKEN}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}\n{body}");
    serde_json::from_str(body).unwrap()
}

fn cli_snapshot(wh: &std::path::Path, as_of: &str) -> String {
    let out = run_ok(&[
        "--warehouse",
        wh.to_str().unwrap(),
        "tiles",
        "--format",
        "json",
        "--as-of",
        as_of,
    ]);
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    doc["snapshot_id"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_date_picks_the_same_snapshot_on_the_command_line_and_in_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("warehouse");
    let wh = Warehouse::open_local(&root).unwrap();
    publish_at(&wh, "noon", "2025-12-31T10:00:00Z").await;
    // 23:30 on New Year's Eve in Helsinki (UTC+2): still 31.12. there.
    publish_at(&wh, "late-evening", "2025-12-31T21:30:00Z").await;
    // 00:30 on 1.1. in Helsinki, though still 31.12. in UTC.
    publish_at(&wh, "past-midnight", "2025-12-31T22:30:00Z").await;
    // Summer: 23:59 on 30.6. in Helsinki (UTC+3) is 20:59Z.
    publish_at(&wh, "midsummer", "2026-06-30T20:59:00Z").await;
    publish_at(&wh, "july", "2026-06-30T21:01:00Z").await;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let config = DesktopConfig::new(addr, vec![TokenConfig::from_secret("t", TOKEN, vec![])]);
    let stop = tokio_util::sync::CancellationToken::new();
    let server = tokio::spawn(tilannekuva_desktop::serve(
        listener,
        AppState::new(wh.clone(), config),
        stop.clone().cancelled_owned(),
    ));

    for (date, expected) in [
        ("2025-12-31", "late-evening"),
        ("2026-01-01", "past-midnight"),
        ("2026-06-30", "midsummer"),
        ("2026-07-01", "july"),
        ("2025-12-31T21:45:00Z", "late-evening"),
    ] {
        let root = root.clone();
        let date_owned = date.to_string();
        let from_cli = tokio::task::spawn_blocking(move || cli_snapshot(&root, &date_owned))
            .await
            .unwrap();
        let path = format!("/api/v1/tiles?as_of={}", date.replace(':', "%3A"));
        let from_api = tokio::task::spawn_blocking(move || api_get(addr, &path))
            .await
            .unwrap();
        assert_eq!(from_cli, expected, "command line, as of {date}");
        assert_eq!(from_api["snapshot"]["id"], expected, "API, as of {date}");
    }
    stop.cancel();
    server.await.unwrap().unwrap();
}
