//! Real backfills: `backfill JOB --from --to` fetches an export API again for exactly the
//! months of the range and replaces what the source holds for them, without moving its
//! cursor; a compute job's backfill recomputes the range's periods; `--dry-run` says all
//! of it and changes nothing.

use std::time::Duration;

use serde_json::Value;

use crate::common::{ApiContact, CopiedProject, ExportApi};

const TOKEN_ENV: &str = "TILANNEKUVA_TEST_BACKFILL_API_TOKEN";
const TOKEN: &str = "backfill-test-token";
/// 2025-02-01 00:00 Helsinki.
const FEB_1: i64 = 1_738_360_800;
/// 2025-03-01 00:00 and 2025-04-01 00:00 Helsinki: the window of a March backfill.
const MAR_1: i64 = 1_740_780_000;
const APR_1: i64 = 1_743_454_800;
const DAY: i64 = 86_400;

fn count(project: &CopiedProject, condition: &str) -> (i64, i64) {
    let rows = project.sql(&format!(
        "SELECT count(*) AS n, count(DISTINCT contact_id) AS ids FROM contacts WHERE {condition}"
    ));
    let r: &Value = &rows[0];
    (r["n"].as_i64().unwrap(), r["ids"].as_i64().unwrap())
}

fn month(m: u32) -> String {
    format!("date_part('month', received_at AT TIME ZONE 'Europe/Helsinki') = {m}")
}

fn manifest(project: &CopiedProject) -> tilannekuva_warehouse::Manifest {
    crate::common::manifest(&project.warehouse)
}

#[test]
fn an_api_backfill_replaces_exactly_the_months_of_its_range() {
    let mut project = CopiedProject::new();
    project.env.push((TOKEN_ENV.into(), TOKEN.into()));
    let api = ExportApi::start(TOKEN, DAY, Duration::ZERO);
    // February to April 2025: four contacts a day, six hours apart.
    api.contacts
        .lock()
        .unwrap()
        .extend((0..89 * 4).map(|i| ApiContact {
            id: format!("C-{i}"),
            received: FEB_1 + i * 6 * 3_600 + 600,
            outcome: "answered",
        }));
    std::fs::write(
        project.dir.path().join("config/sources/contacts_api.toml"),
        api.source(TOKEN_ENV, FEB_1),
    )
    .unwrap();
    let jobs = project.dir.path().join("config/jobs.toml");
    let mut text = std::fs::read_to_string(&jobs).unwrap();
    text.push_str(
        "\n[[job]]\nname = \"load_contacts_api\"\nschedule = \"0 0 3 * * *\"\nrun = { load = [\"contacts_api\"] }\n",
    );
    std::fs::write(&jobs, text).unwrap();

    project.run(&["load", "contacts_api"]);
    assert_eq!(count(&project, "true"), (356, 356));
    let cursor = manifest(&project).cursors["contacts_api"].clone();

    // The vendor corrects March: ten contacts withdrawn, five recoded as callbacks, three
    // found late.
    {
        let mut contacts = api.contacts.lock().unwrap();
        let march: Vec<usize> = (0..contacts.len())
            .filter(|&i| (MAR_1..APR_1).contains(&contacts[i].received))
            .collect();
        assert_eq!(march.len(), 124);
        for &i in &march[20..25] {
            contacts[i].outcome = "callback";
        }
        let withdrawn: Vec<String> = march[..10]
            .iter()
            .map(|&i| contacts[i].id.clone())
            .collect();
        contacts.retain(|c| !withdrawn.contains(&c.id));
        contacts.extend((0..3).map(|i| ApiContact {
            id: format!("LATE-{i}"),
            received: MAR_1 + 15 * DAY + i * 60,
            outcome: "answered",
        }));
    }
    let asked_before = api.requests.lock().unwrap().len();
    let version = manifest(&project).version;

    // A dry run says what would happen and does none of it.
    let backfill = [
        "backfill",
        "load_contacts_api",
        "--from",
        "2025-03-10",
        "--to",
        "2025-03-20",
    ];
    let (plan, _) = project.run_apart(&[&backfill[..], &["--dry-run"]].concat());
    assert!(
        plan.contains(&format!("start_time={MAR_1}&end_time={APR_1}"))
            && plan.contains("contacts_api: fetch 2025-03-01 .. 2025-03-31 again")
            && plan.contains("replace its rows of 2025-03 (124 rows from 31 loads now)")
            && plan.contains("the cursor stays"),
        "{plan}"
    );
    assert_eq!(api.requests.lock().unwrap().len(), asked_before);
    assert_eq!(
        manifest(&project).version,
        version,
        "a dry run commits nothing"
    );

    // The backfill: March is what the API says now, February and April are untouched.
    project.run(&backfill);
    assert_eq!(count(&project, &month(3)), (117, 117));
    assert_eq!(
        count(&project, &format!("{} AND callback_requested", month(3))).0,
        5
    );
    assert_eq!(count(&project, &month(2)), (112, 112));
    assert_eq!(count(&project, &month(4)), (120, 120));
    let asked: Vec<String> = api.requests.lock().unwrap()[asked_before..].to_vec();
    assert_eq!(asked.len(), 31, "one page a day of March: {asked:?}");
    assert!(
        asked
            .iter()
            .all(|q| q.contains(&format!("end_time={APR_1}"))),
        "{asked:?}"
    );
    let after = manifest(&project);
    assert_eq!(after.cursors["contacts_api"], cursor, "the cursor stays");
    let load = after.loads.last().unwrap();
    assert_eq!(
        (load.policy.as_str(), load.periods.clone()),
        ("backfill", vec!["2025-03".to_string()])
    );

    // Again with nothing changed: the same bytes, nothing loads; a regular run after it
    // continues from the cursor and adds nothing either.
    project.run(&backfill);
    project.run(&["load", "contacts_api"]);
    assert_eq!(count(&project, "true"), (112 + 117 + 120, 349));
    let runs = project.run(&["runs", "--format", "json"]);
    assert!(
        runs.contains("\"trigger\": \"backfill\"") || runs.contains("\"trigger\":\"backfill\""),
        "{runs}"
    );
}

#[test]
fn a_compute_backfill_recomputes_the_periods_of_its_range() {
    let project = CopiedProject::new();
    tilannekuva_samples::generate_sources(
        &project.inputs,
        &crate::common::sample_config(),
        &["callbacks_ace", "callbacks_genesys"],
    )
    .unwrap();
    project.run(&["load", "--settle-seconds", "0"]);
    project.run(&["compute"]);
    let before = manifest(&project).snapshots.len();
    let backfill = [
        "backfill",
        "compute_tiles",
        "--from",
        "2025-03-01",
        "--to",
        "2025-03-31",
    ];
    let (plan, _) = project.run_apart(&[&backfill[..], &["--dry-run"]].concat());
    // Incremental tiles recompute the periods of March only; the others are full anyway.
    assert!(
        plan.contains("recompute callback_share: the periods of 2025-03\n")
            && plan.contains("recompute coverage_75 in full (not incremental)")
            && plan.contains("publish a new snapshot"),
        "{plan}"
    );
    assert!(!plan.contains("reuse callback_share"), "{plan}");
    assert_eq!(manifest(&project).snapshots.len(), before);

    let out = project.run(&[&["-v"][..], &backfill[..]].concat());
    assert!(out.contains("for the periods of 2025-03"), "{out}");
    assert_eq!(manifest(&project).snapshots.len(), before + 1);
    // What it published equals a full computation.
    let backfilled = project.tiles();
    project.run(&["compute", "--full"]);
    let full = project.tiles();
    assert_eq!(
        serde_json::to_string(&backfilled["tiles"][0]["series"]).unwrap(),
        serde_json::to_string(&full["tiles"][0]["series"]).unwrap()
    );
}
