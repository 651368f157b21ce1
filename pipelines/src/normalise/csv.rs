//! Delimited text exports: `;` or `,`, quoted or not, UTF-8 (with or without BOM) or
//! Windows-1252, CRLF or LF. Lines are numbered as a text editor shows them; the header is
//! line 1.

use std::borrow::Cow;
use std::io::Read;

use arrow::array::RecordBatch;
use tilannekuva_conventions::encoding::decoding_reader;

use super::{Normaliser, Ranges, Summary};
use crate::config::CsvFormat;
use crate::source::CompiledSource;
use crate::{Error, Result};

/// Normalises a delimited export read from `input`, laid out as `layout` says, calling
/// `emit` with each batch.
pub fn normalise(
    source: &CompiledSource,
    layout: &CsvFormat,
    file: &str,
    sha: &str,
    input: Box<dyn Read + Send>,
    emit: impl FnMut(&str, RecordBatch) -> Result<()>,
) -> Result<(Summary, Ranges)> {
    let unreadable = |line: Option<u64>, message: String| source.unreadable(file, line, message);
    let mut decoded =
        std::io::BufReader::with_capacity(1 << 16, decoding_reader(input, layout.encoding));
    // A title block above the header: its lines are read past, not parsed as CSV (they
    // rarely have the header's fields or balanced quotes), and counted as skipped below.
    let before = layout.skip_rows;
    let mut skipped_lines = 0u64;
    let mut scratch = Vec::new();
    while skipped_lines < before {
        scratch.clear();
        match std::io::BufRead::read_until(&mut decoded, b'\n', &mut scratch) {
            Ok(0) => break,
            Ok(_) => skipped_lines += 1,
            Err(e) => {
                return Err(unreadable(
                    Some(skipped_lines + 1),
                    format!("cannot read the text: {e}"),
                ));
            }
        }
    }
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(ascii(layout.delimiter, "delimiter").map_err(|m| unreadable(None, m))?)
        .quote(ascii(layout.quote, "quote").map_err(|m| unreadable(None, m))?)
        .has_headers(true)
        .flexible(true)
        // Records end at `\n` so that line numbers are exact for CRLF files too (with the
        // default terminator a record of a CRLF file is counted from the previous line);
        // the `\r` left at the end of the last field is stripped below.
        .terminator(csv::Terminator::Any(b'\n'))
        .from_reader(decoded);
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| unreadable(Some(before + 1), csv_message(&e)))?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').trim().to_string())
        .collect();
    let preamble = |summary: &mut Summary| {
        for line in 1..=skipped_lines {
            summary.skip(line, "before the header (`format.skip_rows`)");
        }
    };
    let workers = workers();
    if workers < 2 || source.rows.counts_in_file_order() {
        let mut normaliser = Normaliser::new(source, file, sha, &header, emit)?;
        preamble(&mut normaliser.summary);
        let mut record = csv::StringRecord::new();
        loop {
            match reader.read_record(&mut record) {
                Ok(false) => break,
                Ok(true) => {
                    if is_blank(&record) {
                        continue; // a blank line, such as a trailing one
                    }
                    let line = before + record.position().map_or(0, |p| p.line());
                    normaliser.record(line, record.len(), fields_of(&record))?;
                }
                Err(e) => {
                    let line = e.position().map(|p| before + p.line());
                    return Err(unreadable(line, csv_message(&e)));
                }
            }
        }
        return normaliser.finish();
    }
    // Checked once here, so that a drifted header is reported before any work is shared out.
    source.bind(file, &header)?;
    let (mut summary, ranges) = parallel(
        source,
        file,
        sha,
        (&header, before),
        reader,
        workers,
        emit,
        &unreadable,
    )?;
    let mut counted = Summary::default();
    preamble(&mut counted);
    counted.extend(summary);
    summary = counted;
    Ok((summary, ranges))
}

/// Threads normalising chunks of one export: every core but one (which writes Parquet),
/// at least two, at most four.
fn workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().clamp(2, 4))
}

fn is_blank(record: &csv::StringRecord) -> bool {
    record.len() == 1 && record.get(0).is_some_and(|f| f.trim().is_empty())
}

/// The fields of a record as the normaliser reads them; the `\r` a CRLF file leaves at the
/// end of the last field is stripped.
fn fields_of<'r>(record: &'r csv::StringRecord) -> impl Fn(usize) -> Option<Cow<'r, str>> + 'r {
    let last = record.len().saturating_sub(1);
    move |i: usize| {
        record.get(i).map(|f| {
            Cow::Borrowed(if i == last {
                f.strip_suffix('\r').unwrap_or(f)
            } else {
                f
            })
        })
    }
}

/// Records per chunk handed to a worker.
const CHUNK_RECORDS: usize = 8 * 1024;

/// A chunk of records and its place in the file.
type Chunk = (usize, Vec<csv::StringRecord>);

/// What a worker made of one chunk.
struct ChunkOut {
    batches: Vec<(String, RecordBatch)>,
    summary: Summary,
    ranges: Ranges,
}

/// Normalises an export on several threads. This thread reads records into chunks; the
/// workers normalise chunks independently; a collector hands their batches, rejects and time
/// ranges on strictly in file order, so the result is the same as reading on one thread:
/// the same rows in the same order, rejects in line order, the first error by line.
/// Chunks in flight are limited, so memory stays bounded whatever the file size.
#[allow(clippy::too_many_arguments)]
fn parallel<R: Read + Send>(
    source: &CompiledSource,
    file: &str,
    sha: &str,
    (header, before): (&[String], u64),
    mut reader: csv::Reader<R>,
    workers: usize,
    mut emit: impl FnMut(&str, RecordBatch) -> Result<()>,
    unreadable: &(dyn Fn(Option<u64>, String) -> Error + Sync),
) -> Result<(Summary, Ranges)> {
    use std::sync::mpsc::{Receiver, sync_channel};
    use std::sync::{Arc, Mutex};

    let in_flight = 2 * workers + 1;
    let (chunk_tx, chunk_rx) = sync_channel::<Chunk>(workers);
    let chunk_rx: Arc<Mutex<Receiver<Chunk>>> = Arc::new(Mutex::new(chunk_rx));
    let (done_tx, done_rx) = sync_channel::<(usize, Result<ChunkOut>)>(in_flight);
    let (slot_tx, slot_rx) = sync_channel::<()>(in_flight);
    let (spare_tx, spare_rx) = sync_channel::<Vec<csv::StringRecord>>(in_flight);
    for _ in 0..in_flight {
        slot_tx.send(()).expect("capacity");
    }

    std::thread::scope(|scope| {
        // Workers.
        for _ in 0..workers {
            let chunk_rx = Arc::clone(&chunk_rx);
            let done_tx = done_tx.clone();
            let spare_tx = spare_tx.clone();
            scope.spawn(move || {
                loop {
                    let next = chunk_rx.lock().map(|rx| rx.recv());
                    let Ok(Ok((index, records))) = next else {
                        return;
                    };
                    let out = normalise_chunk(source, file, sha, (header, before), &records);
                    let _ = spare_tx.try_send(records); // for the reader to fill again
                    if done_tx.send((index, out)).is_err() {
                        return;
                    }
                }
            });
        }
        drop(done_tx);
        drop(spare_tx);
        // Reader: fills chunks the workers gave back, so that records keep their buffers
        // from one chunk to the next instead of allocating them anew for every line.
        let reading = scope.spawn(move || -> Result<usize> {
            let mut index = 0;
            let mut chunk = Vec::new();
            let mut filled = 0;
            let send = |chunk: Vec<csv::StringRecord>, index: usize| {
                slot_rx.recv().is_ok() && chunk_tx.send((index, chunk)).is_ok()
            };
            loop {
                if filled == chunk.len() {
                    chunk.push(csv::StringRecord::new());
                }
                let record = &mut chunk[filled];
                match reader.read_record(record) {
                    Ok(false) => break,
                    Ok(true) if is_blank(record) => continue,
                    Ok(true) => filled += 1,
                    Err(e) => {
                        let line = e.position().map(|p| before + p.line());
                        return Err(unreadable(line, csv_message(&e)));
                    }
                }
                if filled == CHUNK_RECORDS {
                    let spare = spare_rx.try_recv().unwrap_or_default();
                    if !send(std::mem::replace(&mut chunk, spare), index) {
                        return Ok(index); // the collector stopped
                    }
                    index += 1;
                    filled = 0;
                }
            }
            if filled > 0 {
                chunk.truncate(filled);
                if !send(chunk, index) {
                    return Ok(index);
                }
                index += 1;
            }
            Ok(index)
        });
        // Collector: in file order.
        let mut summary = Summary::default();
        let mut ranges = Ranges::new();
        let mut pending = std::collections::BTreeMap::new();
        let mut next = 0;
        let mut failure = None;
        for (index, out) in done_rx.iter() {
            pending.insert(index, out);
            while let Some(out) = pending.remove(&next) {
                next += 1;
                let step = out.and_then(|c| {
                    summary.extend(c.summary);
                    for (period, (lo, hi)) in c.ranges {
                        let r = ranges.entry(period).or_insert((None, None));
                        r.0 = r.0.into_iter().chain(lo).min();
                        r.1 = r.1.into_iter().chain(hi).max();
                    }
                    c.batches
                        .into_iter()
                        .try_for_each(|(period, batch)| emit(&period, batch))
                });
                if let Err(e) = step {
                    failure = Some(e);
                    break;
                }
                let _ = slot_tx.send(());
            }
            if failure.is_some() {
                break;
            }
        }
        // Stops the reader and the workers if the collector stopped early.
        drop(slot_tx);
        drop(done_rx);
        let read = reading
            .join()
            .unwrap_or_else(|_| Err(unreadable(None, "the reader thread panicked".into())));
        if let Some(e) = failure {
            return Err(e);
        }
        let chunks = read?;
        if next != chunks {
            return Err(unreadable(None, "a normalising thread stopped".into()));
        }
        Ok((summary, ranges))
    })
}

/// Normalises one chunk of records into batches per period.
fn normalise_chunk(
    source: &CompiledSource,
    file: &str,
    sha: &str,
    (header, before): (&[String], u64),
    records: &[csv::StringRecord],
) -> Result<ChunkOut> {
    let mut batches = Vec::new();
    let mut normaliser = Normaliser::new(source, file, sha, header, |period: &str, batch| {
        batches.push((period.to_string(), batch));
        Ok(())
    })?;
    for record in records {
        let line = before + record.position().map_or(0, |p| p.line());
        normaliser.record(line, record.len(), fields_of(record))?;
    }
    let (summary, ranges) = normaliser.finish()?;
    Ok(ChunkOut {
        batches,
        summary,
        ranges,
    })
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
