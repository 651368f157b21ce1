//! Pull, land and normalise: the first half of the data's journey.
//!
//! - [`fetch`]: where exports come from (one file per kind of source);
//! - [`land`]: storing each export untouched, addressed by its sha256;
//! - [`normalise`]: from an export's text to typed rows, with quarantine (one file per format);
//! - [`load`]: the safe order of those steps and the single commit that ends a load;
//! - [`config`]: the per-source config files that drive it all, checked and compiled once
//!   by [`compile_sources`] ([`source`]).

pub mod backfill;
pub mod completeness;
pub mod config;
pub mod error;
pub mod fetch;
pub mod land;
pub mod load;
pub mod lookup;
pub mod normalise;
pub mod source;

use std::collections::BTreeMap;

use tilannekuva_warehouse::Warehouse;
use tilannekuva_warehouse::catalog::TableDef;

pub use error::{Error, Result};
pub use load::{LoadReport, Outcome};
pub use source::{BrokenSource, CompiledSource, CompiledSources, compile_each, compile_sources};

use config::{Lookup, SourceConfig};
use fetch::FetchContext;

/// Everything a load needs: the warehouse, the table contract and the sources.
#[derive(Debug, Clone)]
pub struct Pipelines {
    /// Where data goes.
    pub warehouse: Warehouse,
    /// Canonical tables.
    pub tables: BTreeMap<String, TableDef>,
    /// Compiled sources, in config order.
    pub sources: Vec<CompiledSource>,
    /// Where fetches look.
    pub fetch: FetchContext,
    /// Sources whose configs have problems: asking for one says what they are.
    pub broken: Vec<BrokenSource>,
}

impl Pipelines {
    /// Validates and compiles every source ([`compile_sources`]), reporting all problems
    /// at once, then [`Pipelines::from_compiled`].
    pub fn new(
        warehouse: Warehouse,
        tables: BTreeMap<String, TableDef>,
        sources: &[SourceConfig],
        lookups: &BTreeMap<String, Lookup>,
        fetch: FetchContext,
        key: Option<&[u8]>,
    ) -> Result<Self> {
        let compiled = compile_sources(sources, &tables, lookups).map_err(Error::Config)?;
        Self::from_compiled(warehouse, tables, compiled.sources, fetch, key)
    }

    /// Pipelines over sources compiled before. `key` is the pseudonymisation key, needed by
    /// sources with `hash = true` columns.
    pub fn from_compiled(
        warehouse: Warehouse,
        tables: BTreeMap<String, TableDef>,
        mut sources: Vec<CompiledSource>,
        fetch: FetchContext,
        key: Option<&[u8]>,
    ) -> Result<Self> {
        for s in &mut sources {
            if key.is_none() && s.rows.pseudonymises() {
                return Err(Error::MissingKey(format!(
                    "{}: source `{}` pseudonymises columns but no pseudonymisation key is set (see `pseudonymisation` in the main config)",
                    s.config.file.display(),
                    s.config.name
                )));
            }
            s.rows.set_key(key);
        }
        Ok(Self {
            warehouse,
            tables,
            sources,
            fetch,
            broken: Vec::new(),
        })
    }

    /// These pipelines, knowing the sources set aside for their config problems.
    pub fn with_broken(mut self, broken: Vec<BrokenSource>) -> Self {
        self.broken = broken;
        self
    }

    /// A compiled source by name.
    pub fn source(&self, name: &str) -> Result<&CompiledSource> {
        if let Some(b) = self.broken.iter().find(|b| b.name == name)
            && !self.sources.iter().any(|s| s.name() == name)
        {
            let mut problems = vec![format!(
                "source `{name}` is not loaded until its config {} is fixed:",
                b.file.display()
            )];
            problems.extend(b.problems.iter().cloned());
            return Err(Error::Config(problems));
        }
        self.sources
            .iter()
            .find(|s| s.name() == name)
            .ok_or_else(|| Error::UnknownSource {
                name: name.to_string(),
                known: self
                    .sources
                    .iter()
                    .map(CompiledSource::name)
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// Fetches and loads everything a source has delivered. Each delivery is loaded on
    /// its own: one bad file does not stop the others.
    ///
    /// Sources with a cursor (`rest_api`) are read page by page: each page's rows and the
    /// cursor it ends with are committed to the manifest together, then the next page is
    /// asked for. A page that fails to load stops the source with the cursor before it, so the
    /// next run asks for that page again. A fetch failure before anything was delivered is
    /// the outer error; after that it is the last entry of the list.
    pub async fn load_source(&self, name: &str) -> Result<Vec<Result<LoadReport>>> {
        let source = self.source(name)?;
        let mut cursor = self.warehouse.manifest().await?.cursors.get(name).cloned();
        let mut run = fetch::start(
            &source.fetch,
            source.reference(),
            &self.fetch,
            cursor.as_ref(),
        )
        .await?;
        let mut out = Vec::new();
        loop {
            let step = match run.next().await {
                Ok(Some(step)) => step,
                Ok(None) => break,
                Err(e) if out.is_empty() => return Err(e),
                Err(e) => {
                    out.push(Err(e));
                    break;
                }
            };
            // A page's rows and the cursor after it are committed together.
            let loaded = match step.delivery {
                Some(d) => {
                    let report =
                        load::load_page(&self.warehouse, source, d, step.cursor.as_ref()).await;
                    let moved = matches!(
                        report,
                        Ok(LoadReport {
                            outcome: Outcome::Loaded { .. },
                            ..
                        })
                    );
                    let ok = report.is_ok();
                    out.push(report);
                    if moved {
                        cursor = step.cursor.clone().or(cursor);
                    }
                    ok
                }
                None => true,
            };
            let Some(next) = step.cursor else { continue };
            if !loaded {
                break;
            }
            // A page already loaded (the same bytes again) or an empty one moves the cursor
            // on its own: there are no rows to commit with it.
            if cursor.as_ref() != Some(&next) {
                let committed = self
                    .warehouse
                    .commit(&format!("cursor {name} {next}"), |m| {
                        m.cursors.insert(name.to_string(), next.clone());
                        Ok(())
                    })
                    .await;
                if let Err(e) = committed {
                    out.push(Err(e.into()));
                    break;
                }
                cursor = Some(next);
            }
        }
        Ok(out)
    }
}
