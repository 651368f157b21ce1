//! Coverage of round-the-clock service housing: the denominator from THL Sotkanet, the
//! numerator from the county's own client register.
//!
//! * `sotkanet`: `sotkanet_127_171.json`, exactly the Sotkanet REST array
//!   (`{"indicator":127,"region":963,"year":2024,"gender":"total","value":169869.0,"absValue":169869}`),
//!   and the same figures as `sotkanet_127_171.csv` (`;`, decimal comma). Indicator 127 is the
//!   population on 31.12., 171 the share aged 75+ (%, no `absValue`). Years: the year before the
//!   period through its last year.
//! * `care_register`: `ymparivuorokautinen_YYYY-MM.csv`, one row per client in round-the-clock
//!   service housing on the month's last day, with a synthetic check-character-valid
//!   henkilötunnus (which the pipeline must hash) and the age on that day.
//!
//! # Model
//!
//! Kanta-Häme (963) has 169 869 residents at the end of 2024, declining 0.35 % a year, 12.9 %
//! of them 75+, rising 0.3 percentage points a year. The register holds ≈ 1 565 clients aged
//! 75+ at the end of 2024 (7.14 % coverage) falling to ≈ 1 442 at the end of 2025 (≈ 6.45 %),
//! plus ≈ 10 % younger clients. Clients stay from month to month: each month ≈ 2.8 % of the
//! 75+ clients (1.5 % of the younger) leave, new clients fill the places, and everyone ages.
//!
//! A register file is written for every month whose last day is inside the period.
//! Broken rows (register only): `Ikä` = `abc`.

use std::collections::BTreeSet;

use chrono::{Datelike, Days, Months, NaiveDate};
use rand::Rng;
use serde::Serialize;

use crate::calendar::ymd;
use crate::personal;
use crate::random::{SourceRng, normal, weighted};
use crate::write::{CsvFile, FiDate, Layout, io_error};
use crate::{Ctx, GeneratedFile, Result, SampleError};

/// Source name of the Sotkanet files.
pub const SOTKANET: &str = "sotkanet";
/// Source name of the client register.
pub const CARE_REGISTER: &str = "care_register";

/// Sotkanet indicator: population on 31.12.
pub const POPULATION: u32 = 127;
/// Sotkanet indicator: share of the population aged 75+ (%).
pub const SHARE_75: u32 = 171;
/// Sotkanet region id of the Kanta-Häme wellbeing services county.
pub const KANTA_HAME: u32 = 963;

/// One Sotkanet value.
#[derive(Clone, Debug, PartialEq)]
pub struct SotkanetTruth {
    /// [`POPULATION`] or [`SHARE_75`].
    pub indicator: u32,
    /// Sotkanet region id.
    pub region: u32,
    /// Statistical year.
    pub year: i32,
    /// The value (persons, or %).
    pub value: f64,
    /// `absValue` (persons; only for the population).
    pub abs_value: Option<u64>,
    /// Always `true`: the Sotkanet files have no broken values.
    pub valid: bool,
}

/// One register row: a client on a month's last day.
#[derive(Clone, Debug, PartialEq)]
pub struct CareClientTruth {
    /// `Tilastopäivä`, the month's last day.
    pub month_end: NaiveDate,
    /// The client's henkilötunnus as written (stable from month to month).
    pub client_key: String,
    /// Age on `month_end`.
    pub age: u32,
    /// `Palveluyksikkö`.
    pub unit: String,
    /// `false` for a row broken on purpose.
    pub valid: bool,
}

/// A Sotkanet region and its trend.
struct Region {
    id: u32,
    population_2024: f64,
    yearly_change: f64,
    share_75_2024: f64,
}

/// Kanta-Häme, Päijät-Häme, the whole country, and three other wellbeing services counties
/// (ids and figures synthetic but of the right size).
const REGIONS: &[Region] = &[
    region(KANTA_HAME, 169_869.0, -0.0035, 12.9),
    region(975, 204_600.0, -0.0025, 14.0),
    region(658, 5_635_971.0, 0.004, 11.1),
    region(961, 484_000.0, 0.003, 11.4),
    region(968, 248_000.0, -0.002, 12.6),
    region(972, 160_500.0, -0.006, 14.3),
];

const fn region(id: u32, population_2024: f64, yearly_change: f64, share_75_2024: f64) -> Region {
    Region {
        id,
        population_2024,
        yearly_change,
        share_75_2024,
    }
}

/// The JSON element, field for field as Sotkanet writes it.
#[derive(Serialize)]
struct SotkanetJson {
    indicator: u32,
    region: u32,
    year: i32,
    gender: &'static str,
    value: f64,
    #[serde(rename = "absValue", skip_serializing_if = "Option::is_none")]
    abs_value: Option<u64>,
}

/// Header of the Sotkanet CSV variant.
pub const SOTKANET_CSV_HEADER: &[&str] =
    &["indicator", "region", "year", "gender", "value", "absValue"];

static SOTKANET_CSV: Layout = Layout::finnish(SOTKANET_CSV_HEADER);

/// Writes `sotkanet` (the JSON file, then the CSV variant).
pub(crate) fn generate_sotkanet(
    ctx: &Ctx<'_>,
    truth: &mut Vec<SotkanetTruth>,
) -> Result<Vec<GeneratedFile>> {
    let mut rng = ctx.rng(SOTKANET);
    let dir = ctx.source_dir(SOTKANET)?;
    let years = ctx.cfg.from.year() - 1..=ctx.cfg.to.year();
    let mut values = Vec::new();
    for indicator in [POPULATION, SHARE_75] {
        for year in years.clone() {
            for region in REGIONS {
                let since = f64::from(year - 2024);
                let (value, abs_value) = if indicator == POPULATION {
                    let trend = region.population_2024 * (1.0 + region.yearly_change).powf(since);
                    let noise = if year == 2024 {
                        0.0
                    } else {
                        normal(&mut rng) * 40.0
                    };
                    // The register scales with `scale`, so the population does too:
                    // coverage stays plausible at any volume.
                    let persons = ((trend + noise) * ctx.cfg.scale).round();
                    (persons, Some(persons as u64))
                } else {
                    let share = region.share_75_2024 + 0.3 * since + 0.03 * normal(&mut rng);
                    let share = if year == 2024 {
                        region.share_75_2024
                    } else {
                        share
                    };
                    ((share * 10.0).round() / 10.0, None)
                };
                values.push(SotkanetTruth {
                    indicator,
                    region: region.id,
                    year,
                    value,
                    abs_value,
                    valid: true,
                });
            }
        }
    }

    let json_path = dir.join("sotkanet_127_171.json");
    let rows: Vec<SotkanetJson> = values
        .iter()
        .map(|v| SotkanetJson {
            indicator: v.indicator,
            region: v.region,
            year: v.year,
            gender: "total",
            value: v.value,
            abs_value: v.abs_value,
        })
        .collect();
    let json = serde_json::to_vec(&rows).map_err(|e| SampleError::Json {
        path: json_path.clone(),
        source: e,
    })?;
    std::fs::write(&json_path, json).map_err(|e| io_error(&json_path, e))?;
    let json_file = GeneratedFile {
        source: SOTKANET.to_owned(),
        path: json_path,
        rows: rows.len(),
    };

    let mut csv = CsvFile::create(SOTKANET, dir.join("sotkanet_127_171.csv"), &SOTKANET_CSV)?;
    for v in &values {
        let value = if v.value.fract() == 0.0 {
            format!("{}", v.value as i64)
        } else {
            format!("{:.1}", v.value).replace('.', ",")
        };
        csv.field(v.indicator)
            .field(v.region)
            .field(v.year)
            .field("total")
            .field(value)
            .opt(v.abs_value);
        csv.end_row()?;
    }
    let csv_file = csv.finish()?;
    truth.extend(values);
    Ok(vec![json_file, csv_file])
}

/// Round-the-clock service homes and their relative sizes.
pub const CARE_UNITS: &[(&str, f64)] = &[
    ("Palvelukoti Ilvesranta", 1.4),
    ("Palvelukoti Vanamo", 1.0),
    ("Palvelutalo Kaurialan Helmi", 1.2),
    ("Hoivakoti Hiidenkivi", 0.8),
    ("Palvelukoti Peltorivi", 0.9),
    ("Palvelukoti Koivuranta", 1.1),
    ("Palvelukeskus Harviala", 1.0),
    ("Palvelukoti Jokilaakso", 0.9),
    ("Palvelukoti Loimijoen Kartano", 0.8),
    ("Hoivakoti Aurinkorinne", 0.6),
    ("Palvelukoti Riihikallio", 1.3),
    ("Palvelukoti Karkkilanranta", 0.7),
    ("Palvelukoti Metsäkoti", 0.6),
    ("Hoivakoti Ypäjänkartano", 0.4),
    ("Palvelukoti Linnunrata", 0.5),
];

/// `Palvelumuoto` of every row.
pub const SERVICE_FORM: &str = "Ympärivuorokautinen palveluasuminen";

/// Header of the register export.
pub const CARE_HEADER: &[&str] = &[
    "Tilastopäivä",
    "Henkilötunnus",
    "Ikä",
    "Palveluyksikkö",
    "Palvelumuoto",
];

static CARE_LAYOUT: Layout = Layout::finnish(CARE_HEADER);

/// Clients aged 75+ at the end of `month` at scale 1.0: 1 565 at the end of 2024 (7.14 % of
/// the 75+ population) and 1 442 at the end of 2025 (≈ 6.45 %), linear in between.
pub fn target_clients_75(month_end: NaiveDate) -> f64 {
    let knots = [
        (ymd(2023, 12, 31), 1610.0),
        (ymd(2024, 12, 31), 1565.0),
        (ymd(2025, 12, 31), 1442.0),
    ];
    if month_end <= knots[0].0 {
        return knots[0].1;
    }
    for pair in knots.windows(2) {
        let ((d0, v0), (d1, v1)) = (pair[0], pair[1]);
        if month_end <= d1 {
            let t = (month_end - d0).num_days() as f64 / (d1 - d0).num_days() as f64;
            return v0 + t * (v1 - v0);
        }
    }
    knots[knots.len() - 1].1
}

/// Younger clients per 75+ client.
const UNDER_75_RATIO: f64 = 0.11;

struct Client {
    hetu: String,
    birth: NaiveDate,
    unit: usize,
}

/// Full years of age on `day`.
pub(crate) fn age_on(birth: NaiveDate, day: NaiveDate) -> u32 {
    let before_birthday = (day.month(), day.day()) < (birth.month(), birth.day());
    (day.year() - birth.year() - i32::from(before_birthday)) as u32
}

fn admit(
    rng: &mut SourceRng,
    month_end: NaiveDate,
    old: bool,
    taken: &mut BTreeSet<String>,
) -> Client {
    let age = if old {
        (85.0 + 6.0 * normal(rng)).round().clamp(75.0, 102.0) as u32
    } else {
        rng.random_range(50..=74)
    };
    let birth = month_end
        .checked_sub_months(Months::new(12 * age))
        .and_then(|d| d.checked_sub_days(Days::new(rng.random_range(0..365))))
        .expect("birth date in range");
    let weights: Vec<f64> = CARE_UNITS.iter().map(|(_, w)| *w).collect();
    let unit = weighted(rng, &weights);
    loop {
        let hetu = personal::random_hetu(rng, birth);
        if taken.insert(hetu.clone()) {
            return Client { hetu, birth, unit };
        }
    }
}

/// Writes `care_register`.
pub(crate) fn generate_care(
    ctx: &Ctx<'_>,
    truth: &mut Vec<CareClientTruth>,
) -> Result<Vec<GeneratedFile>> {
    let mut rng = ctx.rng(CARE_REGISTER);
    let mut faults = ctx.faults(CARE_REGISTER);
    let dir = ctx.source_dir(CARE_REGISTER)?;
    let mut clients: Vec<Client> = Vec::new();
    let mut taken = BTreeSet::new();
    let mut files = Vec::new();
    let months = ctx
        .months()
        .into_iter()
        .filter(|m| (ctx.cfg.from..=ctx.cfg.to).contains(&m.last()));
    for month in months {
        let month_end = month.last();
        clients.retain(|c| {
            let leave = if age_on(c.birth, month_end) >= 75 {
                0.028
            } else {
                0.015
            };
            !rng.random_bool(leave)
        });
        let target_old = (ctx.scaled(target_clients_75(month_end))
            + 3.0 * ctx.cfg.scale.sqrt() * normal(&mut rng))
        .round()
        .max(1.0) as usize;
        let target_young = ((target_old as f64) * UNDER_75_RATIO).round().max(1.0) as usize;
        let old = clients
            .iter()
            .filter(|c| age_on(c.birth, month_end) >= 75)
            .count();
        let young = clients.len() - old;
        for _ in old..target_old {
            clients.push(admit(&mut rng, month_end, true, &mut taken));
        }
        for _ in young..target_young {
            clients.push(admit(&mut rng, month_end, false, &mut taken));
        }
        clients.sort_by(|a, b| (a.unit, &a.hetu).cmp(&(b.unit, &b.hetu)));

        let path = dir.join(format!("ymparivuorokautinen_{}.csv", month.label()));
        let mut csv = CsvFile::create(CARE_REGISTER, path, &CARE_LAYOUT)?;
        for client in &clients {
            let age = age_on(client.birth, month_end);
            let unit = CARE_UNITS[client.unit].0;
            let broken = faults.hit(1.0);
            csv.field(FiDate(month_end)).field(&client.hetu);
            if broken {
                csv.field("abc");
            } else {
                csv.field(age);
            }
            csv.field(unit).field(SERVICE_FORM).end_row()?;
            truth.push(CareClientTruth {
                month_end,
                client_key: client.hetu.clone(),
                age,
                unit: unit.to_owned(),
                valid: !broken,
            });
        }
        files.push(csv.finish()?);
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages() {
        assert_eq!(age_on(ymd(1940, 6, 15), ymd(2024, 6, 14)), 83);
        assert_eq!(age_on(ymd(1940, 6, 15), ymd(2024, 6, 15)), 84);
    }

    #[test]
    fn coverage_targets_match_the_reported_figures() {
        let pop_75_2024 = 169_869.0 * 0.129;
        let coverage = target_clients_75(ymd(2024, 12, 31)) / pop_75_2024 * 100.0;
        assert!((7.1..=7.2).contains(&coverage), "{coverage}");
        let pop_75_2025 = 169_869.0 * (1.0 - 0.0035) * 0.132;
        let coverage = target_clients_75(ymd(2025, 12, 31)) / pop_75_2025 * 100.0;
        assert!((6.3..=6.6).contains(&coverage), "{coverage}");
    }
}
