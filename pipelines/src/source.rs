//! Sources checked and compiled once: [`compile_sources`] validates every source config
//! (its keys, its table, its lookups and its `[fetch]`) and compiles what passes into a
//! [`CompiledSource`] (its fetch prepared, its row plan built), reporting every problem at
//! once. Fetching and loading then use the compiled form and never check the config again.

use std::collections::BTreeMap;

use tilannekuva_warehouse::catalog::TableDef;

use tilannekuva_warehouse::Covered;

use crate::Result;
use crate::completeness::NamePattern;
use crate::config::{self, Lookup, Problems, SourceConfig, SourceRef};
use crate::fetch::{Delivery, Fetcher};
use crate::normalise::RowPlan;

/// A source that passed validation, compiled against its canonical table.
#[derive(Debug, Clone)]
pub struct CompiledSource {
    /// The source config as written.
    pub config: SourceConfig,
    /// Where its exports come from, ready to fetch.
    pub fetch: Fetcher,
    /// The table it fills.
    pub table: TableDef,
    /// How each row of an export becomes a row of the table.
    pub rows: RowPlan,
    /// Reads the range an export covers from its file name (`[load]
    /// covered_range_from_name`).
    pub covered_by_name: Option<NamePattern>,
}

impl CompiledSource {
    /// The source's name.
    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// The source's name and config file, for messages.
    pub fn reference(&self) -> SourceRef<'_> {
        self.config.reference()
    }

    /// The error for an export of this source that cannot be read at all, at `line` when
    /// known.
    pub fn unreadable(&self, file: &str, line: Option<u64>, message: String) -> crate::Error {
        crate::Error::Unreadable {
            source_name: self.config.name.clone(),
            file: file.to_string(),
            line,
            message,
        }
    }

    /// Binds the row plan to an export's header; see [`RowPlan::bind`].
    pub fn bind(&self, file: &str, header: &[String]) -> Result<crate::normalise::Binding> {
        self.rows.bind(self.reference(), file, header)
    }

    /// The range of days a delivery covers: what its fetch knows, else what its name
    /// declares. A name the pattern does not read is loaded all the same, with a warning:
    /// its months then count as delivered only by their rows.
    pub fn covered(&self, delivery: &Delivery) -> Option<Covered> {
        if delivery.covers.is_some() {
            return delivery.covers;
        }
        let pattern = self.covered_by_name.as_ref()?;
        match pattern.covered(&delivery.name) {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::warn!(source = %self.name(), file = %delivery.name, "`load.covered_range_from_name` declares no range: {e}");
                None
            }
        }
    }
}

/// Every source compiled, and what validation only warned about.
#[derive(Debug, Clone, Default)]
pub struct CompiledSources {
    /// The sources, in config order.
    pub sources: Vec<CompiledSource>,
    /// Warnings, each naming the file and key (an unset token variable, say).
    pub warnings: Vec<String>,
    /// The sources whose configs have problems: the others load without them.
    pub broken: Vec<BrokenSource>,
}

/// A source config that cannot be used, and why. Loading goes on without it: a typo in one
/// file must not stop the night's loads of every other source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokenSource {
    /// Its `name`, or the file's stem when the file could not be read at all.
    pub name: String,
    /// Its config file.
    pub file: std::path::PathBuf,
    /// The table it fills, when the file says.
    pub table: Option<String>,
    /// Every problem, each naming the file and the key.
    pub problems: Vec<String>,
}

/// Validates every source and compiles each against its table and lookups. The error is
/// every problem found, each naming the file and the key: value types in `map`, `default`,
/// `value` and lookups are checked too, for every source whose keys are otherwise right.
pub fn compile_sources(
    sources: &[SourceConfig],
    tables: &BTreeMap<String, TableDef>,
    lookups: &BTreeMap<String, Lookup>,
) -> std::result::Result<CompiledSources, Vec<String>> {
    let compiled = compile_each(sources, tables, lookups);
    if compiled.broken.is_empty() {
        Ok(compiled)
    } else {
        Err(compiled
            .broken
            .into_iter()
            .flat_map(|b| b.problems)
            .collect())
    }
}

/// Like [`compile_sources`], but a source with problems is set aside
/// ([`CompiledSources::broken`]) and the others are compiled all the same.
pub fn compile_each(
    sources: &[SourceConfig],
    tables: &BTreeMap<String, TableDef>,
    lookups: &BTreeMap<String, Lookup>,
) -> CompiledSources {
    let mut problems = Problems::default();
    let mut names = std::collections::BTreeSet::new();
    let mut compiled = Vec::new();
    let mut broken = Vec::new();
    for s in sources {
        let before = problems.errors.len();
        if !names.insert(s.name.as_str()) {
            problems.error(
                &s.file,
                "name",
                format!("source `{}` is defined twice", s.name),
            );
        }
        let fetch = s
            .fetch
            .compile(s.reference(), s.load.on_redelivery, &mut problems);
        config::validate_source(s, tables, lookups, &mut problems);
        let set_aside = |problems: &Problems, broken: &mut Vec<BrokenSource>| {
            broken.push(BrokenSource {
                name: s.name.clone(),
                file: s.file.clone(),
                table: Some(s.table.clone()),
                problems: problems.errors[before..].to_vec(),
            });
        };
        if problems.errors.len() > before {
            set_aside(&problems, &mut broken);
            continue;
        }
        let (Some(fetch), Some(table)) = (fetch, tables.get(&s.table)) else {
            continue; // reported above
        };
        if let Some(rows) = RowPlan::compile(s, table, lookups, &mut problems) {
            let covered_by_name = s
                .load
                .covered_range_from_name
                .as_deref()
                .and_then(|p| NamePattern::compile(p).ok()); // checked above
            compiled.push(CompiledSource {
                config: s.clone(),
                fetch,
                table: table.clone(),
                rows,
                covered_by_name,
            });
        } else {
            set_aside(&problems, &mut broken);
        }
    }
    CompiledSources {
        sources: compiled,
        warnings: problems.warnings,
        broken,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = r#"
name = "visits"
description = "visits"
period_column = "at"
[[columns]]
name = "at"
type = "timestamp"
nullable = false
description = "when"
[[columns]]
name = "minutes"
type = "int64"
description = "how long"
"#;

    fn source(name: &str, extra: &str) -> SourceConfig {
        let mut s: SourceConfig = toml::from_str(&format!(
            r#"
name = "{name}"
description = "d"
table = "visits"
{extra}
fetch = {{ kind = "drop_folder", path = "in", glob = "*.csv" }}
format = {{ kind = "csv" }}
[columns]
at = {{ from = "Aika", format = "d.m.yyyy H:mm" }}
minutes = {{ from = "Kesto", map = {{ "pitkä" = 60, "lyhyt" = "5" }} }}
"#
        ))
        .unwrap();
        s.file = format!("config/sources/{name}.toml").into();
        s
    }

    fn tables() -> BTreeMap<String, TableDef> {
        let t: TableDef = toml::from_str(TABLE).unwrap();
        BTreeMap::from([(t.name.clone(), t)])
    }

    #[test]
    fn every_problem_of_every_source_is_reported_at_once() {
        let mut other = source("b", "checks = [\"minutes >= duration\"]");
        other.table = "nope".into();
        let err =
            compile_sources(&[source("a", ""), other], &tables(), &BTreeMap::new()).unwrap_err();
        assert_eq!(err.len(), 2, "{err:?}");
        assert!(
            err[0].starts_with("config/sources/a.toml: `columns.minutes.map.lyhyt`: "),
            "a value that does not fit its column: {err:?}"
        );
        assert!(
            err[1].starts_with("config/sources/b.toml: `table`: unknown table `nope`"),
            "{err:?}"
        );
    }

    #[test]
    fn row_rules_are_bound_to_mapped_columns() {
        let fixed = |s: SourceConfig| {
            let mut s = s;
            s.columns.get_mut("minutes").unwrap().map = None;
            s
        };
        let ok = compile_sources(
            &[fixed(source("a", "checks = [\"minutes >= minutes\"]"))],
            &tables(),
            &BTreeMap::new(),
        )
        .unwrap();
        assert_eq!(ok.sources.len(), 1);
        assert_eq!(ok.sources[0].name(), "a");
        let err = compile_sources(
            &[fixed(source("a", "checks = [\"at <= left_at\"]"))],
            &tables(),
            &BTreeMap::new(),
        )
        .unwrap_err();
        assert_eq!(
            err,
            vec![
                "config/sources/a.toml: `checks[0]`: `left_at` is not a mapped column of this source"
            ]
        );
    }
}
