//! Errors of the pipelines. Every message names the source and file, and where it is about
//! one value, the line, the column and the value.

/// What can stop a fetch or a load.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration is wrong; every problem found is listed.
    #[error("configuration problems:\n  - {}", .0.join("\n  - "))]
    Config(Vec<String>),
    /// No source of that name is configured.
    #[error("no source named `{name}`; configured sources: {known}")]
    UnknownSource {
        /// The name asked for.
        name: String,
        /// The configured names, comma separated.
        known: String,
    },
    /// Reading or writing a local file failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, with the path.
        context: String,
        /// IO error.
        #[source]
        source: std::io::Error,
    },
    /// The warehouse failed.
    #[error(transparent)]
    Warehouse(#[from] tilannekuva_warehouse::Error),
    /// The export's columns are not the configured ones.
    /// The export's columns are not the configured ones.
    #[error(transparent)]
    SchemaDrift(Box<SchemaDrift>),
    /// Too large a share of rows failed; nothing was committed.
    /// Too large a share of rows failed; nothing was committed.
    #[error(transparent)]
    TooManyRejects(Box<TooManyRejects>),
    /// A henkilötunnus, phone number or e-mail address would have reached a curated table.
    #[error(
        "{source_name}: {file} line {line}, column `{column}`: the value contains {kind}; nothing was loaded. Drop the source column (`drop`) or pseudonymise it (`hash = true`)"
    )]
    PersonalData {
        /// Source name.
        source_name: String,
        /// Export file name.
        file: String,
        /// Line of the export.
        line: u64,
        /// Canonical column that carried it.
        column: String,
        /// What was found (`a phone number`).
        kind: &'static str,
    },
    /// The export could not be read at all.
    #[error("{source_name}: {file}{}: {message}", .line.map(|l| format!(" line {l}")).unwrap_or_default())]
    Unreadable {
        /// Source name.
        source_name: String,
        /// Export file name.
        file: String,
        /// Line, when known.
        line: Option<u64>,
        /// What went wrong.
        message: String,
    },
    /// A source needs the pseudonymisation key and none is set.
    #[error("{0}")]
    MissingKey(String),
    /// Fetching over HTTP failed for good.
    #[error("{source_name}: fetching {url}: {message}")]
    Fetch {
        /// Source name.
        source_name: String,
        /// URL fetched (no credentials).
        url: String,
        /// What went wrong.
        message: String,
    },
}

/// The export's columns are not the configured ones.
#[derive(Debug, thiserror::Error)]
#[error(
    "{source_name}: {file}: the export's columns do not match config {config}: missing {missing:?}, unexpected {unexpected:?} (the file has {found:?}); if the vendor renamed a column, update `from` in the config; if a new column appeared, map it, or list it under `ignore` or, for personal data, `drop`"
)]
pub struct SchemaDrift {
    /// Source name.
    pub source_name: String,
    /// Export file name.
    pub file: String,
    /// Config file path.
    pub config: String,
    /// Mapped columns the file lacks.
    pub missing: Vec<String>,
    /// File columns nobody mapped, dropped or ignored.
    pub unexpected: Vec<String>,
    /// Every column of the file.
    pub found: Vec<String>,
}

/// Too large a share of rows failed; nothing was committed.
#[derive(Debug, thiserror::Error)]
#[error(
    "{source_name}: {file}: {rejects} of {rows} rows ({share:.2} %) failed, more than the allowed {max:.2} %; nothing was loaded. First problems:\n  {examples}"
)]
pub struct TooManyRejects {
    /// Source name.
    pub source_name: String,
    /// Export file name.
    pub file: String,
    /// Rejected rows.
    pub rejects: u64,
    /// All data rows.
    pub rows: u64,
    /// Rejected share, percent.
    pub share: f64,
    /// Allowed share, percent.
    pub max: f64,
    /// The first rejects, one per line.
    pub examples: String,
}

/// Result with the pipelines' [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
