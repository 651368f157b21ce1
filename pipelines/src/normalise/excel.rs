//! Spreadsheet exports: one sheet of an `.xlsx`, `.xlsm`, `.xls` or `.ods` workbook, read
//! with `calamine` (the kind is told by the file's content, not its name). A workbook is
//! compressed and indexed, so it is read whole; monthly reports are small.
//!
//! The header is the sheet row `header_row`, or the first row holding every column the
//! source reads, so a title block above it needs no config. With `header_rows = 2` the
//! group labels above the column labels (merged cells, as reports draw them) are part of
//! the name: `Puhelut Saapuneet`. Rows are numbered as the sheet shows them, and every
//! reject names the sheet.
//!
//! Cells are handed to the row plan as text, the way the column reads it: a text cell as
//! it is (numbers stored as text read with `format.numbers`); a number cell with the
//! source's decimal separator and no grouping; a date cell (an Excel serial number with a
//! date style, or an ODS date) written in the column's own time format, so one column may
//! hold both typed dates and dates typed as text.

use std::borrow::Cow;
use std::io::{Cursor, Read};

use arrow::array::RecordBatch;
use calamine::{Data, Dimensions, Range, Reader, Sheets, open_workbook_auto_from_rs};
use chrono::NaiveDateTime;

use super::{Normaliser, Ranges, Summary};
use crate::Result;
use crate::config::{ExcelFormat, SheetRef};
use crate::source::CompiledSource;

/// Normalises one sheet of a workbook read from `input`, laid out as `layout` says.
pub fn normalise(
    source: &CompiledSource,
    layout: &ExcelFormat,
    file: &str,
    sha: &str,
    mut input: Box<dyn Read + Send>,
    emit: impl FnMut(&str, RecordBatch) -> Result<()>,
) -> Result<(Summary, Ranges)> {
    let unreadable = |message: String| source.unreadable(file, None, message);
    let mut bytes = Vec::new();
    input
        .read_to_end(&mut bytes)
        .map_err(|e| unreadable(format!("cannot read the workbook: {e}")))?;
    let mut book = open_workbook_auto_from_rs(Cursor::new(bytes)).map_err(|e| {
        unreadable(format!(
            "not a workbook calamine can read (.xlsx, .xlsm, .xls, .ods): {e}"
        ))
    })?;
    let names = book.sheet_names();
    let sheet = match &layout.sheet {
        None => names.first().cloned(),
        Some(SheetRef::Index(i)) => names.get(i.wrapping_sub(1)).cloned(),
        Some(SheetRef::Name(n)) => names.iter().find(|s| s.trim() == n.trim()).cloned(),
    }
    .ok_or_else(|| {
        let wanted = layout
            .sheet
            .as_ref()
            .map_or("a sheet".to_string(), ToString::to_string);
        unreadable(format!(
            "the workbook has no {wanted}; its sheets are: {}",
            names.join(", ")
        ))
    })?;
    let range = book
        .worksheet_range(&sheet)
        .map_err(|e| unreadable(format!("cannot read sheet `{sheet}`: {e}")))?;
    let merged = merged_cells(&mut book, &sheet);
    let grid = Grid::new(&range);
    let rows = layout.header_rows.max(1) as usize;
    let wanted = source.rows.columns_read();
    let top = match layout.header_row {
        Some(r) => r as usize,
        None => (grid.first_row..=grid.last_row())
            .find(|r| {
                let header = grid.header(*r, rows, &merged);
                wanted.iter().all(|w| header.iter().any(|h| h == w))
            })
            .ok_or_else(|| {
                unreadable(format!(
                    "sheet `{sheet}` has no row holding every column the source reads ({}); \
                     set `format.header_row` to the header's row",
                    wanted.join(", ")
                ))
            })?,
    };
    let header = grid.header(top, rows, &merged);
    let writers: Vec<CellWriter> = header
        .iter()
        .map(|name| CellWriter {
            time: source.rows.time_format_of(name).cloned(),
            decimal: layout.numbers.decimal,
        })
        .collect();
    let mut normaliser = Normaliser::new(source, file, sha, &header, emit)?.in_sheet(&sheet);
    for r in grid.first_row.min(top)..top {
        if grid.row(r).iter().any(|c| !matches!(c, Data::Empty)) {
            normaliser
                .summary
                .skip(r as u64, "above the header (a title block)");
        }
    }
    for r in top + rows..=grid.last_row() {
        let cells = grid.row(r);
        if cells.iter().all(|c| matches!(c, Data::Empty)) {
            continue; // an empty row, as between a table and its notes
        }
        let field = |at: usize| {
            let cell = cells.get(at)?;
            writers.get(at).map(|w| w.write(cell))
        };
        normaliser.record(r as u64, header.len(), field)?;
    }
    normaliser.finish()
}

/// The merged cell ranges of a sheet, where the format records them (`.xlsx`, `.xls`).
/// An `.ods` sheet gives none: a group label there counts only for its own column, and for
/// the empty cells right of it in the same header row.
fn merged_cells<R: Read + std::io::Seek>(book: &mut Sheets<R>, sheet: &str) -> Vec<Dimensions> {
    match book {
        Sheets::Xlsx(x) => x.merge_cells_by_sheet_name(sheet).unwrap_or_default(),
        Sheets::Xls(x) => x.merge_cells_by_sheet_name(sheet).unwrap_or_default(),
        _ => Vec::new(),
    }
}

/// A sheet's cells by sheet row and column, both from 1.
struct Grid<'a> {
    range: &'a Range<Data>,
    first_row: usize,
    first_col: usize,
}

impl<'a> Grid<'a> {
    fn new(range: &'a Range<Data>) -> Self {
        let (row, col) = range.start().unwrap_or((0, 0));
        Self {
            range,
            first_row: row as usize + 1,
            first_col: col as usize + 1,
        }
    }

    fn last_row(&self) -> usize {
        self.range.end().map_or(0, |(r, _)| r as usize + 1)
    }

    fn width(&self) -> usize {
        self.range.width()
    }

    /// The cells of sheet row `row`, from column A.
    fn row(&self, row: usize) -> Vec<&'a Data> {
        static EMPTY: Data = Data::Empty;
        let mut out = vec![&EMPTY; self.first_col - 1];
        for c in 0..self.width() {
            let at = (row.wrapping_sub(self.first_row), c);
            out.push(self.range.get(at).unwrap_or(&EMPTY));
        }
        out
    }

    /// Column names from sheet rows `top..top + rows`: each column's labels top to bottom,
    /// joined by a space. A merged cell's label counts for every column it spans; without
    /// merge records, an empty cell of a group row takes the label to its left.
    fn header(&self, top: usize, rows: usize, merged: &[Dimensions]) -> Vec<String> {
        let width = self.first_col - 1 + self.width();
        let mut labels: Vec<Vec<String>> = vec![Vec::new(); width];
        for r in top..top + rows {
            let cells = self.row(r);
            let mut left = String::new();
            for (c, label) in labels.iter_mut().enumerate() {
                let own = cells.get(c).map(|d| text(d)).unwrap_or_default();
                let spanned = merged.iter().find(|m| {
                    (m.start.0 as usize + 1..=m.end.0 as usize + 1).contains(&r)
                        && (m.start.1 as usize..=m.end.1 as usize).contains(&c)
                });
                let value = match spanned {
                    Some(m) => {
                        let origin = self.row(m.start.0 as usize + 1);
                        origin
                            .get(m.start.1 as usize)
                            .map(|d| text(d))
                            .unwrap_or_default()
                    }
                    None if own.is_empty() && r + 1 < top + rows && merged.is_empty() => {
                        left.clone()
                    }
                    None => own,
                };
                left.clone_from(&value);
                if !value.is_empty() && label.last() != Some(&value) {
                    label.push(value);
                }
            }
        }
        labels.into_iter().map(|l| l.join(" ")).collect()
    }
}

/// A cell's text as it appears, for header labels.
fn text(d: &Data) -> String {
    match d {
        Data::String(s) => s.trim().to_string(),
        Data::Empty => String::new(),
        other => other.to_string(),
    }
}

/// How the cells of one column are written for the row plan.
struct CellWriter {
    time: Option<tilannekuva_conventions::datetime::TimeFormat>,
    decimal: char,
}

impl CellWriter {
    fn write<'d>(&self, cell: &'d Data) -> Cow<'d, str> {
        match cell {
            Data::Empty => Cow::Borrowed(""),
            Data::String(s) => Cow::Borrowed(s.as_str()),
            Data::Int(i) => Cow::Owned(i.to_string()),
            Data::Float(f) => Cow::Owned(self.number(*f)),
            Data::Bool(b) => Cow::Borrowed(if *b { "true" } else { "false" }),
            Data::DateTime(d) => match d.as_datetime() {
                Some(t) if self.time.is_some() => Cow::Owned(self.date(t)),
                // A date style on a number column (a duration, say): the serial number.
                _ => Cow::Owned(self.number(d.as_f64())),
            },
            Data::DateTimeIso(s) => match iso_local(s) {
                Some(t) if self.time.is_some() => Cow::Owned(self.date(t)),
                _ => Cow::Borrowed(s.as_str()),
            },
            Data::DurationIso(s) => Cow::Borrowed(s.as_str()),
            Data::Error(e) => Cow::Owned(e.to_string()),
        }
    }

    /// A number cell in the source's number layout: a whole number without a fraction.
    fn number(&self, f: f64) -> String {
        let plain = if f.fract() == 0.0 && f.abs() < 1e15 {
            format!("{}", f as i64)
        } else {
            f.to_string()
        };
        if self.decimal == '.' {
            plain
        } else {
            plain.replace('.', &self.decimal.to_string())
        }
    }

    /// A date cell as the column's time format reads it; ISO 8601 when the format needs
    /// an instant (`epoch_seconds`), which the column then rejects, naming the value.
    fn date(&self, t: NaiveDateTime) -> String {
        self.time
            .as_ref()
            .and_then(|f| f.write_local(t))
            .unwrap_or_else(|| t.format("%Y-%m-%dT%H:%M:%S").to_string())
    }
}

/// An ODS date value (`2025-03-04` or `2025-03-04T08:15:00`).
fn iso_local(s: &str) -> Option<NaiveDateTime> {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .or_else(|| {
            chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .ok()
                .map(|d| d.and_time(chrono::NaiveTime::MIN))
        })
}
