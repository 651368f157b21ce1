//! OKR as data: the tracker's exports load by config like any other source, and the OKR
//! tiles count each quarter's key results as in force then, a changed one under its new
//! definition from the board's decision, exactly as computed here from the generator's
//! truth and from a hand-written export with the mistakes real ones have.

use serde_json::Value;
use tilannekuva_samples::okr;

use crate::common::{CopiedProject, sample_config};

/// A tile's figures of one grain: period → figure.
fn series<'a>(doc: &'a Value, tile: &str, grain: &str) -> Vec<&'a Value> {
    doc["tiles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == tile)
        .unwrap_or_else(|| panic!("no tile {tile}"))["series"][grain]
        .as_array()
        .unwrap_or_else(|| panic!("{tile} has no {grain} series"))
        .iter()
        .collect()
}

fn cells<'a>(figure: &'a Value, dimension: &str) -> Vec<&'a Value> {
    figure["breakdown"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["dimension"] == dimension)
        .collect()
}

#[test]
fn okr_tiles_equal_the_trackers_ratings_counted_as_in_force() {
    let project = CopiedProject::new();
    let cfg = tilannekuva_samples::SampleConfig {
        to: "2026-02-28".parse().unwrap(),
        ..sample_config()
    };
    let generated =
        tilannekuva_samples::generate_sources(&project.inputs, &cfg, okr::SOURCES).unwrap();
    let load = project.run(&["load", "--settle-seconds", "0"]);
    assert!(load.contains("loaded 8 exports"), "{load}");
    project.run(&["compute"]);
    let doc: Value =
        serde_json::from_str(&project.run_apart(&["tiles", "--format", "json"]).0).unwrap();

    let truth = &generated.truth;
    let quarters = series(&doc, "key_results_progressing", "quarter");
    assert_eq!(quarters.len(), 4);
    for (q, figure) in quarters.iter().enumerate() {
        let end = okr::quarter_end(2025, q as u32 + 1);
        let counted: Vec<_> = truth
            .key_results
            .iter()
            .filter(|k| k.quarter_end == end && k.counted)
            .collect();
        let progressing = counted.iter().filter(|k| k.rating == 0).count();
        assert_eq!(figure["period"], format!("2025-Q{}", q + 1));
        assert_eq!(figure["n"], counted.len() as u64, "{figure}");
        let expected = 100.0 * progressing as f64 / counted.len() as f64;
        assert!(
            (figure["value"].as_f64().unwrap() - expected).abs() < 1e-9,
            "{figure}"
        );
        // The three ratings' shares add up to everything rated.
        let ratings: f64 = cells(figure, "rating")
            .iter()
            .map(|c| c["n"].as_f64().unwrap())
            .sum();
        assert_eq!(ratings, counted.len() as f64);
        // The drill-down names the replacements and the decision, from Q2 on.
        let replaced = cells(figure, "replaced_by_decision");
        assert_eq!(replaced.len(), if q == 0 { 0 } else { okr::CHANGED.len() });
        assert!(
            replaced
                .iter()
                .all(|c| c["member"].as_str().unwrap().contains(okr::DECISION))
        );
        // Every expected delivery of the quarter is there: its three months are declared by
        // the export's name.
        assert_eq!(figure["complete"], true, "{figure}");
        // By goal: the key results serving each goal.
        for (goal, _) in okr::GOALS {
            let of_goal: Vec<_> = counted.iter().filter(|k| k.goal_id == *goal).collect();
            let cell = cells(figure, "goal")
                .into_iter()
                .find(|c| c["member"].as_str().unwrap().starts_with(goal))
                .unwrap();
            assert_eq!(cell["n"], of_goal.len() as u64);
        }
    }
    // At Q2, the interim report's 85 %; the year is its Q4.
    assert!((quarters[1]["value"].as_f64().unwrap() - 85.238).abs() < 0.001);
    let year = series(&doc, "key_results_progressing", "year");
    assert_eq!(year[0]["value"], quarters[3]["value"]);

    let tasks = series(&doc, "okr_tasks_done", "quarter");
    for (q, figure) in tasks.iter().enumerate() {
        let [done, in_progress] = okr::TASK_STATES[q];
        assert_eq!(figure["n"], okr::TASK_COUNT as u64);
        let expected = 100.0 * done as f64 / okr::TASK_COUNT as f64;
        assert!((figure["value"].as_f64().unwrap() - expected).abs() < 1e-9);
        let state = |s: &str| {
            cells(figure, "state")
                .into_iter()
                .find(|c| c["member"] == s)
                .map_or(0, |c| c["n"].as_u64().unwrap())
        };
        assert_eq!(state("in_progress"), in_progress as u64);
        assert_eq!(
            state("not_started"),
            (okr::TASK_COUNT - done - in_progress) as u64
        );
    }
}

/// A tracker export written by hand: a key result replaced mid-quarter, one that ended
/// before it was rated, a misspelt rating and an impossible date.
#[test]
fn a_hand_written_tracker_export_loads_and_counts_as_in_force() {
    let project = CopiedProject::new();
    let folder = project.inputs.join("okr_key_results");
    std::fs::create_dir_all(&folder).unwrap();
    let name = "okr_avaintulokset_2025-Q3.csv";
    std::fs::copy(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/it/fixtures/okr")
            .join(name),
        folder.join(name),
    )
    .unwrap();
    let load = |project: &CopiedProject| {
        let out = project.run_unchecked(&["load", "okr_key_results", "--settle-seconds", "0"]);
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    // Two bad rows of nine are more than the 5 % a tracker export may lose: nothing loads,
    // and the message names both.
    let (ok, said) = load(&project);
    assert!(!ok, "{said}");
    assert!(said.contains("nothing was loaded"), "{said}");
    assert!(
        said.contains("line 8, column 15 `Arvio`, value \"Etenee.\": expected one of the known codes (Ei etene, Etenee, Huomioitavaa)"),
        "{said}"
    );
    assert!(
        said.contains("line 9, column 16 `Arvioitu`, value \"31.9.2025\""),
        "{said}"
    );
    // The operator allows more for this small export: the good rows load, the bad ones are
    // quarantined.
    project.edit(
        "sources/okr_key_results.toml",
        "max_reject_share = 0.05",
        "max_reject_share = 0.25",
    );
    let (ok, said) = load(&project);
    assert!(
        ok && said.contains("loaded 1 exports (7 rows, 2 rows quarantined)"),
        "{said}"
    );
    // Each mistake is quarantined by file, line, column and value.
    let q = project.sql(
        "SELECT file_name, line, \"column\", column_number, raw_value FROM quarantine ORDER BY line",
    );
    let row = |r: &Value| {
        (
            r["file_name"].as_str().unwrap().to_string(),
            r["line"].as_u64().unwrap(),
            r["column"].as_str().unwrap().to_string(),
            r["column_number"].as_u64().unwrap(),
            r["raw_value"].as_str().unwrap().to_string(),
        )
    };
    assert_eq!(
        q.iter().map(row).collect::<Vec<_>>(),
        [
            (
                name.to_string(),
                8,
                "Arvio".to_string(),
                15,
                "Etenee.".to_string()
            ),
            (
                name.to_string(),
                9,
                "Arvioitu".to_string(),
                16,
                "31.9.2025".to_string()
            ),
        ],
        "{q:?}"
    );
    project.run(&["compute"]);
    let doc: Value =
        serde_json::from_str(&project.run_apart(&["tiles", "--format", "json"]).0).unwrap();
    let q3 = series(&doc, "key_results_progressing", "quarter")[0];
    // Counted: KUN-01 (progressing), KUN-02-b (progressing, replacing KUN-02), VAS-01
    // (attention), PER-01 (not progressing), SOS-02 (progressing); VAS-02 ended on 31.8.,
    // before it was rated on 20.10.: 3 of 5.
    assert_eq!(q3["period"], "2025-Q3");
    assert_eq!(
        (q3["value"].as_f64(), q3["n"].as_u64()),
        (Some(60.0), Some(5))
    );
    let replaced = cells(q3, "replaced_by_decision");
    assert_eq!(replaced.len(), 1);
    assert_eq!(
        replaced[0]["member"],
        "KUN-02-b (replaces KUN-02: Aluehallitus 11.8.2025 § 201)"
    );
    let sector = |s: &str| {
        cells(q3, "sector")
            .into_iter()
            .find(|c| c["member"] == s)
            .map(|c| (c["value"].as_f64().unwrap(), c["n"].as_u64().unwrap()))
    };
    assert_eq!(sector("terveys"), Some((200.0 / 3.0, 3)));
    assert_eq!(sector("pesova"), Some((50.0, 2)));
}

/// The goals' part of a report: the text of `<article class="goal" id="goal-{id}">`.
fn goal_article<'a>(html: &'a str, id: &str) -> &'a str {
    let start = html
        .find(&format!("<article class=\"goal\" id=\"goal-{id}\">"))
        .unwrap_or_else(|| panic!("no section for goal {id}"));
    &html[start..start + html[start..].find("</article>").unwrap()]
}

/// The value a `<div class="value">` of a figure list shows.
fn shown_value(article: &str) -> &str {
    let start = article.find("<div class=\"value\">").unwrap();
    let dd = &article[start..];
    let open = dd.find("<dd>").unwrap() + 4;
    &dd[open..dd.find("</dd>").unwrap()]
}

#[test]
fn the_board_report_has_each_binding_goal_with_its_progress_and_its_owners_words() {
    let project = CopiedProject::new();
    let cfg = tilannekuva_samples::SampleConfig {
        to: "2025-12-31".parse().unwrap(),
        ..sample_config()
    };
    let generated =
        tilannekuva_samples::generate_sources(&project.inputs, &cfg, okr::SOURCES).unwrap();
    project.run(&["load", "--settle-seconds", "0"]);
    project.run(&["compute"]);
    // The owner of SV2 (the health services' director) writes the quarter's assessment, as
    // the desktop does; the council's report is pinned; a later word is not in it.
    let wh = tilannekuva_warehouse::Warehouse::open_local(&project.warehouse).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let write = |text: &str| {
        rt.block_on(wh.write_checkin(tilannekuva_warehouse::NewCheckIn {
            subject: "goal:SV2".into(),
            period: "2025-Q3".into(),
            sector: "terveys".into(),
            rating: tilannekuva_warehouse::CheckInRating::Attention,
            text: text.into(),
            author: "terveysjohtaja".into(),
        }))
        .unwrap()
    };
    write("Asiakkaiden palvelutarpeet tunnistetaan; CRM viivästyy vuoteen 2026.");
    std::thread::sleep(std::time::Duration::from_millis(20));
    let label = "Aluehallitus 20.10.2025";
    project.run(&["snapshots", "pin", label]);
    std::thread::sleep(std::time::Duration::from_millis(20));
    write("Kirjoitettu kiinnityksen jälkeen.");

    let out = project.dir.path().join("board.html");
    project.run(&[
        "report",
        "--snapshot",
        label,
        "--out",
        out.to_str().unwrap(),
    ]);
    let html = std::fs::read_to_string(&out).unwrap();
    assert!(
        html.contains("Valtuustotason sitovat tavoitteet"),
        "the goals' section"
    );
    // Each goal's share of its key results progressing in the latest rated quarter (Q3: the
    // Q4 ratings are given in February), computed here from the tracker's ratings.
    let end = okr::quarter_end(2025, 3);
    for (goal, text) in okr::GOALS {
        let counted: Vec<_> = generated
            .truth
            .key_results
            .iter()
            .filter(|k| k.quarter_end == end && k.counted && k.goal_id == *goal)
            .collect();
        let progressing = counted.iter().filter(|k| k.rating == 0).count();
        let share = 100.0 * progressing as f64 / counted.len() as f64;
        let article = goal_article(&html, goal);
        assert!(article.contains(text), "{article}");
        assert_eq!(
            shown_value(article),
            format!("{:.1} %", share).replace('.', ","),
            "{goal}: {article}"
        );
        assert!(
            article.contains(&format!(
                "{progressing}/{} avaintulosta etenee",
                counted.len()
            )),
            "{article}"
        );
        assert!(article.contains("2025-Q3"), "{article}");
        assert!(
            article.contains("role=\"img\""),
            "{goal}: a chart of its progress"
        );
    }
    let sv1 = goal_article(&html, "SV1");
    assert!(
        sv1.contains("Perhe-, sosiaali- ja vammaispalvelut, Toimialajohtaja"),
        "the owner: {sv1}"
    );
    assert!(
        sv1.contains("href=\"#tile-callbacks_within_promise\""),
        "its KPIs: {sv1}"
    );
    let sv2 = goal_article(&html, "SV2");
    assert!(
        sv2.contains("CRM viivästyy vuoteen 2026.") && sv2.contains("terveysjohtaja"),
        "{sv2}"
    );
    assert!(!html.contains("Kirjoitettu kiinnityksen jälkeen."), "{sv2}");
    // The same in English.
    let en = project.dir.path().join("board.en.html");
    project.run(&[
        "report",
        "--snapshot",
        label,
        "--lang",
        "en",
        "--out",
        en.to_str().unwrap(),
    ]);
    let en = std::fs::read_to_string(&en).unwrap();
    assert!(en.contains("The council's binding goals"), "{}", &en[..400]);
    assert!(goal_article(&en, "SV5").contains("Productivity secures the services"));
}
