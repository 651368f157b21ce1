//! Every KPI tile end to end: one `demo` run over all sample sources, and each tile's
//! quarterly totals compared with figures computed here, independently, from the
//! generator's ground truth (Helsinki-local quarters, the Finnish working-day calendar).
//! Also: plausibility against the KPI catalogue, the quarantine, personal data and the
//! small-cell rule.
//!
//! The demo runs once for the whole module (a few seconds in a debug build).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::OnceLock;

use chrono::{DateTime, Datelike, Days, NaiveDate, TimeZone, Utc};
use chrono_tz::Europe::Helsinki;
use serde_json::Value;
use tilannekuva_conventions::calendar::add_working_days;
use tilannekuva_conventions::hetu::{find_hetu, find_phone};
use tilannekuva_samples::{Truth, generate};

use crate::common::{quarter, run_ok, sample_config, tiles_json};

/// The demo's warehouse, the published tiles and the ground truth, made once.
struct Fixture {
    _dirs: (tempfile::TempDir, tempfile::TempDir),
    warehouse: PathBuf,
    tiles: Vec<Value>,
    truth: Truth,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let cfg = sample_config();
        let dir = tempfile::tempdir().unwrap();
        let out = run_ok(&[
            "demo",
            "--no-serve",
            "--dir",
            dir.path().to_str().unwrap(),
            "--scale",
            &cfg.scale.to_string(),
            "--seed",
            &cfg.seed.to_string(),
            "--from",
            &cfg.from.to_string(),
            "--to",
            &cfg.to.to_string(),
        ]);
        let log = String::from_utf8(out.stderr).unwrap();
        assert!(log.contains(" 0 failed"), "{log}");
        let warehouse = dir.path().join("warehouse");
        let doc = tiles_json(&warehouse);
        let tiles = doc["tiles"].as_array().unwrap().clone();
        let truth_dir = tempfile::tempdir().unwrap();
        let truth = generate(truth_dir.path(), &cfg).unwrap().truth;
        Fixture {
            _dirs: (dir, truth_dir),
            warehouse,
            tiles,
            truth,
        }
    })
}

fn tile(id: &str) -> &'static Value {
    fixture()
        .tiles
        .iter()
        .find(|t| t["id"] == id)
        .unwrap_or_else(|| panic!("tile {id} is published"))
}

/// Quarter label of a date.
fn quarter_of(d: NaiveDate) -> String {
    format!("{}-Q{}", d.year(), (d.month() - 1) / 3 + 1)
}

/// Helsinki midnight at the start of `d`, as UTC.
fn local_midnight(d: NaiveDate) -> DateTime<Utc> {
    Helsinki
        .from_local_datetime(&d.and_hms_opt(0, 0, 0).unwrap())
        .earliest()
        .unwrap()
        .with_timezone(&Utc)
}

/// The end of the n-th working day after the Helsinki date of `t` (the SQL `fi_deadline`).
fn deadline(t: DateTime<Utc>, n: u32) -> DateTime<Utc> {
    let local = t.with_timezone(&Helsinki).date_naive();
    local_midnight(add_working_days(local, n) + Days::new(1))
}

fn ms(a: DateTime<Utc>, b: DateTime<Utc>) -> f64 {
    (b - a).num_microseconds().unwrap() as f64
}

/// Asserts a tile's quarterly totals: every expected quarter with its value and n, and no
/// other quarter. Returns the published quarters by label.
fn assert_quarters(
    id: &str,
    expected: &BTreeMap<String, (f64, i64)>,
    tolerance: f64,
) -> BTreeMap<String, &'static Value> {
    let quarters: BTreeMap<String, &Value> = tile(id)["series"]["quarter"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| (q["period"].as_str().unwrap().to_string(), q))
        .collect();
    assert_eq!(
        quarters.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>(),
        "{id}: quarters"
    );
    assert_eq!(expected.len(), 8, "{id}: two years of quarters");
    for (period, (want, n)) in expected {
        let q = quarters[period];
        assert_eq!(q["n"].as_i64(), Some(*n), "{id} {period}: n");
        let got = q["value"]
            .as_f64()
            .unwrap_or_else(|| panic!("{id} {period}: a value, got {q}"));
        assert!(
            (got - want).abs() <= tolerance,
            "{id} {period}: {got} vs {want}"
        );
    }
    quarters
}

/// Ratio in % per quarter from (numerator, denominator) counts.
fn shares(counts: BTreeMap<String, (u64, u64)>) -> BTreeMap<String, (f64, i64)> {
    counts
        .into_iter()
        .map(|(p, (num, den))| (p, (100.0 * num as f64 / den as f64, den as i64)))
        .collect()
}

fn value_of(quarters: &BTreeMap<String, &Value>, period: &str) -> f64 {
    quarters[period]["value"].as_f64().unwrap()
}

#[test]
fn check_passes_with_every_tile() {
    let out = run_ok(&["check"]);
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("13 tiles"), "{text}");
}

#[test]
fn callback_tiles_match_the_truth() {
    let truth = &fixture().truth;
    let contacts: Vec<_> = truth.contacts.iter().filter(|c| c.valid).collect();
    assert!(contacts.iter().any(|c| c.source == "callbacks_genesys"));

    let mut share: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for c in contacts.iter().filter(|c| c.first_line) {
        let e = share.entry(quarter(c.received)).or_default();
        e.1 += 1;
        e.0 += u64::from(c.callback_requested.is_some());
    }
    let q = assert_quarters("callback_share", &shares(share), 1e-9);
    for (p, v) in &q {
        let v = v["value"].as_f64().unwrap();
        assert!((50.0..70.0).contains(&v), "{p}: callback share {v}");
    }

    // Within the promise: reached before the end of the next working day, over requests
    // whose deadline has passed by the time the data reaches. Periods by the contact's
    // arrival.
    let through = contacts.iter().map(|c| c.received).max().unwrap();
    let mut promise: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let mut delays: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for c in &contacts {
        let Some(requested) = c.callback_requested else {
            continue;
        };
        let due = deadline(requested, 1);
        if due <= through {
            let e = promise.entry(quarter(c.received)).or_default();
            e.1 += 1;
            e.0 += u64::from(c.callback_reached.is_some_and(|r| r < due));
        }
        if let Some(reached) = c.callback_reached {
            delays
                .entry(quarter(c.received))
                .or_default()
                .push(ms(requested, reached) / 3.6e9);
        }
    }
    let q = assert_quarters("callbacks_within_promise", &shares(promise), 1e-9);
    // Kept except in December 2024 (≈ 14 % late).
    assert!(value_of(&q, "2024-Q3") > 93.0, "{:?}", q["2024-Q3"]);
    assert!(value_of(&q, "2024-Q4") < value_of(&q, "2024-Q3"));

    let medians = delays
        .into_iter()
        .map(|(p, mut v)| {
            v.sort_by(f64::total_cmp);
            let m = v.len() / 2;
            let median = if v.len() % 2 == 0 {
                (v[m - 1] + v[m]) / 2.0
            } else {
                v[m]
            };
            (p, (median, v.len() as i64))
        })
        .collect();
    let q = assert_quarters("callback_delay", &medians, 1e-6);
    for (p, v) in &q {
        let v = v["value"].as_f64().unwrap();
        assert!((0.5..48.0).contains(&v), "{p}: callback delay {v} h");
    }
}

#[test]
fn chat_tiles_match_the_truth() {
    let chats: Vec<_> = fixture().truth.chats.iter().filter(|c| c.valid).collect();
    let mut delay: BTreeMap<String, (f64, i64)> = BTreeMap::new();
    let mut dropped: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let mut resolved: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for c in &chats {
        let p = quarter(c.requested);
        let d = dropped.entry(p.clone()).or_default();
        d.1 += 1;
        d.0 += u64::from(c.accepted.is_none());
        if let Some(accepted) = c.accepted {
            let e = delay.entry(p.clone()).or_default();
            e.0 += ms(c.requested, accepted) / 6e7;
            e.1 += 1;
            if c.queue == "Sairaanhoitajan chat" {
                let r = resolved.entry(p).or_default();
                r.1 += 1;
                r.0 += u64::from(c.resolved == Some(true));
            }
        }
    }
    let delay = delay
        .into_iter()
        .map(|(p, (sum, n))| (p, (sum / n as f64, n)))
        .collect();
    let q = assert_quarters("chat_response_delay", &delay, 1e-6);
    // 4.2 min in Q1 2024 falling to 1.5 min in Q4 2024.
    assert!((3.0..5.5).contains(&value_of(&q, "2024-Q1")));
    assert!((1.0..2.2).contains(&value_of(&q, "2024-Q4")));

    let q = assert_quarters("chat_abandonment", &shares(dropped), 1e-9);
    for (p, v) in &q {
        let v = v["value"].as_f64().unwrap();
        assert!((1.0..10.0).contains(&v), "{p}: chat abandonment {v}");
    }
    let q = assert_quarters("nurse_chat_resolution", &shares(resolved), 1e-9);
    for (p, v) in &q {
        let v = v["value"].as_f64().unwrap();
        assert!((75.0..95.0).contains(&v), "{p}: nurse-chat resolution {v}");
    }
}

#[test]
fn nps_matches_the_truth_and_hides_small_cells() {
    let feedback: Vec<_> = fixture()
        .truth
        .feedback
        .iter()
        .filter(|f| f.valid)
        .collect();
    let mut votes: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    let mut units: BTreeMap<(String, String), i64> = BTreeMap::new();
    for f in &feedback {
        let p = quarter(f.answered);
        let e = votes.entry(p.clone()).or_default();
        e.1 += 1;
        e.0 += match f.score {
            9..=10 => 1,
            0..=6 => -1,
            _ => 0,
        };
        *units.entry((p, f.unit.clone())).or_default() += 1;
    }
    let expected = votes
        .into_iter()
        .map(|(p, (net, n))| {
            let v = (1000.0 * net as f64 / n as f64).round() / 10.0;
            (p, (v, n))
        })
        .collect();
    let q = assert_quarters("nps", &expected, 0.051);
    assert!(value_of(&q, "2024-Q1") < value_of(&q, "2024-Q4"));

    // Breakdown cells: never fewer than 5 respondents; the small unit's small quarters are
    // absent, and so is at least one more unit (else the small one would be the total minus
    // the rest); the units shown have the true count.
    let mut hidden = 0;
    for (p, period) in &q {
        let cells = period["breakdown"].as_array().unwrap();
        assert!(cells.iter().all(|c| c["n"].as_i64().unwrap() >= 5), "{p}");
        let mut absent = 0;
        for ((up, unit), n) in units.iter().filter(|((up, _), _)| up == p) {
            let cell = cells
                .iter()
                .find(|c| c["dimension"] == "unit" && c["member"] == unit.as_str());
            match cell {
                _ if *n < 5 => {
                    hidden += 1;
                    assert!(cell.is_none(), "{up} {unit}: n = {n} must be hidden");
                }
                Some(cell) => assert_eq!(cell["n"].as_i64(), Some(*n), "{up} {unit}"),
                None => {}
            }
            absent += usize::from(cell.is_none());
        }
        assert_ne!(
            absent, 1,
            "{p}: one unit alone hidden is the total minus the rest"
        );
    }
    assert!(hidden > 0, "the sample has small cells to hide");
}

#[test]
fn coverage_matches_the_truth() {
    let truth = &fixture().truth;
    let residents = |year: i32| {
        let get = |indicator: u32| {
            truth
                .sotkanet
                .iter()
                .find(|s| s.indicator == indicator && s.region == 963 && s.year == year)
                .unwrap()
                .value
        };
        get(127) * get(171) / 100.0
    };
    let mut last_end: BTreeMap<String, NaiveDate> = BTreeMap::new();
    for c in &truth.care {
        let e = last_end
            .entry(quarter_of(c.month_end))
            .or_insert(c.month_end);
        *e = (*e).max(c.month_end);
    }
    let expected = last_end
        .iter()
        .map(|(p, end)| {
            let clients = truth
                .care
                .iter()
                .filter(|c| c.valid && c.month_end == *end && c.age >= 75)
                .count();
            let value = 100.0 * clients as f64 / residents(end.year());
            (p.clone(), (value, clients as i64))
        })
        .collect();
    let q = assert_quarters("coverage_75", &expected, 1e-9);
    // The register and the Sotkanet population both scale with the sample, so the share is
    // that of the full county: ≈ 7.14 % at the end of 2024 (small samples are noisier).
    let share = value_of(&q, "2024-Q4");
    assert!((5.5..8.8).contains(&share), "coverage Dec 2024: {share}");
    assert_eq!(tile("coverage_75")["point_in_time"], true);
}

#[test]
fn rescue_and_ems_tiles_match_the_truth() {
    let truth = &fixture().truth;
    let mut rescue: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let mut cancelled = 0;
    for t in truth.rescue.iter().filter(|t| t.valid) {
        let limit = match t.risk_class.as_str() {
            "I" => 6,
            "II" => 10,
            "III" => 20,
            _ => continue,
        };
        if !matches!(t.urgency.as_str(), "A" | "B") {
            continue;
        }
        // Cancelled before anyone arrived: no response time, left out of both sides.
        let Some(arrival) = t.arrival else {
            cancelled += 1;
            continue;
        };
        let e = rescue.entry(quarter(t.alarm)).or_default();
        e.1 += 1;
        e.0 += u64::from(arrival - t.alarm <= chrono::TimeDelta::minutes(limit));
    }
    assert!(cancelled > 0, "the sample has cancelled urgent tasks");
    let q = assert_quarters("rescue_response", &shares(rescue), 1e-9);
    for (p, v) in &q {
        let v = v["value"].as_f64().unwrap();
        assert!((50.0..100.0).contains(&v), "{p}: rescue response {v}");
        let classes: BTreeSet<&str> = v_cells(q[p.as_str()], "risk_class");
        assert!(classes.iter().all(|c| ["I", "II", "III"].contains(c)));
    }

    let mut ems: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for t in truth.ems.iter().filter(|t| t.valid) {
        if matches!(t.urgency.as_str(), "C" | "D") {
            let e = ems.entry(quarter(t.alarm)).or_default();
            e.1 += 1;
            e.0 += u64::from(!t.conveyed);
        }
    }
    let q = assert_quarters("ems_non_conveyance", &shares(ems), 1e-9);
    for (p, v) in &q {
        let v = v["value"].as_f64().unwrap();
        assert!((30.0..65.0).contains(&v), "{p}: EMS non-conveyance {v}");
    }
}

fn v_cells<'a>(period: &'a Value, dimension: &str) -> BTreeSet<&'a str> {
    period["breakdown"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["dimension"] == dimension)
        .map(|c| c["member"].as_str().unwrap())
        .collect()
}

#[test]
fn digital_share_matches_the_truth() {
    let mut counts: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for v in fixture().truth.visits.iter().filter(|v| v.valid) {
        let e = counts.entry(quarter_of(v.month)).or_default();
        e.1 += v.visits;
        if v.channel == "Chat" || v.channel == "Digitaalinen sote-keskus" {
            e.0 += v.visits;
        }
    }
    let q = assert_quarters("digital_share", &shares(counts), 1e-9);
    for (p, v) in &q {
        let v = v["value"].as_f64().unwrap();
        assert!((2.5..4.0).contains(&v), "{p}: digital share {v}");
    }
}

#[test]
fn quarantine_holds_exactly_the_broken_rows() {
    let f = fixture();
    let t = &f.truth;
    let mut expected: BTreeMap<&str, usize> = BTreeMap::new();
    let mut add = |source: &'static str, valid: bool| {
        if !valid {
            *expected.entry(source).or_default() += 1;
        }
    };
    t.contacts.iter().for_each(|c| add(c.source, c.valid));
    t.chats.iter().for_each(|c| add(c.source, c.valid));
    t.feedback.iter().for_each(|r| add(r.source, r.valid));
    t.care.iter().for_each(|r| add("care_register", r.valid));
    t.rescue.iter().for_each(|r| add("rescue_pronto", r.valid));
    t.ems.iter().for_each(|r| add("ems_tasks", r.valid));
    t.sotkanet.iter().for_each(|r| add("sotkanet", r.valid));
    t.visits
        .iter()
        .for_each(|r| add("primary_care_visits", r.valid));

    let out = run_ok(&[
        "--warehouse",
        f.warehouse.to_str().unwrap(),
        "quarantine",
        "--format",
        "json",
        "--limit",
        "100000",
    ]);
    let rejects: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let mut got: BTreeMap<&str, usize> = BTreeMap::new();
    for r in &rejects {
        *got.entry(r["source"].as_str().unwrap()).or_default() += 1;
        assert!(r["line"].as_i64().unwrap() > 1);
    }
    assert_eq!(got, expected);
}

#[test]
fn curated_tables_hold_no_personal_data() {
    let f = fixture();
    let hetus: BTreeSet<&str> = f.truth.care.iter().map(|c| c.client_key.as_str()).collect();
    for table in [
        "contacts",
        "chats",
        "feedback",
        "population",
        "care_clients",
        "rescue_tasks",
        "ems_tasks",
        "primary_care_visits",
    ] {
        let out = run_ok(&[
            "--warehouse",
            f.warehouse.to_str().unwrap(),
            "sql",
            "--format",
            "json",
            &format!("SELECT * FROM {table}"),
        ]);
        let rows: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
        assert!(!rows.is_empty(), "{table} has rows");
        for row in &rows {
            for (column, v) in row.as_object().unwrap() {
                let Some(s) = v.as_str() else { continue };
                if column.starts_with('_') {
                    continue;
                }
                assert!(find_hetu(s).is_none(), "{table}.{column}: {s}");
                assert!(find_phone(s).is_none(), "{table}.{column}: {s}");
                assert!(!hetus.contains(s), "{table}.{column}: {s}");
            }
        }
    }
}

/// Every `raw.json` (the rows each tile's SQL returned) under a folder.
fn raw_rows_files(dir: &std::path::Path, found: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            raw_rows_files(&p, found);
        } else if p.file_name().is_some_and(|n| n == "raw.json") {
            found.push(p);
        }
    }
}

/// A cell of a tile's rows: (period, dimension, member) → (value, numerator, denominator,
/// n), the numbers as their bits.
type Cells = BTreeMap<(String, String, String), (Option<u64>, Option<u64>, Option<u64>, i64)>;

fn cells(rows: &[Value], number: impl Fn(&Value) -> Option<f64>) -> Cells {
    rows.iter()
        .map(|r| {
            let text = |k: &str| r[k].as_str().unwrap_or("").to_string();
            let bits = |k: &str| number(&r[k]).map(f64::to_bits);
            (
                (text("period"), text("dimension"), text("member")),
                (
                    bits("value"),
                    bits("numerator"),
                    bits("denominator"),
                    r["n"].as_i64().unwrap(),
                ),
            )
        })
        .collect()
}

/// Asserts that the latest snapshot under `warehouse` holds, for `tile` at its quarters and
/// years, exactly the rows its SQL gives when run at those grains (with `sql`, which runs
/// `tilannekuva sql --grain G --format json -- QUERY` and returns stdout): every total and
/// breakdown cell, value, numerator, denominator and n, bit for bit.
fn assert_quarters_and_years_are_the_sql(
    warehouse: &std::path::Path,
    tile: &tilannekuva_tiles::TileDef,
    sql: impl Fn(&[&str]) -> Vec<u8>,
) {
    let mut found = Vec::new();
    raw_rows_files(warehouse, &mut found);
    let latest = found
        .iter()
        .max()
        .expect("a published snapshot keeps raw.json");
    let raw: Value = serde_json::from_slice(&std::fs::read(latest).unwrap()).unwrap();
    for grain in ["quarter", "year"] {
        let out = sql(&["sql", "--grain", grain, "--format", "json", "--", &tile.sql]);
        let queried: Vec<Value> = serde_json::from_slice(&out).unwrap();
        let published = raw["tiles"][&tile.meta.id]["rows"][grain]
            .as_array()
            .unwrap();
        let queried = cells(&queried, Value::as_f64);
        // raw.json keeps numbers as the shortest text that reads back to the same bits.
        let published = cells(published, |v| v.as_str().map(|s| s.parse().unwrap()));
        // Two years of the sample: eight quarters, two years, and any breakdown cells.
        let periods = if grain == "quarter" { 8 } else { 2 };
        assert!(
            queried.len() >= periods,
            "{} {grain}: {queried:?}",
            tile.meta.id
        );
        assert_eq!(published, queried, "{} at the {grain} grain", tile.meta.id);
    }
}

/// A tile that adds up its quarters and years from its months (`roll_up`) publishes exactly
/// the rows its SQL gives at those grains.
#[test]
fn quarters_and_years_added_up_from_months_are_what_the_sql_gives() {
    let f = fixture();
    let tiles =
        tilannekuva_tiles::load_tiles(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sql"))
            .unwrap();
    let rolled: Vec<_> = tiles.iter().filter(|t| t.meta.roll_up.is_some()).collect();
    assert!(rolled.len() >= 5, "the share tiles roll up");
    let wh = f.warehouse.to_str().unwrap();
    for t in rolled {
        assert_quarters_and_years_are_the_sql(&f.warehouse, t, |args| {
            run_ok(&[&["--warehouse", wh][..], args].concat()).stdout
        });
    }
}

/// A `roll_up` that does not fit the tile's month rows (here `ratio` on a percentage) is
/// caught on the first month row: the engine says which row and why, queries the quarters
/// and years instead, and publishes what the SQL gives.
#[test]
fn a_roll_up_that_does_not_fit_the_months_is_queried_instead() {
    let f = fixture();
    let project = crate::common::CopiedProject::new();
    crate::common::copy_dir(&f.warehouse, &project.warehouse);
    let meta = project.dir.path().join("sql/nurse_chat_resolution.toml");
    let text = std::fs::read_to_string(&meta).unwrap();
    assert!(text.contains("roll_up = \"percent\""));
    std::fs::write(
        &meta,
        text.replace("roll_up = \"percent\"", "roll_up = \"ratio\""),
    )
    .unwrap();
    let said = project.run(&["compute", "--full"]);
    assert!(
        said.contains("nurse_chat_resolution")
            && said.contains("does not fit the month rows")
            && said.contains("is not the ratio of"),
        "{said}"
    );
    let tile = tilannekuva_tiles::load_tiles(&project.dir.path().join("sql"))
        .unwrap()
        .into_iter()
        .find(|t| t.meta.id == "nurse_chat_resolution")
        .unwrap();
    assert_quarters_and_years_are_the_sql(&project.warehouse, &tile, |args| {
        project.run_apart(args).0.into_bytes()
    });
}
