//! Status, target, attainment, grey reasons, previous value and change, asserted on the
//! engine's output: tiles defined here compute over a small warehouse of hand-written
//! figures (see `common`), so every value is known exactly.

mod common;

use common::{cell, compute, months, total};
use tilannekuva_tiles::{Grain, PeriodFigure, Status, Tile};

/// Helsinki mid-quarter instant of a quarter label, `2024-Q1` → 15 February 2024, 10:00 UTC.
fn mid(quarter: &str) -> String {
    let month = match &quarter[5..] {
        "Q1" => "02",
        "Q2" => "05",
        "Q3" => "08",
        _ => "11",
    };
    format!("{}-{month}-15T10:00:00Z", &quarter[..4])
}

/// All quarters of 2024–2025 delivered, computed in 2026.
const NOW: &str = "2026-01-10T08:00:00Z";

fn all_months() -> Vec<String> {
    months("2024-01", "2025-12")
}

/// Computes a tile whose quarters have these totals (value, n = 100), all delivered.
async fn quarters(meta: &str, values: &[(&str, f64)]) -> Tile {
    let facts: Vec<_> = values
        .iter()
        .map(|(q, v)| total(&mid(q), Some(*v), 100))
        .collect();
    let delivered = all_months();
    let delivered: Vec<&str> = delivered.iter().map(String::as_str).collect();
    compute(common::tile_def(meta), &facts, &delivered, NOW).await
}

fn fig<'a>(t: &'a Tile, period: &str) -> &'a PeriodFigure {
    t.figure(Grain::Quarter, period)
        .unwrap_or_else(|| panic!("{period} is computed"))
}

fn status(t: &Tile, period: &str) -> Status {
    fig(t, period).status
}

fn close(a: Option<f64>, b: f64) -> bool {
    a.is_some_and(|a| (a - b).abs() < 1e-9)
}

#[tokio::test]
async fn higher_is_better_colours_change_just_over_90_and_50_percent() {
    let t = quarters(
        "direction = \"higher_is_better\"\ntargets = [{ from_year = 2024, value = 100.0 }]",
        &[
            ("2024-Q1", 90.01),
            ("2024-Q2", 90.0),
            ("2024-Q3", 50.01),
            ("2024-Q4", 50.0),
            ("2025-Q1", 0.0),
            ("2025-Q2", 120.0),
        ],
    )
    .await;
    assert_eq!(status(&t, "2024-Q1"), Status::Green);
    assert_eq!(status(&t, "2024-Q2"), Status::Yellow, "0.9 is not over 0.9");
    assert_eq!(status(&t, "2024-Q3"), Status::Yellow);
    assert_eq!(status(&t, "2024-Q4"), Status::Red, "0.5 is not over 0.5");
    assert_eq!(status(&t, "2025-Q1"), Status::Red);
    assert_eq!(status(&t, "2025-Q2"), Status::Green);
    assert!(close(fig(&t, "2024-Q2").attainment, 0.9));
    assert!(close(fig(&t, "2025-Q1").attainment, 0.0));
    assert!(close(fig(&t, "2025-Q2").attainment, 1.2), "not capped");
    for f in &t.series[&Grain::Quarter] {
        assert_eq!(f.target, Some(100.0), "{}", f.period);
        assert_eq!(f.status_reason, None, "{}", f.period);
        assert!(f.complete && !f.in_progress, "{}", f.period);
    }
}

#[tokio::test]
async fn lower_is_better_attainment_is_target_over_value() {
    let t = quarters(
        "direction = \"lower_is_better\"\ntargets = [{ from_year = 2024, value = 9.0 }]",
        &[
            ("2024-Q1", 9.0),
            ("2024-Q2", 9.99),
            ("2024-Q3", 10.0),
            ("2024-Q4", 17.99),
            ("2025-Q1", 18.0),
            ("2025-Q2", 0.0),
            ("2025-Q3", 4.5),
        ],
    )
    .await;
    assert_eq!(status(&t, "2024-Q1"), Status::Green, "at the target");
    assert_eq!(status(&t, "2024-Q2"), Status::Green, "9 / 9.99 = 0.9009");
    assert_eq!(status(&t, "2024-Q3"), Status::Yellow, "9 / 10 = 0.9");
    assert_eq!(status(&t, "2024-Q4"), Status::Yellow, "9 / 17.99 = 0.5003");
    assert_eq!(status(&t, "2025-Q1"), Status::Red, "9 / 18 = 0.5");
    assert_eq!(status(&t, "2025-Q2"), Status::Green);
    assert!(close(fig(&t, "2024-Q1").attainment, 1.0));
    assert!(close(fig(&t, "2024-Q3").attainment, 0.9));
    assert!(close(fig(&t, "2025-Q1").attainment, 0.5));
    assert!(
        close(fig(&t, "2025-Q2").attainment, 1.0),
        "a value of 0 is 1.0"
    );
    assert!(
        close(fig(&t, "2025-Q3").attainment, 2.0),
        "under target: over 1.0"
    );
}

#[tokio::test]
async fn the_target_in_force_is_the_one_of_the_year_the_period_starts() {
    let changing = quarters(
        "direction = \"higher_is_better\"\ntargets = [{ from_year = 2024, value = 100.0 }, { from_year = 2025, value = 80.0 }]",
        &[("2024-Q4", 85.0), ("2025-Q1", 85.0), ("2025-Q4", 70.0)],
    )
    .await;
    let q4 = fig(&changing, "2024-Q4");
    assert_eq!(q4.target, Some(100.0));
    assert_eq!(q4.status, Status::Yellow);
    assert!(close(q4.attainment, 0.85));
    let q1 = fig(&changing, "2025-Q1");
    assert_eq!(q1.target, Some(80.0));
    assert_eq!(q1.status, Status::Green);
    assert!(close(q1.attainment, 85.0 / 80.0));
    let late = fig(&changing, "2025-Q4");
    assert_eq!(late.target, Some(80.0));
    assert_eq!(late.status, Status::Yellow, "70 / 80 = 0.875");

    // A target set from 2025 on: 2024 has none and is followed, not judged.
    let later = quarters(
        "direction = \"higher_is_better\"\ntargets = [{ from_year = 2025, value = 80.0 }]",
        &[("2024-Q4", 85.0), ("2025-Q1", 85.0)],
    )
    .await;
    let q4 = fig(&later, "2024-Q4");
    assert_eq!((q4.target, q4.attainment), (None, None));
    assert_eq!(q4.status, Status::None);
    assert_eq!(q4.status_reason, None);
    assert_eq!(fig(&later, "2025-Q1").status, Status::Green);
}

#[tokio::test]
async fn without_a_target_figures_are_followed_not_judged() {
    let at = mid("2025-Q1");
    let facts = vec![
        total(&at, Some(42.0), 100),
        cell(&at, "service", "A", 60, Some(30.0)),
        cell(&at, "service", "B", 40, Some(12.0)),
    ];
    let delivered = months("2025-01", "2025-03");
    let delivered: Vec<&str> = delivered.iter().map(String::as_str).collect();
    let t = compute(
        common::tile_def("direction = \"higher_is_better\""),
        &facts,
        &delivered,
        NOW,
    )
    .await;
    let f = fig(&t, "2025-Q1");
    assert_eq!(f.value, Some(42.0));
    assert_eq!((f.target, f.attainment), (None, None));
    assert_eq!(f.status, Status::None);
    assert_eq!(f.status_reason, None);
    assert_eq!(f.breakdown.len(), 2);
    assert!(f.breakdown.iter().all(|c| c.status == Status::None));
}

#[tokio::test]
async fn a_baseline_goal_is_judged_on_the_share_of_the_planned_change() {
    // From 15 down to 10.
    let t = quarters(
        "direction = \"lower_is_better\"\nbaseline = 15.0\ntargets = [{ from_year = 2024, value = 10.0 }]",
        &[
            ("2024-Q1", 12.0),
            ("2024-Q2", 10.4),
            ("2024-Q3", 12.5),
            ("2024-Q4", 16.0),
            ("2025-Q1", 9.0),
        ],
    )
    .await;
    assert!(close(fig(&t, "2024-Q1").attainment, 0.6));
    assert_eq!(status(&t, "2024-Q1"), Status::Yellow);
    assert_eq!(status(&t, "2024-Q2"), Status::Green, "0.92");
    assert!(close(fig(&t, "2024-Q3").attainment, 0.5));
    assert_eq!(status(&t, "2024-Q3"), Status::Red);
    assert!(
        close(fig(&t, "2024-Q4").attainment, 0.0),
        "the wrong way is 0"
    );
    assert_eq!(status(&t, "2024-Q4"), Status::Red);
    assert!(close(fig(&t, "2025-Q1").attainment, 1.2));
    assert_eq!(status(&t, "2025-Q1"), Status::Green);
}

#[tokio::test]
async fn custom_thresholds_move_the_boundaries() {
    let t = quarters(
        "direction = \"higher_is_better\"\ntargets = [{ from_year = 2024, value = 100.0 }]\nthresholds = { green_above = 0.95, yellow_above = 0.8 }",
        &[("2024-Q1", 95.5), ("2024-Q2", 95.0), ("2024-Q3", 80.5), ("2024-Q4", 80.0)],
    )
    .await;
    assert_eq!(status(&t, "2024-Q1"), Status::Green);
    assert_eq!(status(&t, "2024-Q2"), Status::Yellow);
    assert_eq!(status(&t, "2024-Q3"), Status::Yellow);
    assert_eq!(status(&t, "2024-Q4"), Status::Red);
}

#[tokio::test]
async fn a_total_under_min_n_is_suppressed_with_its_counts() {
    let facts = vec![
        total(&mid("2024-Q4"), Some(60.0), 100).ratio(60.0, 100.0),
        total(&mid("2025-Q1"), Some(70.0), 29).ratio(20.3, 29.0),
        cell(&mid("2025-Q1"), "service", "A", 15, Some(11.0)),
        cell(&mid("2025-Q1"), "service", "B", 14, Some(9.3)),
        total(&mid("2025-Q2"), Some(75.0), 30).ratio(22.5, 30.0),
    ];
    let delivered = months("2024-10", "2025-06");
    let delivered: Vec<&str> = delivered.iter().map(String::as_str).collect();
    let t = compute(
        common::tile_def(
            "direction = \"higher_is_better\"\ntargets = [{ from_year = 2024, value = 100.0 }]\nmin_n = 30",
        ),
        &facts,
        &delivered,
        NOW,
    )
    .await;
    let s = fig(&t, "2025-Q1");
    assert_eq!(s.status, Status::Grey);
    assert_eq!(
        s.status_reason.as_deref(),
        Some("suppressed: n is below the minimum 30")
    );
    assert_eq!(
        (s.value, s.numerator, s.denominator, s.n),
        (None, None, None, None)
    );
    assert_eq!((s.attainment, s.change), (None, None));
    assert_eq!(s.previous_value, Some(60.0), "the previous period is shown");
    assert_eq!(s.target, Some(100.0));
    // Both cells are over min_cell_n, but together they are the total: one goes.
    assert_eq!(s.breakdown.len(), 1);
    assert_eq!(s.breakdown[0].member, "A");
    // Published, the suppressed counts are null.
    let json = serde_json::to_value(s).unwrap();
    for key in ["value", "numerator", "denominator", "n"] {
        assert!(json[key].is_null(), "{key}: {json}");
    }
    // At the minimum it is shown; its previous value is the suppressed one: none.
    let next = fig(&t, "2025-Q2");
    assert_eq!((next.value, next.n), (Some(75.0), Some(30)));
    assert_eq!(next.status, Status::Yellow);
    assert_eq!((next.previous_value, next.change), (None, None));
}

#[tokio::test]
async fn incomplete_data_greys_the_period_and_names_what_is_missing() {
    // February 2025 never arrived.
    let facts = vec![
        total("2025-01-20T10:00:00Z", Some(95.0), 100),
        total("2024-11-15T10:00:00Z", Some(95.0), 100),
    ];
    let t = compute(
        common::tile_def(
            "direction = \"higher_is_better\"\ntargets = [{ from_year = 2024, value = 100.0 }]",
        ),
        &facts,
        &["2024-10", "2024-11", "2024-12", "2025-01", "2025-03"],
        NOW,
    )
    .await;
    let f = fig(&t, "2025-Q1");
    assert_eq!(
        f.status,
        Status::Grey,
        "never coloured, though 95 % is green"
    );
    assert_eq!(
        f.status_reason.as_deref(),
        Some("incomplete data: missing facts_src 2025-02")
    );
    assert_eq!(f.missing, vec!["facts_src 2025-02"]);
    assert!(!f.complete && !f.in_progress);
    assert_eq!(f.value, Some(95.0), "the value is shown");
    assert_eq!(fig(&t, "2024-Q4").status, Status::Green);
    assert!(fig(&t, "2024-Q4").complete);
}

#[tokio::test]
async fn a_period_in_progress_is_shown_to_date_not_judged() {
    let now = "2026-05-15T12:00:00Z";
    let facts = vec![
        total(&mid("2026-Q1"), Some(50.0), 100),
        total("2026-05-15T09:00:00Z", Some(95.0), 100),
    ];
    let meta = "direction = \"higher_is_better\"\ntargets = [{ from_year = 2024, value = 100.0 }]";
    let t = compute(
        common::tile_def(meta),
        &facts,
        &["2026-01", "2026-02", "2026-03", "2026-04", "2026-05"],
        now,
    )
    .await;
    let f = fig(&t, "2026-Q2");
    assert_eq!(f.status, Status::Grey);
    assert_eq!(
        f.status_reason.as_deref(),
        Some("period in progress: data through 15.5.2026")
    );
    assert!(f.in_progress && !f.complete);
    assert!(f.missing.is_empty(), "June is not due yet");
    assert_eq!(f.value, Some(95.0));
    assert_eq!(f.previous_value, Some(50.0));
    assert_eq!(f.change, Some(45.0));
    assert_eq!(t.latest(Grain::Quarter).unwrap().period, "2026-Q1");
    assert_eq!(t.current(Grain::Quarter).unwrap().period, "2026-Q2");
    assert_eq!(fig(&t, "2026-Q1").status, Status::Red);

    // A month already due is missing too: incomplete comes first.
    let t = compute(common::tile_def(meta), &facts[1..], &["2026-05"], now).await;
    let f = fig(&t, "2026-Q2");
    assert_eq!(
        f.status_reason.as_deref(),
        Some("incomplete data: missing facts_src 2026-04")
    );
    assert!(f.in_progress);
}

#[tokio::test]
async fn grey_reasons_come_in_the_documented_order() {
    // 2025-Q1: suppressed and incomplete; 2025-Q2: no value and incomplete.
    let facts = vec![
        total("2025-01-15T10:00:00Z", Some(99.0), 10),
        total("2025-04-15T10:00:00Z", None, 100),
    ];
    let t = compute(
        common::tile_def(
            "direction = \"higher_is_better\"\ntargets = [{ from_year = 2024, value = 100.0 }]\nmin_n = 30",
        ),
        &facts,
        &["2025-01", "2025-04"],
        NOW,
    )
    .await;
    let reason = |p: &str| fig(&t, p).status_reason.clone().unwrap();
    assert_eq!(reason("2025-Q1"), "suppressed: n is below the minimum 30");
    assert_eq!(reason("2025-Q2"), "no data for the period");
    assert_eq!(
        fig(&t, "2025-Q2").n,
        Some(100),
        "no value is not suppression"
    );
    for p in ["2025-Q1", "2025-Q2"] {
        assert_eq!(fig(&t, p).status, Status::Grey);
        assert!(!fig(&t, p).missing.is_empty(), "{p} is incomplete too");
    }
}

#[tokio::test]
async fn previous_value_and_change_cross_the_year_boundary() {
    let t = quarters(
        "direction = \"higher_is_better\"",
        &[
            ("2024-Q3", 70.0),
            ("2024-Q4", 80.0),
            ("2025-Q1", 85.5),
            ("2025-Q3", 90.0),
        ],
    )
    .await;
    let f = |p| fig(&t, p);
    assert_eq!(
        (f("2024-Q3").previous_value, f("2024-Q3").change),
        (None, None)
    );
    assert_eq!(f("2024-Q4").previous_value, Some(70.0));
    assert_eq!(f("2024-Q4").change, Some(10.0));
    assert_eq!(
        f("2025-Q1").previous_value,
        Some(80.0),
        "2024-Q4 is before 2025-Q1"
    );
    assert_eq!(f("2025-Q1").change, Some(5.5));
    assert_eq!(
        (f("2025-Q3").previous_value, f("2025-Q3").change),
        (None, None),
        "2025-Q2 has no figure"
    );

    // Months: December to January.
    let facts = vec![
        total("2024-12-31T21:30:00Z", Some(40.0), 100), // 31.12. 23:30 Helsinki
        total("2024-12-31T22:30:00Z", Some(41.5), 100), // 1.1. 00:30 Helsinki
    ];
    let t = compute(
        common::tile_def("direction = \"higher_is_better\"\ngrains = [\"month\"]"),
        &facts,
        &["2024-12", "2025-01"],
        NOW,
    )
    .await;
    let jan = t.figure(Grain::Month, "2025-01").unwrap();
    assert_eq!(jan.previous_value, Some(40.0));
    assert_eq!(jan.change, Some(1.5));
}
