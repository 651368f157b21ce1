//! The JSON Lines ingest benchmark: a chat platform's webhook log (one event object per line,
//! nested `session`, `queue`, `audience` and `tagging` objects, epoch seconds) to the `chats`
//! table, against DuckDB's `read_json` and Polars' `scan_ndjson` doing the same mapping.
//!
//! The log is made from the generated `chat_ninchat` sessions of the size, one event per
//! session in the webhook layout, so it holds the same sessions the CSV export does. It is
//! written whole and as every fourth event (the same months, a quarter of the size), to show
//! how peak memory grows with the file.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde_json::{Value, json};

use crate::Dataset;

/// The source the benchmark loads: the webhook log's config (`config/sources/`), the same
/// mapping as `chat_ninchat`'s, by paths into the events.
pub const JSONL_SOURCE: &str = "chat_webhooks";

/// The CSV source whose sessions the log is made of.
const FROM_SOURCE: &str = "chat_ninchat";

const SOURCE_CONFIG: &str = r#"# Chat platform webhook log (benchmark): one event per session.
name = "chat_webhooks"
description = "Chat platform webhook log (JSON Lines), made of the chat_ninchat sessions"
table = "chats"
checks = ["accepted_at >= requested_at", "finished_at >= accepted_at"]

[fetch]
kind = "drop_folder"
path = "chat_webhooks"
glob = "*.jsonl"

[format]
kind = "json_lines"

[load]
on_redelivery = "replace"
max_reject_share = 0.1

[columns]
session_id = { from = "session.id" }
queue = { from = "queue.name" }
service = { from = "queue.name", lookup = "queues.service" }
sector = { from = "queue.name", lookup = "queues.sector" }
nurse_chat = { from = "queue.name", lookup = "queues.nurse_chat" }
digital_sote = { from = "queue.name", lookup = "queues.digital_sote" }
channel = { value = "chat" }
requested_at = { from = "audience.request_time", format = "epoch_seconds" }
accepted_at = { from = "audience.accept_time", format = "epoch_seconds" }
finished_at = { from = "audience.complete_time", format = "epoch_seconds" }
dropped_at = { from = "audience.drop_time", format = "epoch_seconds" }
dropped = { from = "audience.drop_time", map = {}, default = true }
resolved = { from = "tagging.tags[*].name", contains = "ratkaistu" }
"#;

/// The webhook log of one size, and a project config that has its source.
#[derive(Debug, Clone)]
pub struct JsonlData {
    /// The project config with the `chat_webhooks` source added.
    pub config: PathBuf,
    /// Drop folders root holding the whole log.
    pub full_inputs: PathBuf,
    /// The whole log.
    pub full: PathBuf,
    /// Lines of the whole log.
    pub full_rows: u64,
    /// Drop folders root holding the quarter log.
    pub quarter_inputs: PathBuf,
    /// Every fourth event of the log: the same months, a quarter of the size.
    pub quarter: PathBuf,
    /// Lines of the quarter.
    pub quarter_rows: u64,
}

/// Writes (or reuses) the webhook log of `ds` and a copy of the project config at
/// `repo_config` with the log's source added.
pub fn prepare(ds: &Dataset, repo_config: &Path) -> Result<JsonlData> {
    let root = ds.dir.join("jsonl");
    let config_dir = root.join("config");
    let repo_dir = repo_config.parent().context("config folder")?;
    let _ = std::fs::remove_dir_all(&config_dir);
    crate::copy_tree(repo_dir, &config_dir)?;
    std::fs::write(
        config_dir.join(format!("sources/{JSONL_SOURCE}.toml")),
        SOURCE_CONFIG,
    )?;
    // The SQL folder is named relative to the config file: link it beside the copy.
    let sql = repo_dir.parent().context("repository")?.join("sql");
    let linked = root.join("sql");
    if !linked.exists() {
        std::os::unix::fs::symlink(&sql, &linked)?;
    }
    let data = JsonlData {
        config: config_dir.join(repo_config.file_name().context("config file")?),
        full_inputs: root.join("full"),
        full: root
            .join("full")
            .join(JSONL_SOURCE)
            .join("webhooks_all.jsonl"),
        full_rows: 0,
        quarter_inputs: root.join("quarter"),
        quarter: root
            .join("quarter")
            .join(JSONL_SOURCE)
            .join("webhooks_quarter.jsonl"),
        quarter_rows: 0,
    };
    let counts = root.join("rows.json");
    let stamp = format!(
        "{} every 4th",
        std::fs::read_to_string(ds.dir.join("generated.txt")).unwrap_or_default()
    );
    if std::fs::read_to_string(root.join("generated.txt")).ok() == Some(stamp.clone())
        && let Ok(text) = std::fs::read_to_string(&counts)
    {
        let (full_rows, quarter_rows): (u64, u64) = serde_json::from_str(&text)?;
        return Ok(JsonlData {
            full_rows,
            quarter_rows,
            ..data
        });
    }
    let mut events = Vec::new();
    for file in crate::sorted_files(&ds.history.join(FROM_SOURCE))? {
        let mut reader = csv::Reader::from_path(&file)?;
        let header = reader.headers()?.clone();
        for record in reader.records() {
            events.push(event(&header, &record?));
        }
    }
    let write = |path: &Path, events: &mut dyn Iterator<Item = &String>| -> Result<u64> {
        std::fs::create_dir_all(path.parent().context("folder")?)?;
        let mut out = BufWriter::new(std::fs::File::create(path)?);
        let mut n = 0;
        for e in events {
            out.write_all(e.as_bytes())?;
            out.write_all(b"\n")?;
            n += 1;
        }
        out.flush()?;
        Ok(n)
    };
    let full_rows = write(&data.full, &mut events.iter())?;
    let quarter_rows = write(&data.quarter, &mut events.iter().step_by(4))?;
    std::fs::write(&counts, serde_json::to_string(&(full_rows, quarter_rows))?)?;
    std::fs::write(root.join("generated.txt"), stamp)?;
    Ok(JsonlData {
        full_rows,
        quarter_rows,
        ..data
    })
}

/// One `chat_ninchat` session as the platform's webhook event: `audience_complete`, or
/// `audience_request_dropped` with a drop time; tags as an array of objects.
fn event(header: &csv::StringRecord, record: &csv::StringRecord) -> String {
    let get = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .and_then(|i| record.get(i))
            .unwrap_or_default()
    };
    let time = |name: &str| -> Value {
        get(name)
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map_or(Value::Null, Value::Number)
    };
    let dropped = !get("drop_time").is_empty();
    let tags: Vec<Value> = get("tags")
        .split(';')
        .filter(|t| !t.is_empty())
        .map(|t| json!({ "name": t }))
        .collect();
    let mut audience = json!({
        "request_time": time("request_time"),
        "accept_time": time("accept_time"),
        "complete_time": time("finish_time"),
    });
    if dropped {
        audience["drop_time"] = time("drop_time");
    }
    json!({
        "event": if dropped { "audience_request_dropped" } else { "audience_complete" },
        "session": { "id": get("session_id") },
        "queue": { "id": get("queue_id"), "name": get("queue_name") },
        "audience": audience,
        "tagging": { "tags": tags },
    })
    .to_string()
}
