//! Fetching: where a source's exports come from. One file per kind of source; the kind is
//! chosen by `fetch.kind` in the source's config.
//!
//! A fetch produces [`Delivery`]s. It never decides whether a delivery is new: the load
//! ledger does that from the content's hash, so fetching the same export twice is harmless.

pub mod drop_folder;

use std::path::{Path, PathBuf};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::Result;
use crate::config::SourceConfig;

/// Where a source's exports come from.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum FetchConfig {
    /// Files a vendor drops into a folder, picked up by glob.
    DropFolder(drop_folder::DropFolder),
}

/// One export as fetched, before landing.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// File name as delivered (or as named for an API response).
    pub name: String,
    /// When it was fetched or picked up.
    pub fetched_at: DateTime<Utc>,
    /// The bytes, or where they are.
    pub content: Content,
}

/// Where a delivery's bytes are.
#[derive(Debug, Clone)]
pub enum Content {
    /// A complete local file.
    File(PathBuf),
    /// A complete response body held in memory.
    Bytes(Bytes),
}

/// Context a fetch runs in.
#[derive(Debug, Clone)]
pub struct FetchContext {
    /// Folder that relative drop-folder paths start from.
    pub inputs_root: PathBuf,
    /// Overrides every drop folder's `settle_seconds` (for files known to be complete).
    pub settle_seconds: Option<u64>,
}

impl FetchContext {
    /// Resolves a configured path against the inputs root.
    pub fn resolve(&self, path: &str) -> PathBuf {
        let p = Path::new(path);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.inputs_root.join(p)
        }
    }
}

/// Lists what a source has to deliver now.
pub async fn fetch(source: &SourceConfig, ctx: &FetchContext) -> Result<Vec<Delivery>> {
    match &source.fetch {
        FetchConfig::DropFolder(d) => d.scan(source, ctx),
    }
}
