//! JSON exports: an array of flat objects, as the Sotkanet REST API returns. The
//! "columns" are the objects' keys; the "line" of a record is its position in the array
//! (1-based), since such answers usually have no line breaks.

use arrow::array::RecordBatch;
use std::borrow::Cow;

use super::{Normaliser, Plan, Ranges, Summary};
use crate::{Error, Result};

/// Normalises a JSON array export held in memory.
pub fn normalise(
    plan: &Plan,
    file: &str,
    sha: &str,
    bytes: &[u8],
    emit: impl FnMut(&str, RecordBatch) -> Result<()>,
) -> Result<(Summary, Ranges)> {
    let unreadable = |message: String| Error::Unreadable {
        source_name: plan.source.name.clone(),
        file: file.to_string(),
        line: None,
        message,
    };
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
    let mut normaliser = Normaliser::new(plan, file, sha, &header, emit)?;
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
