//! JSON Lines exports: one JSON object per line, as chat webhook logs are written
//! (`{"event": "audience_complete", "queue": {"name": "…"}, "tagging": {"tags": {…}}}`).
//! Read line by line: memory does not grow with the file. The "line" of a record is its
//! line in the file; blank lines are skipped; a line that is not a JSON object is a reject
//! naming the line, the column and the start of the text.
//!
//! The "columns" are the `from` paths of the config, read from each object ([`lookup`]): a
//! path missing from an object is an empty value, so events of different kinds can share a
//! file.

use std::borrow::Cow;
use std::io::{BufRead, BufReader, Read};

use arrow::array::RecordBatch;
use serde_json::Value;

use super::{Normaliser, Ranges, Reject, Summary};
use crate::Result;
use crate::source::CompiledSource;

/// Normalises a JSON Lines export read from `input`, one line at a time.
pub fn normalise(
    source: &CompiledSource,
    file: &str,
    sha: &str,
    input: Box<dyn Read + Send>,
    emit: impl FnMut(&str, RecordBatch) -> Result<()>,
) -> Result<(Summary, Ranges)> {
    let header = source.rows.sources_read();
    let mut normaliser = Normaliser::new(source, file, sha, &header, emit)?;
    let mut reader = BufReader::with_capacity(1 << 16, input);
    let mut buf = Vec::new();
    let mut line = 0u64;
    loop {
        buf.clear();
        let read = reader.read_until(b'\n', &mut buf).map_err(|e| {
            source.unreadable(file, Some(line + 1), format!("cannot read the text: {e}"))
        })?;
        if read == 0 {
            break;
        }
        line += 1;
        let bytes = if line == 1 {
            buf.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&buf)
        } else {
            &buf
        };
        let text = match std::str::from_utf8(bytes) {
            Ok(t) => t.trim(),
            Err(e) => {
                return Err(source.unreadable(
                    file,
                    Some(line),
                    format!("not UTF-8 at byte {} of the line", e.valid_up_to()),
                ));
            }
        };
        if text.is_empty() {
            continue;
        }
        let object = match serde_json::from_str::<Value>(text) {
            Ok(v @ Value::Object(_)) => v,
            Ok(other) => {
                normaliser.reject(Reject {
                    sheet: None,
                    line,
                    column: None,
                    column_number: None,
                    raw_value: Some(shorten(text)),
                    reason: format!("expected a JSON object, found {}", kind(&other)),
                });
                continue;
            }
            Err(e) => {
                normaliser.reject(Reject {
                    sheet: None,
                    line,
                    column: None,
                    column_number: Some(e.column()),
                    raw_value: Some(shorten(text)),
                    // serde_json counts lines within the line: the column is enough.
                    reason: format!(
                        "not JSON: {}",
                        e.to_string().split(" at line ").next().unwrap_or_default()
                    ),
                });
                continue;
            }
        };
        let field = |at: usize| lookup(&object, &header[at]);
        normaliser.record(line, header.len(), field)?;
    }
    normaliser.finish()
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn shorten(text: &str) -> String {
    match text.char_indices().nth(80) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

/// The value at `path` in `value`, as text for the column's type to read: `queue.name` (a
/// key of a nested object), `answers[0].score` (an element of an array), `tags.*.name`
/// (every element of an array, or every value of an object). A string is itself, a number
/// or boolean its JSON text, `null` or a missing key no value. Several values (from `*`),
/// an array or an object at the end of the path become a `;`-list of the scalars in them,
/// the way `contains` reads a list in CSV; an object at the end lists its values (in the
/// order of their keys).
pub fn lookup<'v>(value: &'v Value, path: &str) -> Option<Cow<'v, str>> {
    let mut found: Vec<&Value> = vec![value];
    for segment in segments(path) {
        let mut next = Vec::new();
        for v in found {
            match segment {
                Segment::Key(k) => next.extend(v.get(k)),
                Segment::Index(i) => next.extend(v.get(i)),
                Segment::Every => match v {
                    Value::Array(a) => next.extend(a.iter()),
                    Value::Object(o) => next.extend(o.values()),
                    _ => {}
                },
            }
        }
        found = next;
    }
    let mut scalars: Vec<Cow<'v, str>> = Vec::new();
    let wildcard = path.split('.').any(|s| s == "*");
    for v in &found {
        flatten(v, &mut scalars, !wildcard && found.len() == 1);
    }
    match scalars.len() {
        0 => None,
        1 => scalars.pop(),
        _ => Some(Cow::Owned(
            scalars
                .iter()
                .map(|s| s.as_ref())
                .collect::<Vec<_>>()
                .join(";"),
        )),
    }
}

fn flatten<'v>(v: &'v Value, out: &mut Vec<Cow<'v, str>>, top: bool) {
    match v {
        Value::Null => {}
        Value::String(s) => out.push(Cow::Borrowed(s.as_str())),
        Value::Number(n) => out.push(Cow::Owned(n.to_string())),
        Value::Bool(b) => out.push(Cow::Borrowed(if *b { "true" } else { "false" })),
        Value::Array(a) if top => a.iter().for_each(|x| flatten(x, out, false)),
        Value::Object(o) if top => o.values().for_each(|x| flatten(x, out, false)),
        other => out.push(Cow::Owned(other.to_string())),
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Segment<'p> {
    Key(&'p str),
    Index(usize),
    Every,
}

/// `a.b[0].*` as `Key(a)`, `Key(b)`, `Index(0)`, `Every`.
fn segments(path: &str) -> Vec<Segment<'_>> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let (key, mut rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        match key {
            "*" => out.push(Segment::Every),
            "" => {}
            k => out.push(Segment::Key(k)),
        }
        while let Some(close) = rest.find(']') {
            let inside = &rest[1..close];
            match inside.parse() {
                Ok(i) => out.push(Segment::Index(i)),
                Err(_) if inside == "*" => out.push(Segment::Every),
                Err(_) => out.push(Segment::Key(inside)),
            }
            rest = &rest[close + 1..];
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event() -> Value {
        serde_json::json!({
            "event": "audience_complete",
            "ts": 1742904300.25,
            "queue": {"name": "Sosiaalineuvonta", "id": 12},
            "answers": [{"score": 9}, {"score": null}],
            "tagging": {"tags": {"t1": {"name": "toimeentulotuki"}, "t2": {"name": "asuminen"}}},
            "labels": ["kiireellinen", "ruotsi"],
            "resolved": true,
            "note": null
        })
    }

    fn at(path: &str) -> Option<String> {
        lookup(&event(), path).map(|c| c.into_owned())
    }

    #[test]
    fn paths_reach_into_objects_and_arrays() {
        assert_eq!(at("event").as_deref(), Some("audience_complete"));
        assert_eq!(at("ts").as_deref(), Some("1742904300.25"));
        assert_eq!(at("queue.name").as_deref(), Some("Sosiaalineuvonta"));
        assert_eq!(at("queue.id").as_deref(), Some("12"));
        assert_eq!(at("answers[0].score").as_deref(), Some("9"));
        assert_eq!(at("resolved").as_deref(), Some("true"));
    }

    #[test]
    fn missing_and_null_are_no_value() {
        assert_eq!(at("note"), None);
        assert_eq!(at("answers[1].score"), None);
        assert_eq!(at("answers[5].score"), None);
        assert_eq!(at("queue.nothing"), None);
        assert_eq!(at("event.name"), None);
    }

    #[test]
    fn wildcards_arrays_and_objects_become_lists() {
        assert_eq!(
            at("tagging.tags.*.name").as_deref(),
            Some("toimeentulotuki;asuminen")
        );
        assert_eq!(at("labels").as_deref(), Some("kiireellinen;ruotsi"));
        assert_eq!(at("labels[*]").as_deref(), Some("kiireellinen;ruotsi"));
        assert_eq!(at("answers[*].score").as_deref(), Some("9"));
        assert_eq!(
            at("queue").as_deref(),
            Some("12;Sosiaalineuvonta"),
            "an object lists its values, by key"
        );
    }
}
