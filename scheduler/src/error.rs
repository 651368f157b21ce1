//! Errors of the scheduler, each naming the job and, where there is one, the time.

use chrono::{DateTime, Utc};

/// Everything that can go wrong while configuring or running scheduled jobs.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The jobs file could not be read.
    #[error("reading the jobs file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// IO error.
        #[source]
        source: std::io::Error,
    },
    /// The jobs file is not valid TOML for the jobs format.
    #[error("jobs file {path}: {source}")]
    Parse {
        /// The file.
        path: String,
        /// TOML error.
        #[source]
        source: toml::de::Error,
    },
    /// The jobs file parsed but describes something impossible; every problem is listed.
    #[error("jobs file {path}:\n  - {}", problems.join("\n  - "))]
    Invalid {
        /// The file.
        path: String,
        /// One line per problem.
        problems: Vec<String>,
    },
    /// A job's cron expression does not parse.
    #[error("job `{job}`: schedule `{expression}` is not a cron expression: {reason}")]
    Schedule {
        /// The job.
        job: String,
        /// The expression as written.
        expression: String,
        /// What the cron parser said.
        reason: String,
    },
    /// No job of that name.
    #[error("no job `{job}` in the jobs file (jobs: {known})")]
    UnknownJob {
        /// The name asked for.
        job: String,
        /// The names there are.
        known: String,
    },
    /// Reading or writing the run history or a lease failed.
    #[error("job `{job}` run scheduled for {scheduled_for}: {source}")]
    Warehouse {
        /// The job.
        job: String,
        /// The run's scheduled time.
        scheduled_for: DateTime<Utc>,
        /// Warehouse error.
        #[source]
        source: Box<tilannekuva_warehouse::Error>,
    },
    /// Reading the load ledger for the pipeline's status failed.
    #[error("reading the load ledger for the pipeline status: {source}")]
    Status {
        /// Warehouse error.
        #[source]
        source: Box<tilannekuva_warehouse::Error>,
    },
    /// Listing or reading scheduler objects in the warehouse failed.
    #[error("scheduler state in the warehouse at {path}: {reason}")]
    State {
        /// Object path.
        path: String,
        /// What went wrong.
        reason: String,
    },
}

/// Result with the scheduler [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
