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
    pub async fn load_source(&self, name: &str) -> Result<Vec<Result<LoadReport>>> {
        let plan = self.plan(name)?;
        let deliveries = fetch::fetch(&plan.source, &self.fetch).await?;
        let mut out = Vec::new();
        for d in deliveries {
            out.push(load::load_delivery(&self.warehouse, plan, d).await);
        }
        Ok(out)
    }
}
