//! Normalising: from an export's text fields to rows of a canonical table.
//!
//! A source config is compiled once into a [`RowPlan`] against its table ([`plan`]): every
//! mapping, value map and lookup is checked and converted to typed values. The plan is then
//! bound to an export's header (schema drift is caught here) and applied row by row
//! ([`row`]). A row either becomes typed values in its period's buffer ([`batch`]), or a
//! [`Reject`] naming line, column, raw value and reason; never half of each. Buffers are
//! emitted as Arrow batches of at most [`BATCH_ROWS`] rows, so memory stays bounded however
//! large the export.
//!
//! One file per export format reads records: [`csv`], [`json`] (a JSON document),
//! [`json_lines`] and [`excel`] (a sheet of a workbook). [`normalise`] picks the
//! reader from the source's `[format] kind`. Adding a format is a file here, a variant of
//! [`crate::config::FormatConfig`] (with its keys), and an arm in [`normalise`].

pub mod batch;
pub mod csv;
pub mod excel;
pub mod json;
pub mod json_lines;
pub mod plan;
pub mod row;
mod value;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::Read;

use arrow::array::RecordBatch;
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use tilannekuva_conventions::datetime::{HELSINKI, local_midnight};

use crate::config::FormatConfig;
use crate::source::CompiledSource;
use crate::{Error, Result};
pub use batch::PeriodBuffer;
pub use plan::{Binding, RowPlan};
pub use row::Reject;
pub use value::Value;

/// Period → (earliest, latest) instant of its rows.
pub type Ranges = BTreeMap<String, (Option<DateTime<Utc>>, Option<DateTime<Utc>>)>;

/// Rows per emitted batch.
pub const BATCH_ROWS: usize = 32 * 1024;

/// Normalises a landed export with the reader its `[format] kind` names, calling `emit` with
/// each batch and its period.
pub fn normalise(
    source: &CompiledSource,
    file: &str,
    sha: &str,
    input: Box<dyn Read + Send>,
    emit: impl FnMut(&str, RecordBatch) -> Result<()>,
) -> Result<(Summary, Ranges)> {
    match &source.config.format {
        FormatConfig::Csv(layout) => csv::normalise(source, layout, file, sha, input, emit),
        FormatConfig::JsonArray(_) => json::normalise(source, "", true, file, sha, input, emit),
        FormatConfig::Json(layout) => {
            json::normalise(source, &layout.records, false, file, sha, input, emit)
        }
        FormatConfig::JsonLines(_) => json_lines::normalise(source, file, sha, input, emit),
        FormatConfig::Excel(layout) => excel::normalise(source, layout, file, sha, input, emit),
    }
}

/// Outcome of normalising one export.
#[derive(Debug, Default)]
pub struct Summary {
    /// Data rows read.
    pub rows: u64,
    /// Rows accepted.
    pub accepted: u64,
    /// Rows rejected, in file order.
    pub rejects: Vec<Reject>,
    /// Rows skipped by `format.skip_when` (totals, notes) and lines before the header
    /// (`format.skip_rows`, a title block above a sheet's header).
    pub skipped: u64,
    /// The first skipped rows, each as "line N: why".
    pub skipped_examples: Vec<String>,
}

/// Skipped rows listed in a [`Summary`]; the count is always exact.
const SKIPPED_EXAMPLES: usize = 20;

impl Summary {
    /// Counts a skipped row.
    pub fn skip(&mut self, line: u64, why: impl std::fmt::Display) {
        self.skipped += 1;
        if self.skipped_examples.len() < SKIPPED_EXAMPLES {
            self.skipped_examples.push(format!("line {line}: {why}"));
        }
    }

    /// Adds what another part of the same export read, in file order.
    pub fn extend(&mut self, later: Summary) {
        self.rows += later.rows;
        self.accepted += later.accepted;
        self.rejects.extend(later.rejects);
        self.skipped += later.skipped;
        let room = SKIPPED_EXAMPLES.saturating_sub(self.skipped_examples.len());
        self.skipped_examples
            .extend(later.skipped_examples.into_iter().take(room));
    }
}

/// Applies a plan to records and hands out batches per period. Shared by every format.
pub struct Normaliser<'a, F: FnMut(&str, RecordBatch) -> Result<()>> {
    source: &'a CompiledSource,
    file: String,
    sha: String,
    binding: Binding,
    expected_fields: usize,
    /// The sheet read, for a spreadsheet: named in rejects.
    sheet: Option<String>,
    /// Whether the plan has derived id columns to fill (decided once, not per row).
    derives_ids: bool,
    /// Rows of this file seen per derived key, for the counter of repeated keys.
    keys_seen: std::collections::HashMap<String, u32>,
    buffers: BTreeMap<String, PeriodBuffer>,
    /// UTC bounds (microseconds, end exclusive) and label of the last row's period.
    period: (i64, i64, String),
    emit: F,
    /// What has been read so far.
    pub summary: Summary,
}

impl<'a, F: FnMut(&str, RecordBatch) -> Result<()>> Normaliser<'a, F> {
    /// Starts on an export whose header is `header`.
    pub fn new(
        source: &'a CompiledSource,
        file: &str,
        sha: &str,
        header: &[String],
        emit: F,
    ) -> Result<Self> {
        let binding = source.bind(file, header)?;
        Ok(Self {
            source,
            file: file.to_string(),
            sha: sha.to_string(),
            binding,
            expected_fields: header.len(),
            sheet: None,
            derives_ids: source.rows.derives_ids(),
            keys_seen: std::collections::HashMap::new(),
            buffers: BTreeMap::new(),
            period: (i64::MAX, i64::MIN, String::new()),
            emit,
            summary: Summary::default(),
        })
    }

    /// Sets `self.period` to the row's period and returns the row's instant. The UTC bounds
    /// of the last month are remembered: the rows of an export mostly come in time order, so
    /// the time zone is consulted about once a month, not once a row.
    fn period_of(&mut self, values: &[Value]) -> Option<DateTime<Utc>> {
        let plan = &self.source.rows;
        if let Some(us) = plan.period_instant(values) {
            let (start, end, _) = &self.period;
            if (*start..*end).contains(&us) {
                return DateTime::<Utc>::from_timestamp_micros(us);
            }
        }
        let (label, time) = plan.period(values);
        self.period = match time.map(|t| t.with_timezone(&HELSINKI).date_naive()) {
            Some(d) => {
                let first = NaiveDate::from_ymd_opt(d.year(), d.month(), 1).expect("first");
                let next = first
                    .checked_add_months(chrono::Months::new(1))
                    .expect("in range");
                let micros = |d: NaiveDate| local_midnight(d).timestamp_micros();
                (micros(first), micros(next), label)
            }
            None => (i64::MAX, i64::MIN, label),
        };
        time
    }

    /// Names the sheet being read in every reject.
    pub fn in_sheet(mut self, sheet: &str) -> Self {
        self.sheet = Some(sheet.to_string());
        self
    }

    /// Fills the derived id columns: `line` as `<file>:<line>`, and a `key` seen before in
    /// this file gets `-2`, `-3`, … in file order.
    fn derive_ids(&mut self, line: u64, values: &mut [Value]) {
        for (c, v) in self.source.rows.columns.iter().zip(values.iter_mut()) {
            match (&c.input, v) {
                (plan::Input::Line, Value::Str(s)) => {
                    *s = format!("{}:{line}", self.file).into();
                }
                (plan::Input::Key(_), Value::Str(s)) => {
                    let seen = self.keys_seen.entry(s.to_string()).or_insert(0);
                    *seen += 1;
                    if *seen > 1 {
                        *s = format!("{s}-{seen}").into();
                    }
                }
                _ => {}
            }
        }
    }

    /// Reads one record; `field(i)` is the text of its field `i`. A record meeting a
    /// `skip_when` rule is counted as skipped.
    pub fn record<'r>(
        &mut self,
        line: u64,
        fields: usize,
        field: impl Fn(usize) -> Option<Cow<'r, str>>,
    ) -> Result<()> {
        let source = self.source;
        let plan = &source.rows;
        if let Some(rule) = plan.skip_rule(&self.binding, &field) {
            self.summary.skip(line, format_args!("skipped: {rule}"));
            return Ok(());
        }
        self.summary.rows += 1;
        match plan.row(line, &self.binding, &field, fields, self.expected_fields) {
            Err(mut reject) => {
                reject.sheet.clone_from(&self.sheet);
                self.summary.rejects.push(reject);
            }
            Ok(mut values) => {
                if self.derives_ids {
                    self.derive_ids(line, &mut values);
                }
                if let Some((column, kind)) = plan.guard_personal_data(&values) {
                    return Err(Error::PersonalData {
                        source_name: self.source.config.name.clone(),
                        file: self.file.clone(),
                        line,
                        column,
                        kind: kind.describe(),
                    });
                }
                let time = self.period_of(&values);
                let period = &self.period.2;
                if !self.buffers.contains_key(period) {
                    let buffer = PeriodBuffer::new(
                        &self.source.rows,
                        period,
                        &self.source.config.name,
                        &self.sha,
                    );
                    self.buffers.insert(period.clone(), buffer);
                }
                let buf = self.buffers.get_mut(period).expect("inserted above");
                buf.push(values, time, line);
                self.summary.accepted += 1;
                if buf.len() >= BATCH_ROWS {
                    let batch = buf.take_batch();
                    (self.emit)(period, batch)?;
                }
            }
        }
        Ok(())
    }

    /// Emits what is left; returns the summary and each period's time range.
    /// Counts a record that could not be read at all (a line that is not JSON, say) as a
    /// reject.
    pub fn reject(&mut self, mut reject: Reject) {
        self.summary.rows += 1;
        reject.sheet.clone_from(&self.sheet);
        self.summary.rejects.push(reject);
    }

    pub fn finish(mut self) -> Result<(Summary, Ranges)> {
        let mut ranges = BTreeMap::new();
        for (period, buf) in self.buffers.iter_mut() {
            if !buf.is_empty() {
                let batch = buf.take_batch();
                (self.emit)(period, batch)?;
            }
            ranges.insert(period.clone(), (buf.min_time, buf.max_time));
        }
        Ok((self.summary, ranges))
    }
}
