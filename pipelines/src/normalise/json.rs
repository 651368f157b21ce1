//! JSON documents: the records are an array, either the document itself (`json_array`, as
//! the Sotkanet REST API answers) or at a path of keys inside it (`json` with
//! `records = "data.items"`, as paged report APIs wrap theirs). The document is streamed:
//! the keys on the way to the records are walked, everything else skipped unread, and the
//! records parsed one at a time, so memory does not grow with the number of records.
//!
//! The "line" of a record is its position in the array (1-based): such documents are often
//! one line, and `.data.items[N-1]` finds record N. Columns are `from` paths into each
//! record ([`super::json_lines::lookup`]). For `json_array`, whose records are flat
//! objects, the keys are the header: a key the config does not account for, or a mapped
//! key no record has, is schema drift, as a CSV header would be.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::fmt;
use std::io::{BufReader, Read};

use arrow::array::RecordBatch;
use serde::de::{DeserializeSeed, Error as _, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::json_lines::lookup;
use super::{Normaliser, Ranges, Summary};
use crate::source::CompiledSource;
use crate::{Error, Result};

/// Normalises a JSON document read from `input`: the records at `records` (keys separated
/// by `.`; empty for a document that is the array). `flat` checks the records' keys
/// against the config, as for a header.
pub fn normalise(
    source: &CompiledSource,
    records: &str,
    flat: bool,
    file: &str,
    sha: &str,
    input: Box<dyn Read + Send>,
    emit: impl FnMut(&str, RecordBatch) -> Result<()>,
) -> Result<(Summary, Ranges)> {
    let unreadable = |message: String| source.unreadable(file, None, message);
    let header = source.rows.sources_read();
    let normaliser = Normaliser::new(source, file, sha, &header, emit)?;
    let path: Vec<&str> = records.split('.').filter(|k| !k.is_empty()).collect();
    let state = RefCell::new(State {
        normaliser,
        header: &header,
        keys: BTreeSet::new(),
        failed: None,
        found: false,
    });
    let mut reader = BufReader::with_capacity(1 << 16, SkipBom::new(input));
    let mut de = serde_json::Deserializer::from_reader(&mut reader);
    let walked = Walk {
        path: &path,
        state: &state,
    }
    .deserialize(&mut de)
    .and_then(|()| de.end());
    let State {
        normaliser,
        keys,
        failed,
        found,
        ..
    } = state.into_inner();
    if let Some(e) = failed {
        return Err(e);
    }
    let at = if path.is_empty() {
        "the document".to_string()
    } else {
        format!("`{records}`")
    };
    if let Err(e) = walked {
        return Err(unreadable(format!(
            "expected an array of records at {at} (line {}, column {}): {}",
            e.line(),
            e.column(),
            e.to_string().split(" at line ").next().unwrap_or_default()
        )));
    }
    if !found {
        return Err(unreadable(format!(
            "the document has no records at {at}: no key `{records}`"
        )));
    }
    if flat && normaliser.summary.rows > 0 {
        // The keys of flat records are their header: check it as CSV's is checked.
        let seen: Vec<String> = keys.into_iter().collect();
        source.bind(file, &seen)?;
    }
    normaliser.finish()
}

/// What the walk has read so far.
struct State<'h, 'a, F: FnMut(&str, RecordBatch) -> Result<()>> {
    normaliser: Normaliser<'a, F>,
    header: &'h [String],
    /// Top-level keys of the records, for the `json_array` header check.
    keys: BTreeSet<String>,
    /// The error that stopped the walk (a personal identifier, a writer that stopped).
    failed: Option<Error>,
    /// Whether the records array was reached.
    found: bool,
}

/// Walks the keys of `path` down to the records array.
struct Walk<'p, 's, 'h, 'a, F: FnMut(&str, RecordBatch) -> Result<()>> {
    path: &'p [&'p str],
    state: &'s RefCell<State<'h, 'a, F>>,
}

impl<'de, F: FnMut(&str, RecordBatch) -> Result<()>> DeserializeSeed<'de>
    for Walk<'_, '_, '_, '_, F>
{
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        if self.path.is_empty() {
            self.state.borrow_mut().found = true;
            d.deserialize_seq(self)
        } else {
            d.deserialize_map(self)
        }
    }
}

impl<'de, F: FnMut(&str, RecordBatch) -> Result<()>> Visitor<'de> for Walk<'_, '_, '_, '_, F> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.path.first() {
            Some(key) => write!(f, "an object with the key `{key}`"),
            None => f.write_str("an array of records"),
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            if key == self.path[0] {
                map.next_value_seed(Walk {
                    path: &self.path[1..],
                    state: self.state,
                })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut n = 0u64;
        while let Some(record) = seq.next_element::<Value>()? {
            n += 1;
            let mut state = self.state.borrow_mut();
            let state = &mut *state;
            if let Value::Object(o) = &record
                && state.keys.len() < 1024
            {
                state.keys.extend(o.keys().cloned());
            }
            let header = state.header;
            let read = match &record {
                Value::Object(_) => {
                    let field = |at: usize| lookup(&record, &header[at]);
                    state.normaliser.record(n, header.len(), field)
                }
                other => {
                    state.normaliser.reject(super::Reject {
                        sheet: None,
                        line: n,
                        column: None,
                        column_number: None,
                        raw_value: Some(other.to_string().chars().take(80).collect()),
                        reason: "expected a JSON object".into(),
                    });
                    Ok(())
                }
            };
            if let Err(e) = read {
                state.failed = Some(e);
                return Err(A::Error::custom("stopped"));
            }
        }
        Ok(())
    }
}

/// Skips a UTF-8 byte order mark at the start of a stream.
struct SkipBom<R> {
    inner: R,
    start: bool,
    pending: Vec<u8>,
}

impl<R: Read> SkipBom<R> {
    fn new(inner: R) -> Self {
        Self {
            inner,
            start: true,
            pending: Vec::new(),
        }
    }
}

impl<R: Read> Read for SkipBom<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.start {
            self.start = false;
            let mut head = [0u8; 3];
            let mut got = 0;
            while got < 3 {
                match self.inner.read(&mut head[got..])? {
                    0 => break,
                    k => got += k,
                }
            }
            if head[..got] != *b"\xEF\xBB\xBF" {
                self.pending.extend_from_slice(&head[..got]);
            }
        }
        if !self.pending.is_empty() {
            let k = self.pending.len().min(buf.len());
            buf[..k].copy_from_slice(&self.pending[..k]);
            self.pending.drain(..k);
            return Ok(k);
        }
        self.inner.read(buf)
    }
}
