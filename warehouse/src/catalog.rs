//! Canonical table definitions: the contract between the pipelines that fill a table and
//! the SQL that reads it. One TOML file per table in `config/tables/`.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use serde::{Deserialize, Serialize};

/// Lineage column: the source (config name) a row came from.
pub const LINEAGE_SOURCE: &str = "_source";
/// Lineage column: sha256 of the export file a row came from.
pub const LINEAGE_FILE: &str = "_file_sha256";
/// Lineage column: line of the export file (or record number of a JSON export).
pub const LINEAGE_LINE: &str = "_line";
/// Partition column: reporting month `YYYY-MM` in Europe/Helsinki.
pub const PERIOD: &str = "period";

/// The value types a canonical column can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnType {
    /// UTF-8 text.
    String,
    /// 64-bit integer.
    Int64,
    /// 64-bit float.
    Float64,
    /// true / false.
    Bool,
    /// An instant, stored in UTC with microsecond precision.
    Timestamp,
    /// A calendar date.
    Date,
}

impl ColumnType {
    /// The Arrow type the column is stored as.
    pub fn arrow(self) -> DataType {
        match self {
            ColumnType::String => DataType::Utf8,
            ColumnType::Int64 => DataType::Int64,
            ColumnType::Float64 => DataType::Float64,
            ColumnType::Bool => DataType::Boolean,
            ColumnType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            ColumnType::Date => DataType::Date32,
        }
    }
}

/// Which reporting periods a source delivers data for, for the completeness of the tiles
/// that read its table (`[load] cadence` of a source config).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cadence {
    /// Data for every month.
    #[default]
    Month,
    /// Data once a year (Sotkanet's population figures).
    Year,
}

/// When a source's delivery for a month counts as complete (`[load] complete_when` of a
/// source config). A month that is not complete is shown grey, with the reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CompleteWhen {
    /// The source's rows for the month reach its last days (`[load] end_within_days`), or
    /// the export that has them continues past the month's end. A month with no rows
    /// counts only when an export declares it covered.
    #[default]
    DataReachesEnd,
    /// The months inside the range an export declares it covers (from its file name, or
    /// the range an API was asked for), with or without rows.
    DeclaredRange,
    /// Any row of the month: for monthly aggregates and month-end snapshots, whose rows
    /// carry a date, not the time of an event.
    AnyRow,
}

impl CompleteWhen {
    /// The config spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            CompleteWhen::DataReachesEnd => "data_reaches_end",
            CompleteWhen::DeclaredRange => "declared_range",
            CompleteWhen::AnyRow => "any_row",
        }
    }
}

/// One column of a canonical table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnDef {
    /// Column name in SQL.
    pub name: String,
    /// Value type.
    #[serde(rename = "type")]
    pub kind: ColumnType,
    /// Whether the column may be empty.
    #[serde(default = "default_nullable")]
    pub nullable: bool,
    /// What the column means, for the data dictionary.
    pub description: String,
    /// Unit of a numeric column (`seconds`, `minutes`, `persons`, `%`).
    #[serde(default)]
    pub unit: Option<String>,
}

fn default_nullable() -> bool {
    true
}

/// A canonical warehouse table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableDef {
    /// Table name in SQL.
    pub name: String,
    /// What one row is.
    pub description: String,
    /// The column whose Helsinki-local month is the row's reporting period.
    pub period_column: String,
    /// The columns, in order.
    pub columns: Vec<ColumnDef>,
}

impl TableDef {
    /// Reads one table definition file.
    pub fn from_file(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let def: TableDef =
            toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        def.validate()
            .map_err(|problems| format!("{}: {}", path.display(), problems.join("; ")))?;
        Ok(def)
    }

    /// Checks the definition; returns every problem found.
    pub fn validate(&self) -> Result<(), Vec<String>> {
        let mut problems = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        for c in &self.columns {
            if !seen.insert(c.name.as_str()) {
                problems.push(format!("column `{}` is defined twice", c.name));
            }
            if c.name.starts_with('_') || c.name == PERIOD {
                problems.push(format!("column name `{}` is reserved for lineage", c.name));
            }
        }
        match self.column(&self.period_column) {
            None => problems.push(format!(
                "period_column `{}` is not a column of the table",
                self.period_column
            )),
            Some(c) if !matches!(c.kind, ColumnType::Timestamp | ColumnType::Date) => problems
                .push(format!(
                    "period_column `{}` must be a timestamp or date",
                    self.period_column
                )),
            Some(c) if c.nullable => problems.push(format!(
                "period_column `{}` must be `nullable = false`",
                self.period_column
            )),
            Some(_) => {}
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }

    /// A column by name.
    pub fn column(&self, name: &str) -> Option<&ColumnDef> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The stored schema: the declared columns, then `period` and the lineage columns.
    pub fn arrow_schema(&self) -> SchemaRef {
        let mut fields: Vec<Field> = self
            .columns
            .iter()
            .map(|c| Field::new(&c.name, c.kind.arrow(), c.nullable))
            .collect();
        fields.push(Field::new(PERIOD, DataType::Utf8, false));
        fields.push(Field::new(LINEAGE_SOURCE, DataType::Utf8, false));
        fields.push(Field::new(LINEAGE_FILE, DataType::Utf8, false));
        fields.push(Field::new(LINEAGE_LINE, DataType::Int64, false));
        Arc::new(Schema::new(fields))
    }
}

/// Reads every `*.toml` in a folder as a table definition, keyed by table name.
pub fn load_tables(dir: &Path) -> Result<BTreeMap<String, TableDef>, Vec<String>> {
    let mut tables = BTreeMap::new();
    let mut problems = Vec::new();
    let mut paths: Vec<_> = match std::fs::read_dir(dir) {
        Ok(entries) => entries.filter_map(|e| e.ok().map(|e| e.path())).collect(),
        Err(e) => return Err(vec![format!("{}: {e}", dir.display())]),
    };
    paths.sort();
    for path in paths
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
    {
        match TableDef::from_file(&path) {
            Ok(def) => {
                if tables.contains_key(&def.name) {
                    problems.push(format!(
                        "{}: table `{}` is defined in two files",
                        path.display(),
                        def.name
                    ));
                }
                tables.insert(def.name.clone(), def);
            }
            Err(e) => problems.push(e),
        }
    }
    if problems.is_empty() {
        Ok(tables)
    } else {
        Err(problems)
    }
}

/// The Arrow schemas of a set of tables, for registering them in SQL.
pub fn schemas(tables: &BTreeMap<String, TableDef>) -> BTreeMap<String, SchemaRef> {
    tables
        .iter()
        .map(|(k, v)| (k.clone(), v.arrow_schema()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_reports_every_problem() {
        let def: TableDef = toml::from_str(
            r#"
name = "t"
description = "d"
period_column = "when"
[[columns]]
name = "when"
type = "string"
description = "x"
[[columns]]
name = "_line"
type = "int64"
description = "x"
"#,
        )
        .unwrap();
        let problems = def.validate().unwrap_err();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].contains("reserved"));
        assert!(problems[1].contains("timestamp or date"));
    }

    #[test]
    fn unknown_keys_are_refused() {
        let err = toml::from_str::<TableDef>(
            "name='t'\ndescription='d'\nperiod_column='x'\ncolumns=[]\ncolour='red'",
        )
        .unwrap_err();
        assert!(err.to_string().contains("colour"), "{err}");
    }
}
