//! SQL functions for Finnish reporting, available in every tile query and in `tilannekuva sql`:
//!
//! | function | returns |
//! |---|---|
//! | `fi_period(t)` | the reporting period of a timestamp or date in Europe/Helsinki: `2024-03`, `2024-Q1` or `2024`, by the grain being computed |
//! | `fi_local_date(t)` | the Helsinki calendar date of a timestamp |
//! | `fi_deadline(t, n)` | the end (next local midnight, as UTC) of the n-th working day after the local date of `t` |
//! | `fi_working_days(a, b)` | working days after the local date of `a` up to and including that of `b` |
//!
//! Working days follow the Finnish calendar (weekends, public holidays and the eves treated
//! as holidays); the starting day is not counted (Act 150/1930).
//!
//! `fi_period` is one function per grain, named `fi_period_month`, `fi_period_quarter` and
//! `fi_period_year`, each answering to `fi_period` in the session of its grain. A query plan
//! names the grain's function, so a cluster node that decodes the plan by function name (every
//! node knows [`all`]) labels periods as the session that planned it.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, Date32Array, Int64Array, StringArray, StringBuilder, TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, TimeUnit};
use chrono::{DateTime, NaiveDate, Utc};
use datafusion::common::{DataFusionError, Result, cast::as_int64_array};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, TypeSignature,
    Volatility,
};
use tilannekuva_conventions::calendar::{add_working_days, working_days_between};
use tilannekuva_conventions::datetime::{HELSINKI, epoch_days, from_epoch_days, local_midnight};

use crate::Grain;

fn ts_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

fn local_date_of_micros(us: i64) -> NaiveDate {
    DateTime::<Utc>::from_timestamp_micros(us)
        .unwrap_or_default()
        .with_timezone(&HELSINKI)
        .date_naive()
}

/// Helsinki dates of the first argument, which is a UTC timestamp or a date.
fn dates(arg: &ArrayRef) -> Result<Vec<Option<NaiveDate>>> {
    if let Some(ts) = arg.as_any().downcast_ref::<TimestampMicrosecondArray>() {
        return Ok(ts.iter().map(|v| v.map(local_date_of_micros)).collect());
    }
    if let Some(d) = arg.as_any().downcast_ref::<Date32Array>() {
        return Ok(d.iter().map(|v| v.and_then(from_epoch_days)).collect());
    }
    Err(DataFusionError::Execution(format!(
        "expected a timestamp or date, got {}",
        arg.data_type()
    )))
}

fn signature_time(extra: Vec<DataType>) -> Signature {
    let mut a = vec![ts_type()];
    a.extend(extra.clone());
    let mut b = vec![DataType::Date32];
    b.extend(extra);
    Signature::one_of(
        vec![TypeSignature::Exact(a), TypeSignature::Exact(b)],
        Volatility::Immutable,
    )
}

/// `fi_period(t)`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Period {
    grain: Grain,
    signature: Signature,
    /// `fi_period`, what SQL calls it.
    aliases: Vec<String>,
}

impl Period {
    /// The function for one grain.
    pub fn udf(grain: Grain) -> ScalarUDF {
        ScalarUDF::new_from_impl(Self {
            grain,
            signature: signature_time(vec![]),
            aliases: vec!["fi_period".to_string()],
        })
    }
}

impl ScalarUDFImpl for Period {
    fn name(&self) -> &str {
        match self.grain {
            Grain::Month => "fi_period_month",
            Grain::Quarter => "fi_period_quarter",
            Grain::Year => "fi_period_year",
        }
    }
    fn aliases(&self) -> &[String] {
        &self.aliases
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        if let Some(ts) = arrays[0]
            .as_any()
            .downcast_ref::<TimestampMicrosecondArray>()
        {
            return Ok(ColumnarValue::Array(Arc::new(period_labels(
                self.grain, ts,
            ))));
        }
        let out: StringArray = dates(&arrays[0])?
            .into_iter()
            .map(|d| d.map(|d| self.grain.label(d)))
            .collect();
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}

/// UTC microseconds of Helsinki midnight at the start of `d`.
fn local_midnight_micros(d: NaiveDate) -> i64 {
    local_midnight(d).timestamp_micros()
}

/// Values for ranges of UTC microseconds (periods, days) met in one batch. The rows of a batch
/// mostly fall in a few ranges, so the time zone is consulted once per range, not per row.
struct Remembered<T> {
    ranges: Vec<(i64, i64, T)>,
    last: usize,
}

impl<T> Remembered<T> {
    const MOST: usize = 64;

    fn new() -> Self {
        Self {
            ranges: Vec::new(),
            last: 0,
        }
    }

    /// The value of the range holding `us`, if met.
    fn get(&mut self, us: i64) -> Option<&T> {
        let hit = |(s, e, _): &(i64, i64, T)| (*s..*e).contains(&us);
        if !self.ranges.get(self.last).is_some_and(hit) {
            self.last = self.ranges.iter().position(hit)?;
        }
        Some(&self.ranges[self.last].2)
    }

    /// Remembers `[start, end)` → `value` (forgetting everything when full).
    fn insert(&mut self, start: i64, end: i64, value: T) {
        if self.ranges.len() == Self::MOST {
            self.ranges.clear();
        }
        self.ranges.push((start, end, value));
        self.last = self.ranges.len() - 1;
    }
}

/// Period labels of UTC timestamps, consulting the time zone once per period and batch.
fn period_labels(grain: Grain, ts: &TimestampMicrosecondArray) -> StringArray {
    let mut out = StringBuilder::with_capacity(ts.len(), ts.len() * 7);
    let mut known = Remembered::new();
    for v in ts.iter() {
        let Some(us) = v else {
            out.append_null();
            continue;
        };
        if let Some(label) = known.get(us) {
            out.append_value(label);
            continue;
        }
        let label = grain.label(local_date_of_micros(us));
        out.append_value(&label);
        if let Some((first, next)) = grain
            .bounds(&label)
            .and_then(|(first, last)| Some((first, last.succ_opt()?)))
        {
            known.insert(
                local_midnight_micros(first),
                local_midnight_micros(next),
                label,
            );
        }
    }
    out.finish()
}

/// `fi_local_date(t)`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct LocalDate {
    signature: Signature,
}

impl LocalDate {
    /// The function.
    pub fn udf() -> ScalarUDF {
        ScalarUDF::new_from_impl(Self {
            signature: signature_time(vec![]),
        })
    }
}

impl ScalarUDFImpl for LocalDate {
    fn name(&self) -> &str {
        "fi_local_date"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Date32)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let out: Date32Array = dates(&arrays[0])?
            .into_iter()
            .map(|d| d.map(epoch_days))
            .collect();
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}

/// `fi_deadline(t, n)`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Deadline {
    signature: Signature,
}

impl Deadline {
    /// The function.
    pub fn udf() -> ScalarUDF {
        ScalarUDF::new_from_impl(Self {
            signature: signature_time(vec![DataType::Int64]),
        })
    }
}

/// End of the n-th working day after `d`: the next local midnight, in UTC.
pub fn deadline(d: NaiveDate, n: u32) -> DateTime<Utc> {
    local_midnight(add_working_days(d, n).succ_opt().expect("date in range"))
}

impl ScalarUDFImpl for Deadline {
    fn name(&self) -> &str {
        "fi_deadline"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(ts_type())
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let n = as_int64_array(&arrays[1])?;
        if let Some(ts) = arrays[0]
            .as_any()
            .downcast_ref::<TimestampMicrosecondArray>()
        {
            return Ok(ColumnarValue::Array(Arc::new(
                deadlines(ts, n).with_timezone("UTC"),
            )));
        }
        let out: TimestampMicrosecondArray = dates(&arrays[0])?
            .into_iter()
            .zip(n.iter())
            .map(|(d, n)| match (d, n) {
                (Some(d), Some(n)) if n >= 0 => Some(deadline(d, n as u32).timestamp_micros()),
                _ => None,
            })
            .collect();
        Ok(ColumnarValue::Array(Arc::new(out.with_timezone("UTC"))))
    }
}

/// Deadlines of UTC timestamps: the local date of each row is found from the remembered
/// UTC bounds of the days met, and each (date, n) deadline is computed once per batch.
fn deadlines(ts: &TimestampMicrosecondArray, n: &Int64Array) -> TimestampMicrosecondArray {
    let mut days = Remembered::new();
    let mut memo: std::collections::HashMap<(NaiveDate, i64), i64> =
        std::collections::HashMap::new();
    let mut out = arrow::array::TimestampMicrosecondBuilder::with_capacity(ts.len());
    for (t, n) in ts.iter().zip(n.iter()) {
        let (Some(us), Some(n)) = (t, n.filter(|n| *n >= 0)) else {
            out.append_null();
            continue;
        };
        let day = match days.get(us) {
            Some(d) => *d,
            None => {
                let d = local_date_of_micros(us);
                if let Some(next) = d.succ_opt() {
                    days.insert(local_midnight_micros(d), local_midnight_micros(next), d);
                }
                d
            }
        };
        let due = *memo
            .entry((day, n))
            .or_insert_with(|| deadline(day, n as u32).timestamp_micros());
        out.append_value(due);
    }
    out.finish()
}

/// `fi_working_days(a, b)`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct WorkingDays {
    signature: Signature,
}

impl WorkingDays {
    /// The function.
    pub fn udf() -> ScalarUDF {
        let ts = ts_type();
        let signature = Signature::one_of(
            vec![
                TypeSignature::Exact(vec![ts.clone(), ts]),
                TypeSignature::Exact(vec![DataType::Date32, DataType::Date32]),
            ],
            Volatility::Immutable,
        );
        ScalarUDF::new_from_impl(Self { signature })
    }
}

impl ScalarUDFImpl for WorkingDays {
    fn name(&self) -> &str {
        "fi_working_days"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int64)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let out: Int64Array = dates(&arrays[0])?
            .into_iter()
            .zip(dates(&arrays[1])?)
            .map(|(a, b)| Some(working_days_between(a?, b?)))
            .collect();
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}

/// The functions of a session computing `grain`: `fi_period` answers for that grain.
pub fn for_grain(grain: Grain) -> Vec<ScalarUDF> {
    vec![
        Period::udf(grain),
        LocalDate::udf(),
        Deadline::udf(),
        WorkingDays::udf(),
    ]
}

/// Every function under its own name (`fi_period_month`, …, `fi_local_date`, …): what a
/// cluster node decoding plans of any grain knows.
pub fn all() -> Vec<ScalarUDF> {
    let mut all: Vec<ScalarUDF> = Grain::ALL.into_iter().map(Period::udf).collect();
    all.extend([LocalDate::udf(), Deadline::udf(), WorkingDays::udf()]);
    all
}

/// Registers every function; `fi_period` for `grain`.
pub fn register(ctx: &datafusion::prelude::SessionContext, grain: Grain) {
    for f in for_grain(grain) {
        ctx.register_udf(f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn period_labels_agree_with_the_time_zone_row_by_row() {
        // Every 37 minutes across both 2025 DST changes and the year end, in an order that
        // jumps between periods, with nulls.
        let start = DateTime::parse_from_rfc3339("2024-12-31T20:00:00Z").unwrap();
        let mut micros: Vec<Option<i64>> = (0..30_000i64)
            .map(|i| Some(start.timestamp_micros() + i * 37 * 60_000_000))
            .collect();
        micros.reverse();
        micros.swap(5, 20_000);
        micros[7] = None;
        let ts = TimestampMicrosecondArray::from(micros.clone());
        for grain in Grain::ALL {
            let labels = period_labels(grain, &ts);
            for (i, us) in micros.iter().enumerate() {
                match us {
                    None => assert!(labels.is_null(i)),
                    Some(us) => {
                        assert_eq!(labels.value(i), grain.label(local_date_of_micros(*us)))
                    }
                }
            }
        }
        // Local midnight of 1.4.2025 is 31.3. 21:00Z (summer time): one microsecond before
        // is still March.
        let edge = DateTime::parse_from_rfc3339("2025-03-31T21:00:00Z")
            .unwrap()
            .timestamp_micros();
        let ts = TimestampMicrosecondArray::from(vec![edge - 1, edge]);
        let labels = period_labels(Grain::Month, &ts);
        assert_eq!((labels.value(0), labels.value(1)), ("2025-03", "2025-04"));
    }

    #[test]
    fn deadlines_agree_with_the_calendar_row_by_row() {
        let start = DateTime::parse_from_rfc3339("2024-12-20T20:00:00Z").unwrap();
        let micros: Vec<Option<i64>> = (0..5_000i64)
            .map(|i| Some(start.timestamp_micros() + (i * 7919 % 5_000) * 13 * 60_000_000))
            .chain([None])
            .collect();
        let ns: Vec<Option<i64>> = (0..micros.len() as i64).map(|i| Some(i % 3)).collect();
        let ts = TimestampMicrosecondArray::from(micros.clone());
        let out = deadlines(&ts, &Int64Array::from(ns.clone()));
        for (i, (us, n)) in micros.iter().zip(&ns).enumerate() {
            match us {
                None => assert!(out.is_null(i)),
                Some(us) => assert_eq!(
                    out.value(i),
                    deadline(local_date_of_micros(*us), n.unwrap() as u32).timestamp_micros()
                ),
            }
        }
    }

    #[test]
    fn deadline_is_next_local_midnight_after_the_working_day() {
        // Monday 23.12.2024 + 1 working day = Friday 27.12.2024; ends at 28.12. 00:00 EET = 27.12. 22:00Z.
        let d = NaiveDate::from_ymd_opt(2024, 12, 23).unwrap();
        assert_eq!(deadline(d, 1).to_rfc3339(), "2024-12-27T22:00:00+00:00");
        // In summer time the local midnight is 21:00Z.
        let d = NaiveDate::from_ymd_opt(2025, 6, 2).unwrap();
        assert_eq!(deadline(d, 1).to_rfc3339(), "2025-06-03T21:00:00+00:00");
    }
}
