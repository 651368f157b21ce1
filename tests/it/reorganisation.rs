//! Units across a reorganisation, over a Roidu export written by hand: Hausjärven
//! terveysasema (TA06) is merged into Riihimäen terveysasema (TA02) on 15.5.2025, in the
//! middle of a quarter, and the maternity clinic (NE01) moves from the family services to
//! the health services on 1.5.2025. The vendor keeps sending TA06 for a few days after the
//! merge, once at 0:10 on the first day (still 14.5. in UTC).

use crate::common::{CopiedProject, figure};

/// One response: Helsinki wall-clock time as Roidu writes it, unit, code, service,
/// channel, score.
type Response = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    i64,
);

const HAUSJARVI: &str = "Hausjärven terveysasema";
const RIIHIMAKI: &str = "Riihimäen terveysasema";
const NEUVOLA: &str = "Äitiys- ja lastenneuvola Hämeenlinna";

const APRIL: &[Response] = &[
    (
        "2.4.2025 8:15",
        HAUSJARVI,
        "TA06",
        "Terveysasemat",
        "SMS",
        10,
    ),
    (
        "3.4.2025 9:40",
        HAUSJARVI,
        "TA06",
        "Terveysasemat",
        "SMS",
        9,
    ),
    (
        "7.4.2025 13:05",
        HAUSJARVI,
        "TA06",
        "Terveysasemat",
        "Web",
        4,
    ),
    (
        "9.4.2025 10:00",
        RIIHIMAKI,
        "TA02",
        "Terveysasemat",
        "SMS",
        10,
    ),
    (
        "10.4.2025 11:30",
        RIIHIMAKI,
        "TA02",
        "Terveysasemat",
        "SMS",
        8,
    ),
    ("14.4.2025 14:20", NEUVOLA, "NE01", "Neuvolat", "SMS", 10),
    ("16.4.2025 8:55", NEUVOLA, "NE01", "Neuvolat", "Web", 9),
    (
        "22.4.2025 15:10",
        HAUSJARVI,
        "TA06",
        "Terveysasemat",
        "SMS",
        7,
    ),
    (
        "24.4.2025 9:00",
        RIIHIMAKI,
        "TA02",
        "Terveysasemat",
        "Web",
        2,
    ),
    ("30.4.2025 23:50", NEUVOLA, "NE01", "Neuvolat", "SMS", 6),
];

/// May: the last TA06 day is 14.5.; 15.5. 0:10 and 20.5. are after the merge.
const MAY: &[Response] = &[
    ("1.5.2025 0:05", NEUVOLA, "NE01", "Neuvolat", "SMS", 10),
    (
        "2.5.2025 10:00",
        HAUSJARVI,
        "TA06",
        "Terveysasemat",
        "SMS",
        10,
    ),
    (
        "5.5.2025 12:00",
        RIIHIMAKI,
        "TA02",
        "Terveysasemat",
        "SMS",
        9,
    ),
    ("6.5.2025 8:30", NEUVOLA, "NE01", "Neuvolat", "Web", 9),
    (
        "8.5.2025 9:15",
        HAUSJARVI,
        "TA06",
        "Terveysasemat",
        "Web",
        3,
    ),
    (
        "12.5.2025 14:00",
        RIIHIMAKI,
        "TA02",
        "Terveysasemat",
        "SMS",
        10,
    ),
    (
        "14.5.2025 23:30",
        HAUSJARVI,
        "TA06",
        "Terveysasemat",
        "SMS",
        9,
    ),
    (
        "15.5.2025 0:10",
        HAUSJARVI,
        "TA06",
        "Terveysasemat",
        "SMS",
        10,
    ),
    (
        "15.5.2025 8:00",
        RIIHIMAKI,
        "TA02",
        "Terveysasemat",
        "SMS",
        10,
    ),
    (
        "16.5.2025 9:00",
        RIIHIMAKI,
        "TA02",
        "Terveysasemat",
        "Web",
        5,
    ),
    (
        "19.5.2025 10:45",
        RIIHIMAKI,
        "TA02",
        "Terveysasemat",
        "SMS",
        9,
    ),
    (
        "20.5.2025 11:00",
        HAUSJARVI,
        "TA06",
        "Terveysasemat",
        "SMS",
        8,
    ),
    ("21.5.2025 13:30", NEUVOLA, "NE01", "Neuvolat", "SMS", 10),
    (
        "22.5.2025 8:10",
        RIIHIMAKI,
        "TA02",
        "Terveysasemat",
        "SMS",
        10,
    ),
    (
        "23.5.2025 9:20",
        RIIHIMAKI,
        "TA02",
        "Terveysasemat",
        "Web",
        6,
    ),
    ("26.5.2025 10:30", NEUVOLA, "NE01", "Neuvolat", "Web", 7),
    (
        "27.5.2025 11:40",
        RIIHIMAKI,
        "TA02",
        "Terveysasemat",
        "SMS",
        9,
    ),
    (
        "28.5.2025 12:50",
        RIIHIMAKI,
        "TA02",
        "Terveysasemat",
        "SMS",
        10,
    ),
    ("29.5.2025 14:00", NEUVOLA, "NE01", "Neuvolat", "SMS", 9),
    (
        "30.5.2025 15:10",
        RIIHIMAKI,
        "TA02",
        "Terveysasemat",
        "SMS",
        4,
    ),
    (
        "30.5.2025 16:20",
        RIIHIMAKI,
        "TA02",
        "Terveysasemat",
        "Web",
        10,
    ),
    ("31.5.2025 9:00", NEUVOLA, "NE01", "Neuvolat", "SMS", 10),
];

const JUNE: &[Response] = &[
    (
        "2.6.2025 8:00",
        RIIHIMAKI,
        "TA02",
        "Terveysasemat",
        "SMS",
        10,
    ),
    (
        "3.6.2025 9:10",
        RIIHIMAKI,
        "TA02",
        "Terveysasemat",
        "SMS",
        9,
    ),
    ("4.6.2025 10:20", NEUVOLA, "NE01", "Neuvolat", "Web", 8),
    (
        "9.6.2025 11:30",
        RIIHIMAKI,
        "TA02",
        "Terveysasemat",
        "Web",
        1,
    ),
    (
        "11.6.2025 12:40",
        RIIHIMAKI,
        "TA02",
        "Terveysasemat",
        "SMS",
        10,
    ),
    ("16.6.2025 13:50", NEUVOLA, "NE01", "Neuvolat", "SMS", 10),
    (
        "18.6.2025 14:00",
        RIIHIMAKI,
        "TA02",
        "Terveysasemat",
        "SMS",
        9,
    ),
    (
        "23.6.2025 15:10",
        RIIHIMAKI,
        "TA02",
        "Terveysasemat",
        "SMS",
        7,
    ),
];

/// The responses after the merge that still name TA06: quarantined, not counted.
const REJECTED: [&str; 2] = ["15.5.2025 0:10", "20.5.2025 11:00"];

/// The export as Roidu writes it: UTF-8 with a byte-order mark, `;`, CRLF, free text in
/// quotes with a `;` inside.
fn export(rows: &[Response]) -> String {
    let mut out = String::from(
        "\u{feff}Vastausaika;Yksikkö;Yksikön koodi;Palvelu;Kanava;Suosittelu 0-10;Avoin palaute\r\n",
    );
    for (i, (at, unit, code, service, channel, score)) in rows.iter().enumerate() {
        let comment = if i % 3 == 0 { "\"Hyvä; nopea\"" } else { "" };
        out.push_str(&format!(
            "{at};{unit};{code};{service};{channel};{score};{comment}\r\n"
        ));
    }
    out
}

/// The reorganisation in the copied `units.toml`.
fn reorganise(project: &CopiedProject) {
    project.edit(
        "lookups/units.toml",
        "unit_code = \"TA06\"\nunit = \"Hausjärven terveysasema\"\nsector = \"Terveyspalvelut\"\n",
        "unit_code = \"TA06\"\nunit = \"Hausjärven terveysasema\"\nsector = \"Terveyspalvelut\"\nvalid_to = 2025-05-14\nsuccessor = \"TA02\"\n",
    );
    project.edit(
        "lookups/units.toml",
        "unit_code = \"NE01\"\nunit = \"Äitiys- ja lastenneuvola Hämeenlinna\"\nsector = \"Perhe-, sosiaali- ja vammaispalvelut\"\n",
        "unit_code = \"NE01\"\nunit = \"Äitiys- ja lastenneuvola Hämeenlinna\"\nsector = \"Perhe-, sosiaali- ja vammaispalvelut\"\nvalid_to = 2025-04-30\n\n[[rows]]\nunit_code = \"NE01\"\nunit = \"Äitiys- ja lastenneuvola Hämeenlinna\"\nsector = \"Terveyspalvelut\"\nvalid_from = 2025-05-01\n",
    );
}

/// NPS of scores, rounded to one decimal as the tile does.
fn nps(scores: &[i64]) -> f64 {
    let promoters = scores.iter().filter(|s| **s >= 9).count() as f64;
    let detractors = scores.iter().filter(|s| **s <= 6).count() as f64;
    (1000.0 * (promoters - detractors) / scores.len() as f64).round() / 10.0
}

fn accepted() -> impl Iterator<Item = &'static Response> {
    APRIL
        .iter()
        .chain(MAY)
        .chain(JUNE)
        .filter(|r| !REJECTED.contains(&r.0))
}

fn cell<'a>(figure: &'a serde_json::Value, dimension: &str, member: &str) -> &'a serde_json::Value {
    figure["breakdown"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["dimension"] == dimension && c["member"] == member)
        .unwrap_or_else(|| panic!("no {dimension} {member} in {figure}"))
}

#[test]
fn a_merge_in_the_middle_of_a_quarter_keeps_the_structure_then_and_continues_the_series() {
    let project = CopiedProject::new();
    reorganise(&project);
    let folder = project.inputs.join("nps_roidu");
    std::fs::create_dir_all(&folder).unwrap();
    for (month, rows) in [("2025-04", APRIL), ("2025-05", MAY), ("2025-06", JUNE)] {
        std::fs::write(
            folder.join(format!("roidu_responses_{month}.csv")),
            export(rows),
        )
        .unwrap();
    }
    let out = project.run(&["load", "nps_roidu", "--settle-seconds", "0"]);
    assert!(
        out.contains("loaded 3 exports (38 rows, 2 rows quarantined)"),
        "{out}"
    );

    // The two responses naming TA06 after its last day, by their Helsinki dates.
    let q = project
        .sql("SELECT file_name, line, \"column\", raw_value, reason FROM quarantine ORDER BY line");
    let got: Vec<String> = q
        .iter()
        .map(|r| {
            format!(
                "{} line {} {} {}: {}",
                r["file_name"].as_str().unwrap().rsplit('/').next().unwrap(),
                r["line"],
                r["column"].as_str().unwrap(),
                r["raw_value"].as_str().unwrap(),
                r["reason"].as_str().unwrap()
            )
        })
        .collect();
    let reason = |day: &str| {
        format!(
            "expected a code of the lookup `units` in force on {day}: `TA06` is in force until 2025-05-14 (continued by `TA02`)"
        )
    };
    assert_eq!(
        got,
        [
            format!(
                "roidu_responses_2025-05.csv line 9 Yksikön koodi TA06: {}",
                reason("2025-05-15")
            ),
            format!(
                "roidu_responses_2025-05.csv line 13 Yksikön koodi TA06: {}",
                reason("2025-05-20")
            ),
        ]
    );

    // Each row keeps the sector in force on its day: the clinic's April responses (the
    // last at 23:50 on 30.4., local time) stay with the family services.
    let sectors = project
        .sql("SELECT unit_code, sector, COUNT(*) AS n FROM feedback GROUP BY 1, 2 ORDER BY 1, 2");
    let got: Vec<String> = sectors
        .iter()
        .map(|r| {
            format!(
                "{} {} {}",
                r["unit_code"].as_str().unwrap(),
                r["sector"].as_str().unwrap(),
                r["n"]
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            "NE01 Perhe-, sosiaali- ja vammaispalvelut 3",
            "NE01 Terveyspalvelut 8",
            "TA02 Terveyspalvelut 20",
            "TA06 Terveyspalvelut 7",
        ]
    );

    // Q2: one series for Riihimäki, with Hausjärvi's responses before the merge in it,
    // and the note. (The months, under 30 responses each, are suppressed.)
    project.run(&["compute"]);
    let tiles = project.tiles();
    let q2 = figure(&tiles, "nps", "quarter", "2025-Q2");
    let all: Vec<i64> = accepted().map(|r| r.5).collect();
    assert_eq!(q2["n"], serde_json::json!(all.len()), "{q2}");
    assert_eq!(q2["value"].as_f64(), Some(nps(&all)), "{q2}");

    let riihimaki: Vec<i64> = accepted()
        .filter(|r| r.2 == "TA02" || r.2 == "TA06")
        .map(|r| r.5)
        .collect();
    let series = cell(q2, "unit", RIIHIMAKI);
    assert_eq!(series["n"], serde_json::json!(riihimaki.len()), "{series}");
    assert_eq!(series["value"].as_f64(), Some(nps(&riihimaki)), "{series}");
    assert_eq!(
        series["note"],
        "Hausjärven terveysasema (TA06) continues as Riihimäen terveysasema (TA02) from 15.5.2025"
    );
    let members: Vec<&str> = q2["breakdown"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["dimension"] == "unit")
        .map(|c| c["member"].as_str().unwrap())
        .collect();
    assert!(!members.contains(&HAUSJARVI), "{members:?}");
    let clinic = cell(q2, "unit", NEUVOLA);
    assert!(clinic.get("note").is_none(), "{clinic}");

    // A rename decided later: nothing is reloaded, the next publish recomputes the tile
    // reading the lookup and names the series as it is called now. Without a change
    // nothing is recomputed, not even the tile that is never incremental (coverage_75): none
    // of its files changed.
    let out = project.run(&["compute"]);
    assert!(out.contains("tiles recomputed: 13 unchanged"), "{out}");
    project.edit(
        "lookups/units.toml",
        "unit_code = \"TA02\"\nunit = \"Riihimäen terveysasema\"\nsector = \"Terveyspalvelut\"\n",
        "unit_code = \"TA02\"\nunit = \"Riihimäen terveysasema\"\nsector = \"Terveyspalvelut\"\nvalid_to = 2025-08-31\n\n[[rows]]\nunit_code = \"TA02\"\nunit = \"Riihimäen sote-keskus\"\nsector = \"Terveyspalvelut\"\nvalid_from = 2025-09-01\n",
    );
    let out = project.run(&["compute"]);
    assert!(
        out.contains("tiles recomputed: 1 in full; 12 unchanged"),
        "{out}"
    );
    let tiles = project.tiles();
    let q2 = figure(&tiles, "nps", "quarter", "2025-Q2");
    let series = cell(q2, "unit", "Riihimäen sote-keskus");
    assert_eq!(series["n"], serde_json::json!(riihimaki.len()), "{series}");
    assert_eq!(
        series["note"],
        "Hausjärven terveysasema (TA06) continues as Riihimäen terveysasema (TA02) from 15.5.2025; \
         Riihimäen terveysasema (TA02) is named Riihimäen sote-keskus from 1.9.2025"
    );
}

/// What `check` said, having failed.
fn check_fails(project: &CopiedProject) -> String {
    let out = project.run_unchecked(&["check"]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "check passed: {text}");
    text
}

#[test]
fn a_lookup_that_cannot_be_in_force_is_refused_at_check() {
    let project = CopiedProject::new();
    project.edit(
        "lookups/units.toml",
        "unit_code = \"TA06\"\nunit = \"Hausjärven terveysasema\"\nsector = \"Terveyspalvelut\"\n",
        "unit_code = \"TA06\"\nunit = \"Hausjärven terveysasema\"\nsector = \"Terveyspalvelut\"\nvalid_to = 2025-05-14\nsuccessor = \"TA20\"\n",
    );
    let text = check_fails(&project);
    assert!(text.contains("units.toml"), "{text}");
    assert!(
        text.contains("rows[6]: `successor` \"TA20\" is not a key of this lookup"),
        "{text}"
    );

    // A dated lookup read without saying which column dates the row.
    let project = CopiedProject::new();
    reorganise(&project);
    project.edit(
        "sources/nps_roidu.toml",
        ", lookup = \"units.sector\", as_of = \"answered_at\" }",
        ", lookup = \"units.sector\" }",
    );
    let text = check_fails(&project);
    assert!(text.contains("columns.sector.as_of"), "{text}");
}
