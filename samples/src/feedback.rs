//! Customer feedback: NPS survey responses, Roidu style.
//!
//! `nps_roidu/roidu_responses_YYYY-MM.csv`: UTF-8, `;`, CRLF, one row per response with the
//! Helsinki answer time `d.m.yyyy H:mm`, unit, unit code, service, channel (`SMS`/`Web`), score
//! 0–10 and optional free text.
//!
//! # Model
//!
//! Surveys go out the day after a visit, so answers come every day (fewer at weekends and in
//! July), ≈ 1 000 a month. The score mix is set per quarter so the county's NPS comes out at the
//! reported 72.1, 74.9, 85.9, 86.1 for 2024 and 82–87 in 2025; units differ around that (child
//! welfare lower, dental care higher) without moving the county figure. Hattulan terveysasema
//! gets only 3–8 responses a quarter, so the pipeline's small-cell rules have something to hide.
//! One answer in five has free text; about 3 % of texts contain personal data (a
//! check-character-valid henkilötunnus or a phone number) that must stay out of curated tables.
//!
//! Broken rows: a score of `11` or `-1`.

use chrono::{DateTime, Datelike, NaiveDate, Utc, Weekday};
use rand::Rng;

use crate::calendar::{helsinki, local_instant, quarter, ymd};
use crate::personal;
use crate::random::{HourProfile, SourceRng, weighted};
use crate::write::{CsvFile, FiDateTimeMinutes, Layout};
use crate::{Ctx, GeneratedFile, Result};

/// Source name.
pub const ROIDU: &str = "nps_roidu";

/// One survey response as intended.
#[derive(Clone, Debug, PartialEq)]
pub struct FeedbackTruth {
    /// Always [`ROIDU`].
    pub source: &'static str,
    /// Answer time (whole minutes, as written).
    pub answered: DateTime<Utc>,
    /// `Yksikkö`.
    pub unit: String,
    /// `Yksikön koodi`.
    pub unit_code: String,
    /// `Palvelu`.
    pub service: String,
    /// `SMS` or `Web`.
    pub channel: String,
    /// Recommendation score 0–10.
    pub score: u8,
    /// Free text as written; empty when none.
    pub text: String,
    /// Whether `text` contains a henkilötunnus or a phone number.
    pub personal_data: bool,
    /// `false` for a row broken on purpose.
    pub valid: bool,
}

/// A responding unit.
#[derive(Debug)]
pub struct Unit {
    /// `Yksikkö`.
    pub name: &'static str,
    /// `Yksikön koodi`.
    pub code: &'static str,
    /// `Palvelu`.
    pub service: &'static str,
    /// Share of responses; 0 for a unit with a fixed small count.
    share: f64,
    /// NPS difference from the county (fraction, before centring).
    offset: f64,
}

const fn unit(
    name: &'static str,
    code: &'static str,
    service: &'static str,
    share: f64,
    offset: f64,
) -> Unit {
    Unit {
        name,
        code,
        service,
        share,
        offset,
    }
}

/// Responding units.
pub const UNITS: &[Unit] = &[
    unit(
        "Hämeenlinnan terveysasema",
        "TA01",
        "Terveysasemat",
        0.20,
        -0.02,
    ),
    unit(
        "Riihimäen terveysasema",
        "TA02",
        "Terveysasemat",
        0.13,
        -0.03,
    ),
    unit("Forssan terveysasema", "TA03", "Terveysasemat", 0.09, 0.01),
    unit(
        "Janakkalan terveysasema",
        "TA04",
        "Terveysasemat",
        0.06,
        0.02,
    ),
    unit("Lopen terveysasema", "TA05", "Terveysasemat", 0.04, 0.03),
    unit(
        "Hausjärven terveysasema",
        "TA06",
        "Terveysasemat",
        0.03,
        0.0,
    ),
    unit("Hattulan terveysasema", "TA07", "Terveysasemat", 0.0, 0.0),
    unit(
        "Suun terveydenhuolto Hämeenlinna",
        "ST01",
        "Suun terveydenhuolto",
        0.12,
        0.06,
    ),
    unit(
        "Suun terveydenhuolto Riihimäki",
        "ST02",
        "Suun terveydenhuolto",
        0.07,
        0.05,
    ),
    unit("Kotihoito Hämeenlinna", "KH01", "Kotihoito", 0.06, -0.03),
    unit("Kotihoito Riihimäki", "KH02", "Kotihoito", 0.04, -0.04),
    unit("Lastensuojelu", "LS01", "Lastensuojelu", 0.03, -0.30),
    unit(
        "Äitiys- ja lastenneuvola Hämeenlinna",
        "NE01",
        "Neuvolat",
        0.05,
        0.05,
    ),
];

/// Header of the export.
pub const HEADER: &[&str] = &[
    "Vastausaika",
    "Yksikkö",
    "Yksikön koodi",
    "Palvelu",
    "Kanava",
    "Suosittelu 0-10",
    "Avoin palaute",
];

static LAYOUT: Layout = Layout::finnish(HEADER);

/// Responses per day on average at scale 1.0.
const PER_DAY: f64 = 36.0;
/// Expected responses per quarter of the small unit (TA07), at least one at any scale.
const SMALL_UNIT_PER_QUARTER: f64 = 5.5;

/// The county's NPS in the quarter of `day` (reported for 2024; 2025 in the reported range).
pub fn target_nps(day: NaiveDate) -> f64 {
    match (day.year(), quarter(day)) {
        (2024, 1) => 72.1,
        (2024, 2) => 74.9,
        (2024, 3) => 85.9,
        (2024, 4) => 86.1,
        (2025, 1) => 82.0,
        (2025, 2) => 84.5,
        (2025, 3) => 87.0,
        (2025, 4) => 85.0,
        (year, _) if year < 2024 => 70.0,
        _ => 85.0,
    }
}

fn day_factor(day: NaiveDate) -> f64 {
    let weekday = match day.weekday() {
        Weekday::Sat => 0.8,
        Weekday::Sun => 0.45,
        _ => 1.15,
    };
    let season = match day.month() {
        7 => 0.7,
        6 | 8 | 12 => 0.9,
        _ => 1.0,
    };
    weekday * season
}

/// A score for a unit whose NPS should be `nps` (a fraction). Detractors are a quarter of
/// what is not NPS, which gives a plausible passive share at every level.
fn score(rng: &mut SourceRng, nps: f64) -> u8 {
    let nps = nps.clamp(0.0, 0.97);
    let detractors = (1.0 - nps) / 4.0;
    let promoters = nps + detractors;
    let u: f64 = rng.random();
    if u < promoters {
        if rng.random_bool(0.62) { 10 } else { 9 }
    } else if u < 1.0 - detractors {
        if rng.random_bool(0.6) { 8 } else { 7 }
    } else {
        weighted(rng, &[1.0, 0.4, 0.5, 0.8, 1.0, 2.5, 3.5]) as u8
    }
}

const PRAISE: &[&str] = &[
    "Hyvää ja ystävällistä palvelua.",
    "Pääsin nopeasti vastaanotolle, kiitos!",
    "Lääkäri kuunteli ja selitti asiat selkeästi.",
    "Kaikki sujui hyvin; kiitos hoitajalle.",
    "Erinomainen kokemus, asiallinen ja lämmin kohtaaminen.",
];
const NEUTRAL: &[&str] = &[
    "Odotusaika oli pitkä, muuten ok.",
    "Ajanvaraus puhelimessa kesti kauan.",
    "Ihan hyvä käynti.",
];
const COMPLAINT: &[&str] = &[
    "Jouduin odottamaan yli tunnin.",
    "Takaisinsoittoa ei tullut luvatusti.",
    "Hoitaja oli kiireinen eikä ehtinyt kuunnella.",
    "Lääkäri ei \"ehtinyt\" katsoa tuloksia; jouduin soittamaan uudelleen.",
];

/// Free text for a score, and whether it carries personal data.
fn free_text(rng: &mut SourceRng, score: u8) -> (String, bool) {
    if !rng.random_bool(0.2) {
        return (String::new(), false);
    }
    if rng.random_bool(0.03) {
        let text = if rng.random_bool(0.5) {
            format!("Toivon yhteydenottoa numeroon {}.", personal::phone(rng))
        } else {
            let birth = ymd(
                rng.random_range(1935..2020),
                rng.random_range(1..=12),
                rng.random_range(1..=28),
            );
            format!(
                "Henkilötunnukseni on {}, tarkistakaa reseptini.",
                personal::random_hetu(rng, birth)
            )
        };
        return (text, true);
    }
    let pool = match score {
        9..=10 => PRAISE,
        7..=8 => NEUTRAL,
        _ => COMPLAINT,
    };
    (pool[rng.random_range(0..pool.len())].to_owned(), false)
}

/// Writes `nps_roidu`.
pub(crate) fn generate(
    ctx: &Ctx<'_>,
    truth: &mut Vec<FeedbackTruth>,
) -> Result<Vec<GeneratedFile>> {
    let mut rng = ctx.rng(ROIDU);
    let mut faults = ctx.faults(ROIDU);
    let dir = ctx.source_dir(ROIDU)?;
    let total_share: f64 = UNITS.iter().map(|u| u.share).sum();
    let mean_offset = UNITS.iter().map(|u| u.share * u.offset).sum::<f64>() / total_share;
    let small_per_day = ctx.scaled(SMALL_UNIT_PER_QUARTER).max(1.0) / 91.0;
    let mut files = Vec::new();
    for month in ctx.months() {
        let path = dir.join(format!("roidu_responses_{}.csv", month.label()));
        let mut csv = CsvFile::create(ROIDU, path, &LAYOUT)?;
        for day in ctx.days(month) {
            let county = target_nps(day) / 100.0;
            let mut answers = Vec::new();
            for unit in UNITS {
                let per_day = if unit.share > 0.0 {
                    ctx.scaled(PER_DAY * unit.share / total_share * day_factor(day))
                } else {
                    small_per_day
                };
                for _ in 0..crate::random::poisson(&mut rng, per_day) {
                    let seconds = HourProfile::SURVEY.seconds(&mut rng) / 60 * 60;
                    answers.push((local_instant(day, seconds, 0), unit));
                }
            }
            answers.sort_by_key(|(t, _)| *t);
            for (answered, unit) in answers {
                let channel = if rng.random_bool(0.7) { "SMS" } else { "Web" };
                let score = score(&mut rng, county + unit.offset - mean_offset);
                let (text, personal_data) = free_text(&mut rng, score);
                let broken = faults.hit(1.0);
                csv.field(FiDateTimeMinutes(helsinki(answered)))
                    .field(unit.name)
                    .field(unit.code)
                    .field(unit.service)
                    .field(channel);
                if broken {
                    csv.field(if faults.kind(2) == 0 { "11" } else { "-1" });
                } else {
                    csv.field(score);
                }
                csv.field(&text).end_row()?;
                truth.push(FeedbackTruth {
                    source: ROIDU,
                    answered,
                    unit: unit.name.to_owned(),
                    unit_code: unit.code.to_owned(),
                    service: unit.service.to_owned(),
                    channel: channel.to_owned(),
                    score,
                    text,
                    personal_data,
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
    fn score_mix_gives_the_asked_nps() {
        let mut rng = crate::random::source_rng(3, "t", "data");
        for target in [0.72, 0.86, 0.3] {
            let n = 40_000;
            let (mut promoters, mut detractors) = (0, 0);
            for _ in 0..n {
                match score(&mut rng, target) {
                    9..=10 => promoters += 1,
                    0..=6 => detractors += 1,
                    _ => {}
                }
            }
            let nps = f64::from(promoters - detractors) / f64::from(n);
            assert!((nps - target).abs() < 0.015, "{target}: {nps}");
        }
    }
}
