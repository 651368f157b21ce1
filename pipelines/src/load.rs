//! Loading: fetch → land → normalise → commit, for one export at a time.
//!
//! The order of steps is what keeps loads safe:
//! 1. the export's sha256 is checked against the ledger: content already loaded, under any
//!    name, loads zero rows;
//! 2. the bytes are landed untouched in the raw area;
//! 3. the landed copy is normalised on a blocking thread while an async task streams the
//!    batches into one Parquet file per period;
//! 4. only when every row is read, the reject share is within the source's limit and no
//!    personal data was found, one manifest commit adds the files, the quarantined rows and
//!    the ledger entry together (and, for `replace` sources, retires the rows the export
//!    corrects). A failure before that commit leaves the warehouse as it was.

use std::collections::{BTreeMap, HashMap};
use std::io::IsTerminal;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, Int64Builder, RecordBatch, StringBuilder, TimestampMicrosecondBuilder,
};
use chrono::Utc;
use indicatif::{ProgressBar, ProgressStyle};
use tilannekuva_warehouse::{
    DataFile, LoadRecord, LoadStatus, ParquetSink, QUARANTINE_TABLE, Warehouse, quarantine_schema,
    write_parquet,
};

use crate::config::Redelivery;
use crate::fetch::Delivery;
use crate::normalise::{self, Ranges, Reject, Summary};
use crate::source::CompiledSource;
use crate::{Error, Result, land};

/// What happened to one delivery.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Rows were committed.
    Loaded {
        /// Id of the load in the ledger.
        load_id: String,
        /// Rows written to the curated table.
        rows: u64,
        /// Rows quarantined.
        rejects: u64,
        /// Rows skipped as not data (`format.skip_rows`, `format.skip_when`).
        skipped: u64,
        /// Periods the rows fell in.
        periods: Vec<String>,
        /// Earlier loads whose rows this one replaced.
        replaced: Vec<String>,
    },
    /// The same content was loaded before; nothing was done.
    AlreadyLoaded {
        /// The earlier load.
        load_id: String,
    },
}

/// One delivery's report.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadReport {
    /// Source name.
    pub source: String,
    /// File name as delivered.
    pub file: String,
    /// sha256 of the content.
    pub sha256: String,
    /// What happened.
    pub outcome: Outcome,
}

/// Loads one delivery of a compiled source.
pub async fn load_delivery(
    wh: &Warehouse,
    compiled: &CompiledSource,
    d: Delivery,
) -> Result<LoadReport> {
    load_page(wh, compiled, d, None).await
}

/// Loads one delivery and, in the same manifest commit as its rows, advances the source's
/// cursor to `cursor` (a page of a paginated API): a crash leaves both as they were or
/// both moved, never the rows without the cursor (which would load the page again) nor
/// the cursor without the rows (a gap).
pub async fn load_page(
    wh: &Warehouse,
    compiled: &CompiledSource,
    d: Delivery,
    cursor: Option<&serde_json::Value>,
) -> Result<LoadReport> {
    load_with(wh, compiled, d, cursor, None).await
}

/// Loads one delivery whose rows replace, in the same commit, every row the source has in
/// `months` (`YYYY-MM`), whatever its `on_redelivery`: a backfill's re-fetch of exactly
/// those months, where a month with no rows in the delivery is left empty.
pub async fn load_replacing(
    wh: &Warehouse,
    compiled: &CompiledSource,
    d: Delivery,
    months: &[String],
) -> Result<LoadReport> {
    load_with(wh, compiled, d, None, Some(months)).await
}

async fn load_with(
    wh: &Warehouse,
    compiled: &CompiledSource,
    d: Delivery,
    cursor: Option<&serde_json::Value>,
    replace_months: Option<&[String]>,
) -> Result<LoadReport> {
    let source = compiled.config.name.clone();
    let (sha, size) = land::fingerprint(&d).await?;
    let report = |outcome| LoadReport {
        source: source.clone(),
        file: d.name.clone(),
        sha256: sha.clone(),
        outcome,
    };
    if let Some(prev) = wh.manifest().await?.load_by_content(&source, &sha) {
        tracing::info!(source = %source, file = %d.name, load = %prev.load_id, "already loaded; skipping");
        return Ok(report(Outcome::AlreadyLoaded {
            load_id: prev.load_id.clone(),
        }));
    }
    let raw_path = land::land(wh, &source, &d, &sha).await?;
    let load_id = format!("{}-{}", Utc::now().format("%Y%m%dT%H%M%S%6f"), &sha[..12]);

    let (files, summary) =
        match write_curated(wh, compiled, &d.name, &sha, &raw_path, &load_id, size).await {
            Ok(ok) => ok,
            Err((e, written)) => {
                discard(wh, &written).await;
                return Err(e);
            }
        };
    let written: Vec<String> = files.iter().map(|f| f.path.clone()).collect();
    let rejects = summary.rejects.len() as u64;
    let max = compiled.config.load.max_reject_share;
    if summary.rows > 0 && rejects as f64 / summary.rows as f64 > max {
        discard(wh, &written).await;
        let examples: Vec<String> = summary
            .rejects
            .iter()
            .take(5)
            .map(Reject::to_string)
            .collect();
        return Err(Error::TooManyRejects(Box::new(
            crate::error::TooManyRejects {
                source_name: source,
                file: d.name.clone(),
                rejects,
                rows: summary.rows,
                share: 100.0 * rejects as f64 / summary.rows as f64,
                max: 100.0 * max,
                examples: examples.join("\n  "),
            },
        )));
    }
    let mut quarantine_file = None;
    if rejects > 0 {
        let path = format!("quarantine/{source}/{load_id}.parquet");
        let batch = quarantine_batch(&source, &d.name, &sha, &load_id, &summary.rejects);
        match write_parquet(wh, &path, quarantine_schema(), &[batch]).await {
            Ok((rows, bytes)) => {
                quarantine_file = Some(DataFile {
                    path,
                    source: source.clone(),
                    load_id: load_id.clone(),
                    period: String::new(),
                    rows,
                    bytes,
                    min_time: None,
                    max_time: None,
                })
            }
            Err(e) => {
                discard(wh, &written).await;
                return Err(e.into());
            }
        }
    }
    let mut periods: Vec<String> = files.iter().map(|f| f.period.clone()).collect();
    periods.dedup(); // a period written in several parts has several files
    let record = LoadRecord {
        load_id: load_id.clone(),
        source: source.clone(),
        sha256: sha.clone(),
        original_name: d.name.clone(),
        raw_path,
        bytes: size,
        fetched_at: d.fetched_at,
        loaded_at: Utc::now(),
        rows: summary.accepted,
        rejects,
        skipped: summary.skipped,
        periods: periods.clone(),
        policy: match (replace_months, compiled.config.load.on_redelivery) {
            (Some(_), _) => "backfill".into(),
            (None, Redelivery::Replace) => "replace".into(),
            (None, Redelivery::Append) => "append".into(),
        },
        replaced: Vec::new(),
        status: LoadStatus::Loaded,
        raw_removed_at: None,
        covers: compiled.covered(&d),
    };
    let table = compiled.table.name.clone();
    let mut replaced = Vec::new();
    let committed = wh
        .commit(&format!("load {source} {}", d.name), |m| {
            if let Some(prev) = m.load_by_content(&source, &sha) {
                return Err(tilannekuva_warehouse::Error::Rejected(format!(
                    "already loaded as {}",
                    prev.load_id
                )));
            }
            let mut rec = record.clone();
            if let Some(months) = replace_months {
                rec.replaced = m.remove_periods(&source, months);
            } else if compiled.config.load.on_redelivery == Redelivery::Replace {
                rec.replaced = m.remove_periods(&source, &periods);
            }
            replaced = rec.replaced.clone();
            m.tables
                .entry(table.clone())
                .or_default()
                .files
                .extend(files.iter().cloned());
            if let Some(q) = &quarantine_file {
                m.tables
                    .entry(QUARANTINE_TABLE.to_string())
                    .or_default()
                    .files
                    .push(q.clone());
            }
            m.loads.push(rec);
            if let Some(c) = cursor {
                m.cursors.insert(source.clone(), c.clone());
            }
            Ok(())
        })
        .await;
    match committed {
        Ok(_) => {
            tracing::info!(source = %source, file = %d.name, rows = summary.accepted, rejects, skipped = summary.skipped, periods = periods.len(), "loaded");
            for example in &summary.skipped_examples {
                tracing::info!(source = %source, file = %d.name, "{example}");
            }
            Ok(report(Outcome::Loaded {
                load_id,
                rows: summary.accepted,
                rejects,
                skipped: summary.skipped,
                periods,
                replaced,
            }))
        }
        Err(tilannekuva_warehouse::Error::Rejected(_)) => {
            // Another process loaded the same content while we worked.
            let mut all = written;
            all.extend(quarantine_file.map(|q| q.path));
            discard(wh, &all).await;
            let prev = wh
                .manifest()
                .await?
                .load_by_content(&source, &sha)
                .map(|l| l.load_id.clone())
                .unwrap_or_default();
            Ok(report(Outcome::AlreadyLoaded { load_id: prev }))
        }
        Err(e) => {
            discard(wh, &written).await;
            Err(e.into())
        }
    }
}

/// A finished Parquet file of one period.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct PeriodFile {
    /// The reporting period, `YYYY-MM`.
    period: String,
    /// Where it was written.
    path: String,
    /// Rows in it.
    rows: u64,
    /// Its size.
    bytes: u64,
}

/// Writes a load's batches into one Parquet file per period.
///
/// Files are kept open by period, with the order they were last written to. At most
/// [`MAX_OPEN_FILES`] are open: a load spanning many months finishes the least recently
/// written file to open another, and a period met again later gets a further part file.
/// Memory therefore depends on neither the export's size nor how many months it spans.
struct PeriodWriter<'a> {
    wh: &'a Warehouse,
    table: &'a str,
    schema: arrow::datatypes::SchemaRef,
    load_id: &'a str,
    /// Open files by period, with the tick of their last write.
    open: HashMap<String, (ParquetSink, u64)>,
    /// Part files begun per period.
    parts: HashMap<String, u32>,
    /// Files finished so far.
    finished: Vec<PeriodFile>,
    tick: u64,
}

impl<'a> PeriodWriter<'a> {
    fn new(wh: &'a Warehouse, compiled: &'a CompiledSource, load_id: &'a str) -> Self {
        Self {
            wh,
            table: &compiled.table.name,
            schema: compiled.rows.schema.clone(),
            load_id,
            open: HashMap::new(),
            parts: HashMap::new(),
            finished: Vec::new(),
            tick: 0,
        }
    }

    /// Appends a batch to its period's file, opening one (and finishing the least recently
    /// written, when too many are open) as needed.
    async fn write(&mut self, period: String, batch: &RecordBatch) -> Result<()> {
        self.tick += 1;
        if !self.open.contains_key(&period) {
            if self.open.len() >= MAX_OPEN_FILES
                && let Some(oldest) = self
                    .open
                    .iter()
                    .min_by_key(|(_, (_, used))| *used)
                    .map(|(p, _)| p.clone())
            {
                self.finish_period(oldest).await?;
            }
            let part = self.parts.entry(period.clone()).or_insert(0);
            *part += 1;
            let name = match *part {
                1 => self.load_id.to_string(),
                n => format!("{}-{n}", self.load_id),
            };
            let path = format!("curated/{}/period={period}/{name}.parquet", self.table);
            let sink = ParquetSink::create(self.wh, &path, self.schema.clone())?;
            self.open.insert(period.clone(), (sink, self.tick));
        }
        if let Some((sink, used)) = self.open.get_mut(&period) {
            *used = self.tick;
            sink.write(batch).await?;
        }
        Ok(())
    }

    async fn finish_period(&mut self, period: String) -> Result<()> {
        if let Some((sink, _)) = self.open.remove(&period) {
            let (path, rows, bytes) = sink.finish(self.wh).await?;
            self.finished.push(PeriodFile {
                period,
                path,
                rows,
                bytes,
            });
        }
        Ok(())
    }

    /// Finishes every open file; the files in period order. On failure, the error and the
    /// paths of the files finished, for the caller to discard.
    async fn finish(mut self) -> std::result::Result<Vec<PeriodFile>, (Error, Vec<String>)> {
        let mut open: Vec<String> = self.open.keys().cloned().collect();
        open.sort();
        for period in open {
            if let Err(e) = self.finish_period(period).await {
                return Err((e, self.abort().await));
            }
        }
        self.finished.sort();
        Ok(self.finished)
    }

    /// Drops the open files; returns the paths of the files already finished.
    async fn abort(self) -> Vec<String> {
        for (sink, _) in self.open.into_values() {
            sink.abort().await;
        }
        self.finished.into_iter().map(|f| f.path).collect()
    }
}

/// Normalises the landed export into per-period Parquet files. On failure, returns the
/// error together with the files already finished, for the caller to discard.
async fn write_curated(
    wh: &Warehouse,
    compiled: &CompiledSource,
    file: &str,
    sha: &str,
    raw_path: &str,
    load_id: &str,
    size: u64,
) -> std::result::Result<(Vec<DataFile>, Summary), (Error, Vec<String>)> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<(String, RecordBatch)>(4);
    let name = compiled.config.name.clone();
    let progress = progress_bar(&name, file, size);
    let reader_source = compiled.clone();
    let (file_s, sha_s) = (file.to_string(), sha.to_string());
    let input = land::open_landed(wh, raw_path)
        .await
        .map_err(|e| (e, vec![]))?;
    let pb = progress.clone();
    let worker = tokio::task::spawn_blocking(move || -> Result<(Summary, Ranges)> {
        let emit = |period: &str, batch: RecordBatch| {
            tx.blocking_send((period.to_string(), batch))
                .map_err(|_| Error::Unreadable {
                    source_name: reader_source.config.name.clone(),
                    file: file_s.clone(),
                    line: None,
                    message: "the writer stopped".into(),
                })
        };
        normalise::normalise(
            &reader_source,
            &file_s,
            &sha_s,
            Box::new(pb.wrap_read(input)),
            emit,
        )
    });

    let mut writer = PeriodWriter::new(wh, compiled, load_id);
    let mut write_error = None;
    while let Some((period, batch)) = rx.recv().await {
        if write_error.is_some() {
            continue; // drain so the worker can finish
        }
        if let Err(e) = writer.write(period, &batch).await {
            write_error = Some(e);
        }
    }
    progress.finish_and_clear();
    let worked = worker.await.unwrap_or_else(|e| {
        Err(Error::Unreadable {
            source_name: name.clone(),
            file: file.into(),
            line: None,
            message: format!("normaliser panicked: {e}"),
        })
    });
    let (summary, ranges) = match (worked, write_error) {
        (Err(e), _) | (Ok(_), Some(e)) => return Err((e, writer.abort().await)),
        (Ok(ok), None) => ok,
    };
    let files = writer
        .finish()
        .await?
        .into_iter()
        .map(|f| {
            let (min_time, max_time) = ranges.get(&f.period).copied().unwrap_or((None, None));
            DataFile {
                path: f.path,
                source: name.clone(),
                load_id: load_id.to_string(),
                period: f.period,
                rows: f.rows,
                bytes: f.bytes,
                min_time,
                max_time,
            }
        })
        .collect();
    Ok((files, summary))
}

/// Parquet files a load keeps open at once (one per period being written).
pub const MAX_OPEN_FILES: usize = 8;

async fn discard(wh: &Warehouse, paths: &[String]) {
    for p in paths {
        if let Err(e) = wh.delete(p).await {
            tracing::warn!(path = %p, error = %e, "could not remove an uncommitted file; `tilannekuva gc` removes it later");
        }
    }
}

fn progress_bar(source: &str, file: &str, size: u64) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(size);
    pb.set_style(
        ProgressStyle::with_template("{msg:40!} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}")
            .expect("static template")
            .progress_chars("=> "),
    );
    pb.set_message(format!("{source}: {file}"));
    pb
}

fn quarantine_batch(
    source: &str,
    file: &str,
    sha: &str,
    load_id: &str,
    rejects: &[Reject],
) -> RecordBatch {
    let n = rejects.len();
    let mut src = StringBuilder::new();
    let mut name = StringBuilder::new();
    let mut hash = StringBuilder::new();
    let mut line = Int64Builder::with_capacity(n);
    let mut column = StringBuilder::new();
    let mut column_number = Int64Builder::with_capacity(n);
    let mut raw = StringBuilder::new();
    let mut reason = StringBuilder::new();
    let mut load = StringBuilder::new();
    let mut at = TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC");
    let mut sheet = StringBuilder::new();
    let now = Utc::now().timestamp_micros();
    for r in rejects {
        src.append_value(source);
        name.append_value(file);
        hash.append_value(sha);
        line.append_value(r.line as i64);
        column.append_option(r.column.as_deref());
        column_number.append_option(r.column_number.map(|c| c as i64));
        raw.append_option(r.raw_value.as_deref().map(redact));
        reason.append_value(&r.reason);
        load.append_value(load_id);
        at.append_value(now);
        sheet.append_option(r.sheet.as_deref());
    }
    let arrays: Vec<ArrayRef> = vec![
        Arc::new(src.finish()),
        Arc::new(name.finish()),
        Arc::new(hash.finish()),
        Arc::new(line.finish()),
        Arc::new(column.finish()),
        Arc::new(column_number.finish()),
        Arc::new(raw.finish()),
        Arc::new(reason.finish()),
        Arc::new(load.finish()),
        Arc::new(at.finish()),
        Arc::new(sheet.finish()),
    ];
    RecordBatch::try_new(quarantine_schema(), arrays).expect("quarantine schema")
}

/// Raw values are kept in quarantine so people can fix them, but never a personal
/// identifier (henkilötunnus, phone number, e-mail address).
fn redact(raw: &str) -> String {
    tilannekuva_conventions::hetu::redact_personal(raw)
}

/// Sources grouped by the table they fill.
pub fn sources_by_table(sources: &[CompiledSource]) -> BTreeMap<String, Vec<String>> {
    let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for s in sources {
        m.entry(s.table.name.clone())
            .or_default()
            .push(s.config.name.clone());
    }
    m
}
