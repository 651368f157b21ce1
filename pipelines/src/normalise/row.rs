//! Reading one record with a [`RowPlan`]: every column's raw text to a typed value, then
//! the row rules, or a [`Reject`] saying which line, column and value failed and why. A row
//! is read whole or rejected whole, never half.

use std::borrow::Cow;

use chrono::{DateTime, Datelike, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tilannekuva_conventions::boolean::{is_missing, parse_bool};
use tilannekuva_conventions::datetime::{HELSINKI, parse_time, to_local_date, to_utc};
use tilannekuva_conventions::hetu::{PersonalKind, find_personal};
use tilannekuva_conventions::number::{parse_f64, parse_i64};

use super::Value;
use super::plan::{Binding, Bounds, Input, Reading, RowPlan};
use crate::config::SkipRule;

/// A rejected row: where it was, which value, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Reject {
    /// The sheet, for a spreadsheet export.
    pub sheet: Option<String>,
    /// Line of the export (record number for a JSON document, row for a sheet).
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
        match &self.sheet {
            Some(sheet) => write!(f, "sheet `{sheet}`, row {}", self.line)?,
            None => write!(f, "line {}", self.line)?,
        }
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

impl RowPlan {
    fn read_value(&self, reading: &Reading, raw: &str) -> std::result::Result<Value, String> {
        let text = tilannekuva_conventions::trim(raw);
        match reading {
            Reading::Map { map, default } => match map.get(text).or(default.as_ref()) {
                Some(v) => Ok(v.clone()),
                None => {
                    let allowed: Vec<&str> = map.keys().map(String::as_str).collect();
                    Err(format!("one of the known codes ({})", allowed.join(", ")))
                }
            },
            Reading::Lookup {
                lookup,
                values,
                default,
            } => match values.get(text).or(default.as_ref()) {
                Some(v) => Ok(v.clone()),
                None => Err(format!(
                    "a code of the lookup `{lookup}` (config/lookups/{lookup}.toml)"
                )),
            },
            Reading::DatedLookup { .. } => unreachable!("read once the row's date is known"),
            Reading::Contains { item, separator } => Ok(Value::Bool(
                text.split(separator.as_str()).any(|t| t.trim() == item),
            )),
            Reading::Text { hash: true } => Ok(Value::Str(self.pseudonym(text).into())),
            Reading::Text { hash: false } => Ok(Value::Str(text.into())),
            Reading::Bool => parse_bool(text, &self.booleans)
                .map(Value::Bool)
                .map_err(|e| e.to_string()),
            Reading::Int(bounds) => {
                let v = parse_i64(text, &self.numbers).map_err(|e| e.to_string())? as f64;
                let v = bounds.apply(v)?;
                Ok(Value::Int(v.round() as i64))
            }
            Reading::Float(bounds) => {
                let v = parse_f64(text, &self.numbers).map_err(|e| e.to_string())?;
                Ok(Value::Float(bounds.apply(v)?))
            }
            Reading::Timestamp(fmt) => {
                let parsed = parse_time(text, fmt).map_err(|e| e.to_string())?;
                let utc = to_utc(parsed, &self.policy).map_err(|e| e.to_string())?;
                Ok(Value::Timestamp(utc.timestamp_micros()))
            }
            Reading::Date(fmt) => {
                let parsed = parse_time(text, fmt).map_err(|e| e.to_string())?;
                Ok(Value::Date(to_local_date(parsed, self.policy.tz)))
            }
        }
    }

    fn pseudonym(&self, text: &str) -> String {
        let key = self.key.as_deref().unwrap_or_default();
        let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("hmac takes any key length");
        mac.update(text.to_uppercase().as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// The skip rule a record meets, if any: a total or note row, not data.
    pub fn skip_rule<'r>(
        &self,
        binding: &Binding,
        field: &impl Fn(usize) -> Option<Cow<'r, str>>,
    ) -> Option<&SkipRule> {
        let text = |at: usize| field(at).map(|f| f.trim().to_lowercase());
        self.skips
            .iter()
            .zip(&binding.skips)
            .find_map(|(rule, at)| {
                let hit = if rule.mapped_empty {
                    binding
                        .read
                        .iter()
                        .all(|at| field(*at).is_none_or(|f| is_missing(&f, &self.missing)))
                } else if let Some(equals) = &rule.equals {
                    text(*at).is_some_and(|t| t == equals.trim().to_lowercase())
                } else if let Some(prefix) = &rule.starts_with {
                    text(*at).is_some_and(|t| t.starts_with(&prefix.trim().to_lowercase()))
                } else {
                    false
                };
                hit.then_some(rule)
            })
    }

    /// The derived id of `key` fields: a hash of their raw values (trimmed), keyed with the
    /// pseudonymisation key when there is one, so that no raw value can be guessed from it.
    fn derived_key<'r>(
        &self,
        at: &[usize],
        field: &impl Fn(usize) -> Option<Cow<'r, str>>,
    ) -> String {
        let key = self
            .key
            .as_deref()
            .unwrap_or(b"tilannekuva derived row key");
        let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("hmac takes any key length");
        for i in at {
            mac.update(field(*i).unwrap_or_default().trim().as_bytes());
            mac.update(&[0x1f]);
        }
        hex::encode(&mac.finalize().into_bytes()[..12])
    }

    /// Reads one record into typed values, or says why it cannot be read. A `line` column
    /// is left empty here: the reader of the file knows its name.
    pub fn row<'r>(
        &self,
        line: u64,
        binding: &Binding,
        field: impl Fn(usize) -> Option<Cow<'r, str>>,
        fields: usize,
        expected_fields: usize,
    ) -> std::result::Result<Vec<Value>, Reject> {
        let bound = &binding.columns;
        if fields != expected_fields {
            return Err(Reject {
                sheet: None,
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
        // Dated lookups, read once the column that dates the row is.
        let mut dated = Vec::new();
        for ((c, at), key_at) in self.columns.iter().zip(bound).zip(&binding.keys) {
            let v = match (&c.input, at) {
                (Input::Constant(k), _) => k.clone(),
                (Input::Key(_), _) => Value::Str(self.derived_key(key_at, &field).into()),
                (Input::Line, _) => Value::Str("".into()),
                (
                    Input::Read {
                        reading: Reading::DatedLookup { .. },
                        ..
                    },
                    Some(i),
                ) => {
                    let raw = field(*i).unwrap_or_default();
                    if !is_missing(&raw, &self.missing) {
                        dated.push((values.len(), *i, raw.into_owned()));
                        values.push(Value::Null);
                        continue;
                    }
                    Value::Null
                }
                (Input::Read { from, reading }, Some(i)) => {
                    let raw = field(*i).unwrap_or_default();
                    if is_missing(&raw, &self.missing) {
                        Value::Null
                    } else {
                        self.read_value(reading, &raw).map_err(|reason| Reject {
                            sheet: None,
                            line,
                            column: Some(from.clone()),
                            column_number: Some(i + 1),
                            raw_value: Some(raw.to_string()),
                            reason: format!("expected {}", reason.trim_start_matches("expected ")),
                        })?
                    }
                }
                _ => Value::Null,
            };
            if v.is_null() && !c.nullable {
                return Err(Reject {
                    sheet: None,
                    line,
                    column: c.from().map(str::to_string),
                    column_number: at.map(|i| i + 1),
                    raw_value: at_raw(*at, &field),
                    reason: format!("expected a value: `{}` is required", c.name),
                });
            }
            values.push(v);
        }
        for (at, i, raw) in dated {
            let c = &self.columns[at];
            let Input::Read {
                from,
                reading:
                    Reading::DatedLookup {
                        lookup,
                        versions,
                        default,
                        as_of,
                    },
            } = &c.input
            else {
                unreachable!("only dated lookups are deferred")
            };
            let reject = |reason: String| Reject {
                sheet: None,
                line,
                column: Some(from.clone()),
                column_number: Some(i + 1),
                raw_value: Some(raw.clone()),
                reason,
            };
            let day = match &values[*as_of] {
                Value::Timestamp(us) => DateTime::<Utc>::from_timestamp_micros(*us)
                    .map(|t| t.with_timezone(&HELSINKI).date_naive()),
                Value::Date(d) => Some(*d),
                _ => None,
            };
            let Some(day) = day else {
                return Err(reject(format!(
                    "expected `{}` to have a date, which picks the version of lookup `{lookup}`",
                    self.columns[*as_of].name
                )));
            };
            let key = raw.trim();
            let version = versions
                .get(key)
                .and_then(|vs| vs.iter().find(|v| v.in_force.contains(day)));
            let v = match (version, default) {
                (Some(v), _) => v.value.clone().unwrap_or(Value::Null),
                (None, Some(d)) => d.clone(),
                (None, None) => {
                    return Err(reject(match versions.get(key) {
                        None => format!(
                            "expected a code of the lookup `{lookup}` (config/lookups/{lookup}.toml)"
                        ),
                        Some(vs) => format!(
                            "expected a code of the lookup `{lookup}` in force on {day}: `{key}` is in force {}",
                            vs.iter()
                                .map(|v| v.describe())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    }));
                }
            };
            if v.is_null() && !c.nullable {
                return Err(reject(format!(
                    "expected a value: `{}` is required and `{key}` has none on {day}",
                    c.name
                )));
            }
            values[at] = v;
        }
        for k in &self.rules {
            let (a, b) = (&values[k.left], &values[k.right]);
            let holds = a.partial_cmp_same(b).is_none_or(|o| k.rule.op.accepts(o));
            if !holds {
                let col = &self.columns[k.left];
                return Err(Reject {
                    sheet: None,
                    line,
                    column: col.from().map(str::to_string),
                    column_number: bound[k.left].map(|i| i + 1),
                    raw_value: at_raw(bound[k.left], &field),
                    reason: format!(
                        "rule `{}` fails: {} is {}, {} is {}",
                        k.rule, k.rule.left, a, k.rule.right, b
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

    /// The instant of a row's period column, when it is a timestamp.
    pub(super) fn period_instant(&self, values: &[Value]) -> Option<i64> {
        match values[self.period_idx] {
            Value::Timestamp(us) => Some(us),
            _ => None,
        }
    }

    /// The first stored text column (not pseudonymised) carrying a personal identifier: a
    /// henkilötunnus, a phone number or an e-mail address, and which kind it is. Only the
    /// columns that can carry one are looked over (see `Input::screened`).
    pub fn guard_personal_data(&self, values: &[Value]) -> Option<(String, PersonalKind)> {
        self.columns.iter().zip(values).find_map(|(c, v)| match v {
            Value::Str(s) if c.screened => {
                find_personal(s).map(|(kind, _, _)| (c.name.clone(), kind))
            }
            _ => None,
        })
    }
}

impl Bounds {
    /// Scales `v` and checks it against `min` and `max`.
    fn apply(&self, v: f64) -> std::result::Result<f64, String> {
        let v = self.scale.map_or(v, |s| v * s);
        if let Some(min) = self.min
            && v < min
        {
            return Err(format!("a value of at least {min}"));
        }
        if let Some(max) = self.max
            && v > max
        {
            return Err(format!("a value of at most {max}"));
        }
        Ok(v)
    }
}

fn at_raw<'r>(at: Option<usize>, field: &impl Fn(usize) -> Option<Cow<'r, str>>) -> Option<String> {
    at.and_then(field).map(Cow::into_owned)
}
