//! The row plan: a source's `[columns]`, `[time]`, `[format]` value rules and `checks`
//! compiled against its canonical table once, so that reading a row only looks things up.
//!
//! Every constant, `map` target, `default` and lookup value is converted to the column's type
//! here, every time format parsed, every rule bound to column positions; a value that does
//! not fit is a config problem naming the file and key. Reading rows with the plan is in
//! [`super::row`].

use std::collections::BTreeMap;

use arrow::datatypes::SchemaRef;
use tilannekuva_conventions::boolean::BoolVocabulary;
use tilannekuva_conventions::datetime::{LocalTimePolicy, TimeFormat};
use tilannekuva_conventions::hetu::find_personal;
use tilannekuva_conventions::number::NumberFormat;
use tilannekuva_warehouse::catalog::{ColumnType, TableDef};

use super::Value;
use crate::config::{Lookup, Problems, RowRule, SkipRule, SourceConfig, SourceRef};
use crate::lookup::InForce;
use crate::{Error, Result};

/// A source's row rules compiled against its table: how each column of the table is read.
#[derive(Debug, Clone)]
pub struct RowPlan {
    /// The table's stored schema (its columns, then the lineage columns).
    pub schema: SchemaRef,
    pub(super) columns: Vec<ColumnPlan>,
    pub(super) rules: Vec<BoundRule>,
    pub(super) period_idx: usize,
    pub(super) policy: LocalTimePolicy,
    pub(super) numbers: NumberFormat,
    pub(super) missing: Vec<String>,
    pub(super) booleans: BoolVocabulary,
    /// Source columns deliberately not read (`drop` and `ignore`).
    pub(super) unread: Vec<String>,
    pub(super) key: Option<Vec<u8>>,
    /// Rows that are not data (`format.skip_when`).
    pub(super) skips: Vec<SkipRule>,
}

/// A plan bound to one export's header: where each column's source fields are.
#[derive(Debug, Clone)]
pub struct Binding {
    /// Per table column: the position of its `from` field.
    pub(super) columns: Vec<Option<usize>>,
    /// Per table column: the positions of its `key` fields (empty for other columns).
    pub(super) keys: Vec<Vec<usize>>,
    /// Per skip rule: the position of the field it tests.
    pub(super) skips: Vec<usize>,
    /// Every position some column reads, for `mapped_empty`.
    pub(super) read: Vec<usize>,
}

/// How one canonical column gets its value.
#[derive(Debug, Clone)]
pub(super) struct ColumnPlan {
    pub(super) name: String,
    pub(super) kind: ColumnType,
    pub(super) nullable: bool,
    pub(super) input: Input,
    /// Whether each row's value is looked over for personal data ([`Input::screened`]).
    pub(super) screened: bool,
}

/// Where a column's value comes from.
#[derive(Debug, Clone)]
pub(super) enum Input {
    /// `value = ...`: the same for every row.
    Constant(Value),
    /// Not mapped (a nullable column the source does not have): always empty.
    Unmapped,
    /// `from = "<source column>"`, read as `reading` says.
    Read { from: String, reading: Reading },
    /// `key = [...]`: a stable hash of these source columns' raw values.
    Key(Vec<String>),
    /// `line = true`: the export's file and the row's line.
    Line,
}

/// How a present (not missing) raw value is turned into a typed one.
#[derive(Debug, Clone)]
pub(super) enum Reading {
    /// `map`, with `default` for values not listed.
    Map {
        map: BTreeMap<String, Value>,
        default: Option<Value>,
    },
    /// `lookup = "<lookup>.<field>"`: key → value, with `default` for unknown keys.
    Lookup {
        lookup: String,
        values: BTreeMap<String, Value>,
        default: Option<Value>,
    },
    /// `lookup` with `as_of`: key → its versions, the one in force on the local date of
    /// the column at `as_of` gives the value (`default` when none is).
    DatedLookup {
        lookup: String,
        versions: BTreeMap<String, Vec<DatedValue>>,
        default: Option<Value>,
        as_of: usize,
    },
    /// `contains`: whether the list value has the item.
    Contains { item: String, separator: String },
    /// The text as it is, or its keyed hash.
    Text { hash: bool },
    /// A boolean word of `format.booleans`.
    Bool,
    /// A whole number, then `scale`, `min`, `max`; rounded after scaling.
    Int(Bounds),
    /// A number, then `scale`, `min`, `max`.
    Float(Bounds),
    /// A point in time, turned into UTC under `[time]`.
    Timestamp(TimeFormat),
    /// A point in time, as its local date.
    Date(TimeFormat),
}

/// One version of a lookup key, as a dated lookup column reads it.
#[derive(Debug, Clone)]
pub(super) struct DatedValue {
    pub(super) in_force: InForce,
    pub(super) successor: Option<String>,
    /// The field's value in this version; `None` when the row does not have the field.
    pub(super) value: Option<Value>,
}

impl DatedValue {
    /// `2020-01-01 – 2025-05-14 (continued by `TA02`)`, for a rejected row.
    pub(super) fn describe(&self) -> String {
        let span = self.in_force.describe();
        match &self.successor {
            Some(s) => format!("{span} (continued by `{s}`)"),
            None => span,
        }
    }
}

/// `scale`, `min` and `max` of a numeric column.
#[derive(Debug, Clone, Copy)]
pub(super) struct Bounds {
    pub(super) scale: Option<f64>,
    pub(super) min: Option<f64>,
    pub(super) max: Option<f64>,
}

/// What a lookup column compiles to.
enum LookupValues {
    Plain(BTreeMap<String, Value>),
    Dated {
        versions: BTreeMap<String, Vec<DatedValue>>,
        as_of: usize,
    },
}

/// A [`RowRule`] with the positions of its two columns.
#[derive(Debug, Clone)]
pub(super) struct BoundRule {
    pub(super) rule: RowRule,
    pub(super) left: usize,
    pub(super) right: usize,
}

impl RowPlan {
    /// Compiles a source that passed [`crate::config::validate_source`] against its table.
    /// Problems (a value that does not fit its column, a rule over a column the source does
    /// not map) go to `problems`, naming the file and key; `None` when there were any.
    pub fn compile(
        source: &SourceConfig,
        table: &TableDef,
        lookups: &BTreeMap<String, Lookup>,
        problems: &mut Problems,
    ) -> Option<Self> {
        let before = problems.errors.len();
        let file = source.file.as_path();
        let mut columns = Vec::new();
        for def in &table.columns {
            let key_name = format!("columns.{}", def.name);
            let Some(m) = source.columns.get(&def.name) else {
                columns.push(ColumnPlan {
                    name: def.name.clone(),
                    kind: def.kind,
                    nullable: def.nullable,
                    input: Input::Unmapped,
                    screened: false,
                });
                continue;
            };
            let mut typed = |v: &toml::Value, what: &str| match Value::from_toml(v, def.kind) {
                Ok(v) => Some(v),
                Err(e) => {
                    problems.error(file, &format!("{key_name}.{what}"), e);
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
            let as_of = m
                .as_of
                .as_ref()
                .and_then(|at| table.columns.iter().position(|c| &c.name == at));
            let lookup = m.lookup.as_ref().and_then(|l| {
                let (lk, field) = l.split_once('.')?;
                let lu = lookups.get(lk)?;
                let what = format!("lookup {lk}.{field}");
                if let Some(as_of) = as_of {
                    let mut versions: BTreeMap<String, Vec<DatedValue>> = BTreeMap::new();
                    for v in lu.versions() {
                        let value = match v.row.get(field) {
                            Some(raw) => Some(typed(raw, &what)?),
                            None => None,
                        };
                        versions
                            .entry(v.key.to_string())
                            .or_default()
                            .push(DatedValue {
                                in_force: v.in_force(),
                                successor: v.successor.map(str::to_string),
                                value,
                            });
                    }
                    for list in versions.values_mut() {
                        list.sort_by_key(|v| v.in_force.from);
                    }
                    return Some((lk.to_string(), LookupValues::Dated { versions, as_of }));
                }
                let values = lu
                    .versions()
                    .into_iter()
                    .filter_map(|v| Some((v.key.to_string(), typed(v.row.get(field)?, &what)?)))
                    .collect();
                Some((lk.to_string(), LookupValues::Plain(values)))
            });
            let time_format = m
                .format
                .as_ref()
                .and_then(|f| match f.parse::<TimeFormat>() {
                    Ok(f) => Some(f),
                    Err(e) => {
                        problems.error(file, &format!("{key_name}.format"), e);
                        None
                    }
                });
            let bounds = Bounds {
                scale: m.scale,
                min: m.min,
                max: m.max,
            };
            let input = match (constant, &m.from) {
                (Some(k), _) => Input::Constant(k),
                (None, None) if m.line => Input::Line,
                (None, None) => match &m.key {
                    Some(fields) => Input::Key(fields.clone()),
                    None => Input::Unmapped,
                },
                (None, Some(from)) => {
                    let reading = if let Some(map) = map {
                        Reading::Map { map, default }
                    } else if let Some((lookup, values)) = lookup {
                        match values {
                            LookupValues::Plain(values) => Reading::Lookup {
                                lookup,
                                values,
                                default,
                            },
                            LookupValues::Dated { versions, as_of } => Reading::DatedLookup {
                                lookup,
                                versions,
                                default,
                                as_of,
                            },
                        }
                    } else if let Some(item) = &m.contains {
                        Reading::Contains {
                            item: item.clone(),
                            separator: m.separator.clone(),
                        }
                    } else {
                        match (def.kind, time_format) {
                            (ColumnType::String, _) => Reading::Text { hash: m.hash },
                            (ColumnType::Bool, _) => Reading::Bool,
                            (ColumnType::Int64, _) => Reading::Int(bounds),
                            (ColumnType::Float64, _) => Reading::Float(bounds),
                            (ColumnType::Timestamp, Some(f)) => Reading::Timestamp(f),
                            (ColumnType::Date, Some(f)) => Reading::Date(f),
                            (ColumnType::Timestamp | ColumnType::Date, None) => {
                                problems.error(
                                    file,
                                    &format!("{key_name}.format"),
                                    "a time column needs a format",
                                );
                                continue;
                            }
                        }
                    };
                    Input::Read {
                        from: from.clone(),
                        reading,
                    }
                }
            };
            columns.push(ColumnPlan {
                name: def.name.clone(),
                kind: def.kind,
                nullable: def.nullable,
                screened: input.screened(),
                input,
            });
        }
        let position = |name: &str| columns.iter().position(|c| c.name == name);
        let mut rules = Vec::new();
        for (i, rule) in source.checks.iter().enumerate() {
            let mapped = |side: &str| position(side).filter(|_| source.columns.contains_key(side));
            match (mapped(&rule.left), mapped(&rule.right)) {
                (Some(left), Some(right)) => rules.push(BoundRule {
                    rule: rule.clone(),
                    left,
                    right,
                }),
                (left, right) => {
                    for (side, at) in [(&rule.left, left), (&rule.right, right)] {
                        if at.is_none() {
                            problems.error(
                                file,
                                &format!("checks[{i}]"),
                                format!("`{side}` is not a mapped column of this source"),
                            );
                        }
                    }
                }
            }
        }
        let period_idx = position(&table.period_column);
        if period_idx.is_none() {
            problems.error(
                file,
                "table",
                format!(
                    "table `{}` has no period column `{}`",
                    table.name, table.period_column
                ),
            );
        }
        let policy = match source.time.policy() {
            Ok(p) => Some(p),
            Err(e) => {
                problems.error(file, "time.timezone", e);
                None
            }
        };
        let (Some(period_idx), Some(policy)) = (period_idx, policy) else {
            return None;
        };
        if problems.errors.len() > before {
            return None;
        }
        Some(Self {
            schema: table.arrow_schema(),
            columns,
            rules,
            period_idx,
            policy,
            numbers: source.format.numbers(),
            missing: source.format.missing().to_vec(),
            booleans: source.format.booleans(),
            unread: source.drop.iter().chain(&source.ignore).cloned().collect(),
            key: None,
            skips: source.format.skip_when().to_vec(),
        })
    }

    /// Whether some column is a derived id (`key` or `line`), filled per row by the reader.
    pub fn derives_ids(&self) -> bool {
        self.columns
            .iter()
            .any(|c| matches!(c.input, Input::Key(_) | Input::Line))
    }

    /// Whether rows must be read in file order by one reader: a `key` column counts the
    /// rows of a file with the same key values.
    pub fn counts_in_file_order(&self) -> bool {
        self.columns
            .iter()
            .any(|c| matches!(c.input, Input::Key(_)))
    }

    /// The time format of the column that reads source column `name`, if it is a time
    /// column: how a spreadsheet's date cell is written for it.
    pub fn time_format_of(&self, name: &str) -> Option<&TimeFormat> {
        self.columns.iter().find_map(|c| match &c.input {
            Input::Read {
                from,
                reading: Reading::Timestamp(f) | Reading::Date(f),
            } if from == name => Some(f),
            _ => None,
        })
    }

    /// The source columns the plan reads (`from` and `key` fields), once each.
    pub fn columns_read(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for name in self.columns.iter().flat_map(ColumnPlan::reads) {
            if !out.contains(&name) {
                out.push(name);
            }
        }
        out
    }

    /// Whether some column is pseudonymised (`hash = true`), which needs a key.
    pub fn pseudonymises(&self) -> bool {
        self.columns.iter().any(ColumnPlan::hashed)
    }

    /// Sets the pseudonymisation key.
    pub fn set_key(&mut self, key: Option<&[u8]>) {
        self.key = key.map(<[u8]>::to_vec);
    }

    /// Every source column the plan reads or deliberately leaves (`drop`, `ignore`), once
    /// each, in config order: the "header" of formats whose records name no columns of
    /// their own, such as JSON Lines paths.
    pub fn sources_read(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .columns_read()
            .into_iter()
            .map(str::to_string)
            .collect();
        for name in &self.unread {
            if !out.contains(name) {
                out.push(name.clone());
            }
        }
        out
    }

    /// Binds the plan to an export's header: the position of every source column it reads.
    /// A column missing from the header, or one the config does not account for, is schema
    /// drift. Columns with an empty name (a trailing delimiter, an unlabelled spreadsheet
    /// column) are not columns.
    pub fn bind(&self, source: SourceRef<'_>, file: &str, header: &[String]) -> Result<Binding> {
        let pos = |name: &str| header.iter().position(|h| h.trim() == name);
        let mut missing: Vec<String> = Vec::new();
        let mut find = |name: &str| {
            let at = pos(name);
            if at.is_none() && !missing.iter().any(|m| m == name) {
                missing.push(name.to_string());
            }
            at
        };
        let mut columns = Vec::new();
        let mut keys = Vec::new();
        for c in &self.columns {
            columns.push(c.from().and_then(&mut find));
            keys.push(match &c.input {
                Input::Key(fields) => fields.iter().filter_map(|f| find(f)).collect(),
                _ => Vec::new(),
            });
        }
        let mut skips = Vec::new();
        for rule in &self.skips {
            skips.push(match &rule.column {
                Some(name) => find(name).unwrap_or(0),
                None => 0,
            });
        }
        let known: Vec<&str> = self
            .columns
            .iter()
            .flat_map(ColumnPlan::reads)
            .chain(self.unread.iter().map(String::as_str))
            .collect();
        let unexpected: Vec<String> = header
            .iter()
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty() && !known.contains(&h.as_str()))
            .collect();
        if !missing.is_empty() || !unexpected.is_empty() {
            return Err(Error::SchemaDrift(Box::new(crate::error::SchemaDrift {
                source_name: source.name.to_string(),
                file: file.to_string(),
                config: source.file.display().to_string(),
                missing,
                unexpected,
                found: header.iter().map(|h| h.trim().to_string()).collect(),
            })));
        }
        let mut read: Vec<usize> = columns
            .iter()
            .flatten()
            .chain(keys.iter().flatten())
            .copied()
            .collect();
        read.sort_unstable();
        read.dedup();
        Ok(Binding {
            columns,
            keys,
            skips,
            read,
        })
    }

    /// The kinds of the table's columns, in order.
    pub(super) fn kinds(&self) -> impl Iterator<Item = ColumnType> + '_ {
        self.columns.iter().map(|c| c.kind)
    }
}

impl Input {
    /// Whether the values this input gives must be looked over for personal data row by
    /// row: text read from the export, and the `line` id (it names the file). Values from
    /// the config (a constant, a map, a lookup) are looked over here, once: only a column
    /// one of whose possible values holds an identifier is looked over per row. Hashed text
    /// and values that are not text never are.
    fn screened(&self) -> bool {
        let personal = |v: &Value| matches!(v, Value::Str(s) if find_personal(s).is_some());
        match self {
            Input::Constant(v) => personal(v),
            Input::Unmapped | Input::Key(_) => false,
            Input::Line => true,
            Input::Read { reading, .. } => match reading {
                Reading::Text { hash } => !hash,
                Reading::Map {
                    map: values,
                    default,
                }
                | Reading::Lookup {
                    values, default, ..
                } => values.values().chain(default).any(personal),
                Reading::DatedLookup {
                    versions, default, ..
                } => versions
                    .values()
                    .flatten()
                    .filter_map(|v| v.value.as_ref())
                    .chain(default)
                    .any(personal),
                Reading::Contains { .. }
                | Reading::Bool
                | Reading::Int(_)
                | Reading::Float(_)
                | Reading::Timestamp(_)
                | Reading::Date(_) => false,
            },
        }
    }
}

impl ColumnPlan {
    /// The source column read, if any.
    pub(super) fn from(&self) -> Option<&str> {
        match &self.input {
            Input::Read { from, .. } => Some(from),
            _ => None,
        }
    }

    /// The source columns read: the `from` field, or the `key` fields.
    pub(super) fn reads(&self) -> Vec<&str> {
        match &self.input {
            Input::Read { from, .. } => vec![from.as_str()],
            Input::Key(fields) => fields.iter().map(String::as_str).collect(),
            _ => Vec::new(),
        }
    }

    /// Whether the stored value is a keyed hash (and so never a henkilötunnus).
    pub(super) fn hashed(&self) -> bool {
        matches!(
            self.input,
            Input::Read {
                reading: Reading::Text { hash: true },
                ..
            } | Input::Key(_)
        )
    }
}
