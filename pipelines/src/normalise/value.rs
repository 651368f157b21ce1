//! One typed value of a canonical column.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use tilannekuva_warehouse::catalog::ColumnType;

/// A value on its way into a canonical table.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// No value.
    Null,
    /// Text. Shared, so that a value from the config (a constant, a map's or a lookup's) is
    /// handed to every row that takes it without a copy.
    Str(Arc<str>),
    /// Integer.
    Int(i64),
    /// Float.
    Float(f64),
    /// Boolean.
    Bool(bool),
    /// Microseconds since the epoch, UTC.
    Timestamp(i64),
    /// Calendar date.
    Date(NaiveDate),
}

impl Value {
    /// Whether this is [`Value::Null`].
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// Converts a config value (a constant, a map target, a lookup field) to a column's type.
    pub fn from_toml(v: &toml::Value, kind: ColumnType) -> Result<Self, String> {
        use toml::Value as T;
        Ok(match (kind, v) {
            (ColumnType::String, T::String(s)) => Value::Str(s.as_str().into()),
            (ColumnType::Int64, T::Integer(i)) => Value::Int(*i),
            (ColumnType::Float64, T::Integer(i)) => Value::Float(*i as f64),
            (ColumnType::Float64, T::Float(f)) => Value::Float(*f),
            (ColumnType::Bool, T::Boolean(b)) => Value::Bool(*b),
            (ColumnType::Date, T::String(s)) => Value::Date(
                s.parse::<NaiveDate>()
                    .map_err(|_| format!("`{s}` is not a date YYYY-MM-DD"))?,
            ),
            (ColumnType::Timestamp, T::String(s)) => Value::Timestamp(
                s.parse::<DateTime<Utc>>()
                    .map_err(|_| format!("`{s}` is not an RFC 3339 instant"))?
                    .timestamp_micros(),
            ),
            (kind, v) => return Err(format!("{v} does not fit a {kind:?} column")),
        })
    }

    /// Orders two values of the same kind; `None` when either is null or kinds differ.
    pub fn partial_cmp_same(&self, other: &Value) -> Option<std::cmp::Ordering> {
        match (self, other) {
            (Value::Int(a), Value::Int(b)) => a.partial_cmp(b),
            (Value::Float(a), Value::Float(b)) => a.partial_cmp(b),
            (Value::Int(a), Value::Float(b)) => (*a as f64).partial_cmp(b),
            (Value::Float(a), Value::Int(b)) => a.partial_cmp(&(*b as f64)),
            (Value::Timestamp(a), Value::Timestamp(b)) => a.partial_cmp(b),
            (Value::Date(a), Value::Date(b)) => a.partial_cmp(b),
            (Value::Str(a), Value::Str(b)) => a.partial_cmp(b),
            _ => None,
        }
    }
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Null => write!(f, "empty"),
            Value::Str(s) => write!(f, "{s:?}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{x}"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Timestamp(us) => match DateTime::<Utc>::from_timestamp_micros(*us) {
                Some(t) => write!(f, "{}", t.format("%Y-%m-%dT%H:%M:%SZ")),
                None => write!(f, "{us}µs"),
            },
            Value::Date(d) => write!(f, "{d}"),
        }
    }
}
