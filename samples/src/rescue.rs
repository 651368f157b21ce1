//! Rescue response times: task exports of the emergency response centre (PRONTO style).
//!
//! `rescue_pronto/pronto_tehtavat_YYYY-MM.csv`: UTF-8, `;`, CRLF; task number, urgency class
//! (A, B urgent; C, D not), risk class of the 1 km square (I–IV), task type, municipality, alarm
//! time and first unit on scene, both Helsinki wall clock `d.m.yyyy H:mm:ss`.
//!
//! # Model
//!
//! ≈ 6 000 tasks a year around the clock, quietest at night; A+B ≈ 55 %. Risk classes I–II are
//! found in the towns only; most tasks are in classes III and IV. For urgent tasks in classes
//! I–III the share arriving within the class target (I 6 min, II 10 min, III 20 min) is set per
//! quarter: 71, 73, 87, 83 % in 2024, 82–88 % in 2025. Class IV has no national target; its
//! response times are log-normal around 18 minutes. ≈ 3 % of tasks are cancelled before
//! anyone arrives (no arrival time). A few tasks are alarmed in the repeated hour of the autumn
//! DST change.
//!
//! Broken rows: the arrival before the alarm, or risk class `V`.

use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, Utc};
use rand::Rng;

use crate::calendar::{autumn_dst_day, helsinki, local_instant, outside_repeated_hour, quarter};
use crate::random::{HourProfile, SourceRng, exponential, lognormal, poisson, weighted};
use crate::write::{CsvFile, FiDateTime, Layout};
use crate::{Ctx, GeneratedFile, Result};

/// Source name.
pub const PRONTO: &str = "rescue_pronto";

/// One rescue task as intended.
#[derive(Clone, Debug, PartialEq)]
pub struct RescueTruth {
    /// `Tehtävänumero`.
    pub task_id: String,
    /// `A`, `B`, `C` or `D`.
    pub urgency: String,
    /// `I`, `II`, `III` or `IV`.
    pub risk_class: String,
    /// `Tehtävätyyppi`.
    pub task_type: String,
    /// `Kunta`.
    pub municipality: String,
    /// When the alarm was given.
    pub alarm: DateTime<Utc>,
    /// When the first unit arrived; `None` for cancelled tasks.
    pub arrival: Option<DateTime<Utc>>,
    /// `false` for a row broken on purpose.
    pub valid: bool,
}

/// The 11 municipalities of Kanta-Häme: name, residents, and the split of their tasks over risk
/// classes I–IV.
pub const MUNICIPALITIES: &[(&str, f64, [f64; 4])] = &[
    ("Hämeenlinna", 68_000.0, [0.09, 0.22, 0.39, 0.30]),
    ("Riihimäki", 28_500.0, [0.09, 0.22, 0.39, 0.30]),
    ("Forssa", 16_700.0, [0.05, 0.20, 0.40, 0.35]),
    ("Janakkala", 16_300.0, [0.0, 0.08, 0.42, 0.50]),
    ("Hattula", 9_400.0, [0.0, 0.05, 0.45, 0.50]),
    ("Hausjärvi", 8_100.0, [0.0, 0.05, 0.40, 0.55]),
    ("Loppi", 7_900.0, [0.0, 0.05, 0.40, 0.55]),
    ("Tammela", 5_900.0, [0.0, 0.03, 0.37, 0.60]),
    ("Humppila", 2_200.0, [0.0, 0.0, 0.35, 0.65]),
    ("Jokioinen", 5_100.0, [0.0, 0.04, 0.40, 0.56]),
    ("Ypäjä", 2_300.0, [0.0, 0.0, 0.35, 0.65]),
];

/// Risk classes as written.
pub const RISK_CLASSES: [&str; 4] = ["I", "II", "III", "IV"];

/// Urgency classes as written and their shares.
const URGENCIES: [(&str, f64); 4] = [("A", 0.15), ("B", 0.40), ("C", 0.30), ("D", 0.15)];

/// Task types and their weights in urgency classes A, B, C, D.
const TASK_TYPES: &[(&str, [f64; 4])] = &[
    ("Rakennuspalo", [0.35, 0.10, 0.02, 0.0]),
    ("Liikenneonnettomuus", [0.35, 0.25, 0.05, 0.0]),
    ("Ihmisen pelastaminen", [0.20, 0.10, 0.03, 0.0]),
    ("Automaattinen paloilmoitus", [0.0, 0.40, 0.10, 0.0]),
    ("Maastopalo", [0.10, 0.10, 0.10, 0.05]),
    ("Vahingontorjunta", [0.0, 0.05, 0.40, 0.40]),
    ("Öljyvahinko", [0.0, 0.0, 0.15, 0.20]),
    ("Eläimen pelastaminen", [0.0, 0.0, 0.15, 0.35]),
];

/// Header of the export.
pub const HEADER: &[&str] = &[
    "Tehtävänumero",
    "Kiireellisyysluokka",
    "Riskiluokka",
    "Tehtävätyyppi",
    "Kunta",
    "Hälytysaika",
    "Ensimmäinen yksikkö kohteessa",
];

static LAYOUT: Layout = Layout::finnish(HEADER);

/// Tasks a year at scale 1.0.
const PER_YEAR: f64 = 6_000.0;

/// Minutes within which the first unit should arrive, by risk class (`None` for class IV).
pub fn target_minutes(risk_class: &str) -> Option<u32> {
    match risk_class {
        "I" => Some(6),
        "II" => Some(10),
        "III" => Some(20),
        _ => None,
    }
}

/// Share of urgent tasks in classes I–III meeting their target in the quarter of `day`.
pub fn target_compliance(day: NaiveDate) -> f64 {
    match (day.year(), quarter(day)) {
        (2024, q) => [0.71, 0.73, 0.87, 0.83][q as usize - 1],
        (2025, q) => [0.82, 0.85, 0.88, 0.84][q as usize - 1],
        (year, _) if year < 2024 => 0.78,
        _ => 0.85,
    }
}

/// Response time in seconds.
fn response_seconds(rng: &mut SourceRng, risk: usize, urgent: bool, day: NaiveDate) -> i64 {
    let minutes = match target_minutes(RISK_CLASSES[risk]) {
        Some(target) => {
            let target = f64::from(target);
            let p = if urgent { target_compliance(day) } else { 0.85 };
            if rng.random_bool(p) {
                target * (0.3 + 0.7 * rng.random::<f64>().powf(0.7)) - 1.0 / 60.0
            } else {
                target * (1.0 + exponential(rng, 0.35)) + 1.0 / 60.0
            }
        }
        None => lognormal(rng, 18.0, 0.45),
    };
    (minutes * 60.0).round().max(60.0) as i64
}

struct Task {
    alarm: DateTime<Utc>,
    urgency: usize,
    risk: usize,
    task_type: &'static str,
    municipality: &'static str,
}

fn tasks(ctx: &Ctx<'_>, rng: &mut SourceRng, day: NaiveDate) -> Vec<Task> {
    let population: Vec<f64> = MUNICIPALITIES.iter().map(|m| m.1).collect();
    let urgency_weights = URGENCIES.map(|u| u.1);
    let count = poisson(rng, ctx.scaled(PER_YEAR / 365.25));
    let mut times: Vec<u32> = (0..count)
        .map(|_| HourProfile::ROUND_THE_CLOCK.seconds(rng))
        .collect();
    if day == autumn_dst_day(day.year()) {
        // Planted in the repeated hour; `local_instant` takes the earlier instant.
        times.extend((0..2).map(|_| 3 * 3600 + rng.random_range(0..3600)));
    }
    let mut out: Vec<Task> = times
        .into_iter()
        .map(|seconds| {
            let (municipality, _, risks) = MUNICIPALITIES[weighted(rng, &population)];
            let urgency = weighted(rng, &urgency_weights);
            let types: Vec<f64> = TASK_TYPES.iter().map(|t| t.1[urgency]).collect();
            Task {
                alarm: local_instant(day, seconds, 0),
                urgency,
                risk: weighted(rng, &risks),
                task_type: TASK_TYPES[weighted(rng, &types)].0,
                municipality,
            }
        })
        .collect();
    out.sort_by_key(|t| t.alarm);
    out
}

/// Writes `rescue_pronto`.
pub(crate) fn generate(ctx: &Ctx<'_>, truth: &mut Vec<RescueTruth>) -> Result<Vec<GeneratedFile>> {
    let mut rng = ctx.rng(PRONTO);
    let mut faults = ctx.faults(PRONTO);
    let dir = ctx.source_dir(PRONTO)?;
    let mut files = Vec::new();
    let mut sequence = (ctx.cfg.from.year(), 0u32);
    for month in ctx.months() {
        let path = dir.join(format!("pronto_tehtavat_{}.csv", month.label()));
        let mut csv = CsvFile::create(PRONTO, path, &LAYOUT)?;
        for day in ctx.days(month) {
            for task in tasks(ctx, &mut rng, day) {
                if sequence.0 != day.year() {
                    sequence = (day.year(), 0);
                }
                sequence.1 += 1;
                let task_id = format!("{}-{:06}", sequence.0, sequence.1);
                let urgent = task.urgency < 2;
                let cancelled = rng.random_bool(0.03);
                let arrival = (!cancelled).then(|| {
                    let seconds = response_seconds(&mut rng, task.risk, urgent, day);
                    outside_repeated_hour(task.alarm + TimeDelta::seconds(seconds))
                });
                let broken = faults.hit(1.0).then(|| {
                    let kind = faults.kind(2);
                    if arrival.is_some() { kind } else { 1 }
                });
                csv.field(&task_id).field(URGENCIES[task.urgency].0);
                csv.field(if broken == Some(1) {
                    "V"
                } else {
                    RISK_CLASSES[task.risk]
                });
                csv.field(task.task_type)
                    .field(task.municipality)
                    .field(FiDateTime(helsinki(task.alarm)));
                match arrival {
                    Some(_) if broken == Some(0) => {
                        let before = TimeDelta::seconds(i64::from(faults.range(60..1800)));
                        csv.field(FiDateTime(helsinki(task.alarm - before)))
                    }
                    Some(t) => csv.field(FiDateTime(helsinki(t))),
                    None => csv.empty(),
                };
                csv.end_row()?;
                truth.push(RescueTruth {
                    task_id,
                    urgency: URGENCIES[task.urgency].0.to_owned(),
                    risk_class: RISK_CLASSES[task.risk].to_owned(),
                    task_type: task.task_type.to_owned(),
                    municipality: task.municipality.to_owned(),
                    alarm: task.alarm,
                    arrival,
                    valid: broken.is_none(),
                });
            }
        }
        files.push(csv.finish()?);
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::ymd;

    #[test]
    fn urgent_share_and_targets() {
        let urgent: f64 = URGENCIES[..2].iter().map(|u| u.1).sum();
        assert!((urgent - 0.55).abs() < 1e-9);
        assert_eq!(target_minutes("III"), Some(20));
        assert_eq!(target_minutes("IV"), None);
        assert_eq!(target_compliance(ymd(2024, 2, 1)), 0.71);
    }

    #[test]
    fn response_times_meet_the_quarter_target_share() {
        let mut rng = crate::random::source_rng(5, "t", "data");
        let day = ymd(2024, 8, 1);
        let n = 20_000;
        let within = (0..n)
            .filter(|_| response_seconds(&mut rng, 1, true, day) <= 600)
            .count();
        let share = within as f64 / f64::from(n);
        assert!((share - 0.87).abs() < 0.01, "{share}");
    }
}
