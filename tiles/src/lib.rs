//! KPI tiles: one SQL file plus its metadata each, computed with DataFusion over the
//! warehouse, published as reproducible snapshots.
//!
//! - [`definition`]: the tile files and the contract their SQL fulfils;
//! - [`grain`]: reporting grains and period labels;
//! - [`udf`]: Finnish reporting functions available in SQL (`fi_period`, `fi_deadline`, ...);
//! - [`engine`]: DataFusion sessions over the warehouse; computing and publishing;
//! - [`compute`]: from query rows to figures with target, status, trend and completeness;
//! - [`status`]: attainment, colour and the grey reasons;
//! - [`suppression`]: which figures and counts may be published (small-number protection);
//! - [`incremental`]: publishing again recomputes only the periods whose files changed;
//! - [`roll_up`]: quarters and years of a ratio of counts added up from their months;
//! - [`snapshot`]: the snapshot format and which snapshot a time picks;
//! - [`reading`]: the session people and BI tools read the warehouse and the tiles with;
//! - [`encode`]: record batches as CSV, JSON and Parquet, for the command line and the API;
//! - [`strategy`]: the strategy structure tiles are placed in, and the binding goals;
//! - [`goals`]: a binding goal's progress, read from a snapshot;
//! - [`render`]: tiles as a readable terminal table;
//! - [`error`]: what can go wrong, and where in a tile's SQL.

pub mod compute;
pub mod definition;
pub mod encode;
pub mod engine;
pub mod error;
pub mod goals;
pub mod grain;
pub mod incremental;
pub mod reading;
pub mod render;
pub mod report;
pub mod roll_up;
pub mod snapshot;
pub mod status;
pub mod strategy;
pub mod suppression;
pub mod udf;

pub use compute::{
    Cadence, Cell, ExpectedSource, PeriodFigure, QueryRow, SourceFile, Status, Tile,
};
pub use definition::{TileDef, TileMeta, load_tiles};
pub use engine::{Computation, Engine, EngineSettings, LocalEngine, QueryEngine, ReferenceTable};
pub use error::{Error, Result, locate};
pub use goals::GoalFigure;
pub use grain::Grain;
pub use incremental::{CachedTile, Recompute, Recomputed, ReusableRows};
pub use roll_up::RollUp;
pub use snapshot::{TilesDoc, parse_as_of, read_snapshot, tile_rows_schema};
pub use strategy::{Goal, Strategy};
