//! Emergency medical services (ensihoito): field data of EMS tasks.
//!
//! `ems_tasks/ensihoito_YYYY-MM.csv`: UTF-8, `;`, CRLF; task id, urgency A–D, task code, alarm
//! time (Helsinki wall clock `d.m.yyyy H:mm`), conveyed `kyllä`/`ei`, the X-code of a task not
//! conveyed, municipality.
//!
//! # Model
//!
//! ≈ 35 000 tasks a year around the clock; C+D ≈ 60 %. The share of non-urgent (C, D) tasks
//! handled without conveyance is set per quarter: 46, 47, 54, 41 % in 2024 and 47–53 % in
//! 2025; about a fifth of urgent tasks end without conveyance too. A task not conveyed carries
//! one X-code (X-5 and X-6 most common; X-8/X-81 = treated on site). A few tasks are alarmed in
//! the repeated hour of the autumn DST change.
//!
//! Broken rows: urgency `Z`.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use rand::Rng;

use crate::calendar::{autumn_dst_day, helsinki, local_instant, quarter};
use crate::random::{HourProfile, SourceRng, poisson, weighted};
use crate::rescue::MUNICIPALITIES;
use crate::write::{CsvFile, FiDateTimeMinutes, Layout};
use crate::{Ctx, GeneratedFile, Result};

/// Source name.
pub const EMS: &str = "ems_tasks";

/// One EMS task as intended.
#[derive(Clone, Debug, PartialEq)]
pub struct EmsTruth {
    /// `Tehtävä`.
    pub task_id: String,
    /// `A`, `B`, `C` or `D`.
    pub urgency: String,
    /// `Tehtäväkoodi`, e.g. `745`.
    pub task_code: String,
    /// Alarm time (whole minutes, as written).
    pub alarm: DateTime<Utc>,
    /// Conveyed by ambulance.
    pub conveyed: bool,
    /// X-code of a task not conveyed.
    pub x_code: Option<String>,
    /// `Kunta`.
    pub municipality: String,
    /// `false` for a row broken on purpose.
    pub valid: bool,
}

/// Urgency classes and their shares (C+D = 60 %).
const URGENCIES: [(&str, f64); 4] = [("A", 0.05), ("B", 0.35), ("C", 0.40), ("D", 0.20)];

/// Task codes and their relative frequency.
const TASK_CODES: &[(&str, f64)] = &[
    ("703", 1.2),
    ("704", 1.4),
    ("705", 0.6),
    ("706", 0.8),
    ("711", 0.3),
    ("712", 0.5),
    ("741", 0.4),
    ("745", 2.0),
    ("751", 0.5),
    ("753", 0.9),
    ("761", 0.3),
    ("773", 0.4),
    ("781", 0.3),
    ("792", 0.5),
    ("796", 0.6),
];

/// X-codes of tasks not conveyed and their relative frequency.
pub const X_CODES: &[(&str, f64)] = &[
    ("X-1", 0.02),
    ("X-2", 0.03),
    ("X-3", 0.05),
    ("X-4", 0.05),
    ("X-5", 0.25),
    ("X-6", 0.20),
    ("X-7", 0.04),
    ("X-8", 0.17),
    ("X-81", 0.06),
    ("X-9", 0.13),
];

/// Header of the export.
pub const HEADER: &[&str] = &[
    "Tehtävä",
    "Kiireellisyys",
    "Tehtäväkoodi",
    "Hälytysaika",
    "Kuljetus",
    "X-koodi",
    "Kunta",
];

static LAYOUT: Layout = Layout::finnish(HEADER);

/// Tasks a year at scale 1.0.
const PER_YEAR: f64 = 35_000.0;

/// Share of non-urgent (C, D) tasks not conveyed in the quarter of `day`.
pub fn target_non_conveyance(day: NaiveDate) -> f64 {
    match (day.year(), quarter(day)) {
        (2024, q) => [0.46, 0.47, 0.54, 0.41][q as usize - 1],
        (2025, q) => [0.48, 0.50, 0.53, 0.47][q as usize - 1],
        _ => 0.48,
    }
}

fn alarms(ctx: &Ctx<'_>, rng: &mut SourceRng, day: NaiveDate) -> Vec<DateTime<Utc>> {
    let count = poisson(rng, ctx.scaled(PER_YEAR / 365.25));
    let mut seconds: Vec<u32> = (0..count)
        .map(|_| HourProfile::ROUND_THE_CLOCK.seconds(rng))
        .collect();
    if day == autumn_dst_day(day.year()) {
        // Planted in the repeated hour; `local_instant` takes the earlier instant.
        seconds.extend((0..3).map(|_| 3 * 3600 + rng.random_range(0..3600)));
    }
    let mut out: Vec<_> = seconds
        .into_iter()
        .map(|s| local_instant(day, s / 60 * 60, 0))
        .collect();
    out.sort();
    out
}

/// Writes `ems_tasks`.
pub(crate) fn generate(ctx: &Ctx<'_>, truth: &mut Vec<EmsTruth>) -> Result<Vec<GeneratedFile>> {
    let mut rng = ctx.rng(EMS);
    let mut faults = ctx.faults(EMS);
    let dir = ctx.source_dir(EMS)?;
    let population: Vec<f64> = MUNICIPALITIES.iter().map(|m| m.1).collect();
    let urgency_weights = URGENCIES.map(|u| u.1);
    let code_weights: Vec<f64> = TASK_CODES.iter().map(|c| c.1).collect();
    let x_weights: Vec<f64> = X_CODES.iter().map(|c| c.1).collect();
    let mut sequence = (ctx.cfg.from.year(), 0u32);
    let mut files = Vec::new();
    for month in ctx.months() {
        let path = dir.join(format!("ensihoito_{}.csv", month.label()));
        let mut csv = CsvFile::create(EMS, path, &LAYOUT)?;
        for day in ctx.days(month) {
            for alarm in alarms(ctx, &mut rng, day) {
                if sequence.0 != day.year() {
                    sequence = (day.year(), 0);
                }
                sequence.1 += 1;
                let task_id = format!("EH{}-{:06}", sequence.0, sequence.1);
                let urgency = weighted(&mut rng, &urgency_weights);
                let task_code = TASK_CODES[weighted(&mut rng, &code_weights)].0;
                let not_conveyed = if urgency >= 2 {
                    target_non_conveyance(day)
                } else {
                    0.2
                };
                let conveyed = !rng.random_bool(not_conveyed);
                let x_code = (!conveyed).then(|| X_CODES[weighted(&mut rng, &x_weights)].0);
                let municipality = MUNICIPALITIES[weighted(&mut rng, &population)].0;
                let broken = faults.hit(1.0);
                csv.field(&task_id)
                    .field(if broken { "Z" } else { URGENCIES[urgency].0 })
                    .field(task_code)
                    .field(FiDateTimeMinutes(helsinki(alarm)))
                    .field(if conveyed { "kyllä" } else { "ei" })
                    .opt(x_code)
                    .field(municipality);
                csv.end_row()?;
                truth.push(EmsTruth {
                    task_id,
                    urgency: URGENCIES[urgency].0.to_owned(),
                    task_code: task_code.to_owned(),
                    alarm,
                    conveyed,
                    x_code: x_code.map(str::to_owned),
                    municipality: municipality.to_owned(),
                    valid: !broken,
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

    #[test]
    fn non_urgent_share_is_60_percent() {
        let non_urgent: f64 = URGENCIES[2..].iter().map(|u| u.1).sum();
        assert!((non_urgent - 0.60).abs() < 1e-9);
    }
}
