//! The fixed cost of a tile query on the local engine, apart from the rows it reads: setting
//! up a session (registering every table of the manifest, the county's SQL functions, the
//! calendar and the code lists), planning a tile's SQL (logical and physical plan), and a
//! query that reads nothing ([`TRIVIAL_QUERY`]). A county's tables are small, so at 1× these
//! are most of the catalogue's time.

use std::path::Path;
use std::time::Instant;

use anyhow::Result;
use serde::Serialize;
use tilannekuva_tiles::{EngineSettings, Grain};

use crate::cluster::{TRIVIAL_QUERY, TRIVIAL_RUNS, trivial_query};
use crate::{median, project};

/// Median seconds of each part of a query's fixed cost.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FixedCost {
    /// A session with every table, function and code list registered.
    pub session: f64,
    /// Planning one tile's SQL: the median over the catalogue's tiles of each tile's median.
    pub plan: f64,
    /// The slowest tile to plan, and its median seconds.
    pub slowest_plan: (String, f64),
    /// [`TRIVIAL_QUERY`] on a session already set up.
    pub trivial_query: f64,
    /// Sessions a full computation of the catalogue sets up (one per grain).
    pub sessions: usize,
    /// Queries in a full computation of the catalogue (every tile at each grain it is
    /// queried at).
    pub queries: usize,
}

impl FixedCost {
    /// Seconds of fixed cost in a full computation of the catalogue.
    pub fn catalogue(&self) -> f64 {
        self.sessions as f64 * self.session + self.queries as f64 * (self.plan + self.trivial_query)
    }
}

/// Measures [`FixedCost`] over the committed data of `warehouse`, each part [`TRIVIAL_RUNS`]
/// times after one run not timed.
pub async fn measure(config: &Path, warehouse: &Path) -> Result<FixedCost> {
    let project = project(config, warehouse, warehouse)?;
    let engine = project.engine()?;
    let manifest = project.warehouse()?.manifest().await?;

    let mut session = Vec::with_capacity(TRIVIAL_RUNS);
    for run in 0..=TRIVIAL_RUNS {
        let t = Instant::now();
        engine.session(&manifest, Grain::Month).await?;
        if run > 0 {
            session.push(t.elapsed().as_secs_f64());
        }
    }

    let ctx = engine.session(&manifest, Grain::Month).await?;
    let mut per_tile = Vec::with_capacity(engine.tiles.len());
    for tile in &engine.tiles {
        let mut seconds = Vec::with_capacity(TRIVIAL_RUNS);
        for run in 0..=TRIVIAL_RUNS {
            let t = Instant::now();
            ctx.sql(&tile.sql).await?.create_physical_plan().await?;
            if run > 0 {
                seconds.push(t.elapsed().as_secs_f64());
            }
        }
        per_tile.push((tile.meta.id.clone(), median(&seconds)));
    }
    let plans: Vec<f64> = per_tile.iter().map(|(_, s)| *s).collect();
    let slowest_plan = per_tile
        .iter()
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .cloned()
        .unwrap_or_default();

    Ok(FixedCost {
        session: median(&session),
        plan: median(&plans),
        slowest_plan,
        trivial_query: trivial_query(config, warehouse, &EngineSettings::Local).await?,
        sessions: Grain::ALL.len(),
        queries: engine
            .tiles
            .iter()
            .map(|t| Grain::ALL.iter().filter(|&&g| t.queried_at(g)).count())
            .sum(),
    })
}

/// The report's paragraph on the fixed cost, against the catalogue's median seconds.
pub fn write(f: &FixedCost, catalogue: f64, s: &mut String) {
    use std::fmt::Write as _;
    let ms = |x: f64| format!("{:.2}", x * 1e3);
    let _ = writeln!(
        s,
        "\n**Fixed cost of a query** (local engine, median of {TRIVIAL_RUNS}): setting up a \
         session (every table, the SQL functions, the calendar and code lists) {} ms; planning \
         a tile's SQL (logical and physical plan) {} ms, the slowest `{}` {} ms; `{TRIVIAL_QUERY}` \
         {} ms. The catalogue sets up {} sessions and runs {} queries: about {} ms of fixed \
         cost, {:.0} % of its {:.3} s.",
        ms(f.session),
        ms(f.plan),
        f.slowest_plan.0,
        ms(f.slowest_plan.1),
        ms(f.trivial_query),
        f.sessions,
        f.queries,
        ms(f.catalogue()),
        100.0 * f.catalogue() / catalogue,
        catalogue,
    );
}
