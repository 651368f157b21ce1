//! Exports the sample generator does not imitate, written by hand in the vendors' layouts:
//! a chat platform's webhook log as JSON Lines, with nested objects, float epoch seconds,
//! tags as an object of objects and as an array, events of another kind, a blank line, a
//! broken line, a line that is not an object, and a last line cut off by the log rotation.

use crate::common::CopiedProject;

/// Ninchat-style webhook events, one object per line, as a log collector appends them.
const WEBHOOK_LOG: &str = r#"{"event":"audience_complete","session":{"id":"s-1001"},"queue":{"id":"q-nurse","name":"Sairaanhoitajan chat"},"audience":{"request_time":1738400400.25,"accept_time":1738400460.5,"complete_time":1738401000.0},"tagging":{"tags":{"t1":{"name":"ratkaistu"},"t2":{"name":"rokotukset"}}}}
{"event":"audience_request_dropped","session":{"id":"s-1002"},"queue":{"id":"q-nurse","name":"Sairaanhoitajan chat"},"audience":{"request_time":1738404000,"drop_time":1738404300.75},"tagging":{"tags":{}}}

{"event":"audience_complete","session":{"id":"s-1003"},"queue":{"id":"q-mental","name":"Mielenterveyschat"},"audience":{"request_time":1738490000.5,"accept_time":1738490100,"complete_time":1738491000},"tagging":{"tags":[{"name":"kriisi"}]}}
{"event":"audience_complete","session":{"id":"s-1004"},"queue":{"id":"q-nurse","name":"Sairaanhoitajan chat"},"audience":{"request_time":1738500000,"accept_time":1738500060,"complete_time":1738500600},"tagging":{"tags":{"t9":{"name":"ratkaistu"}}}
{"event":"audience_complete","session":{"id":"s-1005"},"queue":{"id":"q-nurse","name":"Sairaanhoitajan chat"},"audience":{"request_time":"eilen","accept_time":1738510060},"tagging":null}
"keepalive"
{"event":"audience_complete","session":{"id":"s-1006"},"queue":{"id":"q-nurse","na"#;

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
max_reject_share = 0.6
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
    let folder = project.add_source("chat_webhooks", SOURCE, &[]);
    std::fs::write(folder.join("webhooks_2025-02.jsonl"), WEBHOOK_LOG).unwrap();
    let out = project.run(&["load", "chat_webhooks", "--settle-seconds", "0"]);
    assert!(
        out.contains("loaded 1 exports (3 rows, 4 rows quarantined)"),
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
    assert_eq!(q.len(), 4, "{q:?}");
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
    assert_eq!(
        (
            q[2]["line"].clone(),
            q[2]["raw_value"].clone(),
            q[2]["reason"].clone()
        ),
        (
            7.into(),
            "\"keepalive\"".into(),
            "expected a JSON object, found a string".into()
        )
    );
    assert_eq!(q[3]["line"], 8, "{q:?}");
    assert_eq!(
        q[3]["reason"], "not JSON: EOF while parsing a string",
        "{q:?}"
    );
}

/// A month of nurse-chat events in the webhook layout: tags sometimes as an object keyed by
/// tag id, sometimes as an array; every fifth request dropped before a nurse took it.
fn march_events() -> (String, usize, usize) {
    let (mut log, mut accepted, mut resolved) = (String::new(), 0, 0);
    for i in 0..45u64 {
        let at = 1_740_816_000 + i * 57_000; // 1.3.2025 10:00 Helsinki to 30.3.
        let is_resolved = i % 3 != 0;
        let tags = match (i % 2, is_resolved) {
            (0, true) => r#"{"t1":{"name":"ratkaistu"},"t7":{"name":"rokotukset"}}"#.to_string(),
            (0, false) => r#"{"t4":{"name":"ohjattu vastaanotolle"}}"#.to_string(),
            (_, true) => r#"[{"name":"ratkaistu"}]"#.to_string(),
            (_, false) => "[]".to_string(),
        };
        let line = if i % 5 == 4 {
            format!(
                r#"{{"event":"audience_request_dropped","session":{{"id":"m-{i}"}},"queue":{{"id":"q-nurse","name":"Sairaanhoitajan chat"}},"audience":{{"request_time":{at}.5,"drop_time":{}}},"tagging":{{"tags":{{}}}}}}"#,
                at + 90
            )
        } else {
            accepted += 1;
            resolved += usize::from(is_resolved);
            format!(
                r#"{{"event":"audience_complete","session":{{"id":"m-{i}"}},"queue":{{"id":"q-nurse","name":"Sairaanhoitajan chat"}},"audience":{{"request_time":{at},"accept_time":{},"complete_time":{}}},"tagging":{{"tags":{tags}}}}}"#,
                at + 40,
                at + 600
            )
        };
        log.push_str(&line);
        log.push('\n');
    }
    (log, accepted, resolved)
}

#[test]
fn a_webhook_log_feeds_the_nurse_chat_tile_exactly() {
    let project = CopiedProject::new();
    let folder = project.add_source("chat_webhooks", SOURCE, &["chat_ninchat", "chat_digisote"]);
    let (log, accepted, resolved) = march_events();
    std::fs::write(folder.join("webhooks_2025-03.jsonl"), log).unwrap();
    project.run(&["load", "--settle-seconds", "0"]);
    project.run(&["compute"]);
    let tiles = project.tiles();
    let march = crate::common::figure(&tiles, "nurse_chat_resolution", "month", "2025-03");
    assert_eq!(
        march["denominator"],
        serde_json::json!(accepted as f64),
        "{march}"
    );
    assert_eq!(
        march["numerator"],
        serde_json::json!(resolved as f64),
        "{march}"
    );
    let share = 100.0 * resolved as f64 / accepted as f64;
    assert!(
        (march["value"].as_f64().unwrap() - share).abs() < 1e-9,
        "{march}"
    );
}

/// An older switchboard queue report: a title block, no contact id, an exact duplicate row
/// (the same call logged twice), and a total line at the end.
fn queue_report(rows: &[String]) -> String {
    let mut text = String::from(
        "Jonoraportti – ensilinjat;;;;\r\nAikaväli: 1.6.2025 - 30.6.2025;;;;\r\n;;;;\r\n\
         Jono;Saapumisaika;Jonotusaika;Tulos;Takaisinsoitto pyydetty\r\n",
    );
    for r in rows {
        text.push_str(r);
        text.push_str("\r\n");
    }
    text.push_str("Yhteensä;;4321;;\r\n");
    text
}

const IDLESS_SOURCE: &str = r#"
name = "switchboard_queues"
description = "Switchboard queue report (CSV without a contact id)"
table = "contacts"
[fetch]
kind = "drop_folder"
path = "switchboard_queues"
glob = "jonoraportti_*.csv"
[format]
kind = "csv"
delimiter = ";"
skip_rows = 3
skip_when = [{ equals = "Yhteensä" }]
[load]
on_redelivery = "replace"
[columns]
contact_id = { key = ["Jono", "Saapumisaika", "Jonotusaika", "Tulos"] }
queue = { from = "Jono" }
service = { from = "Jono", lookup = "queues.service" }
sector = { from = "Jono", lookup = "queues.sector" }
first_line = { from = "Jono", lookup = "queues.first_line" }
channel = { value = "phone" }
received_at = { from = "Saapumisaika", format = "d.m.yyyy H:mm" }
queue_seconds = { from = "Jonotusaika", min = 0 }
outcome = { from = "Tulos", map = { "Vastattu" = "answered", "Takaisinsoitto" = "callback", "Keskeytetty" = "abandoned" } }
callback_requested = { from = "Tulos", map = { "Vastattu" = false, "Takaisinsoitto" = true, "Keskeytetty" = false } }
callback_requested_at = { from = "Takaisinsoitto pyydetty", format = "d.m.yyyy H:mm" }
"#;

/// June's calls: 36 rows, the first one logged twice.
fn june_calls() -> Vec<String> {
    let queues = ["Terveysasemien ensilinja", "Sosiaalipalvelujen neuvonta"];
    let mut rows: Vec<String> = (0..35)
        .map(|i| {
            let (day, hour, minute) = (1 + (i * 7) % 29, 8 + i % 9, (i * 11) % 60);
            let at = format!("{day}.6.2025 {hour}:{minute:02}");
            match i % 3 {
                0 => format!("{};{at};{};Takaisinsoitto;{at}", queues[i % 2], 30 + i),
                1 => format!("{};{at};{};Vastattu;", queues[i % 2], 30 + i),
                _ => format!("{};{at};{};Keskeytetty;", queues[i % 2], 30 + i),
            }
        })
        .collect();
    rows.insert(1, rows[0].clone());
    rows
}

fn ids(project: &CopiedProject) -> Vec<(String, i64)> {
    project
        .sql("SELECT contact_id, _line FROM contacts ORDER BY _line")
        .iter()
        .map(|r| {
            (
                r["contact_id"].as_str().unwrap().to_string(),
                r["_line"].as_i64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn an_export_without_ids_gets_stable_derived_ones() {
    let project = CopiedProject::new();
    let folder = project.add_source(
        "switchboard_queues",
        IDLESS_SOURCE,
        &["callbacks_ace", "callbacks_genesys"],
    );
    let calls = june_calls();
    std::fs::write(
        folder.join("jonoraportti_2025-06.csv"),
        queue_report(&calls),
    )
    .unwrap();
    let out = project.run(&["load", "--settle-seconds", "0"]);
    // The three title lines and the total line are counted, not read as contacts.
    assert!(
        out.contains("loaded 1 exports (36 rows, 0 rows quarantined, 4 rows skipped as not data"),
        "{out}"
    );
    let first = ids(&project);
    assert_eq!(first.len(), 36);
    assert_eq!(
        first[0].1, 5,
        "data starts on line 5, after the title block and header"
    );
    let distinct: std::collections::BTreeSet<&str> =
        first.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(distinct.len(), 36, "every row has its own id");
    // The call logged twice: the same id, the second with its count.
    assert_eq!(first[1].0, format!("{}-2", first[0].0));
    assert!(first[0].0.len() == 24 && first[0].0.chars().all(|c| c.is_ascii_hexdigit()));

    // A corrected redelivery: one outcome fixed, one late call added at the top. The
    // other rows keep their ids, so the ids do not depend on where a row is in the file.
    let mut corrected = calls.clone();
    assert!(corrected[3].contains(";Keskeytetty;"), "{}", corrected[3]);
    corrected[3] = corrected[3].replace(";Keskeytetty;", ";Vastattu;");
    corrected.insert(
        0,
        "Sosiaalipalvelujen neuvonta;30.6.2025 15:59;12;Vastattu;".into(),
    );
    std::fs::write(
        folder.join("jonoraportti_2025-06_korjattu.csv"),
        queue_report(&corrected),
    )
    .unwrap();
    project.run(&["load", "--settle-seconds", "0"]);
    let second = ids(&project);
    assert_eq!(second.len(), 37);
    let before: std::collections::BTreeSet<&str> =
        first.iter().map(|(id, _)| id.as_str()).collect();
    let after: std::collections::BTreeSet<&str> =
        second.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(
        before.difference(&after).count(),
        1,
        "only the corrected row's id changed"
    );
    assert_eq!(
        after.difference(&before).count(),
        2,
        "the corrected row and the late call"
    );

    // The tile counts each row once, as computed here from the corrected report.
    project.run(&["compute"]);
    let tiles = project.tiles();
    let june = crate::common::figure(&tiles, "callback_share", "month", "2025-06");
    let callbacks = corrected
        .iter()
        .filter(|r| r.contains(";Takaisinsoitto;"))
        .count();
    let share = 100.0 * callbacks as f64 / corrected.len() as f64;
    assert_eq!(june["denominator"], serde_json::json!(37.0), "{june}");
    assert!(
        (june["value"].as_f64().unwrap() - share).abs() < 1e-9,
        "{june} vs {share}"
    );
}

/// A feedback platform's API answer: the responses are `data.items`, between metadata
/// and paging links, pretty-printed; each response nests its unit and its answers.
fn survey_answer(scores: &[i64]) -> String {
    let mut items: Vec<serde_json::Value> = scores
        .iter()
        .enumerate()
        .map(|(i, score)| {
            serde_json::json!({
                "id": format!("r-{}", 1000 + i),
                "submitted": format!("2025-03-{:02}T{:02}:15:00+02:00", 1 + i % 28, 8 + i % 9),
                "unit": { "code": if i % 2 == 0 { "TA01" } else { "TA02" }, "name": "ignored" },
                "service": "Vastaanotto",
                "channel": if i % 3 == 0 { "Web" } else { "SMS" },
                "answers": [{ "q": "nps", "score": score }, { "q": "comment", "text": "Kiitos" }],
            })
        })
        .collect();
    items.insert(5, serde_json::json!("poistettu vastaus"));
    items.push(serde_json::json!({
        "id": "r-9999", "submitted": "2025-03-20T12:00:00+02:00",
        "unit": { "code": "TA01" }, "service": "Vastaanotto", "channel": "SMS",
        "answers": [{ "q": "nps", "score": "kymmenen" }],
    }));
    serde_json::to_string_pretty(&serde_json::json!({
        "meta": { "survey": "Asiakaskokemus", "generated": "2025-04-01T06:00:00Z", "page": 1 },
        "data": { "count": items.len(), "items": items },
        "links": { "next": null },
    }))
    .unwrap()
}

const SURVEY_SOURCE: &str = r#"
name = "survey_api"
description = "Feedback platform API answer (JSON document, records at data.items)"
table = "feedback"
ignore = ["id"]
[fetch]
kind = "drop_folder"
path = "survey_api"
glob = "*.json"
[format]
kind = "json"
records = "data.items"
[load]
max_reject_share = 0.1
[columns]
answered_at = { from = "submitted", format = "iso8601" }
unit_code = { from = "unit.code" }
unit = { from = "unit.code", lookup = "units.unit" }
sector = { from = "unit.code", lookup = "units.sector" }
service = { from = "service" }
channel = { from = "channel", map = { "SMS" = "SMS", "Web" = "Web" } }
score = { from = "answers[0].score", min = 0, max = 10 }
"#;

#[test]
fn a_json_document_is_read_from_its_records_path() {
    let project = CopiedProject::new();
    let folder = project.add_source("survey_api", SURVEY_SOURCE, &["nps_roidu"]);
    let scores: Vec<i64> = (0..40)
        .map(|i| [10, 9, 8, 7, 3, 10, 9, 6, 0, 10][i % 10])
        .collect();
    std::fs::write(
        folder.join("responses_2025-03.json"),
        survey_answer(&scores),
    )
    .unwrap();
    let out = project.run(&["load", "--settle-seconds", "0"]);
    assert!(
        out.contains("loaded 1 exports (40 rows, 2 rows quarantined)"),
        "{out}"
    );

    let q = project.sql("SELECT line, \"column\", raw_value, reason FROM quarantine ORDER BY line");
    assert_eq!(q.len(), 2, "{q:?}");
    assert_eq!(
        (
            q[0]["line"].clone(),
            q[0]["raw_value"].clone(),
            q[0]["reason"].clone()
        ),
        (
            6.into(),
            "\"poistettu vastaus\"".into(),
            "expected a JSON object".into()
        )
    );
    assert_eq!(q[1]["line"], 42, "the last record of 42");
    assert_eq!(q[1]["column"], "answers[0].score");
    assert_eq!(q[1]["raw_value"], "kymmenen");

    project.run(&["compute"]);
    let tiles = project.tiles();
    let march = crate::common::figure(&tiles, "nps", "month", "2025-03");
    let promoters = scores.iter().filter(|s| **s >= 9).count() as f64;
    let detractors = scores.iter().filter(|s| **s <= 6).count() as f64;
    let nps = (1000.0 * (promoters - detractors) / scores.len() as f64).round() / 10.0;
    assert_eq!(march["n"], serde_json::json!(40), "{march}");
    assert_eq!(march["value"].as_f64(), Some(nps), "{march}");
}
