//! JSON exports: an array of flat objects, as the Sotkanet REST API returns. The
//! "columns" are the objects' keys; the "line" of a record is its position in the array
//! (1-based), since such answers usually have no line breaks.

use std::borrow::Cow;
use std::io::Read;

use arrow::array::RecordBatch;

use super::{Normaliser, Ranges, Summary};
use crate::source::CompiledSource;
use crate::{Error, Result};

/// Normalises a JSON array export read from `input` (read whole: the array is parsed at
/// once).
pub fn normalise(
    source: &CompiledSource,
    file: &str,
    sha: &str,
    mut input: Box<dyn Read + Send>,
    emit: impl FnMut(&str, RecordBatch) -> Result<()>,
) -> Result<(Summary, Ranges)> {
    let unreadable = |message: String| Error::Unreadable {
        source_name: source.config.name.clone(),
        file: file.to_string(),
        line: None,
        message,
    };
    let mut bytes = Vec::new();
    input
        .read_to_end(&mut bytes)
        .map_err(|e| unreadable(format!("cannot read the text: {e}")))?;
    let bytes = bytes.as_slice();
    let text = std::str::from_utf8(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes))
        .map_err(|e| unreadable(format!("not UTF-8 at byte {}", e.valid_up_to())))?;
    let records: Vec<serde_json::Map<String, serde_json::Value>> = serde_json::from_str(text)
        .map_err(|e| {
            unreadable(format!(
                "expected a JSON array of objects (line {}, column {}): {e}",
                e.line(),
                e.column()
            ))
        })?;
    // The header is every key, in order of first appearance.
    let mut header: Vec<String> = Vec::new();
    for r in &records {
        for k in r.keys() {
            if !header.contains(k) {
                header.push(k.clone());
            }
        }
    }
    let mut normaliser = Normaliser::new(source, file, sha, &header, emit)?;
    for (i, r) in records.iter().enumerate() {
        let field = |at: usize| {
            r.get(&header[at]).map(|v| match v {
                serde_json::Value::Null => Cow::Borrowed(""),
                serde_json::Value::String(s) => Cow::Borrowed(s.as_str()),
                other => Cow::Owned(other.to_string()),
            })
        };
        normaliser.record(i as u64 + 1, header.len(), field)?;
    }
    normaliser.finish()
}
