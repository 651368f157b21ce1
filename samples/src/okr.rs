//! The OKR tracker: the council's binding goals, the result areas' key results and the tasks
//! attached to them, exported once a quarter after the owners have rated them.
//!
//! `okr_key_results/okr_avaintulokset_YYYY-Qn.csv` and `okr_tasks/okr_tehtavat_YYYY-Qn.csv`:
//! Excel's "CSV UTF-8" (a byte order mark, `;`, CRLF), dates `d.m.yyyy`, the quarter as
//! `Q2/2025`.
//!
//! # Model (the county's interim report 2025)
//!
//! Five council-level binding goals; 210 key results in 15 result areas (14 each), each
//! serving one goal; 717 tasks. Each quarter every key result in force is rated
//! *Etenee* (progressing), *Huomioitavaa* (needs attention) or *Ei etene* (not progressing):
//! at Q2 179 progressing (85 %), 31 needing attention, none not progressing. Tasks are
//! *Ei aloitettu*, *Käynnissä* or *Valmis*: at Q2 54 % in progress, 35 % done, 11 % not
//! started, and a task never goes back.
//!
//! On 11.8.2025 the regional board changed four of the rehabilitation result area's key
//! results (`Aluehallitus 11.8.2025 § 201`): each old one is in force until 10.8.2025, its
//! replacement (`-b`, `Korvaa` naming the old id) from 11.8.2025. The Q2 ratings were given
//! on 20.8.2025, after the decision, so the Q2 export rates the replacements, and, as the
//! tracker keeps them, also lists the old ones with the rating their owners gave in June.
//! A quarter's set is the key results in force when it was rated, a replaced one counted
//! only under its replacement.
//!
//! Quarters from 2025 on are written when their rating day (the 20th of the second month
//! after the quarter: 20.8. for Q2, as in 2025) is inside the period. The export has no
//! broken rows.

use chrono::{Datelike, NaiveDate};
use rand::seq::SliceRandom;

use crate::calendar::ymd;
use crate::write::{CsvFile, Encoding, FiDate, Layout, Quoting};
use crate::{Ctx, GeneratedFile, Result};

/// Source of the key results export.
pub const KEY_RESULTS: &str = "okr_key_results";
/// Source of the tasks export.
pub const TASKS: &str = "okr_tasks";
/// Both; they start in 2025, so a period before it has none of their files.
pub const SOURCES: &[&str] = &[KEY_RESULTS, TASKS];

/// The council-level binding goals of 2025 (id, text).
pub const GOALS: &[(&str, &str)] = &[
    (
        "SV1",
        "Asiakas saa helposti yhteyden sekä ratkaisun ensikontaktissa",
    ),
    (
        "SV2",
        "Saavutamme yhdessä asiakkaan kanssa asetetut tavoitteet",
    ),
    (
        "SV3",
        "Tarvittavat ammattilaiset ja teknologia yhdessä asiakkaan ympärillä",
    ),
    ("SV4", "Asiakastarve ohjaa henkilöstömme osaamista"),
    ("SV5", "Tuottavuus turvaa palvelut"),
];

/// Result areas: (code, name, sector as the tracker writes it).
pub const RESULT_AREAS: &[(&str, &str, &str)] = &[
    ("VAS", "Vastaanottopalvelut", "Terveyspalvelut"),
    ("SUU", "Suun terveydenhuolto", "Terveyspalvelut"),
    ("KUN", "Kuntoutus", "Terveyspalvelut"),
    ("SAI", "Sairaalapalvelut", "Terveyspalvelut"),
    ("MTP", "Mielenterveys- ja päihdepalvelut", "Terveyspalvelut"),
    (
        "PER",
        "Perhepalvelut",
        "Perhe-, sosiaali- ja vammaispalvelut",
    ),
    (
        "SOS",
        "Sosiaalipalvelut",
        "Perhe-, sosiaali- ja vammaispalvelut",
    ),
    (
        "VAM",
        "Vammaispalvelut",
        "Perhe-, sosiaali- ja vammaispalvelut",
    ),
    ("KOT", "Kotona asumisen palvelut", "Ikäihmisten palvelut"),
    ("ASU", "Asumispalvelut", "Ikäihmisten palvelut"),
    ("PEL", "Pelastustoimi", "Pelastustoimi ja ensihoito"),
    ("ENS", "Ensihoito", "Pelastustoimi ja ensihoito"),
    (
        "STR",
        "Strategia ja kehittäminen",
        "Strategia ja integraatio",
    ),
    ("TUK", "Tukipalvelut", "Konserni- ja tukipalvelut"),
    (
        "HET",
        "Henkilöstö- ja talouspalvelut",
        "Konserni- ja tukipalvelut",
    ),
];

/// Key results per result area.
pub const PER_AREA: usize = 14;
/// Tasks in all.
pub const TASK_COUNT: usize = 717;
/// The rehabilitation key results the board changed (numbers within `KUN`).
pub const CHANGED: &[usize] = &[3, 7, 9, 12];
/// The board's decision.
pub const DECISION: &str = "Aluehallitus 11.8.2025 § 201";

/// (progressing, needs attention, not progressing) per quarter of a year; 210 each.
pub const RATINGS: [[usize; 3]; 4] = [[172, 38, 0], [179, 31, 0], [183, 25, 2], [190, 16, 4]];
/// (done, in progress) per quarter; the rest of the 717 have not started.
pub const TASK_STATES: [[usize; 2]; 4] = [[72, 287], [251, 387], [323, 358], [488, 215]];

/// The tracker's words for the ratings, in [`RATINGS`] order.
pub const RATING_WORDS: [&str; 3] = ["Etenee", "Huomioitavaa", "Ei etene"];
/// The tracker's words for task states: done, in progress, not started.
pub const TASK_WORDS: [&str; 3] = ["Valmis", "Käynnissä", "Ei aloitettu"];

/// One key result row as intended.
#[derive(Clone, Debug, PartialEq)]
pub struct KeyResultTruth {
    /// Last day of the quarter rated.
    pub quarter_end: NaiveDate,
    /// `Avaintulos ID`.
    pub key_result_id: String,
    /// `Sitova tavoite ID`.
    pub goal_id: String,
    /// `Tulosalue`.
    pub result_area: String,
    /// `Toimiala`, as the tracker writes it.
    pub sector: String,
    /// `Voimassa alkaen`.
    pub valid_from: NaiveDate,
    /// `Voimassa asti`.
    pub valid_to: Option<NaiveDate>,
    /// `Korvaa`.
    pub replaces: Option<String>,
    /// `Arvioitu`.
    pub rated_on: NaiveDate,
    /// Index into [`RATING_WORDS`].
    pub rating: usize,
    /// Whether the quarter's set counts it (in force when rated, not replaced).
    pub counted: bool,
}

/// One task row as intended.
#[derive(Clone, Debug, PartialEq)]
pub struct TaskTruth {
    /// Last day of the quarter.
    pub quarter_end: NaiveDate,
    /// `Tehtävä ID`.
    pub task_id: String,
    /// `Avaintulos ID` of the key result it serves.
    pub key_result_id: String,
    /// `Sitova tavoite ID`.
    pub goal_id: String,
    /// `Toimiala`.
    pub sector: String,
    /// Index into [`TASK_WORDS`].
    pub state: usize,
}

const KR_HEADER: &[&str] = &[
    "Kvartaali",
    "Sitova tavoite ID",
    "Sitova tavoite",
    "Toimiala",
    "Tulosalue",
    "Avaintulos ID",
    "Avaintulos",
    "Omistaja",
    "Mittari",
    "Tavoitetaso",
    "Voimassa alkaen",
    "Voimassa asti",
    "Päätös",
    "Korvaa",
    "Arvio",
    "Arvioitu",
];

const TASK_HEADER: &[&str] = &[
    "Kvartaali",
    "Tehtävä ID",
    "Tehtävä",
    "Avaintulos ID",
    "Sitova tavoite ID",
    "Toimiala",
    "Tulosalue",
    "Tila",
];

static KR_LAYOUT: Layout = Layout {
    delimiter: ';',
    encoding: Encoding::Utf8Bom,
    quoting: Quoting::Needed,
    header: KR_HEADER,
};

static TASK_LAYOUT: Layout = Layout {
    delimiter: ';',
    encoding: Encoding::Utf8Bom,
    quoting: Quoting::Needed,
    header: TASK_HEADER,
};

/// One key result of the year's set.
struct KeyResult {
    id: String,
    goal: usize,
    area: usize,
    number: usize,
}

fn key_results() -> Vec<KeyResult> {
    let mut out = Vec::new();
    for (a, (code, _, _)) in RESULT_AREAS.iter().enumerate() {
        for n in 1..=PER_AREA {
            out.push(KeyResult {
                id: format!("{code}-{n:02}"),
                goal: (a + n) % GOALS.len(),
                area: a,
                number: n,
            });
        }
    }
    out
}

/// The quarters (year, 1..=4) whose rating day is inside the period, from 2025 on.
fn quarters(ctx: &Ctx<'_>) -> Vec<(i32, u32)> {
    let mut out = Vec::new();
    for year in ctx.cfg.from.year().max(2025)..=ctx.cfg.to.year() {
        for q in 1..=4 {
            if (ctx.cfg.from..=ctx.cfg.to).contains(&rating_day(year, q)) {
                out.push((year, q));
            }
        }
    }
    out
}

/// When a quarter is rated: the 20th of the second month after it.
pub fn rating_day(year: i32, q: u32) -> NaiveDate {
    let end = quarter_end(year, q);
    ymd(end.year(), end.month(), 1)
        .checked_add_months(chrono::Months::new(2))
        .expect("valid")
        .with_day(20)
        .expect("valid")
}

/// The last day of a quarter.
pub fn quarter_end(year: i32, q: u32) -> NaiveDate {
    ymd(year, q * 3, 1)
        .checked_add_months(chrono::Months::new(1))
        .expect("valid")
        .pred_opt()
        .expect("valid")
}

fn is_changed(kr: &KeyResult) -> bool {
    RESULT_AREAS[kr.area].0 == "KUN" && CHANGED.contains(&kr.number)
}

/// Writes `okr_key_results`.
pub(crate) fn generate_key_results(
    ctx: &Ctx<'_>,
    truth: &mut Vec<KeyResultTruth>,
) -> Result<Vec<GeneratedFile>> {
    let mut rng = ctx.rng(KEY_RESULTS);
    let dir = ctx.source_dir(KEY_RESULTS)?;
    let krs = key_results();
    let decided = ymd(2025, 8, 11);
    let mut files = Vec::new();
    for (year, q) in quarters(ctx) {
        let end = quarter_end(year, q);
        let rated_on = rating_day(year, q);
        let changed_by_then = year == 2025 && rated_on >= decided;
        let path = dir.join(format!("okr_avaintulokset_{year}-Q{q}.csv"));
        let mut csv = CsvFile::create(KEY_RESULTS, path, &KR_LAYOUT)?;
        // The quarter's ratings, shuffled over the key results in force.
        let counts = RATINGS[q as usize - 1];
        let mut ratings: Vec<usize> = (0..3)
            .flat_map(|r| std::iter::repeat_n(r, counts[r]))
            .collect();
        ratings.shuffle(&mut rng);
        for (kr, rating) in krs.iter().zip(ratings) {
            let (goal_id, goal) = GOALS[kr.goal];
            let (_, area, sector) = RESULT_AREAS[kr.area];
            let mut row = |id: &str,
                           from: NaiveDate,
                           to: Option<NaiveDate>,
                           decision: Option<&str>,
                           replaces: Option<&str>,
                           rating: usize,
                           rated: NaiveDate,
                           counted: bool|
             -> Result<()> {
                csv.field(format!("Q{q}/{year}"))
                    .field(goal_id)
                    .field(goal)
                    .field(sector)
                    .field(area)
                    .field(id)
                    .field(format!("{area}: avaintulos {}", kr.number))
                    .field(format!("Tulosaluejohtaja, {area}"))
                    .field(format!("Mittari {id}"))
                    .field(format!("≥ {} %", 70 + kr.number))
                    .field(FiDate(from))
                    .opt(to.map(FiDate))
                    .opt(decision)
                    .opt(replaces)
                    .field(RATING_WORDS[rating])
                    .field(FiDate(rated));
                csv.end_row()?;
                truth.push(KeyResultTruth {
                    quarter_end: end,
                    key_result_id: id.to_owned(),
                    goal_id: goal_id.to_owned(),
                    result_area: area.to_owned(),
                    sector: sector.to_owned(),
                    valid_from: from,
                    valid_to: to,
                    replaces: replaces.map(str::to_owned),
                    rated_on: rated,
                    rating,
                    counted,
                });
                Ok(())
            };
            let year_start = ymd(year, 1, 1);
            if year == 2025 && is_changed(kr) {
                let old_to = Some(ymd(2025, 8, 10));
                let new_id = format!("{}-b", kr.id);
                if !changed_by_then {
                    row(
                        &kr.id, year_start, old_to, None, None, rating, rated_on, true,
                    )?;
                } else {
                    if q == 2 {
                        // Still listed: the rating its owner gave before the decision.
                        row(&kr.id, year_start, old_to, None, None, 0, end, false)?;
                    }
                    row(
                        &new_id,
                        decided,
                        None,
                        Some(DECISION),
                        Some(&kr.id),
                        rating,
                        rated_on,
                        true,
                    )?;
                }
            } else {
                row(&kr.id, year_start, None, None, None, rating, rated_on, true)?;
            }
        }
        files.push(csv.finish()?);
    }
    Ok(files)
}

/// Writes `okr_tasks`.
pub(crate) fn generate_tasks(
    ctx: &Ctx<'_>,
    truth: &mut Vec<TaskTruth>,
) -> Result<Vec<GeneratedFile>> {
    let mut rng = ctx.rng(TASKS);
    let dir = ctx.source_dir(TASKS)?;
    let krs = key_results();
    let mut files = Vec::new();
    let mut years: Vec<i32> = quarters(ctx).iter().map(|(y, _)| *y).collect();
    years.dedup();
    for year in years {
        // The order tasks start and finish in: monotone over the year.
        let mut order: Vec<usize> = (0..TASK_COUNT).collect();
        order.shuffle(&mut rng);
        let mut rank = vec![0; TASK_COUNT];
        for (r, t) in order.iter().enumerate() {
            rank[*t] = r;
        }
        for (y, q) in quarters(ctx).into_iter().filter(|(y, _)| *y == year) {
            let [done, in_progress] = TASK_STATES[q as usize - 1];
            let end = quarter_end(y, q);
            let path = dir.join(format!("okr_tehtavat_{y}-Q{q}.csv"));
            let mut csv = CsvFile::create(TASKS, path, &TASK_LAYOUT)?;
            for (t, r) in rank.iter().enumerate() {
                let kr = &krs[t % krs.len()];
                let kr_id = if y == 2025 && is_changed(kr) && rating_day(y, q) >= ymd(2025, 8, 11) {
                    format!("{}-b", kr.id)
                } else {
                    kr.id.clone()
                };
                let state = if *r < done {
                    0
                } else if *r < done + in_progress {
                    1
                } else {
                    2
                };
                let (goal_id, _) = GOALS[kr.goal];
                let (_, area, sector) = RESULT_AREAS[kr.area];
                let task_id = format!("T-{:04}", t + 1);
                csv.field(format!("Q{q}/{y}"))
                    .field(&task_id)
                    .field(format!("Tehtävä {} ({})", t + 1, kr.id))
                    .field(&kr_id)
                    .field(goal_id)
                    .field(sector)
                    .field(area)
                    .field(TASK_WORDS[state]);
                csv.end_row()?;
                truth.push(TaskTruth {
                    quarter_end: end,
                    task_id,
                    key_result_id: kr_id,
                    goal_id: goal_id.to_owned(),
                    sector: sector.to_owned(),
                    state,
                });
            }
            files.push(csv.finish()?);
        }
    }
    Ok(files)
}
