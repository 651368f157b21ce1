//! Source configuration: one TOML file per source in `config/sources/`, plus shared
//! lookups in `config/lookups/`. A new export layout is a new file here, not new code.
//!
//! Parsing refuses unknown keys; [`validate`] then checks every source against the
//! canonical table it fills and reports all problems at once, each naming the file and key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use tilannekuva_conventions::boolean::{BoolVocabulary, default_missing_markers};
use tilannekuva_conventions::datetime::{
    AmbiguousPolicy, LocalTimePolicy, NonexistentPolicy, TimeFormat,
};
use tilannekuva_conventions::encoding::TextEncoding;
use tilannekuva_conventions::number::NumberFormat;
use tilannekuva_warehouse::catalog::{Cadence, ColumnType, TableDef};

use crate::fetch::FetchConfig;

/// One source: where its exports come from, how they are laid out, and how each canonical
/// column is read from them.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// Unique name; also the folder name in the raw area.
    pub name: String,
    /// What the source is, for people.
    pub description: String,
    /// Canonical table the source fills.
    pub table: String,
    /// Who to call when the source breaks.
    #[serde(default)]
    pub owner: Option<String>,
    /// Where exports come from.
    pub fetch: FetchConfig,
    /// How an export file is laid out.
    pub format: FormatConfig,
    /// How local times without an offset are read.
    #[serde(default)]
    pub time: TimeConfig,
    /// What a load may reject and how redeliveries are treated.
    #[serde(default)]
    pub load: LoadPolicy,
    /// Canonical column name → how to read it.
    pub columns: BTreeMap<String, ColumnMapping>,
    /// Source columns holding personal data; never read, never stored.
    #[serde(default)]
    pub drop: Vec<String>,
    /// Other source columns that are deliberately not used.
    #[serde(default)]
    pub ignore: Vec<String>,
    /// Row rules across columns, such as `"accepted_at >= requested_at"`.
    #[serde(default)]
    pub checks: Vec<String>,
    /// The file this config was read from (set when loading).
    #[serde(skip)]
    pub file: PathBuf,
}

/// Layout of an export file.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum FormatConfig {
    /// Delimited text.
    Csv {
        /// Field delimiter, `;` in Finnish Excel exports.
        #[serde(default = "default_delimiter")]
        delimiter: char,
        /// Quote character.
        #[serde(default = "default_quote")]
        quote: char,
        /// Whether the first line is a header (required: columns are mapped by name).
        #[serde(default = "yes")]
        header: bool,
        /// Text encoding.
        #[serde(default = "default_encoding")]
        encoding: TextEncoding,
        /// Number layout.
        #[serde(default)]
        numbers: NumberFormat,
        /// Values meaning "no value".
        #[serde(default = "default_missing_markers")]
        missing: Vec<String>,
        /// Words for true and false.
        #[serde(default)]
        booleans: BoolVocabulary,
    },
    /// A JSON array of flat objects, such as the Sotkanet REST API's answer.
    JsonArray {
        /// Values meaning "no value" (JSON null always does).
        #[serde(default = "default_missing_markers")]
        missing: Vec<String>,
    },
}

fn default_delimiter() -> char {
    ';'
}
fn default_quote() -> char {
    '"'
}
fn yes() -> bool {
    true
}
fn default_encoding() -> TextEncoding {
    TextEncoding::Utf8
}

impl FormatConfig {
    pub(crate) fn numbers(&self) -> NumberFormat {
        match self {
            FormatConfig::Csv { numbers, .. } => numbers.clone(),
            FormatConfig::JsonArray { .. } => NumberFormat::plain(),
        }
    }
    pub(crate) fn missing(&self) -> &[String] {
        match self {
            FormatConfig::Csv { missing, .. } | FormatConfig::JsonArray { missing } => missing,
        }
    }
    pub(crate) fn booleans(&self) -> BoolVocabulary {
        match self {
            FormatConfig::Csv { booleans, .. } => booleans.clone(),
            FormatConfig::JsonArray { .. } => BoolVocabulary::default(),
        }
    }
}

/// How wall-clock times without an offset are turned into instants.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeConfig {
    /// IANA time zone of the source's local times.
    #[serde(default = "default_tz")]
    pub timezone: String,
    /// A local time in the repeated autumn hour: `earlier`, `later` or `reject`.
    #[serde(default = "default_ambiguous")]
    pub ambiguous: AmbiguousPolicy,
    /// A local time in the skipped spring hour: `shift_forward` or `reject`.
    #[serde(default = "default_nonexistent")]
    pub nonexistent: NonexistentPolicy,
}

fn default_tz() -> String {
    "Europe/Helsinki".into()
}
fn default_ambiguous() -> AmbiguousPolicy {
    AmbiguousPolicy::Reject
}
fn default_nonexistent() -> NonexistentPolicy {
    NonexistentPolicy::Reject
}

impl Default for TimeConfig {
    fn default() -> Self {
        Self {
            timezone: default_tz(),
            ambiguous: default_ambiguous(),
            nonexistent: default_nonexistent(),
        }
    }
}

impl TimeConfig {
    /// The policy, once the time zone name is known to be valid.
    pub fn policy(&self) -> Result<LocalTimePolicy, String> {
        let tz = self
            .timezone
            .parse()
            .map_err(|_| format!("unknown time zone `{}`", self.timezone))?;
        Ok(LocalTimePolicy {
            tz,
            ambiguous: self.ambiguous,
            nonexistent: self.nonexistent,
        })
    }
}

/// What happens when an export for an already loaded period arrives with different content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Redelivery {
    /// The new export's periods replace this source's earlier rows for those periods.
    Replace,
    /// The new export's rows are added to what is there.
    Append,
}

/// Limits and policies of a load.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadPolicy {
    /// Policy for corrected redeliveries.
    #[serde(default = "default_redelivery")]
    pub on_redelivery: Redelivery,
    /// A load whose rejected share of rows exceeds this fails as a whole.
    #[serde(default = "default_max_reject_share")]
    pub max_reject_share: f64,
    /// How often the source is expected to deliver, in hours; later than this is "late".
    #[serde(default)]
    pub expected_every_hours: Option<f64>,
    /// Which reporting periods the source covers: `month` (every month) or `year`.
    #[serde(default = "default_cadence")]
    pub cadence: Cadence,
}

fn default_cadence() -> Cadence {
    Cadence::Month
}

fn default_redelivery() -> Redelivery {
    Redelivery::Replace
}
fn default_max_reject_share() -> f64 {
    0.02
}

impl Default for LoadPolicy {
    fn default() -> Self {
        Self {
            on_redelivery: default_redelivery(),
            max_reject_share: default_max_reject_share(),
            expected_every_hours: None,
            cadence: default_cadence(),
        }
    }
}

/// How one canonical column is read from the export.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnMapping {
    /// Source column (header name, or JSON key).
    #[serde(default)]
    pub from: Option<String>,
    /// A constant instead of a source column.
    #[serde(default)]
    pub value: Option<toml::Value>,
    /// Time format of a timestamp or date column (`d.m.yyyy H:mm`, `iso8601`, `epoch_seconds`, ...).
    #[serde(default)]
    pub format: Option<String>,
    /// Raw value → canonical value. A raw value not listed is rejected unless `default` is set.
    #[serde(default)]
    pub map: Option<BTreeMap<String, toml::Value>>,
    /// Value for raw values missing from `map`.
    #[serde(default)]
    pub default: Option<toml::Value>,
    /// `lookup.field`: the raw value is a key of a lookup in `config/lookups/`.
    #[serde(default)]
    pub lookup: Option<String>,
    /// For a boolean: true when the raw list (split by `separator`) contains this item.
    #[serde(default)]
    pub contains: Option<String>,
    /// Separator of a list value, for `contains`.
    #[serde(default = "default_separator")]
    pub separator: String,
    /// Multiply a number, for unit conversion (milliseconds → seconds is 0.001).
    #[serde(default)]
    pub scale: Option<f64>,
    /// Smallest allowed number.
    #[serde(default)]
    pub min: Option<f64>,
    /// Largest allowed number.
    #[serde(default)]
    pub max: Option<f64>,
    /// Pseudonymise: store a keyed hash of the value instead of the value.
    #[serde(default)]
    pub hash: bool,
}

fn default_separator() -> String {
    ";".into()
}

/// A code list shared by sources, for example queue → service, sector and first-line flag.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lookup {
    /// What the lookup is.
    pub description: String,
    /// Field of each row that is the key.
    pub key: String,
    /// The rows.
    pub rows: Vec<BTreeMap<String, toml::Value>>,
}

impl Lookup {
    /// The value of `field` for the row with key `key`.
    pub fn get(&self, key: &str, field: &str) -> Option<&toml::Value> {
        self.rows
            .iter()
            .find(|r| r.get(&self.key).and_then(|v| v.as_str()) == Some(key))
            .and_then(|r| r.get(field))
    }
}

/// Reads every `*.toml` file of a folder with `parse`, sorted by file name.
pub fn read_dir_toml<T>(
    dir: &Path,
    parse: impl Fn(&Path, &str) -> Result<T, String>,
) -> Result<Vec<T>, Vec<String>> {
    let entries = std::fs::read_dir(dir).map_err(|e| vec![format!("{}: {e}", dir.display())])?;
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.retain(|p| p.extension().is_some_and(|e| e == "toml"));
    paths.sort();
    let mut out = Vec::new();
    let mut problems = Vec::new();
    for p in paths {
        match std::fs::read_to_string(&p) {
            Ok(text) => match parse(&p, &text) {
                Ok(v) => out.push(v),
                Err(e) => problems.push(e),
            },
            Err(e) => problems.push(format!("{}: {e}", p.display())),
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

/// Reads the source configs of a folder.
pub fn load_sources(dir: &Path) -> Result<Vec<SourceConfig>, Vec<String>> {
    read_dir_toml(dir, |path, text| {
        let mut s: SourceConfig =
            toml::from_str(text).map_err(|e| format!("{}: {e}", path.display()))?;
        s.file = path.to_path_buf();
        Ok(s)
    })
}

/// Reads the lookups of a folder, keyed by file stem.
pub fn load_lookups(dir: &Path) -> Result<BTreeMap<String, Lookup>, Vec<String>> {
    let pairs = read_dir_toml(dir, |path, text| {
        let l: Lookup = toml::from_str(text).map_err(|e| format!("{}: {e}", path.display()))?;
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        Ok((stem, l))
    })?;
    Ok(pairs.into_iter().collect())
}

/// Checks sources against the tables and lookups; returns every problem, each naming the
/// file and the key.
pub fn validate(
    sources: &[SourceConfig],
    tables: &BTreeMap<String, TableDef>,
    lookups: &BTreeMap<String, Lookup>,
) -> Result<(), Vec<String>> {
    let mut problems = Vec::new();
    let mut names = std::collections::BTreeSet::new();
    for s in sources {
        let f = s.file.display();
        let mut bad = |key: &str, msg: String| problems.push(format!("{f}: `{key}`: {msg}"));
        if !names.insert(s.name.as_str()) {
            bad("name", format!("source `{}` is defined twice", s.name));
        }
        if s.name.is_empty()
            || !s
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            bad(
                "name",
                format!("`{}` must be letters, digits, `_` or `-`", s.name),
            );
        }
        if let Err(e) = s.time.policy() {
            bad("time.timezone", e);
        }
        if !(0.0..=1.0).contains(&s.load.max_reject_share) {
            bad("load.max_reject_share", "must be between 0 and 1".into());
        }
        if let FormatConfig::Csv { header: false, .. } = s.format {
            bad(
                "format.header",
                "columns are mapped by header name, so the export must have a header row".into(),
            );
        }
        let Some(table) = tables.get(&s.table) else {
            let known: Vec<_> = tables.keys().map(String::as_str).collect();
            bad(
                "table",
                format!(
                    "unknown table `{}`; tables are: {}",
                    s.table,
                    known.join(", ")
                ),
            );
            continue;
        };
        for c in &table.columns {
            if !c.nullable && !s.columns.contains_key(&c.name) {
                bad(
                    &format!("columns.{}", c.name),
                    format!("table `{}` requires this column", table.name),
                );
            }
        }
        for (name, m) in &s.columns {
            let key = format!("columns.{name}");
            let Some(col) = table.column(name) else {
                let known: Vec<_> = table.columns.iter().map(|c| c.name.as_str()).collect();
                bad(
                    &key,
                    format!(
                        "table `{}` has no such column; its columns are: {}",
                        table.name,
                        known.join(", ")
                    ),
                );
                continue;
            };
            match (&m.from, &m.value) {
                (None, None) => bad(
                    &key,
                    "needs `from` (a source column) or `value` (a constant)".into(),
                ),
                (Some(_), Some(_)) => bad(&key, "give either `from` or `value`, not both".into()),
                _ => {}
            }
            let is_time = matches!(col.kind, ColumnType::Timestamp | ColumnType::Date);
            match (&m.format, is_time) {
                (Some(fmt), true) => {
                    if let Err(e) = fmt.parse::<TimeFormat>() {
                        bad(&format!("{key}.format"), e);
                    }
                }
                (None, true) if m.from.is_some() => bad(
                    &format!("{key}.format"),
                    "a time column needs a format".into(),
                ),
                (Some(_), false) => bad(
                    &format!("{key}.format"),
                    "only timestamp and date columns take a format".into(),
                ),
                _ => {}
            }
            if let Some(l) = &m.lookup {
                match l.split_once('.') {
                    Some((lk, field)) => match lookups.get(lk) {
                        None => bad(
                            &format!("{key}.lookup"),
                            format!("no lookup `{lk}` in config/lookups"),
                        ),
                        Some(lu) if !lu.rows.iter().any(|r| r.contains_key(field)) => bad(
                            &format!("{key}.lookup"),
                            format!("lookup `{lk}` has no field `{field}`"),
                        ),
                        _ => {}
                    },
                    None => bad(&format!("{key}.lookup"), "must be `lookup.field`".into()),
                }
            }
            if m.contains.is_some() && col.kind != ColumnType::Bool {
                bad(
                    &format!("{key}.contains"),
                    "only boolean columns take `contains`".into(),
                );
            }
            if m.hash && col.kind != ColumnType::String {
                bad(
                    &format!("{key}.hash"),
                    "only string columns can be pseudonymised".into(),
                );
            }
            if (m.scale.is_some() || m.min.is_some() || m.max.is_some())
                && !matches!(col.kind, ColumnType::Int64 | ColumnType::Float64)
            {
                bad(
                    &key,
                    "`scale`, `min` and `max` apply to numeric columns".into(),
                );
            }
            if let Some(from) = &m.from
                && s.drop.contains(from)
            {
                bad(
                    &key,
                    format!(
                        "source column `{from}` is listed in `drop` (personal data) and cannot be read"
                    ),
                );
            }
        }
        for (i, check) in s.checks.iter().enumerate() {
            match crate::normalise::Check::parse(check) {
                Ok(c) => {
                    for side in [&c.left, &c.right] {
                        if table.column(side).is_none() || !s.columns.contains_key(side) {
                            bad(
                                &format!("checks[{i}]"),
                                format!("`{side}` is not a mapped column of this source"),
                            );
                        }
                    }
                }
                Err(e) => bad(&format!("checks[{i}]"), e),
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}
