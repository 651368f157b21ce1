//! Completeness that means it, over hand-written exports in the Telia ACE layout: a month
//! cut at the 14th is incomplete and says how far it reaches, until the whole month is
//! redelivered; a header-only file named for a month is an explicit "no events" delivery;
//! a month nobody sent is missing.

use std::fmt::Write;

use chrono::{Datelike, NaiveDate, Weekday};
use serde_json::Value;

use crate::common::{CopiedProject, figure};

const HEADER: &str = "Yhteys-ID;Jono;Saapumisaika;Soittajan numero;Jonotusaika (s);Tulos;\
Takaisinsoitto pyydetty;Takaisinsoitto tavoitettu;Soittoyrityksiä;Takaisinsoiton tila";

/// An ACE export as the reporting server writes it (BOM, `;`, decimal comma, wall-clock
/// times, a caller's number in every row): three contacts each working day from `from`
/// through `through`, every third one a callback reached the next hour.
fn ace_export(from: NaiveDate, through: NaiveDate) -> String {
    let mut out = format!("\u{feff}{HEADER}\r\n");
    let mut id = from.ordinal() * 100;
    for day in from.iter_days().take_while(|d| *d <= through) {
        if matches!(day.weekday(), Weekday::Sat | Weekday::Sun) {
            continue;
        }
        let date = day.format("%-d.%-m.%Y");
        for (i, hour) in [8, 11, 14].into_iter().enumerate() {
            id += 1;
            let (outcome, asked, reached, attempts, state) = if i == 1 {
                (
                    "Takaisinsoitto",
                    format!("{date} {hour}:05:00"),
                    format!("{date} {}:10:00", hour + 1),
                    "1",
                    "Tavoitettu",
                )
            } else {
                ("Vastattu", String::new(), String::new(), "0", "")
            };
            writeln!(
                out,
                "ACE-{id};Terveysasemien ensilinja;{date} {hour}:0{i}:17;+358 40 123 45{i}{i};\
                 {},4;{outcome};{asked};{reached};{attempts};{state}\r",
                30 + i * 7
            )
            .unwrap();
        }
    }
    out
}

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn missing(f: &Value) -> Vec<&str> {
    f["missing"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap())
        .collect()
}

#[test]
fn a_cut_month_is_grey_until_redelivered_and_a_declared_empty_month_counts() {
    let project = CopiedProject::new();
    // The contacts table here comes from ACE alone, whose monthly files are named for
    // their month.
    std::fs::remove_file(
        project
            .dir
            .path()
            .join("config/sources/callbacks_genesys.toml"),
    )
    .unwrap();
    project.edit(
        "sources/callbacks_ace.toml",
        "end_within_days = 3\n",
        "end_within_days = 3\ncovered_range_from_name = '_(?P<month>\\d{4}-\\d{2})\\.csv$'\n",
    );
    let folder = project.inputs.join("callbacks_ace");
    std::fs::create_dir_all(&folder).unwrap();
    let drop = |name: &str, text: &str| std::fs::write(folder.join(name), text).unwrap();
    // April: the queue was closed; the report has only its header.
    drop("ace_contacts_2025-04.csv", &format!("\u{feff}{HEADER}\r\n"));
    // May ends on a Saturday: its last contacts are on Friday 30.5., within 3 days.
    drop(
        "ace_contacts_2025-05.csv",
        &ace_export(day("2025-05-01"), day("2025-05-31")),
    );
    // The June report was run on the 14th: its data stops on Friday 13.6.
    drop(
        "ace_contacts_2025-06.csv",
        &ace_export(day("2025-06-01"), day("2025-06-14")),
    );
    // July was never sent.
    drop(
        "ace_contacts_2025-08.csv",
        &ace_export(day("2025-08-01"), day("2025-08-31")),
    );

    let load = project.run(&["load", "--settle-seconds", "0"]);
    assert!(load.contains("loaded 4 exports"), "{load}");
    project.run(&["compute"]);
    let tiles = project.tiles();

    let june = figure(&tiles, "callback_share", "month", "2025-06");
    assert_eq!(
        missing(june),
        ["callbacks_ace 2025-06 (data through 13.6.2025)"]
    );
    assert_eq!(june["complete"], false);
    assert_eq!(june["status"], "grey");
    assert_eq!(
        june["status_reason"],
        "incomplete data: missing callbacks_ace 2025-06 (data through 13.6.2025)"
    );
    // A whole month (ending on a weekend) is complete and judged.
    let may = figure(&tiles, "callback_share", "month", "2025-05");
    assert_eq!(
        (may["complete"].clone(), missing(may)),
        (true.into(), vec![])
    );
    assert_ne!(may["status"], "grey", "{may}");
    let q2 = figure(&tiles, "callback_share", "quarter", "2025-Q2");
    assert_eq!(
        missing(q2),
        ["callbacks_ace 2025-06 (data through 13.6.2025)"]
    );
    // April counts, delivered with no events; July and September were never sent.
    let q3 = figure(&tiles, "callback_share", "quarter", "2025-Q3");
    assert_eq!(
        missing(q3),
        ["callbacks_ace 2025-07", "callbacks_ace 2025-09"],
        "{q3}"
    );
    let year = missing(figure(&tiles, "callback_share", "year", "2025")).join(", ");
    assert!(
        year.contains("callbacks_ace 2025-03") && !year.contains("2025-04"),
        "{year}"
    );

    // The whole of June, redelivered under the same name, replaces the cut export.
    drop(
        "ace_contacts_2025-06.csv",
        &ace_export(day("2025-06-01"), day("2025-06-30")),
    );
    let load = project.run(&["load", "--settle-seconds", "0"]);
    assert!(load.contains("loaded 1 export"), "{load}");
    project.run(&["compute"]);
    let tiles = project.tiles();
    let june = figure(&tiles, "callback_share", "month", "2025-06");
    assert_eq!(
        (june["complete"].clone(), missing(june)),
        (true.into(), vec![])
    );
    let q2 = figure(&tiles, "callback_share", "quarter", "2025-Q2");
    assert_eq!(q2["complete"], true, "{q2}");
    assert_eq!(q2["n"], 3 * (22 + 21), "every working day's contacts");
}

#[test]
fn check_refuses_a_declared_range_without_a_way_to_declare_it() {
    let project = CopiedProject::new();
    project.edit(
        "sources/callbacks_ace.toml",
        "complete_when = \"data_reaches_end\"",
        "complete_when = \"declared_range\"",
    );
    project.edit("sources/chat_digisote.toml", "(?P<month>", "(?P<kuukausi>");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tilannekuva"))
        .arg("--config")
        .arg(&project.config)
        .arg("check")
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("callbacks_ace.toml") && text.contains("load.complete_when"),
        "{text}"
    );
    assert!(
        text.contains("chat_digisote.toml")
            && text.contains("load.covered_range_from_name")
            && text.contains("must name exactly one of"),
        "{text}"
    );
}
