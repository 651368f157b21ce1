//! Computing tiles: run each tile's SQL per grain, then add what makes a number readable and
//! trustworthy: target and attainment, status, the previous period and the change,
//! completeness of the period's source data, freshness, and the definition version.
//!
//! Attainment (1.0 = target reached):
//! - higher is better: `value / target`;
//! - lower is better: `target / value` (1.0 or more once the value is at or under target);
//! - with a `baseline` (a goal of moving from a starting level to a target), either way:
//!   `(value − baseline) / (target − baseline)`, the share of the planned change achieved,
//!   floored at 0.
//!
//! Status: green when attainment is over 0.9, yellow over 0.5, red otherwise (the county's
//! annual-report rule; per tile thresholds may differ). Grey when there is no value, when
//! the value is suppressed for too small an n, or when the period's source data is
//! incomplete: an incomplete period is flagged, never coloured red. `none` when the tile has
//! no target.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type, Int64Type};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use datafusion::prelude::SessionContext;
use serde::{Deserialize, Serialize};
use tilannekuva_conventions::datetime::{HELSINKI, local_midnight};
use tilannekuva_warehouse::catalog::CompleteWhen;
use tilannekuva_warehouse::{Covered, LoadStatus, Manifest};

use crate::Grain;
use crate::definition::TileDef;
use crate::status::{self, TotalFacts};
use crate::suppression::{self, CellCounts, Counts, MemberCounts, Nest, PeriodFigures, Protection};
use crate::{Error, Result};

pub use tilannekuva_warehouse::catalog::Cadence;

/// A source expected to fill a table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpectedSource {
    /// Source name.
    pub source: String,
    /// Delivery cadence.
    pub cadence: Cadence,
    /// When a month of its delivery counts as complete.
    #[serde(default)]
    pub complete_when: CompleteWhen,
    /// For [`CompleteWhen::DataReachesEnd`]: days the latest row may fall before the
    /// month's last day.
    #[serde(default)]
    pub end_within_days: u32,
}

impl ExpectedSource {
    /// A source delivering every month, complete when its data reaches the month's end
    /// (within 3 days, as `[load]` defaults).
    pub fn monthly(source: &str) -> Self {
        Self {
            source: source.to_string(),
            cadence: Cadence::Month,
            complete_when: CompleteWhen::DataReachesEnd,
            end_within_days: 3,
        }
    }
}

pub use crate::status::Status;

/// One breakdown cell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cell {
    /// What the breakdown is by (`service`, `sector`, `channel`, `risk_class`).
    pub dimension: String,
    /// The member.
    pub member: String,
    /// Value.
    pub value: Option<f64>,
    /// Numerator.
    pub numerator: Option<f64>,
    /// Denominator.
    pub denominator: Option<f64>,
    /// Observations.
    pub n: i64,
    /// Status against the same target.
    pub status: Status,
    /// What a reader should know about the member, from the query's `note` column: a unit
    /// whose series continues through a merge or a rename says so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A tile's figure for one period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeriodFigure {
    /// Period label.
    pub period: String,
    /// First day.
    pub start: NaiveDate,
    /// Last day.
    pub end: NaiveDate,
    /// Value; `None` when there is no data or it is suppressed.
    pub value: Option<f64>,
    /// Numerator; `None` when suppressed.
    pub numerator: Option<f64>,
    /// Denominator; `None` when suppressed.
    pub denominator: Option<f64>,
    /// Observations; `None` when suppressed (see [`crate::suppression`]).
    pub n: Option<i64>,
    /// Target in force.
    pub target: Option<f64>,
    /// Attainment of the target (1.0 = reached).
    pub attainment: Option<f64>,
    /// Status.
    pub status: Status,
    /// Why the status is grey (or other notes), for people.
    pub status_reason: Option<String>,
    /// The previous period's value.
    pub previous_value: Option<f64>,
    /// value − previous value.
    pub change: Option<f64>,
    /// Whether every expected source delivered for the whole period (false while the
    /// period is in progress).
    pub complete: bool,
    /// The period had not ended when the figure was computed: a figure to date.
    #[serde(default)]
    pub in_progress: bool,
    /// What is missing when incomplete: `source month`.
    pub missing: Vec<String>,
    /// The input data reaches this far into the period.
    pub data_through: Option<DateTime<Utc>>,
    /// Breakdown cells shown (cells under the minimum n, and those that would let one be
    /// computed, are left out).
    pub breakdown: Vec<Cell>,
}

/// An export that fed a tile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceFile {
    /// Source name.
    pub source: String,
    /// File name as delivered.
    pub file: String,
    /// sha256 of its content.
    pub sha256: String,
    /// When it was loaded.
    pub loaded_at: DateTime<Utc>,
}

/// A computed tile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tile {
    /// The definition's metadata.
    #[serde(flatten)]
    pub meta: crate::definition::TileMeta,
    /// Definition version: a hash of the SQL and the metadata.
    pub definition_version: String,
    /// The SQL, for people who want to check it.
    pub sql: String,
    /// The exports the inputs hold.
    pub sources: Vec<SourceFile>,
    /// Latest event time across the inputs (the oldest input's).
    pub data_through: Option<DateTime<Utc>>,
    /// Figures per grain, oldest period first.
    pub series: BTreeMap<Grain, Vec<PeriodFigure>>,
}

impl Tile {
    /// The figure to show by default: the newest of a grain whose period has ended, or
    /// the newest in progress when no period has ended yet.
    pub fn latest(&self, grain: Grain) -> Option<&PeriodFigure> {
        let series = self.series.get(&grain)?;
        series
            .iter()
            .rev()
            .find(|f| !f.in_progress)
            .or_else(|| series.last())
    }

    /// The newest figure of a grain, also when its period is still in progress.
    pub fn current(&self, grain: Grain) -> Option<&PeriodFigure> {
        self.series.get(&grain).and_then(|s| s.last())
    }

    /// The figure of one period.
    pub fn figure(&self, grain: Grain, period: &str) -> Option<&PeriodFigure> {
        self.series
            .get(&grain)
            .and_then(|s| s.iter().find(|f| f.period == period))
    }
}

/// One row a tile's SQL returned, as read from the query. Numbers are kept as exact decimal
/// text when serialised, so rows read back are bit for bit the rows computed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueryRow {
    /// Period label.
    pub period: String,
    /// Value (non-finite values are read as none).
    #[serde(default, with = "exact")]
    pub value: Option<f64>,
    /// Numerator.
    #[serde(default, with = "exact", skip_serializing_if = "Option::is_none")]
    pub numerator: Option<f64>,
    /// Denominator.
    #[serde(default, with = "exact", skip_serializing_if = "Option::is_none")]
    pub denominator: Option<f64>,
    /// Observations.
    pub n: i64,
    /// Breakdown dimension; none for the total row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dimension: Option<String>,
    /// Breakdown member.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member: Option<String>,
    /// Note on the member (optional `note` column).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// `Option<f64>` as the shortest decimal text that reads back to the same bits (a JSON
/// number would be parsed back to within one unit in the last place, not exactly).
mod exact {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => s.serialize_str(&v.to_string()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|t| t.parse().map_err(serde::de::Error::custom))
            .transpose()
    }
}

/// Runs one tile's SQL for one grain in `ctx` (whose `fi_period` must be for that grain).
pub(crate) async fn run_sql(ctx: &SessionContext, tile: &TileDef) -> Result<Vec<QueryRow>> {
    let df = ctx.sql(&tile.sql).await.map_err(|e| Error::sql(tile, e))?;
    let batches = df.collect().await.map_err(|e| Error::sql(tile, e))?;
    let mut out = Vec::new();
    for b in &batches {
        out.extend(rows_of(tile, b)?);
    }
    Ok(out)
}

fn column(
    tile: &TileDef,
    b: &RecordBatch,
    name: &str,
    to: &DataType,
    required: bool,
) -> Result<Option<Arc<dyn Array>>> {
    match b.column_by_name(name) {
        Some(c) => cast(c, to).map(Some).map_err(|e| Error::Contract {
            file: tile.sql_path.display().to_string(),
            message: format!("column `{name}` cannot be read as {to}: {e}"),
        }),
        None if required => Err(Error::Contract {
            file: tile.sql_path.display().to_string(),
            message: format!(
                "the query must return a column `{name}` (it returns {})",
                b.schema()
                    .fields()
                    .iter()
                    .map(|f| f.name().as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }),
        None => Ok(None),
    }
}

fn rows_of(tile: &TileDef, b: &RecordBatch) -> Result<Vec<QueryRow>> {
    let period = column(tile, b, "period", &DataType::Utf8, true)?.expect("required");
    let value = column(tile, b, "value", &DataType::Float64, true)?.expect("required");
    let n = column(tile, b, "n", &DataType::Int64, true)?.expect("required");
    let num = column(tile, b, "numerator", &DataType::Float64, false)?;
    let den = column(tile, b, "denominator", &DataType::Float64, false)?;
    let dim = column(tile, b, "dimension", &DataType::Utf8, false)?;
    let mem = column(tile, b, "member", &DataType::Utf8, false)?;
    let note = column(tile, b, "note", &DataType::Utf8, false)?;
    let period = period.as_string::<i32>();
    let value = value.as_primitive::<Float64Type>();
    let n = n.as_primitive::<Int64Type>();
    let f = |a: &Option<Arc<dyn Array>>, i: usize| {
        a.as_ref().and_then(|a| {
            let a = a.as_primitive::<Float64Type>();
            a.is_valid(i).then(|| a.value(i))
        })
    };
    let s = |a: &Option<Arc<dyn Array>>, i: usize| {
        a.as_ref().and_then(|a| {
            let a = a.as_string::<i32>();
            a.is_valid(i).then(|| a.value(i).to_string())
        })
    };
    let mut out = Vec::with_capacity(b.num_rows());
    for i in 0..b.num_rows() {
        if !period.is_valid(i) {
            continue; // rows outside any period (no timestamp) carry no figure
        }
        out.push(QueryRow {
            period: period.value(i).to_string(),
            value: value
                .is_valid(i)
                .then(|| value.value(i))
                .filter(|v| v.is_finite()),
            numerator: f(&num, i),
            denominator: f(&den, i),
            n: if n.is_valid(i) { n.value(i) } else { 0 },
            dimension: s(&dim, i),
            member: s(&mem, i),
            note: s(&note, i),
        });
    }
    Ok(out)
}

pub use crate::status::attainment;

fn previous_label(grain: Grain, start: NaiveDate) -> Option<String> {
    let prev_day = start.pred_opt()?;
    Some(grain.label(prev_day))
}

fn month_labels(start: NaiveDate, end: NaiveDate) -> Vec<String> {
    let mut out = Vec::new();
    let mut d = start;
    while d <= end {
        out.push(format!("{:04}-{:02}", d.year(), d.month()));
        d = if d.month() == 12 {
            NaiveDate::from_ymd_opt(d.year() + 1, 1, 1).expect("valid")
        } else {
            NaiveDate::from_ymd_opt(d.year(), d.month() + 1, 1).expect("valid")
        };
    }
    out
}

/// End of a local day as a UTC instant (the next local midnight).
fn end_of_local_day(d: NaiveDate) -> DateTime<Utc> {
    local_midnight(d.succ_opt().unwrap_or(d))
}

/// The last second of a local day, in UTC: what "data through" that day means.
fn last_second_of(d: NaiveDate) -> DateTime<Utc> {
    end_of_local_day(d) - chrono::Duration::seconds(1)
}

/// What the manifest says about the inputs of tiles.
pub(crate) struct Inputs<'a> {
    pub manifest: &'a Manifest,
    pub expected: &'a BTreeMap<String, Vec<ExpectedSource>>,
    /// When the figures are computed: periods and months not ended by then are in progress,
    /// not missing.
    pub now: DateTime<Utc>,
    /// Each source's live rows per month.
    rows: BTreeMap<(String, String), MonthRows>,
    /// The latest month each load has live rows in.
    last_month_of_load: BTreeMap<String, String>,
    /// What each source's loads declare they cover.
    declared: BTreeMap<String, Vec<Declaration>>,
}

/// One source's live rows in one month.
#[derive(Default)]
struct MonthRows {
    /// The latest row's time, when every file knows its times.
    latest: Option<DateTime<Utc>>,
    /// A file without times (a table whose period column is a date).
    untimed: bool,
    /// The loads the rows came from.
    loads: BTreeSet<String>,
}

/// The range a load declares it covers, and the months its rows are (or were) in.
struct Declaration {
    covers: Covered,
    load_id: String,
    periods: BTreeSet<String>,
}

impl<'a> Inputs<'a> {
    pub fn new(
        manifest: &'a Manifest,
        expected: &'a BTreeMap<String, Vec<ExpectedSource>>,
        now: DateTime<Utc>,
    ) -> Self {
        let mut rows: BTreeMap<(String, String), MonthRows> = BTreeMap::new();
        let mut last_month_of_load: BTreeMap<String, String> = BTreeMap::new();
        for f in manifest.tables.values().flat_map(|t| &t.files) {
            let r = rows
                .entry((f.source.clone(), f.period.clone()))
                .or_default();
            match f.max_time {
                Some(t) => r.latest = Some(r.latest.map_or(t, |l| l.max(t))),
                None => r.untimed = true,
            }
            r.loads.insert(f.load_id.clone());
            let last = last_month_of_load.entry(f.load_id.clone()).or_default();
            if *last < f.period {
                *last = f.period.clone();
            }
        }
        let mut declared: BTreeMap<String, Vec<Declaration>> = BTreeMap::new();
        for l in &manifest.loads {
            if let (LoadStatus::Loaded, Some(covers)) = (l.status, l.covers) {
                declared
                    .entry(l.source.clone())
                    .or_default()
                    .push(Declaration {
                        covers,
                        load_id: l.load_id.clone(),
                        periods: l.periods.iter().cloned().collect(),
                    });
            }
        }
        Self {
            manifest,
            expected,
            now,
            rows,
            last_month_of_load,
            declared,
        }
    }

    /// Whether a load of `source` declares it covers every day from `first` to `last`,
    /// and still speaks for that month: its rows there are live, or it had none there
    /// (an explicit "no events" delivery).
    fn declared(&self, source: &str, month: &str, first: NaiveDate, last: NaiveDate) -> bool {
        let live = self.rows.get(&(source.to_string(), month.to_string()));
        self.declared.get(source).into_iter().flatten().any(|d| {
            d.covers.holds(first, last)
                && (!d.periods.contains(month)
                    || live.is_some_and(|r| r.loads.contains(&d.load_id)))
        })
    }

    /// Why a month of a source's delivery is not complete (`None` when it is): the month,
    /// and how far its data reaches when it has rows.
    fn month_gap(&self, e: &ExpectedSource, month: &str) -> Option<String> {
        let (first, last) = Grain::Month.bounds(month)?;
        let gap = || Some(month.to_string());
        let declared = || self.declared(&e.source, month, first, last);
        let rows = self.rows.get(&(e.source.clone(), month.to_string()));
        match e.complete_when {
            CompleteWhen::DeclaredRange => (!declared()).then(gap).flatten(),
            CompleteWhen::AnyRow => (rows.is_none() && !declared()).then(gap).flatten(),
            CompleteWhen::DataReachesEnd => {
                let Some(r) = rows else {
                    return (!declared()).then(gap).flatten();
                };
                let continues = r.loads.iter().any(|l| {
                    self.last_month_of_load
                        .get(l)
                        .is_some_and(|m| m.as_str() > month)
                });
                match r.latest {
                    _ if r.untimed || continues => None,
                    Some(t) => {
                        let day = t.with_timezone(&HELSINKI).date_naive();
                        let allowed = i64::from(e.end_within_days);
                        ((last - day).num_days() > allowed)
                            .then(|| format!("{month} (data through {})", day.format("%-d.%-m.%Y")))
                    }
                    None => gap(),
                }
            }
        }
    }

    /// The expected deliveries for the period that are not complete. Only months (and
    /// years) that have ended by `now` are expected: the rest of a period in progress is
    /// not due.
    fn missing(&self, tables: &[String], start: NaiveDate, end: NaiveDate) -> Vec<String> {
        let months: Vec<String> = month_labels(start, end)
            .into_iter()
            .filter(|m| {
                Grain::Month
                    .bounds(m)
                    .is_some_and(|(_, last)| end_of_local_day(last) <= self.now)
            })
            .collect();
        let mut missing = Vec::new();
        for table in tables {
            for e in self.expected.get(table).into_iter().flatten() {
                match e.cadence {
                    Cadence::Month => {
                        for m in &months {
                            if let Some(gap) = self.month_gap(e, m) {
                                missing.push(format!("{} {gap}", e.source));
                            }
                        }
                    }
                    Cadence::Year => {
                        let ended = |y: i32| {
                            NaiveDate::from_ymd_opt(y, 12, 31)
                                .is_some_and(|last| end_of_local_day(last) <= self.now)
                        };
                        for y in (start.year()..=end.year()).filter(|&y| ended(y)) {
                            let prefix = format!("{y:04}-");
                            let (first, last) = (
                                NaiveDate::from_ymd_opt(y, 1, 1).expect("valid"),
                                NaiveDate::from_ymd_opt(y, 12, 31).expect("valid"),
                            );
                            let has_rows = self
                                .rows
                                .keys()
                                .any(|(s, p)| s == &e.source && p.starts_with(&prefix));
                            let declared = self
                                .declared
                                .get(&e.source)
                                .into_iter()
                                .flatten()
                                .any(|d| d.covers.holds(first, last));
                            if !has_rows && !declared {
                                missing.push(format!("{} {y}", e.source));
                            }
                        }
                    }
                }
            }
        }
        missing
    }

    fn data_through(&self, tables: &[String]) -> Option<DateTime<Utc>> {
        tables
            .iter()
            .map(|t| {
                let files = self.manifest.files(t);
                files.iter().filter_map(|f| f.max_time).max().or_else(|| {
                    files
                        .iter()
                        .filter_map(|f| {
                            Grain::Month
                                .bounds(&f.period)
                                .map(|(_, end)| last_second_of(end))
                        })
                        .max()
                })
            })
            .try_fold(None::<DateTime<Utc>>, |acc, t| {
                t.map(|t| Some(acc.map_or(t, |a| a.min(t))))
            })
            .flatten()
    }

    fn sources(&self, tables: &[String]) -> Vec<SourceFile> {
        let live: BTreeSet<&str> = tables
            .iter()
            .flat_map(|t| self.manifest.files(t).iter().map(|f| f.load_id.as_str()))
            .collect();
        self.manifest
            .loads
            .iter()
            .filter(|l| l.status == LoadStatus::Loaded && live.contains(l.load_id.as_str()))
            .map(|l| SourceFile {
                source: l.source.clone(),
                file: l.original_name.clone(),
                sha256: l.sha256.clone(),
                loaded_at: l.loaded_at,
            })
            .collect()
    }
}

/// The member shown for a breakdown cell whose member is NULL.
pub const NO_MEMBER: &str = "(none)";

/// A grain's rows split into each period's total and its cells, the cells sorted by
/// dimension and member (the order of [`Protection::cell_hidden`]).
type Split<'r> = (
    BTreeMap<&'r str, &'r QueryRow>,
    BTreeMap<&'r str, Vec<&'r QueryRow>>,
);

fn split(rows: &[QueryRow]) -> Split<'_> {
    let mut totals: BTreeMap<&str, &QueryRow> = BTreeMap::new();
    let mut cells: BTreeMap<&str, Vec<&QueryRow>> = BTreeMap::new();
    for r in rows {
        match &r.dimension {
            // A breakdown cell, also when its member is NULL (rows with no value in the
            // breakdown column): never mistaken for the period's total.
            Some(_) => cells.entry(&r.period).or_default().push(r),
            None => {
                totals.insert(&r.period, r);
            }
        }
    }
    for c in cells.values_mut() {
        c.sort_by(|a, b| (&a.dimension, &a.member).cmp(&(&b.dimension, &b.member)));
    }
    (totals, cells)
}

/// What of each period of each grain may be published: primary and secondary suppression
/// within each period, then across the periods of each year (months adding up to their
/// quarter and year), except for point-in-time tiles, whose figures do not add up over
/// time.
pub(crate) fn protections(
    tile: &TileDef,
    per_grain: &BTreeMap<Grain, Vec<QueryRow>>,
) -> BTreeMap<Grain, BTreeMap<String, Protection>> {
    let mut out: BTreeMap<Grain, BTreeMap<String, Protection>> = BTreeMap::new();
    // The periods checked across periods, and where each goes back to.
    let (mut across, mut figures): (Vec<(Grain, String)>, Vec<PeriodFigures<'_>>) =
        (Vec::new(), Vec::new());
    for (grain, rows) in per_grain {
        let (totals, cells) = split(rows);
        // Each period's cells as (dimension, member, counts), in the order of `cells`.
        let members: BTreeMap<&str, Vec<MemberCounts<'_>>> = cells
            .iter()
            .map(|(p, v)| {
                let list = v
                    .iter()
                    .map(|c| {
                        (
                            c.dimension.as_deref().unwrap_or_default(),
                            member_of(c),
                            counts(c),
                        )
                    })
                    .collect();
                (*p, list)
            })
            .collect();
        // Which cells are sums of others (units of a service), from every period of the grain.
        let per_period: Vec<Vec<MemberCounts<'_>>> = members.values().cloned().collect();
        let nesting: BTreeMap<(&str, &str), (&str, &str)> =
            suppression::nesting(&per_period).into_iter().collect();
        let rank = Grain::ALL
            .iter()
            .position(|g| g == grain)
            .unwrap_or_default();
        for (p, r) in &totals {
            let period_cells = cells.get(p).map(Vec::as_slice).unwrap_or_default();
            let (protection, nests) = protect(tile, r, period_cells, &nesting);
            match grain.bounds(p) {
                Some((start, end)) if !tile.meta.point_in_time => {
                    across.push((*grain, p.to_string()));
                    figures.push(PeriodFigures {
                        start,
                        end,
                        rank,
                        total: counts(r),
                        cells: members.get(p).cloned().unwrap_or_default(),
                        nests,
                        protection,
                    });
                }
                _ => {
                    out.entry(*grain)
                        .or_default()
                        .insert(p.to_string(), protection);
                }
            }
        }
    }
    suppression::protect_across_periods(&mut figures);
    for ((grain, period), f) in across.into_iter().zip(figures) {
        out.entry(grain).or_default().insert(period, f.protection);
    }
    out
}

/// Turns a tile's raw rows for one grain into figures, publishing of each period what
/// `protections` allows.
pub(crate) fn figures(
    tile: &TileDef,
    grain: Grain,
    rows: &[QueryRow],
    inputs: &Inputs<'_>,
    protections: &BTreeMap<String, Protection>,
) -> Vec<PeriodFigure> {
    let meta = &tile.meta;
    let data_through = inputs.data_through(&meta.inputs);
    let (totals, mut cells) = split(rows);
    let values: BTreeMap<&str, Option<f64>> = totals
        .iter()
        .map(|(p, r)| (*p, r.value.filter(|_| protections[*p].total.is_none())))
        .collect();
    let mut out = Vec::new();
    for (period, r) in totals {
        let Some((start, end)) = grain.bounds(period) else {
            tracing::warn!(tile = %meta.id, period = %period, "the query returned a period label that is not a {} label; skipped", grain.as_str());
            continue;
        };
        let target = tile.target_for(start.year());
        let missing = inputs.missing(&meta.inputs, start, end);
        let in_progress = end_of_local_day(end) > inputs.now;
        let complete = missing.is_empty() && !in_progress;
        let protection = &protections[period];
        let hidden = protection.total.is_some();
        let value = if hidden { None } else { r.value };
        let attainment = match (value, target) {
            (Some(v), Some(t)) => attainment(meta.direction, v, t, meta.baseline),
            _ => None,
        };
        let (status, reason) = status::total_status(&TotalFacts {
            suppressed: protection.total,
            min_n: meta.min_n,
            min_cell_n: meta.min_cell_n,
            value,
            missing: &missing,
            in_progress,
            data_through,
            attainment,
            thresholds: &meta.thresholds,
        });
        let previous_value =
            previous_label(grain, start).and_then(|p| values.get(p.as_str()).copied().flatten());
        let change = value.zip(previous_value).map(|(v, p)| v - p);
        let breakdown = cells
            .remove(period)
            .unwrap_or_default()
            .into_iter()
            .enumerate()
            .filter(|(i, _)| protection.shows_cell(*i))
            .map(|(_, c)| {
                let status = match (c.value, target) {
                    (Some(v), Some(t)) => {
                        status::judge(meta.direction, v, t, meta.baseline, &meta.thresholds)
                    }
                    (None, _) => Status::Grey,
                    _ => Status::None,
                };
                Cell {
                    dimension: c.dimension.clone().unwrap_or_default(),
                    member: member_of(c).to_string(),
                    value: c.value,
                    numerator: c.numerator,
                    denominator: c.denominator,
                    n: c.n,
                    status,
                    note: c.note.clone(),
                }
            })
            .collect();
        let period_end = last_second_of(end);
        out.push(PeriodFigure {
            period: period.to_string(),
            start,
            end,
            value,
            numerator: r.numerator.filter(|_| !hidden),
            denominator: r.denominator.filter(|_| !hidden),
            n: (!hidden).then_some(r.n),
            target,
            attainment,
            status,
            status_reason: reason,
            previous_value,
            change,
            complete,
            in_progress,
            missing,
            data_through: data_through.map(|t| t.min(period_end)),
            breakdown,
        });
    }
    out
}

fn member_of(r: &QueryRow) -> &str {
    r.member.as_deref().unwrap_or(NO_MEMBER)
}

fn counts(r: &QueryRow) -> Counts {
    Counts {
        n: r.n,
        numerator: r.numerator,
        denominator: r.denominator,
    }
}

/// Primary and secondary suppression of one period's total and (sorted) cells, knowing
/// which members are sums of others (`nesting`: member → the member it belongs to).
fn protect(
    tile: &TileDef,
    total: &QueryRow,
    cells: &[&QueryRow],
    nesting: &BTreeMap<(&str, &str), (&str, &str)>,
) -> (Protection, Vec<Nest>) {
    fn key(c: &QueryRow) -> (&str, &str) {
        (c.dimension.as_deref().unwrap_or_default(), member_of(c))
    }
    let index: BTreeMap<(&str, &str), usize> =
        cells.iter().enumerate().map(|(i, c)| (key(c), i)).collect();
    let mut children: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (i, c) in cells.iter().enumerate() {
        if let Some(parent) = nesting.get(&key(c)).and_then(|p| index.get(p)) {
            children.entry(*parent).or_default().push(i);
        }
    }
    let nests: Vec<Nest> = children
        .into_iter()
        .map(|(parent, children)| Nest { parent, children })
        .collect();
    let cells: Vec<CellCounts<'_>> = cells
        .iter()
        .map(|c| CellCounts {
            dimension: c.dimension.as_deref().unwrap_or_default(),
            counts: counts(c),
        })
        .collect();
    let protection = suppression::protect_nested(
        counts(total),
        &cells,
        &nests,
        tile.meta.min_n,
        tile.meta.min_cell_n,
    );
    (protection, nests)
}

/// Builds a tile from its figures per grain.
pub(crate) fn tile(
    def: &TileDef,
    series: BTreeMap<Grain, Vec<PeriodFigure>>,
    inputs: &Inputs<'_>,
) -> Tile {
    Tile {
        meta: def.meta.clone(),
        definition_version: def.version(),
        sql: def.sql.clone(),
        sources: inputs.sources(&def.meta.inputs),
        data_through: inputs.data_through(&def.meta.inputs),
        series,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn month_labels_cover_a_quarter() {
        let (s, e) = Grain::Quarter.bounds("2024-Q4").unwrap();
        assert_eq!(month_labels(s, e), vec!["2024-10", "2024-11", "2024-12"]);
    }
}
