//! Normalising: from an export's text fields to rows of a canonical table.
//!
//! A source config is first compiled into a [`Plan`] against its table: every mapping,
//! value map and lookup is checked and converted to typed values once. The plan is then
//! bound to an export's header (schema drift is caught here) and applied row by row. A row
//! either becomes typed values in the period's buffer, or a [`Reject`] naming line, column,
//! raw value and reason; never half of each. Buffers are emitted as Arrow batches of at most
//! [`BATCH_ROWS`] rows, so memory stays bounded however large the export.
//!
//! One file per export format reads records: [`csv`] and [`json`].

pub mod csv;
pub mod json;
mod value;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanBuilder, Date32Builder, Float64Builder, Int64Builder, RecordBatch,
    StringBuilder, TimestampMicrosecondBuilder,
};
use arrow::datatypes::SchemaRef;
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tilannekuva_conventions::boolean::{BoolVocabulary, is_missing, parse_bool};
use tilannekuva_conventions::datetime::{
    HELSINKI, LocalTimePolicy, TimeFormat, epoch_days, parse_time, to_local_date, to_utc,
};
use tilannekuva_conventions::hetu::find_hetu;
use tilannekuva_conventions::number::{NumberFormat, parse_f64, parse_i64};
use tilannekuva_warehouse::catalog::{ColumnType, TableDef};

use crate::config::{Lookup, SourceConfig};
use crate::{Error, Result};
pub use value::Value;

/// Period → (earliest, latest) instant of its rows.
pub type Ranges = BTreeMap<String, (Option<DateTime<Utc>>, Option<DateTime<Utc>>)>;

/// Rows per emitted batch.
pub const BATCH_ROWS: usize = 32 * 1024;

/// A row-level rule between two columns, such as `accepted_at >= requested_at`.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    /// Left column.
    pub left: String,
    /// Operator: `>=`, `<=`, `>`, `<`, `=` or `!=`.
    pub op: String,
    /// Right column.
    pub right: String,
}

impl Check {
    /// Parses `left op right`.
    pub fn parse(s: &str) -> std::result::Result<Self, String> {
        let parts: Vec<&str> = s.split_whitespace().collect();
        match parts.as_slice() {
            [l, op, r] if [">=", "<=", ">", "<", "=", "!="].contains(op) => Ok(Self {
                left: l.to_string(),
                op: op.to_string(),
                right: r.to_string(),
            }),
            _ => Err(format!(
                "`{s}` is not `column op column` with op one of >=, <=, >, <, =, !="
            )),
        }
    }

    fn holds(&self, a: &Value, b: &Value) -> bool {
        let Some(ord) = a.partial_cmp_same(b) else {
            return true;
        };
        use std::cmp::Ordering::*;
        match self.op.as_str() {
            ">=" => ord != Less,
            "<=" => ord != Greater,
            ">" => ord == Greater,
            "<" => ord == Less,
            "=" => ord == Equal,
            _ => ord != Equal,
        }
    }
}

/// A rejected row: where it was, which value, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Reject {
    /// Line of the export (record number for JSON).
    pub line: u64,
    /// Source column, or the canonical column for a rule across columns.
    pub column: Option<String>,
    /// Position of the source column in the export, 1-based.
    pub column_number: Option<usize>,
    /// The raw value.
    pub raw_value: Option<String>,
    /// What was expected.
    pub reason: String,
}

impl std::fmt::Display for Reject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}", self.line)?;
        match (&self.column, self.column_number) {
            (Some(c), Some(n)) => write!(f, ", column {n} `{c}`")?,
            (Some(c), None) => write!(f, ", column `{c}`")?,
            _ => {}
        }
        if let Some(v) = &self.raw_value {
            write!(f, ", value {v:?}")?;
        }
        write!(f, ": {}", self.reason)
    }
}

#[derive(Debug, Clone)]
struct Column {
    name: String,
    kind: ColumnType,
    nullable: bool,
    from: Option<String>,
    constant: Option<Value>,
    time_format: Option<TimeFormat>,
    map: Option<BTreeMap<String, Value>>,
    default: Option<Value>,
    lookup: Option<(String, BTreeMap<String, Value>)>,
    contains: Option<String>,
    separator: String,
    scale: Option<f64>,
    min: Option<f64>,
    max: Option<f64>,
    hash: bool,
}

#[derive(Debug, Clone)]
struct CompiledCheck {
    check: Check,
    left: usize,
    right: usize,
}

/// A source compiled against its canonical table.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The source.
    pub source: SourceConfig,
    /// The table it fills.
    pub table: TableDef,
    /// The table's stored schema.
    pub schema: SchemaRef,
    columns: Vec<Column>,
    checks: Vec<CompiledCheck>,
    period_idx: usize,
    policy: LocalTimePolicy,
    numbers: NumberFormat,
    missing: Vec<String>,
    booleans: BoolVocabulary,
    key: Option<Vec<u8>>,
}

impl Plan {
    /// Compiles a source. `key` is the pseudonymisation key, needed by sources with
    /// `hash = true` columns.
    pub fn compile(
        source: &SourceConfig,
        tables: &BTreeMap<String, TableDef>,
        lookups: &BTreeMap<String, Lookup>,
        key: Option<&[u8]>,
    ) -> Result<Self> {
        crate::config::validate(std::slice::from_ref(source), tables, lookups)
            .map_err(Error::Config)?;
        let table = tables[&source.table].clone();
        let file = source.file.display().to_string();
        let mut problems = Vec::new();
        let mut columns = Vec::new();
        for def in &table.columns {
            let m = source.columns.get(&def.name).cloned().unwrap_or_default();
            let key_name = format!("columns.{}", def.name);
            let mut typed = |v: &toml::Value, what: &str| match Value::from_toml(v, def.kind) {
                Ok(v) => Some(v),
                Err(e) => {
                    problems.push(format!("{file}: `{key_name}.{what}`: {e}"));
                    None
                }
            };
            let constant = m.value.as_ref().and_then(|v| typed(v, "value"));
            let default = m.default.as_ref().and_then(|v| typed(v, "default"));
            let map = m.map.as_ref().map(|mm| {
                mm.iter()
                    .filter_map(|(k, v)| typed(v, &format!("map.{k}")).map(|t| (k.clone(), t)))
                    .collect()
            });
            let lookup = m.lookup.as_ref().map(|l| {
                let (lk, field) = l.split_once('.').unwrap_or((l, ""));
                let lu = &lookups[lk];
                let values = lu
                    .rows
                    .iter()
                    .filter_map(|r| {
                        let k = r.get(&lu.key)?.as_str()?.to_string();
                        let v = typed(r.get(field)?, &format!("lookup {lk}.{field}"))?;
                        Some((k, v))
                    })
                    .collect();
                (lk.to_string(), values)
            });
            let time_format = m.format.as_ref().and_then(|f| f.parse::<TimeFormat>().ok());
            columns.push(Column {
                name: def.name.clone(),
                kind: def.kind,
                nullable: def.nullable,
                from: m.from.clone(),
                constant,
                time_format,
                map,
                default,
                lookup,
                contains: m.contains.clone(),
                separator: m.separator.clone(),
                scale: m.scale,
                min: m.min,
                max: m.max,
                hash: m.hash,
            });
        }
        if columns.iter().any(|c| c.hash) && key.is_none() {
            return Err(Error::MissingKey(format!(
                "{file}: source `{}` pseudonymises columns but no pseudonymisation key is set (see `pseudonymisation` in the main config)",
                source.name
            )));
        }
        if !problems.is_empty() {
            return Err(Error::Config(problems));
        }
        let idx = |name: &str| {
            columns
                .iter()
                .position(|c| c.name == name)
                .expect("validated column")
        };
        let checks = source
            .checks
            .iter()
            .map(|c| {
                let check = Check::parse(c).expect("validated check");
                CompiledCheck {
                    left: idx(&check.left),
                    right: idx(&check.right),
                    check,
                }
            })
            .collect();
        let period_idx = idx(&table.period_column);
        let policy = source
            .time
            .policy()
            .map_err(|e| Error::Config(vec![format!("{file}: {e}")]))?;
        Ok(Self {
            schema: table.arrow_schema(),
            source: source.clone(),
            columns,
            checks,
            period_idx,
            policy,
            numbers: source.format.numbers(),
            missing: source.format.missing().to_vec(),
            booleans: source.format.booleans(),
            key: key.map(<[u8]>::to_vec),
            table,
        })
    }

    /// Binds the plan to an export's header: the position of every source column it reads.
    pub fn bind(&self, file: &str, header: &[String]) -> Result<Vec<Option<usize>>> {
        let pos = |name: &str| header.iter().position(|h| h.trim() == name);
        let mut missing = Vec::new();
        let mut bound = Vec::new();
        for c in &self.columns {
            match &c.from {
                Some(from) => match pos(from) {
                    Some(i) => bound.push(Some(i)),
                    None => {
                        missing.push(from.clone());
                        bound.push(None);
                    }
                },
                None => bound.push(None),
            }
        }
        let known: Vec<&str> = self
            .columns
            .iter()
            .filter_map(|c| c.from.as_deref())
            .chain(self.source.drop.iter().map(String::as_str))
            .chain(self.source.ignore.iter().map(String::as_str))
            .collect();
        let unexpected: Vec<String> = header
            .iter()
            .map(|h| h.trim().to_string())
            .filter(|h| !known.contains(&h.as_str()))
            .collect();
        if !missing.is_empty() || !unexpected.is_empty() {
            return Err(Error::SchemaDrift(Box::new(crate::error::SchemaDrift {
                source_name: self.source.name.clone(),
                file: file.to_string(),
                config: self.source.file.display().to_string(),
                missing,
                unexpected,
                found: header.iter().map(|h| h.trim().to_string()).collect(),
            })));
        }
        Ok(bound)
    }

    fn read_value(&self, c: &Column, raw: &str) -> std::result::Result<Value, String> {
        let text = raw.trim();
        if let Some(map) = &c.map {
            return match map.get(text).or(c.default.as_ref()) {
                Some(v) => Ok(v.clone()),
                None => {
                    let allowed: Vec<&str> = map.keys().map(String::as_str).collect();
                    Err(format!(
                        "an unknown code; known codes are {}",
                        allowed.join(", ")
                    ))
                }
            };
        }
        if let Some((name, values)) = &c.lookup {
            return match values.get(text).or(c.default.as_ref()) {
                Some(v) => Ok(v.clone()),
                None => Err(format!(
                    "an unknown code: not in lookup `{name}` (config/lookups/{name}.toml)"
                )),
            };
        }
        if let Some(item) = &c.contains {
            return Ok(Value::Bool(
                text.split(c.separator.as_str()).any(|t| t.trim() == item),
            ));
        }
        match c.kind {
            ColumnType::String => {
                if c.hash {
                    Ok(Value::Str(self.pseudonym(text)))
                } else {
                    Ok(Value::Str(text.to_string()))
                }
            }
            ColumnType::Bool => parse_bool(text, &self.booleans)
                .map(Value::Bool)
                .map_err(|e| e.to_string()),
            ColumnType::Int64 => {
                let mut v = parse_i64(text, &self.numbers).map_err(|e| e.to_string())? as f64;
                if let Some(s) = c.scale {
                    v *= s;
                }
                self.bounds(c, v)?;
                Ok(Value::Int(v.round() as i64))
            }
            ColumnType::Float64 => {
                let mut v = parse_f64(text, &self.numbers).map_err(|e| e.to_string())?;
                if let Some(s) = c.scale {
                    v *= s;
                }
                self.bounds(c, v)?;
                Ok(Value::Float(v))
            }
            ColumnType::Timestamp => {
                let fmt = c.time_format.as_ref().expect("validated format");
                let parsed = parse_time(text, fmt).map_err(|e| e.to_string())?;
                let utc = to_utc(parsed, &self.policy).map_err(|e| e.to_string())?;
                Ok(Value::Timestamp(utc.timestamp_micros()))
            }
            ColumnType::Date => {
                let fmt = c.time_format.as_ref().expect("validated format");
                let parsed = parse_time(text, fmt).map_err(|e| e.to_string())?;
                Ok(Value::Date(to_local_date(parsed, self.policy.tz)))
            }
        }
    }

    fn bounds(&self, c: &Column, v: f64) -> std::result::Result<(), String> {
        if let Some(min) = c.min
            && v < min
        {
            return Err(format!("a value of at least {min}"));
        }
        if let Some(max) = c.max
            && v > max
        {
            return Err(format!("a value of at most {max}"));
        }
        Ok(())
    }

    fn pseudonym(&self, text: &str) -> String {
        let key = self.key.as_deref().unwrap_or_default();
        let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("hmac takes any key length");
        mac.update(text.to_uppercase().as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// Reads one record into typed values, or says why it cannot be read.
    pub fn row<'r>(
        &self,
        line: u64,
        bound: &[Option<usize>],
        field: impl Fn(usize) -> Option<Cow<'r, str>>,
        fields: usize,
        expected_fields: usize,
    ) -> std::result::Result<Vec<Value>, Reject> {
        if fields != expected_fields {
            return Err(Reject {
                line,
                column: None,
                column_number: None,
                raw_value: None,
                reason: format!(
                    "expected {expected_fields} fields, found {fields} (a broken line or an unquoted delimiter)"
                ),
            });
        }
        let mut values = Vec::with_capacity(self.columns.len());
        for (c, at) in self.columns.iter().zip(bound) {
            let v = match (&c.constant, at) {
                (Some(k), _) => k.clone(),
                (None, Some(i)) => {
                    let raw = field(*i).unwrap_or_default();
                    if is_missing(&raw, &self.missing) {
                        Value::Null
                    } else {
                        self.read_value(c, &raw).map_err(|reason| Reject {
                            line,
                            column: c.from.clone(),
                            column_number: Some(i + 1),
                            raw_value: Some(raw.to_string()),
                            reason: format!("expected {}", reason.trim_start_matches("expected ")),
                        })?
                    }
                }
                (None, None) => Value::Null,
            };
            if v.is_null() && !c.nullable {
                return Err(Reject {
                    line,
                    column: c.from.clone(),
                    column_number: at.map(|i| i + 1),
                    raw_value: at_raw(*at, &field),
                    reason: format!("expected a value: `{}` is required", c.name),
                });
            }
            values.push(v);
        }
        for k in &self.checks {
            let (a, b) = (&values[k.left], &values[k.right]);
            if !k.check.holds(a, b) {
                let col = &self.columns[k.left];
                return Err(Reject {
                    line,
                    column: col.from.clone(),
                    column_number: bound[k.left].map(|i| i + 1),
                    raw_value: at_raw(bound[k.left], &field),
                    reason: format!(
                        "rule `{} {} {}` fails: {} is {}, {} is {}",
                        k.check.left, k.check.op, k.check.right, k.check.left, a, k.check.right, b
                    ),
                });
            }
        }
        Ok(values)
    }

    /// The reporting period (`YYYY-MM`, Helsinki) of a row.
    pub fn period(&self, values: &[Value]) -> (String, Option<DateTime<Utc>>) {
        match &values[self.period_idx] {
            Value::Timestamp(us) => {
                let t = DateTime::<Utc>::from_timestamp_micros(*us).unwrap_or_default();
                let local = t.with_timezone(&HELSINKI);
                (format!("{:04}-{:02}", local.year(), local.month()), Some(t))
            }
            Value::Date(d) => (format!("{:04}-{:02}", d.year(), d.month()), None),
            _ => unreachable!("period column is a non-null timestamp or date"),
        }
    }

    /// Refuses a row carrying a personal identity code in any stored text column.
    pub fn guard_personal_data(&self, values: &[Value]) -> Option<String> {
        self.columns.iter().zip(values).find_map(|(c, v)| match v {
            Value::Str(s) if !c.hash && find_hetu(s).is_some() => Some(c.name.clone()),
            _ => None,
        })
    }
}

fn at_raw<'r>(at: Option<usize>, field: &impl Fn(usize) -> Option<Cow<'r, str>>) -> Option<String> {
    at.and_then(field).map(Cow::into_owned)
}

/// Accumulates one period's rows and turns them into Arrow batches.
pub struct PeriodBuffer {
    schema: SchemaRef,
    builders: Vec<Builder>,
    period: StringBuilder,
    source: StringBuilder,
    file: StringBuilder,
    line: Int64Builder,
    rows: usize,
    /// Earliest period-column instant seen.
    pub min_time: Option<DateTime<Utc>>,
    /// Latest period-column instant seen.
    pub max_time: Option<DateTime<Utc>>,
}

enum Builder {
    Str(StringBuilder),
    Int(Int64Builder),
    Float(Float64Builder),
    Bool(BooleanBuilder),
    Ts(TimestampMicrosecondBuilder),
    Date(Date32Builder),
}

impl PeriodBuffer {
    /// An empty buffer for a plan's table.
    pub fn new(plan: &Plan) -> Self {
        let builders = plan
            .columns
            .iter()
            .map(|c| match c.kind {
                ColumnType::String => Builder::Str(StringBuilder::new()),
                ColumnType::Int64 => Builder::Int(Int64Builder::new()),
                ColumnType::Float64 => Builder::Float(Float64Builder::new()),
                ColumnType::Bool => Builder::Bool(BooleanBuilder::new()),
                ColumnType::Timestamp => {
                    Builder::Ts(TimestampMicrosecondBuilder::new().with_timezone("UTC"))
                }
                ColumnType::Date => Builder::Date(Date32Builder::new()),
            })
            .collect();
        Self {
            schema: plan.schema.clone(),
            builders,
            period: StringBuilder::new(),
            source: StringBuilder::new(),
            file: StringBuilder::new(),
            line: Int64Builder::new(),
            rows: 0,
            min_time: None,
            max_time: None,
        }
    }

    /// Rows buffered since the last batch.
    pub fn len(&self) -> usize {
        self.rows
    }

    /// Whether nothing is buffered.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Appends a row with its lineage.
    pub fn push(
        &mut self,
        values: Vec<Value>,
        period: &str,
        time: Option<DateTime<Utc>>,
        source: &str,
        sha: &str,
        line: u64,
    ) {
        for (b, v) in self.builders.iter_mut().zip(values) {
            match (b, v) {
                (Builder::Str(b), Value::Str(s)) => b.append_value(s),
                (Builder::Int(b), Value::Int(i)) => b.append_value(i),
                (Builder::Int(b), Value::Float(f)) => b.append_value(f.round() as i64),
                (Builder::Float(b), Value::Float(f)) => b.append_value(f),
                (Builder::Float(b), Value::Int(i)) => b.append_value(i as f64),
                (Builder::Bool(b), Value::Bool(x)) => b.append_value(x),
                (Builder::Ts(b), Value::Timestamp(t)) => b.append_value(t),
                (Builder::Date(b), Value::Date(d)) => b.append_value(epoch_days(d)),
                (Builder::Str(b), _) => b.append_null(),
                (Builder::Int(b), _) => b.append_null(),
                (Builder::Float(b), _) => b.append_null(),
                (Builder::Bool(b), _) => b.append_null(),
                (Builder::Ts(b), _) => b.append_null(),
                (Builder::Date(b), _) => b.append_null(),
            }
        }
        self.period.append_value(period);
        self.source.append_value(source);
        self.file.append_value(sha);
        self.line.append_value(line as i64);
        self.rows += 1;
        if let Some(t) = time {
            self.min_time = Some(self.min_time.map_or(t, |m| m.min(t)));
            self.max_time = Some(self.max_time.map_or(t, |m| m.max(t)));
        }
    }

    /// Takes the buffered rows as a batch.
    pub fn take_batch(&mut self) -> RecordBatch {
        let mut arrays: Vec<ArrayRef> = self
            .builders
            .iter_mut()
            .map(|b| -> ArrayRef {
                match b {
                    Builder::Str(b) => Arc::new(b.finish()),
                    Builder::Int(b) => Arc::new(b.finish()),
                    Builder::Float(b) => Arc::new(b.finish()),
                    Builder::Bool(b) => Arc::new(b.finish()),
                    Builder::Ts(b) => Arc::new(b.finish()),
                    Builder::Date(b) => Arc::new(b.finish()),
                }
            })
            .collect();
        arrays.push(Arc::new(self.period.finish()));
        arrays.push(Arc::new(self.source.finish()));
        arrays.push(Arc::new(self.file.finish()));
        arrays.push(Arc::new(self.line.finish()));
        self.rows = 0;
        RecordBatch::try_new(self.schema.clone(), arrays).expect("builders follow the table schema")
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
}

/// Applies a plan to records and hands out batches per period. Shared by every format.
pub struct Normaliser<'a, F: FnMut(&str, RecordBatch) -> Result<()>> {
    plan: &'a Plan,
    file: String,
    sha: String,
    bound: Vec<Option<usize>>,
    expected_fields: usize,
    buffers: BTreeMap<String, PeriodBuffer>,
    /// UTC bounds (microseconds, end exclusive) and label of the last row's period.
    period: (i64, i64, String),
    emit: F,
    /// What has been read so far.
    pub summary: Summary,
}

impl<'a, F: FnMut(&str, RecordBatch) -> Result<()>> Normaliser<'a, F> {
    /// Starts on an export whose header is `header`.
    pub fn new(plan: &'a Plan, file: &str, sha: &str, header: &[String], emit: F) -> Result<Self> {
        let bound = plan.bind(file, header)?;
        Ok(Self {
            plan,
            file: file.to_string(),
            sha: sha.to_string(),
            bound,
            expected_fields: header.len(),
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
        if let Value::Timestamp(us) = values[self.plan.period_idx] {
            let (start, end, _) = &self.period;
            if (*start..*end).contains(&us) {
                return DateTime::<Utc>::from_timestamp_micros(us);
            }
        }
        let (label, time) = self.plan.period(values);
        self.period = match time.map(|t| t.with_timezone(&HELSINKI).date_naive()) {
            Some(d) => {
                let first = NaiveDate::from_ymd_opt(d.year(), d.month(), 1).expect("first");
                let next = first
                    .checked_add_months(chrono::Months::new(1))
                    .expect("in range");
                let micros = |d: NaiveDate| {
                    tilannekuva_conventions::datetime::local_midnight(d).timestamp_micros()
                };
                (micros(first), micros(next), label)
            }
            None => (i64::MAX, i64::MIN, label),
        };
        time
    }

    /// Reads one record; `field(i)` is the text of its field `i`.
    pub fn record<'r>(
        &mut self,
        line: u64,
        fields: usize,
        field: impl Fn(usize) -> Option<Cow<'r, str>>,
    ) -> Result<()> {
        self.summary.rows += 1;
        match self
            .plan
            .row(line, &self.bound, &field, fields, self.expected_fields)
        {
            Err(reject) => self.summary.rejects.push(reject),
            Ok(values) => {
                if let Some(column) = self.plan.guard_personal_data(&values) {
                    return Err(Error::PersonalData {
                        source_name: self.plan.source.name.clone(),
                        file: self.file.clone(),
                        line,
                        column,
                    });
                }
                let time = self.period_of(&values);
                let period = &self.period.2;
                if !self.buffers.contains_key(period) {
                    self.buffers
                        .insert(period.clone(), PeriodBuffer::new(self.plan));
                }
                let buf = self.buffers.get_mut(period).expect("inserted above");
                buf.push(
                    values,
                    period,
                    time,
                    &self.plan.source.name,
                    &self.sha,
                    line,
                );
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
