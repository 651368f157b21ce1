//! Pull, land and normalise: the first half of the data's journey.
//!
//! - [`fetch`]: where exports come from (one file per kind of source);
//! - [`land`]: storing each export untouched, addressed by its sha256;
//! - [`normalise`]: from an export's text to typed rows, with quarantine (one file per format);
//! - [`load`]: the safe order of those steps and the single commit that ends a load;
//! - [`config`]: the per-source config files that drive it all.

pub mod config;
pub mod error;
pub mod fetch;
pub mod land;
pub mod load;
pub mod normalise;

use std::collections::BTreeMap;

use tilannekuva_warehouse::Warehouse;
use tilannekuva_warehouse::catalog::TableDef;

pub use error::{Error, Result};
pub use load::{LoadReport, Outcome};

use config::{Lookup, SourceConfig};
use fetch::FetchContext;
use normalise::Plan;

/// Everything a load needs: the warehouse, the table contract and the sources.
#[derive(Debug, Clone)]
pub struct Pipelines {
    /// Where data goes.
    pub warehouse: Warehouse,
    /// Canonical tables.
    pub tables: BTreeMap<String, TableDef>,
    /// Compiled sources, in config order.
    pub plans: Vec<Plan>,
    /// Where fetches look.
    pub fetch: FetchContext,
}

impl Pipelines {
    /// Compiles every source; reports all configuration problems at once.
    pub fn new(
        warehouse: Warehouse,
        tables: BTreeMap<String, TableDef>,
        sources: &[SourceConfig],
        lookups: &BTreeMap<String, Lookup>,
        fetch: FetchContext,
        key: Option<&[u8]>,
    ) -> Result<Self> {
        config::validate(sources, &tables, lookups).map_err(Error::Config)?;
        let plans = sources
            .iter()
            .map(|s| Plan::compile(s, &tables, lookups, key))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            warehouse,
            tables,
            plans,
            fetch,
        })
    }

    /// A compiled source by name.
    pub fn plan(&self, name: &str) -> Result<&Plan> {
        self.plans
            .iter()
            .find(|p| p.source.name == name)
            .ok_or_else(|| Error::UnknownSource {
                name: name.to_string(),
                known: self
                    .plans
                    .iter()
                    .map(|p| p.source.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// Fetches and loads everything a source has delivered. Each delivery is loaded on
    /// its own: one bad file does not stop the others.
    ///
    /// Sources with a cursor (`rest_api`) are read page by page: each page is loaded, then
    /// the cursor it ends with is committed to the manifest, then the next page is asked
    /// for. A page that fails to load stops the source with the cursor before it, so the
    /// next run asks for that page again. A fetch failure before anything was delivered is
    /// the outer error; after that it is the last entry of the list.
    pub async fn load_source(&self, name: &str) -> Result<Vec<Result<LoadReport>>> {
        let plan = self.plan(name)?;
        let mut cursor = self.warehouse.manifest().await?.cursors.get(name).cloned();
        let mut run = fetch::start(&plan.source, &self.fetch, cursor.as_ref()).await?;
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
            let loaded = match step.delivery {
                Some(d) => {
                    let report = load::load_delivery(&self.warehouse, plan, d).await;
                    let ok = report.is_ok();
                    out.push(report);
                    ok
                }
                None => true,
            };
            let Some(next) = step.cursor else { continue };
            if !loaded {
                break;
            }
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
