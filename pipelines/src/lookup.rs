//! Code lists shared by sources (`config/lookups/*.toml`): queue → service and sector,
//! unit code → unit and sector. The one home of what a lookup row means over time.
//!
//! A row may carry `valid_from` and `valid_to` (first and last day in force, both
//! inclusive; open when left out) and `successor` (the key that continues it after
//! `valid_to`). A key may have several rows, one per version, that must not overlap: a
//! unit renamed on 1.3.2025 is two rows of the same code, a unit merged into another on
//! 15.5.2025 is a row ending 14.5.2025 with the other's code as `successor`.
//!
//! Two questions are answered from this, at two times:
//! - **The structure in force then**, at load time: a source column mapped with
//!   `lookup = "units.sector"` and `as_of = "answered_at"` takes the sector of the version
//!   in force on the row's local date ([`Lookup::versions_of`]); a row dated outside every
//!   version of its key is rejected (quarantined) naming the versions and the successor.
//!   A loaded row keeps what was in force on its day, whatever is reorganised later.
//! - **A series continuing through renames and merges**, at query time: every lookup is a
//!   SQL table `lookup_<name>` (one row per version) and `lookup_<name>_series` (one row per
//!   key: the unit its series continues as today, that unit's current fields and a note),
//!   built from the config whenever tiles are computed ([`Lookup::tables`]). Tile SQL joins
//!   the series table, so a merge added to the config later continues old figures under
//!   the new unit at the next publish, without reloading anything.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, Date32Array, Float64Array, Int64Array, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use chrono::NaiveDate;
use serde::Deserialize;
use tilannekuva_conventions::datetime::epoch_days;

/// Fields of a row that say when it is in force, not what it says.
pub const TIME_FIELDS: [&str; 3] = ["valid_from", "valid_to", "successor"];

/// A code list shared by sources, for example queue → service, sector and first-line flag.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lookup {
    /// What the lookup is.
    pub description: String,
    /// Field of each row that is the key.
    pub key: String,
    /// Field that names a row for people (`unit`); the key when not given.
    #[serde(default)]
    pub label: Option<String>,
    /// The rows: one per key, or one per version of a key with `valid_from`, `valid_to`
    /// and `successor`.
    pub rows: Vec<BTreeMap<String, toml::Value>>,
}

/// One row of a lookup with its time in force.
#[derive(Debug, Clone, PartialEq)]
pub struct Version<'l> {
    /// The key.
    pub key: &'l str,
    /// First day in force; `None`: since always.
    pub from: Option<NaiveDate>,
    /// Last day in force; `None`: still in force.
    pub to: Option<NaiveDate>,
    /// Key that continues this one after `to`.
    pub successor: Option<&'l str>,
    /// The row.
    pub row: &'l BTreeMap<String, toml::Value>,
}

/// When a lookup row is in force: inclusive days, an open end where not given. The one
/// home of "in force on a day", for checking the lookups and for the rows read with them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InForce {
    /// First day; `None`: since always.
    pub from: Option<NaiveDate>,
    /// Last day; `None`: still in force.
    pub to: Option<NaiveDate>,
}

impl InForce {
    /// Whether `day` is within.
    pub fn contains(&self, day: NaiveDate) -> bool {
        self.from.is_none_or(|f| f <= day) && self.to.is_none_or(|t| day <= t)
    }

    /// `2020-01-01 – 2025-05-14`, `since 2025-05-15`, `until 2025-05-14`, `always`.
    pub fn describe(&self) -> String {
        match (self.from, self.to) {
            (None, None) => "always".into(),
            (Some(f), None) => format!("since {f}"),
            (None, Some(t)) => format!("until {t}"),
            (Some(f), Some(t)) => format!("{f} – {t}"),
        }
    }
}

impl Version<'_> {
    /// When the version is in force.
    pub fn in_force(&self) -> InForce {
        InForce {
            from: self.from,
            to: self.to,
        }
    }
}

fn date(v: &toml::Value) -> Option<NaiveDate> {
    let text = match v {
        toml::Value::Datetime(d) => d.to_string(),
        toml::Value::String(s) => s.clone(),
        _ => return None,
    };
    NaiveDate::parse_from_str(&text, "%Y-%m-%d").ok()
}

fn finnish_date(d: NaiveDate) -> String {
    d.format("%-d.%-m.%Y").to_string()
}

impl Lookup {
    /// Whether any row says when it is in force: then a source must say which of its
    /// columns dates each row (`as_of`).
    pub fn is_dated(&self) -> bool {
        self.rows
            .iter()
            .any(|r| TIME_FIELDS.iter().any(|f| r.contains_key(*f)))
    }

    /// The field naming a row for people.
    pub fn label_field(&self) -> &str {
        self.label.as_deref().unwrap_or(&self.key)
    }

    /// Every row with its time in force, in file order (rows whose key or dates cannot be
    /// read are left out here; [`Lookup::problems`] names them).
    pub fn versions(&self) -> Vec<Version<'_>> {
        self.rows
            .iter()
            .filter_map(|row| {
                Some(Version {
                    key: row.get(&self.key)?.as_str()?,
                    from: row.get("valid_from").and_then(date),
                    to: row.get("valid_to").and_then(date),
                    successor: row.get("successor").and_then(|s| s.as_str()),
                    row,
                })
            })
            .collect()
    }

    /// The versions of one key, earliest first.
    pub fn versions_of(&self, key: &str) -> Vec<Version<'_>> {
        let mut out: Vec<Version<'_>> = self
            .versions()
            .into_iter()
            .filter(|v| v.key == key)
            .collect();
        out.sort_by_key(|v| v.from);
        out
    }

    /// The value of `field` for the key's version in force today, else its latest version.
    pub fn get(&self, key: &str, field: &str) -> Option<&toml::Value> {
        self.versions_of(key).last().and_then(|v| v.row.get(field))
    }

    /// What is wrong with the rows, each naming the row (1-based) and the field.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        let keys: BTreeSet<&str> = self
            .rows
            .iter()
            .filter_map(|r| r.get(&self.key).and_then(|v| v.as_str()))
            .collect();
        for (i, row) in self.rows.iter().enumerate() {
            let at = format!("rows[{}]", i + 1);
            match row.get(&self.key) {
                Some(toml::Value::String(_)) => {}
                Some(v) => out.push(format!("{at}: key `{}` must be text, not {v}", self.key)),
                None => out.push(format!("{at}: has no key `{}`", self.key)),
            }
            for f in ["valid_from", "valid_to"] {
                if let Some(v) = row.get(f)
                    && date(v).is_none()
                {
                    out.push(format!("{at}: `{f}` must be a date YYYY-MM-DD, not {v}"));
                }
            }
            match row.get("successor") {
                None => {}
                Some(toml::Value::String(s)) if !keys.contains(s.as_str()) => out.push(format!(
                    "{at}: `successor` {s:?} is not a key of this lookup"
                )),
                Some(toml::Value::String(_)) if !row.contains_key("valid_to") => out.push(format!(
                    "{at}: a row with a `successor` needs the `valid_to` it ends on"
                )),
                Some(toml::Value::String(_)) => {}
                Some(v) => out.push(format!("{at}: `successor` must be a key, not {v}")),
            }
        }
        for key in &keys {
            let versions = self.versions_of(key);
            for v in &versions {
                if let (Some(f), Some(t)) = (v.from, v.to)
                    && t < f
                {
                    out.push(format!(
                        "`{key}`: `valid_to` {t} is before `valid_from` {f}"
                    ));
                }
            }
            for pair in versions.windows(2) {
                let (a, b) = (&pair[0], &pair[1]);
                let overlap = match (a.to, b.from) {
                    (Some(t), Some(f)) => f <= t,
                    _ => true,
                };
                if overlap {
                    out.push(format!(
                        "`{key}`: versions {} and {} overlap (one version of a key is in force on a day)",
                        a.in_force().describe(),
                        b.in_force().describe()
                    ));
                }
                if a.successor.is_some() {
                    out.push(format!(
                        "`{key}`: the version {} has a successor but is not the key's last",
                        a.in_force().describe()
                    ));
                }
            }
            if let Some(cycle) = self.successor_cycle(key) {
                out.push(format!("`{key}`: successors go round: {cycle}"));
            }
        }
        out
    }

    /// The chain of keys from `key` through successors when it comes back to itself.
    fn successor_cycle(&self, key: &str) -> Option<String> {
        let mut seen = vec![key.to_string()];
        let mut at = key.to_string();
        while let Some(next) = self.versions_of(&at).last().and_then(|v| v.successor) {
            seen.push(next.to_string());
            if next == key {
                return Some(seen.join(" → "));
            }
            if seen[..seen.len() - 1].iter().any(|s| s == next) {
                return None; // a cycle further on, reported for its own key
            }
            at = next.to_string();
        }
        None
    }

    /// The keys a series of `key` continues through, `key` first, then each successor
    /// (the last one is the unit the series continues as today).
    pub fn series(&self, key: &str) -> Vec<String> {
        let mut chain = vec![key.to_string()];
        while let Some(next) = self
            .versions_of(chain.last().expect("not empty"))
            .last()
            .and_then(|v| v.successor)
        {
            if chain.iter().any(|k| k == next) {
                break; // a cycle: [`Lookup::problems`] refuses it at check
            }
            chain.push(next.to_string());
        }
        chain
    }

    /// What happened to the series `key` is part of, for people: every rename and merge of
    /// the keys continuing as the same unit today, in date order. `None` when none of them
    /// ever changed. The same for every key of one series, so it can label the series.
    pub fn series_note(&self, key: &str) -> Option<String> {
        let head = self.series(key).pop().expect("not empty");
        let keys: BTreeSet<&str> = self.versions().into_iter().map(|v| v.key).collect();
        let mut steps: Vec<(NaiveDate, String)> = keys
            .into_iter()
            .filter(|k| self.series(k).last() == Some(&head))
            .flat_map(|k| self.changes_of(k))
            .collect();
        steps.sort();
        steps.dedup();
        (!steps.is_empty()).then(|| {
            steps
                .into_iter()
                .map(|(_, s)| s)
                .collect::<Vec<_>>()
                .join("; ")
        })
    }

    /// The renames of `key` and where it continues, each with the day it took effect.
    fn changes_of(&self, key: &str) -> Vec<(NaiveDate, String)> {
        let label = self.label_field();
        let name = |v: &Version<'_>| {
            v.row
                .get(label)
                .and_then(|l| l.as_str())
                .unwrap_or(v.key)
                .to_string()
        };
        let mut out = Vec::new();
        let versions = self.versions_of(key);
        for pair in versions.windows(2) {
            if name(&pair[0]) != name(&pair[1])
                && let Some(from) = pair[1].from
            {
                out.push((
                    from,
                    format!(
                        "{} ({key}) is named {} from {}",
                        name(&pair[0]),
                        name(&pair[1]),
                        finnish_date(from)
                    ),
                ));
            }
        }
        if let Some(last) = versions.last()
            && let (Some(next), Some(to)) = (last.successor, last.to)
        {
            let day = to.succ_opt().unwrap_or(to);
            let next_name = self
                .versions_of(next)
                .into_iter()
                .find(|v| v.in_force().contains(day))
                .map(|v| name(&v))
                .unwrap_or_else(|| next.to_string());
            out.push((
                day,
                format!(
                    "{} ({key}) continues as {next_name} ({next}) from {}",
                    name(last),
                    finnish_date(day)
                ),
            ));
        }
        out
    }

    /// Fields of the rows, the key first, then in order of first appearance (without the
    /// time fields).
    pub fn fields(&self) -> Vec<String> {
        let mut out = vec![self.key.clone()];
        for row in &self.rows {
            for f in row.keys() {
                if !out.contains(f) && !TIME_FIELDS.contains(&f.as_str()) {
                    out.push(f.clone());
                }
            }
        }
        out
    }

    /// The lookup as SQL tables, `lookup_<name>` (every version) and
    /// `lookup_<name>_series` (per key, what its series continues as); see the module.
    pub fn tables(&self, name: &str) -> Result<Vec<(String, RecordBatch)>, String> {
        let fields = self.fields();
        let versions = self.versions();
        let fail = |e: arrow::error::ArrowError| format!("lookup `{name}`: {e}");

        let mut columns: Vec<(Field, ArrayRef)> = fields
            .iter()
            .map(|f| column(f, versions.iter().map(|v| v.row.get(f))))
            .collect();
        columns.push((
            Field::new("valid_from", DataType::Date32, true),
            Arc::new(Date32Array::from_iter(
                versions.iter().map(|v| v.from.map(epoch_days)),
            )),
        ));
        columns.push((
            Field::new("valid_to", DataType::Date32, true),
            Arc::new(Date32Array::from_iter(
                versions.iter().map(|v| v.to.map(epoch_days)),
            )),
        ));
        columns.push((
            Field::new("successor", DataType::Utf8, true),
            Arc::new(StringArray::from_iter(versions.iter().map(|v| v.successor))),
        ));
        let (schema, arrays): (Vec<Field>, Vec<ArrayRef>) = columns.into_iter().unzip();
        let all = RecordBatch::try_new(Arc::new(Schema::new(schema)), arrays).map_err(fail)?;

        // Per key: the series' last key, that key's latest version's fields, the note.
        let keys: BTreeSet<&str> = versions.iter().map(|v| v.key).collect();
        let heads: Vec<(&str, String, Option<String>)> = keys
            .iter()
            .map(|k| {
                let head = self.series(k).pop().expect("not empty");
                (*k, head, self.series_note(k))
            })
            .collect();
        let head_rows: Vec<Option<&BTreeMap<String, toml::Value>>> = heads
            .iter()
            .map(|(_, head, _)| self.versions_of(head).last().map(|v| v.row))
            .collect();
        let mut columns: Vec<(Field, ArrayRef)> = vec![(
            Field::new(&self.key, DataType::Utf8, false),
            Arc::new(StringArray::from_iter_values(heads.iter().map(|h| h.0))),
        )];
        for f in &fields {
            let (field, array) = column(
                &format!("series_{f}"),
                head_rows.iter().map(|r| r.and_then(|r| r.get(f))),
            );
            columns.push((field, array));
        }
        columns.push((
            Field::new("note", DataType::Utf8, true),
            Arc::new(StringArray::from_iter(heads.iter().map(|h| h.2.as_deref()))),
        ));
        let (schema, arrays): (Vec<Field>, Vec<ArrayRef>) = columns.into_iter().unzip();
        let series = RecordBatch::try_new(Arc::new(Schema::new(schema)), arrays).map_err(fail)?;
        Ok(vec![
            (format!("lookup_{name}"), all),
            (format!("lookup_{name}_series"), series),
        ])
    }
}

/// A column of TOML values, typed by what they are: booleans, whole numbers, numbers, else
/// text.
fn column<'v>(
    name: &str,
    values: impl Iterator<Item = Option<&'v toml::Value>> + Clone,
) -> (Field, ArrayRef) {
    let all = |test: fn(&toml::Value) -> bool| values.clone().flatten().all(test);
    let any = values.clone().flatten().next().is_some();
    let array: ArrayRef = if any && all(|v| v.is_bool()) {
        Arc::new(BooleanArray::from_iter(
            values.map(|v| v.and_then(|v| v.as_bool())),
        ))
    } else if any && all(|v| v.is_integer()) {
        Arc::new(Int64Array::from_iter(
            values.map(|v| v.and_then(|v| v.as_integer())),
        ))
    } else if any && all(|v| v.is_integer() || v.is_float()) {
        Arc::new(Float64Array::from_iter(values.map(|v| {
            v.and_then(|v| v.as_float().or(v.as_integer().map(|i| i as f64)))
        })))
    } else {
        Arc::new(StringArray::from_iter(values.map(|v| {
            v.map(|v| match v {
                toml::Value::String(s) => s.clone(),
                other => other.to_string(),
            })
        })))
    };
    (Field::new(name, array.data_type().clone(), true), array)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn units() -> Lookup {
        toml::from_str(
            r#"
description = "units"
key = "unit_code"
label = "unit"

[[rows]]
unit_code = "TA01"
unit = "Hämeenlinnan terveysasema"
sector = "Terveyspalvelut"

[[rows]]
unit_code = "TA02"
unit = "Riihimäen terveysasema"
sector = "Terveyspalvelut"

[[rows]]
unit_code = "TA06"
unit = "Hausjärven terveysasema"
sector = "Terveyspalvelut"
valid_to = 2025-05-14
successor = "TA02"

[[rows]]
unit_code = "ST01"
unit = "Suun terveydenhuolto Hämeenlinna"
sector = "Terveyspalvelut"
valid_to = 2025-02-28

[[rows]]
unit_code = "ST01"
unit = "Hämeenlinnan suun terveydenhuolto"
sector = "Terveyspalvelut"
valid_from = 2025-03-01
"#,
        )
        .unwrap()
    }

    #[test]
    fn a_merged_unit_continues_as_its_successor() {
        let u = units();
        assert!(u.problems().is_empty(), "{:?}", u.problems());
        assert_eq!(u.series("TA06"), ["TA06", "TA02"]);
        assert_eq!(u.series("TA02"), ["TA02"]);
        assert_eq!(
            u.series_note("TA06").unwrap(),
            "Hausjärven terveysasema (TA06) continues as Riihimäen terveysasema (TA02) from 15.5.2025"
        );
        assert_eq!(
            u.series_note("ST01").unwrap(),
            "Suun terveydenhuolto Hämeenlinna (ST01) is named Hämeenlinnan suun terveydenhuolto from 1.3.2025"
        );
        assert_eq!(u.series_note("TA02"), u.series_note("TA06"));
        assert_eq!(u.series_note("TA01"), None);
        let day = |s: &str| s.parse::<NaiveDate>().unwrap();
        let v = u.versions_of("TA06");
        assert!(v[0].in_force().contains(day("2025-05-14")));
        assert!(!v[0].in_force().contains(day("2025-05-15")));
        assert_eq!(
            u.get("ST01", "unit").unwrap().as_str(),
            Some("Hämeenlinnan suun terveydenhuolto")
        );
    }

    #[test]
    fn the_tables_have_a_row_per_version_and_a_series_row_per_key() {
        let tables = units().tables("units").unwrap();
        let (name, all) = &tables[0];
        assert_eq!(name, "lookup_units");
        assert_eq!(all.num_rows(), 5);
        let fields: Vec<&str> = all
            .schema_ref()
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect();
        assert_eq!(
            fields,
            [
                "unit_code",
                "sector",
                "unit",
                "valid_from",
                "valid_to",
                "successor"
            ]
        );
        let (name, series) = &tables[1];
        assert_eq!(name, "lookup_units_series");
        assert_eq!(series.num_rows(), 4);
        let text = arrow::util::pretty::pretty_format_batches(std::slice::from_ref(series))
            .unwrap()
            .to_string();
        assert!(
            text.contains(
                "| TA06      | TA02             | Terveyspalvelut | Riihimäen terveysasema"
            ),
            "{text}"
        );
    }

    #[test]
    fn overlaps_unknown_successors_and_cycles_are_refused() {
        let bad: Lookup = toml::from_str(
            r#"
description = "units"
key = "unit_code"

[[rows]]
unit_code = "A"
valid_to = 2025-05-14
successor = "B"

[[rows]]
unit_code = "B"
valid_to = 2025-06-30
successor = "A"

[[rows]]
unit_code = "C"
valid_from = 2025-01-01

[[rows]]
unit_code = "C"
valid_from = 2025-03-01
successor = "X"

[[rows]]
unit_code = "D"
valid_from = "1.3.2025"
"#,
        )
        .unwrap();
        let p = bad.problems().join("\n");
        assert!(p.contains("`A`: successors go round: A → B → A"), "{p}");
        assert!(p.contains("rows[4]: `successor` \"X\" is not a key"), "{p}");
        assert!(
            p.contains("`C`: versions since 2025-01-01 and since 2025-03-01 overlap"),
            "{p}"
        );
        assert!(
            p.contains("rows[5]: `valid_from` must be a date YYYY-MM-DD, not \"1.3.2025\""),
            "{p}"
        );
    }
}
