//! Source configuration: one TOML file per source in `config/sources/`, plus shared
//! lookups in `config/lookups/`. A new export layout is a new file here, not new code.
//!
//! Parsing refuses unknown keys; [`validate_source`] then checks a source against the
//! canonical table it fills, and [`crate::compile_sources`] reports the problems of every
//! source at once, each naming the file and key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use tilannekuva_conventions::boolean::{BoolVocabulary, default_missing_markers};
use tilannekuva_conventions::datetime::{
    AmbiguousPolicy, LocalTimePolicy, NonexistentPolicy, TimeFormat,
};
use tilannekuva_conventions::encoding::TextEncoding;
use tilannekuva_conventions::number::NumberFormat;
use tilannekuva_warehouse::catalog::{Cadence, ColumnType, CompleteWhen, TableDef};

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
    pub checks: Vec<RowRule>,
    /// The file this config was read from (set when loading).
    #[serde(skip)]
    pub file: PathBuf,
}

impl SourceConfig {
    /// The source's name and config file, for messages.
    pub fn reference(&self) -> SourceRef<'_> {
        SourceRef {
            name: &self.name,
            file: &self.file,
        }
    }
}

/// Which source a message is about: its name and the config file that defines it. What a
/// fetch kind gets instead of the whole [`SourceConfig`].
#[derive(Debug, Clone, Copy)]
pub struct SourceRef<'a> {
    /// The source's name.
    pub name: &'a str,
    /// Its config file.
    pub file: &'a Path,
}

/// What checking the config files found, each problem naming the file and the key.
/// Errors stop `tilannekuva check` and every load; warnings (an environment variable a
/// fetch will need is not set now, say) are only reported.
#[derive(Debug, Clone, Default)]
pub struct Problems {
    /// What must be fixed.
    pub errors: Vec<String>,
    /// What may be fine where the source is loaded, but is not here.
    pub warnings: Vec<String>,
}

impl Problems {
    /// An error at `key` of `file`.
    pub fn error(&mut self, file: &Path, key: &str, message: impl std::fmt::Display) {
        self.errors
            .push(format!("{}: `{key}`: {message}", file.display()));
    }

    /// A warning at `key` of `file`.
    pub fn warn(&mut self, file: &Path, key: &str, message: impl std::fmt::Display) {
        self.warnings
            .push(format!("{}: `{key}`: {message}", file.display()));
    }
}

/// A row rule between two mapped columns, written `left op right` in `checks`, such as
/// `"accepted_at >= requested_at"`. A row that breaks it is rejected; a rule holds when
/// either side is empty.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct RowRule {
    /// Left column.
    pub left: String,
    /// How the left value must compare with the right one.
    pub op: Comparison,
    /// Right column.
    pub right: String,
}

/// The operator of a [`RowRule`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    /// `>=`
    AtLeast,
    /// `<=`
    AtMost,
    /// `>`
    Greater,
    /// `<`
    Less,
    /// `=`
    Equal,
    /// `!=`
    NotEqual,
}

impl Comparison {
    const ALL: [Comparison; 6] = [
        Comparison::AtLeast,
        Comparison::AtMost,
        Comparison::Greater,
        Comparison::Less,
        Comparison::Equal,
        Comparison::NotEqual,
    ];

    /// How the operator is written.
    pub fn symbol(self) -> &'static str {
        match self {
            Comparison::AtLeast => ">=",
            Comparison::AtMost => "<=",
            Comparison::Greater => ">",
            Comparison::Less => "<",
            Comparison::Equal => "=",
            Comparison::NotEqual => "!=",
        }
    }

    /// Whether left and right ordered as `ord` satisfy the operator.
    pub fn accepts(self, ord: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::*;
        match self {
            Comparison::AtLeast => ord != Less,
            Comparison::AtMost => ord != Greater,
            Comparison::Greater => ord == Greater,
            Comparison::Less => ord == Less,
            Comparison::Equal => ord == Equal,
            Comparison::NotEqual => ord != Equal,
        }
    }
}

impl std::str::FromStr for RowRule {
    type Err = String;

    /// Parses `left op right`.
    fn from_str(s: &str) -> Result<Self, String> {
        let parts: Vec<&str> = s.split_whitespace().collect();
        if let [left, op, right] = parts.as_slice()
            && let Some(op) = Comparison::ALL.into_iter().find(|c| c.symbol() == *op)
        {
            return Ok(Self {
                left: left.to_string(),
                op,
                right: right.to_string(),
            });
        }
        Err(format!(
            "`{s}` is not `column op column` with op one of >=, <=, >, <, =, !="
        ))
    }
}

impl TryFrom<String> for RowRule {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl std::fmt::Display for RowRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} {}", self.left, self.op.symbol(), self.right)
    }
}

/// Layout of an export file: `kind` picks the reader in [`crate::normalise`], one file per
/// format there.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum FormatConfig {
    /// Delimited text.
    Csv(CsvFormat),
    /// A JSON array of flat objects, such as the Sotkanet REST API's answer.
    JsonArray(JsonArrayFormat),
    /// One JSON object per line (chat webhook logs), read by `from` paths such as
    /// `queue.name`.
    JsonLines(JsonArrayFormat),
    /// A JSON document whose records are an array at a path (`records = "data.items"`),
    /// read by `from` paths; streamed, record by record.
    Json(JsonDocumentFormat),
    /// A spreadsheet: `.xlsx`, `.xlsm`, `.xls` or `.ods` (told apart by content).
    Excel(ExcelFormat),
}

/// A row of a text or spreadsheet export that is not data (a total, a note, an empty
/// separator row): skipped and counted in the load summary, never read as a row. Exactly
/// one of `equals`, `starts_with` and `mapped_empty`:
///
/// ```toml
/// skip_when = [
///   { equals = "Yhteensä" },                       # the row's first field
///   { column = "Jono", starts_with = "Huom" },     # a named column of the header
///   { mapped_empty = true },                       # every mapped column is empty
/// ]
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SkipRule {
    /// The header column to test; the row's first field when not given.
    #[serde(default)]
    pub column: Option<String>,
    /// Skip when the field is this text (ignoring case and surrounding spaces).
    #[serde(default)]
    pub equals: Option<String>,
    /// Skip when the field starts with this text (ignoring case).
    #[serde(default)]
    pub starts_with: Option<String>,
    /// Skip when every column the source reads is empty.
    #[serde(default)]
    pub mapped_empty: bool,
}

impl std::fmt::Display for SkipRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let column = self.column.as_deref().unwrap_or("the first column");
        match (&self.equals, &self.starts_with) {
            _ if self.mapped_empty => write!(f, "every mapped column is empty"),
            (Some(text), _) => write!(f, "{column} is {text:?}"),
            (None, Some(text)) => write!(f, "{column} starts with {text:?}"),
            (None, None) => write!(f, "no condition"),
        }
    }
}

/// A sheet of a workbook: its name, or its position (1 = the first sheet).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum SheetRef {
    /// By position, from 1.
    Index(usize),
    /// By name.
    Name(String),
}

impl std::fmt::Display for SheetRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SheetRef::Index(i) => write!(f, "sheet {i}"),
            SheetRef::Name(n) => write!(f, "sheet `{n}`"),
        }
    }
}

/// `[format] kind = "excel"`: one sheet of a workbook.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExcelFormat {
    /// The sheet to read; the first one when not given.
    #[serde(default)]
    pub sheet: Option<SheetRef>,
    /// The sheet row (from 1, as Excel numbers rows) of the header. When not given, the
    /// first row holding every column the source reads is the header, so a title block
    /// above it needs no config.
    #[serde(default)]
    pub header_row: Option<u32>,
    /// How many rows the header has: 2 when group labels (often merged cells) stand above
    /// the column labels. A column's name is its labels top to bottom joined by a space,
    /// a merged label counting for every column it spans.
    #[serde(default = "one")]
    pub header_rows: u32,
    /// Layout of numbers stored as text (a number cell needs none).
    #[serde(default)]
    pub numbers: NumberFormat,
    /// Values meaning "no value" (an empty cell always does).
    #[serde(default = "default_missing_markers")]
    pub missing: Vec<String>,
    /// Words for true and false stored as text.
    #[serde(default)]
    pub booleans: BoolVocabulary,
    /// Rows below the header that are not data: totals, notes.
    #[serde(default)]
    pub skip_when: Vec<SkipRule>,
}

/// `[format] kind = "json"`: a JSON document with the records at a path.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonDocumentFormat {
    /// Keys from the top of the document to the records array, `.`-separated
    /// (`data.items`); empty when the document is the array.
    #[serde(default)]
    pub records: String,
    /// Values meaning "no value" (JSON null always does).
    #[serde(default = "default_missing_markers")]
    pub missing: Vec<String>,
}

fn one() -> u32 {
    1
}

/// `[format] kind = "csv"`: delimited text.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CsvFormat {
    /// Field delimiter, `;` in Finnish Excel exports.
    #[serde(default = "default_delimiter")]
    pub delimiter: char,
    /// Quote character.
    #[serde(default = "default_quote")]
    pub quote: char,
    /// Whether the first line is a header (required: columns are mapped by name).
    #[serde(default = "yes")]
    pub header: bool,
    /// Text encoding.
    #[serde(default = "default_encoding")]
    pub encoding: TextEncoding,
    /// Number layout.
    #[serde(default)]
    pub numbers: NumberFormat,
    /// Values meaning "no value".
    #[serde(default = "default_missing_markers")]
    pub missing: Vec<String>,
    /// Words for true and false.
    #[serde(default)]
    pub booleans: BoolVocabulary,
    /// Lines before the header (a title block, a report's parameters), skipped.
    #[serde(default)]
    pub skip_rows: u64,
    /// Lines below the header that are not data: totals, notes.
    #[serde(default)]
    pub skip_when: Vec<SkipRule>,
}

/// `[format] kind = "json_array"`: a JSON array of flat objects.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonArrayFormat {
    /// Values meaning "no value" (JSON null always does).
    #[serde(default = "default_missing_markers")]
    pub missing: Vec<String>,
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
    /// How numbers are written.
    pub fn numbers(&self) -> NumberFormat {
        match self {
            FormatConfig::Csv(f) => f.numbers.clone(),
            FormatConfig::Excel(f) => f.numbers.clone(),
            FormatConfig::JsonArray(_) | FormatConfig::JsonLines(_) | FormatConfig::Json(_) => {
                NumberFormat::plain()
            }
        }
    }
    /// Values meaning "no value".
    pub fn missing(&self) -> &[String] {
        match self {
            FormatConfig::Csv(CsvFormat { missing, .. })
            | FormatConfig::Excel(ExcelFormat { missing, .. })
            | FormatConfig::Json(JsonDocumentFormat { missing, .. })
            | FormatConfig::JsonArray(JsonArrayFormat { missing })
            | FormatConfig::JsonLines(JsonArrayFormat { missing }) => missing,
        }
    }
    /// Words for true and false.
    pub fn booleans(&self) -> BoolVocabulary {
        match self {
            FormatConfig::Csv(f) => f.booleans.clone(),
            FormatConfig::Excel(f) => f.booleans.clone(),
            FormatConfig::JsonArray(_) | FormatConfig::JsonLines(_) | FormatConfig::Json(_) => {
                BoolVocabulary::default()
            }
        }
    }
    /// Rows that are not data.
    pub fn skip_when(&self) -> &[SkipRule] {
        match self {
            FormatConfig::Csv(f) => &f.skip_when,
            FormatConfig::Excel(f) => &f.skip_when,
            FormatConfig::JsonArray(_) | FormatConfig::JsonLines(_) | FormatConfig::Json(_) => &[],
        }
    }
    /// Whether a record's columns are paths into nested JSON (no header to check).
    pub fn reads_paths(&self) -> bool {
        matches!(self, FormatConfig::JsonLines(_) | FormatConfig::Json(_))
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
    /// When a month's delivery counts as complete: `data_reaches_end` (default),
    /// `declared_range` or `any_row`; see [`CompleteWhen`].
    #[serde(default)]
    pub complete_when: CompleteWhen,
    /// For `data_reaches_end`: how many days before the month's last day its latest row
    /// may be (weekends and holidays of a service that closes; 0 = a row on the last day).
    #[serde(default = "default_end_within_days")]
    pub end_within_days: u32,
    /// A pattern that reads the range an export covers from its file name, with a group
    /// `month`, `year`, or `from` and `to`; see [`crate::completeness::NamePattern`].
    #[serde(default)]
    pub covered_range_from_name: Option<String>,
}

fn default_end_within_days() -> u32 {
    3
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
            complete_when: CompleteWhen::default(),
            end_within_days: default_end_within_days(),
            covered_range_from_name: None,
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
    /// For a lookup whose rows have `valid_from` / `valid_to`: the timestamp or date column
    /// of the table whose local date picks the version in force (`answered_at`).
    #[serde(default)]
    pub as_of: Option<String>,
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
    /// A derived row id for exports without one: a stable hash of these source columns'
    /// raw values, with `-2`, `-3`, … for further rows of one file with the same values.
    #[serde(default)]
    pub key: Option<Vec<String>>,
    /// A derived row id: the export's file name and the row's line (`<file>:<line>`).
    #[serde(default)]
    pub line: bool,
}

impl ColumnMapping {
    /// Whether this mapping reads source column `name` (as `from` or as part of a `key`).
    pub fn reads(&self, name: &str) -> bool {
        self.from.as_deref() == Some(name) || self.key.iter().flatten().any(|k| k == name)
    }
}

fn default_separator() -> String {
    ";".into()
}

pub use crate::lookup::Lookup;

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

/// Reads the source configs of a folder, setting aside the files that cannot be read or
/// parsed (named by their file stem) so that the others can be used. The error is only
/// for a folder that cannot be listed.
pub fn load_each_source(
    dir: &Path,
) -> Result<(Vec<SourceConfig>, Vec<crate::source::BrokenSource>), Vec<String>> {
    let read = read_dir_toml(dir, |path, text| {
        Ok(match toml::from_str::<SourceConfig>(text) {
            Ok(mut s) => {
                s.file = path.to_path_buf();
                Ok(s)
            }
            Err(e) => Err(crate::source::BrokenSource {
                name: path
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                file: path.to_path_buf(),
                // Even a file that does not parse as a source may still say its table.
                table: text.lines().find_map(|l| {
                    let (key, value) = l.split_once('=')?;
                    (key.trim() == "table").then(|| value.trim().trim_matches('"').to_string())
                }),
                problems: vec![format!("{}: {e}", path.display())],
            }),
        })
    })?;
    let (mut sources, mut broken) = (Vec::new(), Vec::new());
    for r in read {
        match r {
            Ok(s) => sources.push(s),
            Err(b) => broken.push(b),
        }
    }
    Ok((sources, broken))
}

/// Reads the lookups of a folder, keyed by file stem.
pub fn load_lookups(dir: &Path) -> Result<BTreeMap<String, Lookup>, Vec<String>> {
    let pairs = read_dir_toml(dir, |path, text| {
        let l: Lookup = toml::from_str(text).map_err(|e| format!("{}: {e}", path.display()))?;
        let problems = l.problems();
        if !problems.is_empty() {
            return Err(format!("{}: {}", path.display(), problems.join("; ")));
        }
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        Ok((stem, l))
    })?;
    Ok(pairs.into_iter().collect())
}

/// Checks one source against the tables and lookups; every problem goes to `problems`,
/// naming the file and the key. [`crate::compile_sources`] runs this for every source (and
/// checks that names are unique, and each `[fetch]`), then compiles what passed.
pub fn validate_source(
    s: &SourceConfig,
    tables: &BTreeMap<String, TableDef>,
    lookups: &BTreeMap<String, Lookup>,
    problems: &mut Problems,
) {
    let mut bad = |key: &str, msg: String| problems.error(&s.file, key, msg);
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
    if let Some(p) = &s.load.covered_range_from_name
        && let Err(e) = crate::completeness::NamePattern::compile(p)
    {
        bad("load.covered_range_from_name", e);
    }
    if s.load.complete_when == CompleteWhen::DeclaredRange
        && s.load.covered_range_from_name.is_none()
        && !s.fetch.declares_range()
    {
        bad(
            "load.complete_when",
            "`declared_range` needs `covered_range_from_name`: this fetch kind does not declare the range of what it delivers".into(),
        );
    }
    for (i, rule) in s.format.skip_when().iter().enumerate() {
        let conditions = [
            rule.equals.is_some(),
            rule.starts_with.is_some(),
            rule.mapped_empty,
        ];
        if conditions.iter().filter(|c| **c).count() != 1 {
            bad(
                &format!("format.skip_when[{i}]"),
                "needs exactly one of `equals`, `starts_with` and `mapped_empty`".into(),
            );
        }
        if rule.mapped_empty && rule.column.is_some() {
            bad(
                &format!("format.skip_when[{i}].column"),
                "`mapped_empty` looks at every mapped column, not one".into(),
            );
        }
        if let Some(c) = &rule.column
            && !s.columns.values().any(|m| m.reads(c))
            && !s.ignore.contains(c)
        {
            bad(
                &format!("format.skip_when[{i}].column"),
                format!("`{c}` is not a column the source reads or lists in `ignore`"),
            );
        }
    }
    if let FormatConfig::Excel(x) = &s.format {
        if x.header_rows == 0 {
            bad("format.header_rows", "must be at least 1".into());
        }
        if x.header_row == Some(0) {
            bad(
                "format.header_row",
                "rows are numbered from 1, as in Excel".into(),
            );
        }
        if x.sheet == Some(SheetRef::Index(0)) {
            bad("format.sheet", "sheets are numbered from 1".into());
        }
    }
    if let FormatConfig::Csv(csv) = &s.format {
        if !csv.header {
            bad(
                "format.header",
                "columns are mapped by header name, so the export must have a header row".into(),
            );
        }
        for (key, c) in [
            ("format.delimiter", csv.delimiter),
            ("format.quote", csv.quote),
        ] {
            if !c.is_ascii() {
                bad(key, format!("`{c}` must be one ASCII character"));
            }
        }
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
        return;
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
        let derived = m.key.is_some() || m.line;
        let ways = [m.from.is_some(), m.value.is_some(), m.key.is_some(), m.line];
        match ways.iter().filter(|w| **w).count() {
            0 => bad(
                &key,
                "needs `from` (a source column), `value` (a constant), `key` (a derived id) or `line = true`".into(),
            ),
            1 => {}
            _ => bad(
                &key,
                "give one of `from`, `value`, `key` and `line`".into(),
            ),
        }
        if derived && col.kind != ColumnType::String {
            bad(
                &key,
                "a derived id (`key`, `line`) fills a string column".into(),
            );
        }
        if let Some(fields) = &m.key {
            if fields.is_empty() {
                bad(
                    &format!("{key}.key"),
                    "needs at least one source column".into(),
                );
            }
            for f in fields.iter().filter(|f| s.drop.contains(f)) {
                bad(
                    &format!("{key}.key"),
                    format!(
                        "source column `{f}` is listed in `drop` (personal data) and cannot be read"
                    ),
                );
            }
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
        let dated = m
            .lookup
            .as_ref()
            .and_then(|l| lookups.get(l.split_once('.')?.0))
            .filter(|lu| lu.is_dated());
        match (&m.as_of, dated) {
            (None, Some(_)) => bad(
                &format!("{key}.as_of"),
                format!(
                    "lookup `{}` has versions in force from `valid_from` to `valid_to`: say which timestamp or date column picks the version (`as_of = \"<column>\"`)",
                    m.lookup.as_deref().unwrap_or_default()
                ),
            ),
            (Some(_), None) if m.lookup.is_none() => bad(
                &format!("{key}.as_of"),
                "only a `lookup` column takes `as_of`".into(),
            ),
            (Some(at), _) => {
                let as_of_column = s.columns.get(at).filter(|am| am.lookup.is_none());
                let kind = table.column(at).map(|c| c.kind);
                if as_of_column.is_none()
                    || !matches!(kind, Some(ColumnType::Timestamp | ColumnType::Date))
                {
                    bad(
                        &format!("{key}.as_of"),
                        format!(
                            "`{at}` must be a mapped timestamp or date column of table `{}` (not itself a lookup)",
                            table.name
                        ),
                    );
                }
            }
            (None, None) => {}
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
    for (i, rule) in s.checks.iter().enumerate() {
        for side in [&rule.left, &rule.right] {
            if table.column(side).is_none() || !s.columns.contains_key(side) {
                bad(
                    &format!("checks[{i}]"),
                    format!("`{side}` is not a mapped column of this source"),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_rules_parse_and_print_back() {
        for text in ["a >= b", "a <= b", "a > b", "a < b", "a = b", "a != b"] {
            let rule: RowRule = text.parse().unwrap();
            assert_eq!(rule.to_string(), text);
        }
        let rule: RowRule = "reached_at   >=  requested_at".parse().unwrap();
        assert_eq!(rule.op, Comparison::AtLeast);
        assert!(rule.op.accepts(std::cmp::Ordering::Equal));
        assert!(!Comparison::Greater.accepts(std::cmp::Ordering::Equal));
        for bad in ["a => b", "a >= ", "a >= b c"] {
            let err = bad.parse::<RowRule>().unwrap_err();
            assert!(err.contains("column op column"), "{err}");
        }
    }

    #[test]
    fn a_bad_row_rule_is_refused_when_the_config_is_read() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Checks {
            checks: Vec<RowRule>,
        }
        let err = toml::from_str::<Checks>("checks = [\"a >> b\"]")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("checks") && err.contains("`a >> b` is not `column op column`"),
            "{err}"
        );
    }
}
