//! Primary-care outpatient contacts: monthly aggregates from the patient record system.
//!
//! `primary_care_visits/avosairaanhoito_YYYY-MM.csv`: Windows-1252, `;`, CRLF; month as its first
//! day (`1.3.2024`), health station, channel, and the count with a space or no-break space as
//! the thousands separator (`22 700`).
//!
//! # Model
//!
//! ≈ 80 000 contacts a month county-wide (fewer in summer and December), split over the 11
//! health stations by population and over channels: appointments ≈ 52 %, phone ≈ 42 %, home
//! visits ≈ 3 %, and the digital channels (nurse chat and the digital sote-centre) at the
//! quarter's reported share: 3.4, 3.4, 3.4, 3.1 % in 2024, 3.2–3.3 % in 2025. A month only
//! partly inside the period is counted for the days inside it. This aggregate has no broken
//! rows.

use chrono::{Datelike, NaiveDate};
use rand::Rng;

use crate::calendar::Month;
use crate::random::normal;
use crate::write::{CsvFile, Encoding, FiDate, Layout, Quoting, Thousands};
use crate::{Ctx, GeneratedFile, Result};

/// Source name.
pub const VISITS: &str = "primary_care_visits";

/// One aggregate row as intended.
#[derive(Clone, Debug, PartialEq)]
pub struct VisitTruth {
    /// First day of the month.
    pub month: NaiveDate,
    /// `Yksikkö`.
    pub unit: String,
    /// `Kanava`.
    pub channel: String,
    /// `Käyntejä`.
    pub visits: u64,
    /// Always `true`: this aggregate has no broken values.
    pub valid: bool,
}

/// Health stations and their share of contacts.
pub const UNITS: &[(&str, f64)] = &[
    ("Hämeenlinnan terveysasema", 68_000.0),
    ("Riihimäen terveysasema", 28_500.0),
    ("Forssan terveysasema", 16_700.0),
    ("Janakkalan terveysasema", 16_300.0),
    ("Hattulan terveysasema", 9_400.0),
    ("Hausjärven terveysasema", 8_100.0),
    ("Lopen terveysasema", 7_900.0),
    ("Tammelan terveysasema", 5_900.0),
    ("Jokioisten terveysasema", 5_100.0),
    ("Humppilan terveysasema", 2_200.0),
    ("Ypäjän terveysasema", 2_300.0),
];

/// Channels; the last two are digital.
pub const CHANNELS: &[&str] = &[
    "Vastaanotto",
    "Puhelin",
    "Kotikäynti",
    "Chat",
    "Digitaalinen sote-keskus",
];

/// Shares of the non-digital channels among non-digital contacts.
const ANALOGUE_SHARES: [f64; 3] = [0.535, 0.435, 0.03];
/// Chat's part of digital contacts (the rest is the digital sote-centre).
const CHAT_OF_DIGITAL: f64 = 0.72;

/// Header of the export.
pub const HEADER: &[&str] = &["Kuukausi", "Yksikkö", "Kanava", "Käyntejä"];

static LAYOUT: Layout = Layout {
    delimiter: ';',
    encoding: Encoding::Windows1252,
    quoting: Quoting::Needed,
    header: HEADER,
};

/// Contacts in an average month at scale 1.0.
const PER_MONTH: f64 = 80_000.0;

/// Digital share of all contacts in the quarter of `month`.
pub fn target_digital_share(month: NaiveDate) -> f64 {
    let q = Month::of(month).quarter() as usize - 1;
    match month.year() {
        2024 => [0.034, 0.034, 0.034, 0.031][q],
        2025 => [0.032, 0.033, 0.033, 0.032][q],
        _ => 0.032,
    }
}

fn season(month: u32) -> f64 {
    [
        1.08, 1.05, 1.07, 1.0, 1.0, 0.88, 0.70, 0.95, 1.08, 1.08, 1.07, 0.88,
    ][month as usize - 1]
}

/// Writes `primary_care_visits`.
pub(crate) fn generate(ctx: &Ctx<'_>, truth: &mut Vec<VisitTruth>) -> Result<Vec<GeneratedFile>> {
    let mut rng = ctx.rng(VISITS);
    let dir = ctx.source_dir(VISITS)?;
    let residents: f64 = UNITS.iter().map(|u| u.1).sum();
    let mut files = Vec::new();
    for month in ctx.months() {
        let covered = ctx.days(month).count() as f64 / f64::from(month.days_in());
        let first = month.first();
        let total = ctx.scaled(PER_MONTH) * season(month.month) * covered;
        let digital = target_digital_share(first);
        let channel_shares = [
            (1.0 - digital) * ANALOGUE_SHARES[0],
            (1.0 - digital) * ANALOGUE_SHARES[1],
            (1.0 - digital) * ANALOGUE_SHARES[2],
            digital * CHAT_OF_DIGITAL,
            digital * (1.0 - CHAT_OF_DIGITAL),
        ];
        let path = dir.join(format!("avosairaanhoito_{}.csv", month.label()));
        let mut csv = CsvFile::create(VISITS, path, &LAYOUT)?;
        for (unit, unit_residents) in UNITS {
            for (channel, share) in CHANNELS.iter().zip(channel_shares) {
                let expected = total * unit_residents / residents * share;
                let visits = (expected * (1.0 + 0.03 * normal(&mut rng)))
                    .round()
                    .max(0.0) as u64;
                let separator = if rng.random_bool(0.5) { ' ' } else { '\u{a0}' };
                csv.field(FiDate(first))
                    .field(unit)
                    .field(channel)
                    .field(Thousands(visits, separator));
                csv.end_row()?;
                truth.push(VisitTruth {
                    month: first,
                    unit: (*unit).to_owned(),
                    channel: (*channel).to_owned(),
                    visits,
                    valid: true,
                });
            }
        }
        files.push(csv.finish()?);
    }
    Ok(files)
}
