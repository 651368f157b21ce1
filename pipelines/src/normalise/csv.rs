//! Delimited text exports: `;` or `,`, quoted or not, UTF-8 (with or without BOM) or
//! Windows-1252, CRLF or LF. Lines are numbered as a text editor shows them; the header is
//! line 1.

use std::borrow::Cow;
use std::io::Read;

use arrow::array::RecordBatch;
use tilannekuva_conventions::encoding::decoding_reader;

use super::{Normaliser, PeriodBuffer, Plan, Ranges, Summary};
use crate::config::FormatConfig;
use crate::{Error, Result};

/// Normalises a delimited export read from `input`, calling `emit` with each batch.
pub fn normalise(
    plan: &Plan,
    file: &str,
    sha: &str,
    input: Box<dyn Read + Send>,
    emit: impl FnMut(&str, RecordBatch, &PeriodBuffer) -> Result<()>,
) -> Result<(Summary, Ranges)> {
    let FormatConfig::Csv {
        delimiter,
        quote,
        encoding,
        ..
    } = &plan.source.format
    else {
        unreachable!("csv::normalise is called for csv sources")
    };
    let unreadable = |line: Option<u64>, message: String| Error::Unreadable {
        source_name: plan.source.name.clone(),
        file: file.to_string(),
        line,
        message,
    };
    let decoded = decoding_reader(input, *encoding);
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(ascii(*delimiter, "delimiter").map_err(|m| unreadable(None, m))?)
        .quote(ascii(*quote, "quote").map_err(|m| unreadable(None, m))?)
        .has_headers(true)
        .flexible(true)
        // Records end at `\n` so that line numbers are exact for CRLF files too (with the
        // default terminator a record of a CRLF file is counted from the previous line);
        // the `\r` left at the end of the last field is stripped below.
        .terminator(csv::Terminator::Any(b'\n'))
        .from_reader(decoded);
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| unreadable(Some(1), csv_message(&e)))?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').trim().to_string())
        .collect();
    let mut normaliser = Normaliser::new(plan, file, sha, &header, emit)?;
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let line = record.position().map_or(0, |p| p.line());
                if record.len() == 1 && record.get(0).is_some_and(|f| f.trim().is_empty()) {
                    continue; // a blank line, such as a trailing one
                }
                let last = record.len().saturating_sub(1);
                let field = |i: usize| {
                    record.get(i).map(|f| {
                        Cow::Borrowed(if i == last {
                            f.strip_suffix('\r').unwrap_or(f)
                        } else {
                            f
                        })
                    })
                };
                normaliser.record(line, record.len(), field)?;
            }
            Err(e) => {
                let line = e.position().map(|p| p.line());
                return Err(unreadable(line, csv_message(&e)));
            }
        }
    }
    normaliser.finish()
}

fn ascii(c: char, what: &str) -> std::result::Result<u8, String> {
    u8::try_from(c)
        .ok()
        .filter(u8::is_ascii)
        .ok_or_else(|| format!("the {what} `{c}` must be one ASCII character"))
}

fn csv_message(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::Io(io) => format!("cannot read the text: {io}"),
        csv::ErrorKind::Utf8 { err, .. } => format!(
            "the text is not valid in the configured encoding (field {})",
            err.field() + 1
        ),
        _ => e.to_string(),
    }
}
