//! Fetching: where a source's exports come from. One file per kind of source; the kind is
//! chosen by `fetch.kind` in the source's config.
//!
//! A fetch produces [`Delivery`]s. It never decides whether a delivery is new: the load
//! ledger does that from the content's hash, so fetching the same export twice is harmless.
//!
//! Kinds: [`drop_folder`] (files a vendor drops), [`sotkanet`] (THL's open statistics API)
//! and [`rest_api`] (paginated export APIs with an incremental cursor); the API kinds share
//! [`http`] for timeouts, retries, rate limits and keeping tokens out of messages.
//!
//! Each kind checks its own keys when the sources are compiled ([`FetchConfig::compile`],
//! run by `tilannekuva check` and before every load), so a bad URL, glob or number is
//! reported with its file and key before anything is fetched; the result, a [`Fetcher`],
//! holds the compiled glob or parsed URL a run starts from. A kind is given only the
//! source's name and config file ([`SourceRef`]), not the whole source config.
//!
//! A fetch runs as a [`FetchRun`] that yields one [`Step`] at a time, so a paginated API is
//! read page by page, each page loaded (and its cursor kept) before the next is asked for.

pub mod drop_folder;
pub mod http;
pub mod rest_api;
pub mod sotkanet;

use std::collections::VecDeque;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use tilannekuva_warehouse::Covered;

use crate::Result;
use crate::config::{Problems, Redelivery, SourceRef};

/// Where a source's exports come from.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum FetchConfig {
    /// Files a vendor drops into a folder, picked up by glob.
    DropFolder(drop_folder::DropFolder),
    /// THL Sotkanet open statistics API.
    Sotkanet(sotkanet::Sotkanet),
    /// A paginated export API with bearer-token auth and a `start_time` cursor.
    RestApi(rest_api::RestApi),
}

impl FetchConfig {
    /// Whether this fetch kind declares the range of days each delivery covers (Sotkanet:
    /// the years it asked for), so `complete_when = "declared_range"` needs no name pattern.
    pub fn declares_range(&self) -> bool {
        matches!(self, FetchConfig::Sotkanet(_))
    }

    /// Checks the `[fetch]` keys of `source` without contacting anything (URL and glob
    /// syntax, numeric ranges, the `append` rule of `rest_api`, hence `on_redelivery`) and
    /// prepares the fetch: the glob compiled, the URLs parsed. `None` after a problem. An
    /// environment variable the fetch will read is only warned about when unset: it may be
    /// set where the source is loaded.
    pub fn compile(
        &self,
        source: SourceRef<'_>,
        on_redelivery: Redelivery,
        problems: &mut Problems,
    ) -> Option<Fetcher> {
        Some(match self {
            FetchConfig::DropFolder(d) => Fetcher::DropFolder(d.compile(source, problems)?),
            FetchConfig::Sotkanet(s) => Fetcher::Sotkanet(s.compile(source, problems)?),
            FetchConfig::RestApi(r) => {
                Fetcher::RestApi(r.compile(source, on_redelivery, problems)?)
            }
        })
    }
}

/// A source's `[fetch]`, checked and prepared by [`FetchConfig::compile`]: what a run
/// starts from.
#[derive(Debug, Clone)]
pub enum Fetcher {
    /// A drop folder, with its glob compiled.
    DropFolder(drop_folder::Watch),
    /// A Sotkanet query, with its endpoint built.
    Sotkanet(sotkanet::Query),
    /// A paginated export API, with its URL parsed.
    RestApi(rest_api::Endpoint),
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
    /// The range of days the delivery covers, when the fetch knows it (the years a
    /// Sotkanet request asked for); otherwise the file name may declare it.
    pub covers: Option<Covered>,
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

/// Lists what a source has to deliver now, starting any cursor from the beginning and
/// keeping none: for looking, not loading ([`crate::Pipelines::load_source`] keeps cursors).
pub async fn fetch(
    fetcher: &Fetcher,
    source: SourceRef<'_>,
    ctx: &FetchContext,
) -> Result<Vec<Delivery>> {
    let mut run = start(fetcher, source, ctx, None).await?;
    let mut out = Vec::new();
    while let Some(step) = run.next().await? {
        out.extend(step.delivery);
    }
    Ok(out)
}

/// Starts fetching a source. `cursor` is the source's cursor from the manifest, for the
/// kinds that keep one.
pub async fn start(
    fetcher: &Fetcher,
    source: SourceRef<'_>,
    ctx: &FetchContext,
    cursor: Option<&serde_json::Value>,
) -> Result<FetchRun> {
    let inner = match fetcher {
        Fetcher::DropFolder(d) => Inner::Ready(d.scan(source, ctx)?.into()),
        Fetcher::Sotkanet(s) => Inner::Ready(s.fetch(source).await?.into()),
        Fetcher::RestApi(r) => Inner::Pages(Box::new(r.start(source, cursor)?)),
    };
    Ok(FetchRun { inner })
}

/// A fetch in progress.
#[derive(Debug)]
pub struct FetchRun {
    inner: Inner,
}

#[derive(Debug)]
enum Inner {
    /// Everything was fetched up front.
    Ready(VecDeque<Delivery>),
    /// One request per step.
    Pages(Box<rest_api::Pager>),
}

/// One step of a fetch.
#[derive(Debug)]
pub struct Step {
    /// What to load; none for an empty page.
    pub delivery: Option<Delivery>,
    /// The source's cursor once this step's delivery is loaded. A step with a cursor must
    /// load before the run goes on: the next step continues from it.
    pub cursor: Option<serde_json::Value>,
}

impl FetchRun {
    /// The next step; `None` when the source has nothing more now.
    pub async fn next(&mut self) -> Result<Option<Step>> {
        match &mut self.inner {
            Inner::Ready(queue) => Ok(queue.pop_front().map(|d| Step {
                delivery: Some(d),
                cursor: None,
            })),
            Inner::Pages(pager) => Ok(pager.next().await?.map(|p| Step {
                delivery: p.delivery,
                cursor: Some(p.cursor),
            })),
        }
    }
}
