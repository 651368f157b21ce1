//! Arrow buffering: a period's accepted rows collected column by column, with their
//! lineage, and handed out as record batches of the table's stored schema.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanBuilder, Date32Builder, Float64Builder, Int64Builder, RecordBatch,
    StringArray, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow::datatypes::SchemaRef;
use chrono::{DateTime, Utc};
use tilannekuva_conventions::datetime::epoch_days;
use tilannekuva_warehouse::catalog::ColumnType;

use super::{RowPlan, Value};

/// Accumulates one period's rows and turns them into Arrow batches.
pub struct PeriodBuffer {
    schema: SchemaRef,
    builders: Vec<Builder>,
    /// The lineage every row of the buffer shares: its period, source and file's sha256.
    period: String,
    source: String,
    file: String,
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
    /// An empty buffer for a plan's table, for the rows of `period` read by `source` from
    /// the file whose sha256 is `sha`.
    pub fn new(plan: &RowPlan, period: &str, source: &str, sha: &str) -> Self {
        let builders = plan
            .kinds()
            .map(|kind| match kind {
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
            period: period.to_string(),
            source: source.to_string(),
            file: sha.to_string(),
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

    /// Appends a row with its line and the instant of its period column.
    pub fn push(&mut self, values: Vec<Value>, time: Option<DateTime<Utc>>, line: u64) {
        for (b, v) in self.builders.iter_mut().zip(values) {
            match (b, v) {
                (Builder::Str(b), Value::Str(s)) => b.append_value(&*s),
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
        for shared in [&self.period, &self.source, &self.file] {
            let column = StringArray::from_iter_values(std::iter::repeat_n(shared, self.rows));
            arrays.push(Arc::new(column));
        }
        arrays.push(Arc::new(self.line.finish()));
        self.rows = 0;
        RecordBatch::try_new(self.schema.clone(), arrays).expect("builders follow the table schema")
    }
}
