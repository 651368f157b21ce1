//! Errors of the warehouse store.

/// Everything that can go wrong while reading or writing the warehouse.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The object store refused or failed an operation.
    #[error("warehouse storage at {path}: {source}")]
    Store {
        /// Object path the operation was about.
        path: String,
        /// Underlying store error.
        #[source]
        source: object_store::Error,
    },
    /// A manifest file could not be read as JSON.
    #[error("warehouse manifest {path} is unreadable: {source}")]
    Manifest {
        /// Object path of the manifest version.
        path: String,
        /// JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// A log entry does not apply to the state before it.
    #[error("warehouse log {path}: {reason}")]
    Log {
        /// Object path of the entry.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// Writing or reading Parquet failed.
    #[error("parquet file {path}: {source}")]
    Parquet {
        /// Object path of the Parquet file.
        path: String,
        /// Parquet error.
        #[source]
        source: parquet::errors::ParquetError,
    },
    /// Another writer kept winning the race to commit; gave up after the retries.
    #[error(
        "could not commit to the warehouse after {attempts} attempts: another process keeps committing"
    )]
    CommitContention {
        /// How many attempts were made.
        attempts: usize,
    },
    /// The change refused to apply to the current manifest (for example a duplicate load).
    #[error("{0}")]
    Rejected(String),
    /// The warehouse location is not usable.
    #[error("warehouse location {location}: {reason}")]
    Location {
        /// The configured location.
        location: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The store does not keep create-only writes, so commits could overwrite each other.
    #[error(
        "the warehouse store at {location} cannot be used: {reason}. Commits need a store that \
         refuses to create an object that exists (AWS S3, Azure Blob, MinIO and the local disk do)"
    )]
    CreateOnlyUnsupported {
        /// The store.
        location: String,
        /// What the self-test saw.
        reason: String,
    },
    /// Registering tables with DataFusion failed.
    #[error("registering warehouse tables for SQL: {0}")]
    DataFusion(#[from] datafusion::error::DataFusionError),
    /// Local IO failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// IO error.
        #[source]
        source: std::io::Error,
    },
}

/// Result with the warehouse [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) fn store_err(
    path: &object_store::path::Path,
) -> impl FnOnce(object_store::Error) -> Error + '_ {
    move |source| Error::Store {
        path: path.to_string(),
        source,
    }
}
