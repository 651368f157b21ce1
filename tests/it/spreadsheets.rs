//! Spreadsheet exports, written by office-suite writers (openpyxl, xlwt, odfpy) the way a
//! contact-centre report is saved: an instructions sheet first, a title block, group
//! labels merged over the column labels, dates as Excel serial numbers beside dates typed
//! as text, queue times stored as text with a decimal comma, a `Yhteensä` row and a note
//! below the table. No id column: the config derives one. One config reads the March
//! report as `.xlsx`, April's as `.xls` and May's as `.ods`.

use chrono::{Duration, NaiveDate, NaiveDateTime};
use serde_json::{Value, json};

use crate::common::{CopiedProject, figure, write_workbook};

const SOURCE: &str = r#"
name = "callbacks_report"
description = "Contact-centre callback report (monthly workbook, no contact id)"
table = "contacts"
[fetch]
kind = "drop_folder"
path = "callbacks_report"
glob = "takaisinsoitot_*"
[format]
kind = "excel"
sheet = "Yhteydet"
header_rows = 2
skip_when = [{ equals = "Yhteensä" }, { starts_with = "Huom" }]
[load]
on_redelivery = "replace"
max_reject_share = 0.1
[columns]
contact_id = { key = ["Jono", "Yhteys Saapumisaika"] }
queue = { from = "Jono" }
service = { from = "Jono", lookup = "queues.service" }
sector = { from = "Jono", lookup = "queues.sector" }
first_line = { from = "Jono", lookup = "queues.first_line" }
channel = { value = "phone" }
received_at = { from = "Yhteys Saapumisaika", format = "d.m.yyyy H:mm" }
queue_seconds = { from = "Yhteys Jonotusaika (s)", min = 0 }
outcome = { from = "Tulos", map = { "Vastattu" = "answered", "Takaisinsoitto" = "callback", "Keskeytetty" = "abandoned" } }
callback_requested = { from = "Tulos", map = { "Vastattu" = false, "Takaisinsoitto" = true, "Keskeytetty" = false } }
callback_requested_at = { from = "Takaisinsoitto Pyydetty", format = "d.m.yyyy H:mm" }
callback_reached_at = { from = "Takaisinsoitto Tavoitettu", format = "d.m.yyyy H:mm" }
callback_attempts = { from = "Takaisinsoitto Yrityksiä", min = 0 }
"#;

const QUEUES: [&str; 3] = [
    "Terveysasemien ensilinja",
    "Ikäihmisten palveluneuvonta",
    "Sosiaalipalvelujen neuvonta",
];

/// One contact of a report, as the test knows it.
struct Contact {
    queue: &'static str,
    received: NaiveDateTime,
    queue_seconds: f64,
    callback: bool,
    answered: bool,
}

/// `n` contacts spread over the month starting `first`.
fn contacts(first: NaiveDate, n: usize) -> Vec<Contact> {
    (0..n)
        .map(|i| {
            let day = first + Duration::days(((i * 13) % 28) as i64);
            let at = day.and_hms_opt(8 + (i % 8) as u32, ((i * 7) % 60) as u32, 0);
            Contact {
                queue: QUEUES[i % 3],
                received: at.unwrap(),
                queue_seconds: (i * 17 % 300) as f64 + if i % 4 == 1 { 0.5 } else { 0.0 },
                callback: i % 5 < 2,
                answered: i % 5 == 2 || i % 5 == 3,
            }
        })
        .collect()
}

fn date_cell(t: NaiveDateTime) -> Value {
    json!({ "date": t.format("%Y-%m-%dT%H:%M:%S").to_string() })
}

/// The report workbook's two sheets; `bad_row` puts a queue time nobody can read in one
/// contact's row.
fn report(first: NaiveDate, contacts: &[Contact], bad_row: Option<usize>) -> Value {
    let month = first.format("%-m.%Y");
    let mut rows: Vec<Value> = vec![
        json!(["Takaisinsoittoraportti – ensilinjan jonot"]),
        json!([
            "Aikaväli",
            format!(
                "1.{month} – {}",
                (first + Duration::days(27)).format("%-d.%-m.%Y")
            )
        ]),
        json!([
            "Tulostettu",
            date_cell(first.and_hms_opt(7, 2, 0).unwrap() + Duration::days(40))
        ]),
        json!([]),
        json!([
            "Jono",
            "Yhteys",
            null,
            "Tulos",
            "Takaisinsoitto",
            null,
            null
        ]),
        json!([
            null,
            "Saapumisaika",
            "Jonotusaika (s)",
            null,
            "Pyydetty",
            "Tavoitettu",
            "Yrityksiä"
        ]),
    ];
    for (i, c) in contacts.iter().enumerate() {
        // Every other time was typed in by hand as text, the others are date cells.
        let time = |t: NaiveDateTime| {
            if i % 2 == 0 {
                date_cell(t)
            } else {
                json!(t.format("%-d.%-m.%Y %-H:%M").to_string())
            }
        };
        let wait = if bad_row == Some(i) {
            json!("ei tietoa")
        } else if i % 4 == 1 {
            json!(format!("{}", c.queue_seconds).replace('.', ","))
        } else {
            json!(c.queue_seconds)
        };
        let outcome = match (c.callback, c.answered) {
            (true, _) => "Takaisinsoitto",
            (false, true) => "Vastattu",
            _ => "Keskeytetty",
        };
        let (asked, reached, tries) = if c.callback {
            let asked = c.received + Duration::minutes(2);
            (
                time(asked),
                time(asked + Duration::hours(3)),
                json!(1 + i % 2),
            )
        } else {
            (Value::Null, Value::Null, Value::Null)
        };
        rows.push(json!([
            c.queue,
            time(c.received),
            wait,
            outcome,
            asked,
            reached,
            tries
        ]));
    }
    let total: f64 = contacts.iter().map(|c| c.queue_seconds).sum();
    rows.push(json!(["Yhteensä", null, total, null, null, null, null]));
    rows.push(json!([]));
    rows.push(json!(["Huom: luvut sisältävät vain ensilinjan jonot."]));
    json!([
        { "name": "Ohje", "rows": [["Raportti päivittyy kuun ensimmäisenä arkipäivänä."]] },
        {
            "name": "Yhteydet",
            "rows": rows,
            "merges": [[1, 1, 1, 7], [5, 1, 6, 1], [5, 2, 5, 3], [5, 4, 6, 4], [5, 5, 5, 7]],
        },
    ])
}

/// Callback share (%) of first-line contacts, computed here from the contacts.
fn callback_share(contacts: &[Contact], skip: Option<usize>) -> (f64, usize) {
    let kept: Vec<&Contact> = contacts
        .iter()
        .enumerate()
        .filter(|(i, _)| Some(*i) != skip)
        .map(|(_, c)| c)
        .collect();
    let callbacks = kept.iter().filter(|c| c.callback).count();
    (100.0 * callbacks as f64 / kept.len() as f64, kept.len())
}

#[test]
fn monthly_workbooks_load_by_config_as_xlsx_xls_and_ods() {
    let project = CopiedProject::new();
    // This report is the only source of contacts here, so months are judged by it alone.
    let folder = project.add_source(
        "callbacks_report",
        SOURCE,
        &["callbacks_ace", "callbacks_genesys"],
    );
    let day = |s: &str| s.parse::<NaiveDate>().unwrap();
    let months = [
        (day("2025-03-01"), 40, "xlsx", Some(7)),
        (day("2025-04-01"), 36, "xls", None),
        (day("2025-05-01"), 33, "ods", None),
    ];
    let mut all = Vec::new();
    for (first, n, kind, bad) in months {
        let month_contacts = contacts(first, n);
        let name = format!("takaisinsoitot_{}.{kind}", first.format("%Y-%m"));
        write_workbook(&folder.join(name), report(first, &month_contacts, bad));
        all.push((first, month_contacts, bad));
    }

    let out = project.run(&["load", "callbacks_report", "--settle-seconds", "0"]);
    // Per report: three title rows, the total and the note are skipped, never read.
    assert!(
        out.contains("loaded 3 exports (108 rows, 1 rows quarantined, 15 rows skipped as not data"),
        "{out}"
    );

    // Every value arrived as the report shows it, whichever way the cell held it.
    let rows = project.sql(
        "SELECT queue, CAST(received_at AS VARCHAR) AS received, queue_seconds, outcome, \
         CAST(callback_reached_at AS VARCHAR) AS reached, callback_attempts, _line \
         FROM contacts WHERE _line IN (7, 8, 10) AND received_at < '2025-04-01' ORDER BY _line",
    );
    let got: Vec<String> = rows
        .iter()
        .map(|r| {
            format!(
                "{} {} {} {} {} {} line {}",
                r["queue"].as_str().unwrap(),
                r["received"].as_str().unwrap(),
                r["queue_seconds"],
                r["outcome"].as_str().unwrap(),
                r["reached"].as_str().unwrap_or("-"),
                r["callback_attempts"],
                r["_line"]
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            // Contact 0: date cells (08:00 Helsinki = 06:00 UTC in winter).
            "Terveysasemien ensilinja 2025-03-01T06:00:00Z 0.0 callback 2025-03-01T09:02:00Z 1 line 7",
            // Contact 1: times typed as text, the queue time "17,5" as text.
            "Ikäihmisten palveluneuvonta 2025-03-14T07:07:00Z 17.5 callback 2025-03-14T10:09:00Z 2 line 8",
            // Contact 3: answered, no callback.
            "Terveysasemien ensilinja 2025-03-12T09:21:00Z 51.0 answered - null line 10",
        ]
    );

    // The unreadable queue time is quarantined naming the sheet, row, column and value.
    let q = project.sql(
        "SELECT file_name, sheet, line, \"column\", column_number, raw_value, reason FROM quarantine",
    );
    assert_eq!(q.len(), 1, "{q:?}");
    assert_eq!(q[0]["file_name"], "takaisinsoitot_2025-03.xlsx");
    assert_eq!(q[0]["sheet"], "Yhteydet");
    assert_eq!(q[0]["line"], 14, "row 14 of the sheet: contact 7");
    assert_eq!(q[0]["column"], "Yhteys Jonotusaika (s)");
    assert_eq!(q[0]["column_number"], 3);
    assert_eq!(q[0]["raw_value"], "ei tietoa");
    let reason = q[0]["reason"].as_str().unwrap();
    assert!(reason.starts_with("expected a number"), "{reason}");

    // Derived ids: one per contact, the same on a second read of the same rows.
    let ids = project.sql("SELECT COUNT(DISTINCT contact_id) AS ids, COUNT(*) AS n FROM contacts");
    assert_eq!(
        (ids[0]["ids"].clone(), ids[0]["n"].clone()),
        (json!(108), json!(108))
    );

    // The tile equals the share computed here from the contacts.
    project.run(&["compute"]);
    let tiles = project.tiles();
    for (first, month_contacts, bad) in &all {
        let period = first.format("%Y-%m").to_string();
        let f = figure(&tiles, "callback_share", "month", &period);
        let (share, n) = callback_share(month_contacts, *bad);
        assert_eq!(f["denominator"], json!(n as f64), "{period}: {f}");
        let value = f["value"]
            .as_f64()
            .unwrap_or_else(|| panic!("{period}: {f}"));
        assert!((value - share).abs() < 1e-9, "{period}: {value} vs {share}");
    }
}
