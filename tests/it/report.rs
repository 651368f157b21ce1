//! The board report: written from a pinned snapshot, its figures are the snapshot's, it
//! reads in Finnish, Swedish and English, every chart has a text alternative, and written
//! again after newer data it is the same document.

use serde_json::Value;

use crate::common::{CopiedProject, sample_config};

/// The cells of the overview row of `tile`: (attributes, content) each.
fn overview_cells(html: &str, tile: &str) -> Vec<(String, String)> {
    let start = html
        .find(&format!("<tr data-tile=\"{tile}\">"))
        .unwrap_or_else(|| panic!("no overview row for {tile}"));
    let row = &html[start..start + html[start..].find("</tr>").unwrap()];
    row.split("<td")
        .skip(1)
        .map(|cell| {
            let open = cell.find('>').unwrap();
            let body = &cell[open + 1..cell.rfind("</td>").unwrap()];
            (cell[..open].to_string(), body.to_string())
        })
        .collect()
}

/// Pages of a PDF: its page objects (`/Type /Page`, not the `/Pages` tree).
fn pdf_pages(pdf: &[u8]) -> usize {
    let count = |needle: &[u8]| pdf.windows(needle.len()).filter(|w| *w == needle).count();
    count(b"/Type /Page") - count(b"/Type /Pages") + count(b"/Type/Page") - count(b"/Type/Pages")
}

/// A value as the Finnish report writes it, computed here from the JSON.
fn finnish(v: &Value, decimals: u64, unit: &str) -> String {
    match v.as_f64() {
        None => "–".into(),
        Some(v) => {
            let s = format!("{:.*}", decimals as usize, v)
                .replace('.', ",")
                .replace('-', "−");
            if unit.is_empty() {
                s
            } else {
                format!("{s} {unit}")
            }
        }
    }
}

#[test]
fn the_board_report_of_a_pinned_snapshot_shows_its_figures_and_stays_the_same() {
    let project = CopiedProject::new();
    let parked = project.dir.path().join("parked");
    tilannekuva_samples::generate_sources(&project.inputs, &sample_config(), &["callbacks_ace"])
        .unwrap();
    crate::snapshots::move_exports(&project.inputs, &parked, &["callbacks_ace"], "2025-");
    project.run(&["load", "--settle-seconds", "0"]);
    project.run(&["compute"]);
    let label = "Aluevaltuusto 16.12.2026";
    project.run(&["snapshots", "pin", label]);
    let doc: Value =
        serde_json::from_str(&project.run_apart(&["tiles", "--format", "json"]).0).unwrap();

    let out = project.dir.path().join("board.html");
    let wrote = project.run(&[
        "report",
        "--snapshot",
        label,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(wrote.contains("board.html"), "{wrote}");
    let html = std::fs::read_to_string(&out).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") && html.contains("<html lang=\"fi\">"));
    assert!(html.contains(label));
    assert!(html.contains(doc["snapshot_id"].as_str().unwrap()));

    let tiles = doc["tiles"].as_array().unwrap();
    let mut with_figures = 0;
    for tile in tiles {
        let id = tile["id"].as_str().unwrap();
        let decimals = tile["decimals"].as_u64().unwrap();
        let unit = tile["unit"].as_str().unwrap();
        let cells = overview_cells(&html, id);
        let Some(latest) = tile["series"]["quarter"].as_array().and_then(|s| s.last()) else {
            assert_eq!(cells[2].1, "–", "{id} has no quarterly figure");
            continue;
        };
        with_figures += 1;
        // Period, value, target and status are the snapshot's of its latest quarter.
        assert_eq!(cells[2].1, latest["period"].as_str().unwrap(), "{id}");
        assert_eq!(
            cells[3].1,
            finnish(&latest["value"], decimals, unit),
            "{id} value"
        );
        assert_eq!(
            cells[4].1,
            finnish(&latest["target"], decimals, unit),
            "{id} target"
        );
        let status = latest["status"].as_str().unwrap();
        assert_eq!(
            cells[5].0,
            format!(" class=\"status {status}\""),
            "{id} status"
        );
        assert!(!cells[5].1.is_empty(), "{id}: the status in words too");
        // Its section has the series chart, with the periods in its text alternative.
        let section = &html[html.find(&format!("id=\"tile-{id}\"")).unwrap()..];
        let section = &section[..section.find("</section>").unwrap()];
        assert!(section.contains("role=\"img\""), "{id}: a chart");
        let desc = &section[section
            .find(&format!("<desc id=\"{id}-series-d\">"))
            .unwrap()..];
        let desc = &desc[..desc.find("</desc>").unwrap()];
        assert!(
            desc.contains(latest["period"].as_str().unwrap()),
            "{id}: {desc}"
        );
        // The owner and the sources are there.
        assert!(
            section.contains(tile["owner"]["role"].as_str().unwrap()),
            "{id} owner"
        );
        for src in tile["sources"].as_array().unwrap() {
            assert!(
                section.contains(src["file"].as_str().unwrap()),
                "{id} source"
            );
        }
    }
    assert!(with_figures >= 3, "the contact tiles have figures");

    // The other languages.
    for (lang, word) in [("sv", "Sammanfattning"), ("en", "Overview")] {
        let file = project.dir.path().join(format!("board.{lang}.html"));
        project.run(&[
            "report",
            "--snapshot",
            label,
            "--lang",
            lang,
            "--out",
            file.to_str().unwrap(),
        ]);
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(text.contains(&format!("<html lang=\"{lang}\">")) && text.contains(word));
    }

    // A year of new data later, the pinned report is the same document.
    std::thread::sleep(std::time::Duration::from_millis(20));
    crate::snapshots::move_exports(&parked, &project.inputs, &["callbacks_ace"], "");
    project.run(&["load", "--settle-seconds", "0"]);
    project.run(&["compute"]);
    let again = project.dir.path().join("again.html");
    project.run(&[
        "report",
        "--snapshot",
        label,
        "--out",
        again.to_str().unwrap(),
    ]);
    assert_eq!(std::fs::read_to_string(&again).unwrap(), html);
    // The latest report shows the new figures.
    let latest = project.dir.path().join("latest.html");
    project.run(&["report", "--out", latest.to_str().unwrap()]);
    assert_ne!(std::fs::read_to_string(&latest).unwrap(), html);

    if std::env::var("TILANNEKUVA_SKIP_BROWSER").as_deref() != Ok("1") {
        let wrote = project.run(&[
            "report",
            "--snapshot",
            label,
            "--out",
            out.to_str().unwrap(),
            "--pdf",
        ]);
        let pdf =
            std::fs::read(out.with_extension("pdf")).unwrap_or_else(|e| panic!("{wrote}: {e}"));
        assert!(pdf.starts_with(b"%PDF-"), "a PDF");
        let pages = pdf_pages(&pdf);
        assert!(pages >= 2, "an overview page and the tiles ({pages} pages)");
    }
}
