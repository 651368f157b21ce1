//! Exports the sample generator does not imitate, written by hand in the vendors' layouts:
//! a chat platform's webhook log as JSON Lines, with nested objects, float epoch seconds,
//! tags as an object of objects, events of another kind, a blank line and a broken line.

use crate::common::CopiedProject;

/// Ninchat-style webhook events, one object per line, as a log collector appends them.
const WEBHOOK_LOG: &str = r#"{"event":"audience_complete","session":{"id":"s-1001"},"queue":{"id":"q-nurse","name":"Sairaanhoitajan chat"},"audience":{"request_time":1738400400.25,"accept_time":1738400460.5,"complete_time":1738401000.0},"tagging":{"tags":{"t1":{"name":"ratkaistu"},"t2":{"name":"rokotukset"}}}}
{"event":"audience_request_dropped","session":{"id":"s-1002"},"queue":{"id":"q-nurse","name":"Sairaanhoitajan chat"},"audience":{"request_time":1738404000,"drop_time":1738404300.75},"tagging":{"tags":{}}}

{"event":"audience_complete","session":{"id":"s-1003"},"queue":{"id":"q-mental","name":"Mielenterveyschat"},"audience":{"request_time":1738490000.5,"accept_time":1738490100,"complete_time":1738491000},"tagging":{"tags":[{"name":"kriisi"}]}}
{"event":"audience_complete","session":{"id":"s-1004"},"queue":{"id":"q-nurse","name":"Sairaanhoitajan chat"},"audience":{"request_time":1738500000,"accept_time":1738500060,"complete_time":1738500600},"tagging":{"tags":{"t9":{"name":"ratkaistu"}}}
{"event":"audience_complete","session":{"id":"s-1005"},"queue":{"id":"q-nurse","name":"Sairaanhoitajan chat"},"audience":{"request_time":"eilen","accept_time":1738510060},"tagging":null}
"#;

const SOURCE: &str = r#"
name = "chat_webhooks"
description = "Chat platform webhook log (JSON Lines)"
table = "chats"
[fetch]
kind = "drop_folder"
path = "chat_webhooks"
glob = "*.jsonl"
[format]
kind = "json_lines"
[load]
on_redelivery = "replace"
max_reject_share = 0.5
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
resolved = { from = "tagging.tags.*.name", contains = "ratkaistu" }
"#;

#[test]
fn a_json_lines_webhook_log_loads_by_nested_paths() {
    let project = CopiedProject::new();
    std::fs::write(
        project.dir.path().join("config/sources/chat_webhooks.toml"),
        SOURCE,
    )
    .unwrap();
    let folder = project.inputs.join("chat_webhooks");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("webhooks_2025-02.jsonl"), WEBHOOK_LOG).unwrap();
    let out = project.run(&["load", "chat_webhooks", "--settle-seconds", "0"]);
    assert!(
        out.contains("loaded 1 exports (3 rows, 2 rows quarantined)"),
        "{out}"
    );

    let rows = project.sql(
        "SELECT session_id, queue, nurse_chat, resolved, dropped, \
         CAST(requested_at AS VARCHAR) AS requested, _line \
         FROM chats ORDER BY session_id",
    );
    let got: Vec<String> = rows
        .iter()
        .map(|r| {
            format!(
                "{} {} nurse={} resolved={} dropped={} {} line {}",
                r["session_id"].as_str().unwrap(),
                r["queue"].as_str().unwrap(),
                r["nurse_chat"],
                r["resolved"],
                r["dropped"],
                r["requested"].as_str().unwrap(),
                r["_line"]
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            "s-1001 Sairaanhoitajan chat nurse=true resolved=true dropped=null 2025-02-01T09:00:00.250Z line 1",
            "s-1002 Sairaanhoitajan chat nurse=true resolved=null dropped=true 2025-02-01T10:00:00Z line 2",
            "s-1003 Mielenterveyschat nurse=false resolved=false dropped=null 2025-02-02T09:53:20.500Z line 4",
        ]
    );
    // An empty drop time is missing (SQL reads COALESCE(dropped, accepted_at IS NULL)).
    // The broken line and the unreadable time are in the quarantine with their lines.
    let q = project.sql(
        "SELECT line, \"column\", column_number, raw_value, reason FROM quarantine ORDER BY line",
    );
    assert_eq!(q.len(), 2, "{q:?}");
    assert_eq!(q[0]["line"], 5, "{q:?}");
    assert_eq!(
        q[0]["reason"], "not JSON: EOF while parsing an object",
        "{q:?}"
    );
    assert_eq!(q[0]["column_number"], 247, "{q:?}");
    assert_eq!(q[1]["line"], 6, "{q:?}");
    assert_eq!(q[1]["column"], "audience.request_time", "{q:?}");
    assert_eq!(q[1]["raw_value"], "eilen", "{q:?}");
    assert!(
        q[1]["reason"].as_str().unwrap().contains("epoch seconds"),
        "{q:?}"
    );
}
