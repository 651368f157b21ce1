//! What can go wrong computing or reading tiles, and where in a tile's SQL it went wrong.

use crate::definition::TileDef;

/// What can go wrong computing or reading tiles.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A tile's SQL failed to plan or run.
    #[error("{file}{}: {message}", .line.map(|l| format!(":{l}")).unwrap_or_default())]
    Sql {
        /// The SQL file.
        file: String,
        /// Line the problem is on, when it can be told.
        line: Option<usize>,
        /// DataFusion's message.
        message: String,
    },
    /// A tile's SQL does not return what the contract asks.
    #[error("{file}: {message}")]
    Contract {
        /// The SQL file.
        file: String,
        /// What is wrong.
        message: String,
    },
    /// Tile or strategy files are wrong.
    #[error("configuration problems:\n  - {}", .0.join("\n  - "))]
    Config(Vec<String>),
    /// The warehouse failed.
    #[error(transparent)]
    Warehouse(#[from] tilannekuva_warehouse::Error),
    /// DataFusion failed outside a tile's SQL.
    #[error(transparent)]
    DataFusion(#[from] datafusion::error::DataFusionError),
    /// The query engine cannot run queries (a cluster's scheduler is unreachable, say).
    #[error("{engine}: {message}")]
    Engine {
        /// The engine, as [`crate::engine::QueryEngine::describe`] says it.
        engine: String,
        /// What is wrong.
        message: String,
    },
    /// No snapshot matches.
    #[error("{0}")]
    NoSnapshot(String),
    /// A snapshot file is unreadable.
    #[error("snapshot {path}: {message}")]
    Snapshot {
        /// Its path.
        path: String,
        /// What is wrong.
        message: String,
    },
}

impl Error {
    pub(crate) fn sql(tile: &TileDef, e: datafusion::error::DataFusionError) -> Self {
        let message = e.strip_backtrace().to_string();
        Error::Sql {
            file: tile.sql_path.display().to_string(),
            line: locate(&tile.sql, &message),
            message,
        }
    }
}

/// Finds the line of the SQL a DataFusion message is about: the parser's `Line: N`, or the
/// first line mentioning the name the planner could not resolve.
pub fn locate(sql: &str, message: &str) -> Option<usize> {
    if let Some(i) = message.find("Line: ") {
        let digits: String = message[i + 6..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        if let Ok(n) = digits.parse() {
            return Some(n);
        }
    }
    let mut names: Vec<&str> = message.split(['\'', '"', '`']).skip(1).step_by(2).collect();
    // The planner writes some names bare: "No field named foo." / "field named t.foo".
    if let Some(i) = message.find("field named ") {
        let rest = &message[i + 12..];
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        names.insert(
            0,
            rest[..end]
                .trim_end_matches(['.', ','])
                .trim_matches(['\'', '"']),
        );
    }
    for name in names {
        let bare = name.rsplit('.').next().unwrap_or(name);
        if bare.len() < 2 {
            continue;
        }
        if let Some((i, _)) = sql.lines().enumerate().find(|(_, l)| l.contains(bare)) {
            return Some(i + 1);
        }
    }
    None
}

/// Result with the tiles' [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
