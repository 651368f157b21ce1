//! A small warehouse with hand-built snapshots, written through the public warehouse API.
#![allow(dead_code)]

use std::collections::BTreeMap;

use bytes::Bytes;
use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use tilannekuva_desktop::{AppState, DesktopConfig, TokenConfig};
use tilannekuva_tiles::definition::{Direction, Owner, Placement, Target, Text, Thresholds};
use tilannekuva_tiles::status::{attainment, colour};
use tilannekuva_tiles::{
    Cell, Grain, PeriodFigure, SourceFile, Status, Strategy, Tile, TileMeta, TilesDoc,
};
use tilannekuva_warehouse::{LoadRecord, LoadStatus, SnapshotRecord, Warehouse};

/// Sees every sector.
pub const ADMIN: &str = "admin-token-0123456789abcdef";
/// Sees health services only.
pub const HEALTH: &str = "terveys-token-fedcba9876543210";

/// The health services' owner: sees health services and writes their check-ins.
pub const OWNER: &str = "terveys-owner-token-00112233";

pub fn config() -> DesktopConfig {
    DesktopConfig::new(
        "127.0.0.1:0".parse().unwrap(),
        vec![
            TokenConfig::from_secret("johtoryhmä", ADMIN, vec![]),
            TokenConfig::from_secret("terveys", HEALTH, vec!["terveys".into()]),
            TokenConfig::from_secret("terveysjohtaja", OWNER, vec!["terveys".into()]).with_write(),
        ],
    )
}

/// The 2023–2025 priority a fixture tile placed under a 2026–2029 one also has.
fn earlier_priority(current: &str) -> &'static str {
    match current {
        "asiakkuus" => "vaikuttavat_palvelut",
        "ennaltaehkaisy" => "ennakointi",
        "uudistaminen" => "sopiva_polku",
        _ => "luottamus",
    }
}

pub fn strategy() -> Strategy {
    Strategy::from_file(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/strategy.toml"),
    )
    .expect("config/strategy.toml")
}

fn text(fi: &str, en: &str) -> Text {
    Text {
        fi: fi.into(),
        en: en.into(),
        sv: None,
    }
}

struct Spec {
    id: &'static str,
    fi: &'static str,
    en: &'static str,
    sector: &'static str,
    priority: &'static str,
    perspective: &'static str,
    unit: &'static str,
    decimals: u32,
    direction: Direction,
    target: Option<f64>,
    min_n: i64,
    values: Vec<(Option<f64>, i64)>,
    incomplete_last: bool,
}

fn status_of(
    spec: &Spec,
    value: Option<f64>,
    n: i64,
    complete: bool,
) -> (Status, Option<String>, Option<f64>) {
    if n < spec.min_n {
        return (
            Status::Grey,
            Some(format!("suppressed: n is below the minimum {}", spec.min_n)),
            None,
        );
    }
    let Some(v) = value else {
        return (Status::Grey, Some("no data for the period".into()), None);
    };
    if !complete {
        return (
            Status::Grey,
            Some("incomplete data: missing ems 2025-12".into()),
            None,
        );
    }
    match spec.target {
        None => (Status::None, None, None),
        Some(t) => {
            let a = attainment(spec.direction, v, t, None).unwrap();
            (colour(a, &Thresholds::default()), None, Some(a))
        }
    }
}

fn end_of(d: NaiveDate) -> DateTime<Utc> {
    chrono_tz::Europe::Helsinki
        .from_local_datetime(&d.succ_opt().unwrap().and_hms_opt(0, 0, 0).unwrap())
        .earliest()
        .unwrap()
        .with_timezone(&Utc)
}

fn build_tile(spec: Spec, loaded_at: DateTime<Utc>) -> Tile {
    let mut quarters = Vec::new();
    let mut prev: Option<f64> = None;
    let count = spec.values.len();
    for (i, (value, n)) in spec.values.iter().copied().enumerate() {
        let year = 2024 + (i / 4) as i32;
        let label = format!("{year}-Q{}", i % 4 + 1);
        let (start, end) = Grain::Quarter.bounds(&label).unwrap();
        let complete = !(spec.incomplete_last && i + 1 == count);
        let shown = if n < spec.min_n { None } else { value };
        let (status, reason, att) = status_of(&spec, value, n, complete);
        let breakdown = if spec.id == GOAL_PROGRESS {
            goal_cells(i)
        } else if spec.id == "callback_share" || spec.id == "nps" {
            ["Puhelin", "Chat", "Sähköinen asiointi"]
                .iter()
                .enumerate()
                .map(|(j, m)| Cell {
                    dimension: "channel".into(),
                    member: m.to_string(),
                    value: shown.map(|v| v - 2.0 + j as f64 * 2.0),
                    numerator: None,
                    denominator: None,
                    n: n / 3,
                    status: if spec.target.is_some() {
                        Status::Green
                    } else {
                        Status::None
                    },
                    // A member whose series continues through a merge says so.
                    note: (spec.id == "nps" && j == 2).then(|| {
                        "Verkkoasiointi (SA01) continues as Sähköinen asiointi (SA02) from 1.10.2025"
                            .to_string()
                    }),
                })
                .collect()
        } else {
            vec![]
        };
        quarters.push(PeriodFigure {
            period: label,
            start,
            end,
            value: shown,
            numerator: None,
            denominator: None,
            n: (n >= spec.min_n).then_some(n),
            target: spec.target,
            attainment: att,
            status,
            status_reason: reason,
            previous_value: prev,
            change: shown.zip(prev).map(|(v, p)| v - p),
            complete,
            in_progress: false,
            missing: if complete {
                vec![]
            } else {
                vec!["ems 2025-12".into()]
            },
            data_through: Some(end_of(end)),
            breakdown,
        });
        prev = shown;
    }
    let mut years = Vec::new();
    for year in [2024, 2025] {
        let qs: Vec<&PeriodFigure> = quarters.iter().filter(|q| q.start.year() == year).collect();
        let vals: Vec<f64> = qs.iter().filter_map(|q| q.value).collect();
        let n: i64 = spec.values[(year - 2024) as usize * 4..][..4]
            .iter()
            .map(|(_, n)| n)
            .sum();
        let v = (!vals.is_empty()).then(|| vals.iter().sum::<f64>() / vals.len() as f64);
        let (start, end) = Grain::Year.bounds(&year.to_string()).unwrap();
        let (status, reason, att) = status_of(&spec, v, n, true);
        years.push(PeriodFigure {
            period: year.to_string(),
            start,
            end,
            value: v,
            numerator: None,
            denominator: None,
            n: (n >= spec.min_n).then_some(n),
            target: spec.target,
            attainment: att,
            status,
            status_reason: reason,
            previous_value: None,
            change: None,
            complete: true,
            in_progress: false,
            missing: vec![],
            data_through: Some(end_of(end)),
            breakdown: vec![],
        });
    }
    let data_through = quarters.last().and_then(|q| q.data_through);
    let mut series = BTreeMap::new();
    series.insert(Grain::Quarter, quarters);
    series.insert(Grain::Year, years);
    Tile {
        meta: TileMeta {
            id: spec.id.into(),
            title: text(spec.fi, spec.en),
            description: text(
                &format!("{} – kuvaus.", spec.fi),
                &format!("{} – description.", spec.en),
            ),
            unit: spec.unit.into(),
            decimals: spec.decimals,
            direction: spec.direction,
            targets: spec
                .target
                .map(|v| {
                    vec![Target {
                        from_year: 2024,
                        value: v,
                    }]
                })
                .unwrap_or_default(),
            baseline: None,
            thresholds: Thresholds::default(),
            owner: Owner {
                sector: spec.sector.into(),
                role: "Palvelujohtaja".into(),
            },
            strategy: Placement {
                // Placed in both strategies, as the shipped tiles are: 2025 figures show
                // under the 2023–2025 priorities.
                priority: BTreeMap::from([
                    ("2026-2029".to_string(), spec.priority.to_string()),
                    (
                        "2023-2025".to_string(),
                        earlier_priority(spec.priority).to_string(),
                    ),
                ]),
                perspective: spec.perspective.into(),
            },
            min_n: spec.min_n,
            min_cell_n: 5,
            inputs: vec!["contacts".into()],
            grains: vec![Grain::Quarter, Grain::Year],
            point_in_time: false,
            incremental: false,
            lookback_days: None,
            roll_up: None,
        },
        definition_version: "0123456789abcdef".into(),
        sql: format!(
            "SELECT fi_period(t) AS period, avg(x) AS value, count(*) AS n\nFROM {}\nGROUP BY 1",
            spec.id
        ),
        sources: vec![SourceFile {
            source: "contact_centre".into(),
            file: "soitot_2025-12.csv".into(),
            sha256: "ab".repeat(32),
            loaded_at,
        }],
        data_through,
        series,
    }
}

/// The tile the binding goals' progress is read from (as `config/strategy.toml` names it).
pub const GOAL_PROGRESS: &str = "key_results_progressing";

/// Key results per binding goal.
pub const KEY_RESULTS_PER_GOAL: i64 = 42;

/// Key results of goal `goal` (0 for SV1) progressing in quarter `quarter` (0 for 2024-Q1).
pub fn progressing(quarter: usize, goal: usize) -> i64 {
    KEY_RESULTS_PER_GOAL - ((quarter + 2 * goal) % 9) as i64
}

/// The progress tile's breakdown in a quarter: a cell per goal, as its SQL writes them (the
/// id, a space and the goal's text).
fn goal_cells(quarter: usize) -> Vec<Cell> {
    strategy()
        .goals
        .iter()
        .enumerate()
        .map(|(j, g)| {
            let num = progressing(quarter, j);
            let value = 100.0 * num as f64 / KEY_RESULTS_PER_GOAL as f64;
            let a = attainment(Direction::HigherIsBetter, value, 100.0, None).unwrap();
            Cell {
                dimension: "goal".into(),
                member: format!("{} {}", g.id, g.name.fi),
                value: Some(value),
                numerator: Some(num as f64),
                denominator: Some(KEY_RESULTS_PER_GOAL as f64),
                n: KEY_RESULTS_PER_GOAL,
                status: colour(a, &Thresholds::default()),
                note: None,
            }
        })
        .collect()
}

pub fn tiles(loaded_at: DateTime<Utc>) -> Vec<Tile> {
    let q = |v: &[f64], n: i64| v.iter().map(|x| (Some(*x), n)).collect::<Vec<_>>();
    vec![
        build_tile(
            Spec {
                id: "callback_share",
                fi: "Takaisinsoittojen osuus ensilinjassa",
                en: "Callback share of first-line contacts",
                sector: "strategia",
                priority: "asiakkuus",
                perspective: "asiakaskokemus",
                unit: "%",
                decimals: 1,
                direction: Direction::HigherIsBetter,
                target: None,
                min_n: 30,
                values: q(&[57.2, 58.0, 59.4, 59.1, 58.8, 59.6, 59.2, 60.3], 4200),
                incomplete_last: false,
            },
            loaded_at,
        ),
        build_tile(
            Spec {
                id: "nps",
                fi: "Asiakaskokemus (NPS)",
                en: "Customer experience (NPS)",
                sector: "terveys",
                priority: "asiakkuus",
                perspective: "asiakaskokemus",
                unit: "NPS",
                decimals: 1,
                direction: Direction::HigherIsBetter,
                target: Some(60.0),
                min_n: 30,
                values: q(&[72.1, 74.9, 85.9, 86.1, 70.4, 66.0, 58.2, 47.5], 900),
                incomplete_last: false,
            },
            loaded_at,
        ),
        build_tile(
            Spec {
                id: "response_time",
                fi: "Toimintavalmiusaika riskiluokittain",
                en: "Rescue response within target",
                sector: "pelastus",
                priority: "ennaltaehkaisy",
                perspective: "vaikuttavuus",
                unit: "%",
                decimals: 0,
                direction: Direction::HigherIsBetter,
                target: Some(96.0),
                min_n: 30,
                values: q(&[71.0, 73.0, 87.0, 83.0, 80.0, 84.0, 88.0, 90.0], 400),
                incomplete_last: true,
            },
            loaded_at,
        ),
        build_tile(
            Spec {
                id: "coverage_75",
                fi: "Ympärivuorokautisen palveluasumisen peittävyys 75+",
                en: "Round-the-clock housing coverage 75+",
                sector: "ikaihmiset",
                priority: "uudistaminen",
                perspective: "talous",
                unit: "%",
                decimals: 2,
                direction: Direction::LowerIsBetter,
                target: Some(6.75),
                min_n: 0,
                values: q(&[7.31, 7.25, 7.2, 7.14, 7.02, 6.95, 6.88, 6.7], 14000),
                incomplete_last: false,
            },
            loaded_at,
        ),
        build_tile(
            Spec {
                id: "prom_groups",
                fi: "PROM-kyselyjen vastausosuus",
                en: "PROM survey response rate",
                sector: "terveys",
                priority: "kumppanuudet",
                perspective: "henkilostokokemus",
                unit: "%",
                decimals: 1,
                direction: Direction::HigherIsBetter,
                target: Some(25.0),
                min_n: 30,
                values: vec![
                    (Some(12.0), 40),
                    (Some(14.0), 41),
                    (Some(18.0), 44),
                    (Some(21.0), 45),
                    (Some(22.0), 36),
                    (Some(23.0), 35),
                    (Some(24.0), 31),
                    (Some(30.0), 12),
                ],
                incomplete_last: false,
            },
            loaded_at,
        ),
        build_tile(
            Spec {
                id: GOAL_PROGRESS,
                fi: "Avaintuloksista etenee",
                en: "Key results progressing",
                sector: "strategia",
                priority: "uudistaminen",
                perspective: "vaikuttavuus",
                unit: "%",
                decimals: 1,
                direction: Direction::HigherIsBetter,
                target: Some(100.0),
                min_n: 1,
                values: (0..8)
                    .map(|i| {
                        let all = KEY_RESULTS_PER_GOAL * 5;
                        let num: i64 = (0..5).map(|j| progressing(i, j)).sum();
                        (Some(100.0 * num as f64 / all as f64), all)
                    })
                    .collect(),
                incomplete_last: false,
            },
            loaded_at,
        ),
    ]
}

async fn publish(wh: &Warehouse, doc: &TilesDoc) {
    let path = format!("tiles/{}", doc.snapshot_id);
    wh.put(
        &format!("{path}/tiles.json"),
        Bytes::from(serde_json::to_vec(doc).unwrap()),
    )
    .await
    .unwrap();
    let record = SnapshotRecord {
        id: doc.snapshot_id.clone(),
        computed_at: doc.computed_at,
        data_version: doc.data_version,
        path,
        rows: 0,
        definitions: doc
            .tiles
            .iter()
            .map(|t| (t.meta.id.clone(), t.definition_version.clone()))
            .collect(),
        pin: None,
        expired_at: None,
    };
    wh.commit("publish", |m| {
        m.snapshots.push(record.clone());
        Ok(())
    })
    .await
    .unwrap();
}

/// A warehouse with a load in the ledger and two snapshots: an older one (4 tiles, from
/// 15.1.2026) and the latest (6 tiles, now).
pub async fn warehouse() -> (tempfile::TempDir, Warehouse) {
    let dir = tempfile::tempdir().unwrap();
    let wh = Warehouse::open_local(dir.path().join("warehouse")).unwrap();
    let loaded_at: DateTime<Utc> = "2026-01-10T06:00:00Z".parse().unwrap();
    wh.commit("load", |m| {
        m.loads.push(LoadRecord {
            load_id: "load-1".into(),
            source: "contact_centre".into(),
            sha256: "ab".repeat(32),
            original_name: "soitot_2025-12.csv".into(),
            raw_path: "raw/contact_centre/x/soitot_2025-12.csv".into(),
            bytes: 1000,
            fetched_at: loaded_at,
            loaded_at,
            rows: 4269,
            rejects: 3,
            skipped: 0,
            periods: vec!["2025-12".into()],
            policy: "append".into(),
            replaced: vec![],
            status: LoadStatus::Loaded,
            raw_removed_at: None,
            covers: None,
        });
        Ok(())
    })
    .await
    .unwrap();
    let all = tiles(loaded_at);
    let old = TilesDoc {
        snapshot_id: "20260115T080000000Z-old000".into(),
        computed_at: "2026-01-15T08:00:00Z".parse().unwrap(),
        data_version: 1,
        strategy: strategy(),
        tiles: all[..4].to_vec(),
    };
    publish(&wh, &old).await;
    let new = TilesDoc {
        snapshot_id: "20260201T080000000Z-new000".into(),
        computed_at: "2026-02-01T08:00:00Z".parse().unwrap(),
        data_version: 2,
        strategy: strategy(),
        tiles: all,
    };
    publish(&wh, &new).await;
    (dir, wh)
}

pub async fn state() -> (tempfile::TempDir, AppState) {
    let (dir, wh) = warehouse().await;
    (dir, AppState::new(wh, config()))
}

/// How the page formats a value: the tile's decimals, decimal comma, no-break space, unit.
pub fn fi_value(value: Option<f64>, decimals: u32, unit: &str) -> String {
    match value {
        None => "–".into(),
        Some(v) => format!(
            "{}\u{a0}{unit}",
            format!("{v:.*}", decimals as usize).replace('.', ",")
        ),
    }
}

/// An HTTP client for the tests. reqwest is built with rustls but no crypto provider (the
/// default one needs a slow C build), so ring is installed as the process default first.
pub fn client_builder() -> reqwest::ClientBuilder {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
}
